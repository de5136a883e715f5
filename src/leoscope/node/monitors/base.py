"""Shared plumbing for the node's telemetry monitors.

A monitor is one asyncio task that produces samples of trigger variables and hands each sample to
a callback, ``on_sample(values, at)``: ``values`` maps reference variable names (for example
``pop_ping_latency_ms``) to their new value, ``None`` meaning "unknown", and ``at`` is the wall
clock time (epoch seconds) the sample describes. Monitors know nothing about the variable table
or triggers; the agent wires the callback to them.

Failures never kill a monitor. An error is recorded in ``last_error``, the last good reading is
kept (nothing is emitted), and the next attempt waits a jittered, exponentially growing delay
(`Backoff`). ``freshness`` is the time of the last good sample, so the agent can tell a live
reading from a stale one.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Self

from leoscope.core.errors import InvalidInput

from ..tasks import cancel_and_wait

log = logging.getLogger(__name__)

SampleCallback = Callable[[dict[str, object], float], None]
"""``on_sample(values, at)``: new variable values (None = unknown) observed at epoch seconds ``at``."""

Clock = Callable[[], float]

STOP_TIMEOUT_SECS = 5.0


class SourceError(Exception):
    """A source answered with a failure; ``retry_after_secs`` is its own hint, if it gave one."""

    def __init__(self, message: str, retry_after_secs: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_secs = retry_after_secs


class Backoff:
    """Jittered exponential delays for retrying a failing source.

    The n-th consecutive failure waits a uniform draw from ``[b/2, b]`` where
    ``b = min(max_secs, initial_secs * factor**n)``: the jitter spreads nodes that failed
    together, and the half-open lower bound keeps the delays non-decreasing.
    """

    def __init__(
        self,
        initial_secs: float = 1.0,
        max_secs: float = 300.0,
        factor: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        if not initial_secs > 0:
            raise InvalidInput("initial_secs", f"must be positive, got {initial_secs!r}")
        if not max_secs >= initial_secs:
            raise InvalidInput("max_secs", f"must be at least initial_secs ({initial_secs!r})")
        if not factor >= 1:
            raise InvalidInput("factor", f"must be at least 1, got {factor!r}")
        self.initial_secs = initial_secs
        self.max_secs = max_secs
        self.factor = factor
        self._rng = rng or random.Random()
        self.attempt = 0

    def next_delay(self) -> float:
        """The delay before the next retry; each call counts one more failure."""
        ceiling = min(self.max_secs, self.initial_secs * self.factor ** min(self.attempt, 64))
        self.attempt += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class Monitor(abc.ABC):
    """One telemetry source run as an asyncio task; subclasses implement `_run`.

    Use ``await m.start()`` / ``await m.stop()``, or ``async with m:``. ``start`` may be given an
    ``AsyncExitStack`` on which it registers its own ``stop``.
    """

    name = "monitor"

    def __init__(
        self,
        on_sample: SampleCallback,
        *,
        backoff: Backoff | None = None,
        clock: Clock = time.time,
    ) -> None:
        self._on_sample = on_sample
        self._clock = clock
        self.backoff = backoff or Backoff()
        self.freshness: float | None = None
        """Wall-clock time (epoch seconds) of the last good sample, None before the first."""
        self.last_error: str | None = None
        """Text of the most recent failure; cleared by the next good sample."""
        self.consecutive_errors = 0
        self._values: dict[str, object] = {}
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self, exit_stack: contextlib.AsyncExitStack | None = None) -> None:
        """Start the monitor's task (idempotent); with ``exit_stack``, register ``stop`` on it."""
        if self.running:
            return
        self._task = asyncio.create_task(self._guarded_run(), name=f"monitor:{self.name}")
        if exit_stack is not None:
            exit_stack.push_async_callback(self.stop)

    async def stop(self) -> None:
        """Cancel the task and release resources; bounded so a wedged source cannot hang shutdown."""
        task, self._task = self._task, None
        await cancel_and_wait(task, timeout=STOP_TIMEOUT_SECS)
        try:
            await asyncio.wait_for(self._close(), STOP_TIMEOUT_SECS)
        except Exception:
            log.warning("monitor=%s close failed", self.name, exc_info=True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _guarded_run(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug, not a source failure: make it visible
            self.last_error = f"monitor crashed: {exc!r}"
            log.exception("monitor=%s crashed", self.name)

    @abc.abstractmethod
    async def _run(self) -> None:
        """The monitor's body; runs until cancelled."""

    async def _close(self) -> None:  # noqa: B027 (an optional hook)
        """Release resources after the task has stopped (override as needed)."""

    # -- samples and errors --------------------------------------------------------------------

    @property
    def values(self) -> Mapping[str, object]:
        """The latest value of every variable this monitor has produced (a copy)."""
        return dict(self._values)

    def fresh_values(self, max_age_secs: float) -> dict[str, object] | None:
        """The latest values if the last good sample is at most ``max_age_secs`` old, else None."""
        if self.freshness is None or self._clock() - self.freshness > max_age_secs:
            return None
        return dict(self._values)

    def _emit(self, values: Mapping[str, object], at: float | None = None) -> None:
        """Record a good sample and pass it on; a failing callback is logged, never raised."""
        when = self._clock() if at is None else at
        sample = dict(values)
        self._values.update(sample)
        self.freshness = when if self.freshness is None else max(self.freshness, when)
        self.last_error = None
        self.consecutive_errors = 0
        self.backoff.reset()
        if not sample:
            return
        try:
            self._on_sample(sample, when)
        except Exception:
            log.exception("monitor=%s on_sample callback failed", self.name)

    def _record_error(self, problem: str, retry_after_secs: float | None = None) -> float:
        """Note a failed attempt; returns how long to wait before the next one.

        The wait is the backoff delay, or the source's own ``retry_after_secs`` when longer.
        """
        self.last_error = problem
        self.consecutive_errors += 1
        delay = max(self.backoff.next_delay(), retry_after_secs or 0.0)
        log.warning(
            "monitor=%s error=%s attempt=%d retry_in=%.1fs",
            self.name,
            problem,
            self.consecutive_errors,
            delay,
        )
        return delay


class PollingMonitor(Monitor):
    """A monitor that samples every ``interval_secs`` on the monotonic clock.

    Ticks are spaced at ``max(last + interval, now)`` so the loop neither drifts nor bursts after
    a stall. A failing `_poll` switches to the backoff delay until it succeeds again.
    """

    def __init__(
        self,
        on_sample: SampleCallback,
        *,
        interval_secs: float,
        backoff: Backoff | None = None,
        clock: Clock = time.time,
    ) -> None:
        if not interval_secs > 0:
            raise InvalidInput("interval_secs", f"must be positive, got {interval_secs!r}")
        super().__init__(on_sample, backoff=backoff, clock=clock)
        self.interval_secs = interval_secs

    async def _setup(self) -> None:
        """Runs once inside the task before the first poll (load caches, open clients)."""

    def _first_delay(self) -> float:
        """Seconds to wait before the first poll (e.g. a cached reading is still fresh)."""
        return 0.0

    @abc.abstractmethod
    async def _poll(self) -> None:
        """Take one sample and `_emit` it; raise on failure (the loop backs off)."""

    def _describe_error(self, exc: Exception) -> str:
        return f"{type(exc).__name__}: {exc}"

    async def _run(self) -> None:
        await self._setup()
        delay = self._first_delay()
        if delay > 0:
            await asyncio.sleep(delay)
        next_tick = time.monotonic()
        while True:
            try:
                await self._poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                retry_after = exc.retry_after_secs if isinstance(exc, SourceError) else None
                await asyncio.sleep(self._record_error(self._describe_error(exc), retry_after))
                next_tick = time.monotonic()
                continue
            next_tick = max(next_tick + self.interval_secs, time.monotonic())
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
