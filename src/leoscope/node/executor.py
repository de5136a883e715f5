"""One run = one persisted state machine, driven by one asyncio task.

The phases (records.RunPhase) and what each does before moving on:

    PENDING     consult the gates (seams.Gate) in order: Skip -> final status, DONE;
                WaitAndRetry -> report WAITING, sleep, ask all gates again; all PROCEED -> on
    DEPLOYING   report DEPLOYING; write the run directory (rundir.py); parse the experiment
                config; build the ContainerSpec (spec.py); pull the image with the executor
                config's pull policy; run the `before_start` hooks; persist STARTING; start
                the container; persist RUNNING with its id; report EXECUTING
    RUNNING     wait for the container to exit, for the slot to end (slot + length_secs, then
                SIGTERM and SIGKILL after the grace), or for an abort (job deleted, scavenger);
                record the outcome (outcome.py)
    COLLECTING  report FINISHING; save container.stdout/.stderr; run the `after_exit` hooks
    ARCHIVING   zip the run directory (archive.py)
    DELIVERING  report FINISHING; hand the archive to the delivery (seams.ArchiveDelivery);
                remove the container; report the outcome (COMPLETE / FAILED / ABORTED) with
                the archive's location; remove the run directory and local archive; DONE

Anything that fails before the container runs (bad config, pull, start, a hook) records a
FAILED outcome and goes straight to COLLECTING, so the run directory (configs, executor log)
is still archived and delivered: nothing is lost. Each phase is persisted before its work
begins, so a run interrupted by a crash or a restart is picked up where it stopped (see
reconcile.py); reports go through the outbox with a per-run sequence number, so a resumed
phase never reports a run backwards.

Cancelling a run's task (agent shutdown) leaves its record and container as they are, to be
adopted at the next start. Only `abort_run` stops a container early.

Where things are: this module drives runs and is the public surface; the phases up to the
container's end are in run_start.py, the finishing phases in run_finish.py, and what they
share (reporting, aborts, container look-up) in run_base.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from leoscope.core.errors import InvalidInput
from leoscope.core.experiment import ExecutorConfig
from leoscope.core.model import RunStatus
from leoscope.core.timeutil import from_epoch

from . import outcome as msgs
from .clock import Clock
from .link import OrchestratorLink
from .paths import AgentPaths
from .records import RunPhase, RunRecord
from .run_finish import FinishPhases
from .run_start import StartPhases
from .rundir import RunLog
from .runtime.base import Handle, Runtime
from .seams import ArchiveDelivery, Delivered, Gate, RunContext, RunHook
from .spec import execution_policy
from .state import LocalState
from .tasks import cancel_and_wait

log = logging.getLogger(__name__)


class Executor(StartPhases, FinishPhases):
    """Runs claimed runs to their end; see the module docstring."""

    def __init__(
        self,
        *,
        state: LocalState,
        link: OrchestratorLink,
        runtime: Runtime,
        paths: AgentPaths,
        clock: Clock,
        delivery: ArchiveDelivery,
        executor_config: ExecutorConfig,
        executor_config_text: str = "",
        gates: Sequence[Gate] = (),
        hooks: Sequence[RunHook] = (),
        keep_run_dirs: bool = False,
    ) -> None:
        self.state = state
        self.link = link
        self.runtime = runtime
        self.paths = paths
        self.clock = clock
        self.delivery = delivery
        self.executor_config = executor_config
        self.executor_config_text = executor_config_text
        self.policy = execution_policy(executor_config)
        self.gates = list(gates)
        self.hooks = list(hooks)
        self.keep_run_dirs = keep_run_dirs
        self.listeners: list[Callable[[RunRecord], None]] = []
        """Called with the record after every reported status (tests, `leoscope up`)."""
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._aborts: dict[str, asyncio.Event] = {}
        self._handles: dict[str, Handle] = {}

    # ------------------------------------------------------------------------ public surface

    def launch(self, record: RunRecord) -> asyncio.Task[None]:
        """Drive `record` (already persisted) from its current phase to its end."""
        existing = self._tasks.get(record.runid)
        if existing is not None and not existing.done():
            return existing
        if record.abort_status:
            self._abort_event(record.runid).set()
        task = asyncio.create_task(self._drive(record.runid), name=f"run-{record.runid[:8]}")
        self._tasks[record.runid] = task
        task.add_done_callback(lambda _t, runid=record.runid: self._forget(runid))
        return task

    def active_runs(self) -> list[str]:
        return [runid for runid, task in self._tasks.items() if not task.done()]

    async def abort_run(
        self, runid: str, status: str = RunStatus.ABORTED, message: str = msgs.MSG_JOB_DELETED
    ) -> bool:
        """Stop a run early and end it with `status` and `message`. False if it already ended."""
        record = self.state.get_run(runid)
        if record is None or record.phase in (RunPhase.DONE, RunPhase.UPLOAD_PENDING):
            return False
        if record.outcome_status is not None or record.abort_status is not None:
            return False  # the container already ended, or an abort is under way
        self.state.update_run(runid, abort_status=str(status), abort_reason=message)
        self._abort_event(runid).set()
        log.info("run=%s abort requested status=%s reason=%s", runid, status, message)
        return True

    async def abort_job(self, jobid: str, message: str = msgs.MSG_JOB_DELETED) -> int:
        """Abort every unfinished run of `jobid`; returns how many were aborted."""
        count = 0
        for record in self.state.unfinished_runs():
            if record.jobid == jobid and await self.abort_run(record.runid, message=message):
                count += 1
        return count

    async def complete_delivery(self, runid: str, delivered: Delivered) -> RunRecord:
        """For a delivery that raised DeliveryPending: the archive is stored; end the run."""
        record = self.state.get_run(runid)
        if record is None or record.phase is not RunPhase.UPLOAD_PENDING:
            raise InvalidInput("runid", f"run {runid} is not waiting for an upload")
        return await self._finalize(self._context(record), delivered)

    async def fail_delivery(self, runid: str, message: str) -> RunRecord:
        record = self.state.get_run(runid)
        if record is None or record.phase is not RunPhase.UPLOAD_PENDING:
            raise InvalidInput("runid", f"run {runid} is not waiting for an upload")
        return await self._finalize(self._context(record), None, failure=message)

    async def wait_idle(self) -> None:
        """Wait until no run task is active (tests and `leoscope up`)."""
        while tasks := [t for t in self._tasks.values() if not t.done()]:
            await asyncio.wait(tasks)

    async def shutdown(self) -> None:
        """Stop driving runs; their records and containers stay for the next start to adopt."""
        await cancel_and_wait(*self._tasks.values())

    # ------------------------------------------------------------------------ plumbing

    def _forget(self, runid: str) -> None:
        task = self._tasks.get(runid)
        if task is not None and task.done():
            self._tasks.pop(runid, None)
            self._aborts.pop(runid, None)
            self._handles.pop(runid, None)

    def _context(self, record: RunRecord) -> RunContext:
        runid = record.runid
        run_dir = self.paths.run_dir(record.run_relpath)

        async def report(status: str, message: str, trigger_values: str | None) -> None:
            changes = {"trigger_values": trigger_values} if trigger_values is not None else {}
            self._report(runid, status, message, **changes)

        return RunContext(
            runid=runid,
            job=record.job,
            node_id=self.state.node_id,
            slot=from_epoch(record.slot),
            deadline=from_epoch(record.deadline),
            run_dir=run_dir,
            executor_config=self.executor_config,
            state=self.state,
            link=self.link,
            log=RunLog(run_dir, runid, self.clock),
            _record=lambda: self._record(runid),
            _report=report,
        )

    # ------------------------------------------------------------------------ the machine

    async def _drive(self, runid: str) -> None:
        handlers: dict[RunPhase, Callable[[RunContext], Awaitable[None]]] = {
            RunPhase.PENDING: self._pending,
            RunPhase.DEPLOYING: self._deploying,
            RunPhase.STARTING: self._starting,
            RunPhase.RUNNING: self._running,
            RunPhase.COLLECTING: self._collecting,
            RunPhase.ARCHIVING: self._archiving,
            RunPhase.DELIVERING: self._delivering,
        }
        ctx = self._context(self._record(runid))
        while True:
            record = ctx.record
            handler = handlers.get(record.phase)
            if handler is None:  # DONE, or UPLOAD_PENDING (someone else's now)
                return
            try:
                await handler(ctx)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("run=%s phase=%s failed unexpectedly", runid, record.phase)
                await self._recover(ctx, record.phase, exc)
                continue
            if ctx.record.phase is record.phase:
                # A handler must move the run on; guard against a silent stall.
                await self._recover(ctx, record.phase, RuntimeError("phase did not advance"))

    async def _recover(self, ctx: RunContext, phase: RunPhase, exc: BaseException) -> None:
        """An unexpected error: fail the run, but still deliver what it produced if possible."""
        message = f"agent error in phase {phase.value}: {exc}"
        ctx.log.error("%s", message)
        record = ctx.record
        if phase not in (RunPhase.COLLECTING, RunPhase.ARCHIVING, RunPhase.DELIVERING):
            self._set(
                ctx.runid,
                phase=RunPhase.COLLECTING,
                outcome_status=record.outcome_status or RunStatus.FAILED,
                outcome_message=record.outcome_message or message,
            )
            return
        try:
            await self._finalize(ctx, None, failure=message)
        except Exception:
            log.exception("run=%s cannot finish cleanly; reporting FAILED", ctx.runid)
            self._report(ctx.runid, RunStatus.FAILED, message, phase=RunPhase.DONE)
