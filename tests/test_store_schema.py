"""Opening a store made by an older release migrates it in place: every table of today's
schema exists with every column, and the old rows stay readable."""

from __future__ import annotations

import sqlite3

from policykb.accounts import Accounts
from policykb.saved import SavedSearches
from policykb.store import DocumentStore

# The first release's tables (before any migration), with one row each where it matters.
OLD_SCHEMA = """
CREATE TABLE documents (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, institute TEXT NOT NULL,
    institute_published TEXT, regions TEXT NOT NULL, doc_type TEXT NOT NULL, date TEXT,
    url TEXT, source_path TEXT, page_count INTEGER, title_tokens TEXT NOT NULL,
    analyzer_id TEXT NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE passages (
    doc_id TEXT NOT NULL, seq INTEGER NOT NULL, page INTEGER, text TEXT NOT NULL,
    tokens TEXT NOT NULL, PRIMARY KEY (doc_id, seq)
);
CREATE TABLE files (
    path TEXT PRIMARY KEY, doc_id TEXT, sha256 TEXT, size INTEGER, status TEXT NOT NULL,
    error TEXT, analyzer_id TEXT, updated_at REAL NOT NULL
);
CREATE TABLE saved_searches (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, query TEXT NOT NULL,
    created_at REAL NOT NULL
);
INSERT INTO documents VALUES ('d1', '스마트시티 조성 방안', '국토연구원', NULL, '["세종"]',
    '연구보고서', '2021-03-02', NULL, '/x/a.pdf', 3, '[["스마트시티",0,5,0,0]]', 'old', 1.0);
INSERT INTO passages VALUES ('d1', 0, 1, '스마트시티 조성', '[["스마트시티",0,5,0,0]]');
INSERT INTO files VALUES ('/x/a.pdf', 'd1', 'abc', 10, 'indexed', NULL, 'old', 1.0);
INSERT INTO saved_searches (name, query, created_at) VALUES ('옛 검색', 'q=도시', 1.0);
"""


def _columns(path) -> dict[str, list[str]]:
    con = sqlite3.connect(path)
    tables = [
        r[0]
        for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not r[0].startswith("sqlite_")
    ]
    out = {t: sorted(r[1] for r in con.execute(f"PRAGMA table_info({t})")) for t in tables}
    con.close()
    return out


def _indexes(path) -> set[str]:
    con = sqlite3.connect(path)
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    con.close()
    return {n for n in names if not n.startswith("sqlite_")}


def test_an_old_store_gets_every_table_and_column_of_a_new_one(tmp_path):
    new = tmp_path / "new.sqlite3"
    DocumentStore(new).close()
    old = tmp_path / "old.sqlite3"
    con = sqlite3.connect(old)
    con.executescript(OLD_SCHEMA)
    con.close()

    store = DocumentStore(old)
    assert _columns(old) == _columns(new)
    assert _indexes(old) == _indexes(new)

    doc = store.get_document("d1")
    assert doc is not None and doc.title == "스마트시티 조성 방안"
    assert doc.publisher == "미상" and doc.authors == []
    assert [t.term for t in doc.passages[0].tokens] == ["스마트시티"]
    assert store.get_file("/x/a.pdf").status == "indexed"
    assert store.count_stale("new") == 1
    # The old saved search has no owner: nobody lists it, and new ones work beside it.
    saved = SavedSearches(store)
    assert saved.list("someone") == []
    added = saved.add("someone", "도시", "q=도시", limit=5)
    assert [s.key for s in saved.list("someone")] == [added.key]
    accounts = Accounts(store)
    accounts.create_user("admin_1", "a-long-password")
    assert accounts.verify("admin_1", "a-long-password")


def test_opening_a_current_store_again_changes_nothing(tmp_path):
    path = tmp_path / "s.sqlite3"
    DocumentStore(path).close()
    before = (_columns(path), _indexes(path))
    DocumentStore(path).close()
    assert (_columns(path), _indexes(path)) == before
