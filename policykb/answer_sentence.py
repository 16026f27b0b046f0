"""Answer-sentence evidence for questions: whether one sentence of a hit's best passage
restates the question.

A question is usually a rewording of the one sentence that answers it ("올리비에 지루가
프리미어리그에서 첫 골을 넣은 상대팀은?" of "프리미어리그에서의 첫 골은 웨스트 햄을 상대로
넣었다"). Among paragraphs about one subject most hold the question's words somewhere; the
answering one holds most of its wording in one sentence. The wording is compared as
character bigrams inside the question's words, so particles and endings ("첫 골은" /
"첫 골을") count as well as the content words, and no analysis is needed. It is computed
from the stored text of the passage a hit's snippet is cut from, so it is the same on both
engines (:class:`policykb.service.SearchService` applies it in its re-rank window).
"""

from __future__ import annotations

import re

from policykb.query import asks, is_interrogative

__all__ = ["asks", "question_bigrams", "sentence_coverage", "sentences"]

# A sentence ends after . ! ? 。 (with or without a space: "진학했다.낮에는") or at a
# line break. (Not splitting "5.18" or "2.1" was worse on the dev halves: korquad -0.0008.)
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s*|\n+")
_EDGE = "?？.,!\"'()[]「」『』‘’“”《》<>·"


def question_bigrams(text: str) -> list[str]:
    """The distinct character bigrams inside the words of the question ``text``, less
    its interrogative words (무엇인가, 몇, 어느 …), in order."""
    out: list[str] = []
    for word in text.split():
        if is_interrogative(word):
            continue
        word = word.strip(_EDGE)
        for i in range(len(word) - 1):
            gram = word[i : i + 2]
            if gram not in out:
                out.append(gram)
    return out


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (none empty)."""
    return [s for s in _SENTENCE_END.split(text) if s]


def sentence_coverage(grams: list[str], text: str) -> float:
    """In [0, 1]: the largest share of ``grams`` that one sentence of ``text`` holds."""
    if not grams or not text:
        return 0.0
    best = max((sum(1 for g in grams if g in s) for s in sentences(text)), default=0)
    return best / len(grams)
