"""The WSGI entry point: ``gunicorn 'wiring.wsgi:create_app()'``."""

from __future__ import annotations

from typing import Any

from flask import Flask

import search_app
from policykb.settings import Settings, load_settings
from wiring.runtime import Runtime


def create_app(
    test_config: dict[str, Any] | None = None, settings: Settings | None = None
) -> Flask:
    """The web app over the data directory ``settings`` (or the ``POLICYKB_*`` environment
    variables) name; ``test_config`` overrides Flask config keys."""
    return search_app.create_app(Runtime(settings or load_settings()), test_config)
