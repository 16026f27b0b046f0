"""Character bigrams: the fallback representation for words Kiwi splits badly.

Applied to the raw (NFC) text of documents and queries alike: each run of word characters
(letters, digits) yields its overlapping two-character pieces, lower-cased; a one-character
run yields itself. Particles stay attached, which is what makes bigrams a useful second
opinion next to the morpheme field.
"""

from __future__ import annotations

import re
from operator import add

_WORD_RE = re.compile(r"\w+")


def char_bigrams(text: str) -> list[str]:
    out: list[str] = []
    for w in _WORD_RE.findall(text.lower()):
        if len(w) == 1:
            out.append(w)
        else:  # w[i] + w[i + 1] for each i, at C speed
            out.extend(map(add, w, w[1:]))
    return out
