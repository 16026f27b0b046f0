"""Saved searches (name + normalized query string), kept in the document store's database."""

from __future__ import annotations

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


@dataclass(frozen=True)
class SavedSearch:
    id: int
    name: str
    query: str  # URL query string of the search
    created_at: float

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "query": self.query,
            "search_url": "/search?" + self.query,
            "feed_url": f"/saved/{self.id}/feed.atom",
        }


class SavedSearches:
    def __init__(self, store: DocumentStore) -> None:
        self.store = store
        with store.connect() as con:
            con.executescript(SCHEMA)

    def add(self, name: str, query: str) -> int:
        with self.store.connect() as con:
            cur = con.execute(
                "INSERT INTO saved_searches (name, query, created_at) VALUES (?,?,?)",
                (name, query, time.time()),
            )
            return int(cur.lastrowid)

    def get(self, saved_id: int) -> SavedSearch | None:
        row = (
            self.store._conn()
            .execute(
                "SELECT id, name, query, created_at FROM saved_searches WHERE id = ?", (saved_id,)
            )
            .fetchone()
        )
        return SavedSearch(*row) if row else None

    def list(self) -> list[SavedSearch]:
        rows = self.store._conn().execute(
            "SELECT id, name, query, created_at FROM saved_searches ORDER BY id DESC"
        )
        return [SavedSearch(*r) for r in rows]
