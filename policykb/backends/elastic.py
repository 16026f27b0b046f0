"""Elasticsearch backend: the same analyzed clauses and Kiwi tokens as the embedded engine.

Analysis stays in Python. Kiwi parts are indexed as whitespace-separated terms in text
fields with the built-in ``whitespace`` analyzer (passages as array values, so the
position gap keeps phrases inside a passage); joined compounds go to ``*_joined`` fields.
Searches use ``term``/``match_phrase`` on those terms only: no user text is ever parsed by
Elasticsearch.

Index lifecycle: a read/write alias (``settings.es_index``) over versioned physical
indices ``<alias>-v<schema>-<timestamp>``. ``rebuild`` fills a new index with streaming
bulk (retries on 429, per-item errors collected), then moves the alias in one atomic
``_aliases`` call and deletes the old index. Writers (rebuild, index, delete, the first
index's creation) hold the alias's lock document (:mod:`policykb.backends.es_lock`), so a
document written during another process's rebuild waits for it and lands in the new index.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterable, Iterator

from elasticsearch import ApiError, Elasticsearch, TransportError
from elasticsearch import ConnectionError as ESConnectionError
from elasticsearch.helpers import streaming_bulk

from policykb.backends import base as ranking
from policykb.backends.base import (
    BEST_PASSAGES,
    FACET_FIELDS,
    FIELD_SENTINEL,
    FREQ_FIELDS,
    MAX_MATCH_PAGES,
    MAX_WINDOW,
    PASSAGE_POSITION_GAP,
    PASSAGE_TERM_WEIGHT,
    SCHEMA_VERSION,
    TITLE_FREQ_FIELDS,
    BackendError,
    IndexOutcome,
    ProgressFn,
    QueryRejected,
    SearchBackend,
    best_first,
    date_number,
    doc_passages_from,
    pages_agg,
    passage_bigrams,
    passage_entries,
    proximity_pairs,
    read_pages_agg,
    read_seqs_agg,
    seqs_agg,
    split_joined,
    stable_page,
    tie_first_request,
    tie_next_request,
)
from policykb.backends.es_lock import WriteLock
from policykb.models import (
    FACET_SIZES,
    FACETS,
    UNKNOWN_PUBLISHER,
    BackendHit,
    BackendResult,
    DocPassages,
    Document,
    Filters,
    PassageMatch,
)
from policykb.query import AllOf, AnyOf, Bool, Phrase, TermAlt

BULK_CHUNK = 1000  # measured best of 200/500/1000 (bench/README.md, Indexing)
MERGE_TIMEOUT = 3600  # seconds a force merge may take (about a minute per GB merged)
SUPPORTED_MAJOR = (8,)
# Every REST API this backend calls, all in the server core of Elasticsearch 8: the
# integration-test distribution the tests run has only the apm, transport-netty4 and
# x-pack-core/security modules (no reindex module, so no delete-by-query; no rest-root,
# so no GET /). Listed in the README; check_server() runs when the backend opens.
REQUIRED_APIS = (
    "POST /_analyze",
    "PUT /<index>",
    "DELETE /<index>",
    "GET /<index>",
    "GET /<index>/_mapping (schema version of an existing index)",
    "GET /_alias/<alias>",
    "POST /_aliases",
    "PUT /<index>/_settings",
    "POST /<index>/_refresh",
    "POST /<index>/_forcemerge",
    "GET /<index>/_stats",
    "GET /_cluster/health",
    "GET /_nodes/_local",
    "POST /_bulk (index, delete)",
    "POST /<alias>/_search (bool, term, match_phrase, dis_max; terms, filter, max and "
    "top_hits aggregations; docvalue_fields)",
    "POST /<alias>/_count",
    "PUT /<index>/_create/<id>, GET, PUT and DELETE /<index>/_doc/<id> (the writers' lock)",
    "HEAD /<index>",
)
# Bulk item errors that refuse the whole index, not one document: the run stops with an
# engine error instead of marking every file failed.
INDEX_LEVEL_ERRORS = {"cluster_block_exception", "index_not_found_exception"}


def mapping() -> dict:
    """The index mapping, owned by this code (never changed in place: a change means a new
    schema version and a re-index into a new physical index)."""
    text = {
        "type": "text",
        "analyzer": "whitespace",
        "norms": True,
        "position_increment_gap": PASSAGE_POSITION_GAP,
    }
    return {
        "dynamic": "strict",
        "_source": {"includes": ["id"]},
        "_meta": {"policykb_schema": SCHEMA_VERSION},
        "properties": {
            "id": {"type": "keyword"},
            "title": text,
            "title_joined": text,
            "body": text,
            "body_joined": text,
            "body_head": text,
            "body_bigram": {
                "type": "text",
                "analyzer": "whitespace",
                "index_options": "freqs",
                "position_increment_gap": PASSAGE_POSITION_GAP,
            },
            "institute": {"type": "keyword"},
            "regions": {"type": "keyword"},
            "doc_type": {"type": "keyword"},
            "publisher": {"type": "keyword"},
            "authors": text,
            "author": {"type": "keyword"},
            "year": {"type": "integer"},
            "datenum": {"type": "integer"},
        },
    }


def passage_mapping() -> dict:
    """Passage entries: document id, seq, page and the passage's terms (parts and joined
    compounds in one field, term lookups only)."""
    return {
        "dynamic": "strict",
        "_source": {"includes": ["doc_id", "seq", "page"]},
        "_meta": {"policykb_schema": SCHEMA_VERSION},
        "properties": {
            "doc_id": {"type": "keyword"},
            "seq": {"type": "integer"},
            "page": {"type": "integer"},
            "body": {"type": "text", "analyzer": "whitespace", "index_options": "freqs"},
        },
    }


def passage_sources(doc: Document) -> Iterator[tuple[str, dict]]:
    for seq, page, terms in passage_entries(doc):
        source: dict = {"doc_id": doc.id, "seq": seq, "body": " ".join(terms)}
        if page is not None:
            source["page"] = page
        yield f"{doc.id}\x1f{seq}", source


def passage_query(doc_ids: list[str], terms: list[str], ranked: bool = False) -> dict:
    """The passage entries of ``doc_ids`` holding one of ``terms``; ``ranked`` adds to
    each term's BM25 clause a constant-score one of :data:`PASSAGE_TERM_WEIGHT` (best
    passages rank by distinct terms, then BM25)."""
    should = [_term("body", t) for t in terms]
    if ranked:
        should += [
            {"constant_score": {"filter": _term("body", t), "boost": PASSAGE_TERM_WEIGHT}}
            for t in terms
        ]
    return {
        "bool": {
            "filter": [{"terms": {"doc_id": doc_ids}}],
            "should": should,
            "minimum_should_match": 1,
        }
    }


def _json(value: dict) -> str:
    """A bulk body, serialized once (the client sends strings as they are)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def index_settings(shards: int, replicas: int) -> dict:
    return {
        "number_of_shards": shards,
        "number_of_replicas": replicas,
        "max_result_window": MAX_WINDOW,
        # One shard's statistics must not differ from the embedded engine's: with a single
        # shard BM25 uses the whole collection.
    }


