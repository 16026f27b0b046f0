"""Plain data types passed between ingest, the store, the search backends and the web app."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from html import unescape

from analyzers.tokens import Token

DOC_TYPES: tuple[str, ...] = (
    "보도자료",
    "연구보고서",
    "정책브리프",
    "세미나자료",
    "정책연구",
    "규제영향분석서",
    "공고·제안요청서",
    "결재문서",
    "서식·별표",
    "기타",
)
UNKNOWN_PUBLISHER = "미상"
_TAG_RE = re.compile(r"<[^>]+>")
SORTS: tuple[str, ...] = ("relevance", "newest", "oldest")
FACETS: tuple[str, ...] = ("institute", "region", "doc_type", "year", "publisher", "author")
# Facets with many values show only their most frequent ones.
FACET_SIZES: dict[str, int] = {"author": 30}
# What names and places a search hit: the first fields of its JSON (Hit.to_json), the ones
# the API schema requires with the snippet, and the first columns of the CSV export.
HIT_HEAD: tuple[str, ...] = ("id", "title", "institute", "regions", "doc_type", "date")


def html_to_text(html: str) -> str:
    """Plain text of a snippet's HTML (marks dropped, entities decoded): for output
    formats that escape on their own (CSV, Atom), so text is escaped exactly once."""
    return unescape(_TAG_RE.sub("", html))


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
    publisher: str = UNKNOWN_PUBLISHER  # issuing body (발행기관); registry institutes: theirs
    ocr_confidence: float | None = None  # mean Tesseract confidence of its OCR pages
    ocr_pages: list[int] = field(default_factory=list)  # pages whose text is OCR text

    def is_ocr_page(self, page: int | None) -> bool:
        """True for a passage on a page read by OCR."""
        return page is not None and page in self.ocr_pages

    author_tokens: list[Token] = field(default_factory=list)  # the analyzed author names

    @property
    def has_original(self) -> bool:
        """False for a catalogue record whose file (원문) has not arrived."""
        return self.source_path is not None

    @property
    def year(self) -> int | None:
        return int(self.date[:4]) if self.date else None

    def to_json(self) -> dict:
        """The document's metadata as the API shows it (``GET /api/documents/<id>`` adds
        copies, related documents and passages): one definition for every JSON of it."""
        return {
            "id": self.id,
            "title": self.title,
            "institute": self.institute,
            "institute_published": self.institute_published,
            "regions": self.regions,
            "doc_type": self.doc_type,
            "date": self.date,
            "url": self.url,
            "page_count": self.page_count,
            "department": self.department,
            "publisher": self.publisher,
            "ocr": {"confidence": self.ocr_confidence, "pages": self.ocr_pages}
            if self.ocr_pages
            else None,
            "authors": self.authors,
            "has_original": self.has_original,
            "contacts": self.contacts,
            "places": self.places,
        }

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
    publishers: tuple[str, ...] = ()  # issuing bodies (발행기관), "미상" included
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
        if facet == "publisher":
            return replace(self, publishers=())
        raise ValueError(facet)


@dataclass(frozen=True, slots=True)
class BackendHit:
    id: str
    score: float
    # a partial match listed after every complete one (policykb.service.PARTIAL_BELOW)
    partial: bool = False


@dataclass(frozen=True, slots=True)
class PassageMatch:
    """A passage of a document that contains query terms (engine-side passage entry)."""

    seq: int
    page: int | None
    score: float = 0.0


@dataclass(slots=True)
class DocPassages:
    """The passage-level view of one hit: its best-matching passages (best first, a few at
    most), every page holding a match with the number of matching passages there, and how
    many passages match in all."""

    best: list[PassageMatch] = field(default_factory=list)
    pages: list[tuple[int, int]] = field(default_factory=list)  # (page, passages), ascending
    matched: int = 0


@dataclass(slots=True)
class BackendResult:
    total: int
    hits: list[BackendHit]
    facets: dict[str, dict[str, int]]
    partial_total: int = 0  # partial matches listed after the ``total`` complete ones


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
    publisher: str = UNKNOWN_PUBLISHER
    pages: list[int] = field(default_factory=list)  # every page where the query matches
    matched_passages: int = 0
    authors: list[str] = field(default_factory=list)
    url: str | None = None
    has_original: bool = True
    # a partial match: it lacks the query words ``missing`` (listed after every document
    # holding all of them)
    partial: bool = False
    missing: list[str] = field(default_factory=list)

    @property
    def snippet_text(self) -> str:
        """The snippet as plain text (no marks, no HTML entities)."""
        return html_to_text(self.snippet)

    def to_json(self) -> dict:
        return {
            **{name: getattr(self, name) for name in HIT_HEAD},
            "snippet": self.snippet,
            "snippet_text": self.snippet_text,
            "page": self.page,
            "pages": self.pages,
            "matched_passages": self.matched_passages,
            "score": round(self.score, 4),
            "publisher": self.publisher,
            "authors": self.authors,
            "url": self.url,
            "has_original": self.has_original,
            "partial": self.partial,
            "missing_words": self.missing,
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
    # partial matches (documents lacking a query word) listed after the ``total``
    # complete ones; ``total`` counts only documents with every word
    partial_total: int = 0

    @property
    def pages(self) -> int:
        return max(1, -(-(self.total + self.partial_total) // self.size))

    def to_json(self) -> dict:
        return {
            "total": self.total,
            "partial_total": self.partial_total,
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
