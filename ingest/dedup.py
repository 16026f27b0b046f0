"""Exact and near-duplicate detection: a content hash and a 64-bit SimHash over character
shingles, looked up through 4 bands of 16 bits (any two texts within Hamming distance 3
share at least one band)."""

from __future__ import annotations

import hashlib
import re
import sqlite3

from policykb.store import DocumentStore

SHINGLE = 4
BANDS = 4
BAND_BITS = 16
NEAR_DISTANCE = 12  # bits out of 64: candidates, then verified on the texts themselves
MIN_CONTAINMENT = 0.85  # share of the smaller text's shingles found in the other text
MIN_LENGTH_RATIO = 0.6
_NON_WORD_RE = re.compile(r"[\W_]+")


def _squash(text: str) -> str:
    """Text without spaces and punctuation: line breaks, hyphenation, page furniture and
    table layout differ between the HWP, HWPX and PDF copies of a document."""
    return _NON_WORD_RE.sub("", text.lower())


def content_hash(text: str) -> str:
    return hashlib.sha256(_squash(text).encode()).hexdigest()


def fingerprints(text: str) -> tuple[str, int]:
    """(:func:`content_hash`, :func:`simhash`) of ``text``, squashing it once."""
    squashed = _squash(text)
    return hashlib.sha256(squashed.encode()).hexdigest(), _simhash_of(_shingles_of(squashed))


# _BIT_OF[k][b] = bit k of byte b: counts one bit over many bytes with translate + count.
_BIT_OF = tuple(bytes((b >> k) & 1 for b in range(256)) for k in range(8))


def simhash(text: str) -> int:
    """64-bit SimHash of the text's distinct shingles (blake2b-64 each, big-endian): bit
    ``i`` is set when more than half of the shingle hashes have it set. The bits are
    counted column-wise over the concatenated digests, at C speed."""
    return _simhash_of(shingles(text))


def _simhash_of(unique: set[str]) -> int:
    blake2b = hashlib.blake2b
    digests = b"".join([blake2b(s.encode(), digest_size=8).digest() for s in unique])
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


def record(store: DocumentStore, con: sqlite3.Connection, doc_id: str, value: int) -> None:
    """Make ``doc_id`` (a canonical) findable by its SimHash bands."""
    store.put_bands(con, doc_id, _bands(value))


def shingles(text: str) -> set[str]:
    return _shingles_of(_squash(text))


def _shingles_of(squashed: str) -> set[str]:
    return {squashed[i : i + SHINGLE] for i in range(max(1, len(squashed) - SHINGLE + 1))}


def near_duplicate(a: set[str], b: set[str]) -> bool:
    """Same document in another format or edition: most shingles of the smaller text are
    in the larger one (measured: 0.88-1.0 for HWP/HWPX/PDF copies of one document,
    0.67-0.78 for different press releases on the same template)."""
    if not a or not b or min(len(a), len(b)) / max(len(a), len(b)) < MIN_LENGTH_RATIO:
        return False
    return len(a & b) / min(len(a), len(b)) >= MIN_CONTAINMENT


def find_canonical(
    store: DocumentStore,
    con: sqlite3.Connection,
    doc_id: str,
    chash: str,
    value: int,
    text: str = "",
) -> str | None:
    """The canonical document ``doc_id``'s text duplicates (exactly or nearly), if any.
    SimHash bands propose candidates; each is verified on shingle containment."""
    exact = store.canonical_with_hash(con, chash, doc_id)
    if exact:
        return exact
    close: list[tuple[int, str]] = []
    for other in sorted(store.band_neighbours(con, _bands(value), doc_id)):
        other_hash = store.canonical_simhash(con, other)
        if other_hash is None:
            continue
        d = hamming(value, other_hash)
        if d <= NEAR_DISTANCE:
            close.append((d, other))
    if not close or not text:
        return None
    mine = shingles(text)
    for _d, other in sorted(close):
        if near_duplicate(mine, shingles(store.stored_text(con, other))):
            return other
    return None
