"""What a run did: the base of the ingest, catalogue-import and harvest reports.

Each run's report adds its own counters; this holds what they share: how many items were
already up to date, when the run started and how long it took, and the rate of a count
since the start (for progress lines)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(kw_only=True)
class RunReport:
    """Shared part of a run's report (keyword-only, after the subclass's own fields)."""

    unchanged: int = 0  # items already up to date (same file, record or 304 Not Modified)
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0

    def elapsed(self) -> float:
        """Seconds since the run started (never 0, so rates stay finite)."""
        return max(1e-6, time.monotonic() - self.started)

    def per_second(self, count: float) -> float:
        return count / self.elapsed()

    def finish(self) -> None:
        """Record the run's duration (``seconds``)."""
        self.seconds = time.monotonic() - self.started
