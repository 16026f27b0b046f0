"""PDF: PDFium (pypdfium2) for the pages, pdfplumber as the reference reader and for the
layout of page 1, Tesseract (ingest.ocr) for pages without usable Hangul."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.formats.base import HANGUL_RE, Extracted, ExtractionError, Page


def extract_pdf_pdfplumber(path: Path) -> list[Page]:
    """Pages with pdfplumber (pdfminer): the reference extractor, slow."""
    import pdfplumber
    from pdfminer.pdfdocument import PDFPasswordIncorrect

    pages: list[Page] = []
    try:
        with pdfplumber.open(path) as pdf:
            for i, page in enumerate(pdf.pages, start=1):
                pages.append(Page(i, page.extract_text() or ""))
    except PDFPasswordIncorrect:
        raise ExtractionError("encrypted", "암호가 걸린 PDF입니다.") from None
    except Exception as exc:  # pdfminer raises many unrelated types on broken files
        name = type(exc).__name__
        if "Password" in name or "Encrypt" in name:
            raise ExtractionError("encrypted", "암호가 걸린 PDF입니다.") from None
        raise ExtractionError("corrupt", f"PDF를 읽을 수 없습니다 ({name}: {exc})") from None
    return pages


def extract_pdf_pdfium(path: Path) -> list[Page]:
    """Pages with PDFium (pypdfium2): ~80x faster than pdfplumber here, the same words
    (table cells may come in another reading order); see bench/README.md."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ExtractionError("encrypted", "암호가 걸린 PDF입니다.") from None
        raise ExtractionError("corrupt", f"PDF를 읽을 수 없습니다 ({exc})") from None
    try:
        pages = []
        for i in range(len(doc)):
            textpage = doc[i].get_textpage()
            pages.append(Page(i + 1, textpage.get_text_range()))
        return pages
    except pdfium.PdfiumError as exc:
        raise ExtractionError("corrupt", f"PDF를 읽을 수 없습니다 ({exc})") from None
    finally:
        doc.close()


_RUN = re.compile(r"(.)\1*", re.DOTALL)


def undo_overprint(line: str) -> str:
    """A line drawn n times over itself (bold by overprinting) comes out with every
    character repeated n times ("222000222555... 111111월월월"); give it back once."""
    runs = [m.group() for m in _RUN.finditer(line) if not m.group().isspace()]
    if len(runs) < 3:
        return line
    n = min(len(r) for r in runs)
    if n < 3 or any(len(r) % n for r in runs):
        return line
    return "".join(
        m.group() if m.group().isspace() else m.group()[0] * (len(m.group()) // n)
        for m in _RUN.finditer(line)
    )


def _undo_overprint_pages(pages: list[Page]) -> list[Page]:
    return [
        Page(p.number, "\n".join(undo_overprint(x) for x in p.text.split("\n")), p.ocr_confidence)
        for p in pages
    ]


def _check_pdf_text(pages: list[Page]) -> None:
    text = "".join(p.text for p in pages)
    if not text.strip():
        raise ExtractionError(
            "no_text_layer", "PDF에 텍스트 레이어가 없습니다 (스캔 이미지로 보입니다)."
        )
    if not HANGUL_RE.search(text):
        cid = text.count("(cid:")
        detail = " (CID 글꼴: 유니코드 대응표 없음)" if cid else ""
        raise ExtractionError("no_hangul", f"PDF 텍스트에 한글이 없습니다{detail}.")


def _first_page_pdfplumber(path: Path) -> str | None:
    """pdfplumber's layout-aware reading of page 1 (titles and headers come out in
    reading order there; PDFium may put a title box after the body)."""
    import pdfplumber

    try:
        with pdfplumber.open(path) as pdf:
            return pdf.pages[0].extract_text() or "" if pdf.pages else None
    except Exception:  # the PDFium text stands
        return None


def extract_pdf(path: Path, ocr: str = "off", ocr_cache: Path | None = None) -> Extracted:
    """PDFium for the pages, pdfplumber for page 1; pdfplumber throughout when PDFium
    cannot read the file or finds no Hangul. With ``ocr="auto"``, pages whose text layer
    has no usable Hangul (and image-only pages) are read from their Hangul outlines
    (ingest.pdf_glyphs) or with Tesseract instead."""
    if ocr == "auto":
        try:
            pages = extract_pdf_pdfium(path)
        except ExtractionError as exc:
            if exc.reason == "encrypted":
                raise
            pages = None
        if pages is not None and _ocr_wanted(pages):
            return _with_ocr(path, pages, ocr_cache)
    try:
        pages = extract_pdf_pdfium(path)
        _check_pdf_text(pages)
        first = _first_page_pdfplumber(path)
        if first and HANGUL_RE.search(first):
            pages[0] = Page(1, first)
        return Extracted("pdf", _undo_overprint_pages(pages))
    except ExtractionError as first:
        if first.reason == "encrypted":
            raise
        try:
            pages = extract_pdf_pdfplumber(path)
        except ExtractionError:
            raise first from None
        _check_pdf_text(pages)
        return Extracted("pdf", pages)


def _ocr_wanted(pages: list[Page]) -> bool:
    from ingest.ocr import needs_ocr

    return any(needs_ocr(p.text) for p in pages) and (
        not HANGUL_RE.search("".join(p.text for p in pages))
        or any(len(p.text.strip()) < 20 for p in pages)
    )


def _with_ocr(path: Path, pages: list[Page], cache: Path | None = None) -> Extracted:
    """Pages without usable Hangul replaced by the text of their Hangul outlines or else
    Tesseract's (ingest.pdf_glyphs.read_pages; document-wide garbage layers: every such
    page; otherwise only image-only pages)."""
    from ingest.ocr import OcrUnavailable, needs_ocr
    from ingest.pdf_glyphs import read_pages

    garbage_layer = not HANGUL_RE.search("".join(p.text for p in pages))
    wanted = [
        p.number
        for p in pages
        if p.number and needs_ocr(p.text) and (garbage_layer or len(p.text.strip()) < 20)
    ]
    try:
        recognized = {o.number: o for o in read_pages(path, wanted, cache=cache)}
    except OcrUnavailable as exc:
        raise ExtractionError("ocr_unavailable", str(exc)) from None
    out = []
    for p in pages:
        o = recognized.get(p.number or 0)
        out.append(Page(p.number, o.text, o.confidence) if o else p)
    _check_pdf_text(out)
    return Extracted("pdf", _undo_overprint_pages(out))
