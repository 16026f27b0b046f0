"""The analysis lock of a data directory, across processes (``flock`` on one file).

Whatever writes analyzed documents (an ingest, a reindex, a catalogue import) holds it
shared for its whole run, so several of them may still run side by side; a lexicon edit
holds it alone. So an edit never runs beside a writer that analyzes with the dictionary
of before (its documents would carry an identity the edit declares equivalent), and a
writer never starts in the middle of an edit.

An edit takes seconds and a writer may take hours, so a writer waits for a running edit
(up to :data:`WRITER_WAIT_SECONDS`) while an edit is refused at once when a writer runs.
Both are told why in Korean (:class:`AnalysisBusy`, HTTP 409). Locks of one process
conflict as well (each hold opens the file anew), so the admin page's ingest job and
an edit from the same server exclude each other too.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from policykb.errors import ConflictError

WRITER_WAIT_SECONDS = 60.0  # longer than an edit takes (<= 30 s on 50k documents)
POLL_SECONDS = 0.1

EDIT_REFUSED = (
    "수집(ingest)·재색인·목록 가져오기가 진행 중이라 사전·동의어를 바꾸지 않았습니다. "
    "끝난 뒤 다시 시도해 주세요."
)
WRITER_REFUSED = (
    "사전·동의어 편집이 {seconds:.0f}초 안에 끝나지 않아 {what}을(를) 시작하지 않았습니다. "
    "편집이 끝난 뒤 다시 시도해 주세요."
)


class AnalysisBusy(ConflictError):
    """The analysis lock is held the other way (HTTP 409): nothing was changed."""

    code = "analysis_busy"


class AnalysisLock:
    """``shared()`` for writers of analyzed documents, ``exclusive()`` for lexicon edits."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    @contextmanager
    def shared(self, what: str, wait: float = WRITER_WAIT_SECONDS) -> Iterator[None]:
        """Held by an ingest, reindex or import (``what`` names it in the message); waits
        up to ``wait`` seconds for a lexicon edit to end."""
        fd = self._open()
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise AnalysisBusy(
                            WRITER_REFUSED.format(seconds=wait, what=what),
                            f"{self.path} is held by a lexicon edit",
                        ) from None
                    time.sleep(POLL_SECONDS)
            yield
        finally:
            os.close(fd)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Held by a lexicon edit; refused at once while a writer holds the lock."""
        fd = self._open()
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise AnalysisBusy(
                    EDIT_REFUSED, f"{self.path} is held by an ingest, reindex or import"
                ) from None
            yield
        finally:
            os.close(fd)