def to_source(doc: Document) -> dict:
    title, title_joined = split_joined(doc.title_tokens)
    body, body_joined, head = [], [], []
    room = ranking.POSITIONAL_HEAD  # the first POSITIONAL_HEAD parts, passage by passage
    for p in doc.passages:
        parts, joined = split_joined(p.tokens)
        body.append(" ".join(t.term for t in parts))
        body_joined.append(" ".join(t.term for t in joined))
        if room > 0:
            head.append(" ".join(t.term for t in parts[:room]))
            room -= len(parts)
    # The sentinel as a value of its own: after the position gap, never inside a phrase.
    return {
        "id": doc.id,
        "title": [" ".join(t.term for t in title), FIELD_SENTINEL],
        "title_joined": [" ".join(t.term for t in title_joined), FIELD_SENTINEL],
        "body": [*body, FIELD_SENTINEL],
        "body_joined": [*body_joined, FIELD_SENTINEL],
        "body_head": [*head, FIELD_SENTINEL],
        "body_bigram": [*(" ".join(b) for b in passage_bigrams(doc)), FIELD_SENTINEL],
        "institute": doc.institute,
        "regions": doc.regions,
        "doc_type": doc.doc_type,
        "publisher": doc.publisher or UNKNOWN_PUBLISHER,
        "authors": [" ".join(t.term for t in doc.author_tokens if not t.joined), FIELD_SENTINEL],
        "author": doc.authors,
        "year": doc.year,
        "datenum": date_number(doc.date),
    }


# ----------------------------------------------------------------------- query building
def _term(field: str, term: str, boost: float = 1.0) -> dict:
    body: dict = {"value": term}
    if boost != 1.0:
        body["boost"] = boost
    return {"term": {field: body}}


def _alt(alt: TermAlt) -> dict:
    per_term = [
        {"bool": {"should": [_term(f, t, b) for f, b in ranking.term_fields()]}} for t in alt.terms
    ]
    if len(per_term) == 1:
        return per_term[0]
    if not ranking.DIS_MAX:
        return {"bool": {"should": per_term}}
    return {"dis_max": {"queries": per_term}}


def _word(alts: tuple[TermAlt, ...]) -> dict:
    """One query word's score: the best of its alternatives (see ``WORD_ONCE``)."""
    if len(alts) == 1:
        return _alt(alts[0])
    body: dict = {"queries": [_alt(a) for a in alts]}
    if ranking.WORD_TIE:
        body["tie_breaker"] = ranking.WORD_TIE
    return {"dis_max": body}


def _matching(clause: AllOf) -> dict:
    """The terms an :class:`AllOf` needs, scored per word (``WORD_ONCE``): the alternatives
    filter, the words score."""
    alts = [_alt(a) for a in clause.alts]
    scored = [_word(w) for w in ranking.scored_words(clause)]
    if clause.required >= len(clause.alts):
        return {"bool": {"filter": alts, "must": scored}}
    some = {"bool": {"should": alts, "minimum_should_match": clause.required}}
    if not clause.soft:
        return {"bool": {"filter": [some], "should": scored}}
    any_q = {"bool": {"should": alts, "minimum_should_match": 1}}
    most = {"bool": {"filter": [some], "should": scored, "boost": ranking.COORD_BONUS}}
    return {"bool": {"filter": [any_q], "should": [*scored, most]}}


