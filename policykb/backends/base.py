"""The search-backend interface. Backends receive analyzed clauses (policykb.query) and
plain filters, never user syntax, and return document ids, scores and facet counts."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from analyzers.bigram import char_bigrams
from analyzers.kiwi import fold_width
from policykb.errors import EngineError
from policykb.models import BackendResult, DocPassages, Document, Filters, PassageMatch, Token
from policykb.query import AllOf, Bool, TermAlt

# Gap inserted between passages so phrases never match across a passage boundary.
PASSAGE_POSITION_GAP = 100
# The word-order bonuses of a run of words (its exact phrase, its proximity pairs) read
# the first POSITIONAL_HEAD body terms of a document (about two report pages), the field
# POSITIONAL_FIELD: a document shorter than that scores as before, and a 400-page report
# costs a search what two pages do instead of reading every position of its terms (the
# positional clauses were most of the search time of long reports). A quoted phrase
# still matches anywhere in the body. Where the words of a pasted title stand together
# near the start is better evidence than anywhere in 300 pages: on the dev halves (twelfth
# session) pipc, the long-document set, gained as the head shrank (10,000 terms +0.0023,
# 5,000 +0.0036, 2,000 +0.0248, 1,000 +0.0289, 500 +0.0393, 250 +0.0509) with the five
# other sets unchanged down to 1,000; below it they move (500: korquad, fsc +1 to +3
# queries net; 250: fsc 32 up / 25 down, korquad long one down). Old Lucene bounded
# fields the same way (maxFieldLength, 10,000 terms). Index-time: part of SCHEMA_VERSION.
POSITIONAL_HEAD = 1000
POSITIONAL_FIELD = "body_head"
# Weights chosen by ablation on the dev halves of `policykb eval` (see bench/README.md).
TITLE_BOOST = 1.0  # 2.0 gained on no dev set (kdi -0.005): the title counts as body text
PHRASE_BOOST = 2.0  # the whole run of words as an exact phrase
PAIR_BOOST = 1.0  # each pair of neighbouring words within PAIR_SLOP positions (proximity)
# the same in a question's run (AllOf.question): a question rewords its answer's sentence,
# a pasted title or keywords keep the document's own word order more often (dev halves,
# eighth session: 0.5 -> 1.0 with the titles' 80% minimum gained on fsc, pipc and kdi;
# 1.0 on questions lost on KorQuAD -0.0008)
QUESTION_PAIR_BOOST = 0.5
PAIR_SLOP = 3
# The whole run as an exact phrase in the body needs this many parts: a run of two parts is
# also its one proximity pair, whose positions the phrase would read a second time (over a
# 300-page report's long position lists). Eleventh session, dev halves: 2 -> 3 changed one
# query of the six sets (kdi `주택정책` 8 -> 12); never (99) two kdi queries and fsc 9 up /
# 4 down; the long corpus's backend search 0.88 -> 0.77 ms (bench.stages).
BODY_PHRASE_MIN_PARTS = 3


BIGRAM_BOOST = 1.2  # the character-bigram fallback field (0.8 before; 1.2 gained on 3 dev sets)
AUTHOR_BOOST = 1.0  # author names (catalogue records, report covers' 연구책임자/연구진)
# The positional clauses (the phrase and title-phrase boosts, the proximity pairs) read
# position lists, which in a 300-page report are long for every matching document. On
# Elasticsearch they are a rescore (a second phase) over the first RESCORE_WINDOW hits of
# the term query (at least offset + limit), added to those hits' scores: within the window
# the scores are the one-query scores, so the ranking differs only where a document below
# the window would climb into it (one fsc dev query's top 10 of 5,857 dev queries). The
# embedded engine scores every match in one query: tantivy cannot cheaply restrict a second
# query to the window (term queries over 100 ids cost ~0.16 ms, a term set ~0.2 ms, about
# what the positions of 350 long documents cost). 0: one query on Elasticsearch too.
RESCORE_WINDOW = 100
# Hits of equal score (or equal date, for the date sorts) come from the engines in their
# insertion order, which two ingest workers' finishing order decides. Both engines order
# them by document id instead, across page boundaries too: a page is cut from the first
# offset + limit + TIE_PAD hits (more while the last place's tie continues).
TIE_PAD = 10
# A tie is read to its end for at most TIE_LIMIT hits past the page (undated documents under
# sort=oldest, or catalogue records of one year, tie by the thousand): beyond that the
# engine's order stands. No request reads more than MAX_WINDOW hits (Elasticsearch's
# max_result_window, the deepest page the API allows).
TIE_LIMIT = 1000
MAX_WINDOW = 100_000


def tie_first_request(offset: int, limit: int) -> int:
    """How many hits the first request of a page reads."""
    return min(offset + limit + TIE_PAD, MAX_WINDOW)


def tie_next_request(values: list, requested: int, offset: int, limit: int) -> int:
    """How many hits to read next, or 0 when ``values`` (the first ``requested`` hits'
    scores or dates) suffice: the engine filled all ``requested`` places and the value at
    the page's last place is still the last fetched one, so its tie may continue past what
    came back (up to :data:`TIE_LIMIT` past the page)."""
    last = offset + limit - 1
    cap = min(offset + limit + TIE_LIMIT, MAX_WINDOW)
    if limit <= 0 or requested >= cap or len(values) < requested or last >= len(values):
        return 0
    return min(requested * 2, cap) if values[-1] == values[last] else 0


def stable_page(
    values: list, ids_of: Callable[[int, int], list[str]], offset: int, limit: int
) -> list[tuple[int, str]]:
    """The (index into ``values``, id) pairs, the engine's order from the first hit) of the page
    ``[offset, offset + limit)`` with ties of equal value ordered by document id.
    ``ids_of(start, end)`` gives the ids of hits ``start..end-1`` (read only for the page
    and the ties that reach into it). The tie at the page's last place must be complete
    in ``values`` (see :func:`tie_next_request`)."""
    if offset >= len(values) or limit <= 0:
        return []
    start, end = offset, min(offset + limit, len(values))
    while start > 0 and values[start - 1] == values[offset]:
        start -= 1
    while end < len(values) and values[end] == values[end - 1]:
        end += 1
    ids = ids_of(start, end)
    group, groups = 0, []
    for i in range(start, end):
        if i > start and values[i] != values[i - 1]:
            group += 1
        groups.append(group)
    order = sorted(range(end - start), key=lambda j: (groups[j], ids[j]))
    return [(start + j, ids[j]) for j in order[offset - start : offset - start + limit]]


def rescore_window(offset: int, limit: int) -> int:
    """How many first-phase hits the positional phase rescores (0: no second phase)."""
    return max(RESCORE_WINDOW, offset + limit) if RESCORE_WINDOW else 0


def body_phrase(clause: AllOf) -> bool:
    """Whether the run's exact body phrase is one of its positional clauses."""
    return len(clause.phrase) >= BODY_PHRASE_MIN_PARTS


