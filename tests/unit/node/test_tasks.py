"""cancel_and_wait: the one way the agent's parts stop their tasks."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from leoscope.node.tasks import cancel_and_wait


async def test_cancels_and_waits_until_the_task_has_ended() -> None:
    cleaned = asyncio.Event()

    async def part() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.set()

    task = asyncio.create_task(part())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.cancelled()
    assert cleaned.is_set()


async def test_the_tasks_own_failure_is_not_raised() -> None:
    async def failing() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            raise RuntimeError("boom while stopping")

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert isinstance(task.exception(), RuntimeError)


async def test_the_callers_cancellation_propagates() -> None:
    """The old idiom (suppress CancelledError around `await task`) swallowed this."""
    release = asyncio.Event()
    waiting = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            waiting.set()
            await release.wait()

    inner = asyncio.create_task(slow_to_stop())
    await asyncio.sleep(0)
    stopped_normally = False

    async def stopper() -> None:
        nonlocal stopped_normally
        await cancel_and_wait(inner)
        stopped_normally = True

    outer = asyncio.create_task(stopper())
    await waiting.wait()
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert not stopped_normally
    release.set()
    with contextlib.suppress(asyncio.CancelledError):
        await inner


async def test_a_task_ignoring_cancellation_is_left_after_the_timeout() -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await cancel_and_wait(task, timeout=0.05)
    assert not task.done()
    release.set()
    await task


async def test_none_and_finished_tasks_are_fine() -> None:
    done = asyncio.create_task(asyncio.sleep(0))
    await done
    await cancel_and_wait(None, done)
    await cancel_and_wait()
