"""One document-analysis path: ingest, re-analysis after a lexicon change, catalogue
records and the evaluation fill a :class:`Document`'s tokens here, so a term is indexed the
same way whichever way the document came in."""

from __future__ import annotations

from typing import Protocol

from analyzers import Analyzer
from policykb.models import Document, Token


class TokenCache(Protocol):
    """Tokens of already analyzed passage texts (ingest keeps them across runs)."""

    def get(self, text: str) -> list[Token] | None: ...

    def put(self, text: str, tokens: list[Token]) -> None: ...


def analyze_authors(analyzer: Analyzer, authors: list[str]) -> list[Token]:
    """Index terms of author names (one run, names in order)."""
    if not authors:
        return []
    return analyzer.analyze(" ".join(authors))


def analyze_metadata(doc: Document, analyzer: Analyzer) -> None:
    """Title and author tokens of ``doc`` (all a metadata-only record has)."""
    doc.title_tokens = analyzer.analyze(doc.title)
    doc.author_tokens = analyze_authors(analyzer, doc.authors)


def analyze_document(doc: Document, analyzer: Analyzer, cache: TokenCache | None = None) -> int:
    """Tokens of every passage, the title and the authors of ``doc``, in place; passages
    found in ``cache`` are not analyzed again. Returns the number of cache hits."""
    hits = 0
    for p in doc.passages:
        tokens = cache.get(p.text) if cache is not None else None
        if tokens is None:
            tokens = analyzer.analyze(p.text)
            if cache is not None:
                cache.put(p.text, tokens)
        else:
            hits += 1
        p.tokens = tokens
    analyze_metadata(doc, analyzer)
    return hits