def pair_boost(clause: AllOf) -> float:
    """The proximity-pair weight of a run: :data:`QUESTION_PAIR_BOOST` in a question,
    :data:`PAIR_BOOST` otherwise (read at query time, both engines)."""
    return QUESTION_PAIR_BOOST if clause.question else PAIR_BOOST


def proximity_pairs(parts: tuple[str, ...]) -> list[tuple[str, str]]:
    """Neighbouring word pairs of a run, for the proximity bonus."""
    pairs = []
    for a, b in zip(parts, parts[1:], strict=False):
        if a != b and (a, b) not in pairs:
            pairs.append((a, b))
    return pairs


# Every term alternative is looked up in these fields. Parts (morphemes at consecutive
# positions, for phrases) and joined compounds live in separate fields so both engines
# can index them the same way (Elasticsearch cannot stack two tokens on one position
# through a whitespace analyzer).
def term_fields() -> tuple[tuple[str, float], ...]:
    """(field, boost) pairs every term alternative is looked up in. Weights are read at
    query time so `policykb eval --ablate` can switch a component off."""
    return (
        ("title", TITLE_BOOST),
        ("title_joined", TITLE_BOOST),
        ("body", 1.0),
        ("body_joined", 1.0),
        ("authors", AUTHOR_BOOST),
    )


