"""Zip and XML safety for the zip-based formats (HWPX, DOCX).

Zip members are never trusted: declared sizes and compression ratios are checked before a
member is inflated, and reading stops at a hard byte cap. XML is parsed with expat directly
(streaming, no tree) and any entity declaration is refused.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from ingest.formats.base import ExtractionError

_MIB = 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 200 * _MIB  # whole archive as declared, and any one member read
MAX_MEMBERS = 10_000
MAX_RATIO = 100  # uncompressed / compressed, checked for members we inflate ...
RATIO_MIN_BYTES = 10 * _MIB  # ... when they are larger than this
CHUNK = _MIB
NS_SEP = " "  # expat namespace separator: "uri local"; URIs have no spaces


# ----------------------------------------------------------------------------- zip safety
def open_zip(path: Path, kind: str) -> zipfile.ZipFile:
    """Open ``path`` as a zip after checking the central directory for zip-bomb signs."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ExtractionError("corrupt", f"{kind} 파일의 ZIP 구조가 손상되었습니다.") from exc
    try:
        _check_archive(zf.infolist())
    except ExtractionError:
        zf.close()
        raise
    return zf


def _check_archive(infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_MEMBERS:
        raise ExtractionError("zip_bomb", f"ZIP 안의 파일이 너무 많습니다 ({len(infos)}개).")
    total = sum(info.file_size for info in infos)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise ExtractionError(
            "too_large",
            f"압축을 풀면 {total / _MIB:.0f} MB로 한도({MAX_UNCOMPRESSED_BYTES // _MIB} MB)를 "
            "넘습니다.",
        )


def check_member(info: zipfile.ZipInfo) -> None:
    """Refuse a member that is encrypted or compressed suspiciously well (zip bomb)."""
    if info.flag_bits & 0x1:
        raise ExtractionError("encrypted", f"ZIP 항목 {info.filename}이(가) 암호화되어 있습니다.")
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > RATIO_MIN_BYTES and ratio > MAX_RATIO:
        raise ExtractionError(
            "zip_bomb",
            f"ZIP 항목 {info.filename}의 압축률이 비정상적입니다 ({ratio:.0f}:1, "
            f"{info.file_size / _MIB:.0f} MB). 압축 폭탄으로 보고 거부합니다.",
        )


def read_member(zf: zipfile.ZipFile, name: str, limit: int = MAX_UNCOMPRESSED_BYTES) -> bytes:
    """A small member's bytes (manifests), with the same checks as stream_member."""
    return b"".join(stream_member(zf, name, limit))


def stream_member(
    zf: zipfile.ZipFile, name: str, limit: int = MAX_UNCOMPRESSED_BYTES
) -> Iterator[bytes]:
    """Chunks of a member; stops with ExtractionError("too_large") past ``limit`` bytes."""
    info = zf.getinfo(name)
    check_member(info)
    seen = 0
    with zf.open(info) as fh:
        while chunk := fh.read(CHUNK):
            seen += len(chunk)
            if seen > limit:
                raise ExtractionError("too_large", f"ZIP 항목 {name}이(가) 너무 큽니다.")
            yield chunk


# ------------------------------------------------------------------------------ safe XML
def _refuse_entities(*_args: object) -> None:
    raise ExtractionError("unsafe_xml", "XML에 엔티티 선언(DTD)이 있어 안전을 위해 읽지 않습니다.")


def safe_parser() -> expat.XMLParserType:
    """An expat parser with namespace processing that refuses entity declarations."""
    parser = expat.ParserCreate(namespace_separator=NS_SEP)
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = _refuse_entities
    return parser


def local_name(name: str) -> str:
    """``"uri local"`` (expat with NS_SEP) -> ``"local"``."""
    return name.rpartition(NS_SEP)[2]


def xml_elements(data: bytes) -> list[tuple[str, dict[str, str]]]:
    """(local name, attributes by local name) of every element of a small XML document."""
    found: list[tuple[str, dict[str, str]]] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        found.append((local_name(name), {local_name(k): v for k, v in attrs.items()}))

    parser = safe_parser()
    parser.StartElementHandler = start
    parser.Parse(data, True)
    return found


@dataclass(frozen=True)
class TextSpec:
    """Which elements (by local name) make up paragraphs and text in an XML vocabulary."""

    paragraph: str = "p"
    # text-bearing elements -> (prefix, suffix) written around their character data
    text: Mapping[str, tuple[str, str]] = field(default_factory=lambda: {"t": ("", "")})
    # empty elements standing for a character, honoured only inside ``run_parents``
    inline: Mapping[str, str] = field(default_factory=dict)
    run_parents: frozenset[str] = frozenset({"r", "t"})
    skip: frozenset[str] = frozenset()  # whole subtrees ignored


class _ParagraphCollector:
    """expat handlers that gather the text of every paragraph, nested ones included.

    A paragraph's slot is reserved when it opens, so a paragraph comes before the tables or
    text boxes anchored in it (the same order as HWP 5 records)."""

    def __init__(self, spec: TextSpec) -> None:
        self.spec = spec
        self.slots: list[list[str]] = []
        self._open: list[int] = []  # slot indices of the open paragraphs
        self._stack: list[str] = []
        self._in_text = 0
        self._skipping = 0

    def start(self, name: str, _attrs: object) -> None:
        local = local_name(name)
        if self._skipping or local in self.spec.skip:
            self._skipping += 1
            return
        parent = self._stack[-1] if self._stack else ""
        self._stack.append(local)
        if local == self.spec.paragraph:
            self._open.append(len(self.slots))
            self.slots.append([])
        elif local in self.spec.text:
            self._in_text += 1
            self._emit(self.spec.text[local][0])
        elif local in self.spec.inline and parent in self.spec.run_parents:
            self._emit(self.spec.inline[local])

    def end(self, _name: str) -> None:
        if self._skipping:
            self._skipping -= 1
            return
        local = self._stack.pop()
        if local == self.spec.paragraph:
            self._open.pop()
        elif local in self.spec.text:
            self._in_text -= 1
            self._emit(self.spec.text[local][1])

    def data(self, text: str) -> None:
        if self._in_text and not self._skipping:
            self._emit(text)

    def _emit(self, text: str) -> None:
        if text and self._open:
            self.slots[self._open[-1]].append(text)

    def paragraphs(self) -> list[str]:
        texts = ("".join(parts) for parts in self.slots)
        return [t for t in texts if t.strip()]


def xml_paragraphs(zf: zipfile.ZipFile, name: str, spec: TextSpec) -> list[str]:
    """Stream member ``name`` through expat and return its non-blank paragraphs."""
    collector = _ParagraphCollector(spec)
    parser = safe_parser()
    parser.StartElementHandler = collector.start
    parser.EndElementHandler = collector.end
    parser.CharacterDataHandler = collector.data
    for chunk in stream_member(zf, name):
        parser.Parse(chunk, False)
    parser.Parse(b"", True)
    return collector.paragraphs()
