"""The wiring layer: the only package that knows every other one.

Imports go one way: ``wiring`` (runtime, CLI, evaluation, WSGI entry) -> the apps
(``search_app``, ``ingest``) -> the core (``policykb``) -> ``analyzers`` and ``corpus``.
The contract is checked by import-linter (``make lint``; ``[tool.importlinter]`` in
pyproject.toml).
"""
