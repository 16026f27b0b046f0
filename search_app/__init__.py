"""The Flask web app: Korean search UI, document pages and the JSON API."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from flask import Flask, jsonify, render_template, request

from policykb.backends import BackendError
from policykb.runtime import Runtime
from policykb.settings import Settings, load_settings
from search_app.security import register_security_headers


def create_app(
    test_config: dict[str, Any] | None = None, settings: Settings | None = None
) -> Flask:
    """App factory. ``settings`` (or ``POLICYKB_*`` environment variables) configure the
    data; ``test_config`` overrides Flask config keys."""
    app = Flask(__name__)
    settings = settings or load_settings()
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
    app.extensions["policykb"] = Runtime(settings)

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
    _register_limits(app, settings)
    _register_errors(app)
    register_security_headers(app)
    return app


MAX_URI_BYTES = 8192  # longer request targets get a 414 (a 500-character query fits)
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
        if _wants_json():
            response = jsonify({"error": {"code": "rate_limited", "message": message}})
        else:
            response = app.make_response(
                (render_template("error.html", status=429, message=message), 429)
            )
        response.status_code = 429
        response.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        return response


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/admin/api/")) or request.path == "/healthz"


def _register_errors(app: Flask) -> None:
    def error(status: int, code: str, message: str):
        if _wants_json():
            return jsonify({"error": {"code": code, "message": message}}), status
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(400)
    def bad_request(exc):
        description = getattr(exc, "description", "") or ""
        korean = re.search("[\uac00-\ud7a3]", description)
        return error(400, "bad_request", description if korean else "요청을 이해할 수 없습니다.")

    @app.errorhandler(401)
    def unauthorized(exc):
        return error(401, "unauthorized", "로그인이 필요합니다.")

    @app.errorhandler(409)
    def conflict(exc):
        return error(409, "conflict", getattr(exc, "description", "") or "충돌이 생겼습니다.")

    @app.errorhandler(404)
    def not_found(exc):
        return error(404, "not_found", "찾는 페이지나 문서가 없습니다.")

    @app.errorhandler(405)
    def not_allowed(exc):
        response = app.make_response(
            error(405, "method_not_allowed", "허용되지 않는 요청 방식입니다.")
        )
        methods = getattr(exc, "valid_methods", None) or []
        response.headers["Allow"] = ", ".join(sorted(methods))
        return response

    @app.before_request
    def uri_length():
        raw = len(request.path.encode()) + len(request.environ.get("QUERY_STRING", ""))
        if raw > MAX_URI_BYTES:
            return error(
                414, "uri_too_long", "주소(URL)가 너무 깁니다. 검색어나 조건을 줄여 주세요."
            )
        return None

    @app.errorhandler(413)
    def too_large(exc):
        description = getattr(exc, "description", "") or ""
        korean = re.search("[\uac00-\ud7a3]", description)
        return error(413, "too_large", description if korean else "요청이 너무 큽니다.")

    @app.errorhandler(BackendError)
    def backend_down(exc):
        app.logger.warning("search backend error: %s", exc)
        return error(
            503,
            "backend_unavailable",
            "검색 엔진에 연결할 수 없습니다. 잠시 후 다시 시도해 주세요.",
        )

    @app.errorhandler(500)
    def internal(exc):
        return error(500, "internal_error", "서버 오류가 발생했습니다.")
