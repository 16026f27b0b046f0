"""Character bigrams: the fallback representation for words Kiwi splits badly.

Applied to the raw (NFC) text of documents and queries alike: each run of word characters
(letters, digits) yields its overlapping two-character pieces, lower-cased; a one-character
run yields itself. Particles stay attached, which is what makes bigrams a useful second
opinion next to the morpheme field.
"""

from __future__ import annotations

import re

_WORD_RE = re.compile(r"\w+")


def char_bigrams(text: str) -> list[str]:
    out: list[str] = []
    for m in _WORD_RE.finditer(text.lower()):
        w = m.group()
        if len(w) == 1:
            out.append(w)
        else:
            out.extend(w[i : i + 2] for i in range(len(w) - 1))
    return out