# Collection statistics alike on both engines: Lucene's BM25 takes idf and the average
# field length over the documents *having* the field, tantivy over all documents. Every
# document gets this one term (never produced by analysis) in every scored text field, so
# no field is sparse and both engines score with the same N and average length.

# The index layout both engines write (a change rebuilds the index from the store):
# 4: publisher; 5: passage entries; 6: authors; 7: FIELD_SENTINEL in every scored field;
# 8: body_head, with the head's length (an index built with another POSITIONAL_HEAD is
# outdated as well: rebuilt, and never reused by a benchmark or evaluation cache);
# 9: doc_no on every passage entry (the document as a number, a fast field).
SCHEMA_VERSION = f"9-head{POSITIONAL_HEAD}"
# Facet name -> the keyword field it counts (the same field names on both engines).
FACET_FIELDS = {
    "institute": "institute",
    "region": "regions",
    "doc_type": "doc_type",
    "year": "year",
    "publisher": "publisher",
    "author": "author",
}

FIELD_SENTINEL = "\ue000"


def with_sentinel(tokens: list[Token]) -> list[Token]:
    """``tokens`` and the sentinel, a passage gap after the last one (never in a phrase)."""
    top = max((t.position for t in tokens), default=-1)
    return [*tokens, Token(FIELD_SENTINEL, 0, 0, top + 1 + PASSAGE_POSITION_GAP, False)]


# Ranking components `policykb eval --ablate` can switch off (see bench/README.md).
# The compound bonus (a single term spelling the whole run of words) is off: switched off
# on the dev halves with the 10x query sample it changed one kdi query in about 8,900 and
# nothing else (bench/README.md, eighth session), so it earns nothing for its clause per
# run. Kept as a switch for `policykb eval --ablate`.
COMPOUND_BONUS = False
DIS_MAX = True  # alternatives of a word count once (their best), not summed
COORD_BONUS = 0.5  # soft minimum-should-match: extra share of the score for meeting it
# Each query word scores once: the best of its parts' alternatives (plus WORD_TIE times
# the others), so a word Kiwi splits into n parts does not count n times. Matching is
# unchanged (every part, or min_match of them, as before).
WORD_ONCE = True
WORD_TIE = 0.0


def scored_words(clause: AllOf) -> tuple[tuple[TermAlt, ...], ...]:
    """The groups of ``clause``'s alternatives that each score once (their best): its
    words, or with ``WORD_ONCE`` off (or no words given) each alternative alone."""
    if WORD_ONCE and clause.words:
        return clause.words
    return tuple((a,) for a in clause.alts)


class BackendError(EngineError, RuntimeError):
    """The engine refused a request or cannot be reached; ``message`` (Korean) is safe to
    show, ``reason`` carries the engine's own words."""


class QueryRejected(BackendError):
    """The engine answered a search with "bad request": the query, not the engine, is at
    fault (the web app answers 400 instead of 503)."""


class IndexOutdated(BackendError):
    """The index was built by an older schema or analyzer and must be rebuilt."""


def body_tokens(doc: Document) -> list[Token]:
    """All passage tokens of ``doc`` with positions made continuous across passages, a gap
    of :data:`PASSAGE_POSITION_GAP` between passages."""
    out: list[Token] = []
    base = 0
    for p in doc.passages:
        top = -1
        for t in p.tokens:
            out.append(Token(t.term, t.start, t.end, base + t.position, t.joined))
            top = max(top, t.position)
        base += top + 1 + PASSAGE_POSITION_GAP
    return out


def passage_bigrams(doc: Document) -> list[list[str]]:
    """Character bigrams of each passage's text (the fallback field)."""
    return [char_bigrams(fold_width(p.text)) for p in doc.passages]


