"""The Flask web app: Korean search UI, document pages and the JSON API."""

from __future__ import annotations

import secrets
import time
import urllib.parse
from typing import Any

from flask import Flask, request

from policykb.context import AppRuntime
from policykb.settings import Settings
from search_app.errors import error_response, register_errors
from search_app.security import register_security_headers


def create_app(
    runtime: AppRuntime | None = None, test_config: dict[str, Any] | None = None
) -> Flask:
    """App factory over ``runtime`` (the services of one data directory, given by the
    wiring layer: ``wiring.wsgi.create_app`` is the entry point servers call);
    ``test_config`` overrides Flask config keys."""
    if runtime is None:  # the entry point of releases before the wiring layer
        raise SystemExit(
            "search_app:create_app() needs the runtime the wiring layer builds: serve "
            "'wiring.wsgi:create_app()' instead (for example gunicorn "
            "'wiring.wsgi:create_app()')."
        )
    app = Flask(__name__)
    settings = runtime.settings
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        JSON_AS_ASCII=False,
        MAX_CONTENT_LENGTH=(settings.max_file_mb + 1) * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SAVED_SEARCH_LIMIT=settings.saved_search_limit,
    )
    if test_config:
        app.config.update(test_config)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["policykb"] = runtime

    from search_app.views import admin, analyst, api, oai, ui
    from search_app.views.csrf import csrf_token

    app.register_blueprint(ui.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(analyst.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(oai.bp)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.filters["timestamp"] = lambda t: time.strftime(
        "%Y-%m-%d %H:%M:%S", time.gmtime(t)
    )
    app.jinja_env.filters["shown_date"] = shown_date
    _register_limits(app, settings)
    register_errors(app)
    register_security_headers(app)
    app.wsgi_app = RawUtf8Query(app.wsgi_app)
    return app


class RawUtf8Query:
    """WSGI middleware: a client that sends Korean in the URL without percent-encoding it
    (``curl '…/api/search?q=스마트시티'``) gets what the encoded URL gets. PEP 3333 servers
    (gunicorn) hand the raw bytes over as latin-1 characters, which Flask reads right; the
    development server of ``policykb serve`` encodes those characters once more, so the
    query was searched as mojibake. The query string is unwrapped back to its bytes and
    percent-encoded."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        qs = environ.get("QUERY_STRING", "")
        if qs and not qs.isascii():
            environ["QUERY_STRING"] = urllib.parse.quote(_raw_bytes(qs), safe="=&+%")
        return self.app(environ, start_response)


def _raw_bytes(qs: str) -> bytes:
    """The bytes a client sent for the WSGI string ``qs``: latin-1 characters of them, or
    of their UTF-8 encoding again (as many times as that reading holds)."""
    try:
        raw = qs.encode("latin-1")
    except UnicodeEncodeError:  # not a PEP 3333 string: the text itself
        return qs.encode("utf-8")
    for _ in range(3):
        try:
            inner = raw.decode("utf-8")
        except UnicodeDecodeError:
            break
        if inner.isascii():
            break
        try:
            once_more = inner.encode("latin-1")
        except UnicodeEncodeError:
            break  # real text (Hangul): raw is what the client sent
        try:
            once_more.decode("utf-8")
        except UnicodeDecodeError:
            break  # latin-1 text such as café
        raw = once_more
    return raw


def shown_date(item, unknown: str = "") -> str:
    """A document's or hit's date as shown: a catalogue record known only by its year
    (stored as YYYY-01-01) as "YYYY년", not as a first of January."""
    date = getattr(item, "date", None)
    if not date:
        return unknown
    if not getattr(item, "has_original", True) and date.endswith("-01-01"):
        return f"{date[:4]}년"
    return date


# Suggestions come with every keystroke: their own bucket, SUGGEST_RATE times the rate, so
# typing never uses up the searches.
SUGGEST_PATH = "/api/suggest"
SUGGEST_RATE = 4
RATE_LIMITED = (
    "/search",
    "/api/search",
    "/export.",
    "/feed.atom",
    "/analysis",
    "/api/analysis",
    "/saved",
)


def _register_limits(app: Flask, settings: Settings) -> None:
    from search_app.ratelimit import RateLimiter

    if not settings.rate_limit:
        return
    limiter = RateLimiter(settings.rate_limit)
    suggest_limiter = RateLimiter(settings.rate_limit * SUGGEST_RATE)
    app.extensions["policykb_ratelimit"] = limiter

    @app.before_request
    def rate_limit():
        if request.path == SUGGEST_PATH:
            bucket = suggest_limiter
        elif request.path.startswith(RATE_LIMITED):
            bucket = limiter
        else:
            return None
        ok, wait = bucket.allow(request.remote_addr or "-")
        if ok:
            return None
        message = "요청이 너무 많습니다. 잠시 후 다시 시도해 주세요."
        response = error_response(429, "rate_limited", message)
        response.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        return response
