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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
)


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


def _tokens_to_json(tokens: list[Token]) -> str:
    return json.dumps(
        [[t.term, t.start, t.end, t.position, 1 if t.joined else 0] for t in tokens],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _tokens_from_json(raw: str, only: frozenset[str] | None = None) -> list[Token]:
    """Tokens of a stored passage; with ``only``, just those whose term is in it (all a
    snippet or a highlight needs, and much cheaper for a long passage)."""
    if only is not None:
        return [Token(t[0], t[1], t[2], t[3], bool(t[4])) for t in json.loads(raw) if t[0] in only]
    return [Token(t[0], t[1], t[2], t[3], bool(t[4])) for t in json.loads(raw)]


def _passage_from_row(r: sqlite3.Row, only: frozenset[str] | None = None) -> Passage:
    return Passage(r["seq"], r["page"], r["text"], _tokens_from_json(r["tokens"], only))


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
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self.connect() as con:
            con.executescript(SCHEMA)
            have = {r[1] for r in con.execute("PRAGMA table_info(documents)")}
            for table, column, decl in MIGRATIONS:
                if column not in have:
                    con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
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
                con.execute(f"ROLLBACK TO {name}")
                con.execute(f"RELEASE {name}")
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
        ``ingest.build.tokens_json`` makes it) stands in for the passages' Token lists."""
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
                _tokens_to_json(doc.title_tokens),
                analyzer_id,
                time.time(),
                doc.department,
                json.dumps(doc.authors, ensure_ascii=False),
                json.dumps(doc.contacts, ensure_ascii=False),
                json.dumps(doc.places, ensure_ascii=False),
                doc.content_hash,
                doc.simhash,
                doc.canonical_id,
                _tokens_to_json(doc.author_tokens),
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
            passage_tokens = [_tokens_to_json(p.tokens) for p in doc.passages]
        con.executemany(
            "INSERT INTO passages (doc_id, seq, page, text, tokens) VALUES (?,?,?,?,?)",
            [
                (doc.id, p.seq, p.page, p.text, raw)
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
            regions=json.loads(row["regions"]),
            doc_type=row["doc_type"],
            date=row["date"],
            url=row["url"],
            source_path=row["source_path"],
            institute_published=row["institute_published"],
            page_count=row["page_count"],
            passages=passages,
            title_tokens=_tokens_from_json(row["title_tokens"]),
            department=row["department"],
            authors=json.loads(row["authors"] or "[]"),
            contacts=json.loads(row["contacts"] or "[]"),
            places=json.loads(row["places"] or "[]"),
            content_hash=row["content_hash"],
            simhash=row["simhash"],
            canonical_id=row["canonical_id"],
            author_tokens=_tokens_from_json(row["author_tokens"] or "[]"),
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
        out: dict[str, list[Passage]] = {}
        con = self._conn()
        for doc_id, seqs in wanted.items():
            seqs = sorted(set(seqs))
            if not seqs:
                continue
            marks = ",".join("?" * len(seqs))
            rows = con.execute(
                f"SELECT seq, page, text, tokens FROM passages WHERE doc_id = ? "
                f"AND seq IN ({marks}) ORDER BY seq",
                (doc_id, *seqs),
            ).fetchall()
            out[doc_id] = [_passage_from_row(r, only_terms) for r in rows]
        return out

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

    def count_stale(self, analyzer_id: str) -> int:
        """Documents analyzed by another analyzer (dictionary, synonyms or Kiwi changed)."""
        row = (
            self._conn()
            .execute("SELECT COUNT(*) FROM documents WHERE analyzer_id != ?", (analyzer_id,))
            .fetchone()
        )
        return row[0]

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

    # ----------------------------------------------------------------------- meta
    def get_meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str, con: sqlite3.Connection) -> None:
        con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

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
