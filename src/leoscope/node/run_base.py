"""What every phase of the run state machine shares: records, reports, aborts, containers.

`RunMachine` holds the collaborators (state, runtime, link, clock, policy, gates, hooks,
delivery) and the small operations the phases are written in: `_report` (persist a status and
queue it in the outbox, in one transaction), `_set` (persist local fields only),
`_unless_aborted` (await something unless the run is aborted first), `_end_early` (record an
outcome before any container ran). The phases themselves are in run_start.py and
run_finish.py; executor.py composes them and drives each run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from leoscope.core.experiment import ExecutorConfig
from leoscope.core.model import RunStatus

from .clock import Clock
from .link import OrchestratorLink
from .paths import AgentPaths
from .records import RunPhase, RunRecord
from .runtime.base import LABEL_RUN, Handle, Runtime, RuntimeErrorBase
from .seams import ArchiveDelivery, Gate, Outcome, RunContext, RunHook
from .spec import ExecutionPolicy
from .state import LocalState

log = logging.getLogger("leoscope.node.executor")

T = TypeVar("T")


class RunMachine:
    """Shared state and operations of the run phases (see the module docstring)."""

    state: LocalState
    link: OrchestratorLink
    runtime: Runtime
    paths: AgentPaths
    clock: Clock
    delivery: ArchiveDelivery
    executor_config: ExecutorConfig
    executor_config_text: str
    policy: ExecutionPolicy
    gates: list[Gate]
    hooks: list[RunHook]
    keep_run_dirs: bool
    listeners: list[Callable[[RunRecord], None]]
    _aborts: dict[str, asyncio.Event]
    _handles: dict[str, Handle]

    def _abort_event(self, runid: str) -> asyncio.Event:
        return self._aborts.setdefault(runid, asyncio.Event())

    def _record(self, runid: str) -> RunRecord:
        record = self.state.get_run(runid)
        if record is None:
            raise KeyError(runid)
        return record

    def _report(self, runid: str, status: str, message: str, **changes: object) -> RunRecord:
        record = self.state.update_run(runid, status=status, message=message, **changes)
        log.info("run=%s job=%s status=%s %s", runid, record.jobid, status, record.status_message)
        for listener in self.listeners:
            listener(record)
        return record

    def _set(self, runid: str, **changes: object) -> RunRecord:
        return self.state.update_run(runid, **changes)

    async def _unless_aborted(self, runid: str, work: Awaitable[T]) -> tuple[bool, T | None]:
        """Run `work` unless the run is aborted first: (aborted, result)."""
        event = self._abort_event(runid)
        job = asyncio.ensure_future(work)
        if event.is_set():
            job.cancel()
            return True, None
        waiter = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({job, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if not job.done():
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await job
        if job.done() and not job.cancelled():
            return False, job.result()
        return True, None

    def _end_early(self, ctx: RunContext, result: Outcome) -> None:
        """Record an outcome reached before any container ran; finishing archives what exists."""
        ctx.log.info("run ends early: %s %s", result.status, result.message)
        self._set(
            ctx.runid,
            phase=RunPhase.COLLECTING,
            outcome_status=str(result.status),
            outcome_message=result.message,
        )

    def _aborted_outcome(self, runid: str) -> Outcome:
        record = self._record(runid)
        return Outcome(record.abort_status or RunStatus.ABORTED, record.abort_reason or "aborted")

    async def _find_container(self, runid: str) -> Handle | None:
        handle = self._handles.get(runid)
        if handle is not None:
            return handle
        found = await self.runtime.list_owned({LABEL_RUN: runid})
        return found[0] if found else None

    async def _container_if_any(self, ctx: RunContext) -> Handle | None:
        """The run's container for cleanup work; None if it never had one or it is gone."""
        if not ctx.record.container_name:
            return None
        try:
            return await self._find_container(ctx.runid)
        except RuntimeErrorBase as exc:
            ctx.log.warning("container engine unreachable: %s", exc)
            return None

    async def _after_final(self, ctx: RunContext) -> None:
        record = ctx.record
        for hook in self.hooks:
            try:
                await hook.after_final(ctx, record.status, record.status_message)
            except Exception as exc:
                log.warning("run=%s %s.after_final failed: %s", ctx.runid, type(hook).__name__, exc)
