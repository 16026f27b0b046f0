"""Catalogue import: bibliographic records (title, authors, year, institute, URL) from the
institutes' publication lists become metadata-only documents (원문 없음), searchable and
faceted like any document, until their original file arrives and joins them.

Input formats (see README, "Catalogue"):

- the ri-portal JSON as it is: a JSON array of objects with ``id``, ``year``, ``title``,
  ``authors`` (a list or a comma-separated string), ``institute``, ``url``, ``dept``;
- a generic JSON Lines (``.jsonl``) or CSV (``.csv``) file with the columns ``title``,
  ``authors`` (``;`` or ``,`` separated in CSV), ``year`` or ``date``, ``institute``,
  ``doc_type``, ``url``, ``id``.

Every record has a stable key, ``source:institute:id`` (or ``source:url:URL`` without an
id), so importing the same file again changes nothing, a changed record is updated in
place, and ``--sync`` removes the records of that source that are no longer listed. A bad
record is reported with its reason and skipped.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from analyzers import Analyzer
from corpus import institutes as registry
from ingest.dates import normalize_date
from ingest.metadata import safe_url
from ingest.report import RunReport
from policykb.analysis import analyze_metadata
from policykb.backends import SearchBackend
from policykb.models import DOC_TYPES, UNKNOWN_PUBLISHER, Document
from policykb.store import DocumentStore, match_key

log = logging.getLogger(__name__)
# Part of every record's fingerprint: raised when the document made of a record changes,
# so that importing the same file again rewrites its records (2: the issuing body, 발행기관,
# is the record's institute instead of 미상).
RECORD_FORM = "2"

BATCH = 500
# A run that wrote at least this many records, and at least a fifth of the index, leaves the
# embedded index in one segment afterwards (one commit per batch makes dozens of small
# segments; measured on 10k documents + the 24k ri-portal records: p99 1.28x -> 1.07x of the
# index without them).
COMPACT_MIN = 5_000
DEFAULT_DOC_TYPE = "연구보고서"  # institutes' publication lists are lists of reports
DOC_TYPE_ALIASES = {
    "보고서": "연구보고서",
    "기본연구": "연구보고서",
    "정책연구": "연구보고서",
    "수시연구": "연구보고서",
    "이슈리포트": "정책브리프",
    "브리프": "정책브리프",
    "세미나": "세미나자료",
    "토론회": "세미나자료",
    "보도": "보도자료",
}
_YEAR_RE = re.compile(r"^\s*(\d{4})\s*(?:년)?\s*$")
_ET_AL_RE = re.compile(r"\s*(?:외\s*\d*\s*인?|et al\.?)\s*$")


class RecordError(ValueError):
    """A record that cannot be imported; the message (Korean) says why."""


@dataclass(slots=True)
class CatalogueRecord:
    key: str
    source: str
    source_id: str | None
    title: str
    authors: list[str]
    year: int | None
    date: str | None
    institute: str  # canonical name
    institute_published: str
    regions: list[str]
    doc_type: str
    url: str | None
    department: str | None = None

    def fingerprint(self) -> str:
        raw = RECORD_FORM + json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    @property
    def doc_id(self) -> str:
        return "c" + hashlib.sha256(self.key.encode()).hexdigest()[:15]

    @property
    def match_key(self) -> str | None:
        return match_key(self.institute, self.year, self.title)


@dataclass
class CatalogueReport(RunReport):
    seen: int = 0
    imported: int = 0
    updated: int = 0
    rejected: int = 0
    removed: int = 0
    attached: int = 0  # records that joined a document already holding their original
    rejections: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)

    def summary(self) -> str:
        return (
            f"records {self.seen}: imported {self.imported}, updated {self.updated}, "
            f"unchanged {self.unchanged}, rejected {self.rejected}, removed {self.removed}"
            f" ({self.attached} joined their originals; {self.seconds:.1f}s)"
        )

    def progress_line(self, total: int) -> str:
        rate = self.per_second(self.seen)
        return (
            f"{self.seen}/{total} records, imported {self.imported}, updated {self.updated}, "
            f"rejected {self.rejected}, {rate:.0f} records/s"
        )


# ------------------------------------------------------------------------ reading
def read_raw(path: Path) -> Iterator[tuple[str, object]]:
    """(location, raw record) pairs of a catalogue file; a line that is not JSON yields
    the RecordError as its record."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                yield f"{path.name}:{n}", row
        return
    if suffix in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8-sig") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield f"{path.name}:{n}", json.loads(line)
                except json.JSONDecodeError as exc:
                    yield f"{path.name}:{n}", RecordError(f"JSON 형식 오류: {exc.msg}")
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise RecordError(f"{path.name}: JSON 형식 오류 ({exc.msg}, {exc.lineno}행)") from exc
    if isinstance(data, dict):
        data = data.get("records") or data.get("reports") or data.get("items")
    if not isinstance(data, list):
        raise RecordError(f"{path.name}: 레코드 배열(JSON array)이 아닙니다.")
    for i, raw in enumerate(data):
        yield f"{path.name}#{i}", raw


