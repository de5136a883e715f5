"""Node liveness (`last_active`), written behind in batches.

Every node reports a heartbeat each tick (and every run update marks its node active too).
Committing each of those timestamps separately would cost one durable write (an fsync) per
call; instead they are collected and written together about once a second. A timestamp still
waiting is merged into reads in this process, and losing at most a second of them in a crash
loses nothing that matters: the next heartbeat replaces it.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from .store import Store
from .store import nodes as node_store

log = logging.getLogger(__name__)


class LivenessRecorder:
    def __init__(self, store: Store, flush_interval_secs: float = 1.0) -> None:
        self._store = store
        self._interval = flush_interval_secs
        self._pending: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="liveness", daemon=True)
        self._thread.start()

    def mark(self, nodeid: str, at: datetime) -> None:
        with self._lock:
            current = self._pending.get(nodeid)
            if current is None or at > current:
                self._pending[nodeid] = at

    def pending(self, nodeid: str) -> datetime | None:
        with self._lock:
            return self._pending.get(nodeid)

    def overlay(self, nodeid: str, stored: datetime | None) -> datetime | None:
        """The newer of the stored and the pending `last_active`."""
        pending = self.pending(nodeid)
        if pending is None:
            return stored
        return pending if stored is None or pending > stored else stored

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return
        try:
            with self._store.write() as conn:
                node_store.touch_many(conn, batch)
        except Exception:
            log.exception("could not record node liveness; will retry")
            with self._lock:
                for nodeid, at in batch.items():
                    if nodeid not in self._pending or self._pending[nodeid] < at:
                        self._pending[nodeid] = at

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()
