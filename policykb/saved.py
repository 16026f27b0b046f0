"""Saved searches (name + normalized query string), kept in the document store's database.

Each belongs to an owner (a browser-held identity or a logged-in user) and only its owner
lists or deletes it; its feed is reached by an unguessable key, so a feed reader needs no
cookie and nobody can enumerate other people's searches. An owner keeps a bounded number.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from policykb.errors import InputError
from policykb.store import DocumentStore


class SavedLimitError(InputError, ValueError):
    """The owner already keeps the most saved searches allowed (HTTP 429, answered by the
    app's error handlers like every other :class:`InputError`)."""

    code = "rate_limited"
    status = 429

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"검색은 최대 {limit}개까지 저장할 수 있습니다. "
            "저장한 검색 페이지에서 필요 없는 것을 지운 뒤 다시 시도해 주세요.",
            reason=f"at most {limit} saved searches",
        )
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
    """Saved searches through the store (which owns their table)."""

    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    def add(self, owner: str, name: str, query: str, limit: int) -> SavedSearch:
        """Save a search for ``owner``; :class:`SavedLimitError` when ``limit`` is reached."""
        key = secrets.token_urlsafe(16)
        now = time.time()
        new_id = self.store.add_saved_search(owner, name, query, now, key, limit)
        if new_id is None:
            raise SavedLimitError(limit)
        return SavedSearch(new_id, name, query, now, owner, key)

    def by_key(self, key: str) -> SavedSearch | None:
        row = self.store.saved_search(key)
        return SavedSearch(*row) if row else None

    def list(self, owner: str | None) -> list[SavedSearch]:
        """The owner's saved searches, newest first (none without an owner)."""
        if not owner:
            return []
        return [SavedSearch(*r) for r in self.store.saved_searches(owner)]

    def delete(self, owner: str, key: str) -> bool:
        return self.store.delete_saved_search(owner, key)
