"""One file -> one Document: extract, normalize, metadata, passages, analyze.

Runs in the ingest process or in worker processes (each builds its own Kiwi: a Kiwi
cannot be pickled). Analysis results are cached by passage-text hash and analyzer
identity, so re-ingesting a changed file re-runs Kiwi only on passages that changed.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from analyzers import Analyzer, get_analyzer
from analyzers.tokens import tokens_from_json, tokens_to_json
from ingest import dedup
from ingest.extract import Extracted, ExtractionError, extract
from ingest.metadata import build_metadata
from ingest.normalize import normalize
from ingest.passages import split_passages
from policykb.analysis import analyze_document
from policykb.models import Document, Passage, Token
from policykb.store import AnalysisCache


def document_id(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:16]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class BuildJob:
    path: str
    manifest_row: dict[str, str] | None
    max_bytes: int | None
    ocr: str = "off"  # POLICYKB_OCR: auto reads PDF pages without usable Hangul
    ocr_cache: str | None = None  # folder of cached OCR pages


@dataclass
class BuildResult:
    path: str
    document: Document | None = None
    reason: str | None = None
    message: str | None = None
    pages: int = 0
    bytes: int = 0
    new_cache: list[tuple[str, str]] = field(default_factory=list)  # (hash, tokens json)
    cache_hits: int = 0
    ocr_pages: int = 0  # pages read with Tesseract
    # Compact form (built with ``compact=True``, what worker processes send): the passages
    # of ``document`` carry no Token objects; their tokens travel as the store's JSON (one
    # string per passage) and the index entry as the engine's prepared form.
    passage_tokens: list[str] | None = None
    index_form: object | None = None
    stages: dict[str, float] = field(default_factory=dict)  # seconds per build stage


class _BuildCache:
    """One build's view of the cache: hits come from ``AnalysisCache``, fresh analyses go
    to ``result.new_cache`` for the main process to store (and to the process's recent
    analyses). Every passage's tokens JSON is encoded once and kept in ``encoded`` (the
    compact result sends it as the stored form)."""

    def __init__(self, cache: AnalysisCache | None, result: BuildResult) -> None:
        self.cache = cache
        self.result = result
        self.encoded: dict[str, str] = {}

    def get(self, text: str) -> list[Token] | None:
        raw = self.cache.get_raw(text_hash(text)) if self.cache is not None else None
        if raw is None:
            return None
        self.encoded[text] = raw
        return tokens_from_json(raw)

    def put(self, text: str, tokens: list[Token]) -> None:
        h, raw = text_hash(text), tokens_to_json(tokens)
        self.encoded[text] = raw
        self.result.new_cache.append((h, raw))
        if self.cache is not None:
            self.cache.remember(h, raw)


class _Clock:
    """Seconds per stage of one build (``BuildResult.stages``)."""

    def __init__(self, stages: dict[str, float]) -> None:
        self.stages = stages
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = self.stages.get(stage, 0.0) + now - self.last
        self.last = now


def build(
    job: BuildJob,
    analyzer: Analyzer,
    cache: AnalysisCache | None,
    compact: bool = False,
    prepare: Callable[[Document], object] | None = None,
) -> BuildResult:
    """Build one file. With ``compact`` the result carries the passages' tokens as store
    JSON and the index entry made by ``prepare`` (the engine's ``prepare``), so no
    per-token objects cross a process boundary; the stored and indexed result is the
    same either way."""
    result = BuildResult(job.path)
    clock = _Clock(result.stages)
    with _failures(result):
        extracted = _front(job, result, clock)
        tokens = _BuildCache(cache, result)
        result.cache_hits = analyze_document(result.document, analyzer, tokens)
        clock.lap("analysis")
        _finish(result, extracted, tokens, compact, prepare, clock)
    return result


@contextmanager
def _failures(result: BuildResult) -> Iterator[None]:
    """A bad file never stops the run: its failure is recorded on ``result``."""
    try:
        yield
    except ExtractionError as exc:
        result.reason, result.message = exc.reason, exc.message
    except MemoryError:
        result.reason, result.message = "too_large", "메모리가 부족해 처리하지 못했습니다."
    except Exception as exc:
        result.reason, result.message = "error", f"{type(exc).__name__}: {exc}"


def normalized_text(extracted: Extracted) -> tuple[list[tuple[int | None, str]], str]:
    """(page number, normalized text) of each extracted page, and the whole text the
    metadata is read from: what ingest stores, and what ``policykb metadata-eval`` scores."""
    pages = [(p.number, normalize(p.text)) for p in extracted.pages]
    return pages, "\n\n".join(t for _, t in pages if t)


def _front(job: BuildJob, result: BuildResult, clock: _Clock):
    """Extraction to duplicate hashes: ``result.document`` without tokens."""
    path = Path(job.path)
    result.bytes = path.stat().st_size
    extracted = extract(
        path,
        job.max_bytes,
        ocr=job.ocr,
        ocr_cache=Path(job.ocr_cache) if job.ocr_cache else None,
    )
    result.pages = len(extracted.pages)
    clock.lap("extraction")
    pages, full = normalized_text(extracted)
    if not full.strip():
        raise ExtractionError("empty", "추출된 텍스트가 없습니다.")
    clock.lap("normalization")
    meta = build_metadata(full, path, job.manifest_row)
    clock.lap("metadata")
    passages = [Passage(i, rp.page, rp.text) for i, rp in enumerate(split_passages(pages))]
    chash, value = dedup.fingerprints(full)
    result.document = Document(
        id=document_id(path),
        title=meta.title,
        institute=meta.institute,
        regions=meta.regions,
        doc_type=meta.doc_type,
        date=meta.date,
        url=meta.url,
        source_path=str(path),
        institute_published=meta.institute_published,
        page_count=max((p.number or 0 for p in extracted.pages), default=0) or None,
        passages=passages,
        department=meta.department,
        authors=meta.authors,
        contacts=meta.contacts,
        places=meta.places,
        content_hash=chash,
        simhash=dedup.to_signed(value),
        publisher=meta.publisher,
    )
    clock.lap("duplicate hashes")
    return extracted


def _finish(
    result: BuildResult,
    extracted,
    tokens: _BuildCache,
    compact: bool,
    prepare: Callable[[Document], object] | None,
    clock: _Clock,
) -> None:
    """After analysis: OCR figures, and with ``compact`` the stored and indexed forms."""
    doc = result.document
    assert doc is not None
    ocr_pages = [p for p in extracted.pages if p.ocr_confidence is not None]
    if ocr_pages:
        result.ocr_pages = len(ocr_pages)
        doc.ocr_pages = [p.number for p in ocr_pages if p.number]
        doc.ocr_confidence = round(
            sum(p.ocr_confidence or 0 for p in ocr_pages) / len(ocr_pages), 1
        )
    if compact:
        result.passage_tokens = [tokens.encoded[p.text] for p in doc.passages]
        if prepare is not None:
            result.index_form = prepare(doc)
        for p in doc.passages:
            p.tokens = []  # they travel as result.passage_tokens
        clock.lap("index form")


# ---------------------------------------------------------------- one streaming process
class _Unit:
    """One text for Kiwi (a passage, title or author run); a repeated passage within a
    run shares the unit of its first occurrence."""

    __slots__ = ("raw", "tokens")

    def __init__(self) -> None:
        self.tokens: list[Token] | None = None
        self.raw: str | None = None  # the stored form, once its first document has it


def build_stream(
    jobs: Iterable[BuildJob],
    analyzer: Analyzer,
    cache: AnalysisCache | None,
    compact: bool = True,
    prepare: Callable[[Document], object] | None = None,
    threads: int = 2,
) -> Iterator[BuildResult]:
    """:func:`build` of every job, in order, in this process: Kiwi analyses every text
    with its own ``threads`` threads (``Analyzer.analyze_stream``, without the GIL) while
    this thread extracts the next files and post-processes, encodes and prepares the
    finished ones. The same results as :func:`build` (the same code per stage); a passage
    repeated within the run, or found in ``cache``, is analyzed once."""
    # FIFO of built-but-unfinished files: (result, extracted, tokens, units, clock).
    waiting: deque[tuple] = deque()
    sent: deque[_Unit] = deque()  # units handed to Kiwi, in order
    live: dict[str, _Unit] = {}  # passage text -> unit, for units not yet finished

    def texts() -> Iterator[str]:
        for job in jobs:
            result = BuildResult(job.path)
            clock = _Clock(result.stages)
            extracted, units = None, []
            tokens = _BuildCache(cache, result)
            with _failures(result):
                extracted = _front(job, result, clock)
                doc = result.document
                for p in doc.passages:
                    hit = tokens.get(p.text)
                    if hit is not None:  # the store's cache or this process's recent ones
                        result.cache_hits += 1
                        units.append((hit, False))
                    elif p.text in live:  # its first occurrence is still being analyzed
                        result.cache_hits += 1
                        units.append((live[p.text], False))
                    else:
                        unit = _Unit()
                        units.append((unit, True))
                        live[p.text] = unit
                        if p.text and p.text.strip():
                            sent.append(unit)
                            clock.lap("analysis")
                            yield p.text  # Kiwi runs; this thread finishes other files
                            clock.last = time.perf_counter()
                        else:
                            unit.tokens = []
                for text in (doc.title, " ".join(doc.authors) if doc.authors else ""):
                    unit = _Unit()
                    units.append((unit, True))
                    if text and text.strip():
                        sent.append(unit)
                        clock.lap("analysis")
                        yield text
                        clock.last = time.perf_counter()
                    else:
                        unit.tokens = []
                clock.lap("analysis")
            waiting.append((result, extracted, tokens, units, clock))

    def ready() -> Iterator[BuildResult]:
        while waiting and all(
            not isinstance(u, _Unit) or u.tokens is not None for u, _ in waiting[0][3]
        ):
            result, extracted, tokens, units, clock = waiting.popleft()
            if result.document is not None and result.reason is None:
                clock.last = time.perf_counter()  # the time in between was other files'
                with _failures(result):
                    _assemble(result, units, tokens, live)
                    clock.lap("analysis")
                    _finish(result, extracted, tokens, compact, prepare, clock)
            yield result

    for toks in analyzer.analyze_stream(texts(), threads):
        unit = sent.popleft()
        unit.tokens = toks
        yield from ready()
    yield from ready()
    assert not waiting


def in_thread(
    results: Callable[[], Iterator[BuildResult]], ahead: int = 64
) -> Iterator[BuildResult]:
    """The results of ``results()`` made on a thread of their own, at most ``ahead`` in
    advance: while the caller stores and indexes (and waits for SQLite, the index writer,
    Elasticsearch), the stream keeps Kiwi's threads fed (Kiwi reads only ~16 texts per
    thread ahead of the one consuming its results). ``results`` runs on that thread, so
    it opens its own SQLite connections there."""
    box: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()
    done = object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for result in results():
                if not put(result):
                    return
        except BaseException as exc:  # re-raised on the caller's thread
            put(_Raised(exc))
            return
        put(done)

    thread = threading.Thread(target=produce, name="ingest-stream", daemon=True)
    thread.start()
    try:
        while (item := box.get()) is not done:
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()


@dataclass
class _Raised:
    exc: BaseException


def _assemble(
    result: BuildResult, units: list[tuple], tokens: _BuildCache, live: dict[str, _Unit]
) -> None:
    """The analyzed units onto ``result.document`` (passages, title, authors); a passage
    analyzed here is encoded and cached once, as :func:`build` does."""
    doc = result.document
    assert doc is not None
    for p, (unit, fresh) in zip(doc.passages, units[:-2], strict=True):
        if not isinstance(unit, _Unit):  # a cache hit: tokens decoded, JSON kept
            p.tokens = unit
            continue
        p.tokens = unit.tokens or []
        if fresh:
            tokens.put(p.text, p.tokens)
            unit.raw = tokens.encoded[p.text]
            if live.get(p.text) is unit:
                del live[p.text]  # later repeats find it in the cache's recent analyses
        else:
            tokens.encoded[p.text] = unit.raw or tokens_to_json(p.tokens)
    doc.title_tokens = units[-2][0].tokens or []
    doc.author_tokens = units[-1][0].tokens or []


# ------------------------------------------------------------------ worker processes
_worker: dict = {}


def init_worker(
    user_dict: str | None,
    synonyms: str | None,
    cache_db: str | None,
    prepare: Callable[[Document], object] | None = None,
) -> None:
    """Per worker process: its analyzer (a Kiwi each), the analysis cache and the engine's
    ``prepare`` (workers then send compact results)."""
    analyzer = get_analyzer(user_dict, synonyms)
    _worker["analyzer"] = analyzer
    _worker["cache"] = AnalysisCache(cache_db, analyzer.identity)
    _worker["prepare"] = prepare


def build_in_worker(job: BuildJob) -> BuildResult:
    prepare = _worker.get("prepare")
    return build(
        job, _worker["analyzer"], _worker["cache"], compact=prepare is not None, prepare=prepare
    )
