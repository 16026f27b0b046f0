"""What the web app needs from the running system, as a protocol the core owns.

``search_app`` must not import the wiring layer (``wiring.runtime``) nor ``ingest``; it is
given an object with this shape instead (:class:`wiring.runtime.Runtime` is the one in
use). Ingest and harvest appear only through the small ``IngestRun``/``HarvestRun``
shapes, so the app sees the reports it shows and nothing of the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from analyzers import Analyzer
from policykb.accounts import Accounts
from policykb.backends import SearchBackend
from policykb.jobs import JobRunner
from policykb.saved import SavedSearches
from policykb.service import SearchService
from policykb.settings import Settings
from policykb.store import DocumentStore
from policykb.suggest import Suggester


class IngestRun(Protocol):
    """An ingest run over files and folders (``ingest.pipeline.Ingester``)."""

    def run(
        self,
        paths: Iterable[Path],
        retry_failed: bool = False,
        progress: Callable[[Any, Path], None] | None = None,
    ) -> Any: ...


class HarvestRun(Protocol):
    """Fetching catalogue originals (``ingest.harvest.Harvester``)."""

    def run(self, retry_failed: bool = False, progress: Callable | None = None) -> Any: ...

    def failures(self) -> list[dict]: ...


class AppRuntime(Protocol):
    """The services of one data directory, as the web app uses them."""

    # Attributes (the runtime builds each on first use).
    settings: Settings
    store: DocumentStore
    backend: SearchBackend
    analyzer: Analyzer
    service: SearchService
    suggester: Suggester
    accounts: Accounts
    saved: SavedSearches
    jobs: JobRunner

    @property
    def supported_suffixes(self) -> frozenset[str]:
        """File name suffixes ingest reads (an upload of any other kind is refused)."""
        ...

    def lexicon_paths(self) -> tuple[Path, Path]: ...

    def save_lexicon(self, user_dict: str, synonyms: str) -> None:
        """Check and keep edited dictionary and synonym texts; raises
        :class:`policykb.errors.InputError` (nothing saved) when either does not parse."""
        ...

    def ingest_roots(self) -> list[Path]: ...

    def allowed_folder(self, raw: str) -> Path:
        """``raw`` as a folder under an ingest root; raises ``InputError`` otherwise."""
        ...

    def upload_folder(self) -> Path: ...

    def ingester(self, workers: int | None = None) -> IngestRun: ...

    def harvester(self, **overrides: Any) -> HarvestRun: ...

    def reindex(self, progress: Callable[[int, int], None] | None = None) -> dict: ...
