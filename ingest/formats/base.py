"""What every format module shares: the extraction result types, the error, magic
numbers and the small checks each extractor makes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HANGUL_RE = re.compile(r"[\uac00-\ud7a3]")

# Magic numbers (the first bytes of a file).
PDF_MAGIC = b"%PDF-"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2 compound file: HWP 5, old Office
ZIP_MAGIC = b"PK\x03\x04"  # HWPX, DOCX and other zips
HWP3_MAGIC = b"HWP Document File V3"


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


def has_magic(path: Path, magic: bytes) -> bool:
    """True when the file starts with ``magic``."""
    with path.open("rb") as fh:
        return fh.read(len(magic)) == magic


@contextmanager
def corrupt_on_error(kind: str) -> Iterator[None]:
    """Turn any unexpected exception from a parser library into ExtractionError("corrupt")."""
    try:
        yield
    except ExtractionError:
        raise
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"[:200]
        raise ExtractionError("corrupt", f"{kind} 파일이 손상되었습니다 ({detail}).") from exc


def require_text(text: str, kind: str) -> str:
    """``text`` if it has any non-space character, else ExtractionError("no_text")."""
    if not text.strip():
        raise ExtractionError("no_text", f"{kind} 문서에 본문 글자가 없습니다.")
    return text


def joined_page(sections: list[list[str]], kind: str) -> Page:
    """One Page (number None) of all paragraphs, separated by blank lines."""
    text = "\n\n".join(p for section in sections for p in section)
    return Page(None, require_text(text, kind))
