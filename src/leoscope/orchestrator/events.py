"""Change notices for watching nodes: "node N: something changed", sent after commit.

A notice carries ids only; the watcher re-reads the store. On SQLite (one orchestrator process)
notices go straight to the local subscribers once the transaction has committed. On PostgreSQL
they travel as `NOTIFY leoscope_node` inside the writing transaction, so PostgreSQL delivers them
exactly when (and only if) it commits, to every replica's LISTEN connection, including our own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "leoscope_node"
# Kinds a watching node is told about ("user" notices only refresh caches).
WATCHED_KINDS = frozenset({"jobs", "tasks", "scavenger", "node", "config", "resync"})


@dataclass(frozen=True, slots=True)
class NodeEvent:
    nodeid: str
    kind: str  # "jobs" | "tasks" | "scavenger" | "node"
    jobid: str = ""
    taskid: str = ""
    scavenger_mode_active: bool = False


class EventHub:
    """Fan-out of node events to asyncio subscribers (the watch_node streams)."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[list[NodeEvent]], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: dict[str, set[asyncio.Queue[NodeEvent]]] = defaultdict(set)
        self._seq = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @contextmanager
    def subscribe(self, nodeid: str, maxsize: int = 256) -> Iterator[asyncio.Queue[NodeEvent]]:
        queue: asyncio.Queue[NodeEvent] = asyncio.Queue(maxsize=maxsize)
        self._subscribers[nodeid].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[nodeid].discard(queue)
            if not self._subscribers[nodeid]:
                del self._subscribers[nodeid]

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # Called from any thread.
    def deliver(self, events: list[NodeEvent]) -> None:
        if not events:
            return
        for listener in self.listeners:  # synchronous: caches drop stale answers first
            listener(events)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._deliver_now, events)

    def _deliver_now(self, events: list[NodeEvent]) -> None:
        for event in events:
            if event.kind not in WATCHED_KINDS:
                continue
            targets = (
                [q for qs in self._subscribers.values() for q in qs]
                if event.nodeid == "*"
                else list(self._subscribers.get(event.nodeid, ()))
            )
            for queue in targets:
                if queue.full():
                    # A watcher that cannot keep up gets one "resync" instead of a backlog.
                    _drain(queue)
                    queue.put_nowait(NodeEvent(event.nodeid, "resync"))
                else:
                    queue.put_nowait(event)

    # Publishing, per back end -------------------------------------------------------------
    def publish_in_transaction(self, conn: Connection, events: list[NodeEvent]) -> None:
        """Hook for back ends that publish inside the transaction (PostgreSQL)."""

    def publish_after_commit(self, events: list[NodeEvent]) -> None:
        """Hook for back ends that publish after the commit (SQLite, in-process)."""
        self.deliver(events)

    def close(self) -> None:
        pass


def _drain(queue: asyncio.Queue[NodeEvent]) -> None:
    while not queue.empty():
        queue.get_nowait()


class PostgresEventHub(EventHub):
    """Notices go through PostgreSQL, so every replica sharing the database sees them."""

    def __init__(self, url: str) -> None:
        super().__init__()
        parsed = make_url(url)
        self._conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="pg-listen", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def publish_in_transaction(self, conn: Connection, events: list[NodeEvent]) -> None:
        for event in events:
            conn.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CHANNEL, "payload": json.dumps(asdict(event))},
            )

    def publish_after_commit(self, events: list[NodeEvent]) -> None:
        """Already published through NOTIFY; our own LISTEN connection delivers them."""

    def _listen(self) -> None:
        import psycopg

        backoff = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if self._ready.is_set():
                        # Notices may have been missed while reconnecting: everyone re-reads.
                        self.deliver([NodeEvent(nodeid="*", kind="resync")])
                    self._ready.set()
                    backoff = 0.5
                    while not self._stop.is_set():
                        batch = []
                        for note in conn.notifies(timeout=1.0, stop_after=64):
                            try:
                                batch.append(NodeEvent(**json.loads(note.payload)))
                            except (TypeError, ValueError):
                                log.warning("ignoring malformed notice on %s", CHANNEL)
                        self.deliver(batch)
            except Exception as exc:  # reconnect on any connection failure
                if self._stop.is_set():
                    return
                log.warning("LISTEN connection lost (%s); reconnecting", type(exc).__name__)
                self._ready.set()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
