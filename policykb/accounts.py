"""Admin accounts, API tokens and the audit log (in the document store's database)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from werkzeug.security import check_password_hash, generate_password_hash

from policykb.store import DocumentStore

SCHEMA = """
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
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    username TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    client TEXT
);
"""
MIN_PASSWORD = 10


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    username: str
    action: str
    detail: dict
    client: str | None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, store: DocumentStore) -> None:
        self.store = store
        with store.connect() as con:
            con.executescript(SCHEMA)

    def create_user(self, username: str, password: str) -> None:
        username = username.strip()
        if not username or len(username) > 64 or not username.replace("_", "").isalnum():
            raise AccountError("username: letters, digits and _ only (1-64)")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"password: at least {MIN_PASSWORD} characters")
        with self.store.connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO users (username, password_hash, created_at) VALUES (?,?,?)",
                (username, generate_password_hash(password), time.time()),
            )

    def verify(self, username: str, password: str) -> bool:
        row = (
            self.store._conn()
            .execute("SELECT password_hash FROM users WHERE username = ?", (username,))
            .fetchone()
        )
        if row is None:
            # Spend the same time as a real check so user names cannot be probed.
            check_password_hash(generate_password_hash("x"), password)
            return False
        return check_password_hash(row[0], password)

    def exists(self, username: str) -> bool:
        return (
            self.store._conn()
            .execute("SELECT 1 FROM users WHERE username = ?", (username,))
            .fetchone()
            is not None
        )

    def create_token(self, username: str, label: str = "") -> str:
        if not self.exists(username):
            raise AccountError(f"no such user: {username}")
        token = "pkb_" + secrets.token_urlsafe(32)
        with self.store.connect() as con:
            con.execute(
                "INSERT INTO api_tokens (token_hash, username, label, created_at) VALUES (?,?,?,?)",
                (_token_hash(token), username, label, time.time()),
            )
        return token

    def user_for_token(self, token: str) -> str | None:
        if not token.startswith("pkb_"):
            return None
        wanted = _token_hash(token)
        for token_hash, username in self.store._conn().execute(
            "SELECT token_hash, username FROM api_tokens"
        ):
            if hmac.compare_digest(token_hash, wanted):
                return username
        return None

    def audit(
        self, username: str, action: str, detail: dict | None = None, client: str | None = None
    ) -> None:
        with self.store.connect() as con:
            con.execute(
                "INSERT INTO audit_log (at, username, action, detail, client) VALUES (?,?,?,?,?)",
                (
                    time.time(),
                    username,
                    action,
                    json.dumps(detail or {}, ensure_ascii=False),
                    client,
                ),
            )

    def audit_log(self, limit: int = 200) -> list[AuditEntry]:
        rows = self.store._conn().execute(
            "SELECT id, at, username, action, detail, client FROM audit_log "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [AuditEntry(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]
