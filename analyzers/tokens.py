"""The index term type shared by the analyzer, the store, the backends and the apps."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Token:
    """One index term with character offsets into its text. ``position`` counts primary
    tokens; extra tokens (joined compounds, compound parts, synonyms) have ``joined=True``
    and the position of their first part."""

    term: str
    start: int
    end: int
    position: int
    joined: bool = False

    def __reduce__(self):
        # Plain-tuple pickling: ingest workers send millions of tokens to the parent and
        # the dataclass default (__getstate__ over fields()) costs more than analysis.
        return (Token, (self.term, self.start, self.end, self.position, self.joined))


def tokens_to_json(tokens: list[Token]) -> str:
    """The stored form of a token list (passages, analysis cache): compact JSON rows
    ``[term, start, end, position, joined]``."""
    return json.dumps(
        [[t.term, t.start, t.end, t.position, 1 if t.joined else 0] for t in tokens],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def tokens_from_json(raw: str, only: frozenset[str] | None = None) -> list[Token]:
    """Tokens of :func:`tokens_to_json` output; with ``only``, just those whose term is in
    it (all a snippet or a highlight needs, and much cheaper for a long passage: found by
    :func:`token_matches` without decoding the other tokens)."""
    if only is not None:
        if not only:
            return []
        only = frozenset(only)
        matches = token_matches(raw, only)
        if matches is not None:
            return tokens_of(matches, only)
        rows = json.loads(raw)
        return [Token(t[0], t[1], t[2], t[3], bool(t[4])) for t in rows if t[0] in only]
    if raw == "[]":
        return []
    return [Token(t[0], t[1], t[2], t[3], bool(t[4])) for t in json.loads(raw)]


@functools.lru_cache(maxsize=512)
def _token_pattern(only: frozenset[str]) -> tuple[re.Pattern[str], dict[str, str]]:
    """A pattern matching the stored form of a token whose term is in ``only``:
    ``["term",start,end,position,joined]`` exactly as :func:`tokens_to_json` writes it,
    and the term of each quoted form. A ``["`` can only start a token (inside a JSON
    string a quote is always escaped), so a match is never part of another token's term."""
    quoted = {json.dumps(t, ensure_ascii=False): t for t in only}
    alts = "|".join(re.escape(q) for q in sorted(quoted))
    return re.compile(r"\[(" + alts + r"),(-?\d+),(-?\d+),(-?\d+),([01])\]"), quoted


@functools.lru_cache(maxsize=512)
def _span_pattern(only: frozenset[str]) -> re.Pattern[str]:
    """:func:`_token_pattern` capturing the quoted term, start and end only."""
    alts = "|".join(re.escape(q) for q in sorted(_token_pattern(only)[1]))
    return re.compile(r"\[(" + alts + r"),(-?\d+),(-?\d+),-?\d+,[01]\]")


# The first token as tokens_to_json writes it; one JSON text is written in one format.
_COMPACT_START = re.compile(r'\[\["(?:[^"\\]|\\.)*",-?\d+,-?\d+,-?\d+,[01]\]')


def token_matches(raw: str, only: frozenset[str]) -> list[tuple[str, ...]] | None:
    """(quoted term, start, end, position, joined) strings of ``only``'s tokens (not
    empty) in :func:`tokens_to_json` output, in stored order: a pattern scan instead of
    decoding every token (7x faster on public-docs passages). None for text not in the
    compact form, which must be decoded instead. A quoted term stands for one term."""
    return _compact_scan(_token_pattern(only)[0], raw)


def _compact_scan(pattern: re.Pattern[str], raw: str) -> list | None:
    """``pattern``'s matches in ``raw``; None when ``raw`` is not in the compact form."""
    found = pattern.findall(raw)
    if not found and raw != "[]" and not _COMPACT_START.match(raw):
        return None
    return found


def token_spans(raw: str, only: frozenset[str]) -> list[tuple[str, str, str]] | None:
    """(quoted term, start, end) strings of ``only``'s tokens: :func:`token_matches`
    without the fields a snippet does not use (fewer strings made per occurrence)."""
    return _compact_scan(_span_pattern(only), raw)


def tokens_of(matches: list[tuple[str, ...]], only: frozenset[str]) -> list[Token]:
    """The Tokens of :func:`token_matches` rows."""
    quoted = _token_pattern(only)[1]
    return [Token(quoted[q], int(s), int(e), int(p), j == "1") for q, s, e, p, j in matches]