def _phrase(field: str, parts: tuple[str, ...], boost: float = 1.0) -> dict:
    body: dict = {"query": " ".join(parts), "analyzer": "whitespace"}
    if boost != 1.0:
        body["boost"] = boost
    return {"match_phrase": {field: body}}


def _positional_subs(clause: AllOf) -> list[dict]:
    """The positional clauses of an :class:`AllOf` (see ``RESCORE_WINDOW``)."""
    out = []
    if clause.phrase and ranking.PHRASE_BOOST:
        if ranking.body_phrase(clause):
            out.append(_phrase(ranking.POSITIONAL_FIELD, clause.phrase, ranking.PHRASE_BOOST))
        out.append(_phrase("title", clause.phrase, ranking.PHRASE_BOOST * ranking.TITLE_BOOST))
    boost = ranking.pair_boost(clause)
    for a, b in proximity_pairs(clause.phrase) if boost else ():
        body = {
            "query": f"{a} {b}",
            "slop": ranking.PAIR_SLOP,
            "analyzer": "whitespace",
            "boost": boost,
        }
        out.append({"match_phrase": {ranking.POSITIONAL_FIELD: body}})
    return out


def clause_to_es(clause, positions: bool = True) -> dict:
    """``clause`` as a query; without ``positions`` less its positional clauses (the
    first phase of a rescored search: same matches, term scores only)."""
    if isinstance(clause, AllOf):
        q: dict = _matching(clause)
        should = [_alt(a) for a in clause.optional]
        for c in clause.compounds if ranking.COMPOUND_BONUS else ():
            compound = _alt(TermAlt((c,)))
            should.append({"bool": {"should": [compound], "boost": ranking.PHRASE_BOOST}})
        if clause.bigrams and ranking.BIGRAM_BOOST:
            should.append(
                {
                    "bool": {
                        "should": [_term("body_bigram", b) for b in clause.bigrams],
                        "boost": ranking.BIGRAM_BOOST,
                    }
                }
            )
        if positions:
            should += _positional_subs(clause)
        if should:
            q["bool"]["should"] = q["bool"].get("should", []) + should
        return q
    if isinstance(clause, Phrase):
        should = [
            _phrase("title", clause.parts, ranking.TITLE_BOOST),
            _phrase("body", clause.parts),
        ]
        should += [_alt(TermAlt((c,))) for c in clause.compounds]
        return {"bool": {"should": should, "minimum_should_match": 1}}
    if isinstance(clause, AnyOf):
        alternatives = [clause_to_es(c, positions) for c in clause.clauses]
        return {"bool": {"should": alternatives, "minimum_should_match": 1}}
    if isinstance(clause, Bool):
        return bool_to_es(clause, positions)
    raise TypeError(clause)


def positional_to_es(clause) -> dict | None:
    """The second phase: what ``clause``'s positional clauses add to the score of a
    document matching it (None: nothing). Inside an :class:`AnyOf` each alternative
    counts only for documents it matches, as in the one-query score."""
    if isinstance(clause, AllOf):
        subs = _positional_subs(clause)
        return {"bool": {"should": subs}} if subs else None
    if isinstance(clause, AnyOf):
        gated = []
        for c in clause.clauses:
            pos = positional_to_es(c)
            if pos is not None:
                gated.append({"bool": {"filter": [clause_to_es(c, False)], "should": [pos]}})
        return {"bool": {"should": gated}} if gated else None
    if isinstance(clause, Bool):
        parts = [q for q in map(positional_to_es, clause.must) if q is not None]
        return {"bool": {"should": parts}} if parts else None
    return None  # a required Phrase scores in the first phase


def bool_to_es(b: Bool, positions: bool = True) -> dict:
    q: dict = {"bool": {}}
    if b.must:
        q["bool"]["must"] = [clause_to_es(c, positions) for c in b.must]
    else:
        q["bool"]["must"] = [{"match_all": {}}]
    if b.must_not:
        q["bool"]["must_not"] = [clause_to_es(c, positions) for c in b.must_not]
    return q


def filters_to_es(f: Filters) -> list[dict]:
    out: list[dict] = []
    if f.institutes:
        out.append({"terms": {"institute": list(f.institutes)}})
    if f.regions:
        out.append({"terms": {"regions": list(f.regions)}})
    if f.doc_types:
        out.append({"terms": {"doc_type": list(f.doc_types)}})
    if f.publishers:
        out.append({"terms": {"publisher": list(f.publishers)}})
    if f.authors:
        out.append({"terms": {"author": list(f.authors)}})
    if f.year_from is not None or f.year_to is not None:
        rng = {}
        if f.year_from is not None:
            rng["gte"] = f.year_from
        if f.year_to is not None:
            rng["lte"] = f.year_to
        out.append({"range": {"year": rng}})
    return out


# Only what search() and passages() read from a response (smaller responses to decode:
# a page of long-document hits is 100 hits with their index names, ids and sort values).
SEARCH_FILTER = ["hits.total.value", "hits.hits._score", "hits.hits.fields", "aggregations"]
# passages() reads bucket keys and counts (documents, pages) and the best hits' scores and
# fields; written with ``**`` because the client checks every character of the URL in
# Python (a fifth of the request's client time with the paths spelled out).
PASSAGES_FILTER = ["**.key", "**.doc_count", "**._score", "**.fields"]


