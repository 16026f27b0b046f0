"""Document metadata: a sidecar manifest first, otherwise inferred from text and file name."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from corpus import institutes as registry
from corpus.gazetteer import mentioned_regions
from ingest import layouts
from ingest.dates import normalize_date, parse_date
from ingest.press import is_press_release, parse_press_release, parse_report_cover
from policykb.models import DOC_TYPES

MANIFEST_NAMES = ("manifest.csv", "manifest.jsonl")
MANIFEST_KEYS = ("file", "title", "institute", "doc_type", "date", "url", "publisher")
UNKNOWN = "미상"

HEADER_WORDS = (
    "보도자료",
    "보도일시",
    "보도 일시",
    "배포",
    "담당",
    "작성",
    "연락처",
    "문의",
    "엠바고",
    "배포일시",
    "페이지",
    "연구책임자",
    "발행",
    "전화",
    "붙임",
)


class ManifestError(ValueError):
    pass


@dataclass(slots=True)
class Metadata:
    title: str
    institute: str  # canonical name or "미상"
    institute_published: str | None
    regions: list[str]
    doc_type: str
    date: str | None
    url: str | None
    department: str | None = None
    authors: list[str] = field(default_factory=list)
    contacts: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    publisher: str = UNKNOWN  # the issuing body (발행기관); registry institutes keep theirs


def load_manifest(folder: Path) -> dict[str, dict[str, str]]:
    """Rows of ``folder``'s manifest keyed by file name (relative to ``folder``)."""
    for name in MANIFEST_NAMES:
        path = folder / name
        if not path.is_file():
            continue
        rows: list[dict[str, str]] = []
        text = path.read_text(encoding="utf-8-sig")
        if name.endswith(".csv"):
            rows = list(csv.DictReader(text.splitlines()))
        else:
            for n, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise ManifestError(f"{path}:{n}: {exc}") from exc
        out = {}
        for row in rows:
            if not row.get("file"):
                continue
            out[row["file"].strip()] = {k: (row.get(k) or "").strip() for k in MANIFEST_KEYS}
        return out
    return {}


def guess_institute(text: str, filename: str) -> tuple[str | None, registry.Institute | None]:
    for spelling, inst in registry.all_names_in_text_order():
        if spelling.replace(" ", "") in filename.replace(" ", ""):
            return spelling, inst
    head = text[:1500]
    found: list[tuple[int, str, registry.Institute]] = []
    for spelling, inst in registry.all_names_in_text_order():
        i = head.find(spelling)
        if i >= 0:
            found.append((i, spelling, inst))
    if found:
        found.sort(key=lambda f: f[0])
        return found[0][1], found[0][2]
    counts: dict[str, tuple[int, str, registry.Institute]] = {}
    for spelling, inst in registry.all_names_in_text_order():
        n = text.count(spelling)
        if n:
            prev = counts.get(inst.key, (0, spelling, inst))
            counts[inst.key] = (prev[0] + n, prev[1], inst)
    if counts:
        _n, spelling, inst = max(counts.values(), key=lambda c: c[0])
        return spelling, inst
    return None, None


def guess_doc_type(text: str, filename: str) -> str:
    return layouts.classify(text, filename)


def guess_title(text: str, filename: str) -> str:
    for line in text.split("\n")[:40]:
        line = line.strip().strip("#").strip()
        if line.startswith(("제목:", "제목 :")):
            return line.split(":", 1)[1].strip()
    for line in text.split("\n")[:40]:
        raw = line.strip()
        line = raw.lstrip("#").strip()
        if not (6 <= len(line) <= 150):
            continue
        if any(line.startswith(w) for w in HEADER_WORDS) or parse_date(line) == line:
            continue
        if re.fullmatch(r"[-–□○■◇▶·*\s\d.()]+", line):
            continue
        if line.startswith(("-", "□", "○", "■", "※")):
            continue
        return line
    return Path(filename).stem.replace("_", " ")


def safe_url(raw: str | None) -> str | None:
    """Only http(s) links are kept (a javascript: URL in a manifest must not become a link)."""
    raw = (raw or "").strip()
    return raw if re.match(r"https?://[^\s<>\"']+$", raw, re.IGNORECASE) else None


def regions_for(inst: registry.Institute | None) -> list[str]:
    return list(inst.regions) if inst else []


def build_metadata(text: str, path: Path, row: dict[str, str] | None) -> Metadata:
    row = row or {}
    filename = path.name
    published = row.get("institute") or None
    inst = registry.lookup(published) if published else None
    if inst is None:
        published, inst = guess_institute(text, filename)
    doc_type = row.get("doc_type") or ""
    if doc_type not in DOC_TYPES:
        doc_type = guess_doc_type(text, filename)
    press = parse_press_release(text) if is_press_release(text) else None
    cover = parse_report_cover(text)
    date_iso = normalize_date(row.get("date", "")) if row.get("date") else None
    decided, layout_date = layouts.date_for(text, doc_type)
    if date_iso is None and decided:
        date_iso = layout_date
    elif date_iso is None and press is not None:
        date_iso = press.date
    if date_iso is None and not decided:
        date_iso = parse_date(filename.replace("_", " ")) or parse_date(text[:2000])
    if date_iso is None and cover.year:
        date_iso = f"{cover.year}-01-01"
    title = (
        row.get("title")
        or layouts.title_for(text, doc_type)
        or (press.title if press else None)
        or cover.title
    )
    issuer = layouts.issuer_for(text, doc_type)
    department = press.department if press else None
    publisher = row.get("publisher") or ""
    if (
        not publisher
        and inst is not None
        and (row.get("institute") or _named_early(text, filename, published))
    ):
        publisher = inst.name  # registry institutes keep their identity
    if not publisher:
        publisher = issuer.publisher or (inst.name if inst else "") or UNKNOWN
        department = department or issuer.department
    return Metadata(
        title=title or layouts.clean_title(guess_title(text, filename)),
        institute=inst.name if inst else registry.UNKNOWN,
        institute_published=published,
        regions=regions_for(inst),
        doc_type=doc_type,
        date=date_iso,
        url=safe_url(row.get("url")),
        department=department,
        authors=cover.authors,
        contacts=press.contacts if press else [],
        places=mentioned_regions(text),
        publisher=publisher,
    )


def _named_early(text: str, filename: str, spelling: str | None) -> bool:
    """The registry institute is named in the file name or at the top of the text (not
    merely cited in the body of another body's document)."""
    if not spelling:
        return False
    return spelling.replace(" ", "") in filename.replace(" ", "") or spelling in text[:1500]
