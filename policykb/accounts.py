"""Admin accounts, API tokens, server-side login sessions, login throttling and the audit
log (in the document store's database)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from werkzeug.security import check_password_hash, generate_password_hash

from policykb.store import DocumentStore

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

    def create_user(self, username: str, password: str) -> None:
        username = username.strip()
        if not username or len(username) > 64 or not username.replace("_", "").isalnum():
            raise AccountError("username: letters, digits and _ only (1-64)")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"password: at least {MIN_PASSWORD} characters")
        self.store.put_user(username, generate_password_hash(password), time.time())

    def verify(self, username: str, password: str) -> bool:
        stored = self.store.password_hash(username)
        if stored is None:
            # Spend the same time as a real check so user names cannot be probed.
            check_password_hash(generate_password_hash("x"), password)
            return False
        return check_password_hash(stored, password)

    def exists(self, username: str) -> bool:
        return self.store.password_hash(username) is not None

    def create_token(self, username: str, label: str = "") -> str:
        if not self.exists(username):
            raise AccountError(f"no such user: {username}")
        token = "pkb_" + secrets.token_urlsafe(32)
        self.store.put_api_token(_token_hash(token), username, label, time.time())
        return token

    def user_for_token(self, token: str) -> str | None:
        if not token.startswith("pkb_"):
            return None
        wanted = _token_hash(token)
        for token_hash, username in self.store.api_tokens():
            if hmac.compare_digest(token_hash, wanted):
                return username
        return None

    # ------------------------------------------------------------------- sessions
    def start_session(self, username: str) -> str:
        """A new session id for ``username`` (kept in the browser's signed cookie; only
        its hash is stored)."""
        sid = secrets.token_urlsafe(32)
        now = time.time()
        self.store.put_session(
            _token_hash(sid), username, now, now - self.idle_seconds, now - self.max_seconds
        )
        return sid

    def session_user(self, sid: str, now: float | None = None) -> str | None:
        """The user of a live session, refreshing its idle timer; None when the session
        was ended, was idle too long or is older than the absolute limit."""
        if not sid:
            return None
        now = time.time() if now is None else now
        key = _token_hash(sid)
        row = self.store.get_session(key)
        if row is None:
            return None
        username, created_at, last_seen = row
        if now - last_seen > self.idle_seconds or now - created_at > self.max_seconds:
            self.end_session(sid)
            return None
        if now - last_seen > 5:  # refresh the idle timer, not on every request
            self.store.touch_session(key, now)
        return username

    def end_session(self, sid: str) -> None:
        self.store.delete_session(_token_hash(sid))

    # ----------------------------------------------------------------- throttling
    def login_wait(self, username: str, client: str, now: float | None = None) -> float:
        """Seconds before ``client`` may try to log in as ``username`` again (0: now)."""
        now = time.time() if now is None else now
        waits = []
        for key, limit in (
            (f"user:{username}", ACCOUNT_FAILURES),
            (f"ip:{client}", CLIENT_FAILURES),
        ):
            rows = self.store.login_failure_times(key, now - FAILURE_WINDOW, limit)
            if len(rows) >= limit:
                waits.append(rows[-1] + FAILURE_WINDOW - now)
        return max(waits, default=0.0)

    def record_login_failure(self, username: str, client: str) -> None:
        now = time.time()
        self.store.add_login_failures(
            [f"user:{username}", f"ip:{client}"], now, now - FAILURE_WINDOW
        )

    def clear_login_failures(self, username: str | None = None) -> None:
        """Forget failures of ``username`` (after a successful login), or all of them."""
        self.store.clear_login_failures(None if username is None else f"user:{username}")

    def audit(
        self, username: str, action: str, detail: dict | None = None, client: str | None = None
    ) -> None:
        self.store.add_audit(time.time(), username, action, detail or {}, client)

    def audit_log(self, limit: int = 200) -> list[AuditEntry]:
        return [AuditEntry(*r) for r in self.store.audit_rows(limit)]