def search_body(
    query: Bool, filters: Filters, sort: str, offset: int, limit: int, facets: bool = True
) -> dict:
    """The whole request body: text query, ``post_filter`` with every filter, and per facet
    an aggregation filtered by the other facets' filters only."""
    relevance = sort == "relevance" and bool(query.must)
    window = ranking.rescore_window(offset, limit) if relevance else 0
    positional = positional_to_es(query) if window else None
    body: dict = {
        # Matching, counts and facets need no positions: the term query (the one query
        # only when every match is scored at once), the positional clauses a rescore.
        "query": bool_to_es(query, positions=relevance and not window),
        "from": offset,
        "size": limit,
        "track_total_hits": True,
        # Ids from doc values: loading stored fields would decompress the blocks that hold
        # a long report's whole recovery source (270 ms for ten 300-page hits).
        "_source": False,
        "stored_fields": ["_none_"],
        "docvalue_fields": ["id"],
    }
    post = filters_to_es(filters)
    if post:
        body["post_filter"] = {"bool": {"filter": post}}
    if positional is not None:
        # Scores add up (score_mode total, weights 1): within the window, the one-query
        # scores. A rescored request takes no sort (relevance is the default).
        body["rescore"] = {
            "window_size": window,
            "query": {
                "rescore_query": positional,
                "query_weight": 1.0,
                "rescore_query_weight": 1.0,
                "score_mode": "total",
            },
        }
    elif relevance:
        # ties by document id (see ``TIE_PAD``; a rescored request's ties: ElasticBackend)
        body["sort"] = [{"_score": "desc"}, {"id": "asc"}]
    else:
        body["sort"] = [{"datenum": "asc" if sort == "oldest" else "desc"}, {"id": "asc"}]
    if facets:
        aggs = {}
        for facet in FACETS:
            other = filters_to_es(filters.without(facet))
            size = FACET_SIZES.get(facet, 1000)
            terms = {"terms": {"field": FACET_FIELDS[facet], "size": size}}
            aggs[facet] = {
                "filter": {"bool": {"filter": other}} if other else {"match_all": {}},
                "aggs": {"values": terms},
            }
        body["aggs"] = aggs
    return body


def _api_reason(exc: ApiError) -> tuple[str, str]:
    """(error type, reason) from an Elasticsearch error response."""
    body = getattr(exc, "body", None)
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        causes = err.get("root_cause") or [err]
        first = causes[0] if isinstance(causes[0], dict) else err
        return str(first.get("type", "")), str(first.get("reason", err))
    if err:
        return "", str(err)
    return "", str(getattr(exc, "message", exc))


