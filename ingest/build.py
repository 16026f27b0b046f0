"""One file -> one Document: extract, normalize, metadata, passages, analyze.

Runs in the ingest process or in worker processes (each builds its own Kiwi: a Kiwi
cannot be pickled). Analysis results are cached by passage-text hash and analyzer
identity, so re-ingesting a changed file re-runs Kiwi only on passages that changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from analyzers import Analyzer, get_analyzer
from analyzers.tokens import tokens_to_json
from ingest import dedup
from ingest.extract import ExtractionError, extract
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


class _BuildCache:
    """One build's view of the cache: hits come from ``AnalysisCache``, fresh analyses go
    to ``result.new_cache`` for the main process to store."""

    def __init__(self, cache: AnalysisCache | None, result: BuildResult) -> None:
        self.cache = cache
        self.result = result

    def get(self, text: str) -> list[Token] | None:
        return self.cache.get(text_hash(text)) if self.cache is not None else None

    def put(self, text: str, tokens: list[Token]) -> None:
        self.result.new_cache.append((text_hash(text), tokens_to_json(tokens)))


def build(job: BuildJob, analyzer: Analyzer, cache: AnalysisCache | None) -> BuildResult:
    path = Path(job.path)
    result = BuildResult(job.path)
    try:
        result.bytes = path.stat().st_size
        extracted = extract(
            path,
            job.max_bytes,
            ocr=job.ocr,
            ocr_cache=Path(job.ocr_cache) if job.ocr_cache else None,
        )
        result.pages = len(extracted.pages)
        pages = [(p.number, normalize(p.text)) for p in extracted.pages]
        full = "\n\n".join(t for _, t in pages if t)
        if not full.strip():
            raise ExtractionError("empty", "추출된 텍스트가 없습니다.")
        meta = build_metadata(full, path, job.manifest_row)
        passages = [Passage(i, rp.page, rp.text) for i, rp in enumerate(split_passages(pages))]
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
            content_hash=dedup.content_hash(full),
            simhash=dedup.to_signed(dedup.simhash(full)),
            publisher=meta.publisher,
        )
        result.cache_hits = analyze_document(result.document, analyzer, _BuildCache(cache, result))
        ocr_pages = [p for p in extracted.pages if p.ocr_confidence is not None]
        if ocr_pages:
            result.ocr_pages = len(ocr_pages)
            result.document.ocr_pages = [p.number for p in ocr_pages if p.number]
            result.document.ocr_confidence = round(
                sum(p.ocr_confidence or 0 for p in ocr_pages) / len(ocr_pages), 1
            )
    except ExtractionError as exc:
        result.reason, result.message = exc.reason, exc.message
    except MemoryError:
        result.reason, result.message = "too_large", "메모리가 부족해 처리하지 못했습니다."
    except Exception as exc:  # a bad file never stops the run
        result.reason, result.message = "error", f"{type(exc).__name__}: {exc}"
    return result


# ------------------------------------------------------------------ worker processes
_worker: dict = {}


def init_worker(user_dict: str | None, synonyms: str | None, cache_db: str | None) -> None:
    analyzer = get_analyzer(user_dict, synonyms)
    _worker["analyzer"] = analyzer
    _worker["cache"] = AnalysisCache(cache_db, analyzer.identity)


def build_in_worker(job: BuildJob) -> BuildResult:
    return build(job, _worker["analyzer"], _worker["cache"])
