"""Settings, declared once with their environment variable, default and help text.

Settings are read into an immutable :class:`Settings` object; nothing mutates them at
run time and tests build their own with :func:`load_settings` overrides.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzers.lexicon import DEFAULT_SYNONYMS, DEFAULT_USER_DICT


class SettingsError(ValueError):
    pass


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be 0 or a positive integer")
    return value


def _backend(raw: str) -> str:
    if raw not in ("embedded", "elasticsearch"):
        raise ValueError("must be 'embedded' or 'elasticsearch'")
    return raw


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str

    @property
    def env(self) -> str:
        return "POLICYKB_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "./data", "Directory for the document store, index and uploads.", Path),
    Setting(
        "backend", "embedded", "Search backend: 'embedded' (tantivy) or 'elasticsearch'.", _backend
    ),
    Setting("es_url", "http://127.0.0.1:9200", "Elasticsearch URL (backend=elasticsearch)."),
    Setting("es_index", "policykb", "Elasticsearch alias name; physical indices get a suffix."),
    Setting("es_shards", 1, "Primary shards of a new Elasticsearch index.", _positive_int),
    Setting("es_replicas", 0, "Replicas of a new Elasticsearch index.", _non_negative_int),
    Setting("host", "127.0.0.1", "Address `policykb serve` binds to."),
    Setting("port", 5000, "Port `policykb serve` listens on.", _positive_int),
    Setting("max_page_size", 100, "Largest page size the search API accepts.", _positive_int),
    Setting(
        "max_query_length", 500, "Longest query (characters) the search accepts.", _positive_int
    ),
    Setting(
        "max_file_mb", 100, "Files larger than this (MB) are refused by ingest.", _positive_int
    ),
    Setting(
        "user_dict",
        str(DEFAULT_USER_DICT),
        "User dictionary (TSV: word, tag, score, parts); run `policykb reindex` after editing.",
        Path,
    ),
    Setting(
        "synonyms",
        str(DEFAULT_SYNONYMS),
        "Synonym groups (one per line, comma-separated, "
        "canonical first); run `policykb reindex` after editing.",
        Path,
    ),
    Setting(
        "ingest_roots",
        "",
        "Folders (':'-separated) admins may ingest from; the data "
        "directory's uploads/ and the sample corpus are always allowed.",
    ),
    Setting(
        "rate_limit",
        120,
        "Search/export requests per minute per client (0: no limit).",
        _non_negative_int,
    ),
    Setting(
        "cookie_secure",
        "true",
        "Mark the session cookie Secure (HTTPS only; browsers accept it on http://localhost too).",
        lambda v: v.lower() in ("1", "true", "yes"),
    ),
    Setting("secret_key", "", "Flask session secret; a random one is used when empty."),
)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    backend: str
    es_url: str
    es_index: str
    es_shards: int
    es_replicas: int
    host: str
    port: int
    max_page_size: int
    max_query_length: int
    max_file_mb: int
    user_dict: Path
    synonyms: Path
    ingest_roots: str
    rate_limit: int
    cookie_secure: bool
    secret_key: str

    @property
    def store_path(self) -> Path:
        return self.data_dir / "store.sqlite3"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Defaults, then ``POLICYKB_*`` environment variables, then ``overrides``."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    values: dict[str, Any] = {}
    for s in SETTINGS:
        if s.name in overrides:
            value = overrides.pop(s.name)
            values[s.name] = s.parse(str(value)) if isinstance(value, str) else value
            continue
        raw = environ.get(s.env)
        if raw is None or raw == "":
            values[s.name] = s.parse(str(s.default)) if s.parse is not str else s.default
            continue
        try:
            values[s.name] = s.parse(raw)
        except ValueError as exc:
            raise SettingsError(f"{s.env}={raw!r}: {exc}") from exc
    if overrides:
        raise SettingsError(f"unknown settings: {', '.join(sorted(overrides))}")
    values["data_dir"] = Path(values["data_dir"]).resolve()
    return Settings(**values)
