"""Analyst views over a search: timeline by year (stacked by institute or region), the
17 시·도 comparison, related documents, spacing suggestions and "did you mean"."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field, replace

from corpus.institutes import REGIONS
from policykb.models import Document, Filters
from policykb.query import AllOf, Bool, TermAlt
from policykb.service import SearchRequest, SearchService
from policykb.suggest import Suggester

MAX_SERIES = 6
OTHER = "기타"


@dataclass
class Timeline:
    group_by: str  # institute | region
    years: list[str]
    totals: dict[str, int]  # year -> documents (the year facet)
    series: dict[str, dict[str, int]] = field(default_factory=dict)  # group -> year -> n

    def to_json(self) -> dict:
        return asdict(self)


def timeline(service: SearchService, req: SearchRequest, group_by: str = "institute") -> Timeline:
    """Documents per year for the current query and filters (the year facet), split into
    the largest institutes or regions (each counted with that group as a filter)."""
    base = service.search(replace(req, page=1, size=1), lenient=True, partial=False)
    totals = {f.value: f.count for f in base.facets["year"] if f.count}
    years = sorted(totals)
    line = Timeline(group_by, years, totals)
    groups = [f.value for f in base.facets[group_by] if f.count][:MAX_SERIES]
    param = "institutes" if group_by == "institute" else "regions"
    for g in groups:
        sub = service.search(
            replace(req, page=1, size=1, **{param: (g,)}), lenient=True, partial=False
        )
        line.series[g] = {f.value: f.count for f in sub.facets["year"] if f.count}
    if group_by == "institute":  # single-valued: the rest adds up exactly
        other = {y: totals[y] - sum(s.get(y, 0) for s in line.series.values()) for y in years}
        if any(other.values()):
            line.series[OTHER] = {y: n for y, n in other.items() if n}
    return line


def region_comparison(service: SearchService, req: SearchRequest) -> list[tuple[str, int]]:
    """All 17 시·도 with their document counts (the region facet, zeros included)."""
    result = service.search(replace(req, page=1, size=1), lenient=True, partial=False)
    counts = {f.value: f.count for f in result.facets["region"]}
    return [(r, counts.get(r, 0)) for r in REGIONS]


_NUMBER_RE = re.compile(r"[\d.]+")  # compiled once: 30k terms per long document page
RELATED_PASSAGES = 40  # a long report's characteristic terms come from its opening passages


def related(service: SearchService, doc: Document, k: int = 5) -> list[tuple[Document, float]]:
    """More like this: the document's most characteristic terms as an any-word query, over
    every institute, the document itself and its copies excluded."""
    counts: Counter[str] = Counter()
    for p in doc.passages[:RELATED_PASSAGES]:
        counts.update(
            t.term
            for t in p.tokens
            if not t.joined and len(t.term) >= 2 and not _NUMBER_RE.fullmatch(t.term)
        )
    for t in doc.title_tokens:
        if not t.joined and len(t.term) >= 2:
            counts[t.term] += 5
    terms = [t for t, _ in counts.most_common(12)]
    if not terms:
        return []
    query = Bool(must=(AllOf(tuple(TermAlt((t,)) for t in terms), min_match=3),))
    exclude = {doc.id, *(c.id for c in service.store.copies(doc.id))}
    result = service.backend.search(
        query, Filters(), "relevance", 0, k + len(exclude), facets=False
    )
    docs = service.store.get_documents([h.id for h in result.hits])
    out = [(docs[h.id], h.score) for h in result.hits if h.id not in exclude and h.id in docs]
    return out[:k]


_HANGUL_WORDS_RE = re.compile(r"^[\uac00-\ud7a3 ]+$")


SPACING_WORDS = 3  # a spacing variant is offered for queries of up to this many words


def spacing_suggestion(service: SearchService, req: SearchRequest, total: int) -> str | None:
    """A differently spaced query (스마트 시티 <-> 스마트시티) that finds more documents."""
    q = req.q.strip()
    if not q or not _HANGUL_WORDS_RE.match(q):
        return None
    words = q.split()
    if len(words) > SPACING_WORDS:
        return None  # a pasted title or sentence, not a compound spelt with spaces
    if len(words) > 1:
        variant = "".join(words)
    else:
        parts = [t.term for t in service.analyzer.analyze(q) if not t.joined]
        if len(parts) < 2 or "".join(parts) != q:
            return None
        variant = " ".join(parts)
    other = service.search(
        replace(req, q=variant, page=1, size=1), lenient=True, partial=False
    ).total
    return variant if other > total else None


FEW_RESULTS = 3  # a query with fewer hits than this may get a "did you mean"
_PLAIN_RE = re.compile(r"^[0-9A-Za-z\uac00-\ud7a3\u3131-\u318e ]+$")


def did_you_mean(
    service: SearchService, suggester: Suggester, req: SearchRequest, total: int
) -> str | None:
    """A correction of a plain query that finds little (a typo, the wrong keyboard
    layout, 초성): the first candidate that finds clearly more documents."""
    q = req.q.strip()
    if total >= FEW_RESULTS or not q or not _PLAIN_RE.match(q):
        return None
    # A word the collection holds (every term of it in some document) is no typo: an exact
    # title such as 일상감사 의견서 송부 finds its one document and gets no 송부 -> 동부.
    words = {w: [t.term for t in service.analyzer.analyze(w) if not t.joined] for w in q.split()}
    terms = sorted({t for ts in words.values() for t in ts})
    df = service.backend.doc_freqs(terms, titles=True)  # a catalogue record has only a title
    present = {w for w, terms in words.items() if terms and all(df.get(t, 0) for t in terms)}
    if df and len(present) == len(words):
        return None
    for candidate in suggester.corrections(q, keep=present):
        other = service.search(
            replace(req, q=candidate.text, page=1, size=1), lenient=True, partial=False
        )
        if other.total >= 2 * total + 2:
            return candidate.text
    return None
