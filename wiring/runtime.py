"""Wiring: settings -> store, backend, analyzer, search service. Used by the CLI and the app."""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from analyzers import Analyzer, get_analyzer
from policykb import suggest
from policykb.analysis import analyze_document
from policykb.analysis_lock import AnalysisLock
from policykb.backends import SearchBackend, open_backend
from policykb.errors import InputError
from policykb.models import Document
from policykb.service import SearchService
from policykb.settings import Settings
from policykb.store import INDEX_PENDING_KEY, DocumentStore
from policykb.suggest import Suggester

log = logging.getLogger(__name__)

LEXICON_CHECK_SECONDS = 2.0  # how often a server looks for a lexicon edit of another process


@dataclass
class Runtime:
    """The services of one data directory, built on first use from :class:`Settings`:
    store, backend (filled from the store when its schema is outdated), analyzer (with
    the admin's lexicon edits), search service, suggestions, accounts, saved searches,
    jobs, and the ingest and harvest runs. Implements
    :class:`policykb.context.AppRuntime` for the web app."""

    settings: Settings
    _lexicon_checked: float = field(default=0.0, init=False, repr=False, compare=False)
    _refreshing: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

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
        self._analyzer_stamp = self._lexicon_stamp()
        return get_analyzer(*self.lexicon_paths())

    def _lexicon_stamp(self) -> tuple:
        """Which lexicon files are in use and their versions (a saved edit replaces a file:
        a new inode and mtime)."""
        stamp = []
        for path in self.lexicon_paths():
            try:
                st = path.stat()
                stamp.append((str(path), st.st_ino, st.st_mtime_ns, st.st_size))
            except OSError:
                stamp.append((str(path), None))
        return tuple(stamp)

    def reload_analyzer(self) -> None:
        """Pick up edited lexicon files (the next reindex re-analyzes with them)."""
        for name in ("analyzer", "_service"):
            self.__dict__.pop(name, None)

    def refresh_analyzer(self) -> bool:
        """Reload the analyzer when the lexicon files changed since it was loaded (an
        edit saved by another process: the CLI while the server runs, or another
        server); True when it did."""
        if not self._analyzer_stale():
            return False
        self.reload_analyzer()
        return True

    def _analyzer_stale(self) -> bool:
        stamp = getattr(self, "_analyzer_stamp", None)
        return "analyzer" in self.__dict__ and stamp is not None and stamp != self._lexicon_stamp()

    def _refresh_in_background(self) -> None:
        """Build the analyzer of the edited files (a new dictionary takes seconds) and the
        search service on it in a thread, then switch searches to them; until then they
        go on with the old analyzer, so no search waits."""
        if not self._refreshing.acquire(blocking=False):
            return  # one refresh at a time

        def work() -> None:
            try:
                stamp = self._lexicon_stamp()
                analyzer = get_analyzer(*self.lexicon_paths())
                service = SearchService(self.settings, self.store, self.backend, analyzer)
                self.__dict__["analyzer"] = analyzer
                self._analyzer_stamp = stamp
                self.__dict__["_service"] = service
                log.info("lexicon changed by another process: analyzer %s", analyzer.identity)
            except Exception:  # the next check tries again; searches go on meanwhile
                log.exception("could not load the edited lexicon")
            finally:
                self._refreshing.release()

        threading.Thread(target=work, name="lexicon-refresh", daemon=True).start()

    @cached_property
    def analysis_lock(self) -> AnalysisLock:
        """Ingests, reindexes and catalogue imports hold it shared, lexicon edits alone
        (see policykb.analysis_lock)."""
        return AnalysisLock(self.settings.data_dir / "analysis.lock")

    @contextmanager
    def analysis_writer(self, what: str) -> Iterator[Analyzer]:
        """Hold the analysis lock shared for a run that writes analyzed documents (waits
        for a running lexicon edit) and give the analyzer of the files in use then."""
        with self.analysis_lock.shared(what):
            self.refresh_analyzer()
            yield self.analyzer

    def lexicon_editor(self):
        from policykb.lexicon_edits import LexiconEditor
        from policykb.service import recent_queries

        self.refresh_analyzer()
        return LexiconEditor(
            self.store,
            self.backend,
            self.lexicon_dir,
            self.lexicon_paths(),
            self.analyzer,
            queries=lambda: [*recent_queries(), *self.store.saved_queries()],
            lock=self.analysis_lock,
        )

    def edit_lexicon(self, texts: dict[str, str], description: str = "", preview: bool = False):
        """Preview or apply a lexicon edit (see policykb.lexicon_edits); after applying,
        searches use the new analyzer, and the suggestion index (which lists the dictionary
        words and the collection's terms) is rebuilt in a detached process, as after an
        ingest: the edit does not wait for it."""
        editor = self.lexicon_editor()
        if preview:
            return editor.preview(texts, description)
        result = editor.apply(texts, description)
        self.reload_analyzer()
        self.rebuild_suggestions_detached(dictionary_first=True)
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

    def rebuild_suggestions(self, dictionary_first: bool = False) -> int:
        """Rebuild the suggestion index from the store (after ingest and reindex). One
        rebuild at a time per data directory (a file lock): rebuilds started one after
        another end with the newest state of the store. ``dictionary_first`` (after a
        lexicon edit): first save the current index with the dictionary's words replaced,
        which takes seconds where the rebuild takes about a minute on 50k documents, so an
        added word is suggested at once."""
        from analyzers.lexicon import load_lexicon
        from corpus import institutes as registry

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.settings.data_dir / "suggest.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            # the files in use now (read under the lock: an edit may have just saved them),
            # without loading Kiwi for it
            words = [w.word for w in load_lexicon(*self.lexicon_paths()).user_words]
            if dictionary_first:
                current = suggest.SuggestIndex.load(self.suggest_path)
                if current is not None and current.dictionary not in (None, words):
                    current.with_dictionary(words).save(self.suggest_path)
            names = [n for i in registry.INSTITUTES for n in (i.name, *i.aliases)]
            index = suggest.build(
                self.store.iter_documents(canonical_only=True), dictionary=words, names=names
            )
            index.save(self.suggest_path)
        return len(index)

    def rebuild_suggestions_detached(self, dictionary_first: bool = False) -> None:
        """Start ``policykb suggestions`` in a process of its own and return at once: the
        command that changed the store ends without waiting for the suggestion index
        (replaced atomically when ready; servers pick it up within seconds). Its errors go
        to ``suggest.log`` in the data directory."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.settings.data_dir / "suggest.log", "ab") as errors:
            subprocess.Popen(
                [sys.executable, "-m", f"{__package__}.cli", "suggestions"]
                + (["--dictionary-first"] if dictionary_first else []),
                env={**os.environ, "POLICYKB_DATA_DIR": str(self.settings.data_dir)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                start_new_session=True,
            )

    @property
    def service(self) -> SearchService:
        """The search service. A lexicon edit saved by another process is noticed within
        :data:`LEXICON_CHECK_SECONDS`; the service is then rebuilt on the new analyzer in
        the background (queries are then analyzed as the re-analyzed documents are)."""
        now = time.monotonic()
        if now - self._lexicon_checked >= LEXICON_CHECK_SECONDS:
            self._lexicon_checked = now
            if self._analyzer_stale():
                self._refresh_in_background()
        return self._service

    @cached_property
    def _service(self) -> SearchService:
        return SearchService(self.settings, self.store, self.backend, self.analyzer)

    def ingester(self, workers: int | None = None, suggestions_now: bool = True):
        """The ingest pipeline; after a run that changed the store the suggestion index is
        rebuilt before ``run`` returns, or (``suggestions_now=False``) in a detached
        process."""
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
            hold=lambda: self.analysis_writer("수집(ingest)"),
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
        with self.analysis_writer("재색인"):
            return self._reindex(progress, reanalyze)

    def _reindex(self, progress: Callable[[int, int], None] | None, reanalyze: bool) -> dict:
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
