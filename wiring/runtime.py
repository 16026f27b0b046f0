"""Wiring: settings -> store, backend, analyzer, search service. Used by the CLI and the app."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from analyzers import Analyzer, get_analyzer
from policykb import suggest
from policykb.analysis import analyze_document
from policykb.backends import SearchBackend, open_backend
from policykb.errors import InputError
from policykb.models import Document
from policykb.service import SearchService
from policykb.settings import Settings
from policykb.store import INDEX_PENDING_KEY, DocumentStore
from policykb.suggest import Suggester


@dataclass
class Runtime:
    """The services of one data directory, built on first use from :class:`Settings`:
    store, backend (filled from the store when its schema is outdated), analyzer (with
    the admin's lexicon edits), search service, suggestions, accounts, saved searches,
    jobs, and the ingest and harvest runs. Implements
    :class:`policykb.context.AppRuntime` for the web app."""

    settings: Settings

    @cached_property
    def store(self) -> DocumentStore:
        return DocumentStore(self.settings.store_path)

    @cached_property
    def backend(self) -> SearchBackend:
        backend = open_backend(self.settings)
        backend.check_schema()
        if backend.needs_rebuild:
            backend.rebuild(
                self.store.iter_documents(canonical_only=True), self.store.count_documents()
            )
            backend.needs_rebuild = False
        return backend

    @property
    def lexicon_dir(self) -> Path:
        """Where admin edits of the dictionary and synonyms are kept."""
        return self.settings.data_dir / "lexicon"

    def lexicon_paths(self) -> tuple[Path, Path]:
        """The user dictionary and synonym files in use: an admin-edited copy in the data
        directory wins over the configured (by default, shipped) files."""
        user_dict, synonyms = Path(self.settings.user_dict), Path(self.settings.synonyms)
        edited_dict = self.lexicon_dir / "userdict.tsv"
        edited_syn = self.lexicon_dir / "synonyms.txt"
        return (
            edited_dict if edited_dict.exists() else user_dict,
            edited_syn if edited_syn.exists() else synonyms,
        )

    @cached_property
    def analyzer(self) -> Analyzer:
        return get_analyzer(*self.lexicon_paths())

    def reload_analyzer(self) -> None:
        """Pick up edited lexicon files (the next reindex re-analyzes with them)."""
        for name in ("analyzer", "service"):
            self.__dict__.pop(name, None)

    def lexicon_editor(self):
        from policykb.lexicon_edits import LexiconEditor
        from policykb.service import recent_queries

        return LexiconEditor(
            self.store,
            self.backend,
            self.lexicon_dir,
            self.lexicon_paths(),
            self.analyzer,
            queries=lambda: [*recent_queries(), *self.store.saved_queries()],
        )

    def edit_lexicon(self, texts: dict[str, str], description: str = "", preview: bool = False):
        """Preview or apply a lexicon edit (see policykb.lexicon_edits); after applying,
        searches use the new analyzer."""
        editor = self.lexicon_editor()
        if preview:
            return editor.preview(texts, description)
        result = editor.apply(texts, description)
        self.reload_analyzer()
        return result

    @cached_property
    def accounts(self):
        from policykb.accounts import Accounts

        return Accounts(
            self.store,
            idle_seconds=self.settings.session_idle_minutes * 60,
            max_seconds=self.settings.session_max_hours * 3600,
        )

    @cached_property
    def jobs(self):
        from policykb.jobs import JobRunner

        return JobRunner()

    @cached_property
    def saved(self):
        from policykb.saved import SavedSearches

        return SavedSearches(self.store)

    @property
    def suggest_path(self) -> Path:
        return self.settings.data_dir / "suggest.idx"

    @cached_property
    def suggester(self) -> Suggester:
        """Suggestions for the search box; built from the store on first use when the data
        directory has none yet (a store from before suggestions existed)."""
        if not self.suggest_path.exists() and self.store.count_documents():
            self.rebuild_suggestions()
        return Suggester(self.suggest_path)

    def rebuild_suggestions(self) -> int:
        """Rebuild the suggestion index from the store (after ingest and reindex). One
        rebuild at a time per data directory (a file lock): rebuilds started one after
        another end with the newest state of the store."""
        from corpus import institutes as registry

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.settings.data_dir / "suggest.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            names = [n for i in registry.INSTITUTES for n in (i.name, *i.aliases)]
            index = suggest.build(
                self.store.iter_documents(canonical_only=True),
                dictionary=[w.word for w in self.analyzer.lexicon.user_words],
                names=names,
            )
            index.save(self.suggest_path)
        return len(index)

    def rebuild_suggestions_detached(self) -> None:
        """Start ``policykb suggestions`` in a process of its own and return at once: the
        command that changed the store ends without waiting for the suggestion index
        (replaced atomically when ready; servers pick it up within seconds). Its errors go
        to ``suggest.log`` in the data directory."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.settings.data_dir / "suggest.log", "ab") as errors:
            subprocess.Popen(
                [sys.executable, "-m", f"{__package__}.cli", "suggestions"],
                env={**os.environ, "POLICYKB_DATA_DIR": str(self.settings.data_dir)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                start_new_session=True,
            )

    @cached_property
    def service(self) -> SearchService:
        return SearchService(self.settings, self.store, self.backend, self.analyzer)

    def ingester(
        self, workers: int | None = None, suggestions_now: bool = True, mode: str = "processes"
    ):
        """The ingest pipeline; after a run that changed the store the suggestion index is
        rebuilt before ``run`` returns, or (``suggestions_now=False``) in a detached
        process. ``mode``: worker ``processes`` or Kiwi ``threads`` in this process (see
        :class:`ingest.pipeline.Ingester`)."""
        from ingest.pipeline import Ingester

        return Ingester(
            self.store,
            self.backend,
            self.analyzer,
            self.settings.max_file_mb * 1024 * 1024,
            workers,
            ocr=self.settings.ocr,
            ocr_cache=str(self.settings.data_dir / "ocr-cache"),
            on_change=self.rebuild_suggestions
            if suggestions_now
            else self.rebuild_suggestions_detached,
            mode=mode,
        )

    def harvester(self, **overrides):
        from ingest.harvest import Harvester

        s = self.settings

        def ingest(files):
            return self.ingester().run(files)

        params = dict(
            rate=s.harvest_rate,
            concurrency=s.harvest_concurrency,
            timeout=s.harvest_timeout,
            retries=s.harvest_retries,
            max_bytes=s.max_file_mb * 1024 * 1024,
        )
        params.update(overrides)
        return Harvester(self.store, s.data_dir / "harvest", ingest, **params)

    def reindex(
        self, progress: Callable[[int, int], None] | None = None, reanalyze: bool = False
    ) -> dict:
        """Re-analyze documents analyzed by another analyzer version (every document with
        ``reanalyze``) from the stored text, not the files, then build a new index
        generation and switch to it."""
        reanalyzed = 0
        identity = self.analyzer.identity
        if reanalyze:
            stale = sorted(self.store.document_ids())
        else:
            stale = self.store.stale_document_ids(identity)
        for doc_id in stale:
            doc = self.store.get_document(doc_id)
            if doc is None:
                continue
            self._reanalyze(doc)
            reanalyzed += 1
        with self.store.connect() as con:
            # Every stored analysis is now the current analyzer's (or equal to it).
            lineage = [identity] if reanalyze else self.store.valid_analyses(identity)
            self.store.set_lineage(lineage, con)
        total = self.store.count_documents()
        # Copies are found through their canonical and never indexed (as in ingest).
        self.backend.rebuild(self.store.iter_documents(canonical_only=True), total, progress)
        with self.store.connect() as con:
            self.store.set_meta(INDEX_PENDING_KEY, "", con)  # the new index has them all
        self.rebuild_suggestions()
        return {"documents": total, "reanalyzed": reanalyzed}

    def _reanalyze(self, doc: Document) -> None:
        analyze_document(doc, self.analyzer)
        with self.store.connect() as con:
            self.store.put_document(doc, self.analyzer.identity, con)
            self.store.set_file_analyzer(doc.id, self.analyzer.identity, con)

    # ------------------------------------------------------------ for the admin pages
    @property
    def supported_suffixes(self) -> frozenset[str]:
        from ingest.pipeline import SUPPORTED_SUFFIXES

        return frozenset(SUPPORTED_SUFFIXES)

    def upload_folder(self) -> Path:
        """A new folder for one batch of uploaded files (under ``uploads/``, an ingest root)."""
        folder = self.settings.data_dir / "uploads" / time.strftime("%Y%m%d-%H%M%S")
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def ingest_roots(self) -> list[Path]:
        """The folders an admin may ingest from: uploads, the sample corpus and
        ``POLICYKB_INGEST_ROOTS``."""
        from corpus import SAMPLE_DIR

        roots = [self.settings.data_dir / "uploads", SAMPLE_DIR]
        roots += [Path(p) for p in self.settings.ingest_roots.split(":") if p.strip()]
        return [r.resolve() for r in roots]

    def allowed_folder(self, raw: str) -> Path:
        """``raw`` resolved, when it is an existing folder under an ingest root."""
        path = Path(raw).expanduser().resolve()
        if not any(path == root or path.is_relative_to(root) for root in self.ingest_roots()):
            raise InputError(
                "허용되지 않은 폴더입니다. POLICYKB_INGEST_ROOTS에 등록된 폴더만 "
                "수집할 수 있습니다.",
                code="bad_request",
                param="folder",
            )
        if not path.exists():
            raise InputError("폴더가 없습니다.", code="bad_request", param="folder")
        return path
