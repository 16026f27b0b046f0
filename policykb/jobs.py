"""Background admin jobs (re-index, ingest) with progress that pages can poll."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from policykb.errors import ConflictError, PolicyKBError

log = logging.getLogger(__name__)

# What a second start of a running kind is told (HTTP 409 in the admin pages).
RUNNING_MESSAGES = {
    "ingest": "이미 수집 작업이 진행 중입니다.",
    "harvest": "이미 원문 수집(harvest) 작업이 진행 중입니다.",
    "reindex": "이미 재색인이 진행 중입니다.",
}


class JobRunningError(ConflictError, RuntimeError):
    """A job of this kind is already running (only one of a kind at a time)."""

    code = "conflict"

    def __init__(self, kind: str) -> None:
        super().__init__(
            RUNNING_MESSAGES.get(kind, "이미 같은 작업이 진행 중입니다."), f"{kind} already running"
        )
        self.kind = kind


@dataclass
class Job:
    id: int
    kind: str
    started_by: str
    state: str = "running"  # running | done | failed
    done: int = 0
    total: int = 0
    message: str = ""
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def to_json(self) -> dict:
        elapsed = (self.finished or time.time()) - self.started
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "message": self.message,
            "started_by": self.started_by,
            "elapsed_s": round(elapsed, 1),
            "percent": round(100 * self.done / self.total, 1) if self.total else None,
        }


class JobRunner:
    """One job of a kind at a time; jobs run in a thread of the serving process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}
        self._next = 1

    def running(self, kind: str) -> Job | None:
        with self._lock:
            return next(
                (j for j in self._jobs.values() if j.kind == kind and j.state == "running"), None
            )

    def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def latest(self, kind: str) -> Job | None:
        jobs = [j for j in self._jobs.values() if j.kind == kind]
        return max(jobs, key=lambda j: j.id) if jobs else None

    def start(self, kind: str, user: str, work: Callable[[Job], str]) -> Job:
        with self._lock:
            if any(j.kind == kind and j.state == "running" for j in self._jobs.values()):
                raise JobRunningError(kind)
            job = Job(self._next, kind, user)
            self._jobs[job.id] = job
            self._next += 1

        def run() -> None:
            try:
                job.message = work(job)
                job.state = "done"
            except PolicyKBError as exc:  # named by its cause (storage, engine, input)
                job.state = "failed"
                job.message = f"{exc.label}: {exc}"
            except Exception as exc:  # reported on the job, the server keeps running
                job.state = "failed"
                job.message = f"{type(exc).__name__}: {exc}"
                log.exception("job %s-%d failed", kind, job.id)
            finally:
                job.finished = time.time()

        threading.Thread(target=run, name=f"job-{kind}-{job.id}", daemon=True).start()
        return job
