"""Saved searches (name + normalized query string), kept in the document store's database.

Each belongs to an owner (a browser-held identity or a logged-in user) and only its owner
lists or deletes it; its feed is reached by an unguessable key, so a feed reader needs no
cookie and nobody can enumerate other people's searches. An owner keeps a bounded number.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from dataclasses import dataclass

from policykb.store import DocumentStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS saved_searches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""
# Added after the first release: databases created before get them by ALTER TABLE (their
# rows have no owner, so nobody lists them).
COLUMNS = {"owner": "TEXT", "key": "TEXT"}
INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS saved_searches_key ON saved_searches (key);
CREATE INDEX IF NOT EXISTS saved_searches_owner ON saved_searches (owner, id);
"""
_FIELDS = "id, name, query, created_at, owner, key"


class SavedLimitError(ValueError):
    """The owner already keeps the most saved searches allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} saved searches")
        self.limit = limit


@dataclass(frozen=True)
class SavedSearch:
    id: int
    name: str
    query: str  # URL query string of the search
    created_at: float
    owner: str | None
    key: str | None

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "query": self.query,
            "search_url": "/search?" + self.query,
            "feed_url": f"/saved/{self.key}/feed.atom",
        }


class SavedSearches:
    def __init__(self, store: DocumentStore) -> None:
        self.store = store
        with store.connect() as con:
            con.executescript(SCHEMA)
            have = {r[1] for r in con.execute("PRAGMA table_info(saved_searches)")}
            for name, kind in COLUMNS.items():
                if name not in have:
                    try:
                        con.execute(f"ALTER TABLE saved_searches ADD COLUMN {name} {kind}")
                    except sqlite3.OperationalError:  # another process added it meanwhile
                        pass
            con.executescript(INDEXES)

    def add(self, owner: str, name: str, query: str, limit: int) -> SavedSearch:
        """Save a search for ``owner``; :class:`SavedLimitError` when ``limit`` is reached."""
        key = secrets.token_urlsafe(16)
        now = time.time()
        with self.store.connect() as con:
            (count,) = con.execute(
                "SELECT COUNT(*) FROM saved_searches WHERE owner = ?", (owner,)
            ).fetchone()
            if count >= limit:
                raise SavedLimitError(limit)
            cur = con.execute(
                "INSERT INTO saved_searches (name, query, created_at, owner, key) "
                "VALUES (?,?,?,?,?)",
                (name, query, now, owner, key),
            )
            return SavedSearch(int(cur.lastrowid), name, query, now, owner, key)

    def by_key(self, key: str) -> SavedSearch | None:
        row = (
            self.store._conn()
            .execute(f"SELECT {_FIELDS} FROM saved_searches WHERE key = ?", (key,))
            .fetchone()
        )
        return SavedSearch(*row) if row else None

    def list(self, owner: str | None) -> list[SavedSearch]:
        """The owner's saved searches, newest first (none without an owner)."""
        if not owner:
            return []
        rows = self.store._conn().execute(
            f"SELECT {_FIELDS} FROM saved_searches WHERE owner = ? ORDER BY id DESC", (owner,)
        )
        return [SavedSearch(*r) for r in rows]

    def delete(self, owner: str, key: str) -> bool:
        with self.store.connect() as con:
            cur = con.execute(
                "DELETE FROM saved_searches WHERE owner = ? AND key = ?", (owner, key)
            )
            return cur.rowcount > 0
