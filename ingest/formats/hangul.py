"""HWP and HWPX by content: a file named .hwp that is really HWPX (or the other way
round, common in public-sector uploads) is read by the right reader, so
``Extracted.format`` is the real format."""

from __future__ import annotations

from pathlib import Path

from ingest.formats.base import OLE_MAGIC, ZIP_MAGIC, Extracted, has_magic
from ingest.formats.hwp5 import read_hwp5
from ingest.formats.hwpx import read_hwpx


def extract_hwp(path: Path) -> Extracted:
    """Text of an HWP 5.x file (an HWPX one goes to the HWPX reader); ExtractionError for
    encrypted, corrupt or non-HWP files."""
    return read_hwpx(path) if has_magic(path, ZIP_MAGIC) else read_hwp5(path)


def extract_hwpx(path: Path) -> Extracted:
    """Text of an HWPX file (an HWP 5 one goes to the HWP 5 reader)."""
    return read_hwp5(path) if has_magic(path, OLE_MAGIC) else read_hwpx(path)
