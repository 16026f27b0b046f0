"""DOCX (Office Open XML): body paragraphs (tables and text boxes included), then
footnotes and endnotes."""

from __future__ import annotations

from pathlib import Path

from ingest.formats.base import (
    ZIP_MAGIC,
    Extracted,
    ExtractionError,
    Page,
    corrupt_on_error,
    has_magic,
    require_text,
)
from ingest.formats.safezip import TextSpec, open_zip, xml_paragraphs

DOCX_SPEC = TextSpec(
    inline={"tab": "\t", "br": "\n", "cr": "\n", "noBreakHyphen": "-"},
    run_parents=frozenset({"r"}),
    # mc:Fallback repeats the mc:Choice content (text boxes would appear twice)
    skip=frozenset({"Fallback"}),
)
DOCX_MAIN = "word/document.xml"
DOCX_PARTS = (DOCX_MAIN, "word/footnotes.xml", "word/endnotes.xml")


def extract_docx(path: Path) -> Extracted:
    """Text of a DOCX: body paragraphs (tables and text boxes included), then footnotes and
    endnotes; paragraphs are separated by a blank line."""
    if not has_magic(path, ZIP_MAGIC):
        raise ExtractionError("unsupported", "DOCX(ZIP) 형식의 파일이 아닙니다.")
    with corrupt_on_error("DOCX"), open_zip(path, "DOCX") as zf:
        names = set(zf.namelist())
        if DOCX_MAIN not in names:
            raise ExtractionError("unsupported", "word/document.xml이 없어 DOCX가 아닙니다.")
        parts = [xml_paragraphs(zf, part, DOCX_SPEC) for part in DOCX_PARTS if part in names]
    paragraphs = [p for part in parts for p in part]
    return Extracted("docx", [Page(None, require_text("\n\n".join(paragraphs), "DOCX"))])
