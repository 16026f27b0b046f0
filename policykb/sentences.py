"""Sentence-level evidence for ranking: whether a hit holds the query's words together in
one sentence, not merely somewhere in the document. Among paragraphs of one article (a
KorQuAD question, a press release series) the right one usually holds the sentence that
answers, where the question's words sit together. Computed from stored passages and
their token offsets, so it is the same on both engines."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable

from policykb.models import Passage
from policykb.query import AllOf, AnyOf, Bool, Clause

# A sentence ends at . ! ? 。 before white space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|\n+")


def query_words(root: Clause) -> list[frozenset[str]]:
    """The terms of each scored word of the positive plain-word runs of ``root`` (an
    asked-for question noun, which the answer seldom repeats, is left out)."""
    out: list[frozenset[str]] = []

    def walk(c: Clause) -> None:
        match c:
            case AllOf():
                groups = c.words or tuple((a,) for a in c.alts)
                for w in groups:
                    terms = frozenset(t for a in w for t in a.terms)
                    if terms and terms not in out:
                        out.append(terms)
            case AnyOf(clauses=clauses):
                for x in clauses:
                    walk(x)
            case Bool(must=must):
                for x in must:
                    walk(x)

    walk(root)
    return out


def sentence_bounds(text: str) -> list[int]:
    """Start offsets of the sentences of ``text`` after the first (sorted)."""
    return [m.end() for m in _SENTENCE_END.finditer(text)]


def sentence_coverage(passages: Iterable[Passage], words: list[frozenset[str]]) -> float:
    """The largest share of ``words`` found together in one sentence of ``passages``
    (0 when there are no words)."""
    if not words:
        return 0.0
    best = 0
    for p in passages:
        bounds = sentence_bounds(p.text)
        found: dict[int, set[int]] = {}
        for t in p.tokens:
            k = bisect_right(bounds, t.start)
            for i, w in enumerate(words):
                if t.term in w:
                    found.setdefault(k, set()).add(i)
        for s in found.values():
            best = max(best, len(s))
    return best / len(words)
