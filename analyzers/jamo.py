"""Hangul at the level of keystrokes: syllables <-> jamo (자모), initial consonants (초성)
and the standard 2-set (두벌식) keyboard, for suggestions that survive typos, 초성 input
and a wrong input language.

A syllable decomposes into the jamo one types for it on a 두벌식 keyboard: 왜 -> ㅇㅗㅐ,
닭 -> ㄷㅏㄹㄱ. Compatibility jamo (U+3131..U+318E, what an IME shows for a lone
consonant) are used throughout, so a half-typed syllable (스맡) is a jamo prefix of the
word it is becoming (스마트).
"""

from __future__ import annotations

SYLLABLE_FIRST, SYLLABLE_LAST = 0xAC00, 0xD7A3
INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
MEDIALS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
FINALS = ("", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")

# Jamo typed as two keys on a 두벌식 keyboard.
_SPLIT = {
    "ㅘ": "ㅗㅏ",
    "ㅙ": "ㅗㅐ",
    "ㅚ": "ㅗㅣ",
    "ㅝ": "ㅜㅓ",
    "ㅞ": "ㅜㅔ",
    "ㅟ": "ㅜㅣ",
    "ㅢ": "ㅡㅣ",
    "ㄳ": "ㄱㅅ",
    "ㄵ": "ㄴㅈ",
    "ㄶ": "ㄴㅎ",
    "ㄺ": "ㄹㄱ",
    "ㄻ": "ㄹㅁ",
    "ㄼ": "ㄹㅂ",
    "ㄽ": "ㄹㅅ",
    "ㄾ": "ㄹㅌ",
    "ㄿ": "ㄹㅍ",
    "ㅀ": "ㄹㅎ",
    "ㅄ": "ㅂㅅ",
}
_JOIN = {v: k for k, v in _SPLIT.items()}

# 두벌식: latin key -> jamo (shifted keys give the tense consonants and ㅒ ㅖ).
_KEYS = {
    "q": "ㅂ",
    "w": "ㅈ",
    "e": "ㄷ",
    "r": "ㄱ",
    "t": "ㅅ",
    "y": "ㅛ",
    "u": "ㅕ",
    "i": "ㅑ",
    "o": "ㅐ",
    "p": "ㅔ",
    "a": "ㅁ",
    "s": "ㄴ",
    "d": "ㅇ",
    "f": "ㄹ",
    "g": "ㅎ",
    "h": "ㅗ",
    "j": "ㅓ",
    "k": "ㅏ",
    "l": "ㅣ",
    "z": "ㅋ",
    "x": "ㅌ",
    "c": "ㅊ",
    "v": "ㅍ",
    "b": "ㅠ",
    "n": "ㅜ",
    "m": "ㅡ",
    "Q": "ㅃ",
    "W": "ㅉ",
    "E": "ㄸ",
    "R": "ㄲ",
    "T": "ㅆ",
    "O": "ㅒ",
    "P": "ㅖ",
}
_JAMO_TO_KEY = {j: k for k, j in _KEYS.items()}
CONSONANTS = frozenset("ㄱㄲㄳㄴㄵㄶㄷㄸㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅃㅄㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ")
VOWELS = frozenset(MEDIALS)


def is_syllable(ch: str) -> bool:
    return SYLLABLE_FIRST <= ord(ch) <= SYLLABLE_LAST


def is_jamo(ch: str) -> bool:
    return 0x3131 <= ord(ch) <= 0x318E


def syllable_jamo(ch: str) -> tuple[str, str, str]:
    """(initial, medial, final) of a syllable; final is "" when there is none."""
    code = ord(ch) - SYLLABLE_FIRST
    return INITIALS[code // 588], MEDIALS[(code % 588) // 28], FINALS[code % 28]


def _keys_of(ch: str) -> str:
    if is_syllable(ch):
        return "".join(_SPLIT.get(j, j) for j in syllable_jamo(ch))
    if is_jamo(ch):
        return _SPLIT.get(ch, ch)
    return ch.lower()


# Every syllable and jamo, precomputed: keystrokes() runs for every suggestion entry.
_KEYSTROKES = {
    chr(c): _keys_of(chr(c))
    for c in (*range(SYLLABLE_FIRST, SYLLABLE_LAST + 1), *range(0x3131, 0x318F))
}


def keystrokes(text: str) -> str:
    """The jamo typed for ``text`` on a 두벌식 keyboard; other characters are kept,
    latin letters lowercased (스마트 -> ㅅㅡㅁㅏㅌㅡ, 왜 -> ㅇㅗㅐ)."""
    table = _KEYSTROKES
    return "".join([table.get(ch) or ch.lower() for ch in text])


def initials(text: str) -> str:
    """초성 of each syllable; lone consonants and other characters are kept (lowercased):
    스마트시티 -> ㅅㅁㅌㅅㅌ, 스ㅁㅌ -> ㅅㅁㅌ."""
    return "".join(
        INITIALS[(ord(ch) - SYLLABLE_FIRST) // 588] if is_syllable(ch) else ch.lower()
        for ch in text
    )


def is_initials(text: str) -> bool:
    """True when ``text`` mixes syllables and lone consonants with at least one consonant
    (ㅅㅁㅌ, 스ㅁㅌ): input to be matched syllable by syllable against 초성."""
    return any(ch in CONSONANTS for ch in text) and all(
        ch in CONSONANTS or is_syllable(ch) for ch in text
    )


def matches_initials(pattern: str, word: str) -> bool:
    """Whether ``word`` starts with ``pattern`` read 초성 by 초성: a lone consonant
    stands for any syllable with that initial, a syllable for itself (the last one may be
    half-typed)."""
    if len(word) < len(pattern):
        return False
    last = len(pattern) - 1
    for i, p in enumerate(pattern):
        w = word[i]
        if p == w:
            continue
        if p in CONSONANTS:
            if not is_syllable(w) or initials(w) != p:
                return False
        elif i == last and is_syllable(p) and is_syllable(w):
            if not keystrokes(w).startswith(keystrokes(p)):
                return False
        else:
            return False
    return True


def latin_to_jamo(text: str) -> str:
    """Latin letters typed with the Korean layout in mind -> the jamo those keys give
    (tmakxmtlxl -> ㅅㅡㅁㅏㅌㅡㅅㅣㅌㅣ); other characters are kept."""
    return "".join(_KEYS.get(ch, _KEYS.get(ch.lower(), ch)) for ch in text)


def jamo_to_latin(text: str) -> str:
    """Hangul (syllables or jamo) typed when latin letters were meant -> those letters
    (ㄷㄴㅎ -> esg, 채ㅣ -> col)."""
    return "".join(_JAMO_TO_KEY.get(j, j).lower() for j in keystrokes(text))


def compose(jamo: str) -> str:
    """Keystroke jamo -> syllables, as a 두벌식 IME composes them (ㅅㅡㅁㅏㅌㅡ -> 스마트);
    a consonant followed by a vowel starts a new syllable."""
    out: list[str] = []
    i, n = 0, len(jamo)
    while i < n:
        ch = jamo[i]
        if ch in INITIALS and i + 1 < n and jamo[i + 1] in VOWELS:
            medial = jamo[i + 1]
            i += 2
            if i < n and (medial + jamo[i]) in _JOIN and _JOIN[medial + jamo[i]] in MEDIALS:
                medial = _JOIN[medial + jamo[i]]
                i += 1
            final = ""
            if i < n and jamo[i] in CONSONANTS and jamo[i] in FINALS:
                if not (i + 1 < n and jamo[i + 1] in VOWELS):
                    final = jamo[i]
                    i += 1
                    pair = final + jamo[i] if i < n else ""
                    if pair in _JOIN and not (i + 1 < n and jamo[i + 1] in VOWELS):
                        final = _JOIN[pair]
                        i += 1
            code = (
                SYLLABLE_FIRST
                + INITIALS.index(ch) * 588
                + MEDIALS.index(medial) * 28
                + FINALS.index(final)
            )
            out.append(chr(code))
        else:
            out.append(ch)
            i += 1
    return "".join(out)
