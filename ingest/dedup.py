"""Exact and near-duplicate detection: a content hash and a 64-bit SimHash over character
shingles, looked up through 4 bands of 16 bits (any two texts within Hamming distance 3
share at least one band)."""

from __future__ import annotations

import hashlib
import re
import sqlite3

SHINGLE = 4
BANDS = 4
BAND_BITS = 16
NEAR_DISTANCE = 12  # bits out of 64: candidates, then verified on the texts themselves
MIN_CONTAINMENT = 0.85  # share of the smaller text's shingles found in the other text
MIN_LENGTH_RATIO = 0.6
_NON_WORD_RE = re.compile(r"[\W_]+")

BANDS_SCHEMA = """
CREATE TABLE IF NOT EXISTS simhash_bands (
    doc_id TEXT NOT NULL,
    band INTEGER NOT NULL,
    value INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS simhash_bands_lookup ON simhash_bands(band, value);
CREATE INDEX IF NOT EXISTS simhash_bands_doc ON simhash_bands(doc_id);
"""


def _squash(text: str) -> str:
    """Text without spaces and punctuation: line breaks, hyphenation, page furniture and
    table layout differ between the HWP, HWPX and PDF copies of a document."""
    return _NON_WORD_RE.sub("", text.lower())


def content_hash(text: str) -> str:
    return hashlib.sha256(_squash(text).encode()).hexdigest()


# _BIT_OF[k][b] = bit k of byte b: counts one bit over many bytes with translate + count.
_BIT_OF = tuple(bytes((b >> k) & 1 for b in range(256)) for k in range(8))


def simhash(text: str) -> int:
    """64-bit SimHash of the text's distinct shingles (blake2b-64 each, big-endian): bit
    ``i`` is set when more than half of the shingle hashes have it set. The bits are
    counted column-wise over the concatenated digests, at C speed."""
    unique = shingles(text)
    digests = b"".join(hashlib.blake2b(s.encode(), digest_size=8).digest() for s in unique)
    half = len(unique)
    value = 0
    for bit in range(64):
        # Bit ``bit`` of a big-endian 8-byte value lives in byte 7 - bit // 8.
        ones = digests[7 - bit // 8 :: 8].translate(_BIT_OF[bit % 8]).count(1)
        if 2 * ones > half:
            value |= 1 << bit
    return value


def to_signed(value: int) -> int:
    """SQLite integers are signed 64-bit."""
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def hamming(a: int, b: int) -> int:
    return bin(to_unsigned(a) ^ to_unsigned(b)).count("1")


def _bands(value: int) -> list[int]:
    v = to_unsigned(value)
    return [(v >> (i * BAND_BITS)) & ((1 << BAND_BITS) - 1) for i in range(BANDS)]


def ensure_schema(con: sqlite3.Connection) -> None:
    con.executescript(BANDS_SCHEMA)


def record(con: sqlite3.Connection, doc_id: str, value: int) -> None:
    con.execute("DELETE FROM simhash_bands WHERE doc_id = ?", (doc_id,))
    con.executemany(
        "INSERT INTO simhash_bands (doc_id, band, value) VALUES (?,?,?)",
        [(doc_id, i, b) for i, b in enumerate(_bands(value))],
    )


def forget(con: sqlite3.Connection, doc_id: str) -> None:
    con.execute("DELETE FROM simhash_bands WHERE doc_id = ?", (doc_id,))


def shingles(text: str) -> set[str]:
    squashed = _squash(text)
    return {squashed[i : i + SHINGLE] for i in range(max(1, len(squashed) - SHINGLE + 1))}


def near_duplicate(a: set[str], b: set[str]) -> bool:
    """Same document in another format or edition: most shingles of the smaller text are
    in the larger one (measured: 0.88-1.0 for HWP/HWPX/PDF copies of one document,
    0.67-0.78 for different press releases on the same template)."""
    if not a or not b or min(len(a), len(b)) / max(len(a), len(b)) < MIN_LENGTH_RATIO:
        return False
    return len(a & b) / min(len(a), len(b)) >= MIN_CONTAINMENT


def _stored_text(con: sqlite3.Connection, doc_id: str) -> str:
    rows = con.execute("SELECT text FROM passages WHERE doc_id = ? ORDER BY seq", (doc_id,))
    return "\n\n".join(r[0] for r in rows)


def find_canonical(
    con: sqlite3.Connection, doc_id: str, chash: str, value: int, text: str = ""
) -> str | None:
    """The canonical document ``doc_id``'s text duplicates (exactly or nearly), if any.
    SimHash bands propose candidates; each is verified on shingle containment."""
    row = con.execute(
        "SELECT id FROM documents WHERE content_hash = ? AND id != ? AND canonical_id IS NULL "
        "ORDER BY id LIMIT 1",
        (chash, doc_id),
    ).fetchone()
    if row:
        return row[0]
    candidates: set[str] = set()
    for i, band in enumerate(_bands(value)):
        for (other,) in con.execute(
            "SELECT doc_id FROM simhash_bands WHERE band = ? AND value = ? AND doc_id != ?",
            (i, band, doc_id),
        ):
            candidates.add(other)
    close: list[tuple[int, str]] = []
    for other in sorted(candidates):
        r = con.execute(
            "SELECT simhash FROM documents WHERE id = ? AND canonical_id IS NULL", (other,)
        ).fetchone()
        if r is None or r[0] is None:
            continue
        d = hamming(value, r[0])
        if d <= NEAR_DISTANCE:
            close.append((d, other))
    if not close or not text:
        return None
    mine = shingles(text)
    for _d, other in sorted(close):
        if near_duplicate(mine, shingles(_stored_text(con, other))):
            return other
    return None
