"""Split page texts into passages (a few paragraphs each) that keep their page number."""

from __future__ import annotations

import re
from dataclasses import dataclass

TARGET_CHARS = 700
MAX_CHARS = 1200
_SENTENCE_END_RE = re.compile(r"(?<=[.!?。다])\s+")


@dataclass(slots=True)
class RawPassage:
    page: int | None
    text: str


def _pieces(paragraph: str) -> list[str]:
    if len(paragraph) <= MAX_CHARS:
        return [paragraph]
    out, cur = [], ""
    for sentence in _SENTENCE_END_RE.split(paragraph):
        if cur and len(cur) + len(sentence) + 1 > TARGET_CHARS:
            out.append(cur)
            cur = sentence
        else:
            cur = f"{cur} {sentence}" if cur else sentence
        while len(cur) > MAX_CHARS:
            out.append(cur[:MAX_CHARS])
            cur = cur[MAX_CHARS:]
    if cur:
        out.append(cur)
    return out


def split_passages(pages: list[tuple[int | None, str]]) -> list[RawPassage]:
    passages: list[RawPassage] = []
    for page, text in pages:
        cur: list[str] = []
        size = 0
        for para in (p.strip() for p in re.split(r"\n\s*\n", text)):
            if not para:
                continue
            for piece in _pieces(para):
                if cur and size + len(piece) > TARGET_CHARS:
                    passages.append(RawPassage(page, "\n\n".join(cur)))
                    cur, size = [], 0
                cur.append(piece)
                size += len(piece)
        if cur:
            passages.append(RawPassage(page, "\n\n".join(cur)))
    return passages