def load_institute_regions(path: Path | None) -> dict[str, tuple[str, ...]]:
    """name -> regions from an ``institutes.json`` (ri-portal: name, region, url)."""
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for item in data if isinstance(data, list) else []:
        if isinstance(item, dict) and item.get("name"):
            parts = re.split(r"[·,/\s]+", str(item.get("region") or ""))
            regions = tuple(r for r in (registry.canonical_region(p) for p in parts if p) if r)
            out[str(item["name"]).strip()] = regions
    return out


def split_authors(raw: object) -> list[str]:
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else re.split(r"[;,·]|\s{2,}", str(raw))
    out: list[str] = []
    for item in items:
        name = _ET_AL_RE.sub("", " ".join(str(item or "").split())).strip()
        if name and len(name) <= 60 and name not in out:
            out.append(name)
    return out


def _text(raw: dict, name: str) -> str:
    value = raw.get(name)
    return "" if value is None else " ".join(str(value).split())


def normalize_record(
    raw: object,
    source: str,
    regions_of: dict[str, tuple[str, ...]],
    on_register: Callable[[registry.Institute], None] | None = None,
) -> CatalogueRecord:
    """A raw record (ri-portal or generic) checked and normalized; raises RecordError."""
    if isinstance(raw, RecordError):
        raise raw
    if not isinstance(raw, dict):
        raise RecordError("레코드가 객체(JSON object)가 아닙니다.")
    title = _text(raw, "title")
    if not title:
        raise RecordError("제목(title)이 없습니다.")
    if len(title) > 1000:
        raise RecordError(f"제목이 너무 깁니다 ({len(title)}자).")
    year: int | None = None
    date: str | None = None
    raw_date, raw_year = _text(raw, "date"), raw.get("year")
    if raw_date:
        date = normalize_date(raw_date)
        if date is None:
            raise RecordError(f"날짜(date) 형식이 잘못되었습니다: {raw_date!r}")
        year = int(date[:4])
    elif raw_year not in (None, ""):
        m = _YEAR_RE.match(str(raw_year))
        if not m or not 1900 <= int(m.group(1)) <= 2100:
            raise RecordError(f"연도(year) 형식이 잘못되었습니다: {raw_year!r}")
        year = int(m.group(1))
        date = f"{year}-01-01"
    published = _text(raw, "institute")
    inst = registry.lookup(published) if published else None
    if inst is None and published:
        regions = regions_of.get(published, ())
        inst = registry.register(published, regions, "provincial" if regions else "national")
        if on_register:
            on_register(inst)
    doc_type = _text(raw, "doc_type")
    if doc_type and doc_type not in DOC_TYPES:
        doc_type = DOC_TYPE_ALIASES.get(doc_type.replace(" ", ""), "기타")
    source_id = _text(raw, "id") or None
    url = safe_url(_text(raw, "url"))
    if source_id:
        key = f"{source}:{published}:{source_id}"
    elif url:
        key = f"{source}:url:{url}"
    else:
        raise RecordError("id도 url도 없어 레코드를 식별할 수 없습니다.")
    return CatalogueRecord(
        key=key,
        source=source,
        source_id=source_id,
        title=title,
        authors=split_authors(raw.get("authors")),
        year=year,
        date=date,
        institute=inst.name if inst else "미상",
        institute_published=published or "미상",
        regions=list(inst.regions) if inst else [],
        doc_type=doc_type or DEFAULT_DOC_TYPE,
        url=url,
        department=_text(raw, "dept") or _text(raw, "department") or None,
    )


