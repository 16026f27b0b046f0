"""Text extraction, chosen by the file's content (magic bytes), not its extension: sniffing
plus a table of readers (one module per format in :mod:`ingest.formats`)."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

from ingest.formats.base import (
    HANGUL_RE,
    OLE_MAGIC,
    PDF_MAGIC,
    ZIP_MAGIC,
    Extracted,
    ExtractionError,
    Page,
)
from ingest.formats.docx import extract_docx
from ingest.formats.hangul import extract_hwp, extract_hwpx
from ingest.formats.pdf import (
    extract_pdf,
    extract_pdf_pdfium,
    extract_pdf_pdfplumber,
    undo_overprint,
)
from ingest.formats.text import extract_html, extract_text_file

__all__ = [
    "HANGUL_RE",
    "READERS",
    "UNSUPPORTED",
    "Extracted",
    "ExtractionError",
    "Page",
    "extract",
    "extract_docx",
    "extract_html",
    "extract_hwp",
    "extract_hwpx",
    "extract_pdf",
    "extract_pdf_pdfium",
    "extract_pdf_pdfplumber",
    "extract_text_file",
    "sniff",
    "undo_overprint",
]


def sniff(path: Path) -> str:
    """Format from the first bytes: pdf, ole2 (HWP 5 / old Office), zip (HWPX/DOCX/…),
    html, text or binary."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith(PDF_MAGIC) or PDF_MAGIC in head[:1024]:
        return "pdf"
    if head.startswith(OLE_MAGIC):
        return "ole2"
    if head.startswith(ZIP_MAGIC):
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


# Readers by sniffed kind (PDF takes the OCR options, see extract()).
READERS: dict[str, Callable[[Path], Extracted]] = {
    "html": extract_html,
    "text": extract_text_file,
    "ole2": extract_hwp,
    "hwpx": extract_hwpx,
    "docx": extract_docx,
}

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
    reader = READERS.get(kind)
    if reader is None:
        raise ExtractionError("unsupported", UNSUPPORTED[kind])
    return reader(path)