def split_joined(tokens: list[Token]) -> tuple[list[Token], list[Token]]:
    """(parts, joined compounds)."""
    return [t for t in tokens if not t.joined], [t for t in tokens if t.joined]


# Passage entries: every passage is also indexed on its own (document id, seq, page and its
# terms, parts and joined compounds in one field), so a hit's best passages and the pages
# where it matches come from the engine and a snippet reads a few passages, not the whole
# document. Document-level scoring never sees these entries (a separate index on both
# engines, so collection statistics are unchanged).
BEST_PASSAGES = 1  # per hit: the passage its snippet is cut from
MAX_MATCH_PAGES = 2000  # pages (or passages) listed per document at most
# Best passages rank by how many distinct query terms they hold, then by BM25 (the
# snippet builder's order, so the engine's first passage is the snippet's and the store
# reads one passage per hit): every query term a passage holds adds this constant to its
# BM25 score, which is far below it (at most a few tens per term).
PASSAGE_TERM_WEIGHT = 1000.0


def passage_entries(doc: Document) -> list[tuple[int, int | None, list[str]]]:
    """(seq, page, terms) of each passage that has terms."""
    out = []
    for p in doc.passages:
        terms = [t.term for t in p.tokens]
        if terms:
            out.append((p.seq, p.page, terms))
    return out


def pages_agg(n_docs: int) -> dict:
    """Aggregation (the same JSON on both engines): matching passages per document, and
    per page within each."""
    return {
        "docs": {
            "terms": {"field": "doc_id", "size": n_docs},
            "aggs": {
                "pages": {
                    "terms": {"field": "page", "size": MAX_MATCH_PAGES, "order": {"_key": "asc"}}
                }
            },
        }
    }


def read_pages_agg(result: dict) -> tuple[dict[str, int], dict[str, list[tuple[int, int]]]]:
    # Both engines give the keys and counts of integer fields as ints.
    matched, pages = {}, {}
    for b in result["docs"]["buckets"]:
        matched[b["key"]] = b["doc_count"]
        pages[b["key"]] = [(p["key"], p["doc_count"]) for p in b["pages"]["buckets"]]
    return matched, pages


def seqs_agg(limit: int) -> dict:
    """Aggregation: every matching passage of one document (seq order) with its page."""
    return {
        "seqs": {
            "terms": {"field": "seq", "size": limit, "order": {"_key": "asc"}},
            "aggs": {"page": {"terms": {"field": "page", "size": 1}}},
        }
    }


def read_seqs_agg(result: dict) -> list[PassageMatch]:
    out = []
    for b in result["seqs"]["buckets"]:
        pb = b["page"]["buckets"]
        out.append(PassageMatch(int(b["key"]), int(pb[0]["key"]) if pb else None))
    return out


def best_first(rows: list[PassageMatch]) -> list[PassageMatch]:
    """Sort in place by score (4 decimals, so both engines agree on ties), then seq."""
    rows.sort(key=lambda m: (-round(m.score, 4), m.seq))
    return rows


def doc_passages_from(
    best: dict[str, list[PassageMatch]],
    pages: dict[str, list[tuple[int, int]]],
    matched: dict[str, int],
    ids: Iterable[str],
) -> dict[str, DocPassages]:
    """Assemble the per-document answer (documents without a matching passage omitted)."""
    out: dict[str, DocPassages] = {}
    for doc_id in ids:
        if matched.get(doc_id):
            out[doc_id] = DocPassages(
                best.get(doc_id, []), sorted(pages.get(doc_id, [])), matched[doc_id]
            )
    return out


@dataclass
class IndexOutcome:
    indexed: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # doc id -> reason


def date_number(date: str | None) -> int:
    return int(date.replace("-", "")) if date else 0


ProgressFn = Callable[[int, int], None]

# The fields doc_freqs counts: the body, and with ``titles=True`` the title and authors too.
FREQ_FIELDS = ("body", "body_joined")
TITLE_FREQ_FIELDS = ("title", "title_joined", "authors")