# ------------------------------------------------------------------------ joining
def merge_record(doc: Document, rec: CatalogueRecord, analyzer: Analyzer) -> None:
    """Bibliographic fields of ``rec`` onto ``doc`` (an original joining its record): the
    catalogue's title, institute and authors win; the file's date wins when it is more
    precise."""
    doc.title = rec.title
    doc.institute = rec.institute
    doc.institute_published = doc.institute_published or rec.institute_published
    doc.regions = list(rec.regions) or doc.regions
    doc.doc_type = rec.doc_type if doc.doc_type == "기타" else doc.doc_type
    if not doc.date or (rec.year is not None and doc.year != rec.year):
        doc.date = rec.date
    doc.url = rec.url or doc.url
    doc.department = doc.department or rec.department
    if doc.publisher == UNKNOWN_PUBLISHER:
        doc.publisher = record_publisher(rec)
    authors = list(dict.fromkeys([*rec.authors, *doc.authors]))
    if authors != doc.authors:
        doc.authors = authors
    analyze_metadata(doc, analyzer)


def record_of_doc(store: DocumentStore, doc_id: str) -> CatalogueRecord | None:
    """The catalogue record ``doc_id`` belongs to, if any."""
    raw = store.catalogue_record(doc_id)
    return CatalogueRecord(**raw) if raw is not None else None


def record_publisher(rec: CatalogueRecord) -> str:
    """The issuing body (발행기관) of a record: its institute, which published it."""
    return (
        rec.institute if rec.institute and rec.institute != registry.UNKNOWN else UNKNOWN_PUBLISHER
    )


def metadata_document(rec: CatalogueRecord, doc_id: str, analyzer: Analyzer) -> Document:
    """The metadata-only document of a record (no passages, no file: 원문 없음)."""
    doc = Document(
        id=doc_id,
        title=rec.title,
        institute=rec.institute,
        regions=list(rec.regions),
        doc_type=rec.doc_type,
        date=rec.date,
        url=rec.url,
        source_path=None,
        institute_published=rec.institute_published,
        department=rec.department,
        authors=list(rec.authors),
        publisher=record_publisher(rec),
    )
    analyze_metadata(doc, analyzer)
    return doc


# ------------------------------------------------------------------------- import
ProgressFn = Callable[[CatalogueReport, int], None]


