"""Metadata accuracy on a hand-labelled set (tests/data/public_docs_labels.tsv): title
(exact after whitespace normalization), publisher, type and date, overall and per class.

``policykb metadata-eval`` prints the figures; tests assert the thresholds.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from ingest.build import normalized_text
from ingest.extract import ExtractionError, extract
from ingest.metadata import build_metadata

log = logging.getLogger(__name__)
FIELDS = ("title", "publisher", "doc_type", "date")
LABELS = Path(__file__).resolve().parent.parent / "tests" / "data" / "public_docs_labels.tsv"


@dataclass(slots=True)
class Label:
    path: str
    cls: str
    title: str
    publisher: str
    doc_type: str
    date: str
    note: str = ""


@dataclass(slots=True)
class Outcome:
    label: Label
    predicted: dict[str, str | None] = field(default_factory=dict)
    error: str | None = None

    def correct(self, name: str) -> bool | None:
        """True/False, or None when the label does not score this field."""
        expected = getattr(self.label, name)
        if expected == "":
            return None
        if self.error is not None:
            return False
        got = self.predicted.get(name)
        if expected == "-":
            return got is None
        if name == "title":
            return normalize_title(got or "") == normalize_title(expected)
        return (got or "") == expected


def normalize_title(text: str) -> str:
    """Whitespace removed (letter-spaced 통 합 재 정 통 계 = 통합재정통계) and typographic
    quotes unified."""
    text = text.replace("‘", "'").replace("’", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", "", text)


def load_labels(path: Path = LABELS) -> list[Label]:
    rows = [
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")
    ]
    out = []
    for row in csv.DictReader(rows, delimiter="\t", quoting=csv.QUOTE_NONE):
        values = {k: (v or "") for k, v in row.items()}
        values["cls"] = values.pop("class")
        out.append(Label(**values))
    return out


def evaluate(root: Path, labels: list[Label], ocr: str = "off") -> list[Outcome]:
    """Extract (OCR as given) and build metadata for every labelled file under ``root``."""
    outcomes = []
    for label in labels:
        outcome = Outcome(label)
        try:
            extracted = extract(root / label.path, ocr=ocr)
        except ExtractionError as exc:
            outcome.error = exc.reason
            outcomes.append(outcome)
            continue
        _pages, text = normalized_text(extracted)  # the text ingest reads metadata from
        meta = build_metadata(text, root / label.path, None)
        outcome.predicted = {
            "title": meta.title,
            "publisher": None if meta.publisher == "미상" else meta.publisher,
            "doc_type": meta.doc_type,
            "date": meta.date,
        }
        outcomes.append(outcome)
    return outcomes


def scores(outcomes: list[Outcome]) -> dict[str, dict[str, tuple[int, int]]]:
    """{class or "all": {field: (correct, scored)}}."""
    table: dict[str, dict[str, list[int]]] = {}
    for o in outcomes:
        for key in ("all", o.label.cls):
            row = table.setdefault(key, {f: [0, 0] for f in FIELDS})
            for f in FIELDS:
                ok = o.correct(f)
                if ok is None:
                    continue
                row[f][1] += 1
                row[f][0] += int(ok)
    return {k: {f: (v[0], v[1]) for f, v in row.items()} for k, row in table.items()}


def format_report(outcomes: list[Outcome], misses: bool = True) -> str:
    table = scores(outcomes)
    out = [f"{'class':<14}{'files':>6}  " + "  ".join(f"{f:>14}" for f in FIELDS)]
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.label.cls] = counts.get(o.label.cls, 0) + 1
    counts["all"] = len(outcomes)
    for cls in ["all"] + sorted(k for k in table if k != "all"):
        cells = []
        for f in FIELDS:
            ok, n = table[cls][f]
            cells.append(f"{ok:>3}/{n:<3} {ok / n:>6.1%}" if n else f"{'-':>14}")
        out.append(f"{cls:<14}{counts[cls]:>6}  " + "  ".join(cells))
    failed = [o for o in outcomes if o.error]
    if failed:
        out.append(f"not extracted: {len(failed)} ({', '.join(o.label.path for o in failed)})")
    if misses:
        for o in outcomes:
            for f in FIELDS:
                if o.correct(f) is False and not o.error:
                    out.append(
                        f"  miss {f:<9} {o.label.path}: got {o.predicted.get(f)!r} "
                        f"want {getattr(o.label, f)!r}"
                    )
    return "\n".join(out)


__all__ = ["LABELS", "evaluate", "format_report", "load_labels", "normalize_title", "scores"]
