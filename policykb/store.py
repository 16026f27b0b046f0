"""The canonical document store (SQLite): text, metadata, passages with their analyzed
tokens (the analysis cache), and per-file ingest status with errors.

The search index can always be rebuilt from here; the store is never rebuilt from the index.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from analyzers.tokens import token_spans, tokens_from_json, tokens_to_json
from corpus import institutes as registry
from policykb.models import UNKNOWN_PUBLISHER, Document, Passage, Token

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    institute TEXT NOT NULL,
    institute_published TEXT,
    regions TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    date TEXT,
    url TEXT,
    source_path TEXT,
    page_count INTEGER,
    title_tokens TEXT NOT NULL,
    analyzer_id TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    page INTEGER,
    text TEXT NOT NULL,
    tokens TEXT NOT NULL,
    PRIMARY KEY (doc_id, seq)
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    doc_id TEXT,
    sha256 TEXT,
    size INTEGER,
    status TEXT NOT NULL,          -- indexed | failed
    error TEXT,
    analyzer_id TEXT,
    updated_at REAL NOT NULL
);
-- Analysis state (lexicon edits): see LINEAGE_KEY and INDEX_PENDING_KEY.
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- Deleted documents, for OAI-PMH harvesters (deletedRecord = persistent).
CREATE TABLE IF NOT EXISTS deleted_documents (
    id TEXT PRIMARY KEY,
    institute TEXT,
    regions TEXT,
    deleted_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS deleted_documents_at ON deleted_documents(deleted_at, id);
-- Institutes named by catalogues that the shipped registry does not know (non-members).
CREATE TABLE IF NOT EXISTS registered_institutes (
    name TEXT PRIMARY KEY,
    regions TEXT NOT NULL,
    kind TEXT NOT NULL
);
-- Tokens of analyzed passage texts by text hash and analyzer (ingest re-analyzes only
-- the passages that changed).
CREATE TABLE IF NOT EXISTS analysis_cache (
    text_hash TEXT NOT NULL,
    analyzer_id TEXT NOT NULL,
    tokens TEXT NOT NULL,
    PRIMARY KEY (text_hash, analyzer_id)
);
-- SimHash bands of canonical documents (near-duplicate candidates, ingest/dedup.py).
CREATE TABLE IF NOT EXISTS simhash_bands (
    doc_id TEXT NOT NULL,
    band INTEGER NOT NULL,
    value INTEGER NOT NULL
);
-- Catalogue records (ingest/catalogue.py) and the harvest of their originals.
CREATE TABLE IF NOT EXISTS catalogue_records (
    key TEXT PRIMARY KEY,          -- source:institute:id or source:url:URL
    source TEXT NOT NULL,
    doc_id TEXT NOT NULL,          -- its own metadata-only document, or its original's
    record TEXT NOT NULL,          -- the normalized record (JSON)
    fingerprint TEXT NOT NULL,
    url TEXT,
    match_key TEXT,
    indexed INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS harvest_items (
    key TEXT PRIMARY KEY,          -- the catalogue record's key
    doc_id TEXT NOT NULL,
    url TEXT NOT NULL,
    status TEXT NOT NULL,          -- fetched | ingested | failed
    http_status INTEGER,
    final_url TEXT,
    etag TEXT,
    last_modified TEXT,
    file_path TEXT,
    content_type TEXT,
    error TEXT,                    -- "[reason] message"
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
-- Admin accounts (policykb/accounts.py).
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    label TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    sid_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (
    key TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    username TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    client TEXT
);
-- Saved searches (policykb/saved.py).
CREATE TABLE IF NOT EXISTS saved_searches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""

# Columns added after the first release: (table, column, declaration). Added in place
# when an older store is opened.
MIGRATIONS = (
    ("documents", "department", "TEXT"),
    ("documents", "authors", "TEXT NOT NULL DEFAULT '[]'"),
    ("documents", "contacts", "TEXT NOT NULL DEFAULT '[]'"),
    ("documents", "places", "TEXT NOT NULL DEFAULT '[]'"),
    ("documents", "content_hash", "TEXT"),
    ("documents", "simhash", "INTEGER"),
    ("documents", "canonical_id", "TEXT"),
    ("documents", "publisher", "TEXT NOT NULL DEFAULT '미상'"),
    ("documents", "ocr", "TEXT"),  # JSON {"confidence": mean, "pages": [..]} of OCR text
    ("documents", "author_tokens", "TEXT NOT NULL DEFAULT '[]'"),
    ("documents", "match_key", "TEXT"),
    # Saved searches of stores made before owners: their rows have no owner (nobody lists them).
    ("saved_searches", "owner", "TEXT"),
    ("saved_searches", "key", "TEXT"),
    # Which analyzer (code + lexicon identity) produced a passage's tokens; NULL in stores
    # from before per-passage stamps: the document's analyzer_id then stands for them.
    ("passages", "analyzer_id", "TEXT"),
)
INDEXES = (
    "CREATE INDEX IF NOT EXISTS documents_content_hash ON documents(content_hash)",
    "CREATE INDEX IF NOT EXISTS documents_canonical ON documents(canonical_id)",
    "CREATE INDEX IF NOT EXISTS files_doc ON files(doc_id)",
    # Windows of a long document by page (document page, page navigator).
    "CREATE INDEX IF NOT EXISTS passages_page ON passages(doc_id, page, seq)",
    "CREATE INDEX IF NOT EXISTS documents_url ON documents(url)",
    "CREATE INDEX IF NOT EXISTS documents_match_key ON documents(match_key)",
    "CREATE INDEX IF NOT EXISTS documents_updated ON documents(updated_at, id)",
    "CREATE INDEX IF NOT EXISTS simhash_bands_lookup ON simhash_bands(band, value)",
    "CREATE INDEX IF NOT EXISTS simhash_bands_doc ON simhash_bands(doc_id)",
    "CREATE INDEX IF NOT EXISTS catalogue_source ON catalogue_records(source)",
    "CREATE INDEX IF NOT EXISTS catalogue_doc ON catalogue_records(doc_id)",
    "CREATE INDEX IF NOT EXISTS catalogue_url ON catalogue_records(url)",
    "CREATE INDEX IF NOT EXISTS catalogue_match ON catalogue_records(match_key)",
    "CREATE INDEX IF NOT EXISTS harvest_status ON harvest_items(status)",
    "CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures (key, at)",
    "CREATE UNIQUE INDEX IF NOT EXISTS saved_searches_key ON saved_searches (key)",
    "CREATE INDEX IF NOT EXISTS saved_searches_owner ON saved_searches (owner, id)",
    "CREATE INDEX IF NOT EXISTS passages_analyzer ON passages(analyzer_id)",
)
SAVED_FIELDS = "id, name, query, created_at, owner, key"
# Meta key: the analyzer identities (JSON list) whose analyses equal the current one's.
# A targeted lexicon edit appends its new identity: it re-analyzed every passage the edit
# could change, so the others' tokens are the new analyzer's too.
LINEAGE_KEY = "analysis_lineage"
# Meta key: documents re-analyzed by a lexicon edit whose index entries are not yet
# written (a crash in between; `policykb reindex` rebuilds them).
INDEX_PENDING_KEY = "index_pending"


NAMED_BATCH = 400  # passages named per statement (2 parameters each)
MMAP_BYTES = 1 << 30  # address space only; pages come from the OS cache as they are read


@dataclass(slots=True)
class FileRecord:
    path: str
    doc_id: str | None
    sha256: str | None
    size: int | None
    status: str
    error: str | None
    analyzer_id: str | None
    updated_at: float


_TITLE_NOISE_RE = re.compile(r"[\W_]+")


def normalize_title(title: str) -> str:
    """A title reduced for matching: NFKC, lower case, no spaces or punctuation."""
    return _TITLE_NOISE_RE.sub("", unicodedata.normalize("NFKC", title or "").lower())


def match_key(institute: str | None, year: int | None, title: str | None) -> str | None:
    """institute|year|normalized title: how a file is recognized as a catalogue record's
    original when their URLs differ."""
    norm = normalize_title(title or "")
    if not norm or not institute or institute == "미상" or year is None:
        return None
    return f"{institute}|{year}|{norm}"


def _json_list(raw: str | None) -> list:
    """A stored JSON list column (NULL and the common empty list without decoding)."""
    return json.loads(raw) if raw and raw != "[]" else []


def _passage_from_row(r: sqlite3.Row, only: frozenset[str] | None = None) -> Passage:
    return Passage(r["seq"], r["page"], r["text"], tokens_from_json(r["tokens"], only))


@contextmanager
def _atomic(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Commit on success, roll back on error."""
    try:
        yield con
        con.commit()
    except BaseException:
        con.rollback()
        raise


