"""Plain data types passed between ingest, the store, the search backends and the web app."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

DOC_TYPES: tuple[str, ...] = ("보도자료", "연구보고서", "정책브리프", "세미나자료", "기타")
SORTS: tuple[str, ...] = ("relevance", "newest", "oldest")
FACETS: tuple[str, ...] = ("institute", "region", "doc_type", "year", "author")
# Facets with many values show only their most frequent ones.
FACET_SIZES: dict[str, int] = {"author": 30}


@dataclass(frozen=True, slots=True)
class Token:
    """An index term with character offsets into its passage's text."""

    term: str
    start: int
    end: int
    position: int
    joined: bool = False

    def __reduce__(self):
        # Plain-tuple pickling: ingest workers send millions of tokens to the parent and
        # the dataclass default (__getstate__ over fields()) costs more than analysis.
        return (Token, (self.term, self.start, self.end, self.position, self.joined))


@dataclass(slots=True)
class Passage:
    seq: int
    page: int | None
    text: str
    tokens: list[Token] = field(default_factory=list)

    def __reduce__(self):
        return (Passage, (self.seq, self.page, self.text, self.tokens))


@dataclass(slots=True)
class Document:
    id: str
    title: str
    institute: str  # canonical institute name
    regions: list[str]  # canonical short region names
    doc_type: str
    date: str | None  # ISO YYYY-MM-DD
    url: str | None = None
    source_path: str | None = None
    institute_published: str | None = None  # the name printed on the document
    page_count: int | None = None
    passages: list[Passage] = field(default_factory=list)
    title_tokens: list[Token] = field(default_factory=list)
    department: str | None = None
    authors: list[str] = field(default_factory=list)
    contacts: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)  # regions named in the text
    content_hash: str | None = None  # of the normalized text (exact duplicates)
    simhash: int | None = None  # of the text's shingles (near duplicates)
    canonical_id: str | None = None  # set on a copy: the document it duplicates
    author_tokens: list[Token] = field(default_factory=list)  # the analyzed author names

    @property
    def has_original(self) -> bool:
        """False for a catalogue record whose file (원문) has not arrived."""
        return self.source_path is not None

    @property
    def year(self) -> int | None:
        return int(self.date[:4]) if self.date else None

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.passages)


@dataclass(frozen=True, slots=True)
class Filters:
    institutes: tuple[str, ...] = ()  # canonical names, already expanded by lineage
    regions: tuple[str, ...] = ()
    doc_types: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    authors: tuple[str, ...] = ()

    def without(self, facet: str) -> Filters:
        """These filters minus the one on ``facet`` (for counting that facet)."""
        if facet == "institute":
            return replace(self, institutes=())
        if facet == "region":
            return replace(self, regions=())
        if facet == "doc_type":
            return replace(self, doc_types=())
        if facet == "year":
            return replace(self, year_from=None, year_to=None)
        if facet == "author":
            return replace(self, authors=())
        raise ValueError(facet)


@dataclass(frozen=True, slots=True)
class BackendHit:
    id: str
    score: float


@dataclass(slots=True)
class BackendResult:
    total: int
    hits: list[BackendHit]
    facets: dict[str, dict[str, int]]


@dataclass(slots=True)
class FacetValue:
    value: str
    count: int
    selected: bool = False


@dataclass(slots=True)
class Hit:
    id: str
    title: str
    institute: str
    regions: list[str]
    doc_type: str
    date: str | None
    snippet: str  # HTML, original words wrapped in <mark>
    page: int | None
    score: float
    authors: list[str] = field(default_factory=list)
    url: str | None = None
    has_original: bool = True

    @property
    def snippet_text(self) -> str:
        """The snippet as plain text (no marks, no HTML entities)."""
        from policykb.highlight import html_to_text

        return html_to_text(self.snippet)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "institute": self.institute,
            "regions": self.regions,
            "doc_type": self.doc_type,
            "date": self.date,
            "snippet": self.snippet,
            "snippet_text": self.snippet_text,
            "page": self.page,
            "score": round(self.score, 4),
            "authors": self.authors,
            "url": self.url,
            "has_original": self.has_original,
        }


@dataclass(slots=True)
class SearchResult:
    total: int
    page: int
    size: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]]
    took_ms: float = 0.0
    notices: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    def to_json(self) -> dict:
        return {
            "total": self.total,
            "page": self.page,
            "size": self.size,
            "took_ms": round(self.took_ms, 2),
            "notices": self.notices,
            "hits": [h.to_json() for h in self.hits],
            "facets": {
                name: [{"value": f.value, "count": f.count} for f in values]
                for name, values in self.facets.items()
            },
        }
