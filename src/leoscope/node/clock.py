"""The agent's two clocks, behind one small interface so tests can shift the wall clock.

The wall clock (`time`, epoch seconds) says WHEN a slot is; it can jump (NTP, an operator, a
board without an RTC booting in 1970). The monotonic clock (`monotonic`) measures HOW LONG to
sleep; it never jumps. The timer converts "slot at wall time T" into "sleep T - now seconds on
the monotonic clock", and re-reads the wall clock whenever the two disagree (`offset` moved).
asyncio's own sleeps run on the monotonic clock, so only the wall clock is injectable.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Protocol

from leoscope.core.timeutil import from_epoch


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock time, epoch seconds (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (the event loop's clock)."""
        ...


class SystemClock:
    """The host's clocks."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class ShiftedClock(SystemClock):
    """The host's wall clock plus a fixed shift (tests and demos that need "a minute later")."""

    def __init__(self, shift_secs: float) -> None:
        self.shift_secs = shift_secs

    def time(self) -> float:
        return time.time() + self.shift_secs


def now(clock: Clock) -> datetime:
    """The clock's wall time as an aware UTC datetime."""
    return from_epoch(clock.time())


def offset(clock: Clock) -> float:
    """Wall minus monotonic: constant unless the wall clock jumped."""
    return clock.time() - clock.monotonic()


SYSTEM_CLOCK = SystemClock()
