"""Text extraction, chosen by the file's content (magic bytes), not its extension."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

HANGUL_RE = re.compile(r"[\uac00-\ud7a3]")


class ExtractionError(Exception):
    """A file that yields no usable text; ``reason`` is a stable code, ``message`` Korean
    text for the admin."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(slots=True)
class Page:
    number: int | None  # 1-based page number; None for formats without pages
    text: str
    ocr_confidence: float | None = None  # set when the text is Tesseract's (0-100)


@dataclass(slots=True)
class Extracted:
    format: str
    pages: list[Page]


def sniff(path: Path) -> str:
    """Format from the first bytes: pdf, ole2 (HWP 5 / old Office), zip (HWPX/DOCX/…),
    html, text or binary."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"%PDF-") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole2"
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path)
    if b"\x00" in head:
        return "binary"
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered[:512]:
        return "html"
    return "text"


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except zipfile.BadZipFile:
        return "binary"
    if "Contents/section0.xml" in names or any(n.startswith("Contents/section") for n in names):
        return "hwpx"
    if "word/document.xml" in names:
        return "docx"
    return "zip"


def _decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "cp949"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ExtractionError("bad_encoding", "문자 인코딩을 알 수 없습니다 (UTF-8/CP949가 아님).")


def extract_text_file(path: Path) -> Extracted:
    return Extracted("text", [Page(None, _decode(path.read_bytes()))])


class _HTMLText(HTMLParser):
    BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "table",
        "title",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def extract_html(path: Path) -> Extracted:
    parser = _HTMLText()
    parser.feed(_decode(path.read_bytes()))
    return Extracted("html", [Page(None, "".join(parser.parts))])


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
    has no usable Hangul (and image-only pages) are read with Tesseract instead."""
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


UNSUPPORTED = {
    "zip": "ZIP 압축 파일은 지원하지 않습니다 (HWPX/DOCX가 아님).",
    "binary": "알 수 없는 바이너리 형식입니다.",
}


def extract(
    path: Path, max_bytes: int | None = None, ocr: str = "off", ocr_cache: Path | None = None
) -> Extracted:
    """Extract ``path`` or raise :class:`ExtractionError` with the reason. ``ocr="auto"``
    reads PDF pages without usable Hangul from their Hangul outlines (ingest.pdf_glyphs)
    or with Tesseract (ingest.ocr)."""
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise ExtractionError("too_large", f"파일이 너무 큽니다 ({size / 1e6:.1f} MB).")
    if size == 0:
        raise ExtractionError("empty", "빈 파일입니다.")
    kind = sniff(path)
    if kind == "pdf":
        return extract_pdf(path, ocr=ocr, ocr_cache=ocr_cache)
    if kind == "html":
        return extract_html(path)
    if kind == "text":
        return extract_text_file(path)
    if kind == "ole2":
        from ingest.hwp import extract_hwp

        return extract_hwp(path)
    if kind == "hwpx":
        from ingest.hwp import extract_hwpx

        return extract_hwpx(path)
    if kind == "docx":
        from ingest.office import extract_docx

        return extract_docx(path)
    raise ExtractionError("unsupported", UNSUPPORTED[kind])
