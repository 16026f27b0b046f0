"""Search as a use case: a validated request object in, a :class:`SearchResult` out.

Views (HTML and JSON) and the CLI all go through :class:`SearchService`; it never sees a
web request, only a mapping of parameter names to lists of values.
"""

from __future__ import annotations

import datetime
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from analyzers import Analyzer
from corpus import institutes as registry
from policykb.answer_sentence import question_bigrams, sentence_coverage
from policykb.backends import SearchBackend
from policykb.errors import InputError
from policykb.highlight import snippet_from
from policykb.models import (
    DOC_TYPES,
    FACETS,
    SORTS,
    BackendHit,
    FacetValue,
    Filters,
    Hit,
    SearchResult,
)
from policykb.query import (
    MATCH_MODES,
    AllOf,
    AnyOf,
    Bool,
    DateRef,
    QuerySyntaxError,
    TermAlt,
    analyze_query,
    limit_terms,
    parse,
    parse_lenient,
    query_dates,
    resolve_doc_type,
    resolve_institutes,
    resolve_publisher,
    resolve_region,
    words_without_filters,
)
from policykb.settings import Settings
from policykb.store import DocumentStore

MAX_PAGE = 1000
RERANK_WINDOW = 100
# Partial matches (match=auto): a short query (every word required) that fewer than
# PARTIAL_BELOW documents match completely continues, after all of them, with the best
# documents holding some but not all of its words (marked, with the words they lack), to
# PARTIAL_DEPTH positions in all; the total stays the complete matches'. 0 switches it off.
PARTIAL_BELOW = 100
PARTIAL_DEPTH = 100
# Recency prior, off: at 0.15 (at most +15% for a document from this year, fading over ten
# years) it gained on no dev set (kdi 0.000, fsc -0.008, the others have no dates). Kept
# as a switch for `policykb eval --ablate`; at 0 the re-rank window is skipped.
RECENCY_WEIGHT = 0.0
RECENCY_YEARS = 10


def recency_factor(date: str | None, today: datetime.date) -> float:
    """Score multiplier in [1, 1 + RECENCY_WEIGHT]: newer documents gain a little."""
    if not date:
        return 1.0
    try:
        age = (today - datetime.date.fromisoformat(date)).days / 365.25
    except ValueError:
        return 1.0
    return 1.0 + RECENCY_WEIGHT * max(0.0, 1.0 - max(0.0, age) / RECENCY_YEARS)


# Date prior: a query naming a period ("2023년 8월 기업경기실사지수", "’21년 ... 결과")
# favours documents dated in it: a monthly or yearly series differs in its title's date,
# which the text often lacks. A month names the issue published that month or the two
# after it (or the month before); a year the documents of that year, and at
# DATE_NEXT_YEAR of the weight those of the next (a year's results appear the year
# after); a day "(8.10)" the documents of that day or the DATE_DAYS_AFTER after it, in
# any year. A question names no period (policykb.query.query_dates). Tuned on the dev
# halves (bench/README.md: weight 0.05-1.0, next year 0 / 0.5 / 1, previous year 0.5).
# 0 switches it off.
DATE_WEIGHT = 0.5
DATE_NEXT_YEAR = 1.0
DATE_DAYS_AFTER = 3


def date_factor(refs: Sequence[DateRef], date: str | None) -> float:
    """Score multiplier in [1, 1 + DATE_WEIGHT] for a document dated ``date`` under a
    query naming the periods ``refs``."""
    if not refs or not date or len(date) < 4 or not date[:4].isdigit():
        return 1.0
    year = int(date[:4])
    month = int(date[5:7]) if len(date) >= 7 and date[5:7].isdigit() else None
    best = 0.0
    for ref in refs:
        if ref.day is not None:
            if _days_after(ref, date) is not None:
                best = 1.0
        elif ref.quarter is not None:
            if month is not None and _in_quarter_window(ref, year * 12 + month):
                best = 1.0
        elif ref.year == 0 and ref.month is not None:
            # a month of any year: that month, the month before or the two after
            if month is not None and (month - ref.month + 1) % 12 <= 3:
                best = 1.0
        elif ref.month is not None:
            if month is not None and -1 <= (year * 12 + month) - (ref.year * 12 + ref.month) <= 2:
                best = 1.0
        elif year == ref.year:
            best = 1.0
        elif year == ref.year + 1:
            best = max(best, DATE_NEXT_YEAR)
    return 1.0 + DATE_WEIGHT * best


