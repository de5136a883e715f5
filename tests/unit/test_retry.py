"""The retry helper: schedule, jitter bounds, the time budget, and what is (not) retried."""

from __future__ import annotations

import asyncio

import pytest

from leoscope.retry import Backoff, RetryPolicy, retry_call, retry_call_async


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, secs: float) -> None:
        self.now += secs


class Transient(Exception):
    pass


class Permanent(Exception):
    pass


def test_waits_grow_exponentially_and_are_capped() -> None:
    clock = FakeClock()
    policy = RetryPolicy(first_wait_secs=1, max_wait_secs=4, multiplier=2, give_up_after_secs=None)
    highest = Backoff(policy, clock=clock, rng=lambda: 0.999999)
    lowest = Backoff(policy, clock=clock, rng=lambda: 0.0)
    high = [highest.next_wait() for _ in range(5)]
    low = [lowest.next_wait() for _ in range(5)]
    assert high == pytest.approx([1, 2, 4, 4, 4], rel=1e-5)
    assert low == pytest.approx([0.5, 1, 2, 2, 2])  # jitter never drops below half


def test_budget_is_never_exceeded() -> None:
    clock = FakeClock()
    backoff = Backoff(
        RetryPolicy(first_wait_secs=1, max_wait_secs=8, give_up_after_secs=10),
        clock=clock,
        rng=lambda: 0.999999,
    )
    total = 0.0
    while (wait := backoff.next_wait()) is not None:
        clock.sleep(wait)
        total += wait
    assert total == pytest.approx(10)
    assert backoff.attempts == 5  # waits 1, 2, 4, then 3 (shortened to fit the budget)


def test_retry_call_retries_transient_errors_then_succeeds() -> None:
    clock = FakeClock()
    calls = []

    def flaky() -> str:
        calls.append(clock.now)
        if len(calls) < 3:
            raise Transient
        return "ok"

    result = retry_call(
        flaky,
        policy=RetryPolicy(first_wait_secs=1, give_up_after_secs=60),
        retryable=lambda e: isinstance(e, Transient),
        sleep=clock.sleep,
        clock=clock,
    )
    assert result == "ok" and len(calls) == 3
    assert calls[1] - calls[0] >= 0.5 and calls[2] - calls[1] >= 1.0


def test_retry_call_gives_up_with_the_last_error() -> None:
    clock = FakeClock()
    attempts = []

    def down() -> None:
        attempts.append(clock.now)
        raise Transient(len(attempts))

    with pytest.raises(Transient) as caught:
        retry_call(
            down,
            policy=RetryPolicy(first_wait_secs=0.5, max_wait_secs=2, give_up_after_secs=5),
            retryable=lambda e: isinstance(e, Transient),
            sleep=clock.sleep,
            clock=clock,
        )
    assert caught.value.args == (len(attempts),)
    assert attempts[-1] == pytest.approx(5) and len(attempts) > 3


def test_non_retryable_errors_are_raised_at_once() -> None:
    clock = FakeClock()
    attempts = []

    def broken() -> None:
        attempts.append(1)
        raise Permanent

    with pytest.raises(Permanent):
        retry_call(
            broken,
            policy=RetryPolicy(),
            retryable=lambda e: isinstance(e, Transient),
            sleep=clock.sleep,
            clock=clock,
        )
    assert attempts == [1] and clock.now == 0


def test_zero_budget_means_one_attempt() -> None:
    attempts = []

    def down() -> None:
        attempts.append(1)
        raise Transient

    with pytest.raises(Transient):
        retry_call(down, policy=RetryPolicy(give_up_after_secs=0), retryable=lambda e: True)
    assert attempts == [1]


async def test_async_driver_uses_the_same_schedule() -> None:
    attempts = []

    async def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise Transient
        return 42

    result = await asyncio.wait_for(
        retry_call_async(
            flaky,
            policy=RetryPolicy(first_wait_secs=0.01, max_wait_secs=0.02, give_up_after_secs=5),
            retryable=lambda e: isinstance(e, Transient),
        ),
        timeout=5,
    )
    assert result == 42 and len(attempts) == 3


async def test_async_driver_gives_up_and_respects_predicate() -> None:
    async def broken() -> None:
        raise Permanent

    with pytest.raises(Permanent):
        await retry_call_async(broken, policy=RetryPolicy(), retryable=lambda e: False)


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(first_wait_secs=0)
    with pytest.raises(ValueError):
        RetryPolicy(first_wait_secs=5, max_wait_secs=1)
    with pytest.raises(ValueError):
        RetryPolicy(multiplier=0.5)


def test_a_policy_that_never_gives_up_keeps_a_bounded_wait_forever() -> None:
    from leoscope.retry import Backoff, RetryPolicy

    backoff = Backoff(RetryPolicy(first_wait_secs=0.5, max_wait_secs=30.0, give_up_after_secs=None))
    waits = [backoff.next_wait() for _ in range(5000)]
    assert all(w is not None and 0 < w <= 30.0 for w in waits)
