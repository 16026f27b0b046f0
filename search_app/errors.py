"""One error path for the whole app: every refusal is an exception (a
:class:`policykb.errors.InputError`, a :class:`policykb.errors.ConflictError`, an engine
error or an HTTP ``abort``) answered here, as JSON ``{"error": {"code", "message",
"param"}}`` under ``/api/`` and ``/admin/api/`` or as the Korean error page elsewhere.
``/oai`` answers OAI-PMH errors in XML itself (the protocol wants them with HTTP 200)."""

from __future__ import annotations

import logging
import re

from flask import Flask, Response, jsonify, render_template, request

from policykb.backends import BackendError, QueryRejected
from policykb.errors import ConflictError, InputError

log = logging.getLogger(__name__)

_KOREAN = re.compile("[\uac00-\ud7a3]")
MAX_URI_BYTES = 8192  # longer request targets get a 414 (a 500-character query fits)


def wants_json() -> bool:
    """Whether this request is answered in JSON (the API) rather than HTML (the pages)."""
    return request.path.startswith(("/api/", "/admin/api/")) or request.path == "/healthz"


def error_response(
    status: int, code: str, message: str, param: str | None = None, json: bool | None = None
) -> Response:
    """The error answer: JSON for the API (``json`` forces either way), else the page."""
    if wants_json() if json is None else json:
        body: dict = {"code": code, "message": message}
        if param:
            body["param"] = param
        response = jsonify({"error": body})
    else:
        response = Response(render_template("error.html", status=status, message=message))
    response.status_code = status
    return response


def _described(exc, fallback: str) -> str:
    """An ``abort(..., description=...)`` text when it is Korean (written for the user),
    else ``fallback`` (werkzeug's English defaults are not shown)."""
    description = getattr(exc, "description", "") or ""
    return description if _KOREAN.search(description) else fallback


HTTP_ERRORS = {
    400: ("bad_request", "요청을 이해할 수 없습니다.", True),
    401: ("unauthorized", "로그인이 필요합니다.", False),
    404: ("not_found", "찾는 페이지나 문서가 없습니다.", False),
    409: ("conflict", "충돌이 생겼습니다.", True),
    413: ("too_large", "요청이 너무 큽니다.", True),
    500: ("internal_error", "서버 오류가 발생했습니다.", False),
}


def _http_handler(status: int, code: str, message: str, described: bool):
    def handler(exc) -> Response:
        return error_response(status, code, _described(exc, message) if described else message)

    return handler


def register_errors(app: Flask) -> None:
    """The app-level handlers (no blueprint has its own)."""

    @app.errorhandler(InputError)
    @app.errorhandler(ConflictError)
    def refused(exc: InputError | ConflictError):
        return error_response(exc.status, exc.code, exc.message, getattr(exc, "param", None))

    # A Korean ``abort(..., description=...)`` text wins where HTTP_ERRORS says so.
    for status, (code, message, described) in HTTP_ERRORS.items():
        app.register_error_handler(status, _http_handler(status, code, message, described))

    @app.errorhandler(405)
    def not_allowed(exc):
        response = error_response(405, "method_not_allowed", "허용되지 않는 요청 방식입니다.")
        methods = getattr(exc, "valid_methods", None) or []
        response.headers["Allow"] = ", ".join(sorted(methods))
        return response

    @app.before_request
    def uri_length():
        raw = len(request.path.encode()) + len(request.environ.get("QUERY_STRING", ""))
        if raw > MAX_URI_BYTES:
            return error_response(
                414, "uri_too_long", "주소(URL)가 너무 깁니다. 검색어나 조건을 줄여 주세요."
            )
        return None

    @app.errorhandler(BackendError)
    def backend_error(exc: BackendError):
        if isinstance(exc, QueryRejected):  # the engine refused this query: the user's to fix
            log.info("search engine refused a query: %s", exc)
            return error_response(400, "bad_query", exc.message, "q")
        log.warning("search backend error: %s", exc)
        return error_response(
            503,
            "backend_unavailable",
            "검색 엔진에 연결할 수 없습니다. 잠시 후 다시 시도해 주세요.",
        )
