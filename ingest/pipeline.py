"""The ingest run: discover -> skip unchanged -> build (extract ... analyze, in worker
processes) -> dedupe -> store -> index, with every file's outcome stored on its record.

A failing file is recorded with its reason and the run goes on. A document is written to
the store as ``pending`` and marked ``indexed`` only after the index commit, so a run that
is killed midway (even with SIGKILL) re-does exactly the files whose index write was not
committed, and never leaves a half-written index (index commits are atomic).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from analyzers import Analyzer
from analyzers.tokens import tokens_from_json
from ingest import catalogue, dedup
from ingest.build import (
    BuildJob,
    BuildResult,
    build,
    build_in_worker,
    build_stream,
    document_id,
    in_thread,
    init_worker,
)
from ingest.metadata import MANIFEST_NAMES, ManifestError, load_manifest
from ingest.ocr import file_sha256  # a leaf module: the one file hash of ingest
from ingest.report import RunReport
from policykb.backends import SearchBackend
from policykb.backends.base import IndexOutcome
from policykb.models import Document
from policykb.store import AnalysisCache, DocumentStore, FileRecord, match_key

SUPPORTED_SUFFIXES = {".txt", ".md", ".pdf", ".html", ".htm", ".hwp", ".hwpx", ".docx"}
BATCH = 50  # documents per store transaction (at most)
GROUP_SECONDS = 1.0  # results gathered at most this long before their transaction
# The index is written (and committed) after every 50 documents (or 2M characters or 10 s,
# whichever comes first): files are marked indexed only after an index commit, so a killed
# run redoes at most one flush's files, and searches see progress.
FLUSH_DOCS = 50
FLUSH_CHARS = 2_000_000
FLUSH_SECONDS = 10.0
PARALLEL_MIN_FILES = 8  # below this, worker start-up (a Kiwi each) costs more than it saves
IN_FLIGHT_PER_WORKER = 8  # bounded queue: files handed to the pool ahead of the parent

log = logging.getLogger(__name__)


def worker_context() -> multiprocessing.context.BaseContext:
    """How the worker processes start. ``fork`` when this process runs no other thread:
    workers then share the parent's loaded Kiwi. Otherwise ``forkserver``: a fork while
    another thread is inside SQLite (a server answering requests, a job thread) copies
    SQLite's locks held, and the worker would wait on them for ever; workers from the
    fork server load their own Kiwi (about 2 s each, in parallel)."""
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["ingest.build"])
    log.debug("ingest workers start from the fork server (%d threads)", threading.active_count())
    return ctx


__all__ = ["Ingester", "IngestReport", "discover", "document_id", "pick_mode"]


@dataclass
class IngestReport(RunReport):
    total_files: int = 0
    total_bytes: int = 0
    seen: int = 0
    added: int = 0
    updated: int = 0
    failed: int = 0
    removed: int = 0
    duplicates: int = 0
    pages: int = 0
    bytes: int = 0
    cache_hits: int = 0
    ocr_pages: int = 0  # pages read with Tesseract (POLICYKB_OCR=auto)
    failures: list[tuple[str, str]] = field(default_factory=list)
    # Seconds per stage: "build" (summed over the workers, per stage of ingest.build) and
    # "parent" (the ingest process: planning, waiting for results, store, index, ...).
    stages: dict[str, dict[str, float]] = field(default_factory=lambda: {"build": {}, "parent": {}})

    def add_stage(self, part: str, stage: str, seconds: float) -> None:
        self.stages[part][stage] = self.stages[part].get(stage, 0.0) + seconds

    def summary(self) -> str:
        return (
            f"files {self.seen}: added {self.added}, updated {self.updated}, "
            f"unchanged {self.unchanged}, failed {self.failed}, removed {self.removed}, "
            f"duplicates {self.duplicates}; {self.pages} pages"
            + (f" ({self.ocr_pages} by OCR)" if self.ocr_pages else "")
            + f", {self.bytes / 1e6:.1f} MB "
            f"({self.seconds:.1f}s)"
        )

    def progress_line(self) -> str:
        elapsed = self.elapsed()
        rate = self.bytes / 1e6 / elapsed
        done_bytes = self.bytes + self.unchanged_bytes
        left = max(0, self.total_bytes - done_bytes)
        eta = left / 1e6 / rate if rate > 0 else 0
        return (
            f"{self.seen}/{self.total_files} files, {self.pages} pages, "
            f"{self.bytes / 1e6:.1f} MB, {self.seen / elapsed:.1f} files/s, "
            f"{rate:.2f} MB/s, ETA {eta:.0f}s, failed {self.failed}"
            + (f", OCR {self.ocr_pages} pages" if self.ocr_pages else "")
        )

    unchanged_bytes: int = 0


def discover(paths: Iterable[Path]) -> Iterator[Path]:
    """Files under ``paths`` in a stable order; hidden files and manifests skipped."""
    for root in paths:
        root = Path(root)
        if root.is_file():
            yield root.resolve()
            continue
        for p in sorted(root.rglob("*")):
            if not p.is_file() or any(part.startswith(".") for part in p.relative_to(root).parts):
                continue
            if p.name in MANIFEST_NAMES or p.suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            yield p.resolve()


ProgressFn = Callable[[IngestReport, Path], None]

# Formats whose extraction is cheap next to Kiwi: with these, one process streaming through
# one Kiwi with its own threads beats worker processes (bench.ingest: 1.15x on both engines,
# half the memory); PDF, HWP and DOCX extraction is Python work that processes share out.
TEXT_SUFFIXES = frozenset({".txt", ".md", ".html", ".htm"})


def pick_mode(paths: Iterable[Path], share: float = 0.8) -> str:
    """ "threads" when at least ``share`` of the input bytes are in :data:`TEXT_SUFFIXES`,
    else "processes" (what ``policykb ingest --mode auto`` runs)."""
    text = total = 0
    for f in discover(paths):
        try:
            size = f.stat().st_size
        except OSError:
            continue
        total += size
        if f.suffix.lower() in TEXT_SUFFIXES:
            text += size
    return "threads" if total and text >= share * total else "processes"


class Ingester:
    """Ingest files into the store and the index: discover, skip files already indexed
    with the same content hash and analyzer, build the others in worker processes
    (extract, normalize, metadata, passages, analysis), find duplicates, then write the
    store and the index. A file that fails is recorded with its reason and the run goes
    on."""

    def __init__(
        self,
        store: DocumentStore,
        backend: SearchBackend,
        analyzer: Analyzer,
        max_bytes: int | None = None,
        workers: int | None = None,
        ocr: str = "off",
        ocr_cache: str | None = None,
        on_change: Callable[[], object] | None = None,
        compact: bool = True,
        hold: Callable[[], AbstractContextManager[Analyzer]] | None = None,
        mode: str = "processes",
    ) -> None:
        # compact: documents cross from the workers as store JSON and the engine's prepared
        # entries (see ingest.build.build); False keeps the reference route (Token objects,
        # the engine builds its entries in this process), which stores and indexes the same.
        self.compact = compact
        # "processes": ``workers`` processes with a Kiwi each; "threads": this process,
        # one Kiwi with ``workers`` threads of its own (ingest.build.build_stream).
        self.mode = mode
        self.ocr = ocr  # "auto": Tesseract for PDF pages without usable Hangul (in workers)
        self.ocr_cache = ocr_cache
        self.store = store
        self.on_change = on_change  # called after a run that changed the store
        # held for the whole run (no lexicon edit meanwhile); gives the analyzer in use then
        self.hold = hold
        self.backend = backend
        self.analyzer = analyzer
        self.max_bytes = max_bytes
        self.workers = workers if workers is not None else min(2, os.cpu_count() or 1)

    # ------------------------------------------------------------------- the run
    def run(
        self,
        paths: list[Path],
        sync: bool = False,
        retry_failed: bool = False,
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        if self.hold is None:
            return self._run(paths, sync, retry_failed, progress)
        with self.hold() as analyzer:
            self.analyzer = analyzer
            return self._run(paths, sync, retry_failed, progress)

    def _run(
        self,
        paths: list[Path],
        sync: bool,
        retry_failed: bool,
        progress: ProgressFn | None,
    ) -> IngestReport:
        report = IngestReport()
        cpu = time.thread_time()
        self.backend.count()  # an unreachable or unsuitable engine fails before any work
        if self.ocr == "auto":
            from ingest import ocr

            try:
                ocr.check_tesseract()
            except ocr.OcrUnavailable as exc:  # PDFs needing OCR fail with this reason
                log.warning("%s", exc)
        files = list(discover(paths))
        if retry_failed:
            failed = {f.path for f in self.store.list_files("failed")}
            files = [f for f in files if str(f) in failed]
        report.total_files = len(files)
        report.total_bytes = sum(f.stat().st_size for f in files)
        manifests: dict[Path, dict[str, dict[str, str]]] = {}
        jobs: list[tuple[BuildJob, str, FileRecord | None]] = []
        for path in files:
            job = self._plan(path, manifests, report)
            if job is not None:
                jobs.append(job)
            elif progress:
                progress(report, path)
        report.add_stage(
            "parent", "planning (file hashes, lookups)", time.monotonic() - report.started
        )
        self._commit_stream(jobs, progress, report)
        if sync:
            self._sync(paths, {str(f) for f in files}, report)
        if self.on_change and (report.added or report.updated or report.removed):
            started = time.monotonic()
            self.on_change()
            report.add_stage("parent", "after the run (suggestions)", time.monotonic() - started)
        report.finish()
        # CPU of this thread alone: planning, store, index (the builds run in the workers,
        # or with mode="threads" on the stream's thread and in Kiwi's threads)
        report.add_stage(
            "parent", "CPU of this thread (all of the above)", time.thread_time() - cpu
        )
        return report

    def _commit_stream(
        self, jobs: list[tuple[BuildJob, str, FileRecord | None]], progress, report: IngestReport
    ) -> None:
        """Take the built documents in file order, in groups of up to :data:`BATCH` (or
        what arrived within :data:`GROUP_SECONDS`): a group goes into the store in one
        transaction, and the index is written in flushes (:data:`FLUSH_DOCS`,
        :data:`FLUSH_CHARS`, :data:`FLUSH_SECONDS`) after its documents' store commit;
        files are marked indexed after the index commit. Waiting for workers happens
        outside any transaction."""
        pending: list[tuple[Document, FileRecord, bool, object]] = []
        group: list[tuple[tuple[BuildJob, str, FileRecord | None], BuildResult]] = []
        chars, last_flush, group_started = 0, time.monotonic(), time.monotonic()
        results = self._build_all([j for j, _, _ in jobs])
        for n, planned in enumerate(jobs, 1):
            waited = time.monotonic()
            group.append((planned, next(results)))
            report.add_stage("parent", "waiting for workers", time.monotonic() - waited)
            now = time.monotonic()
            if len(group) < BATCH and now - group_started < GROUP_SECONDS and n < len(jobs):
                continue
            with self.store.transaction():
                for (job, sha, prev), result in group:
                    report.seen += 1
                    report.pages += result.pages
                    report.bytes += result.bytes
                    report.cache_hits += result.cache_hits
                    report.ocr_pages += result.ocr_pages
                    for stage, sec in result.stages.items():
                        report.add_stage("build", stage, sec)
                    self._accept(job, sha, prev, result, pending, report)
                    if result.document is not None:
                        chars += sum(len(p.text) for p in result.document.passages)
            report.add_stage("parent", "store and duplicates", time.monotonic() - now)
            if progress:
                for (job, _, _), _result in group:
                    progress(report, Path(job.path))
            group.clear()
            now = time.monotonic()
            if (
                len(pending) >= FLUSH_DOCS
                or chars >= FLUSH_CHARS
                or now - last_flush >= FLUSH_SECONDS
            ):
                self._flush(pending, report)
                report.add_stage("parent", "index writes", time.monotonic() - now)
                chars, last_flush = 0, time.monotonic()
            group_started = time.monotonic()
        now = time.monotonic()
        self._flush(pending, report)
        report.add_stage("parent", "index writes", time.monotonic() - now)

    def _plan(self, path: Path, manifests, report: IngestReport):
        """(job, sha, previous record) for a file that needs building, else None."""
        key = str(path)
        try:
            size = path.stat().st_size
            sha = file_sha256(path)
        except OSError as exc:
            report.seen += 1
            self._fail(key, None, None, "unreadable", f"파일을 읽을 수 없습니다: {exc}", report)
            return None
        prev = self.store.get_file(key)
        if (
            prev
            and prev.status == "indexed"
            and prev.sha256 == sha
            # an analysis the lexicon edits since kept valid counts as current
            and prev.analyzer_id in self.store.valid_analyses(self.analyzer.identity)
        ):
            report.seen += 1
            report.unchanged += 1
            report.unchanged_bytes += size
            return None
        job = BuildJob(
            key, self._manifest_row(path, manifests), self.max_bytes, self.ocr, self.ocr_cache
        )
        return job, sha, prev

    def _build_all(self, jobs: list[BuildJob]) -> Iterator[BuildResult]:
        """Built documents in job order. Workers get at most
        :data:`IN_FLIGHT_PER_WORKER` files each ahead of the parent (a bounded queue:
        results never pile up in memory, and workers never wait for work)."""
        prepare = type(self.backend).prepare if self.compact else None
        if self.workers <= 1 or len(jobs) < PARALLEL_MIN_FILES:
            cache = AnalysisCache(self.store.path, self.analyzer.identity)
            for job in jobs:
                yield build(job, self.analyzer, cache, compact=self.compact, prepare=prepare)
            return
        if self.mode == "threads":

            def stream() -> Iterator[BuildResult]:
                cache = AnalysisCache(self.store.path, self.analyzer.identity)
                return build_stream(
                    jobs, self.analyzer, cache, self.compact, prepare, threads=self.workers
                )

            yield from in_thread(stream)
            return
        src = self.analyzer.lexicon.sources
        with ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=worker_context(),
            initializer=init_worker,
            initargs=(src.get("user_dict"), src.get("synonyms"), self.store.path, prepare),
        ) as pool:
            window: deque[Future] = deque()
            todo = iter(jobs)
            limit = self.workers * IN_FLIGHT_PER_WORKER
            for job in todo:
                window.append(pool.submit(build_in_worker, job))
                if len(window) >= limit:
                    break
            while window:
                result = window.popleft().result()
                nxt = next(todo, None)
                if nxt is not None:
                    window.append(pool.submit(build_in_worker, nxt))
                yield result

    def _manifest_row(self, path: Path, manifests) -> dict[str, str] | None:
        folder = path.parent
        for candidate in (folder, *folder.parents):
            if candidate not in manifests:
                try:
                    manifests[candidate] = load_manifest(candidate)
                except (ManifestError, OSError, UnicodeDecodeError):
                    manifests[candidate] = {}
            rows = manifests[candidate]
            if rows:
                rel = str(path.relative_to(candidate))
                return rows.get(rel) or rows.get(path.name)
        return None

    # ------------------------------------------------------------- bookkeeping
    def _accept(
        self,
        job: BuildJob,
        sha: str,
        prev: FileRecord | None,
        result: BuildResult,
        pending,
        report: IngestReport,
    ) -> None:
        size = result.bytes or None
        if result.document is None:
            self._fail(job.path, sha, size, result.reason or "error", result.message or "", report)
            return
        doc = result.document
        form = result.index_form
        if self._join_record(doc, job.path) and result.passage_tokens is not None:
            # Title, authors and id changed: the engine entry is built here from tokens.
            for p, raw in zip(doc.passages, result.passage_tokens, strict=True):
                p.tokens = tokens_from_json(raw)
            result.passage_tokens, form = None, None
        if prev is not None and prev.doc_id and prev.doc_id != doc.id:
            self._remove_documents([prev.doc_id])  # the file now joins a catalogue record
        rec = FileRecord(
            job.path, doc.id, sha, size, "pending", None, self.analyzer.identity, time.time()
        )
        with self.store.connect() as con:
            self.store.cache_tokens(result.new_cache, self.analyzer.identity, con)
            doc.canonical_id = dedup.find_canonical(
                self.store, con, doc.id, doc.content_hash or "", doc.simhash or 0, doc.text
            )
            self.store.put_document(
                doc, self.analyzer.identity, con, passage_tokens=result.passage_tokens
            )
            self.store.put_file(rec, con)
            if doc.canonical_id is None:
                dedup.record(self.store, con, doc.id, doc.simhash or 0)
            else:
                self.store.forget_bands(con, doc.id)
        if prev is None or prev.doc_id is None:
            report.added += 1
        else:
            report.updated += 1
        if doc.canonical_id:
            report.duplicates += 1
        pending.append((doc, rec, prev is None or prev.doc_id is None, form))

    def _join_record(self, doc: Document, path: str) -> bool:
        """If ``doc`` is the original of a catalogue record (same URL, or same institute,
        year and normalized title), it becomes that record's document: same id, the
        record's bibliographic fields, the file's text."""
        target = self.store.catalogue_doc_for(
            doc.url, match_key(doc.institute, doc.year, doc.title)
        )
        if target is None:
            return False
        source = self.store.source_path(target)
        if source not in (None, path):
            return False  # another file is already this record's original: dedup decides
        rec = catalogue.record_of_doc(self.store, target)
        if rec is None:
            return False
        catalogue.merge_record(doc, rec, self.analyzer)
        doc.id = target
        return True

    def _fail(
        self,
        key: str,
        sha: str | None,
        size: int | None,
        reason: str,
        message: str,
        report: IngestReport,
    ) -> None:
        prev = self.store.get_file(key)
        if prev and prev.doc_id:
            # The file changed into something unreadable: its old text is no longer
            # what the file says, so it leaves the store and the index too.
            self._remove_documents([prev.doc_id])
        with self.store.connect() as con:
            self.store.put_file(
                FileRecord(
                    key,
                    None,
                    sha,
                    size,
                    "failed",
                    f"[{reason}] {message}",
                    self.analyzer.identity,
                    time.time(),
                ),
                con,
            )
        report.failed += 1
        report.failures.append((key, f"[{reason}] {message}"))

    def _flush(
        self, pending: list[tuple[Document, FileRecord, bool, object]], report: IngestReport
    ) -> None:
        if not pending:
            return
        canonical = [(doc, form) for doc, _, _, form in pending if doc.canonical_id is None]
        copies = [doc.id for doc, _, _, _ in pending if doc.canonical_id is not None]
        plain = [d for d, form in canonical if form is None]
        outcome = self.backend.index(plain) if plain else IndexOutcome()
        prepared = [form for d, form in canonical if form is not None]
        if prepared:
            more = self.backend.index_prepared(prepared)
            outcome.indexed += more.indexed
            outcome.errors.update(more.errors)
        if copies:
            self.backend.delete(copies)  # a copy is counted once: through its canonical
        with self.store.connect() as con:
            for doc, rec, _, _ in pending:
                if doc.id in outcome.errors:
                    rec.status = "failed"
                    rec.error = f"[index] 색인에 실패했습니다: {outcome.errors[doc.id]}"
                    rec.doc_id = None
                    self.store.delete_document(doc.id, con)
                    self.store.forget_bands(con, doc.id)
                else:
                    rec.status = "indexed"
                self.store.put_file(rec, con)
        for doc, rec, is_new, _ in pending:
            if doc.id in outcome.errors:
                report.failed += 1
                if is_new:
                    report.added -= 1
                else:
                    report.updated -= 1
                report.failures.append((rec.path, rec.error or ""))
        pending.clear()

    def _remove_documents(self, ids: list[str]) -> None:
        """Delete documents; a removed canonical hands over to its first copy; a catalogue
        record whose original goes becomes metadata-only again."""
        promote: list[str] = []
        restore = [
            catalogue.metadata_document(r, doc_id, self.analyzer)
            for doc_id in ids
            if (r := catalogue.record_of_doc(self.store, doc_id)) is not None
        ]
        with self.store.connect() as con:
            for doc_id in ids:
                promoted = self.store.promote_first_copy(con, doc_id)
                if promoted is not None:
                    heir, heir_simhash = promoted
                    dedup.record(self.store, con, heir, heir_simhash)
                    promote.append(heir)
                self.store.delete_document(doc_id, con)
                self.store.forget_bands(con, doc_id)
        self.backend.delete(ids)
        if restore:
            with self.store.connect() as con:
                for doc in restore:
                    self.store.put_document(doc, self.analyzer.identity, con)
        promoted = [d for d in (self.store.get_document(i) for i in promote) if d]
        if promoted or restore:
            self.backend.index([*promoted, *restore])

    def _sync(self, roots: list[Path], seen: set[str], report: IngestReport) -> None:
        prefixes = [str(Path(r).resolve()) for r in roots]
        gone = [
            f
            for f in self.store.list_files()
            if f.path not in seen and any(f.path.startswith(p) for p in prefixes)
        ]
        self._remove_documents([f.doc_id for f in gone if f.doc_id])
        with self.store.connect() as con:
            self.store.delete_files([f.path for f in gone], con)
        report.removed += len(gone)