class DocumentStore:
    """The canonical copy of everything ingested, in one SQLite file, and the one owner
    of the SQLite schema and its SQL: documents, passages, files, the analysis cache,
    duplicate bands, catalogue and harvest tables, accounts and saved searches. Tables and columns are created or migrated in place when a store is opened;
    other modules go through its methods (``connect()`` gives a transaction for a group
    of writes that must land together). Each thread gets its own connection. The search
    index is always rebuilt from here, never the other way round."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self.connect() as con:
            con.executescript(SCHEMA)
            columns: dict[str, set[str]] = {}
            for table, column, decl in MIGRATIONS:
                if table not in columns:
                    columns[table] = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
                if column not in columns[table]:
                    try:
                        con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
                    except sqlite3.OperationalError:  # another process added it meanwhile
                        if column not in {r[1] for r in con.execute(f"PRAGMA table_info({table})")}:
                            raise
            have = columns["documents"]
            if "match_key" not in have:
                rows = con.execute("SELECT id, institute, date, title FROM documents").fetchall()
                con.executemany(
                    "UPDATE documents SET match_key = ? WHERE id = ?",
                    [(match_key(r[1], int(r[2][:4]) if r[2] else None, r[3]), r[0]) for r in rows],
                )
            for sql in INDEXES:
                con.execute(sql)
            for name, regions, kind in con.execute(
                "SELECT name, regions, kind FROM registered_institutes"
            ).fetchall():
                registry.register(name, tuple(json.loads(regions)), kind)

    def save_institute(self, inst: registry.Institute) -> None:
        """Remember an institute registered at run time (every process loads it on open)."""
        with self.connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO registered_institutes (name, regions, kind) VALUES (?,?,?)",
                (inst.name, json.dumps(list(inst.regions), ensure_ascii=False), inst.kind),
            )

    def _conn(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30)
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA foreign_keys=ON")
            con.execute("PRAGMA synchronous=NORMAL")
            # Reads through a memory map: no system call per page, which counts when a page
            # of hits reads thirty long passages (overflow pages) of a large store.
            con.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            self._local.con = con
        return con

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A transaction: committed on success, rolled back on error. Inside
        :meth:`transaction` it is a savepoint of that transaction instead."""
        con = self._conn()
        depth = getattr(self._local, "savepoints", None)
        if depth is not None:
            name = f"sp{depth + 1}"
            self._local.savepoints = depth + 1
            con.execute(f"SAVEPOINT {name}")
            try:
                yield con
            except BaseException:
                try:
                    con.execute(f"ROLLBACK TO {name}")
                    con.execute(f"RELEASE {name}")
                except sqlite3.Error:  # an I/O error (full disk) already ended the transaction
                    pass
                raise
            else:
                con.execute(f"RELEASE {name}")
            finally:
                self._local.savepoints = depth
            return
        with _atomic(con):
            yield con

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction around many writes (an ingest's batch of documents): the
        :meth:`connect` blocks inside become savepoints, committed together at the end."""
        con = self._conn()
        if getattr(self._local, "savepoints", None) is not None:
            with self.connect() as inner:  # nested: a savepoint
                yield inner
            return
        if con.in_transaction:
            con.commit()
        con.execute("BEGIN")
        self._local.savepoints = 0
        try:
            with _atomic(con):
                yield con
        finally:
            self._local.savepoints = None

    def _value(self, sql: str, args: tuple = (), con: sqlite3.Connection | None = None):
        """The first column of the first row of ``sql``, or None when there is no row."""
        row = (con or self._conn()).execute(sql, args).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    # ------------------------------------------------------------------ documents
    def put_document(
        self,
        doc: Document,
        analyzer_id: str,
        con: sqlite3.Connection,
        passage_tokens: list[str] | None = None,
    ) -> None:
        """Write ``doc``; ``passage_tokens`` (one tokens JSON per passage, as
        ``analyzers.tokens.tokens_to_json`` makes it) stands in for the passages' tokens."""
        con.execute("DELETE FROM passages WHERE doc_id = ?", (doc.id,))
        con.execute(
            """INSERT OR REPLACE INTO documents (id, title, institute, institute_published,
               regions, doc_type, date, url, source_path, page_count, title_tokens,
               analyzer_id, updated_at, department, authors, contacts, places, content_hash,
               simhash, canonical_id, author_tokens, match_key)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            (
                doc.id,
                doc.title,
                doc.institute,
                doc.institute_published,
                json.dumps(doc.regions, ensure_ascii=False),
                doc.doc_type,
                doc.date,
                doc.url,
                doc.source_path,
                doc.page_count,
                tokens_to_json(doc.title_tokens),
                analyzer_id,
                time.time(),
                doc.department,
                json.dumps(doc.authors, ensure_ascii=False),
                json.dumps(doc.contacts, ensure_ascii=False),
                json.dumps(doc.places, ensure_ascii=False),
                doc.content_hash,
                doc.simhash,
                doc.canonical_id,
                tokens_to_json(doc.author_tokens),
                match_key(doc.institute, doc.year, doc.title),
            ),
        )
        con.execute(
            "UPDATE documents SET publisher = ?, ocr = ? WHERE id = ?",
            (
                doc.publisher or UNKNOWN_PUBLISHER,
                json.dumps({"confidence": doc.ocr_confidence, "pages": doc.ocr_pages})
                if doc.ocr_pages
                else None,
                doc.id,
            ),
        )
        con.execute("DELETE FROM deleted_documents WHERE id = ?", (doc.id,))
        if passage_tokens is None:
            passage_tokens = [tokens_to_json(p.tokens) for p in doc.passages]
        con.executemany(
            "INSERT INTO passages (doc_id, seq, page, text, tokens, analyzer_id) "
            "VALUES (?,?,?,?,?,?)",
            [
                (doc.id, p.seq, p.page, p.text, raw, analyzer_id)
                for p, raw in zip(doc.passages, passage_tokens, strict=True)
            ],
        )

    def delete_document(self, doc_id: str, con: sqlite3.Connection) -> None:
        row = con.execute(
            "SELECT institute, regions FROM documents WHERE id = ?", (doc_id,)
        ).fetchone()
        if row is not None:
            con.execute(
                "INSERT OR REPLACE INTO deleted_documents (id, institute, regions, deleted_at) "
                "VALUES (?,?,?,?)",
                (doc_id, row[0], row[1], time.time()),
            )
        con.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
        con.execute("DELETE FROM documents WHERE id = ?", (doc_id,))

    def _doc_from_row(self, row: sqlite3.Row, passages: list[Passage]) -> Document:
        doc = self._doc_core(row, passages)
        keys = row.keys()
        if "publisher" in keys:
            doc.publisher = row["publisher"] or UNKNOWN_PUBLISHER
        if "ocr" in keys and row["ocr"]:
            ocr = json.loads(row["ocr"])
            doc.ocr_confidence, doc.ocr_pages = ocr.get("confidence"), ocr.get("pages") or []
        return doc

    def _doc_core(self, row: sqlite3.Row, passages: list[Passage]) -> Document:
        return Document(
            id=row["id"],
            title=row["title"],
            institute=row["institute"],
            regions=_json_list(row["regions"]),
            doc_type=row["doc_type"],
            date=row["date"],
            url=row["url"],
            source_path=row["source_path"],
            institute_published=row["institute_published"],
            page_count=row["page_count"],
            passages=passages,
            title_tokens=tokens_from_json(row["title_tokens"]),
            department=row["department"],
            authors=_json_list(row["authors"]),
            contacts=_json_list(row["contacts"]),
            places=_json_list(row["places"]),
            content_hash=row["content_hash"],
            simhash=row["simhash"],
            canonical_id=row["canonical_id"],
            author_tokens=tokens_from_json(row["author_tokens"] or "[]"),
        )

    def get_document(self, doc_id: str, with_passages: bool = True) -> Document | None:
        con = self._conn()
        row = con.execute("SELECT * FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            return None
        passages = self.get_passages(doc_id) if with_passages else []
        return self._doc_from_row(row, passages)

    def get_documents(self, ids: list[str]) -> dict[str, Document]:
        """Metadata only (no passages) for ``ids``."""
        if not ids:
            return {}
        con = self._conn()
        marks = ",".join("?" * len(ids))
        rows = con.execute(f"SELECT * FROM documents WHERE id IN ({marks})", ids).fetchall()
        return {r["id"]: self._doc_from_row(r, []) for r in rows}

    def get_dates(self, ids: list[str]) -> dict[str, str | None]:
        """id -> date (ISO or None) of ``ids``: all the recency re-rank reads, without
        decoding any other metadata."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._conn().execute(f"SELECT id, date FROM documents WHERE id IN ({marks})", ids)
        return {r[0]: r[1] for r in rows}

    def get_hit_documents(self, ids: list[str]) -> dict[str, Document]:
        """Metadata for a page of hits: only what a hit shows (title, institute, regions,
        type, date, url, whether the original file is there, publisher, authors); the
        other fields keep their defaults (no tokens, contacts or places decoded)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._conn().execute(
            "SELECT id, title, institute, regions, doc_type, date, url, source_path, "
            f"publisher, authors FROM documents WHERE id IN ({marks})",
            ids,
        )
        return {
            r[0]: Document(
                r[0],
                r[1],
                r[2],
                _json_list(r[3]),
                r[4],
                r[5],
                url=r[6],
                source_path=r[7],
                publisher=r[8] or UNKNOWN_PUBLISHER,
                authors=_json_list(r[9]),
            )
            for r in rows
        }

    def title_terms(self, ids: list[str]) -> dict[str, set[str]]:
        """The analyzed terms of each document's title and authors (doc id -> terms): what
        the engine matches besides the passages, read without decoding any passage."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._conn().execute(
            f"SELECT id, title_tokens, author_tokens FROM documents WHERE id IN ({marks})", ids
        )
        return {
            r[0]: {t.term for col in (r[1], r[2]) if col for t in tokens_from_json(col)}
            for r in rows
        }

    def get_passages(self, doc_id: str) -> list[Passage]:
        rows = (
            self._conn()
            .execute(
                "SELECT seq, page, text, tokens FROM passages WHERE doc_id = ? ORDER BY seq",
                (doc_id,),
            )
            .fetchall()
        )
        return [_passage_from_row(r) for r in rows]

    def get_passages_by_seq(
        self, wanted: dict[str, list[int]], only_terms: frozenset[str] | None = None
    ) -> dict[str, list[Passage]]:
        """Only the passages named (doc id -> seqs), each document's in seq order: reading a
        hit's snippet never decodes the rest of a long document. With ``only_terms`` the
        passages carry only the tokens of those terms."""
        return {
            doc_id: [_passage_from_row(r, only_terms) for r in rows]
            for doc_id, rows in self._named_passages(wanted)
        }

    def _named_passages(self, wanted: dict[str, list[int]]) -> Iterator[tuple[str, list]]:
        """(doc id, its named passage rows in seq order), documents naming no seq left out:
        one primary-key lookup per passage, in one statement per :data:`NAMED_BATCH`
        passages (a page of hits is one statement)."""
        pairs = [(d, s) for d, seqs in wanted.items() for s in sorted(set(seqs))]
        found: dict[str, list] = {}
        con = self._conn()
        for i in range(0, len(pairs), NAMED_BATCH):
            chunk = pairs[i : i + NAMED_BATCH]
            rows = con.execute(
                f"WITH w(d, s) AS (VALUES {','.join(['(?,?)'] * len(chunk))}) "
                "SELECT p.doc_id, p.seq, p.page, p.text, p.tokens FROM w "
                "CROSS JOIN passages p ON p.doc_id = w.d AND p.seq = w.s",
                [v for pair in chunk for v in pair],
            ).fetchall()
            for r in rows:
                found.setdefault(r["doc_id"], []).append(r)
        for doc_id, seqs in wanted.items():
            if seqs:
                yield doc_id, found.get(doc_id, [])

    def get_snippet_spans(
        self, wanted: dict[str, list[int]], terms: frozenset[str]
    ) -> dict[str, tuple[Passage, list[tuple[int, int]]]]:
        """Of the passages named (doc id -> seqs), only the one each document's snippet
        is cut from (:func:`policykb.highlight.best_passage`'s choice; the first one
        when none holds a term), without tokens, with the (start, end) offsets of its
        ``terms``' tokens in stored order instead: all a snippet needs
        (:func:`policykb.highlight.snippet_from`). The candidates are ranked on the stored
        token text; no token object is made per occurrence."""
        terms = frozenset(terms)
        out: dict[str, tuple[Passage, list[tuple[int, int]]]] = {}
        for doc_id, row, matches in self._snippet_rows(wanted, terms):
            if not matches:
                spans = []
            elif isinstance(matches[0], Token):
                spans = [(t.start, t.end) for t in matches]
            else:
                spans = [(int(m[1]), int(m[2])) for m in matches]
            out[doc_id] = (Passage(row["seq"], row["page"], row["text"]), spans)
        return out

    def _snippet_rows(self, wanted: dict[str, list[int]], terms: frozenset[str]) -> Iterator:
        """(doc id, the row of its snippet passage, that passage's matches of ``terms``:
        :func:`token_spans` rows, Tokens when the stored form had to be decoded, or None)
        for each document naming a passage that exists."""
        from policykb.highlight import passage_rank

        for doc_id, rows in self._named_passages(wanted):
            if not rows:
                continue
            best, best_key, best_matches = rows[0], (0, 0), None
            for r in rows if terms else ():
                matches = token_spans(r["tokens"], terms)
                if matches is None:  # not the compact form: decode it
                    matches = tokens_from_json(r["tokens"], terms)
                    key = passage_rank([t.term for t in matches])
                else:  # a quoted term stands for its term (one to one)
                    key = passage_rank([m[0] for m in matches])
                if key > best_key:
                    best, best_key, best_matches = r, key, matches
            yield doc_id, best, best_matches

    def get_passage_window(
        self,
        doc_id: str,
        first_seq: int,
        limit: int,
        page_below: int | None = None,
        with_tokens: bool = True,
        only_terms: frozenset[str] | None = None,
    ) -> list[Passage]:
        """Up to ``limit`` passages from ``first_seq`` on (and, with ``page_below``, only
        those on earlier pages): one window of a long document (tokens restricted to
        ``only_terms`` when given)."""
        sql = (
            "SELECT seq, page, text, "
            + ("tokens" if with_tokens else "'[]' AS tokens")
            + " FROM passages WHERE doc_id = ? AND seq >= ?"
        )
        args: list = [doc_id, first_seq]
        if page_below is not None:
            sql += " AND page < ?"
            args.append(page_below)
        sql += " ORDER BY seq LIMIT ?"
        args.append(limit)
        rows = self._conn().execute(sql, args).fetchall()
        return [_passage_from_row(r, only_terms) for r in rows]

    def passage_outline(self, doc_id: str) -> tuple[int, list[tuple[int, int]]]:
        """(number of passages, [(page, first seq on that page)]) of a document, read from
        the (doc_id, page) index without touching texts or tokens."""
        con = self._conn()
        n = con.execute("SELECT COUNT(*) FROM passages WHERE doc_id = ?", (doc_id,)).fetchone()[0]
        rows = con.execute(
            "SELECT page, MIN(seq) FROM passages WHERE doc_id = ? AND page IS NOT NULL "
            "GROUP BY page ORDER BY page",
            (doc_id,),
        ).fetchall()
        return n, [(r[0], r[1]) for r in rows]

    def iter_documents(self, batch: int = 200, canonical_only: bool = False) -> Iterator[Document]:
        """All documents with passages, in id order, read in batches; ``canonical_only``
        leaves out copies (duplicates), which are never indexed."""
        last = ""
        where = "id > ?" + (" AND canonical_id IS NULL" if canonical_only else "")
        while True:
            rows = (
                self._conn()
                .execute(
                    f"SELECT * FROM documents WHERE {where} ORDER BY id LIMIT ?", (last, batch)
                )
                .fetchall()
            )
            if not rows:
                return
            for r in rows:
                yield self._doc_from_row(r, self.get_passages(r["id"]))
            last = rows[-1]["id"]

    # ------------------------------------------------------------- analysis state
    def get_meta(self, key: str) -> str | None:
        return self._value("SELECT value FROM meta WHERE key = ?", (key,))

    def set_meta(self, key: str, value: str, con: sqlite3.Connection) -> None:
        con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def lineage(self) -> list[str]:
        raw = self.get_meta(LINEAGE_KEY)
        return json.loads(raw) if raw else []

    def valid_analyses(self, analyzer_id: str) -> list[str]:
        """The analyzer identities whose stored tokens equal ``analyzer_id``'s: itself and,
        when it is the last lexicon edit's, the identities before the edits."""
        lineage = self.lineage()
        if lineage and lineage[-1] == analyzer_id:
            return list(dict.fromkeys(lineage))
        return [analyzer_id]

    def set_lineage(self, ids: list[str], con: sqlite3.Connection) -> None:
        self.set_meta(LINEAGE_KEY, json.dumps(list(dict.fromkeys(ids))), con)

    def stale_document_ids(self, analyzer_id: str) -> list[str]:
        """Documents whose title, authors or any passage another analyzer (Kiwi, the code,
        the dictionary or the synonyms) produced, in id order."""
        valid = self.valid_analyses(analyzer_id)
        marks = ",".join("?" * len(valid))
        rows = self._conn().execute(
            f"SELECT id FROM documents WHERE analyzer_id NOT IN ({marks}) UNION "
            f"SELECT DISTINCT doc_id FROM passages WHERE analyzer_id IS NOT NULL "
            f"AND analyzer_id NOT IN ({marks}) ORDER BY 1",
            (*valid, *valid),
        )
        return [r[0] for r in rows]

    def count_stale(self, analyzer_id: str) -> int:
        """Documents analyzed by another analyzer (dictionary, synonyms or Kiwi changed
        outside a lexicon edit, or a lexicon edit interrupted)."""
        return len(self.stale_document_ids(analyzer_id))

    def iter_analysis_texts(self) -> Iterator[tuple[str, int | None, str]]:
        """(doc id, passage seq, text) of every passage, and (doc id, None, title) and
        (doc id, -1, authors joined by spaces) of every document: all text the analyzer
        turned into stored tokens."""
        con = self._conn()
        for r in con.execute("SELECT id, title, authors FROM documents"):
            yield r[0], None, r[1]
            authors = json.loads(r[2] or "[]")
            if authors:
                yield r[0], -1, " ".join(authors)
        yield from con.execute("SELECT doc_id, seq, text FROM passages")

    def analyses_with_terms(self, terms: list[str]) -> set[tuple[str, int | None]]:
        """(doc id, seq) of passages, (doc id, None) of titles and (doc id, -1) of authors
        whose stored tokens have one of ``terms``."""
        if not terms:
            return set()
        needles = [json.dumps([t], ensure_ascii=False)[:-1] + "," for t in terms]
        cond = " OR ".join("instr({col}, ?) > 0" for _ in needles)
        con = self._conn()
        out: set[tuple[str, int | None]] = set()
        for r in con.execute(
            f"SELECT doc_id, seq FROM passages WHERE {cond.format(col='tokens')}", needles
        ):
            out.add((r[0], r[1]))
        for col, key in (("title_tokens", None), ("author_tokens", -1)):
            for r in con.execute(f"SELECT id FROM documents WHERE {cond.format(col=col)}", needles):
                out.add((r[0], key))
        return out

    def analysis_of(self, doc_id: str) -> tuple[Document, str, dict[int, str]] | None:
        """A document with passages, the analyzer identity of its title and authors, and
        each passage's (the document's for stores from before per-passage stamps)."""
        doc = self.get_document(doc_id)
        if doc is None:
            return None
        con = self._conn()
        row = con.execute("SELECT analyzer_id FROM documents WHERE id = ?", (doc_id,)).fetchone()
        own = row[0]
        stamps = {
            r[0]: r[1] or own
            for r in con.execute(
                "SELECT seq, analyzer_id FROM passages WHERE doc_id = ?", (doc_id,)
            )
        }
        return doc, own, stamps

    def saved_queries(self, limit: int = 500) -> list[str]:
        """The ``q`` of the newest saved searches (none before saved searches existed)."""
        from urllib.parse import parse_qs

        con = self._conn()
        if not con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'saved_searches'"
        ).fetchone():
            return []
        rows = con.execute("SELECT query FROM saved_searches ORDER BY id DESC LIMIT ?", (limit,))
        return [q for r in rows for q in parse_qs(r[0]).get("q", [])[:1]]

    def replace_analysis(
        self,
        doc_id: str,
        passages: dict[int, list[Token]],
        analyzer_id: str,
        con: sqlite3.Connection,
        title_tokens: list[Token] | None = None,
        author_tokens: list[Token] | None = None,
    ) -> None:
        """New tokens for some passages (by seq) and optionally the title and authors of a
        document, stamped with ``analyzer_id``; texts and the other passages stay."""
        con.executemany(
            "UPDATE passages SET tokens = ?, analyzer_id = ? WHERE doc_id = ? AND seq = ?",
            [(tokens_to_json(t), analyzer_id, doc_id, seq) for seq, t in passages.items()],
        )
        if title_tokens is not None or author_tokens is not None:
            sets, args = ["analyzer_id = ?", "updated_at = ?"], [analyzer_id, time.time()]
            if title_tokens is not None:
                sets.append("title_tokens = ?")
                args.append(tokens_to_json(title_tokens))
            if author_tokens is not None:
                sets.append("author_tokens = ?")
                args.append(tokens_to_json(author_tokens))
            con.execute(f"UPDATE documents SET {', '.join(sets)} WHERE id = ?", (*args, doc_id))

    def indexed_among(self, ids: list[str]) -> list[str]:
        """Those of ``ids`` that are indexed (not copies of another document)."""
        out: list[str] = []
        con = self._conn()
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            out += [
                r[0]
                for r in con.execute(
                    f"SELECT id FROM documents WHERE id IN ({marks}) AND canonical_id IS NULL",
                    part,
                )
            ]
        return sorted(out)

    def count_documents(self, canonical_only: bool = True) -> int:
        sql = "SELECT COUNT(*) FROM documents"
        if canonical_only:
            sql += " WHERE canonical_id IS NULL"
        return self._conn().execute(sql).fetchone()[0]

    def copies(self, doc_id: str) -> list[Document]:
        """The other documents of ``doc_id``'s duplicate group (metadata only)."""
        con = self._conn()
        row = con.execute("SELECT canonical_id FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            return []
        root = row[0] or doc_id
        rows = con.execute(
            "SELECT * FROM documents WHERE (id = ? OR canonical_id = ?) AND id != ? ORDER BY id",
            (root, root, doc_id),
        ).fetchall()
        return [self._doc_from_row(r, []) for r in rows]

    def document_ids(self) -> set[str]:
        return {r[0] for r in self._conn().execute("SELECT id FROM documents")}

    # ---------------------------------------------------------------------- files
    def get_file(self, path: str) -> FileRecord | None:
        row = self._conn().execute("SELECT * FROM files WHERE path = ?", (path,)).fetchone()
        return FileRecord(**dict(row)) if row else None

    def put_file(self, rec: FileRecord, con: sqlite3.Connection) -> None:
        con.execute(
            """INSERT OR REPLACE INTO files (path, doc_id, sha256, size, status, error,
               analyzer_id, updated_at) VALUES (?,?,?,?,?,?,?,?)""",
            (
                rec.path,
                rec.doc_id,
                rec.sha256,
                rec.size,
                rec.status,
                rec.error,
                rec.analyzer_id,
                rec.updated_at,
            ),
        )

    def list_files(self, status: str | None = None) -> list[FileRecord]:
        sql = "SELECT * FROM files"
        args: tuple = ()
        if status:
            sql += " WHERE status = ?"
            args = (status,)
        return [FileRecord(**dict(r)) for r in self._conn().execute(sql + " ORDER BY path", args)]

    def file_counts(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT status, COUNT(*) FROM files GROUP BY status")
        return {r[0]: r[1] for r in rows}

    def facet_counts(self) -> dict[str, dict[str, int]]:
        con = self._conn()
        out: dict[str, dict[str, int]] = {"institute": {}, "doc_type": {}, "year": {}}
        for r in con.execute("SELECT institute, COUNT(*) FROM documents GROUP BY institute"):
            out["institute"][r[0]] = r[1]
        for r in con.execute("SELECT doc_type, COUNT(*) FROM documents GROUP BY doc_type"):
            out["doc_type"][r[0]] = r[1]
        for r in con.execute(
            "SELECT substr(date,1,4), COUNT(*) FROM documents GROUP BY substr(date,1,4)"
        ):
            out["year"][r[0] or "미상"] = r[1]
        return out

    # ------------------------------------------------------------------ re-analysis
    def set_file_analyzer(self, doc_id: str, analyzer_id: str, con: sqlite3.Connection) -> None:
        """Record that the files of ``doc_id`` are now analyzed by ``analyzer_id``."""
        con.execute("UPDATE files SET analyzer_id = ? WHERE doc_id = ?", (analyzer_id, doc_id))

    def delete_files(self, paths: list[str], con: sqlite3.Connection) -> None:
        con.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in paths])

    def source_path(self, doc_id: str) -> str | None:
        return self._value("SELECT source_path FROM documents WHERE id = ?", (doc_id,))

    def canonical_ids(self) -> dict[str, str | None]:
        """Every document id with its canonical (None for a canonical itself)."""
        return dict(self._conn().execute("SELECT id, canonical_id FROM documents").fetchall())

    # ---------------------------------------------------------------- analysis cache
    def cache_tokens(self, rows: list[tuple[str, str]], analyzer_id: str, con) -> None:
        """Remember ``(text hash, tokens JSON)`` pairs analyzed by ``analyzer_id``."""
        con.executemany(
            "INSERT OR IGNORE INTO analysis_cache (text_hash, analyzer_id, tokens) VALUES (?,?,?)",
            [(h, analyzer_id, toks) for h, toks in rows],
        )

    # -------------------------------------------------------------------- duplicates
    def canonical_with_hash(self, con: sqlite3.Connection, content_hash: str, doc_id: str):
        """The first canonical document other than ``doc_id`` with this content hash."""
        return self._value(
            "SELECT id FROM documents WHERE content_hash = ? AND id != ? AND canonical_id IS NULL "
            "ORDER BY id LIMIT 1",
            (content_hash, doc_id),
            con,
        )

    def band_neighbours(self, con: sqlite3.Connection, bands: list[int], doc_id: str) -> set[str]:
        """Documents other than ``doc_id`` sharing one of its SimHash bands."""
        out: set[str] = set()
        for i, band in enumerate(bands):
            for (other,) in con.execute(
                "SELECT doc_id FROM simhash_bands WHERE band = ? AND value = ? AND doc_id != ?",
                (i, band, doc_id),
            ):
                out.add(other)
        return out

    def canonical_simhash(self, con: sqlite3.Connection, doc_id: str) -> int | None:
        """The SimHash of ``doc_id`` if it is a canonical document (None otherwise)."""
        return self._value(
            "SELECT simhash FROM documents WHERE id = ? AND canonical_id IS NULL", (doc_id,), con
        )

    def stored_text(self, con: sqlite3.Connection, doc_id: str) -> str:
        """The passages of ``doc_id`` joined as ingest joins a file's pages."""
        rows = con.execute("SELECT text FROM passages WHERE doc_id = ? ORDER BY seq", (doc_id,))
        return "\n\n".join(r[0] for r in rows)

    def put_bands(self, con: sqlite3.Connection, doc_id: str, bands: list[int]) -> None:
        """Replace the SimHash bands of ``doc_id``."""
        self.forget_bands(con, doc_id)
        con.executemany(
            "INSERT INTO simhash_bands (doc_id, band, value) VALUES (?,?,?)",
            [(doc_id, i, b) for i, b in enumerate(bands)],
        )

    def forget_bands(self, con: sqlite3.Connection, doc_id: str) -> None:
        con.execute("DELETE FROM simhash_bands WHERE doc_id = ?", (doc_id,))

    def promote_first_copy(self, con: sqlite3.Connection, doc_id: str) -> tuple[str, int] | None:
        """Before ``doc_id`` goes: its first copy becomes the canonical of the others.
        Returns (heir, heir's SimHash), or None when ``doc_id`` has no copies."""
        copies = [
            r[0]
            for r in con.execute(
                "SELECT id FROM documents WHERE canonical_id = ? ORDER BY id", (doc_id,)
            )
        ]
        if not copies:
            return None
        heir, rest = copies[0], copies[1:]
        con.execute("UPDATE documents SET canonical_id = NULL WHERE id = ?", (heir,))
        con.executemany(
            "UPDATE documents SET canonical_id = ? WHERE id = ?", [(heir, c) for c in rest]
        )
        row = con.execute("SELECT simhash FROM documents WHERE id = ?", (heir,)).fetchone()
        return heir, row[0] or 0

    # ---------------------------------------------------------------------- accounts
    def put_user(self, username: str, password_hash: str, created_at: float) -> None:
        with self.connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO users (username, password_hash, created_at) VALUES (?,?,?)",
                (username, password_hash, created_at),
            )

    def password_hash(self, username: str) -> str | None:
        return self._value("SELECT password_hash FROM users WHERE username = ?", (username,))

    def put_api_token(self, token_hash: str, username: str, label: str, at: float) -> None:
        with self.connect() as con:
            con.execute(
                "INSERT INTO api_tokens (token_hash, username, label, created_at) VALUES (?,?,?,?)",
                (token_hash, username, label, at),
            )

    def api_tokens(self) -> list[tuple[str, str]]:
        """Every (token hash, username)."""
        return [
            (r[0], r[1])
            for r in self._conn().execute("SELECT token_hash, username FROM api_tokens")
        ]

    def put_session(
        self, sid_hash: str, username: str, now: float, idle_before: float, started_before: float
    ) -> None:
        """Store a new session, dropping those idle since ``idle_before`` or started before
        ``started_before``."""
        with self.connect() as con:
            con.execute(
                "DELETE FROM sessions WHERE last_seen < ? OR created_at < ?",
                (idle_before, started_before),
            )
            con.execute(
                "INSERT INTO sessions (sid_hash, username, created_at, last_seen) VALUES (?,?,?,?)",
                (sid_hash, username, now, now),
            )

    def get_session(self, sid_hash: str) -> tuple[str, float, float] | None:
        """(username, created_at, last_seen) of a stored session."""
        row = (
            self._conn()
            .execute(
                "SELECT username, created_at, last_seen FROM sessions WHERE sid_hash = ?",
                (sid_hash,),
            )
            .fetchone()
        )
        return (row[0], row[1], row[2]) if row else None

    def touch_session(self, sid_hash: str, now: float) -> None:
        with self.connect() as con:
            con.execute("UPDATE sessions SET last_seen = ? WHERE sid_hash = ?", (now, sid_hash))

    def delete_session(self, sid_hash: str) -> None:
        with self.connect() as con:
            con.execute("DELETE FROM sessions WHERE sid_hash = ?", (sid_hash,))

    def login_failure_times(self, key: str, since: float, limit: int) -> list[float]:
        """Times of the latest ``limit`` failures of ``key`` after ``since``, newest first."""
        return [
            r[0]
            for r in self._conn().execute(
                "SELECT at FROM login_failures WHERE key = ? AND at > ? ORDER BY at DESC LIMIT ?",
                (key, since, limit),
            )
        ]

    def add_login_failures(self, keys: list[str], at: float, forget_before: float) -> None:
        with self.connect() as con:
            con.execute("DELETE FROM login_failures WHERE at < ?", (forget_before,))
            con.executemany(
                "INSERT INTO login_failures (key, at) VALUES (?, ?)", [(k, at) for k in keys]
            )

    def clear_login_failures(self, key: str | None = None) -> None:
        """Forget the failures of ``key``, or all of them."""
        with self.connect() as con:
            if key is None:
                con.execute("DELETE FROM login_failures")
            else:
                con.execute("DELETE FROM login_failures WHERE key = ?", (key,))

    def add_audit(
        self, at: float, username: str, action: str, detail: dict, client: str | None
    ) -> None:
        with self.connect() as con:
            con.execute(
                "INSERT INTO audit_log (at, username, action, detail, client) VALUES (?,?,?,?,?)",
                (at, username, action, json.dumps(detail, ensure_ascii=False), client),
            )

    def audit_rows(self, limit: int) -> list[tuple[int, float, str, str, dict, str | None]]:
        """The latest audit entries, newest first: (id, at, username, action, detail, client)."""
        rows = self._conn().execute(
            "SELECT id, at, username, action, detail, client FROM audit_log "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]

    # ---------------------------------------------------------------- saved searches
    def add_saved_search(
        self, owner: str, name: str, query: str, at: float, key: str, limit: int
    ) -> int | None:
        """Insert a saved search; its id, or None when ``owner`` already keeps ``limit``."""
        with self.connect() as con:
            (count,) = con.execute(
                "SELECT COUNT(*) FROM saved_searches WHERE owner = ?", (owner,)
            ).fetchone()
            if count >= limit:
                return None
            cur = con.execute(
                "INSERT INTO saved_searches (name, query, created_at, owner, key) "
                "VALUES (?,?,?,?,?)",
                (name, query, at, owner, key),
            )
            return int(cur.lastrowid)

    def saved_search(self, key: str) -> tuple | None:
        """Row (:data:`SAVED_FIELDS`) of the saved search with this key."""
        row = (
            self._conn()
            .execute(f"SELECT {SAVED_FIELDS} FROM saved_searches WHERE key = ?", (key,))
            .fetchone()
        )
        return tuple(row) if row else None

    def saved_searches(self, owner: str) -> list[tuple]:
        """Rows (:data:`SAVED_FIELDS`) of the owner's saved searches, newest first."""
        rows = self._conn().execute(
            f"SELECT {SAVED_FIELDS} FROM saved_searches WHERE owner = ? ORDER BY id DESC",
            (owner,),
        )
        return [tuple(r) for r in rows]

    def delete_saved_search(self, owner: str, key: str) -> bool:
        with self.connect() as con:
            cur = con.execute(
                "DELETE FROM saved_searches WHERE owner = ? AND key = ?", (owner, key)
            )
            return cur.rowcount > 0

    # --------------------------------------------------------------------- catalogue
    def _first_match(self, sql: str, url: str | None, key: str | None) -> str | None:
        """The first id ``sql`` (with a ``{column}`` slot) finds by URL, else by match key."""
        for column, value in (("url", url), ("match_key", key)):
            if value:
                found = self._value(sql.format(column=column), (value,))
                if found is not None:
                    return found
        return None

    def catalogue_doc_for(self, url: str | None, key: str | None) -> str | None:
        """The document id of the catalogue record a file is the original of: same URL,
        else same match key (institute + year + normalized title)."""
        sql = "SELECT doc_id FROM catalogue_records WHERE {column} = ? ORDER BY key LIMIT 1"
        return self._first_match(sql, url, key)

    def original_for(self, url: str | None, key: str | None) -> str | None:
        """A canonical document with a file matching a record's URL or match key."""
        sql = (
            "SELECT id FROM documents WHERE {column} = ? AND source_path IS NOT NULL "
            "AND canonical_id IS NULL ORDER BY id LIMIT 1"
        )
        return self._first_match(sql, url, key)

    def catalogue_record(self, doc_id: str) -> dict | None:
        """The stored (normalized) record of ``doc_id``'s first catalogue record."""
        raw = self._value(
            "SELECT record FROM catalogue_records WHERE doc_id = ? ORDER BY key LIMIT 1",
            (doc_id,),
        )
        return json.loads(raw) if raw is not None else None

    def catalogue_fingerprints(self, keys: list[str]) -> dict[str, tuple[str, str]]:
        """key -> (fingerprint, doc_id) of the stored records among ``keys``."""
        marks = ",".join("?" * len(keys))
        rows = self._conn().execute(
            f"SELECT key, fingerprint, doc_id FROM catalogue_records WHERE key IN ({marks})",
            keys,
        )
        return {r[0]: (r[1], r[2]) for r in rows}

    def put_catalogue_records(self, rows: list[tuple], con: sqlite3.Connection) -> None:
        """Rows (key, source, doc_id, record JSON, fingerprint, url, match_key, updated_at),
        not yet indexed."""
        con.executemany(
            "INSERT OR REPLACE INTO catalogue_records (key, source, doc_id, record, "
            "fingerprint, url, match_key, indexed, updated_at) VALUES (?,?,?,?,?,?,?,0,?)",
            rows,
        )

    def mark_catalogue_indexed(self, keys: Iterable[str] = (), doc_ids: Iterable[str] = ()) -> None:
        """Records (by key, or all of a document) whose document is in the index."""
        with self.connect() as con:
            con.executemany(
                "UPDATE catalogue_records SET indexed = 1 WHERE key = ?", [(k,) for k in keys]
            )
            con.executemany(
                "UPDATE catalogue_records SET indexed = 1 WHERE doc_id = ?",
                [(d,) for d in doc_ids],
            )

    def unindexed_catalogue_docs(self) -> list[str]:
        """Documents of records written by a run killed before its index commit."""
        return [
            r[0]
            for r in self._conn().execute(
                "SELECT DISTINCT doc_id FROM catalogue_records WHERE indexed = 0"
            )
        ]

    def catalogue_keys(self, source: str) -> list[tuple[str, str]]:
        """(key, doc_id) of every record of ``source``."""
        return [
            (r[0], r[1])
            for r in self._conn().execute(
                "SELECT key, doc_id FROM catalogue_records WHERE source = ?", (source,)
            )
        ]

    def remove_catalogue_record(self, con: sqlite3.Connection, key: str, doc_id: str) -> bool:
        """Forget a record; its document goes too when it was metadata-only and no other
        record names it. True when the document was deleted."""
        con.execute("DELETE FROM catalogue_records WHERE key = ?", (key,))
        still = self._value(
            "SELECT 1 FROM catalogue_records WHERE doc_id = ? LIMIT 1", (doc_id,), con
        )
        row = con.execute("SELECT source_path FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if still is None and row is not None and row[0] is None:
            self.delete_document(doc_id, con)
            return True
        return False

    # ----------------------------------------------------------------------- harvest
    def harvest_candidates(self, source: str | None = None) -> list[tuple]:
        """Records with a URL and their harvest state, by key: (record dict, status, etag,
        last_modified, file_path); the state is None before the first attempt."""
        sql = (
            "SELECT c.record, h.status, h.etag, h.last_modified, h.file_path "
            "FROM catalogue_records c LEFT JOIN harvest_items h ON h.key = c.key "
            "WHERE c.url IS NOT NULL"
        )
        args: list = []
        if source:
            sql += " AND c.source = ?"
            args.append(source)
        rows = self._conn().execute(sql + " ORDER BY c.key", args)
        return [(json.loads(r[0]), r[1], r[2], r[3], r[4]) for r in rows]

    def harvest_target(self, key: str) -> tuple[str, str, int]:
        """(doc_id, url, attempts so far) of a catalogue record being harvested."""
        row = (
            self._conn()
            .execute(
                "SELECT c.doc_id, c.url, h.attempts FROM catalogue_records c "
                "LEFT JOIN harvest_items h ON h.key = c.key WHERE c.key = ?",
                (key,),
            )
            .fetchone()
        )
        return row[0], row[1], row[2] or 0

    def mark_harvest_unchanged(self, key: str, at: float) -> None:
        """The server answered 304 Not Modified."""
        with self.connect() as con:
            con.execute(
                "UPDATE harvest_items SET http_status = 304, updated_at = ? WHERE key = ?",
                (at, key),
            )

    def put_harvest_item(self, values: tuple) -> None:
        """(key, doc_id, url, status, http_status, final_url, etag, last_modified,
        file_path, content_type, error, attempts, updated_at)."""
        with self.connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO harvest_items (key, doc_id, url, status, http_status, "
                "final_url, etag, last_modified, file_path, content_type, error, attempts, "
                "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                values,
            )

    def harvested_records(self) -> list[tuple[str, dict]]:
        """(file path, record dict) of every fetched or ingested original, by key."""
        rows = self._conn().execute(
            "SELECT h.file_path, c.record FROM harvest_items h JOIN catalogue_records c "
            "ON c.key = h.key WHERE h.status IN ('fetched', 'ingested') ORDER BY h.key"
        )
        return [(r[0], json.loads(r[1])) for r in rows]

    def harvested_files(self) -> list[tuple[str, str, str]]:
        """(key, file path, status) of the fetched or ingested originals."""
        rows = self._conn().execute(
            "SELECT key, file_path, status FROM harvest_items "
            "WHERE status IN ('fetched', 'ingested') AND file_path IS NOT NULL"
        )
        return [(r[0], r[1], r[2]) for r in rows]

    def set_harvest_status(
        self, con: sqlite3.Connection, key: str, status: str, error: str | None
    ) -> None:
        con.execute(
            "UPDATE harvest_items SET status = ?, error = ? WHERE key = ?", (status, error, key)
        )

    def harvest_failures(self) -> list[dict]:
        """The failed harvest items, latest first."""
        return [
            dict(r)
            for r in self._conn().execute(
                "SELECT key, url, http_status, error, attempts, updated_at FROM harvest_items "
                "WHERE status = 'failed' ORDER BY updated_at DESC"
            )
        ]

    # ------------------------------------------------------------------------ OAI-PMH
    def canonical_institutes(self) -> list[str]:
        """Institutes of canonical documents, sorted."""
        return [
            r[0]
            for r in self._conn().execute(
                "SELECT DISTINCT institute FROM documents WHERE canonical_id IS NULL "
                "ORDER BY institute"
            )
        ]

    def oai_item(self, doc_id: str) -> tuple[str, float, bool, str | None, list] | None:
        """(id, datestamp, deleted, institute, regions) of a canonical or deleted document."""
        con = self._conn()
        row = con.execute(
            "SELECT id, updated_at, institute, regions FROM documents "
            "WHERE id = ? AND canonical_id IS NULL",
            (doc_id,),
        ).fetchone()
        if row:
            return row[0], row[1], False, row[2], json.loads(row[3])
        row = con.execute(
            "SELECT id, deleted_at, institute, regions FROM deleted_documents WHERE id = ?",
            (doc_id,),
        ).fetchone()
        if row:
            return row[0], row[1], True, row[2], json.loads(row[3] or "[]")
        return None

    def earliest_change(self) -> float | None:
        """The oldest datestamp of a stored or deleted document."""
        a = self._value("SELECT MIN(updated_at) FROM documents")
        b = self._value("SELECT MIN(deleted_at) FROM deleted_documents")
        values = [v for v in (a, b) if v is not None]
        return min(values) if values else None

    def oai_page(
        self,
        where: tuple[str, str | None] | None,
        lo: float | None,
        hi: float | None,
        after: tuple[float, str] | None,
        limit: int,
    ) -> tuple[list[tuple[str, float, bool, str | None, list]], int]:
        """Canonical and deleted documents by (datestamp, id) after ``after``, at most
        ``limit``, with the total count. ``where``: ("institute", None) any known
        institute, ("region", None) any region, ("institute", name), ("region", name)."""
        cond, cargs = "", []
        if where is not None:
            kind, value = where
            column = "institute" if kind == "institute" else "regions"
            if value is None and kind == "institute":
                cond = " AND institute IS NOT NULL AND institute != '미상'"
            elif value is None:
                cond = " AND regions IS NOT NULL AND regions != '[]'"
            elif kind == "institute":
                cond, cargs = f" AND {column} = ?", [value]
            else:
                cond, cargs = f" AND {column} LIKE ?", [f'%"{value}"%']
        time_cond = ""
        targs: list = []
        if lo is not None:
            time_cond += " AND ts >= ?"
            targs.append(lo)
        if hi is not None:
            time_cond += " AND ts < ?"
            targs.append(hi)
        base = (
            "SELECT * FROM ("
            "SELECT id, updated_at AS ts, 0 AS deleted, institute, regions FROM documents "
            "WHERE canonical_id IS NULL" + cond + " UNION ALL "
            "SELECT id, deleted_at AS ts, 1 AS deleted, institute, regions "
            "FROM deleted_documents WHERE 1=1" + cond + ") WHERE 1=1" + time_cond
        )
        args = cargs + cargs + targs
        con = self._conn()
        total = con.execute(f"SELECT COUNT(*) FROM ({base})", args).fetchone()[0]
        sql = base
        pargs = list(args)
        if after is not None:
            sql += " AND (ts > ? OR (ts = ? AND id > ?))"
            pargs += [after[0], after[0], after[1]]
        sql += " ORDER BY ts, id LIMIT ?"
        pargs.append(limit)
        rows = con.execute(sql, pargs).fetchall()
        return [(r[0], r[1], bool(r[2]), r[3], json.loads(r[4] or "[]")) for r in rows], total


class AnalysisCache:
    """Read side of the analysis cache for ingest workers: its own connection to the
    store's database (a worker process has no store object); written by the main process
    through :meth:`DocumentStore.cache_tokens`. It also holds this process's latest
    analyses, so a passage repeated within a run (the same text in another copy or
    edition of a document, a boilerplate passage) is found before the main process has
    stored its first occurrence."""

    RECENT = 2048  # passages remembered per process

    def __init__(self, db_path: str | None, analyzer_id: str) -> None:
        self.analyzer_id = analyzer_id
        self.con = sqlite3.connect(db_path, timeout=30) if db_path else None
        self.recent: OrderedDict[str, str] = OrderedDict()

    def get(self, text_hash: str) -> list[Token] | None:
        raw = self.get_raw(text_hash)
        return tokens_from_json(raw) if raw is not None else None

    def get_raw(self, text_hash: str) -> str | None:
        """The stored tokens JSON of a passage text hash, if cached."""
        raw = self.recent.get(text_hash)
        if raw is not None:
            self.recent.move_to_end(text_hash)
            return raw
        if self.con is None:
            return None
        row = self.con.execute(
            "SELECT tokens FROM analysis_cache WHERE text_hash = ? AND analyzer_id = ?",
            (text_hash, self.analyzer_id),
        ).fetchone()
        return row[0] if row else None

    def remember(self, text_hash: str, raw: str) -> None:
        self.recent[text_hash] = raw
        if len(self.recent) > self.RECENT:
            self.recent.popitem(last=False)
