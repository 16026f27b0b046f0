"""Admin accounts, API tokens, server-side login sessions, login throttling and the audit
log (in the document store's database)."""

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
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures (key, at);
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
# Login throttling: after this many failures within the window, further attempts (even
# with the right password) wait until the oldest failure leaves the window.
ACCOUNT_FAILURES = 5
CLIENT_FAILURES = 20
FAILURE_WINDOW = 15 * 60.0


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
    def __init__(
        self, store: DocumentStore, idle_seconds: float = 1800, max_seconds: float = 43200
    ) -> None:
        self.store = store
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
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

    # ------------------------------------------------------------------- sessions
    def start_session(self, username: str) -> str:
        """A new session id for ``username`` (kept in the browser's signed cookie; only
        its hash is stored)."""
        sid = secrets.token_urlsafe(32)
        now = time.time()
        with self.store.connect() as con:
            con.execute(
                "DELETE FROM sessions WHERE last_seen < ? OR created_at < ?",
                (now - self.idle_seconds, now - self.max_seconds),
            )
            con.execute(
                "INSERT INTO sessions (sid_hash, username, created_at, last_seen) VALUES (?,?,?,?)",
                (_token_hash(sid), username, now, now),
            )
        return sid

    def session_user(self, sid: str, now: float | None = None) -> str | None:
        """The user of a live session, refreshing its idle timer; None when the session
        was ended, was idle too long or is older than the absolute limit."""
        if not sid:
            return None
        now = time.time() if now is None else now
        key = _token_hash(sid)
        row = (
            self.store._conn()
            .execute(
                "SELECT username, created_at, last_seen FROM sessions WHERE sid_hash = ?", (key,)
            )
            .fetchone()
        )
        if row is None:
            return None
        username, created_at, last_seen = row
        if now - last_seen > self.idle_seconds or now - created_at > self.max_seconds:
            self.end_session(sid)
            return None
        if now - last_seen > 5:  # refresh the idle timer, not on every request
            with self.store.connect() as con:
                con.execute("UPDATE sessions SET last_seen = ? WHERE sid_hash = ?", (now, key))
        return username

    def end_session(self, sid: str) -> None:
        with self.store.connect() as con:
            con.execute("DELETE FROM sessions WHERE sid_hash = ?", (_token_hash(sid),))

    # ----------------------------------------------------------------- throttling
    def login_wait(self, username: str, client: str, now: float | None = None) -> float:
        """Seconds before ``client`` may try to log in as ``username`` again (0: now)."""
        now = time.time() if now is None else now
        waits = []
        for key, limit in (
            (f"user:{username}", ACCOUNT_FAILURES),
            (f"ip:{client}", CLIENT_FAILURES),
        ):
            rows = [
                r[0]
                for r in self.store._conn().execute(
                    "SELECT at FROM login_failures WHERE key = ? AND at > ? ORDER BY at DESC "
                    "LIMIT ?",
                    (key, now - FAILURE_WINDOW, limit),
                )
            ]
            if len(rows) >= limit:
                waits.append(rows[-1] + FAILURE_WINDOW - now)
        return max(waits, default=0.0)

    def record_login_failure(self, username: str, client: str) -> None:
        now = time.time()
        with self.store.connect() as con:
            con.execute("DELETE FROM login_failures WHERE at < ?", (now - FAILURE_WINDOW,))
            con.executemany(
                "INSERT INTO login_failures (key, at) VALUES (?, ?)",
                [(f"user:{username}", now), (f"ip:{client}", now)],
            )

    def clear_login_failures(self, username: str | None = None) -> None:
        """Forget failures of ``username`` (after a successful login), or all of them."""
        with self.store.connect() as con:
            if username is None:
                con.execute("DELETE FROM login_failures")
            else:
                con.execute("DELETE FROM login_failures WHERE key = ?", (f"user:{username}",))

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
