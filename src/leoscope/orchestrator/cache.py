"""Per-process read caches for the node poll path, invalidated by change notices.

Every node asks the same few questions each tick (who am I, my jobs, my tasks, my scavenger
flag). The answers change only when something commits a change, and every such commit emits a
change notice (events.py). So answers are cached by key and dropped when a notice for that key
arrives: synchronously after our own commits, and through LISTEN/NOTIFY for other replicas'.
A generation counter per key makes sure a load that raced with an invalidation is not stored,
and a maximum age bounds the staleness should a notice ever be lost (e.g. while the LISTEN
connection reconnects, after which everything is dropped anyway).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .events import NodeEvent

Key = tuple[str, str]

# Which cached answers a change notice makes stale.
_STALE_KINDS: dict[str, tuple[str, ...]] = {
    "user": ("user",),
    "node": ("node", "user", "jobs"),
    "scavenger": ("node",),
    "jobs": ("jobs",),
    "tasks": ("tasks",),
}


class ReadCache:
    def __init__(self, max_age_secs: float = 30.0, max_entries: int = 50_000) -> None:
        self._max_age = max_age_secs
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[Key, tuple[Any, float, float]] = {}  # value, loaded_at, valid_until
        self._generation: dict[Key, int] = {}
        self._epoch = 0

    def get(
        self,
        key: Key,
        load: Callable[[], Any],
        valid_until: Callable[[Any], float] | None = None,
    ) -> Any:
        """The cached answer for `key`, or `load()` (cached unless invalidated meanwhile).

        `valid_until(value)` may give an epoch time after which the answer is stale by itself
        (a job's end date, a task's expiry).
        """
        now = time.time()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and now - hit[1] < self._max_age and now < hit[2]:
                return hit[0]
            generation = (self._epoch, self._generation.get(key, 0))
        value = load()
        until = valid_until(value) if valid_until else float("inf")
        with self._lock:
            if (self._epoch, self._generation.get(key, 0)) == generation:
                if len(self._entries) >= self._max_entries:
                    self._entries.clear()
                self._entries[key] = (value, now, until)
        return value

    def invalidate(self, keys: Iterable[Key]) -> None:
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)
                self._generation[key] = self._generation.get(key, 0) + 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._epoch += 1

    def on_events(self, events: Iterable[NodeEvent]) -> None:
        keys: list[Key] = []
        for event in events:
            if event.kind == "resync":
                self.clear()
                return
            keys.extend((kind, event.nodeid) for kind in _STALE_KINDS.get(event.kind, ()))
        if keys:
            self.invalidate(keys)
