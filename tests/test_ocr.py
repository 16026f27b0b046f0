"""OCR of PDFs whose text layer has no usable Hangul (Tesseract from Debian packages, run
for real; CI installs tesseract-ocr + tesseract-ocr-kor). The sample is page 1 of a
cairo PDF whose Hangul is a serif font drawn as outlines (not the outline font that
ingest.pdf_glyphs reads without OCR, see test_pdf_glyphs.py), copied into a 1-page PDF
to keep the CI budget; the full measurement is ``python -m bench --only ocr``."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from ingest import ocr
from ingest.extract import ExtractionError, extract
from policykb.service import SearchRequest
from tests.conftest import is_ci, make_runtime, shared_path

HANGUL = re.compile(r"[\uac00-\ud7a3]")
DISASTER = ("data", "public-docs", "pdf", "task2097", "21298295_byeolpyo5_disaster-2020.pdf")


def first_page(tmp_path) -> Path:
    """Page 1 of the disaster table (a real page, copied as is)."""
    import pypdfium2 as pdfium

    out = tmp_path / "disaster-p1.pdf"
    src = pdfium.PdfDocument(str(shared_path(*DISASTER)))
    doc = pdfium.PdfDocument.new()
    doc.import_pages(src, [0])
    doc.save(str(out))
    doc.close()
    src.close()
    return out


@pytest.fixture(scope="module")
def tesseract():
    if not ocr.available():
        if is_ci():
            pytest.fail("CI must install tesseract-ocr and tesseract-ocr-kor")
        pytest.skip("Tesseract with Korean data is not installed")
    return ocr.check_tesseract()


@pytest.mark.data
def test_pdf_without_hangul_layer_is_read_by_ocr_and_cached(tesseract, tmp_path, monkeypatch):
    pdf = first_page(tmp_path)
    tmp_path = tmp_path / "cache"
    with pytest.raises(ExtractionError) as exc:
        extract(pdf, ocr="off")
    assert exc.value.reason == "no_hangul"
    first = extract(pdf, ocr="auto", ocr_cache=tmp_path)
    page = first.pages[0]
    assert len(HANGUL.findall(page.text)) > 200
    assert page.ocr_confidence is not None and 0 < page.ocr_confidence <= 100
    assert all(w in page.text for w in ("재난", "편성", "실무반"))
    assert not re.search(r"(?:[가-힣] ){3}[가-힣]", page.text)  # syllables joined
    assert list(tmp_path.rglob("*.json"))  # cached by file hash and OCR settings
    # Read again with no Tesseract binary on PATH (its version stays known to the
    # process): the page comes from the cache, not from a second recognition.
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries"))
    again = extract(pdf, ocr="auto", ocr_cache=tmp_path)
    assert again.pages[0].text == page.text
    assert again.pages[0].ocr_confidence == page.ocr_confidence


@pytest.mark.data
def test_ingested_ocr_document_is_searchable_and_marked(tesseract, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(first_page(tmp_path), folder / "disaster.pdf")
    rt = make_runtime(tmp_path / "data", ocr="auto")
    report = rt.ingester().run([folder])
    assert report.failed == 0 and report.ocr_pages == 1
    assert "OCR 1 pages" in report.progress_line()
    [rec] = rt.store.list_files("indexed")
    doc = rt.store.get_document(rec.doc_id)
    assert doc.ocr_pages == [1] and doc.ocr_confidence and doc.is_ocr_page(1)
    assert list((tmp_path / "data" / "ocr-cache").rglob("*.json"))
    result = rt.service.search(SearchRequest(q="재난"))
    assert any(h.id == doc.id for h in result.hits)


def test_missing_tesseract_gives_a_korean_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract binary on this PATH
    ocr.check_tesseract.cache_clear()
    try:
        with pytest.raises(ocr.OcrUnavailable) as exc:
            ocr.check_tesseract()
        assert "Tesseract" in str(exc.value) and "설치" in str(exc.value)
    finally:
        ocr.check_tesseract.cache_clear()
