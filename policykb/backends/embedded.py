"""Embedded backend: tantivy on local disk, no server.

Layout under ``index_dir``: one directory per index generation and a ``CURRENT`` file
naming the live one. A rebuild fills a new generation, then replaces ``CURRENT`` with an
atomic rename; readers notice the change and reopen. Kiwi tokens are indexed as tantivy
pre-tokenized strings, so the index never tokenizes text itself.

Whatever writes a generation or ``CURRENT`` (an index, a delete, a rebuild, the empty
generation made in place of an outdated one) holds ``write.lock`` in the index folder
(``flock``), so two processes (``gunicorn -w 2``, a server and a CLI ``reindex``) never
write at once: a rebuild never deletes the generation another process is filling.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import tantivy
from tantivy import Occur, Query

from policykb.backends import base as ranking
from policykb.backends.base import (
    BEST_PASSAGES,
    FACET_FIELDS,
    FIELD_SENTINEL,
    FREQ_FIELDS,
    MAX_MATCH_PAGES,
    PASSAGE_POSITION_GAP,
    PASSAGE_TERM_WEIGHT,
    SCHEMA_VERSION,
    TITLE_FREQ_FIELDS,
    BackendError,
    IndexOutcome,
    IndexOutdated,
    ProgressFn,
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
    with_sentinel,
)
from policykb.errors import storage_error
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

try:  # optional: built from native/ (`make native`); the same answers without it
    import policykb_native
except ImportError:  # pragma: no cover - depends on the machine
    policykb_native = None

log = logging.getLogger(__name__)

PASSAGES_DIR = "passages"  # passage entries: a second index in each generation
# The best passages of a page of hits in one search (EmbeddedBackend._best_at_once) for a
# query of AT_ONCE_TERMS distinct terms or more (a pasted title) when its hits hold at most
# AT_ONCE_PER_DOC matching passages each on average (short documents); otherwise one or
# two small searches per document, which cost less over the hundreds of passages of a
# long report (the one search walks every passage of the documents).
AT_ONCE_TERMS = 5
AT_ONCE_PER_DOC = 8
WRITER_HEAP = 64_000_000
# A rebuild writes the whole collection with one writer: tantivy starts a new segment each
# time its heap fills, and every segment costs each search again (term dictionary
# lookups, scorers, aggregation collectors: 5 passage segments and 3 document segments
# made the 100k-page benchmark's searches ~0.2 ms slower than one of each). The heap is
# a ceiling, filled only as the documents need it, so small collections use little.
REBUILD_HEAP = 1_500_000_000
# Whether EmbeddedBackend reads passages through policykb_native when it is installed
# (the environment variable POLICYKB_NATIVE=0 turns it off; tests compare both ways).
USE_NATIVE = os.environ.get("POLICYKB_NATIVE", "1") != "0"


def native_reader(path: Path):
    """A native reader of the passage index at ``path``, or None (module not built,
    turned off, or the folder unreadable to it: the Python path answers the same)."""
    if policykb_native is None or not USE_NATIVE:
        return None
    try:
        return policykb_native.PassageReader(str(path))
    except (OSError, ValueError) as exc:
        log.warning("native passage reader unavailable for %s: %s", path, exc)
        return None


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    for name in ("title", "title_joined", "body", "body_joined", "body_head", "authors"):
        sb.add_text_field(name, tokenizer_name="whitespace", index_option="position")
    sb.add_text_field("body_bigram", tokenizer_name="whitespace", index_option="freq")
    sb.add_text_field("institute", fast=True, tokenizer_name="raw")
    sb.add_text_field("regions", fast=True, tokenizer_name="raw")
    sb.add_text_field("doc_type", fast=True, tokenizer_name="raw")
    sb.add_text_field("publisher", fast=True, tokenizer_name="raw")
    sb.add_text_field("author", fast=True, tokenizer_name="raw")
    sb.add_integer_field("year", indexed=True, fast=True)
    sb.add_integer_field("datenum", indexed=True, fast=True)
    return sb.build()


def build_passage_schema() -> tantivy.Schema:
    """One entry per passage: its document, seq, page and terms (parts and joined
    compounds together; only term lookups, no phrases, so no positions)."""
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("doc_id", stored=True, fast=True, tokenizer_name="raw")
    sb.add_integer_field("seq", stored=True, indexed=False, fast=True)
    sb.add_integer_field("page", stored=True, indexed=False, fast=True)
    # The document as a number (doc_number), so one search over a page of hits' passages
    # reads each one's document from a fast field (a text fast field cannot be read so).
    sb.add_unsigned_field("doc_no", indexed=False, fast=True)
    sb.add_text_field("body", tokenizer_name="whitespace", index_option="freq")
    return sb.build()


def doc_number(doc_id: str) -> int:
    """A document id's 63-bit number in the passage index (a hash: when two ids of one
    page of hits share one, their passages are looked up the other way)."""
    return int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8).digest(), "big") >> 1


# A prepared entry (EmbeddedBackend.prepare): plain data, picklable, no per-token objects.
# Token fields are (name, terms joined by spaces, terms or None when the join cannot be
# split back, positions, start offsets, end offsets); frequency-only fields (bigrams,
# passage terms) are whitespace-joined text that the field's whitespace tokenizer splits
# into exactly those terms (same terms and counts as pre-tokenized; they keep no positions).
TokenField = tuple[str, str, "list[str] | None", array, array, array]


def _token_field(name: str, tokens) -> TokenField:
    terms = [t.term for t in tokens]
    text = " ".join(terms)
    return (
        name,
        text,
        None if _splits_back(text, terms) else terms,
        array("q", [t.position for t in tokens]),
        array("q", [t.start for t in tokens]),
        array("q", [t.end for t in tokens]),
    )


def _body_fields(doc: Document) -> list[TokenField]:
    """The "body" and "body_joined" fields, as ``_token_field`` of ``split_joined`` of
    ``with_sentinel``-ed :func:`body_tokens` gives them, built from the passages' tokens
    without a Token per term (the largest fields of a document)."""
    cols: tuple[tuple[list[str], array, array, array], ...] = tuple(
        ([], array("q"), array("q"), array("q")) for _ in range(2)
    )
    base = 0
    for p in doc.passages:
        tokens = p.tokens
        parts = [t for t in tokens if not t.joined]
        for some, (terms, positions, starts, ends) in zip(
            (parts, [t for t in tokens if t.joined]), cols, strict=True
        ):
            terms.extend([t.term for t in some])
            positions.extend([base + t.position for t in some])
            starts.extend([t.start for t in some])
            ends.extend([t.end for t in some])
        base += max([t.position for t in tokens], default=-1) + 1 + PASSAGE_POSITION_GAP
    out = []
    head = tuple(col[: ranking.POSITIONAL_HEAD] for col in cols[0])
    for name, (terms, positions, starts, ends) in zip(
        ("body", "body_joined", "body_head"), (*cols, head), strict=True
    ):
        terms.append(FIELD_SENTINEL)
        positions.append(max(positions, default=-1) + 1 + PASSAGE_POSITION_GAP)
        starts.append(0)
        ends.append(0)
        text = " ".join(terms)
        out.append(
            (name, text, None if _splits_back(text, terms) else terms, positions, starts, ends)
        )
    return out


def _splits_back(text: str, terms: list[str]) -> bool:
    """True when whitespace splitting ``text`` gives back exactly ``terms`` (no term is
    empty or holds a space of any kind)."""
    return len(text.split()) == len(terms)


def _pretokenized(field: TokenField) -> tantivy.PreTokenizedString:
    _name, text, terms, positions, starts, ends = field
    return tantivy.PreTokenizedString(
        text,
        list(
            map(tantivy.Token, text.split(" ") if terms is None else terms, positions, starts, ends)
        ),
    )


def _freq_text(terms: list[str]) -> tuple[str, list[str] | None]:
    """(text, None) when the whitespace tokenizer gives back ``terms`` from the text, else
    (text, terms)."""
    text = " ".join(terms)
    return text, None if _splits_back(text, terms) else terms


def _add_freq_field(d: tantivy.Document, name: str, text: str, terms: list[str] | None) -> None:
    if terms is None:
        d.add_text(name, text)
    else:  # a term with a space in it: hand tantivy the terms themselves
        d.add_pre_tokenized_text(
            name,
            tantivy.PreTokenizedString(
                text, [tantivy.Token(t, i, 0, 0) for i, t in enumerate(terms)]
            ),
        )


class EmbeddedBackend(SearchBackend):
    """tantivy on local disk, no server: one directory per index generation under
    ``index_dir``, the live one named by ``CURRENT``; readers reopen when it changes."""

    name = "embedded"

    def __init__(self, index_dir: Path | str) -> None:
        self.index_dir = Path(index_dir)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self.schema = build_schema()
        self.passage_schema = build_passage_schema()
        self._lock = threading.RLock()  # one writer at a time within this process
        # Per search, per thread: each word's query built once (see ``_memo``).
        self._built = threading.local()
        self._lock_fd: int | None = None  # write.lock while this process holds it
        self._lock_depth = 0
        self._generation: str | None = None
        self._index: tantivy.Index | None = None
        self._pindex: tantivy.Index | None = None
        self._native = None  # a native PassageReader over the passage index, when built
        self._last_reload = 0.0
        self._current_key: tuple | None = None  # (inode, mtime, size) of CURRENT last read
        self.needs_rebuild = False
        try:
            self._open_current()  # no lock: a rebuild elsewhere must not hold up a reader
        except IndexOutdated:
            with self._exclusive():
                try:
                    self._open_current()  # another process may have switched meanwhile
                except IndexOutdated:
                    # Built by an older schema: start an empty generation, marked pending;
                    # the caller refills it from the document store (see Runtime.backend).
                    # Another process opening it meanwhile sees the mark and waits for
                    # this rebuild (see :meth:`rebuild`).
                    name, _ = self._new_generation(pending=True)
                    self._switch_to(name)
                    self._open_current()

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the index folder's write lock: one writer across threads (``_lock``) and
        processes (``flock`` on ``write.lock``; a second process waits). Re-entrant."""
        with self._lock:
            if self._lock_depth == 0:
                fd = os.open(self.index_dir / "write.lock", os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self._lock_fd = fd
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0 and self._lock_fd is not None:
                    os.close(self._lock_fd)  # closing releases the flock
                    self._lock_fd = None

    def _refresh_locked(self) -> None:
        """Under the write lock: follow CURRENT if another process switched it."""
        if self._read_current() != self._generation:
            self._open_current()

    # -------------------------------------------------------------- generations
    @property
    def _current_file(self) -> Path:
        return self.index_dir / "CURRENT"

    def _read_current(self) -> str | None:
        try:
            return self._current_file.read_text().strip() or None
        except FileNotFoundError:
            return None

    def _new_generation(self, pending: bool = False) -> tuple[str, Path]:
        """A new empty generation; ``pending``: made in place of an outdated index, to be
        refilled by a rebuild (any process opening it sets :attr:`needs_rebuild`)."""
        name = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        path = self.index_dir / name
        path.mkdir(parents=True)
        meta: dict = {"schema_version": SCHEMA_VERSION}
        if pending:
            meta["pending_rebuild"] = True
        (path / "policykb.json").write_text(json.dumps(meta))
        tantivy.Index(self.schema, path=str(path))
        (path / PASSAGES_DIR).mkdir()
        tantivy.Index(self.passage_schema, path=str(path / PASSAGES_DIR))
        return name, path

    def _switch_to(self, name: str) -> None:
        tmp = self.index_dir / f"CURRENT.{os.getpid()}.tmp"
        tmp.write_text(name)
        os.replace(tmp, self._current_file)

    def _open_current(self) -> None:
        """Open the generation CURRENT names. Only a holder of the write lock may make
        one (none yet); a reader finding no such generation keeps the one it has."""
        name = self._read_current()
        if name is None or not (self.index_dir / name).is_dir():
            if self._lock_depth == 0 and self._index is not None:
                return  # a reader racing a switch: keep answering from the old one
            with self._exclusive():
                name = self._read_current()
                if name is None or not (self.index_dir / name).is_dir():
                    name, _ = self._new_generation()
                    self._switch_to(name)
        path = self.index_dir / name
        meta = json.loads((path / "policykb.json").read_text())
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise IndexOutdated(
                f"index schema {meta.get('schema_version')} != {SCHEMA_VERSION}; "
                "run `policykb reindex`"
            )
        self._index = tantivy.Index(self.schema, path=str(path), reuse=True)
        self._pindex = tantivy.Index(self.passage_schema, path=str(path / PASSAGES_DIR), reuse=True)
        self._native = native_reader(path / PASSAGES_DIR)
        self._generation = name
        self.needs_rebuild = bool(meta.get("pending_rebuild"))

    def _fresh_index(self) -> tantivy.Index:
        """The live index, reopened if another process switched generations."""
        if self._current_moved() and self._read_current() != self._generation:
            self._open_current()
        now = time.monotonic()
        if now - self._last_reload > 0.5:
            self._index.reload()
            self._reload_passages()
            self._last_reload = now
        return self._index

    def _reload_passages(self) -> None:
        self._pindex.reload()
        if self._native is not None:
            self._native.reload()

    def _current_moved(self) -> bool:
        """Whether CURRENT may name another generation than when last looked at: a stat
        instead of reading the file on every search (a switch replaces the file, so its
        inode changes)."""
        try:
            st = os.stat(self._current_file)
            key: tuple | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            key = None
        if key is not None and key == self._current_key:
            return False
        self._current_key = key
        return True

    def _fresh_passages(self) -> tantivy.Index:
        self._fresh_index()
        return self._pindex

    # ------------------------------------------------------------------ writing
    @staticmethod
    def prepare(doc: Document) -> tuple:
        """The document's entry and its passage entries as plain data (built in the ingest
        workers; :meth:`_entries` turns it into tantivy documents)."""
        title, title_joined = split_joined(doc.title_tokens)
        # Every scored field holds the sentinel (same collection statistics on both engines).
        fields = [
            _token_field(name, with_sentinel(tokens))
            for name, tokens in (
                ("title", title),
                ("title_joined", title_joined),
            )
        ]
        fields += _body_fields(doc)
        fields.append(
            _token_field("authors", with_sentinel([t for t in doc.author_tokens if not t.joined]))
        )
        bigrams = _freq_text([b for p in passage_bigrams(doc) for b in p] + [FIELD_SENTINEL])
        passages = [(seq, page, *_freq_text(terms)) for seq, page, terms in passage_entries(doc)]
        facets = (
            doc.institute,
            list(doc.regions),
            doc.doc_type,
            doc.publisher or UNKNOWN_PUBLISHER,
            list(doc.authors),
            doc.year,
            date_number(doc.date),
        )
        return doc.id, fields, bigrams, passages, facets

    @staticmethod
    def _entries(form: tuple) -> tuple[str, tantivy.Document, list[tantivy.Document]]:
        doc_id, fields, (bigrams, bigram_terms), passages, facets = form
        institute, regions, doc_type, publisher, authors, year, datenum = facets
        d = tantivy.Document()
        d.add_text("id", doc_id)
        for field in fields:
            d.add_pre_tokenized_text(field[0], _pretokenized(field))
        _add_freq_field(d, "body_bigram", bigrams, bigram_terms)
        d.add_text("institute", institute)
        for r in regions:
            d.add_text("regions", r)
        d.add_text("doc_type", doc_type)
        d.add_text("publisher", publisher)
        for a in authors:
            d.add_text("author", a)
        if year is not None:
            d.add_integer("year", year)
        d.add_integer("datenum", datenum)
        pdocs = []
        doc_no = doc_number(doc_id)
        for seq, page, text, terms in passages:
            pd = tantivy.Document()
            pd.add_text("doc_id", doc_id)
            pd.add_integer("seq", seq)
            pd.add_unsigned("doc_no", doc_no)
            if page is not None:
                pd.add_integer("page", page)
            _add_freq_field(pd, "body", text, terms)
            pdocs.append(pd)
        return doc_id, d, pdocs

    def _write(
        self,
        index: tantivy.Index,
        pindex: tantivy.Index,
        forms: Iterable[tuple],
        delete_first: bool,
        progress: ProgressFn | None = None,
        total: int = 0,
        heap: int = WRITER_HEAP,
    ) -> int:
        writer = index.writer(heap, 1)
        pwriter = pindex.writer(heap, 1)
        n = 0
        try:
            for form in forms:
                doc_id, d, pdocs = self._entries(form)
                if delete_first:
                    writer.delete_documents_by_term("id", doc_id)
                    pwriter.delete_documents_by_term("doc_id", doc_id)
                writer.add_document(d)
                for pd in pdocs:
                    pwriter.add_document(pd)
                n += 1
                if progress and n % 100 == 0:
                    progress(n, total)
            # Passages first: a document is never searchable before its passages are.
            pwriter.commit()
            writer.commit()
            pwriter.wait_merging_threads()
            writer.wait_merging_threads()
        except (ValueError, OSError) as exc:  # tantivy I/O errors (disk full, …)
            writer.rollback()
            pwriter.rollback()
            raise storage_error(exc) from exc  # the index lives in the data directory
        except BaseException:
            writer.rollback()
            pwriter.rollback()
            raise
        if progress:
            progress(n, total)
        return n

    def index(self, docs: Iterable[Document]) -> IndexOutcome:
        return self.index_prepared(self.prepare(d) for d in docs)

    def index_prepared(self, forms: Iterable[tuple]) -> IndexOutcome:
        with self._exclusive():
            self._refresh_locked()
            index = self._fresh_index()
            n = self._write(index, self._pindex, forms, delete_first=True)
            index.reload()
            self._reload_passages()
            return IndexOutcome(n)

    def delete(self, ids: Iterable[str]) -> None:
        with self._exclusive():
            self._refresh_locked()
            index = self._fresh_index()
            writer = index.writer(WRITER_HEAP, 1)
            pwriter = self._pindex.writer(WRITER_HEAP, 1)
            for doc_id in ids:
                writer.delete_documents_by_term("id", doc_id)
                pwriter.delete_documents_by_term("doc_id", doc_id)
            writer.commit()
            pwriter.commit()
            writer.wait_merging_threads()
            pwriter.wait_merging_threads()
            index.reload()
            self._reload_passages()

    def compact(self, docs: Iterable[Document], total: int) -> None:
        """tantivy-py offers no merge call: a new generation written by one writer is the
        compaction (switched atomically like any rebuild; searches keep answering)."""
        self.rebuild(docs, total)

    def rebuild(
        self, docs: Iterable[Document], total: int, progress: ProgressFn | None = None
    ) -> None:
        with self._exclusive():
            if self.needs_rebuild:
                # Asked for because the index was outdated: another process may have
                # refilled it while this one waited for the lock; then nothing to do.
                self._refresh_locked()
                if not self.needs_rebuild:
                    log.info("index %s already rebuilt by another process", self.index_dir)
                    return
            name, path = self._new_generation()
            try:
                index = tantivy.Index(self.schema, path=str(path), reuse=True)
                pindex = tantivy.Index(
                    self.passage_schema, path=str(path / PASSAGES_DIR), reuse=True
                )
                forms = (self.prepare(d) for d in docs)
                self._write(
                    index,
                    pindex,
                    forms,
                    delete_first=False,
                    progress=progress,
                    total=total,
                    heap=REBUILD_HEAP,
                )
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
            self._switch_to(name)
            self._open_current()
            self._index.reload()
            self._reload_passages()
            # Old generations (and leftovers of killed rebuilds) go; open readers elsewhere
            # keep their files until they reopen.
            for child in self.index_dir.iterdir():
                if child.is_dir() and child.name.startswith("gen-") and child.name != name:
                    shutil.rmtree(child, ignore_errors=True)

    # ------------------------------------------------------------------ reading
    def count(self) -> int:
        return self._fresh_index().searcher().num_docs

    def info(self) -> dict:
        size = sum(
            f.stat().st_size
            for f in (self.index_dir / (self._generation or "")).rglob("*")
            if f.is_file()
        )
        return {
            "backend": self.name,
            "generation": self._generation,
            "documents": self.count(),
            "size_bytes": size,
            "schema_version": SCHEMA_VERSION,
        }

    def doc_freqs(self, terms: list[str], *, titles: bool = False) -> dict[str, int]:
        searcher = self._fresh_index().searcher()
        fields = FREQ_FIELDS + (TITLE_FREQ_FIELDS if titles else ())
        return {t: sum(searcher.doc_freq(f, t) for f in fields) for t in terms}

    def _term(self, field: str, term: str) -> Query:
        return Query.term_query(self.schema, field, term)

    @contextmanager
    def _memo(self) -> Iterator[None]:
        """While a search builds its queries: each term alternative's query and each
        clause's matching part are built once, however many clauses use them (a
        pasted title's words appear in the filter, the scored words and the
        coordination clause, in both the term-only and the positional query: building
        a 15-word title's queries took 1.3 ms, 0.9 ms so). Nothing is kept from one
        search to the next."""
        outer = getattr(self._built, "memo", None)
        if outer is None:
            self._built.memo = {}
        try:
            yield
        finally:
            if outer is None:
                self._built.memo = None

    def _memoized(self, kind: str, obj, build):
        """``build()``, or what it gave for this very ``obj`` earlier in this search (the
        object is kept with it, so its id cannot be reused by another one meanwhile)."""
        memo = getattr(self._built, "memo", None)
        if memo is None:
            return build()
        kept = memo.get((kind, id(obj)))
        if kept is None or kept[0] is not obj:
            kept = memo[(kind, id(obj))] = (obj, build())
        return kept[1]

    def _alt(self, alt: TermAlt) -> Query:
        return self._memoized("alt", alt, lambda: self._build_alt(alt))

    def _build_alt(self, alt: TermAlt) -> Query:
        # Alternatives (a part, its joined compounds, synonyms) count once: the best one.
        per_term = []
        for term in alt.terms:
            subs = []
            for name, boost in ranking.term_fields():
                q = self._term(name, term)
                subs.append((Occur.Should, Query.boost_query(q, boost) if boost != 1 else q))
            per_term.append(Query.boolean_query(subs))
        if len(per_term) == 1:
            return per_term[0]
        if not ranking.DIS_MAX:
            return Query.boolean_query([(Occur.Should, q) for q in per_term])
        return Query.disjunction_max_query(per_term)

    def _word(self, alts: tuple[TermAlt, ...]) -> Query:
        """One query word's score: the best of its alternatives (see ``WORD_ONCE``)."""
        if len(alts) == 1:
            return self._alt(alts[0])
        return Query.disjunction_max_query(
            [self._alt(a) for a in alts], tie_breaker=ranking.WORD_TIE or None
        )

    def _matching(self, clause: AllOf) -> list[tuple[Occur, Query]]:
        """The terms an :class:`AllOf` needs, scored per word (``WORD_ONCE``): the
        alternatives filter (score 0, as an Elasticsearch filter), the words score."""
        return list(self._memoized("matching", clause, lambda: self._build_matching(clause)))

    def _build_matching(self, clause: AllOf) -> list[tuple[Occur, Query]]:

        def unscored(q: Query) -> tuple[Occur, Query]:
            return (Occur.Must, Query.const_score_query(q, 0.0))

        words = ranking.scored_words(clause)
        scored = [self._word(w) for w in words]
        if clause.required >= len(clause.alts):
            # A word of one alternative, scored as a Must, already requires it: its
            # zero-score filter would only add a union of five field scorers to every
            # match (the scores stay the same; ~0.2 ms a search on 100k pages of reports)
            alone = {w[0] for w in words if len(w) == 1}
            needed = [unscored(self._alt(a)) for a in clause.alts if a not in alone]
            return needed + [(Occur.Must, q) for q in scored]
        some = Query.boolean_query(
            [(Occur.Should, self._alt(a)) for a in clause.alts],
            minimum_number_should_match=clause.required,
        )
        if not clause.soft:
            return [unscored(some)] + [(Occur.Should, q) for q in scored]
        any_q = Query.boolean_query([(Occur.Should, self._alt(a)) for a in clause.alts])
        most = Query.boolean_query([unscored(some)] + [(Occur.Should, q) for q in scored])
        return (
            [unscored(any_q)]
            + [(Occur.Should, q) for q in scored]
            + [(Occur.Should, Query.boost_query(most, ranking.COORD_BONUS))]
        )

    def _phrase(self, field: str, parts: tuple[str, ...]) -> Query:
        return Query.phrase_query(self.schema, field, list(parts))

    def _positional_subs(self, clause: AllOf) -> list[Query]:
        """The positional clauses of an :class:`AllOf` (see ``RESCORE_WINDOW``)."""
        out = []
        if clause.phrase and ranking.PHRASE_BOOST:
            if ranking.body_phrase(clause):
                body = self._phrase(ranking.POSITIONAL_FIELD, clause.phrase)
                out.append(Query.boost_query(body, ranking.PHRASE_BOOST))
            out.append(
                Query.boost_query(
                    self._phrase("title", clause.phrase),
                    ranking.PHRASE_BOOST * ranking.TITLE_BOOST,
                )
            )
        boost = ranking.pair_boost(clause)
        for a, b in proximity_pairs(clause.phrase) if boost else ():
            pair = Query.phrase_query(
                self.schema, ranking.POSITIONAL_FIELD, [a, b], slop=ranking.PAIR_SLOP
            )
            out.append(Query.boost_query(pair, boost))
        return out

    def _term_subs(self, clause: AllOf) -> list[tuple[Occur, Query]]:
        """An :class:`AllOf`'s clauses without its positional ones."""
        subs = self._matching(clause)
        subs += [(Occur.Should, self._alt(a)) for a in clause.optional]
        for c in clause.compounds if ranking.COMPOUND_BONUS else ():
            subs.append(
                (
                    Occur.Should,
                    Query.boost_query(self._alt(TermAlt((c,))), ranking.PHRASE_BOOST),
                )
            )
        if clause.bigrams and ranking.BIGRAM_BOOST:
            bigram_q = Query.boolean_query(
                [(Occur.Should, self._term("body_bigram", b)) for b in clause.bigrams]
            )
            subs.append((Occur.Should, Query.boost_query(bigram_q, ranking.BIGRAM_BOOST)))
        return subs

    def _clause(self, clause, positions: bool = True) -> Query:
        """``clause`` as a query; without ``positions`` less its positional clauses (the
        first phase of a rescored search: same matches, term scores only)."""
        if isinstance(clause, AllOf):
            subs = list(self._memoized("terms", clause, lambda: self._term_subs(clause)))
            if positions:
                subs += [(Occur.Should, q) for q in self._positional_subs(clause)]
            return Query.boolean_query(subs)
        if isinstance(clause, Phrase):
            subs = [
                (
                    Occur.Should,
                    Query.boost_query(self._phrase("title", clause.parts), ranking.TITLE_BOOST),
                ),
                (Occur.Should, self._phrase("body", clause.parts)),
            ]
            for c in clause.compounds:
                subs.append((Occur.Should, self._alt(TermAlt((c,)))))
            return Query.boolean_query(subs)
        if isinstance(clause, AnyOf):
            return Query.boolean_query(
                [(Occur.Should, self._clause(c, positions)) for c in clause.clauses]
            )
        if isinstance(clause, Bool):
            return self._bool(clause, positions)
        raise TypeError(clause)

    def _matches(self, clause) -> Query:
        """``clause`` as a query of the same matches less its clauses that only score (a
        word's score, the coordination bonus, the bigram fallback, word order): what
        counts, facets and date order read (a pasted title's facets took about 3x as
        long over the scoring query)."""
        if isinstance(clause, AllOf):
            subs = self._memoized("terms", clause, lambda: self._term_subs(clause))
            return Query.boolean_query([s for s in subs if s[0] != Occur.Should] or list(subs))
        if isinstance(clause, AnyOf):
            return Query.boolean_query([(Occur.Should, self._matches(c)) for c in clause.clauses])
        if isinstance(clause, Bool):
            subs = [(Occur.Must, self._matches(c)) for c in clause.must]
            subs += [(Occur.MustNot, self._matches(c)) for c in clause.must_not]
            if not clause.must:
                subs.append((Occur.Must, Query.all_query()))
            return Query.boolean_query(subs)
        return self._clause(clause, positions=False)  # a phrase: its clauses are its matches

    def _bool(self, b: Bool, positions: bool = True) -> Query:
        subs = [(Occur.Must, self._clause(c, positions)) for c in b.must]
        subs += [(Occur.MustNot, self._clause(c, positions)) for c in b.must_not]
        if not b.must:
            subs.append((Occur.Must, Query.all_query()))
        return Query.boolean_query(subs)

    def _any_term(self, field: str, values) -> Query:
        """Documents with one of ``values`` in ``field``, each scoring 1 (a term-set query's
        score; that query costs ~0.2 ms a search whatever its size, term queries ~2 us)."""
        terms = [(Occur.Should, self._term(field, v)) for v in values]
        return Query.const_score_query(Query.boolean_query(terms), 1.0)

    def _filters(self, f: Filters) -> list[Query]:
        out = []
        for field, values in (
            ("institute", f.institutes),
            ("regions", f.regions),
            ("doc_type", f.doc_types),
            ("publisher", f.publishers),
            ("author", f.authors),
        ):
            if values:
                out.append(self._any_term(field, values))
        if f.year_from is not None or f.year_to is not None:
            out.append(
                Query.range_query(
                    self.schema, "year", tantivy.FieldType.Integer, f.year_from, f.year_to
                )
            )
        return out

    def _with_filters(self, base: Query, f: Filters) -> Query:
        fq = self._filters(f)
        if not fq:
            return base
        return Query.boolean_query([(Occur.Must, base)] + [(Occur.Must, q) for q in fq])

    def search(
        self, query: Bool, filters: Filters, sort: str, offset: int, limit: int, facets: bool = True
    ) -> BackendResult:
        try:
            with self._memo():
                return self._search(query, filters, sort, offset, limit, facets)
        except (ValueError, OSError) as exc:
            raise BackendError("내장 검색 색인을 읽지 못했습니다", str(exc)) from exc

    def _search(
        self, query: Bool, filters: Filters, sort: str, offset: int, limit: int, facets: bool
    ) -> BackendResult:
        index = self._fresh_index()
        searcher = index.searcher()
        # Every match scored in one query (see ``RESCORE_WINDOW``: a second query over
        # a window's ids costs tantivy as much as it saves). Counts, facets and date
        # order need no positions: the term query.
        relevance = sort == "relevance" and bool(query.must)
        terms = self._matches(query) if facets or not relevance else None
        if relevance:
            full = self._with_filters(self._bool(query), filters)

            def run(n: int):
                return searcher.search(full, n, count=True)
        else:
            order = tantivy.Order.Asc if sort == "oldest" else tantivy.Order.Desc
            dated = self._with_filters(terms, filters)

            def run(n: int):
                return searcher.search(dated, n, count=True, order_by_field="datenum", order=order)

        # Ties (equal score, or equal date) by document id (see ``TIE_PAD``).
        requested = tie_first_request(offset, limit)
        res = run(requested)
        values = [s for s, _ in res.hits]
        while more := tie_next_request(values, requested, offset, limit):
            requested = more
            res = run(requested)
            values = [s for s, _ in res.hits]
        addrs = [a for _, a in res.hits]
        page = stable_page(
            values,
            lambda a, b: [searcher.doc(x)["id"][0] for x in addrs[a:b]],
            offset,
            limit,
        )
        hits = [BackendHit(doc_id, float(values[i])) for i, doc_id in page]
        facet_counts = self._facets(searcher, terms, filters) if facets else {}
        return BackendResult(res.count, hits, facet_counts)

    def _facets(self, searcher, base: Query, filters: Filters) -> dict[str, dict[str, int]]:
        # Facets whose filter is not set share one aggregation over the fully filtered query.
        groups: dict[Filters, list[str]] = {}
        for facet in FACETS:
            groups.setdefault(filters.without(facet), []).append(facet)
        out: dict[str, dict[str, int]] = {}
        for f, names in groups.items():
            aggs = {
                n: {"terms": {"field": FACET_FIELDS[n], "size": FACET_SIZES.get(n, 10000)}}
                for n in names
            }
            result = searcher.aggregate(self._with_filters(base, f), aggs)
            for n in names:
                out[n] = {str(b["key"]): int(b["doc_count"]) for b in result[n]["buckets"]}
        return out

    # ----------------------------------------------------------------- passages
    def _passage_docs(self, doc_ids: list[str]) -> Query:
        # A union of term queries, not a term set: a term set query visits every passage of
        # the index (3x slower over 50,000 passage entries); the union only the documents'.
        return Query.boolean_query(
            [(Occur.Should, Query.term_query(self.passage_schema, "doc_id", d)) for d in doc_ids]
        )

    def _passage_words(self, terms: Iterable[str]) -> list[Query]:
        return [Query.term_query(self.passage_schema, "body", t) for t in sorted(set(terms))]

    @staticmethod
    def _held_and_bm25(words: list[Query]) -> Query:
        """Passages ranked by distinct ``words`` held (:data:`PASSAGE_TERM_WEIGHT` each),
        then BM25."""
        return Query.boolean_query(
            [
                (Occur.Should, c)
                for w in words
                for c in (w, Query.const_score_query(w, PASSAGE_TERM_WEIGHT))
            ]
        )

    def _passage_query(self, doc_ids: list[str], terms: Iterable[str]) -> Query | None:
        terms = sorted(set(terms))
        if not terms or not doc_ids:
            return None
        return Query.boolean_query(
            [
                (Occur.Must, self._passage_docs(doc_ids)),
                (
                    Occur.Must,
                    Query.boolean_query([(Occur.Should, w) for w in self._passage_words(terms)]),
                ),
            ]
        )

    def passages(
        self, doc_ids: list[str], terms: Iterable[str], per_doc: int = BEST_PASSAGES
    ) -> dict[str, DocPassages]:
        terms = list(terms)
        ids = list(dict.fromkeys(doc_ids))
        if not terms or not ids:
            return {}
        try:
            pindex = self._fresh_passages()
            if self._native is not None:
                return self._native_passages(ids, terms, per_doc)
            query = self._passage_query(ids, terms)
            searcher = pindex.searcher()
            matched, pages = read_pages_agg(searcher.aggregate(query, pages_agg(len(ids))))
            if not matched:
                return {}
            best = None
            total = sum(matched.values())
            if len(set(terms)) >= AT_ONCE_TERMS and total <= AT_ONCE_PER_DOC * len(matched):
                best = self._best_at_once(searcher, list(matched), terms, per_doc)
            if best is None:
                best = self._best_passages(searcher, list(matched), terms, per_doc)
            return doc_passages_from(best, pages, matched, ids)
        except (ValueError, OSError) as exc:
            raise BackendError(f"embedded index error: {exc}") from exc

    def _native_passages(
        self, ids: list[str], terms: list[str], per_doc: int
    ) -> dict[str, DocPassages]:
        """What the aggregation and best-passage searches below answer, in one native
        call (policykb_native walks each document's passage postings against each
        term's scorer, with the same scores)."""
        rows = self._native.passages(
            ids, sorted(set(terms)), per_doc, MAX_MATCH_PAGES, PASSAGE_TERM_WEIGHT
        )
        out: dict[str, DocPassages] = {}
        for doc_id, (matched, pages, best) in zip(ids, rows, strict=True):
            if matched:
                found = [PassageMatch(seq, page, score) for seq, page, score in best]
                out[doc_id] = DocPassages(best_first(found), pages, matched)
        return out

    def holders(self, doc_ids: list[str], terms: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(doc_ids))
        query = self._passage_query(ids, list(terms))
        if query is None:
            return set()
        agg = {"docs": {"terms": {"field": "doc_id", "size": len(ids)}}}
        try:
            result = self._fresh_passages().searcher().aggregate(query, agg)
        except (ValueError, OSError) as exc:
            raise BackendError(f"embedded index error: {exc}") from exc
        return {b["key"] for b in result["docs"]["buckets"] if b["doc_count"]}

    def _best_at_once(
        self, searcher, ids: list[str], terms: list[str], per_doc: int
    ) -> dict[str, list[PassageMatch]] | None:
        """What :meth:`_best_passages` answers, from one search over all the matching
        passages of the documents ``ids`` (each one's document read from the ``doc_no``
        fast field) instead of one or two per document, with the same score (1 for the
        document clause, :data:`PASSAGE_TERM_WEIGHT` per distinct term held, plus BM25).
        For queries of many terms (a pasted title), where the per-document way mostly
        takes its second search of two clauses per term: a search prepares each term's
        weight once instead of once per document. None when two ids share a number."""
        numbers = {doc_number(d): d for d in ids}
        if len(numbers) != len(ids):
            return None
        docs = Query.const_score_query(self._passage_docs(ids), 1.0)
        ranked = self._held_and_bm25(self._passage_words(terms))
        query = Query.boolean_query([(Occur.Must, docs), (Occur.Must, ranked)])
        hits = searcher.search(query, AT_ONCE_PER_DOC * len(ids), count=False).hits
        nos = searcher.fast_field_values("doc_no", [a for _s, a in hits]) if hits else []
        # Hits come best first: a document's first ``per_doc`` are its best, but for ties
        # at the 4 decimals best_first compares, which may reach further.
        counted: dict[int, int] = {}
        floor: dict[int, float] = {}
        kept = []
        for (score, addr), n in zip(hits, nos, strict=True):
            key = round(score, 4)
            have = counted.get(n, 0)
            if have >= per_doc and key < floor[n]:
                continue
            counted[n] = have + 1
            if have + 1 == per_doc:
                floor[n] = key
            kept.append((numbers[n], float(score), addr))
        addrs = [a for _d, _s, a in kept]
        seqs = searcher.fast_field_values("seq", addrs) if addrs else []
        pages = searcher.fast_field_values("page", addrs) if addrs else []
        best: dict[str, list[PassageMatch]] = {d: [] for d in ids}
        for (doc_id, score, _a), seq, page in zip(kept, seqs, pages, strict=True):
            best[doc_id].append(PassageMatch(int(seq), page, score))
        for rows in best.values():
            best_first(rows)
            del rows[per_doc:]
        return best

    def _best_passages(
        self, searcher, doc_ids: list[str], terms: list[str], per_doc: int
    ) -> dict[str, list[PassageMatch]]:
        """Each document's ``per_doc`` best passages: small searches per document (its id
        as a constant-score term, so scores equal those of the whole-set query), seq and
        page read from fast fields for all of them at once (no stored documents).

        Passages rank by distinct terms, then BM25 (the score is
        :data:`PASSAGE_TERM_WEIGHT` per term held plus BM25), mostly without the
        constant-score clauses, which double the postings read: the passages holding
        every term come first and BM25 alone orders them; when a document has none and
        the query has two terms, every candidate holds one and BM25 alone orders them
        too. Only the rest (three terms or more, or fewer passages with every term than
        ``per_doc``) take the query with a constant-score clause per term."""
        words = self._passage_words(terms)
        every = [(Occur.Must, w) for w in words]
        one_of = Query.boolean_query([(Occur.Should, w) for w in words])
        ranked: Query | None = None
        owners: list[tuple[str, float]] = []
        addrs = []
        for doc_id in doc_ids:
            only_doc = (
                Occur.Must,
                Query.const_score_query(
                    Query.term_query(self.passage_schema, "doc_id", doc_id), 1.0
                ),
            )
            hits = searcher.search(
                Query.boolean_query([only_doc, *every]), per_doc, count=False
            ).hits
            held = len(words)
            if len(hits) < per_doc and held > 1:
                if not hits and held == 2:
                    query, held = one_of, 1
                else:
                    if ranked is None:
                        ranked = self._held_and_bm25(words)
                    query, held = ranked, 0  # the constants are in the scores
                query = Query.boolean_query([only_doc, (Occur.Must, query)])
                hits = searcher.search(query, per_doc, count=False).hits
            for score, addr in hits:
                owners.append((doc_id, float(score) + PASSAGE_TERM_WEIGHT * held))
                addrs.append(addr)
        seqs = searcher.fast_field_values("seq", addrs) if addrs else []
        pages = searcher.fast_field_values("page", addrs) if addrs else []
        best: dict[str, list[PassageMatch]] = {d: [] for d in doc_ids}
        for (doc_id, score), seq, page in zip(owners, seqs, pages, strict=True):
            best[doc_id].append(PassageMatch(int(seq), page, score))
        for rows in best.values():
            best_first(rows)
        return best

    def matching_passages(
        self, doc_id: str, terms: Iterable[str], limit: int = MAX_MATCH_PAGES
    ) -> list[PassageMatch]:
        query = self._passage_query([doc_id], list(terms))
        if query is None:
            return []
        try:
            res = self._fresh_passages().searcher().aggregate(query, seqs_agg(limit))
        except (ValueError, OSError) as exc:
            raise BackendError(f"embedded index error: {exc}") from exc
        return read_seqs_agg(res)