# A quarter ("2022년 3분기 … 영업실적") names the issues published from the month before it
# (an outlook) to QUARTER_MONTHS_AFTER months after its end (the quarter's results).
QUARTER_MONTHS_AFTER = 3


def _in_quarter_window(ref: DateRef, month_no: int) -> bool:
    """Whether the month ``month_no`` (year * 12 + month) falls in the window of the
    quarter ``ref`` names."""
    start = ref.year * 12 + 3 * (ref.quarter or 1) - 2
    return start - 1 <= month_no <= start + 2 + QUARTER_MONTHS_AFTER


def _days_after(ref: DateRef, date: str) -> int | None:
    """Days from ``ref``'s month and day (in ``date``'s year, or the year before) to
    ``date``, when within ``DATE_DAYS_AFTER``; else None."""
    try:
        day = datetime.date.fromisoformat(date[:10])
    except ValueError:
        return None
    for year in (day.year, day.year - 1):
        try:
            gap = (day - datetime.date(year, ref.month or 1, ref.day or 1)).days
        except ValueError:
            continue
        if 0 <= gap <= DATE_DAYS_AFTER:
            return gap
    return None


# Answer-sentence evidence for questions (policykb.answer_sentence): in the re-rank window,
# each of a question's first ANSWER_DEPTH hits gains up to ANSWER_WEIGHT of its score by
# the share of the question's wording (character bigrams) one sentence of its best passage
# holds, so among paragraphs about one subject the one stating the answer comes first.
# Tuned on the dev halves (bench/README.md: weight 0.3-1.0, depth 5-30). 0 switches it off.
ANSWER_WEIGHT = 0.7
ANSWER_DEPTH = 20
# Character-bigram retriever fused into the re-rank window (CombSUM of max-normalised
# scores): a pasted title (FUSION_MIN_WORDS+ words, not a question) also runs as a plain
# OR of its character bigrams (FUSION_DEPTH hits), and each hit of the window gains
# FUSION_WEIGHT times its bigram score / the best bigram score, in units of the window's
# best score. Documents outside the window are not added (matching is unchanged). Tuned
# on the dev halves (bench/README.md, seventh session: weight 0.2-0.5; questions lost).
FUSION_WEIGHT = 0.3
FUSION_MIN_WORDS = 4
FUSION_DEPTH = 100
# A query of more distinct bigrams is a pasted paragraph, not a title (the longest title of
# the evaluation sets has 59): an OR of hundreds of bigrams over the whole collection would
# cost more than the rest of the search, for no measured gain.
FUSION_MAX_BIGRAMS = 64


class RequestError(InputError, ValueError):
    """Bad request parameters; ``message`` is Korean text for the user, ``param`` names the
    offending parameter."""

    def __init__(self, message: str, param: str | None = None, code: str = "bad_request"):
        super().__init__(message, code=code, param=param)


# The latest queries this process answered (a lexicon edit's preview lists those whose
# results it may change).
_RECENT_QUERIES: deque[str] = deque(maxlen=200)


def recent_queries() -> list[str]:
    """The distinct queries this process answered lately, newest first."""
    return list(dict.fromkeys(reversed(_RECENT_QUERIES)))


@dataclass(frozen=True)
class SearchRequest:
    q: str = ""
    institutes: tuple[str, ...] = ()  # as given (canonical names)
    regions: tuple[str, ...] = ()
    doc_types: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    sort: str = "relevance"
    page: int = 1
    size: int = 10
    # auto: every word required, some words when none has all (with a notice);
    # all: every word, strictly; any: at least one, ranked by how many match.
    match: str = "auto"
    notices: tuple[str, ...] = field(default=())
    publishers: tuple[str, ...] = ()  # issuing bodies (발행기관) as shown, "미상" included
    authors: tuple[str, ...] = ()

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def to_params(self, **changes) -> list[tuple[str, str]]:
        """URL parameters for this request with ``changes`` applied (for links)."""
        values = {
            "q": self.q,
            "institute": list(self.institutes),
            "region": list(self.regions),
            "doc_type": list(self.doc_types),
            "year_from": self.year_from,
            "year_to": self.year_to,
            "sort": self.sort,
            "page": self.page,
            "size": self.size,
            "match": self.match,
            "publisher": list(self.publishers),
            "author": list(self.authors),
        }
        values.update(changes)
        out: list[tuple[str, str]] = []
        for k, v in values.items():
            if v is None or v == "" or v == []:
                continue
            if k == "sort" and v == "relevance":
                continue
            if k == "page" and v == 1:
                continue
            if (k, v) in (("size", 10), ("match", "auto")):
                continue
            for item in v if isinstance(v, list) else [v]:
                out.append((k, str(item)))
        return out


