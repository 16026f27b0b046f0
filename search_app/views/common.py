"""Helpers shared by the HTML and JSON views."""

from __future__ import annotations

from flask import current_app, request

from policykb.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["policykb"]


def request_args() -> dict[str, list[str]]:
    """The query string as name -> list of values (what the service layer accepts)."""
    return {k: request.args.getlist(k) for k in request.args}
