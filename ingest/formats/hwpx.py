"""HWPX (OWPML zip): sections in manifest (spine) order, one Page (number None)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from ingest.formats.base import (
    ZIP_MAGIC,
    Extracted,
    ExtractionError,
    corrupt_on_error,
    has_magic,
    joined_page,
)
from ingest.formats.safezip import TextSpec, open_zip, read_member, xml_elements, xml_paragraphs

HWPX_SPEC = TextSpec(
    text={"t": ("", ""), "mainText": ("", ""), "subText": ("(", ")")},  # 덧말: 본말(덧말)
    inline={"tab": "\t", "lineBreak": "\n", "fwSpace": " ", "nbSpace": " ", "hyphen": "-"},
    run_parents=frozenset({"t", "run"}),
)
HWPX_MANIFEST = "Contents/content.hpf"
_HWPX_SECTION = re.compile(r"Contents/section(\d+)\.xml")
_SMALL_XML = 16 * 1024 * 1024


def read_hwpx(path: Path) -> Extracted:
    """Text of an HWPX (OWPML) file, sections in manifest (spine) order."""
    if not has_magic(path, ZIP_MAGIC):
        raise ExtractionError("unsupported", "HWPX(ZIP) 형식의 파일이 아닙니다.")
    with corrupt_on_error("HWPX"), open_zip(path, "HWPX") as zf:
        _refuse_encrypted_hwpx(zf)
        sections = [xml_paragraphs(zf, name, HWPX_SPEC) for name in _hwpx_sections(zf)]
    return Extracted("hwpx", [joined_page(sections, "HWPX")])


def _refuse_encrypted_hwpx(zf: zipfile.ZipFile) -> None:
    name = "META-INF/manifest.xml"
    if name not in zf.namelist():
        return
    if any(el == "encryption-data" for el, _ in xml_elements(read_member(zf, name, _SMALL_XML))):
        raise ExtractionError("encrypted", "암호가 걸린 HWPX 문서입니다.")


def _hwpx_sections(zf: zipfile.ZipFile) -> list[str]:
    names = set(zf.namelist())
    ordered = [n for n in _spine(zf, names) if n in names and _HWPX_SECTION.fullmatch(n)]
    if not ordered:
        found = [(int(m[1]), n) for n in names if (m := _HWPX_SECTION.fullmatch(n))]
        ordered = [n for _, n in sorted(found)]
    if not ordered:
        raise ExtractionError("unsupported", "HWPX 본문(Contents/section*.xml)이 없습니다.")
    return list(dict.fromkeys(ordered))


def _spine(zf: zipfile.ZipFile, names: set[str]) -> list[str]:
    """Member names in the order of content.hpf's <opf:spine> (hrefs may be relative)."""
    if HWPX_MANIFEST not in names:
        return []
    elements = xml_elements(read_member(zf, HWPX_MANIFEST, _SMALL_XML))
    hrefs = {a["id"]: a["href"] for el, a in elements if el == "item" and "id" in a and "href" in a}
    spine = [hrefs[a["idref"]] for el, a in elements if el == "itemref" and a.get("idref") in hrefs]
    return [h if h in names else f"Contents/{h}" for h in spine]
