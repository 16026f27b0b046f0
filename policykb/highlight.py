"""Snippets from stored passages: pick the passage with the most query terms and mark the
original words using the token offsets kept by the analyzer. Backend-independent, so both
engines show the same snippets."""

from __future__ import annotations

import re
from bisect import bisect_left
from html import escape

from policykb.models import Passage

SNIPPET_CHARS = 180
_TO_ESCAPE = re.compile(r"[&<>\"']")  # what html.escape replaces


def _spans(passage: Passage, terms: frozenset[str]) -> list[tuple[int, int]]:
    return merge_spans([(t.start, t.end) for t in passage.tokens if t.term in terms])


def merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(start, end) offsets sorted, overlapping ones merged."""
    spans = sorted(spans)
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def passage_rank(found: list[str]) -> tuple[int, int]:
    """How well a passage suits the snippet, from the query terms found in it (one entry
    per occurrence): most distinct terms, then most occurrences."""
    return len(set(found)), len(found)


def best_passage(passages: list[Passage], terms: frozenset[str]) -> Passage | None:
    """The first passage of the highest :func:`passage_rank` (None when none matches)."""
    best, best_key = None, (0, 0)
    for p in passages:
        key = passage_rank([t.term for t in p.tokens if t.term in terms])
        if key > best_key:
            best, best_key = p, key
    return best


def mark(
    text: str,
    spans: list[tuple[int, int]],
    start: int = 0,
    end: int | None = None,
    flatten: bool = False,
) -> str:
    """HTML of ``text[start:end]`` with ``spans`` wrapped in <mark>; everything escaped."""
    end = len(text) if end is None else end
    # Most windows hold nothing to escape: then the pieces go in as they are.
    esc = escape if _TO_ESCAPE.search(text, start, end) else str
    out, cur = [], start
    first = max(0, bisect_left(spans, (start, start)) - 1)  # the span over ``start``
    for s, e in spans[first:]:
        if e <= start:
            continue
        if s >= end:
            break
        s, e = max(s, start), min(e, end)
        out.append(esc(text[cur:s]))
        out.append("<mark>" + esc(text[s:e]) + "</mark>")
        cur = e
    out.append(esc(text[cur:end]))
    html = "".join(out)
    # Newlines only in the window (not the whole passage): escaping never makes one.
    return html.replace("\n", " ") if flatten else html


def snippet(passages: list[Passage], terms: frozenset[str]) -> tuple[str, int | None]:
    """(HTML snippet, page) for a result; the document start when nothing matches."""
    p = best_passage(passages, terms) if terms else None
    if p is None:
        return snippet_from(passages[0], []) if passages else ("", None)
    return snippet_from(p, [(t.start, t.end) for t in p.tokens if t.term in terms])


def snippet_from(p: Passage, spans: list[tuple[int, int]]) -> tuple[str, int | None]:
    """(HTML snippet, page) cut from passage ``p`` around the query terms at ``spans``
    ((start, end) offsets, any order); the passage start when there are none."""
    if not spans:
        text = p.text[:SNIPPET_CHARS].replace("\n", " ")
        return escape(text) + ("…" if len(p.text) > SNIPPET_CHARS else ""), p.page
    spans = merge_spans(spans)
    # Window around the densest stretch: start a little before the first marked word
    # of the window holding the most marks.
    best_i, best_n = 0, 0
    starts = [s for s, _e in spans]  # sorted: spans are merged in order
    for i, s in enumerate(starts):
        n = bisect_left(starts, s + SNIPPET_CHARS * 0.8, i) - i
        if n > best_n:
            best_i, best_n = i, n
    anchor = spans[best_i][0]
    start = max(0, anchor - SNIPPET_CHARS // 4)
    line_start = p.text.rfind("\n", 0, anchor) + 1
    if line_start > start:
        start = line_start  # begin at the line of the first match, not in the line above
    elif start > 0:  # do not cut a word in half at the start
        space = p.text.rfind(" ", max(0, start - 15), start)
        if space >= 0:
            start = space + 1
    end = min(len(p.text), start + SNIPPET_CHARS)
    html = mark(p.text, spans, start, end, flatten=True)
    return ("…" if start > 0 else "") + html + ("…" if end < len(p.text) else ""), p.page


def highlight_passage(passage: Passage, terms: frozenset[str]) -> str:
    return mark(passage.text, _spans(passage, terms))
