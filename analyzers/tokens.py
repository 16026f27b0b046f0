"""The index term type shared by the analyzer, the store, the backends and the apps."""

from __future__ import annotations

import json
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
    it (all a snippet or a highlight needs, and much cheaper for a long passage)."""
    rows = json.loads(raw)
    if only is not None:
        return [Token(t[0], t[1], t[2], t[3], bool(t[4])) for t in rows if t[0] in only]
    return [Token(t[0], t[1], t[2], t[3], bool(t[4])) for t in rows]
