"""HWP 5.x (OLE2 compound file), 배포용 (distribution) documents included: their ViewText
sections are decrypted per the HWP 5.0 specification.

Returns one Page (number None) whose paragraphs, table cells, text boxes, headers,
footers and footnotes are separated by blank lines.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import olefile

from ingest.formats.base import (
    HWP3_MAGIC,
    OLE_MAGIC,
    Extracted,
    ExtractionError,
    corrupt_on_error,
    joined_page,
)
from ingest.formats.safezip import MAX_UNCOMPRESSED_BYTES

SIGNATURE = b"HWP Document File"

# FileHeader property bits (HWP 5.0 spec, "파일 인식 정보")
COMPRESSED = 1 << 0
PASSWORD = 1 << 1
DISTRIBUTION = 1 << 2  # 배포용 문서: body in ViewText/, AES-encrypted
DRM = 1 << 4
CERT_ENCRYPTED = 1 << 8
CERT_DRM = 1 << 10

HWPTAG_BEGIN = 16
DISTRIBUTE_DOC_DATA = HWPTAG_BEGIN + 12  # the 256-byte record opening each ViewText section
PARA_HEADER = HWPTAG_BEGIN + 50
PARA_TEXT = HWPTAG_BEGIN + 51
CTRL_HEADER = HWPTAG_BEGIN + 55
DUTMAL_ID = b"tudt"  # ctrl id "tdut" (덧말) as stored: a little-endian uint32

# Control characters 0-31 in PARA_TEXT: "char" controls take one WCHAR; the inline and
# extended ones take eight (code, 12 bytes of payload starting with a ctrl id, code).
_CHAR_CONTROLS = frozenset({0, 10, 13, *range(24, 32)})
_CONTROL_TEXT = {9: "\t", 10: "\n", 24: "-", 30: " ", 31: " "}
_DUTMAL_CONTROL = 23
_PLACEHOLDER = "\ufffc"  # where a 덧말 goes until its CTRL_HEADER is read
_CONTROL_AT = re.compile(rb"(?=[\x00-\x1f]\x00)")  # candidates; only even offsets count

_OTHER_OLE = {
    "WordDocument": "MS Word 97-2003(.doc)",
    "Workbook": "MS Excel(.xls)",
    "Book": "MS Excel 5(.xls)",
    "PowerPoint Document": "MS PowerPoint(.ppt)",
}


# ---------------------------------------------------------------------------------- HWP 5
@dataclass(frozen=True)
class HwpHeader:
    version: tuple[int, int, int, int]
    flags: int


def read_hwp5(path: Path) -> Extracted:
    """Text of an HWP 5.x file; ExtractionError for encrypted, corrupt or non-HWP files."""
    with path.open("rb") as fh:
        head = fh.read(len(HWP3_MAGIC))
    if not head.startswith(OLE_MAGIC):
        raise _not_hwp5(head)
    with corrupt_on_error("HWP"), olefile.OleFileIO(str(path)) as ole:
        header = _read_header(ole)
        _refuse_protected(ole, header)
        sections = [_section_paragraphs(data) for data in _sections(ole, header)]
    return Extracted("hwp", [joined_page(sections, "HWP")])


class _MsvcRand:
    """The C runtime's srand()/rand() the distribution format is defined with (HWP 5.0
    spec, "배포용 문서 데이터"): a 32-bit LCG whose rand() yields bits 16..30."""

    def __init__(self, seed: int) -> None:
        self.state = seed & 0xFFFFFFFF

    def rand(self) -> int:
        self.state = (self.state * 214013 + 2531011) & 0xFFFFFFFF
        return (self.state >> 16) & 0x7FFF


def distribution_key(record: bytes) -> bytes:
    """The AES-128 key hidden in a 256-byte HWPTAG_DISTRIBUTE_DOC_DATA payload.

    Its first 4 bytes (little-endian) seed the generator; the generator yields runs of
    (byte, length 1..16) that are XOR-ed over bytes 4..255 (the seed bytes consume the
    run but are not changed). The key is the 16 bytes at 4 + (seed's low nibble)."""
    if len(record) != 256:
        raise ExtractionError("corrupt", "배포용 문서 데이터 레코드의 길이가 256바이트가 아닙니다.")
    data = bytearray(record)
    rng = _MsvcRand(int.from_bytes(data[:4], "little"))
    value = remaining = 0
    for i in range(256):
        if remaining == 0:
            value = rng.rand() & 0xFF
            remaining = (rng.rand() & 0x0F) + 1
        if i >= 4:
            data[i] ^= value
        remaining -= 1
    offset = 4 + (data[0] & 0x0F)
    return bytes(data[offset : offset + 16])


def decrypt_view_text(stream: bytes) -> bytes:
    """A ViewText/SectionN stream decrypted: its first record holds the key, the rest is
    AES-128-ECB ciphertext of the (possibly compressed) section."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    records = _records(stream[:260])
    tag, _level, payload = next(records, (None, 0, b""))
    if tag != DISTRIBUTE_DOC_DATA or len(payload) != 256:
        raise ExtractionError(
            "encrypted",
            "배포용 HWP 문서의 ViewText 스트림이 배포용 문서 데이터 레코드로 시작하지 않습니다 "
            "(공개된 HWP 5.0 형식 밖의 보호).",
        )
    body = stream[260:]
    body = body[: len(body) - len(body) % 16]
    decryptor = Cipher(algorithms.AES(distribution_key(payload)), modes.ECB()).decryptor()
    return decryptor.update(body) + decryptor.finalize()


def _not_hwp5(head: bytes) -> ExtractionError:
    if head.startswith(HWP3_MAGIC):
        return ExtractionError("unsupported", "HWP 3.x 형식은 지원하지 않습니다.")
    return ExtractionError("unsupported", "HWP 5(OLE2) 형식의 파일이 아닙니다.")


def _read_header(ole: olefile.OleFileIO) -> HwpHeader:
    if not ole.exists("FileHeader"):
        raise _not_hwp_ole(ole)
    data = _read_stream(ole, "FileHeader")
    if len(data) < 40 or data[:32].rstrip(b"\0") != SIGNATURE:
        raise ExtractionError("corrupt", "HWP 파일 헤더(FileHeader)가 손상되었습니다.")
    version = (data[35], data[34], data[33], data[32])  # uint32 0xMMnnPPrr, little-endian
    header = HwpHeader(version, int.from_bytes(data[36:40], "little"))
    if header.version[0] != 5:
        raise ExtractionError("unsupported", f"HWP {header.version[0]}.x 형식은 지원하지 않습니다.")
    return header


def _read_stream(ole: olefile.OleFileIO, name: str) -> bytes:
    """A stream's bytes; olefile returns short data instead of failing on truncated files."""
    data = ole.openstream(name).read()
    if len(data) != ole.get_size(name):
        raise ExtractionError("corrupt", f"HWP 파일이 잘려 있습니다 ({name} 스트림이 불완전함).")
    return data


def _not_hwp_ole(ole: olefile.OleFileIO) -> ExtractionError:
    if ole.exists("EncryptedPackage"):
        return ExtractionError("encrypted", "암호가 걸린 MS Office 문서입니다.")
    for stream, label in _OTHER_OLE.items():
        if ole.exists(stream):
            return ExtractionError("unsupported", f"{label} 형식은 지원하지 않습니다.")
    return ExtractionError("unsupported", "HWP 문서가 아닌 OLE2 파일입니다.")


def _is_distribution(ole: olefile.OleFileIO, header: HwpHeader) -> bool:
    return bool(header.flags & DISTRIBUTION) or ole.exists("ViewText")


def _refuse_protected(ole: olefile.OleFileIO, header: HwpHeader) -> None:
    if _is_distribution(ole, header) and not ole.exists("ViewText"):
        raise ExtractionError("encrypted", "배포용(암호화된) HWP 문서라 본문을 읽을 수 없습니다.")
    if header.flags & PASSWORD:
        raise ExtractionError("encrypted", "암호가 걸린 HWP 문서입니다.")
    if header.flags & (DRM | CERT_ENCRYPTED | CERT_DRM):
        raise ExtractionError("encrypted", "DRM 또는 인증서로 보호된 HWP 문서입니다.")


def _sections(ole: olefile.OleFileIO, header: HwpHeader) -> Iterator[bytes]:
    """BodyText/Section0..N (ViewText/ for a 배포용 document, decrypted) in numeric
    order, inflated, within a total size budget."""
    storage = "ViewText" if _is_distribution(ole, header) else "BodyText"
    numbered = []
    for entry in ole.listdir(streams=True, storages=False):
        if len(entry) == 2 and entry[0] == storage:
            match = re.fullmatch(r"Section(\d+)", entry[1])
            if match:
                numbered.append((int(match[1]), "/".join(entry)))
    if not numbered:
        raise ExtractionError("corrupt", "HWP 본문(BodyText) 스트림이 없습니다.")
    budget = MAX_UNCOMPRESSED_BYTES
    for _, name in sorted(numbered):
        data = _read_stream(ole, name)
        if storage == "ViewText":
            data = decrypt_view_text(data)
        if header.flags & COMPRESSED:
            data = _inflate(data, budget)
        budget -= len(data)
        yield data


def _inflate(raw: bytes, budget: int) -> bytes:
    inflater = zlib.decompressobj(-15)  # raw deflate, no zlib header
    data = inflater.decompress(raw, max(budget, 0) + 1)  # 0 would mean unlimited
    if len(data) > budget:
        raise ExtractionError(
            "too_large", f"HWP 본문이 압축을 풀면 {MAX_UNCOMPRESSED_BYTES >> 20} MB를 넘습니다."
        )
    if not inflater.eof:
        raise ExtractionError("corrupt", "HWP 본문의 압축 데이터가 잘려 있습니다.")
    return data


def _records(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(tag id, level, payload) of each record: a 32-bit header holding tag (10 bits),
    level (10 bits) and size (12 bits; 0xFFF means a 32-bit size follows)."""
    pos, end = 0, len(data)
    while pos < end:
        if pos + 4 > end:
            raise ExtractionError("corrupt", "HWP 레코드 헤더가 잘려 있습니다.")
        header = int.from_bytes(data[pos : pos + 4], "little")
        pos += 4
        size = header >> 20
        if size == 0xFFF:
            if pos + 4 > end:
                raise ExtractionError("corrupt", "HWP 레코드 크기가 잘려 있습니다.")
            size = int.from_bytes(data[pos : pos + 4], "little")
            pos += 4
        if pos + size > end:
            raise ExtractionError("corrupt", "HWP 레코드가 잘려 있습니다.")
        yield header & 0x3FF, (header >> 10) & 0x3FF, data[pos : pos + size]
        pos += size


def _section_paragraphs(data: bytes) -> list[str]:
    """Text of every paragraph of a section, nested ones (table cells, text boxes, notes,
    headers) included in record order, with 덧말 put back in place."""
    paragraphs: list[str] = []
    owner: dict[int, int] = {}  # level of a PARA_HEADER -> its index in ``paragraphs``
    for tag, level, body in _records(data):
        if tag == PARA_HEADER:
            owner[level] = len(paragraphs)
            paragraphs.append("")
        elif tag == PARA_TEXT:
            index = owner.get(level - 1)
            if index is None:  # PARA_TEXT without a header: keep the text anyway
                index = len(paragraphs)
                paragraphs.append("")
            paragraphs[index] = _para_text(body)
        elif tag == CTRL_HEADER and body[:4] == DUTMAL_ID and level - 1 in owner:
            index = owner[level - 1]
            paragraphs[index] = paragraphs[index].replace(_PLACEHOLDER, _dutmal(body), 1)
    texts = (p.replace(_PLACEHOLDER, "") for p in paragraphs)
    return [t for t in texts if t.strip()]


def _para_text(data: bytes) -> str:
    """Decode HWPTAG_PARA_TEXT (UTF-16LE), skipping control payloads."""
    parts: list[str] = []
    pos, end = 0, len(data) & ~1
    for match in _CONTROL_AT.finditer(data, 0, end):
        start = match.start()
        if start < pos or start & 1:
            continue
        parts.append(data[pos:start].decode("utf-16le", "replace"))
        code = data[start]
        if code == _DUTMAL_CONTROL and data[start + 2 : start + 6] == DUTMAL_ID:
            parts.append(_PLACEHOLDER)
        else:
            parts.append(_CONTROL_TEXT.get(code, ""))
        pos = start + (2 if code in _CHAR_CONTROLS else 16)
    parts.append(data[pos:end].decode("utf-16le", "replace"))
    return "".join(parts)


def _dutmal(body: bytes) -> str:
    """Text of a 덧말 CTRL_HEADER as 본말(덧말): ctrl id, then two (WORD len, WCHAR[]) strings."""
    texts, pos = [], 4
    for _ in range(2):
        if pos + 2 > len(body):
            break
        length = int.from_bytes(body[pos : pos + 2], "little")
        texts.append(body[pos + 2 : pos + 2 + 2 * length].decode("utf-16le", "replace"))
        pos += 2 + 2 * length
    main, sub = (texts + ["", ""])[:2]
    return f"{main}({sub})" if sub else main
