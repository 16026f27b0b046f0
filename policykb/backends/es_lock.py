"""One writer at a time on an Elasticsearch alias, across threads, processes and hosts.

The embedded engine serialises writers with ``flock`` on a file in its index folder; an
Elasticsearch alias is shared by processes that share no folder (a web server's re-index
beside a CLI ingest, two hosts behind a balancer). Without a lock, a document written
through the alias while a rebuild fills the next physical index lands in the old index and
is gone when the alias switches, and two rebuilds at once delete each other's new index.

The lock is one document, ``<alias>-lock/_doc/write``, made with the ``create`` operation:
Elasticsearch creates a document id once, so a second writer gets 409 and waits. The
holder renews a lease (:data:`LEASE` seconds) from a background thread; a writer that
finds an expired lease (its holder was killed) removes that exact version of the document
(``if_seq_no``/``if_primary_term``, so two waiters cannot both take it over) and tries
again. Leases compare wall clocks, so hosts sharing a cluster need clocks within a fraction
of :data:`LEASE`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError, TransportError
from elasticsearch import ConnectionError as ESConnectionError

from policykb.backends.base import BackendError

log = logging.getLogger(__name__)

LEASE = 60.0  # seconds a holder's claim lasts unless renewed
RENEW_EVERY = 15.0  # seconds between renewals while held
WAIT = 3600.0  # seconds a writer waits for another's work (a rebuild) before giving up
POLL = 0.25  # seconds before the second attempt while waiting, doubling up to POLL_MAX
POLL_MAX = 2.0
LOCK_ID = "write"


class WriteLock:
    """The writers' lock of one alias (re-entrant within a process: a rebuild that calls
    ``ensure_index`` takes it once). ``error`` turns an engine error into the backend's
    :class:`BackendError`; ``wait`` is how long a writer waits for another."""

    def __init__(
        self,
        es: Elasticsearch,
        index: str,
        error: Callable[[Exception], BackendError],
        wait: float = WAIT,
    ) -> None:
        self.es = es
        self.index = index
        self.wait = wait
        self._error = error
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._version: tuple[int, int] | None = None  # (seq_no, primary_term) we hold
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._owner = ""
        self._index_ready = False

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for the block: other threads of this process wait on a thread
        lock, other processes on the lock document."""
        with self._thread_lock:
            if self._depth == 0:
                self._acquire()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._release()

    # ------------------------------------------------------------------ internals
    def _claim(self) -> dict:
        return {
            "owner": self._owner,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "until": time.time() + LEASE,
        }

    def _api(self, fn: Callable, **kwargs):
        """``fn(**kwargs)``; 409 and 404 come back as they are (the lock's protocol),
        any other engine error as the backend's error."""
        try:
            return fn(**kwargs)
        except (ConflictError, NotFoundError):
            raise
        except (ApiError, ESConnectionError, TransportError) as exc:
            raise self._error(exc) from exc

    def _ensure_lock_index(self) -> None:
        """The lock's index, made once per process (not a request per write); a writer
        that finds it gone (:meth:`forget_index`) makes it again."""
        if self._index_ready:
            return
        if self._api(self.es.indices.exists, index=self.index):
            self._index_ready = True
            return
        try:
            self.es.indices.create(
                index=self.index,
                settings={"number_of_shards": 1, "auto_expand_replicas": "0-all"},
                mappings={"dynamic": False, "properties": {"until": {"type": "double"}}},
            )
        except ApiError as exc:
            if "resource_already_exists" not in str(exc):  # another writer made it first
                raise self._error(exc) from exc
        except (ESConnectionError, TransportError) as exc:
            raise self._error(exc) from exc
        self._index_ready = True

    def forget_index(self) -> None:
        """The lock's index was deleted (tests' ``drop_all``): make it again when next
        needed."""
        self._index_ready = False

    def _acquire(self) -> None:
        self._owner = uuid.uuid4().hex
        self._ensure_lock_index()
        deadline = time.monotonic() + self.wait
        waited = 0  # attempts that found the lock held
        while True:
            try:
                res = self._api(
                    self.es.create, index=self.index, id=LOCK_ID, document=self._claim()
                )
                self._version = (res["_seq_no"], res["_primary_term"])
                break
            except ConflictError:
                pass
            if self._take_over_expired():
                continue
            if time.monotonic() > deadline:
                raise BackendError(
                    "다른 작업이 검색 색인을 쓰고 있어 기다리다 멈췄습니다. 잠시 뒤 다시 시도해 "
                    "주세요.",
                    f"lock {self.index}/{LOCK_ID} held for over {self.wait:.0f} s",
                    code="engine_busy",
                )
            if not waited:
                log.info("waiting for another writer of %s", self.index)
            time.sleep(min(POLL_MAX, POLL * 2 ** min(waited, 8)))
            waited += 1
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew, name="es-write-lock", daemon=True)
        self._renewer.start()

    def _take_over_expired(self) -> bool:
        """Remove the lock document when its lease ran out (its holder died); True when
        the lock may be free now (removed, or already gone)."""
        try:
            cur = self._api(self.es.get, index=self.index, id=LOCK_ID)
        except NotFoundError:
            return True
        if float(cur["_source"].get("until", 0)) >= time.time():
            return False
        log.warning(
            "taking over the write lock of %s: its lease ran out (holder %s, pid %s)",
            self.index,
            cur["_source"].get("host"),
            cur["_source"].get("pid"),
        )
        try:
            self._api(
                self.es.delete,
                index=self.index,
                id=LOCK_ID,
                if_seq_no=cur["_seq_no"],
                if_primary_term=cur["_primary_term"],
            )
        except (ConflictError, NotFoundError):
            pass  # another waiter took it over first
        return True

    def _renew(self) -> None:
        while not self._stop.wait(RENEW_EVERY):
            version = self._version
            if version is None:
                return
            try:
                res = self.es.index(
                    index=self.index,
                    id=LOCK_ID,
                    document=self._claim(),
                    if_seq_no=version[0],
                    if_primary_term=version[1],
                )
                self._version = (res["_seq_no"], res["_primary_term"])
            except ConflictError:
                log.error("the write lock of %s was taken over while held", self.index)
                return
            except Exception as exc:  # a blip: the next renewal tries again
                log.warning("renewing the write lock of %s failed: %s", self.index, exc)

    def _release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
            self._renewer = None
        version, self._version = self._version, None
        if version is None:
            return
        try:
            self.es.delete(
                index=self.index, id=LOCK_ID, if_seq_no=version[0], if_primary_term=version[1]
            )
        except (ConflictError, NotFoundError):
            log.error("the write lock of %s was no longer ours at release", self.index)
        except Exception as exc:  # the lease runs out on its own
            log.warning("releasing the write lock of %s failed: %s", self.index, exc)