class CatalogueImporter:
    def __init__(self, store: DocumentStore, backend: SearchBackend, analyzer: Analyzer) -> None:
        self.store = store
        self.backend = backend
        self.analyzer = analyzer

    def run(
        self,
        paths: Iterable[Path],
        source: str | None = None,
        sync: bool = False,
        institutes_file: Path | None = None,
        progress: ProgressFn | None = None,
    ) -> CatalogueReport:
        report = CatalogueReport()
        self._finish_unindexed()
        seen_by_source: dict[str, set[str]] = {}
        for path in paths:
            path = Path(path)
            src = source or path.stem
            regions_of = load_institute_regions(institutes_file or path.parent / "institutes.json")
            seen = seen_by_source.setdefault(src, set())
            try:
                raws = list(read_raw(path))
            except (RecordError, OSError, UnicodeDecodeError) as exc:
                report.rejected += 1
                report.rejections.append((path.name, str(exc)))
                continue
            total = report.seen + len(raws)
            batch: list[CatalogueRecord] = []
            for where, raw in raws:
                report.seen += 1
                try:
                    rec = normalize_record(raw, src, regions_of, self.store.save_institute)
                except RecordError as exc:
                    report.rejected += 1
                    report.rejections.append((where, str(exc)))
                    continue
                if rec.key in seen:
                    report.rejected += 1
                    report.rejections.append(
                        (where, f"같은 식별자의 레코드가 이미 있습니다: {rec.source_id}")
                    )
                    continue
                seen.add(rec.key)
                batch.append(rec)
                if len(batch) >= BATCH:
                    self._write(batch, report)
                    batch = []
                    if progress:
                        progress(report, total)
            self._write(batch, report)
            if progress:
                progress(report, total)
        if sync:
            for src, seen in seen_by_source.items():
                self._sync(src, seen, report)
        written = report.imported + report.updated
        if written >= COMPACT_MIN and written * 5 >= self.backend.count():
            log.info("compacting the index after %d catalogue records", written)
            self.backend.compact(
                self.store.iter_documents(canonical_only=True), self.store.count_documents()
            )
        report.finish()
        return report

    def _write(self, batch: list[CatalogueRecord], report: CatalogueReport) -> None:
        if not batch:
            return
        prev = self.store.catalogue_fingerprints([r.key for r in batch])
        changed = [r for r in batch if r.key not in prev or prev[r.key][0] != r.fingerprint()]
        report.unchanged += len(batch) - len(changed)
        if not changed:
            return
        docs: list[Document] = []
        rows = []
        for rec in changed:
            doc_id = (
                prev[rec.key][1]
                if rec.key in prev
                else self.store.original_for(rec.url, rec.match_key)
            )
            if doc_id is None:
                doc_id = rec.doc_id
            existing = self.store.get_document(doc_id) if doc_id != rec.doc_id else None
            if existing is not None and existing.has_original:
                merge_record(existing, rec, self.analyzer)
                doc = existing
                if rec.key not in prev:
                    report.attached += 1
            else:
                doc = metadata_document(rec, doc_id, self.analyzer)
            if rec.key in prev:
                report.updated += 1
            else:
                report.imported += 1
            docs.append(doc)
            rows.append(
                (
                    rec.key,
                    rec.source,
                    doc_id,
                    json.dumps(asdict(rec), ensure_ascii=False),
                    rec.fingerprint(),
                    rec.url,
                    rec.match_key,
                    time.time(),
                )
            )
        with self.store.connect() as con:
            for doc in docs:
                self.store.put_document(doc, self.analyzer.identity, con)
            self.store.put_catalogue_records(rows, con)
        canonical = [d for d in docs if d.canonical_id is None]
        outcome = self.backend.index(canonical)
        self.store.mark_catalogue_indexed(keys=[r[0] for r in rows if r[2] not in outcome.errors])
        for doc_id, reason in outcome.errors.items():
            report.rejections.append((doc_id, f"색인에 실패했습니다: {reason}"))

    def _finish_unindexed(self) -> None:
        """Records written to the store by a run killed before its index commit."""
        ids = self.store.unindexed_catalogue_docs()
        for i in range(0, len(ids), BATCH):
            chunk = ids[i : i + BATCH]
            docs = [d for d in (self.store.get_document(x) for x in chunk) if d]
            self.backend.index([d for d in docs if d.canonical_id is None])
            self.store.mark_catalogue_indexed(doc_ids=chunk)

    def _sync(self, source: str, seen: set[str], report: CatalogueReport) -> None:
        gone = [(k, d) for k, d in self.store.catalogue_keys(source) if k not in seen]
        if not gone:
            return
        drop: list[str] = []
        with self.store.connect() as con:
            for key, doc_id in gone:
                if self.store.remove_catalogue_record(con, key, doc_id):
                    drop.append(doc_id)
        if drop:
            self.backend.delete(drop)
        report.removed += len(gone)
