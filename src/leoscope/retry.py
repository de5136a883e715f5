"""Retrying transient failures: one policy, one backoff schedule, a sync and an async driver.

Only the caller knows which failures are transient (the SDK retries gRPC `UNAVAILABLE` on
idempotent reads; the node agent's outbox retries deliveries), so the drivers take a
`retryable` predicate and never guess. Everything else about retrying lives here, once:

* waits grow exponentially from `first_wait_secs` by `multiplier`, capped at `max_wait_secs`;
* each wait is jittered ("equal jitter": uniformly between half and all of the nominal wait), so
  many clients that failed together do not come back together;
* the whole effort is bounded by `give_up_after_secs`, measured on the monotonic clock from the
  first attempt; the last wait is shortened so the bound holds, and the final error is re-raised.
  `None` means "never give up" (an outbox that must eventually deliver).

Every retry is logged at INFO with its attempt number and the wait.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long and how often to retry. Frozen: share one instance freely."""

    first_wait_secs: float = 0.2
    max_wait_secs: float = 5.0
    multiplier: float = 2.0
    give_up_after_secs: float | None = 10.0

    def __post_init__(self) -> None:
        if self.first_wait_secs <= 0 or self.max_wait_secs < self.first_wait_secs:
            raise ValueError("RetryPolicy needs 0 < first_wait_secs <= max_wait_secs")
        if self.multiplier < 1:
            raise ValueError("RetryPolicy.multiplier must be at least 1")
        if self.give_up_after_secs is not None and self.give_up_after_secs < 0:
            raise ValueError("RetryPolicy.give_up_after_secs must not be negative")


NO_RETRY = RetryPolicy(give_up_after_secs=0.0)


class Backoff:
    """The wait before each retry, or None once the policy's time budget is spent.

    `clock` (monotonic seconds) and `rng` (floats in [0, 1)) are injectable for tests.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._rng = rng
        self._started = clock()
        self.attempts = 1
        """Attempts made so far (the first one counts)."""

    def next_wait(self) -> float | None:
        """Seconds to wait before the next attempt, or None to give up now."""
        p = self.policy
        # The exponent is capped: a policy that never gives up makes attempts without end, and
        # an uncapped power overflows (after ~1,000 attempts, hours into an outage).
        growth = p.multiplier ** min(self.attempts - 1, 64)
        nominal = min(p.max_wait_secs, p.first_wait_secs * growth)
        wait = nominal * (0.5 + self._rng() / 2)
        if p.give_up_after_secs is not None:
            remaining = p.give_up_after_secs - (self._clock() - self._started)
            if remaining <= 0:
                return None
            wait = min(wait, remaining)
        self.attempts += 1
        return wait


def _log_retry(what: str, backoff: Backoff, wait: float, exc: BaseException) -> None:
    log.info(
        "retry %s: attempt %d failed (%s); next attempt in %.2fs",
        what,
        backoff.attempts - 1,
        type(exc).__name__,
        wait,
    )


def retry_call(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy,
    retryable: Callable[[BaseException], bool],
    what: str = "call",
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call `fn` until it succeeds, a non-retryable error occurs, or the budget is spent."""
    backoff = Backoff(policy, clock=clock)
    while True:
        try:
            return fn()
        except Exception as exc:
            wait = backoff.next_wait() if retryable(exc) else None
            if wait is None:
                raise
            _log_retry(what, backoff, wait, exc)
        sleep(wait)


async def retry_call_async(
    fn: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    retryable: Callable[[BaseException], bool],
    what: str = "call",
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """The asyncio twin of `retry_call` (same schedule, same budget); cancellation propagates."""
    backoff = Backoff(policy, clock=clock)
    while True:
        try:
            return await fn()
        except Exception as exc:
            wait = backoff.next_wait() if retryable(exc) else None
            if wait is None:
                raise
            _log_retry(what, backoff, wait, exc)
        await asyncio.sleep(wait)


__all__ = ["NO_RETRY", "Backoff", "RetryPolicy", "retry_call", "retry_call_async"]