def _writer(method: Callable) -> Callable:
    """The method runs holding the alias's writers' lock (re-entrant)."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self.writers.held():
            return method(self, *args, **kwargs)

    return locked


class ElasticBackend(SearchBackend):
    """Elasticsearch behind the same interface: Kiwi terms in whitespace-analyzed fields,
    an alias over versioned indices switched atomically by ``rebuild``, passages as
    their own entries in ``<alias>-passages``. Uses server-core APIs only."""

    name = "elasticsearch"

    def __init__(
        self,
        url: str,
        alias: str = "policykb",
        shards: int = 1,
        replicas: int = 0,
        client: Elasticsearch | None = None,
    ) -> None:
        self.url = url
        self.alias = alias
        self.shards = shards
        self.replicas = replicas
        self.es = client or Elasticsearch(
            url, request_timeout=30, retry_on_timeout=True, max_retries=2
        )
        self.passage_alias = f"{alias}-passages"
        self.writers = WriteLock(self.es, f"{alias}-lock", self._error)
        self._ready = False
        self._outdated: bool | None = None

    @property
    def needs_rebuild(self) -> bool:  # type: ignore[override]
        """True when the alias points at an index of an older schema (no passage entries):
        the runtime refills it from the store."""
        if self._outdated is None:
            try:
                self.ensure_index()
            except BackendError:
                return False
        return bool(self._outdated)

    @needs_rebuild.setter
    def needs_rebuild(self, value: bool) -> None:
        self._outdated = value

    # ---------------------------------------------------------------- lifecycle
    def _error(self, exc: Exception) -> BackendError:
        """The engine error ``exc`` means, in Korean, with Elasticsearch's own reason."""
        if isinstance(exc, ApiError):
            status = getattr(exc.meta, "status", None)
            kind, reason = _api_reason(exc)
            if "no handler found" in reason:
                return BackendError(
                    "이 Elasticsearch에는 policykb가 쓰는 API가 없습니다 "
                    "(README의 'Elasticsearch APIs' 참고)",
                    reason,
                    code="engine_api_missing",
                )
            return BackendError(
                f"Elasticsearch가 요청을 거부했습니다 (HTTP {status})",
                f"{kind}: {reason}" if kind else reason,
                code="engine_refused",
            )
        return BackendError(
            f"Elasticsearch({self.url})에 연결할 수 없습니다",
            str(exc),
            code="engine_unreachable",
        )

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ApiError as exc:
            if fn == self.es.search and getattr(exc.meta, "status", None) == 400:
                kind, reason = _api_reason(exc)
                raise QueryRejected(
                    "검색 엔진이 이 검색어를 처리하지 못했습니다. 검색어를 줄이거나 바꿔 주세요.",
                    f"{kind}: {reason}" if kind else reason,
                    code="engine_bad_query",
                ) from exc
            raise self._error(exc) from exc
        except (ESConnectionError, TransportError) as exc:
            raise self._error(exc) from exc

    def check_server(self) -> None:
        """The server speaks the APIs this backend uses (see :data:`REQUIRED_APIS`): a
        supported major version and the built-in ``whitespace`` analyzer."""
        version = self.server_version()  # not GET /: that lives in the rest-root module
        if int(version.split(".")[0]) not in SUPPORTED_MAJOR:
            raise BackendError(
                f"Elasticsearch {version}은(는) 지원하지 않습니다 "
                f"({'/'.join(f'{m}.x' for m in SUPPORTED_MAJOR)}가 필요합니다)",
                f"server version {version}",
                code="engine_version",
            )
        try:
            self._call(self.es.indices.analyze, analyzer="whitespace", text="정책 검색")
        except BackendError as exc:
            if exc.code == "engine_unreachable":
                raise
            raise BackendError(
                "Elasticsearch에 policykb가 쓰는 whitespace 분석기가 없습니다",
                exc.reason,
                code="engine_api_missing",
            ) from exc

    def _new_index_name(self, alias: str | None = None) -> str:
        stamp = f"{time.strftime('%Y%m%d%H%M%S')}-{time.time_ns() % 10**6}"
        return f"{alias or self.alias}-v{SCHEMA_VERSION}-{stamp}"

    def _create_index(self, name: str, bulk_load: bool = False, passages: bool = False) -> None:
        settings = index_settings(self.shards, 0 if bulk_load else self.replicas)
        if bulk_load:
            settings["refresh_interval"] = "-1"
        self._call(
            self.es.indices.create,
            index=name,
            settings=settings,
            mappings=passage_mapping() if passages else mapping(),
        )

    def physical_indices(self, alias: str | None = None) -> list[str]:
        try:
            res = self.es.indices.get_alias(name=alias or self.alias)
        except ApiError as exc:
            if getattr(exc.meta, "status", None) == 404:
                return []
            raise self._error(exc) from exc
        except (ESConnectionError, TransportError) as exc:
            raise self._error(exc) from exc
        return sorted(res.body.keys() if hasattr(res, "body") else res.keys())

    def ensure_index(self) -> None:
        """Create the first physical index and the alias if there is none."""
        if self._ready:
            return
        self.check_server()
        existing = self.physical_indices()
        if not existing or not self.physical_indices(self.passage_alias):
            with self.writers.held():  # two processes starting at once make one index
                self._create_missing()
            existing = self.physical_indices()
        if self._outdated is None:
            res = self._call(self.es.indices.get_mapping, index=existing[0])
            meta = next(iter(dict(res).values()))["mappings"].get("_meta", {})
            self._outdated = meta.get("policykb_schema") != SCHEMA_VERSION
        self._ready = True

    def _create_missing(self) -> None:
        """Under the writers' lock: the first document and passage indexes and their
        aliases, where there are none yet."""
        if not self.physical_indices():
            name = self._new_index_name()
            self._create_index(name)
            self._call(
                self.es.indices.update_aliases,
                actions=[{"add": {"index": name, "alias": self.alias, "is_write_index": True}}],
            )
            if self._outdated is None:
                self._outdated = False
        if not self.physical_indices(self.passage_alias):
            name = self._new_index_name(self.passage_alias)
            self._create_index(name, passages=True)
            self._call(
                self.es.indices.update_aliases,
                actions=[
                    {"add": {"index": name, "alias": self.passage_alias, "is_write_index": True}}
                ],
            )

    def check_schema(self) -> None:
        """An index of an older schema (e.g. without the author fields) is replaced by an
        empty one of this schema, and the caller refills it from the store."""
        try:
            indices = self.physical_indices()
            if not indices:
                return
            versions = self._schema_versions()
        except (BackendError, ApiError, ESConnectionError, TransportError):
            return  # unreachable now: searches will report it
        if versions == {SCHEMA_VERSION}:
            return
        with self.writers.held():
            self._replace_outdated()

    def _schema_versions(self) -> set:
        """The policykb schema versions of the alias's physical indexes."""
        res = self.es.indices.get_mapping(index=self.alias)
        body = res.body if hasattr(res, "body") else res
        return {
            (m.get("mappings", {}).get("_meta") or {}).get("policykb_schema") for m in body.values()
        }

    def _replace_outdated(self) -> None:
        """Under the writers' lock: the alias's indexes of an older schema replaced by an
        empty index of this one (unless another process did it meanwhile)."""
        indices = self.physical_indices()
        if self._schema_versions() == {SCHEMA_VERSION}:
            # another process replaced it meanwhile and may not have refilled it yet: a
            # rebuild from the store is safe to repeat
            self.needs_rebuild = True
            return
        name = self._new_index_name()
        self._create_index(name)
        actions = [{"remove": {"index": o, "alias": self.alias}} for o in indices]
        actions.append({"add": {"index": name, "alias": self.alias, "is_write_index": True}})
        self._call(self.es.indices.update_aliases, actions=actions)
        for o in indices:
            self._call(self.es.indices.delete, index=o, ignore_unavailable=True)
        self.needs_rebuild = True

    # ------------------------------------------------------------------ writing
    @staticmethod
    def prepare(doc: Document) -> tuple[str, list[int], str, list[tuple[str, str]]]:
        """(id, passage seqs, source JSON, [(passage id, passage source JSON)]): the bulk
        bodies, serialized where the document is built (an ingest worker)."""
        entries = list(passage_sources(doc))
        return (
            doc.id,
            [int(pid.rsplit("\x1f", 1)[1]) for pid, _ in entries],
            _json(to_source(doc)),
            [(pid, _json(source)) for pid, source in entries],
        )

    def _actions(self, forms: Iterable[tuple], index: str, passage_index: str) -> Iterator[dict]:
        for doc_id, _seqs, source, passages in forms:
            # Passages first: a document is never searchable before its passages are.
            for pid, psource in passages:
                yield {"_op_type": "index", "_index": passage_index, "_id": pid, "_source": psource}
            yield {"_op_type": "index", "_index": index, "_id": doc_id, "_source": source}

    def _bulk(
        self,
        docs: Iterable[Document],
        index: str,
        passage_index: str,
        progress: ProgressFn | None = None,
        total: int = 0,
    ) -> IndexOutcome:
        forms = (self.prepare(d) for d in docs)
        return self._run_bulk(self._actions(forms, index, passage_index), progress, total)

    def _run_bulk(
        self, actions: Iterable[dict], progress: ProgressFn | None = None, total: int = 0
    ) -> IndexOutcome:
        """Stream bulk actions (retrying 429s). A document the engine refused is listed in
        the outcome; a refusal of the whole index (a write block, a missing index) raises."""
        outcome = IndexOutcome()
        try:
            for ok, item in streaming_bulk(
                self.es,
                actions,
                chunk_size=BULK_CHUNK,
                max_chunk_bytes=20 * 1024 * 1024,
                raise_on_error=False,
                raise_on_exception=True,
                max_retries=5,
                initial_backoff=1,
                max_backoff=30,
            ):
                op, info = next(iter(item.items()))
                item_id = str(info.get("_id"))
                is_passage = "\x1f" in item_id
                if ok or (op == "delete" and info.get("result") == "not_found"):
                    if not is_passage:
                        outcome.indexed += 1
                else:
                    err = info.get("error")
                    kind = err.get("type", "") if isinstance(err, dict) else ""
                    reason = err.get("reason", str(err)) if isinstance(err, dict) else str(err)
                    if kind in INDEX_LEVEL_ERRORS or op == "delete":
                        raise BackendError(
                            f"Elasticsearch가 요청을 거부했습니다 (HTTP {info.get('status')})",
                            f"{kind}: {reason}",
                            code="engine_refused",
                        )
                    outcome.errors[item_id.split("\x1f")[0]] = reason
                if progress and (outcome.indexed + len(outcome.errors)) % 200 == 0:
                    progress(outcome.indexed, total)
        except (ESConnectionError, TransportError, ApiError) as exc:
            raise self._error(exc) from exc
        if progress:
            progress(outcome.indexed, total)
        return outcome

    def _stale_passages(self, keep: dict[str, set[int]]) -> list[str]:
        """Ids of passage entries of these documents whose seq is not in ``keep``."""
        out: list[str] = []
        ids = list(keep)
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            res = self._call(
                self.es.search,
                index=self.passage_alias,
                query={"terms": {"doc_id": part}},
                size=0,
                aggs={
                    "docs": {
                        "terms": {"field": "doc_id", "size": len(part)},
                        "aggs": {"top": {"max": {"field": "seq"}}},
                    }
                },
            )
            for b in res["aggregations"]["docs"]["buckets"]:
                top = int(b["top"]["value"] or 0)
                out += [f"{b['key']}\x1f{s}" for s in range(top + 1) if s not in keep[b["key"]]]
        return out

    def _delete_passages(self, pids: list[str]) -> None:
        if not pids:
            return
        # A missing entry (a passage without terms) counts as deleted.
        self._run_bulk(
            {"_op_type": "delete", "_index": self.passage_alias, "_id": pid} for pid in pids
        )
        self._call(self.es.indices.refresh, index=self.passage_alias)

    def index(self, docs: Iterable[Document]) -> IndexOutcome:
        return self.index_prepared([self.prepare(d) for d in docs])

    @_writer
    def index_prepared(self, forms: Iterable[tuple]) -> IndexOutcome:
        self.ensure_index()
        forms = list(forms)
        # A re-ingested document may have fewer passages than before: drop the others.
        self._delete_passages(self._stale_passages({f[0]: set(f[1]) for f in forms}))
        outcome = self._run_bulk(self._actions(forms, self.alias, self.passage_alias))
        self._call(self.es.indices.refresh, index=[self.alias, self.passage_alias])
        return outcome

    @_writer
    def delete(self, ids: Iterable[str]) -> None:
        """Bulk ``delete`` actions by id through the write alias (no delete-by-query: that
        API lives in the ``reindex`` module, which the integration-test distribution
        lacks); an id that is not indexed is not an error."""
        self.ensure_index()
        ids = list(dict.fromkeys(ids))
        if not ids:
            return
        self._run_bulk({"_op_type": "delete", "_index": self.alias, "_id": i} for i in ids)
        self._call(self.es.indices.refresh, index=self.alias)
        self._delete_passages(self._stale_passages({i: set() for i in ids}))

    @_writer
    def rebuild(
        self, docs: Iterable[Document], total: int, progress: ProgressFn | None = None
    ) -> None:
        self.ensure_index()
        old = self.physical_indices()
        old_passages = self.physical_indices(self.passage_alias)
        name = self._new_index_name()
        pname = self._new_index_name(self.passage_alias)
        self._create_index(name, bulk_load=True)
        self._create_index(pname, bulk_load=True, passages=True)
        try:
            outcome = self._bulk(docs, name, pname, progress, total)
            if outcome.errors:
                first = next(iter(outcome.errors.items()))
                raise BackendError(
                    f"{len(outcome.errors)} documents failed to index "
                    f"(first: {first[0]}: {first[1]})"
                )
            self._call(
                self.es.indices.put_settings,
                index=[name, pname],
                settings={"refresh_interval": "1s", "number_of_replicas": self.replicas},
            )
            self._call(self.es.indices.refresh, index=[name, pname])
            self.merge_segments([name, pname])
            if self.replicas:
                self._call(
                    self.es.cluster.health,
                    index=[name, pname],
                    wait_for_status="green",
                    timeout="60s",
                )
        except BaseException:
            self._call(self.es.indices.delete, index=[name, pname], ignore_unavailable=True)
            raise
        actions = [{"remove": {"index": o, "alias": self.alias}} for o in old]
        actions += [{"remove": {"index": o, "alias": self.passage_alias}} for o in old_passages]
        actions.append({"add": {"index": name, "alias": self.alias, "is_write_index": True}})
        actions.append(
            {"add": {"index": pname, "alias": self.passage_alias, "is_write_index": True}}
        )
        self._call(self.es.indices.update_aliases, actions=actions)  # atomic switch
        for o in old + old_passages:
            self._call(self.es.indices.delete, index=o, ignore_unavailable=True)
        self._drop_orphans(keep={name, pname})
        self._outdated = False

    def compact(self, docs: Iterable[Document], total: int) -> None:
        """After a bulk load: the live indexes merged to one segment each (no document
        is read again)."""
        del docs, total
        self.merge_segments()

    def merge_segments(self, names: list[str] | None = None) -> None:
        """Force-merge ``names`` (default: the live document and passage indexes) to one
        segment each. A bulk load leaves 7-9 segments that Elasticsearch's merge policy
        keeps, and every segment costs each search, aggregation and rescore again (the
        100k-page benchmark's long corpus); a merged index answers as one. Done before a
        rebuilt index goes live, and safe to repeat (a merged index returns at once)."""
        if names is None:
            self.ensure_index()
            names = self.physical_indices() + self.physical_indices(self.passage_alias)
        if names:
            self._call(
                self.es.options(request_timeout=MERGE_TIMEOUT).indices.forcemerge,
                index=names,
                max_num_segments=1,
            )

    def _drop_orphans(self, keep: set[str]) -> None:
        """Physical indices of this alias left by a killed re-index."""
        try:
            names = self.es.indices.get(
                index=f"{self.alias}-v*,{self.passage_alias}-v*", expand_wildcards="open"
            )
        except ApiError:
            return
        for orphan in names:
            if orphan not in keep:
                self._call(self.es.indices.delete, index=orphan, ignore_unavailable=True)

    # ------------------------------------------------------------------ reading
    def count(self) -> int:
        self.ensure_index()
        return int(self._call(self.es.count, index=self.alias)["count"])

    def server_version(self) -> str:
        res = self._call(
            self.es.nodes.info, node_id="_local", metric="_none", filter_path="nodes.*.version"
        )
        return next(iter(res["nodes"].values()))["version"]

    def info(self) -> dict:
        self.ensure_index()
        stats = self._call(self.es.indices.stats, index=self.alias, metric="store,docs")
        size = stats["_all"]["primaries"]["store"]["size_in_bytes"]
        return {
            "backend": self.name,
            "alias": self.alias,
            "indices": self.physical_indices(),
            "documents": self.count(),
            "size_bytes": size,
            "schema_version": SCHEMA_VERSION,
            "server_version": self.server_version(),
        }

    def doc_freqs(self, terms: list[str], *, titles: bool = False) -> dict[str, int]:
        # Term statistics of an artificial document holding the terms (one request).
        self.ensure_index()
        text = " ".join(terms)
        fields = list(FREQ_FIELDS + (TITLE_FREQ_FIELDS if titles else ()))
        res = self._call(
            self.es.termvectors,
            index=self.alias,
            doc=dict.fromkeys(fields, text),
            fields=fields,
            term_statistics=True,
            field_statistics=False,
            positions=False,
            offsets=False,
        )
        out = dict.fromkeys(terms, 0)
        for fv in (res.get("term_vectors") or {}).values():
            for term, stats in (fv.get("terms") or {}).items():
                if term in out:
                    out[term] += int(stats.get("doc_freq") or 0)
        return out

    def search(
        self, query: Bool, filters: Filters, sort: str, offset: int, limit: int, facets: bool = True
    ) -> BackendResult:
        self.ensure_index()
        relevance = sort == "relevance" and bool(query.must)
        rescored = relevance and ranking.rescore_window(offset, limit) > 0

        def run(start: int, size: int, aggs: bool) -> tuple[dict, list[BackendHit]]:
            body = search_body(query, filters, sort, start, size, aggs)
            res = self._call(self.es.search, index=self.alias, filter_path=SEARCH_FILTER, **body)
            return res, [
                BackendHit(h["fields"]["id"][0], float(h.get("_score") or 0.0))
                for h in res["hits"].get("hits", [])  # absent when nothing matched
            ]

        if not rescored:  # the request's sort orders ties by id
            res, hits = run(offset, limit, facets)
        else:
            # A rescore takes no sort: the page is cut here from the first hits, ties
            # ordered by id (see ``TIE_PAD``), the window covering every hit fetched.
            requested = tie_first_request(offset, limit)
            res, hits = run(0, requested, facets)
            while more := tie_next_request([h.score for h in hits], requested, offset, limit):
                requested = more
                hits = run(0, requested, False)[1]
            page = stable_page(
                [h.score for h in hits], lambda a, b: [h.id for h in hits[a:b]], offset, limit
            )
            hits = [hits[i] for i, _ in page]
        out: dict[str, dict[str, int]] = {}
        for facet in FACETS if facets else ():
            buckets = res["aggregations"][facet]["values"]["buckets"]
            out[facet] = {str(b["key"]): int(b["doc_count"]) for b in buckets}
        return BackendResult(int(res["hits"]["total"]["value"]), hits, out)

    def holders(self, doc_ids: list[str], terms: Iterable[str]) -> set[str]:
        ids, terms = list(dict.fromkeys(doc_ids)), sorted(set(terms))
        if not ids or not terms:
            return set()
        self.ensure_index()
        res = self._call(
            self.es.search,
            index=self.passage_alias,
            query=passage_query(ids, terms),
            size=0,
            aggs={"docs": {"terms": {"field": "doc_id", "size": len(ids)}}},
            filter_path=["**.key", "**.doc_count"],
        )
        buckets = ((res.get("aggregations") or {}).get("docs") or {}).get("buckets", [])
        return {b["key"] for b in buckets if b["doc_count"]}

    def passages(
        self, doc_ids: list[str], terms: Iterable[str], per_doc: int = BEST_PASSAGES
    ) -> dict[str, DocPassages]:
        ids, terms = list(dict.fromkeys(doc_ids)), sorted(set(terms))
        if not ids or not terms:
            return {}
        self.ensure_index()
        aggs = pages_agg(len(ids))
        aggs["docs"]["aggs"]["best"] = {
            "top_hits": {
                "size": per_doc,
                "sort": [{"_score": "desc"}, {"seq": "asc"}],
                "track_scores": True,
                "_source": False,
                "stored_fields": ["_none_"],
                "docvalue_fields": ["seq", "page"],
            }
        }
        res = self._call(
            self.es.search,
            index=self.passage_alias,
            query=passage_query(ids, terms, ranked=True),
            size=0,
            aggs=aggs,
            filter_path=PASSAGES_FILTER,
        )
        # The filtered response leaves out what is empty (no buckets, no pages, no hits).
        aggregations = res.get("aggregations") or {}
        aggregations.setdefault("docs", {}).setdefault("buckets", [])
        for bucket in aggregations["docs"]["buckets"]:
            bucket.setdefault("pages", {}).setdefault("buckets", [])
            bucket.setdefault("best", {}).setdefault("hits", {}).setdefault("hits", [])
        matched, pages = read_pages_agg(aggregations)
        best = {}
        for b in aggregations["docs"]["buckets"]:
            rows = [
                PassageMatch(
                    h["fields"]["seq"][0],
                    (h["fields"].get("page") or [None])[0],
                    float(h["_score"]),
                )
                for h in b["best"]["hits"]["hits"]
            ]
            best[b["key"]] = best_first(rows)
        return doc_passages_from(best, pages, matched, ids)

    def matching_passages(
        self, doc_id: str, terms: Iterable[str], limit: int = MAX_MATCH_PAGES
    ) -> list[PassageMatch]:
        terms = sorted(set(terms))
        if not terms:
            return []
        self.ensure_index()
        aggs = seqs_agg(limit)
        res = self._call(
            self.es.search,
            index=self.passage_alias,
            query=passage_query([doc_id], terms),
            size=0,
            aggs=aggs,
        )
        return read_seqs_agg(res["aggregations"])

    def drop_all(self) -> None:
        """Delete the alias's indices and its lock (tests)."""
        for name in self.physical_indices() + self.physical_indices(self.passage_alias):
            self._call(self.es.indices.delete, index=name, ignore_unavailable=True)
        self._call(self.es.indices.delete, index=self.writers.index, ignore_unavailable=True)
        self.writers.forget_index()
        self._ready = False

    def close(self) -> None:
        self.es.close()
