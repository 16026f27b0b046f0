"""One file -> one Document: extract, normalize, metadata, passages, analyze.

Runs in the ingest process or in worker processes (each builds its own Kiwi: a Kiwi
cannot be pickled). Analysis results are cached by passage-text hash and analyzer
identity, so re-ingesting a changed file re-runs Kiwi only on passages that changed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from analyzers import Analyzer, get_analyzer
from ingest import dedup
from ingest.extract import ExtractionError, extract
from ingest.metadata import build_metadata
from ingest.normalize import normalize
from ingest.passages import split_passages
from policykb.models import Document, Passage, Token

CACHE_SCHEMA = """
CREATE TABLE IF NOT EXISTS analysis_cache (
    text_hash TEXT NOT NULL,
    analyzer_id TEXT NOT NULL,
    tokens TEXT NOT NULL,
    PRIMARY KEY (text_hash, analyzer_id)
);
"""


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


class AnalysisCache:
    """Read side of the cache (SQLite, shared by processes; written by the main process),
    plus this process's own latest analyses: a passage repeated within a run (the same
    text in another copy or edition of a document, a boilerplate passage) is found before
    the main process has stored its first occurrence."""

    RECENT = 2048  # passages remembered per process

    def __init__(self, db_path: str | None, analyzer_id: str) -> None:
        self.analyzer_id = analyzer_id
        self.con = None
        self.recent: OrderedDict[str, str] = OrderedDict()
        if db_path:
            self.con = sqlite3.connect(db_path, timeout=30)
            self.con.executescript(CACHE_SCHEMA)

    def remember(self, h: str, raw: str) -> None:
        self.recent[h] = raw
        if len(self.recent) > self.RECENT:
            self.recent.popitem(last=False)

    def get(self, h: str) -> list[Token] | None:
        raw = self.get_raw(h)
        return None if raw is None else decode_tokens(raw)

    def get_raw(self, h: str) -> str | None:
        """The stored tokens JSON of passage text hash ``h``, if cached."""
        raw = self.recent.get(h)
        if raw is not None:
            self.recent.move_to_end(h)
            return raw
        if self.con is None:
            return None
        row = self.con.execute(
            "SELECT tokens FROM analysis_cache WHERE text_hash = ? AND analyzer_id = ?",
            (h, self.analyzer_id),
        ).fetchone()
        return None if row is None else row[0]


def decode_tokens(raw: str) -> list[Token]:
    """Tokens from their stored JSON (:func:`tokens_json`)."""
    return [Token(t[0], t[1], t[2], t[3], bool(t[4])) for t in json.loads(raw)]


def analyze_authors(analyzer: Analyzer, authors: list[str]) -> list[Token]:
    """Index terms of author names (one run, names in order)."""
    if not authors:
        return []
    return [
        Token(t.term, t.start, t.end, t.position, t.joined)
        for t in analyzer.analyze(" ".join(authors))
    ]


def tokens_json(tokens: list[Token]) -> str:
    return json.dumps(
        [[t.term, t.start, t.end, t.position, 1 if t.joined else 0] for t in tokens],
        ensure_ascii=False,
        separators=(",", ":"),
    )


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
    path = Path(job.path)
    result = BuildResult(job.path)
    clock = _Clock(result.stages)
    try:
        result.bytes = path.stat().st_size
        extracted = extract(
            path,
            job.max_bytes,
            ocr=job.ocr,
            ocr_cache=Path(job.ocr_cache) if job.ocr_cache else None,
        )
        result.pages = len(extracted.pages)
        clock.lap("extraction")
        pages = [(p.number, normalize(p.text)) for p in extracted.pages]
        full = "\n\n".join(t for _, t in pages if t)
        if not full.strip():
            raise ExtractionError("empty", "추출된 텍스트가 없습니다.")
        clock.lap("normalization")
        meta = build_metadata(full, path, job.manifest_row)
        clock.lap("metadata")
        if compact:
            passages, result.passage_tokens = _analyze_compact(
                split_passages(pages), analyzer, cache, result, clock
            )
        else:
            passages = _analyze_passages(split_passages(pages), analyzer, cache, result)
            clock.lap("analysis")
        title_tokens = [
            Token(t.term, t.start, t.end, t.position, t.joined)
            for t in analyzer.analyze(meta.title)
        ]
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
            title_tokens=title_tokens,
            department=meta.department,
            authors=meta.authors,
            contacts=meta.contacts,
            places=meta.places,
            content_hash=dedup.content_hash(full),
            simhash=dedup.to_signed(dedup.simhash(full)),
            publisher=meta.publisher,
            author_tokens=analyze_authors(analyzer, meta.authors),
        )
        clock.lap("duplicate hashes, title")
        ocr_pages = [p for p in extracted.pages if p.ocr_confidence is not None]
        if ocr_pages:
            result.ocr_pages = len(ocr_pages)
            result.document.ocr_pages = [p.number for p in ocr_pages if p.number]
            result.document.ocr_confidence = round(
                sum(p.ocr_confidence or 0 for p in ocr_pages) / len(ocr_pages), 1
            )
        if compact:
            if prepare is not None:
                result.index_form = prepare(result.document)
            for p in result.document.passages:
                p.tokens = []  # they travel as result.passage_tokens
            clock.lap("index form")
    except ExtractionError as exc:
        result.reason, result.message = exc.reason, exc.message
    except MemoryError:
        result.reason, result.message = "too_large", "메모리가 부족해 처리하지 못했습니다."
    except Exception as exc:  # a bad file never stops the run
        result.reason, result.message = "error", f"{type(exc).__name__}: {exc}"
    return result


def _analyze_passages(raw, analyzer: Analyzer, cache: AnalysisCache | None, result: BuildResult):
    """Passages with Token lists (the in-process form)."""
    passages = []
    for i, rp in enumerate(raw):
        h = text_hash(rp.text)
        tokens = cache.get(h) if cache else None
        if tokens is None:
            tokens = [
                Token(t.term, t.start, t.end, t.position, t.joined)
                for t in analyzer.analyze(rp.text)
            ]
            raw_json = tokens_json(tokens)
            result.new_cache.append((h, raw_json))
            if cache:
                cache.remember(h, raw_json)
        else:
            result.cache_hits += 1
        passages.append(Passage(i, rp.page, rp.text, tokens))
    return passages


def _analyze_compact(
    raw, analyzer: Analyzer, cache: AnalysisCache | None, result: BuildResult, clock: _Clock
) -> tuple[list[Passage], list[str]]:
    """Passages (with the analyzer's tokens, for the index form) and their store JSON: each
    passage's tokens are encoded once, for the store and the analysis cache alike."""
    passages, encoded = [], []
    for i, rp in enumerate(raw):
        h = text_hash(rp.text)
        cached = cache.get_raw(h) if cache else None
        if cached is None:
            tokens = analyzer.analyze(rp.text)
            clock.lap("analysis")
            raw_json = tokens_json(tokens)
            result.new_cache.append((h, raw_json))
            if cache:
                cache.remember(h, raw_json)
            clock.lap("token encoding")
        else:
            tokens, raw_json = decode_tokens(cached), cached
            result.cache_hits += 1
            clock.lap("analysis cache")
        passages.append(Passage(i, rp.page, rp.text, tokens))
        encoded.append(raw_json)
    return passages, encoded


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
