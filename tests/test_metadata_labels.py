"""Titles, publishers, types and dates against the hand-labelled public-docs set
(tests/data/public_docs_labels.tsv; ``policykb metadata-eval`` prints the per-class table).

OCR is off here (CI budget): the 10 PDFs without a usable text layer are scored as misses
only in ``policykb metadata-eval --ocr auto``; this test scores the files that have text.
"""

from __future__ import annotations

import csv

import pytest

from ingest.metadata_eval import evaluate, format_report, load_labels, scores
from tests.conftest import shared_path

THRESHOLDS = {"title": 0.90, "publisher": 0.90, "doc_type": 0.90, "date": 0.95}


@pytest.fixture(scope="module")
def outcomes():
    """Every labelled file but the PDFs INDEX.tsv lists without Hangul (OCR, measured by
    ``policykb metadata-eval`` and bench/ocr.py)."""
    root = shared_path("data", "public-docs")
    with (root / "INDEX.tsv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    no_text = {r["path"] for r in rows if r["format"] == "pdf" and r["hangul_chars"] == "0"}
    labels = [label for label in load_labels() if label.path not in no_text]
    return [o for o in evaluate(root, labels, ocr="off") if o.error is None]


@pytest.mark.data
def test_labels_cover_every_public_document():
    root = shared_path("data", "public-docs")
    labelled = {label.path for label in load_labels()}
    files = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.suffix.lower() in (".hwp", ".hwpx", ".pdf")
    }
    assert files == labelled


@pytest.mark.data
@pytest.mark.parametrize("field", list(THRESHOLDS))
def test_metadata_accuracy_on_labelled_public_documents(outcomes, field):
    print(format_report(outcomes))
    ok, n = scores(outcomes)["all"][field]
    assert n >= 50
    assert ok / n >= THRESHOLDS[field], format_report(outcomes)


@pytest.mark.data
def test_press_release_titles_never_carry_header_words(outcomes):
    banned = ("보도자료", "보도시점", "배포", "http", "주시기 바랍니다", "담당", "SEOUL MY SOUL")
    for o in outcomes:
        if o.predicted.get("doc_type") in ("보도자료", "결재문서"):
            title = o.predicted["title"] or ""
            assert not any(b in title for b in banned), (o.label.path, title)


@pytest.mark.data
@pytest.mark.parametrize("rel", ["samples/2010-01-06.hwp", "pdf/2010-01-06-2022.pdf"])
def test_a_letter_spaced_first_line_is_shown_closed_up(rel):
    """A statistics table whose only heading is letter-spaced (통 합 재 정 통 계) and that
    no layout names: the title from its first lines is shown as 통합재정통계 (the label
    comparison ignores spaces, the results list does not)."""
    from ingest.extract import extract
    from ingest.metadata import build_metadata
    from ingest.normalize import normalize

    path = shared_path("data", "public-docs", rel)
    text = "\n\n".join(normalize(p.text) for p in extract(path).pages)
    assert build_metadata(text, path, None).title == "통합재정통계"