class SearchBackend(ABC):
    """The one engine interface: index documents (analyzed tokens, never raw text to
    tokenize), rebuild into a new generation and switch atomically, search analyzed
    clauses with filters and facets, locate matching passages. Both implementations run
    the same conformance suite (tests/test_conformance.py)."""

    name: str = "abstract"
    # True when the index was made by an older schema and must be refilled from the store.
    needs_rebuild: bool = False

    @abstractmethod
    def index(self, docs: Iterable[Document]) -> IndexOutcome:
        """Add or replace ``docs``; committed and visible to searches on return. Documents
        the engine refused are listed in the outcome's ``errors``."""

    @staticmethod
    @abstractmethod
    def prepare(doc: Document) -> object:
        """``doc``'s entries in this engine as plain picklable data without per-token
        objects, made where the document is built (an ingest worker process), so the
        ingest process only hands them to :meth:`index_prepared`. ``index(docs)`` is
        ``index_prepared`` of the prepared documents."""

    @abstractmethod
    def index_prepared(self, forms: Iterable[object]) -> IndexOutcome:
        """:meth:`index` for entries made by :meth:`prepare`."""

    @abstractmethod
    def delete(self, ids: Iterable[str]) -> None:
        """Remove documents by id; committed on return."""

    @abstractmethod
    def search(
        self,
        query: Bool,
        filters: Filters,
        sort: str,
        offset: int,
        limit: int,
        facets: bool = True,
    ) -> BackendResult:
        """Matching ids in order, the total, and facet counts (each facet counted under
        the query and every filter except its own)."""

    @abstractmethod
    def passages(
        self, doc_ids: list[str], terms: Iterable[str], per_doc: int = BEST_PASSAGES
    ) -> dict[str, DocPassages]:
        """For each of ``doc_ids`` with a passage containing one of ``terms``: its
        ``per_doc`` best passages over the passage entries, ranked by the number of
        distinct ``terms`` they hold, then BM25 (ties: lower seq first; the score is
        ``PASSAGE_TERM_WEIGHT`` x distinct terms + BM25), the pages with matches and the
        number of matching passages."""

    def holders(self, doc_ids: list[str], terms: Iterable[str]) -> set[str]:
        """Those of ``doc_ids`` with a passage containing one of ``terms`` (which
        documents hold a word, without ranking their passages). Engines answer it with
        one aggregation; this default reads the best passages."""
        return set(self.passages(doc_ids, terms))

    @abstractmethod
    def matching_passages(
        self, doc_id: str, terms: Iterable[str], limit: int = MAX_MATCH_PAGES
    ) -> list[PassageMatch]:
        """Every passage of ``doc_id`` containing one of ``terms`` (seq order, at most
        ``limit``; scores are 0)."""

    @abstractmethod
    def rebuild(
        self, docs: Iterable[Document], total: int, progress: ProgressFn | None = None
    ) -> None:
        """Build a new index generation from ``docs`` and switch readers to it atomically;
        searches keep answering from the old generation until the switch."""

    def compact(self, docs: Iterable[Document], total: int) -> None:
        """After a bulk load written as many small commits (a catalogue import): leave the
        index in few segments, since every segment costs each search and facet count.
        ``docs`` is the index's whole content (from the store). Default: nothing to do
        (Elasticsearch merges segments on its own)."""
        del docs, total

    def doc_freqs(self, terms: list[str], *, titles: bool = False) -> dict[str, int]:
        """How many documents contain each term in their body (parts or joined compounds);
        used to keep the most informative terms of a long query. ``titles``: count the
        title and author fields as well (summed over the fields, so a presence test rather
        than a count of documents: a metadata-only catalogue record has a title and no
        body). Default: unknown ({})."""
        del titles
        return {}

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def info(self) -> dict: ...

    def check_schema(self) -> None:  # noqa: B027 - optional hook
        """Set :attr:`needs_rebuild` when the live index was made by an older schema."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
