"""Waiting on a condition with a deadline (never a bare sleep standing in for synchronisation)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def wait_until(condition: Callable[[], object], within: float = 5.0, what: str = "") -> None:
    """Poll ``condition`` every 10 ms until it is truthy; fail with ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what or condition}")
        await asyncio.sleep(0.01)


class Samples:
    """An ``on_sample`` callback that records every (values, at) it is given."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, object], float]] = []

    def __call__(self, values: dict[str, object], at: float) -> None:
        self.calls.append((dict(values), at))

    def latest(self, name: str) -> object:
        for values, _at in reversed(self.calls):
            if name in values:
                return values[name]
        raise KeyError(name)

    def seen(self, name: str) -> bool:
        return any(name in values for values, _at in self.calls)
