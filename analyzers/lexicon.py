"""The editable analysis data: a user dictionary and a synonym list (data files)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_USER_DICT = DATA_DIR / "userdict.tsv"
DEFAULT_SYNONYMS = DATA_DIR / "synonyms.txt"
KIWI_TAGS = {"NNG", "NNP", "NNB", "NR", "NP", "XR", "SL", "SH", "VV", "VA"}


class LexiconError(ValueError):
    """A line of a dictionary file cannot be read; the message names file and line."""


@dataclass(frozen=True)
class UserWord:
    word: str
    tag: str
    score: float
    parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lexicon:
    user_words: tuple[UserWord, ...] = ()
    synonym_groups: tuple[tuple[str, ...], ...] = ()
    user_digest: str = ""
    synonym_digest: str = ""
    sources: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.user_digest}:{self.synonym_digest}".encode()).hexdigest()[:16]


def _lines(path: Path):
    for n, raw in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield n, raw.rstrip("\n")


def parse_user_dict(path: Path) -> tuple[UserWord, ...]:
    words = []
    for n, raw in _lines(path):
        cols = [c.strip() for c in raw.split("\t")]
        word = cols[0]
        tag = cols[1] if len(cols) > 1 and cols[1] else "NNP"
        if not word or " " in word:
            raise LexiconError(f"{path}:{n}: the word must be one token without spaces")
        if tag not in KIWI_TAGS:
            raise LexiconError(f"{path}:{n}: unknown tag {tag!r}")
        try:
            score = float(cols[2]) if len(cols) > 2 and cols[2] else 0.0
        except ValueError:
            raise LexiconError(f"{path}:{n}: score must be a number") from None
        parts = tuple(cols[3].split()) if len(cols) > 3 and cols[3] else ()
        if parts and "".join(parts) != word:
            raise LexiconError(f"{path}:{n}: parts {' '.join(parts)!r} do not spell {word!r}")
        words.append(UserWord(word, tag, score, parts))
    return tuple(words)


def parse_synonyms(path: Path) -> tuple[tuple[str, ...], ...]:
    groups = []
    for n, raw in _lines(path):
        entries = tuple(e.strip() for e in raw.split(",") if e.strip())
        if len(entries) < 2:
            raise LexiconError(f"{path}:{n}: a synonym group needs at least two entries")
        groups.append(entries)
    return tuple(groups)


def _digest(path: Path | None) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path else "none"


def load_lexicon(
    user_dict: Path | str | None = DEFAULT_USER_DICT, synonyms: Path | str | None = DEFAULT_SYNONYMS
) -> Lexicon:
    ud = Path(user_dict) if user_dict else None
    sy = Path(synonyms) if synonyms else None
    return Lexicon(
        parse_user_dict(ud) if ud else (),
        parse_synonyms(sy) if sy else (),
        _digest(ud),
        _digest(sy),
        {"user_dict": str(ud) if ud else None, "synonyms": str(sy) if sy else None},
    )
