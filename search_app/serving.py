"""Serving the app from the standard library's HTTP server (``policykb serve``, tests):
a request handler whose ``Server`` header names the product without versions."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler
from werkzeug.serving import make_server as _make_server

SERVER_NAME = "policykb"


class RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, without Werkzeug's and Python's versions in ``Server``."""

    def version_string(self) -> str:
        return SERVER_NAME


def make_server(host: str, port: int, app: Flask, **kwargs: Any) -> BaseWSGIServer:
    """A threaded server for ``app`` on ``host:port`` (port 0: any free port)."""
    kwargs.setdefault("threaded", True)
    return _make_server(host, port, app, request_handler=RequestHandler, **kwargs)
