"""PDFs that draw Hangul as outlines instead of text (the cairo PDFs of public-docs): the
text is read back from the outlines (ingest.pdf_glyphs) without OCR, and only lines in
another font go to Tesseract. The full per-file measurement, with each document left out
of the codebook, is ``python -m bench --only ocr`` (bench/results/ocr.md)."""

from __future__ import annotations

import re

import pytest

from ingest import ocr
from ingest.extract import extract
from tests.conftest import is_ci, shared_path

DOCS = ("data", "public-docs")
PETFOOD = ("pdf", "task2137", "156618554_petfood_press-2020.pdf")
PETFOOD_TWIN = ("samples", "task2137", "156618554_petfood_press.hwp")
APPLICATION = ("pdf", "task2097", "1741000_project_application-2020.pdf")


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def trigrams(text: str) -> set[str]:
    h = "".join(re.findall(r"[\uac00-\ud7a3]", text))
    return {h[i : i + 3] for i in range(len(h) - 2)}


@pytest.mark.data
def test_outline_hangul_is_read_without_ocr():
    pdf = shared_path(*DOCS, *PETFOOD)
    got = extract(pdf, ocr="auto")  # every outline is read: Tesseract never runs
    [page] = got.pages
    assert page.ocr_confidence is None  # not OCR: read from the outlines
    assert "농식품부,2027년펫푸드수출액5억불" in squash(page.text)  # title, digits included
    twin = extract(shared_path(*DOCS, *PETFOOD_TWIN)).pages[0].text
    want = trigrams(twin)
    assert len(want & trigrams(page.text)) >= 0.97 * len(want)  # the same text, in order


@pytest.mark.data
def test_lines_in_another_font_are_ocrd_and_the_page_marked(tmp_path):
    if not ocr.available():
        if is_ci():
            pytest.fail("CI must install tesseract-ocr and tesseract-ocr-kor")
        pytest.skip("Tesseract with Korean data is not installed")
    pdf = shared_path(*DOCS, *APPLICATION)
    page = extract(pdf, ocr="auto", ocr_cache=tmp_path).pages[0]
    assert "자치분권제도과" in squash(page.text)  # outline font, read from the outlines
    assert "치안행정의연계" in squash(page.text)  # title cell in a serif font: Tesseract
    assert page.ocr_confidence is not None
    assert list(tmp_path.rglob("*.json"))  # cached


@pytest.mark.data
def test_characters_the_font_cannot_name_are_not_shown(tmp_path):
    """The cairo PDF of a press release prints 「」 and its bullets with no character
    behind them (U+FFFD): its title and snippets show the words without broken glyphs."""
    import shutil

    from tests.conftest import make_runtime

    name = "(250813) (보도자료) 2025년 7월중 가계대출 동향-hwp-2022.pdf"
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(shared_path(*DOCS, "pdf", "issue2020", name), folder / name)
    rt = make_runtime(tmp_path / "data", ocr="auto")
    rt.ingester().run([folder])
    [doc] = [rt.store.get_document(i) for i in rt.store.document_ids()]
    assert "가계부채 점검회의" in doc.title and "\ufffd" not in doc.title
    assert all("\ufffd" not in p.text for p in doc.passages)
    from policykb.service import parse_request

    hit = rt.service.search(parse_request({"q": ["가계부채 점검회의"]}, rt.settings)).hits[0]
    assert "\ufffd" not in hit.snippet and "<mark>" in hit.snippet
