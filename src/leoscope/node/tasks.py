"""Stopping the agent's background tasks: one way, used by every part.

Every part of the agent (sync, outbox, monitors, telemetry writers, snapshots, pairing, run
tasks) ends its tasks at shutdown. The obvious idiom,

    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

has two faults: it also swallows the CALLER's own cancellation (the stopping part then carries
on as if nothing happened), and it waits without bound on a task that ignores cancellation. So
the parts call `cancel_and_wait` instead: the caller's cancellation propagates, the wait is
bounded when asked, and a task's own failure is logged rather than raised (its owner is
stopping it; the failure was already its owner's to report).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(
    *tasks: asyncio.Future[Any] | None,
    timeout: float | None = None,  # noqa: ASYNC109 (a bound on the wait, not on the caller)
) -> None:
    """Cancel `tasks` (None entries are skipped) and wait until they have ended.

    With `timeout`, wait at most that many seconds; tasks still running then are left behind
    (logged). Never raises what the tasks raised; raises CancelledError if the caller is
    cancelled while it waits.
    """
    pending = {task for task in tasks if task is not None}
    if not pending:
        return
    for task in pending:
        task.cancel()
    done, still_running = await asyncio.wait(pending, timeout=timeout)
    for task in still_running:
        log.warning("task %s did not stop within %.1f s", _name(task), timeout)
    for task in done:
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.debug("task %s ended with %r while being stopped", _name(task), exc)


def _name(task: asyncio.Future[Any]) -> str:
    return task.get_name() if isinstance(task, asyncio.Task) else repr(task)
