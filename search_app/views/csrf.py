"""CSRF protection for forms: a per-session token, checked on every POST that uses it."""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    token = session.get("csrf") or ""
    if not token or not hmac.compare_digest(sent, token):
        abort(
            400,
            description="CSRF 토큰이 없거나 맞지 않습니다. 페이지를 새로 고친 뒤 다시 시도해 주세요.",
        )
