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


def _public_url(raw: str) -> str:
    """An absolute http(s) URL without query or fragment; no trailing slash."""
    from urllib.parse import urlsplit

    raw = raw.strip()
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http:// or https:// URL")
    if parts.query or parts.fragment or any(c.isspace() for c in raw):
        raise ValueError("must not hold a query, a fragment or spaces")
    return raw.rstrip("/")


def _backend(raw: str) -> str:
    if raw not in ("embedded", "elasticsearch"):
        raise ValueError("must be 'embedded' or 'elasticsearch'")
    return raw


def _ocr_mode(raw: str) -> str:
    if raw not in ("auto", "off"):
        raise ValueError("must be 'auto' or 'off'")
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
    Setting(
        "public_url",
        "",
        "Public base URL of the site (e.g. https://kb.example.org); absolute links in feeds "
        "and exports use it, never the request's Host header. Empty: http://HOST:PORT.",
        _public_url,
    ),
    Setting(
        "session_idle_minutes",
        30,
        "An admin session ends after this many minutes without a request.",
        _positive_int,
    ),
    Setting(
        "session_max_hours",
        12,
        "An admin session ends this many hours after login, however active.",
        _positive_int,
    ),
    Setting(
        "saved_search_limit",
        50,
        "Most saved searches one browser or user may keep.",
        _positive_int,
    ),
    Setting(
        "ocr",
        "auto",
        "OCR with Tesseract (tesseract-ocr + tesseract-ocr-kor) in the ingest workers: 'auto' "
        "reads PDF pages whose text layer has no usable Hangul and image-only pages (cached "
        "under the data directory's ocr-cache/ by file hash and OCR settings); 'off' never.",
        _ocr_mode,
    ),
    Setting("oai_repository_name", "policykb 정책연구 포털", "OAI-PMH repositoryName (Identify)."),
    Setting("oai_admin_email", "oai-admin@policykb.invalid", "OAI-PMH adminEmail (Identify)."),
    Setting("oai_page_size", 100, "Records per OAI-PMH list response.", _positive_int),
    Setting(
        "harvest_rate",
        "1.0",
        "Harvest: requests per second to one host (robots.txt Crawl-delay can lower it).",
        float,
    ),
    Setting("harvest_concurrency", 4, "Harvest: downloads at once (all hosts).", _positive_int),
    Setting("harvest_timeout", 30, "Harvest: seconds before a silent server fails.", _positive_int),
    Setting("harvest_retries", 3, "Harvest: tries per URL on timeouts and 5xx.", _positive_int),
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
    public_url: str
    session_idle_minutes: int
    session_max_hours: int
    saved_search_limit: int
    oai_repository_name: str
    oai_admin_email: str
    oai_page_size: int
    harvest_rate: float
    harvest_concurrency: int
    harvest_timeout: int
    harvest_retries: int
    ocr: str = "auto"

    @property
    def base_url(self) -> str:
        """Base of absolute links: the configured public URL, else the serve address."""
        return self.public_url or f"http://{self.host}:{self.port}"

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
