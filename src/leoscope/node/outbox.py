"""Delivering run updates to the orchestrator: durable, in order, idempotent, until acknowledged.

Rows are written by `LocalState` in the same transaction as the run's state change (so an
update exists exactly when the local state says it happened). This loop sends them oldest
first with `update_run`; each carries `run_instance.seq`, the run's update counter, and the
orchestrator ignores an update older than what it holds, so resending after a lost
acknowledgement or a crash never duplicates a run or moves it backwards.

* Acknowledged -> the row is deleted.
* Link down (unreachable, deadline, overloaded) or credentials rejected -> the same row is
  retried after a jittered exponential wait (retry.Backoff: 0.5 s doubling to 30 s, never
  giving up). Runs carry on locally meanwhile. `kick()` (sync saw the orchestrator again)
  cuts the wait short, so a backlog drains as soon as the link returns.
* Refused for good (state FAILED, permission denied, invalid) -> the row is kept, marked
  rejected with the reason, logged, and delivery moves on: one bad update must not block the
  rest forever. `refused_listeners` then hear of it: a COMPLETE refused because the
  orchestrator could not verify its archive is taken up by the uploader (upload.py), which
  uploads again and reports anew, so the run never stays at UPLOAD_PENDING or FINISHING.
* `acked_listeners` hear of every acknowledged row (the uploader releases an archive once
  the orchestrator has accepted the run's final report).

Order is global (by row id), hence per run by seq.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from leoscope.retry import Backoff, RetryPolicy

from .link import CredentialsRejected, LinkDown, OrchestratorLink, Refused
from .state import LocalState, OutboxRow

log = logging.getLogger(__name__)

OUTBOX_RETRY = RetryPolicy(first_wait_secs=0.5, max_wait_secs=30.0, give_up_after_secs=None)


class Outbox:
    def __init__(
        self, state: LocalState, link: OrchestratorLink, policy: RetryPolicy = OUTBOX_RETRY
    ) -> None:
        self.state = state
        self.link = link
        self.policy = policy
        self.delivered = 0
        self._wake = asyncio.Event()
        self._kick = asyncio.Event()
        self._idle = asyncio.Event()
        self.acked_listeners: list[Callable[[OutboxRow], None]] = []
        self.refused_listeners: list[Callable[[OutboxRow, str], None]] = []
        state.on_outbox = self._wake.set
        self._wake.set()  # rows left over from before a restart

    def kick(self) -> None:
        """Retry now: the orchestrator is reachable again."""
        self._kick.set()
        self._wake.set()

    async def flush(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until every pending update is delivered; False if `timeout` passes first."""
        self.kick()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while True:
                    self._idle.clear()
                    if not self.state.outbox_size():
                        return True
                    await self._idle.wait()
        return self.state.outbox_size() == 0

    async def run(self) -> None:
        backoff: Backoff | None = None
        while True:
            row = self.state.next_outbox()
            if row is None:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                await self.link.update_run(row.run)
            except (LinkDown, CredentialsRejected) as exc:
                self.state.note_failure(row.id, exc.message)
                backoff = backoff or Backoff(self.policy)
                wait = backoff.next_wait() or self.policy.max_wait_secs
                level = logging.WARNING if backoff.attempts in (2, 10) else logging.DEBUG
                if isinstance(exc, CredentialsRejected):
                    level = logging.ERROR
                log.log(
                    level,
                    "outbox: %d update(s) waiting; %s; retry in %.1f s",
                    self.state.outbox_size(),
                    exc.message,
                    wait,
                )
                self._kick.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._kick.wait()
                continue
            except Refused as exc:
                log.warning(
                    "outbox: run=%s seq=%d status=%s refused for good: %s",
                    row.runid,
                    row.seq,
                    row.status,
                    exc.message,
                )
                self.state.reject(row.id, exc.message)
                self._tell(self.refused_listeners, row, exc.message)
                continue
            if backoff is not None:
                log.info("outbox: the orchestrator is reachable again; delivering the backlog")
                backoff = None
            self.state.ack(row.id)
            self.delivered += 1
            self._tell(self.acked_listeners, row)
            log.debug("outbox: run=%s seq=%d status=%s delivered", row.runid, row.seq, row.status)

    @staticmethod
    def _tell(listeners: list[Callable[..., None]], *args: object) -> None:
        for listener in listeners:
            try:
                listener(*args)
            except Exception:  # a listener must never stop delivery
                log.exception("outbox listener %r failed", listener)
