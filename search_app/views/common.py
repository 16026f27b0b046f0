"""Helpers shared by the HTML and JSON views."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request

from policykb.context import AppRuntime


def runtime() -> AppRuntime:
    return current_app.extensions["policykb"]


def request_args() -> dict[str, list[str]]:
    """The query string as name -> list of values (what the service layer accepts)."""
    return {k: request.args.getlist(k) for k in request.args}


def safe_redirect_target(target: str | None, prefix: str, default: str) -> str:
    """``target`` when it is a plain local path under ``prefix`` (e.g. a login's
    ``next=``), else ``default``: no scheme or host, no ``//`` or backslashes, no control
    characters (a CR/LF would split the Location header)."""
    if not target or any(ord(c) < 32 or ord(c) == 127 for c in target) or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return default
    if parts.path != prefix and not parts.path.startswith(prefix.rstrip("/") + "/"):
        return default
    return target


def public_link(path: str) -> str:
    """Absolute URL of an app path (``/documents/x``) under the configured public base URL
    (``POLICYKB_PUBLIC_URL``), never under the request's Host header."""
    root = request.script_root
    if root and path.startswith(root + "/"):
        path = path[len(root) :]
    return runtime().settings.base_url + path
