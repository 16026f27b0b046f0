"""The WSGI entry point: ``gunicorn 'wiring.wsgi:create_app()'``."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask

import search_app
from policykb.settings import Settings, load_settings
from wiring.runtime import Runtime

log = logging.getLogger(__name__)


def create_app(
    test_config: dict[str, Any] | None = None, settings: Settings | None = None
) -> Flask:
    """The web app over the data directory ``settings`` (or the ``POLICYKB_*`` environment
    variables) name; ``test_config`` overrides Flask config keys. A server's app (no
    ``test_config``: ``policykb serve``, gunicorn) loads Kiwi and opens the engine in the
    background at once, so the first search does not wait for them (7 s on a busy
    machine); ``app.extensions["policykb_warm"]`` is that thread."""
    runtime = Runtime(settings or load_settings())
    app = search_app.create_app(runtime, test_config)
    if test_config is None:
        thread = threading.Thread(target=_warm, args=(runtime,), name="warm-up", daemon=True)
        thread.start()
        app.extensions["policykb_warm"] = thread

        @app.before_request
        def _after_warm_up() -> None:
            # A request during the warm-up waits for it rather than building a second
            # analyzer and backend beside it (cached_property takes no lock from 3.12).
            if thread.is_alive():
                thread.join()

    return app


def _warm(runtime: Runtime) -> None:
    try:
        runtime.service  # noqa: B018 - builds the analyzer (Kiwi) and opens the backend
    except Exception as exc:  # noqa: BLE001 - the first request reports it to the user
        log.warning("warm-up failed (the first search will retry): %s", exc)