def _one(args: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = args.get(name) or []
    values = [v for v in values if v is not None and str(v).strip() != ""]
    return str(values[-1]).strip() if values else None


def int_param(
    args: Mapping[str, Sequence[str]],
    name: str,
    default: int | None,
    lo: int,
    hi: int,
    label: str | None = None,
    strict: bool = False,
) -> int | None:
    """The integer parameter ``name`` (name -> list of strings), ``default`` when absent,
    a :class:`RequestError` naming ``label`` unless it is an integer in ``lo``..``hi``.
    With ``strict`` a parameter given empty is an error too (an HTML form's unused box is
    "not given"; a JSON client that sends ``limit=`` made a mistake)."""
    label = label or name
    if strict and any(v is None or str(v).strip() == "" for v in args.get(name) or []):
        raise RequestError(f"{label} 값이 비어 있습니다.", name, "empty_value")
    raw = _one(args, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RequestError(f"{label}은(는) 정수여야 합니다: {raw!r}", name) from None
    if not lo <= value <= hi:
        raise RequestError(f"{label}은(는) {lo}에서 {hi} 사이여야 합니다: {value}", name)
    return value


# Typed or enumerated parameters (the JSON API): an empty value cannot be valid.
STRICT_PARAMS = ("sort", "match", "year_from", "year_to", "page", "size", "doc_type")


def parse_request(
    args: Mapping[str, Sequence[str]], settings: Settings, strict: bool = False
) -> SearchRequest:
    """Validate raw parameters (name -> list of strings) into a :class:`SearchRequest`.
    HTML forms send empty fields (an unused year box), which mean "not given"; with
    ``strict`` (the JSON API) an empty value of a typed parameter is an error instead."""
    if strict:
        for name in STRICT_PARAMS:
            if any(v is None or str(v).strip() == "" for v in args.get(name) or []):
                raise RequestError(f"{name} 값이 비어 있습니다.", name, "empty_value")
    q = (_one(args, "q") or "").strip()
    if len(q) > settings.max_query_length:
        raise RequestError(
            f"검색어가 너무 깁니다 ({len(q)}자). {settings.max_query_length}자 이하로 줄여 주세요.",
            "q",
            "query_too_long",
        )
    institutes: list[str] = []
    for raw in args.get("institute") or []:
        if raw and raw.strip():
            names = registry.canonical_names(raw)
            if names is None:
                raise RequestError(f"알 수 없는 기관입니다: {raw}", "institute")
            inst = registry.lookup(raw)
            institutes.append(inst.name if inst else registry.UNKNOWN)
    try:
        regions = [resolve_region(r) for r in (args.get("region") or []) if r and r.strip()]
        doc_types = [
            resolve_doc_type(d.strip()) for d in (args.get("doc_type") or []) if d and d.strip()
        ]
    except QuerySyntaxError as exc:
        param = "region" if exc.code == "unknown_region" else "doc_type"
        raise RequestError(exc.message, param, exc.code) from None
    year_from = int_param(args, "year_from", None, 1900, 2100, "시작 연도(year_from)")
    year_to = int_param(args, "year_to", None, 1900, 2100, "끝 연도(year_to)")
    if year_from is not None and year_to is not None and year_from > year_to:
        raise RequestError("시작 연도가 끝 연도보다 늦습니다.", "year_from")
    sort = _one(args, "sort") or "relevance"
    if sort not in SORTS:
        raise RequestError(f"정렬은 {', '.join(SORTS)} 중 하나여야 합니다: {sort}", "sort")
    page = int_param(args, "page", 1, 1, MAX_PAGE, "페이지(page)")
    size = int_param(args, "size", 10, 1, settings.max_page_size, "페이지 크기(size)")
    match = _one(args, "match") or "auto"
    if match not in MATCH_MODES:
        raise RequestError(f"match는 auto, all, any 중 하나여야 합니다: {match}", "match")
    publishers = [resolve_publisher(p) for p in (args.get("publisher") or []) if p and p.strip()]
    for p in publishers:
        if len(p) > MAX_PUBLISHER_LENGTH:
            raise RequestError(
                f"발행기관 이름이 너무 깁니다 ({len(p)}자, 최대 {MAX_PUBLISHER_LENGTH}자).",
                "publisher",
            )
    authors = [raw.strip() for raw in args.get("author") or [] if raw and raw.strip()]
    return SearchRequest(
        q,
        tuple(dict.fromkeys(institutes)),
        tuple(dict.fromkeys(regions)),
        tuple(dict.fromkeys(doc_types)),
        year_from,
        year_to,
        sort,
        page,
        size,
        match,
        publishers=tuple(dict.fromkeys(publishers)),
        authors=tuple(dict.fromkeys(authors)),
    )


MAX_PUBLISHER_LENGTH = 100


class SearchService:
    """Search as a use case over one store, backend and analyzer: parse and analyze the
    query, rank through the backend, fall back under ``match=auto``, then build snippets
    from the stored passages and facet counts. Every caller (pages, API, CLI,
    evaluation) goes through it, so they rank alike."""

    def __init__(
        self, settings: Settings, store: DocumentStore, backend: SearchBackend, analyzer: Analyzer
    ) -> None:
        self.settings = settings
        self.store = store
        self.backend = backend
        self.analyzer = analyzer

    def search(
        self,
        req: SearchRequest,
        lenient: bool = False,
        facets: bool = True,
        partial: bool = True,
    ) -> SearchResult:
        """Run ``req``. With ``lenient`` a malformed query degrades to plain words with a
        notice; otherwise it raises :class:`QuerySyntaxError`. With ``partial`` (the
        pages and the API) a short query that few documents match completely lists the
        best partial matches after them, each marked with the words it lacks; exports
        and feeds list complete matches only."""
        started = time.perf_counter()
        if req.q:
            _RECENT_QUERIES.append(req.q)
        tree, aq, notices = self._analyze(req, lenient)
        filters = self._filters(req, aq.filters)
        if req.q and not aq.root.must and not aq.root.must_not and not _has_field_filter(aq):
            notices.append("검색어에서 찾을 수 있는 낱말이 없습니다. 다른 낱말로 검색해 보세요.")
            return SearchResult(
                0,
                req.page,
                req.size,
                [],
                self._facet_values({}, filters),
                (time.perf_counter() - started) * 1000,
                notices,
            )
        located_by: dict = {}  # what the answer evidence located (terms -> passages)
        result, aq = self._run(tree, aq, filters, req, facets, notices, located_by, partial)
        page_hits = result.hits[: req.size]
        missing = self._missing_words(aq.root, [h.id for h in page_hits if h.partial])
        ids = [h.id for h in page_hits]
        docs = self.store.get_hit_documents(ids)
        # Passage level: the engine names each hit's best passages and the pages with
        # matches; the snippet reads only those passages (or the first one).
        found = [i for i in ids if i in docs]
        earlier = located_by.get(aq.highlight_terms)
        if earlier is not None and earlier[1].keys() >= set(found):
            located, read = earlier  # a question's first hits: already located
        else:
            located, read = self._snippet_passages(found, aq.highlight_terms)
        hits: list[Hit] = []
        for bh in page_hits:
            doc = docs.get(bh.id)
            if doc is None:
                continue
            html, page = snippet_from(*read[bh.id]) if bh.id in read else ("", None)
            where = located.get(bh.id)
            hits.append(
                Hit(
                    doc.id,
                    doc.title,
                    doc.institute,
                    doc.regions,
                    doc.doc_type,
                    doc.date,
                    html,
                    page,
                    bh.score,
                    doc.publisher,
                    [p for p, _n in where.pages] if where else [],
                    where.matched if where else 0,
                    authors=doc.authors,
                    url=doc.url,
                    has_original=doc.has_original,
                    partial=bh.partial,
                    missing=missing.get(bh.id, []),
                )
            )
        return SearchResult(
            result.total,
            req.page,
            req.size,
            hits,
            self._facet_values(result.facets, filters),
            (time.perf_counter() - started) * 1000,
            notices,
            result.partial_total,
        )

    def highlight_terms(self, q: str) -> frozenset[str]:
        """The analyzed terms of ``q`` to mark in a document page (none when the query
        cannot be read even leniently)."""
        if not q:
            return frozenset()
        try:
            tree, _ = parse_lenient(q)
            return analyze_query(tree, self.analyzer).highlight_terms
        except QuerySyntaxError:
            return frozenset()

    def _analyze(self, req: SearchRequest, lenient: bool):
        """(parse tree, analyzed query, notices) for ``req.q``; a long query keeps its most
        informative terms (with a notice) instead of being refused."""
        notices = list(req.notices)
        if lenient:
            tree, extra = parse_lenient(req.q)
            notices += extra
        else:
            tree = parse(req.q)
        aq = analyze_query(tree, self.analyzer, req.match)
        aq.words = words_without_filters(req.q)  # read once per search
        aq.dates = query_dates(aq.words) if DATE_WEIGHT else ()
        aq, pruned = limit_terms(aq, self.backend.doc_freqs)
        if pruned:
            notices.append(
                "검색어가 길어 정보량이 큰 낱말 위주로 찾았습니다. 결과는 모든 낱말을 기준으로 "
                "강조해 보여 드립니다."
            )
        return tree, aq, notices

    def _run(
        self,
        tree,
        aq,
        filters: Filters,
        req: SearchRequest,
        facets: bool,
        notices,
        located_by: dict | None = None,
        partial: bool = True,
    ):
        """The ranked backend result; under ``match=auto`` a query no document matches
        falls back to "any word" with a notice, and one that fewer than
        :data:`PARTIAL_BELOW` documents match completely lists the best partial matches
        after them (``partial``: off for exports and counts). Returns (result, query
        used)."""
        result = self._ranked(aq, filters, req, facets, located_by)
        if req.match != "auto":
            return result, aq
        if result.total == 0 and _relaxable(aq.root):
            # No document has enough of the words: show those with some of them, and say so.
            aq = self._relaxed(tree, aq)
            result = self._ranked(aq, filters, req, facets, located_by)
            if result.total:
                notices.append(
                    "모든 낱말을 포함한 문서가 없어, 일부 낱말만 포함한 문서를 보여 드립니다."
                )
        elif partial and 0 < result.total < PARTIAL_BELOW and _partial_able(aq.root):
            self._append_partial(tree, aq, filters, req, result)
        return result, aq

    def _relaxed(self, tree, aq):
        """``aq`` under ``match=any``: every word optional, at least one required."""
        relaxed, _ = limit_terms(analyze_query(tree, self.analyzer, "any"), self.backend.doc_freqs)
        relaxed.dates, relaxed.words = aq.dates, aq.words
        return relaxed

    def _append_partial(self, tree, aq, filters: Filters, req: SearchRequest, result) -> None:
        """Continue ``result`` (complete matches, fewer than :data:`PARTIAL_BELOW`) with the
        documents holding some but not all of the words, ranked among themselves by the
        same scoring, to :data:`PARTIAL_DEPTH` positions in all; ``result.total`` stays
        the number of complete matches, ``result.partial_total`` counts those listed."""
        complete = result.total
        relaxed = self._relaxed(tree, aq)
        # partial = some of the words, and not all of them (nor an excluded word)
        query = Bool(relaxed.root.must, (*relaxed.root.must_not, Bool(aq.root.must)))
        relaxed.root = query
        depth = max(PARTIAL_DEPTH, complete) - complete
        start = max(req.offset, complete) - complete
        end = min(req.offset + req.size - complete, depth)
        sub = replace(req, page=1, size=max(1, end))
        part = self._ranked(relaxed, filters, sub, False, None)
        result.partial_total = min(part.total, depth)
        if end > start:
            result.hits = [
                *result.hits,
                *(BackendHit(h.id, h.score, True) for h in part.hits[start:end]),
            ]

    def _missing_words(self, root: Bool, ids: list[str]) -> dict[str, list[str]]:
        """For each partial match in ``ids``: the query words it lacks (a word whose
        analyzed parts are not all in its title, authors or passages), in query order."""
        typed: dict[TermAlt, str] = {}
        for c in root.must:
            if _strict_run(c):
                for a, w in zip(c.alts, c.spelled or [a.terms[0] for a in c.alts], strict=True):
                    typed.setdefault(a, w)
        if not ids or not typed:
            return {}
        titles = self.store.title_terms(ids)
        lacking: dict[str, list[str]] = {i: [] for i in ids}
        for alt, word in typed.items():
            found = self.backend.holders(ids, alt.terms)
            for i in ids:
                if i not in found and not titles.get(i, set()) & set(alt.terms):
                    lacking[i].append(word)
        return {i: list(dict.fromkeys(words)) for i, words in lacking.items()}

    def rank(self, req: SearchRequest) -> list[BackendHit]:
        """The ranked hits of ``req`` (lenient parsing, no snippets or facets): exactly
        the ranking :meth:`search` shows, for evaluation."""
        tree, aq, notices = self._analyze(req, lenient=True)
        if not aq.root.must:
            return []
        result, _ = self._run(tree, aq, self._filters(req, aq.filters), req, False, notices)
        return result.hits

    def _ranked(
        self, aq, filters: Filters, req: SearchRequest, facets: bool, located_by: dict | None
    ):
        """The backend's page of hits; for relevance ranking the first
        :data:`RERANK_WINDOW` hits are re-ordered with the recency prior when it is on and
        the date prior when the query names a period (both backends, same formula), so
        recent documents are not buried and "2023년 8월 …" finds the August 2023 issue."""
        refs = aq.dates  # empty when DATE_WEIGHT is 0 (_analyze)
        asked = _asked(aq.root)
        question = bool(ANSWER_WEIGHT) and asked
        words = aq.words  # (_analyze)
        fused = _fusion_bigrams(aq.root) if _fusable(words, asked) else ()
        if (
            req.sort != "relevance"
            or not aq.root.must
            or req.offset >= RERANK_WINDOW
            or not (RECENCY_WEIGHT or refs or question or fused)
        ):
            return self.backend.search(aq.root, filters, req.sort, req.offset, req.size, facets)
        window = max(RERANK_WINDOW, req.offset + req.size)
        if not (RECENCY_WEIGHT or refs or fused):
            # only the answer evidence: it raises scores of the first ANSWER_DEPTH hits,
            # which stay the first ANSWER_DEPTH, so hits below them keep their order
            window = max(ANSWER_DEPTH, req.offset + req.size)
        result = self.backend.search(aq.root, filters, req.sort, 0, window, facets)
        today = datetime.date.today()
        dates = self.store.get_dates([h.id for h in result.hits])
        factor = {
            d: recency_factor(d, today) * date_factor(refs, d) for d in {*dates.values(), None}
        }
        hits = self._fuse_bigrams(fused, filters, result.hits) if fused else result.hits
        rescored = [BackendHit(h.id, h.score * factor[dates.get(h.id)]) for h in hits]
        if question:
            rescored = self._answer_first(words, aq, rescored, located_by)
        rescored.sort(key=lambda h: (-h.score, h.id))
        result.hits = rescored[req.offset : req.offset + req.size]
        return result

    def _fuse_bigrams(
        self, grams: tuple[str, ...], filters: Filters, hits: list[BackendHit]
    ) -> list[BackendHit]:
        """``hits`` scored up by the bigram retriever's normalised score (see
        :data:`FUSION_WEIGHT`); both engines, same formula."""
        if not hits:
            return hits
        query = Bool((AllOf((), bigrams=grams),))
        other = self.backend.search(query, filters, "relevance", 0, FUSION_DEPTH, False).hits
        top = max(h.score for h in hits) or 1.0
        top_b = max((h.score for h in other), default=0.0) or 1.0
        bigram = {h.id: h.score / top_b for h in other}
        return [
            BackendHit(h.id, h.score + top * FUSION_WEIGHT * bigram.get(h.id, 0.0)) for h in hits
        ]

    def _answer_first(
        self, q: str, aq, hits: list[BackendHit], located_by: dict | None = None
    ) -> list[BackendHit]:
        """``hits`` with the first :data:`ANSWER_DEPTH` scored up by how much of the
        question ``q``'s wording one sentence of their snippet's passage holds."""
        grams = question_bigrams(q)
        top = hits[:ANSWER_DEPTH]
        if not grams or not top or not aq.highlight_terms:
            return hits
        located, read = self._snippet_passages([h.id for h in top], aq.highlight_terms)
        if located_by is not None:  # the page's snippets reuse them (SearchService.search)
            located_by[aq.highlight_terms] = (located, read)
        out = []
        for h in top:
            text = read[h.id][0].text if h.id in read else ""
            out.append(
                BackendHit(h.id, h.score * (1 + ANSWER_WEIGHT * sentence_coverage(grams, text)))
            )
        return out + hits[len(top) :]

    def _snippet_passages(self, ids: list[str], terms: frozenset[str]):
        """The engine's best passages and pages of the documents ``ids`` (doc id ->
        DocPassages) and, read from the store, the passage each one's snippet is cut from
        with its matched offsets (doc id -> (Passage, spans)); the first passage when the
        engine names none."""
        located = self.backend.passages(ids, terms) if terms else {}
        wanted = {i: [m.seq for m in located[i].best] if i in located else [0] for i in ids}
        return located, self.store.get_snippet_spans(wanted, terms)

    def _filters(self, req: SearchRequest, qf) -> Filters:
        institutes: list[str] = []
        for name in req.institutes:
            institutes.extend(resolve_institutes(name))
        institutes.extend(qf.institutes)
        year_from = max(filter(None, (req.year_from, qf.year_from)), default=None)
        year_to = min(filter(None, (req.year_to, qf.year_to)), default=None)
        return Filters(
            tuple(dict.fromkeys(institutes)),
            tuple(dict.fromkeys([*req.regions, *qf.regions])),
            tuple(dict.fromkeys([*req.doc_types, *qf.doc_types])),
            year_from,
            year_to,
            tuple(dict.fromkeys([*req.publishers, *qf.publishers])),
            tuple(req.authors),
        )

    def _facet_values(
        self, counts: dict[str, dict[str, int]], filters: Filters
    ) -> dict[str, list[FacetValue]]:
        selected = {
            "institute": set(filters.institutes),
            "region": set(filters.regions),
            "doc_type": set(filters.doc_types),
            "year": set(),
            "publisher": set(filters.publishers),
            "author": set(filters.authors),
        }
        out: dict[str, list[FacetValue]] = {}
        for facet in FACETS:
            values = dict(counts.get(facet, {}))
            for s in selected[facet]:
                values.setdefault(s, 0)
            items = [FacetValue(v, c, v in selected[facet]) for v, c in values.items()]
            if facet == "year":
                items.sort(key=lambda f: f.value, reverse=True)
            elif facet == "doc_type":
                order = {d: i for i, d in enumerate(DOC_TYPES)}
                items.sort(key=lambda f: (order.get(f.value, 99), f.value))
            else:
                items.sort(key=lambda f: (-f.count, f.value))
            out[facet] = items
        return out


def _asked(clause) -> bool:
    """Whether a positive run of the query's words is a question someone asks (the
    analysis decided it per run: :func:`policykb.query.asks`), so a field filter after
    the question does not hide it."""
    if isinstance(clause, AllOf):
        return clause.question
    if isinstance(clause, Bool):
        return any(_asked(c) for c in clause.must)
    return isinstance(clause, AnyOf) and any(_asked(c) for c in clause.clauses)


def _fusable(q: str, asked: bool) -> bool:
    """Whether ``q`` gets the fused bigram retriever: a title-like query of
    :data:`FUSION_MIN_WORDS` or more words, not a question (``asked``: :func:`_asked`)."""
    return bool(FUSION_WEIGHT) and len(q.split()) >= FUSION_MIN_WORDS and not asked


def _fusion_bigrams(root) -> tuple[str, ...]:
    """The character bigrams of a query's positive runs (for the fused bigram retriever)."""
    out: list[str] = []
    for c in getattr(root, "must", ()):
        if isinstance(c, AllOf):
            out.extend(c.bigrams)
    grams = tuple(dict.fromkeys(out))
    return grams if len(grams) <= FUSION_MAX_BIGRAMS else ()


def _relaxable(root) -> bool:
    return any(isinstance(c, AllOf) and len(c.alts) > 1 for c in root.must)


def _strict_run(clause) -> bool:
    """Whether ``clause`` is a run of two or more words that requires all of them (what
    ``match=any`` relaxes): not one word Kiwi splits into parts (국토교통부), nor words
    that together spell one compound (스마트 시티 is 스마트시티, which has no partial
    matches either), nor a long run, whose minimum is a soft bonus."""
    return (
        isinstance(clause, AllOf)
        and len(clause.words) > 1
        and not clause.compounds
        and not clause.soft
        and clause.required > 1
    )


def _partial_able(root) -> bool:
    """Whether relaxing ``root`` to "any word" can find documents it does not match."""
    return any(_strict_run(c) for c in root.must)


def _has_field_filter(aq) -> bool:
    f = aq.filters
    return bool(
        f.institutes or f.regions or f.doc_types or f.year_from or f.year_to or f.publishers
    )
