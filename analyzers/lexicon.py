"""The editable analysis data: a user dictionary and a synonym list (data files)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_USER_DICT = DATA_DIR / "userdict.tsv"
DEFAULT_SYNONYMS = DATA_DIR / "synonyms.txt"
KIWI_TAGS = {"NNG", "NNP", "NNB", "NR", "NP", "XR", "SL", "SH", "VV", "VA"}
MAX_ENTRY_CHARS = 60  # a dictionary word or synonym entry


class LexiconError(ValueError):
    """A line of a dictionary file (or an edit) cannot be read; the message (Korean) names
    the file and line, or the entry."""


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


def _lines(path: Path, text: str | None = None):
    text = path.read_text(encoding="utf-8-sig") if text is None else text.lstrip("\ufeff")
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield n, raw.rstrip("\n")


def check_user_word(word: str, tag: str = "NNP", parts: tuple[str, ...] = ()) -> None:
    """Raise :class:`LexiconError` (Korean message) unless ``word`` can be a dictionary
    entry: one token without spaces or commas, a known Kiwi tag, parts that spell it."""
    if not word:
        raise LexiconError("낱말이 비어 있습니다.")
    if any(c.isspace() for c in word):
        raise LexiconError(f"사전 낱말에는 띄어쓰기를 쓸 수 없습니다: {word!r} (붙여 쓴 한 낱말)")
    if len(word) > MAX_ENTRY_CHARS:
        raise LexiconError(f"낱말이 너무 깁니다 (최대 {MAX_ENTRY_CHARS}자): {word[:20]}…")
    if tag not in KIWI_TAGS:
        raise LexiconError(
            f"알 수 없는 품사입니다: {tag!r}. 가능한 품사: " + ", ".join(sorted(KIWI_TAGS))
        )
    if parts and "".join(parts) != word:
        raise LexiconError(
            f"구성 낱말 {' '.join(parts)!r}을(를) 붙이면 {word!r}이(가) 되어야 합니다"
        )


def check_synonym_group(entries: tuple[str, ...]) -> None:
    """Raise :class:`LexiconError` (Korean message) unless ``entries`` is a valid group:
    two or more distinct, non-empty entries without commas."""
    if any(not e.strip() for e in entries):
        raise LexiconError("동의어 항목이 비어 있습니다.")
    if any("," in e or "\n" in e for e in entries):
        raise LexiconError("동의어 항목에는 쉼표나 줄바꿈을 쓸 수 없습니다.")
    if any(len(e) > MAX_ENTRY_CHARS for e in entries):
        raise LexiconError(f"동의어 항목이 너무 깁니다 (최대 {MAX_ENTRY_CHARS}자).")
    if len({e.strip() for e in entries}) < 2:
        raise LexiconError("동의어 묶음에는 서로 다른 항목이 두 개 이상 있어야 합니다.")


def parse_user_dict(path: Path, text: str | None = None) -> tuple[UserWord, ...]:
    """The words of a user dictionary file (or of ``text``, named ``path`` in errors)."""
    words = []
    for n, raw in _lines(path, text):
        cols = [c.strip() for c in raw.split("\t")]
        word = cols[0]
        tag = cols[1] if len(cols) > 1 and cols[1] else "NNP"
        parts = tuple(cols[3].split()) if len(cols) > 3 and cols[3] else ()
        try:
            check_user_word(word, tag, parts)
            score = float(cols[2]) if len(cols) > 2 and cols[2] else 0.0
        except ValueError as exc:
            reason = exc if isinstance(exc, LexiconError) else "점수는 숫자여야 합니다."
            raise LexiconError(f"{path.name}:{n}: {reason}") from None
        words.append(UserWord(word, tag, score, parts))
    return tuple(words)


def parse_synonyms(path: Path, text: str | None = None) -> tuple[tuple[str, ...], ...]:
    """The groups of a synonym file (or of ``text``, named ``path`` in errors)."""
    groups = []
    for n, raw in _lines(path, text):
        entries = tuple(e.strip() for e in raw.split(",") if e.strip())
        try:
            check_synonym_group(entries)
        except LexiconError as exc:
            raise LexiconError(f"{path.name}:{n}: {exc}") from None
        groups.append(entries)
    return tuple(groups)


def user_word_line(word: UserWord) -> str:
    """``word`` as a line of the user dictionary file."""
    score = f"{word.score:g}"
    return "\t".join([word.word, word.tag, score, *([" ".join(word.parts)] if word.parts else [])])


def synonym_line(group: tuple[str, ...]) -> str:
    """``group`` as a line of the synonym file."""
    return ", ".join(group)


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
