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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from leoscope.core.errors import InvalidInput
from leoscope.core.experiment import ExecutorConfig, parse_experiment_config
from leoscope.core.model import RunStatus
from leoscope.core.timeutil import from_epoch
from leoscope.retry import Backoff, RetryPolicy

from . import outcome as msgs
from .archive import make_archive
from .clock import Clock
from .link import LinkError, OrchestratorLink
from .paths import AgentPaths
from .records import RunPhase, RunRecord
from .rundir import CONTAINER_STDERR, CONTAINER_STDOUT, RunLog, prepare_run_dir
from .runtime.base import (
    EXIT_CODE_UNKNOWN,
    LABEL_RUN,
    ContainerGone,
    ContainerSpec,
    ExitInfo,
    Handle,
    PullError,
    Runtime,
    RuntimeErrorBase,
    StartError,
)
from .seams import (
    Archive,
    ArchiveDelivery,
    Delivered,
    DeliveryPending,
    Gate,
    Outcome,
    Proceed,
    RunContext,
    RunHook,
    Skip,
    WaitAndRetry,
)
from .spec import build_spec, execution_policy
from .state import LocalState

log = logging.getLogger(__name__)

T = TypeVar("T")
DELIVERY_RETRY = RetryPolicy(first_wait_secs=1.0, max_wait_secs=15.0, give_up_after_secs=60.0)
ENGINE_RETRY_SECS = 2.0
STOP_EXTRA_WAIT_SECS = 15.0


class Executor:
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
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------------ plumbing

    def _forget(self, runid: str) -> None:
        task = self._tasks.get(runid)
        if task is not None and task.done():
            self._tasks.pop(runid, None)
            self._aborts.pop(runid, None)
            self._handles.pop(runid, None)

    def _abort_event(self, runid: str) -> asyncio.Event:
        return self._aborts.setdefault(runid, asyncio.Event())

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

    # -- PENDING: gates

    async def _pending(self, ctx: RunContext) -> None:
        runid = ctx.runid
        last_wait: tuple[str, str] | None = None
        while True:
            if self._abort_event(runid).is_set():
                result = self._aborted_outcome(runid)
                self._report(runid, result.status, result.message, phase=RunPhase.DONE)
                await self._after_final(ctx)
                return
            decision: Proceed | Skip | WaitAndRetry = Proceed()
            blocking_gate = ""
            for gate in self.gates:
                decision = await gate.check(ctx)
                if not isinstance(decision, Proceed):
                    blocking_gate = getattr(gate, "name", type(gate).__name__)
                    break
            if isinstance(decision, Proceed):
                self._set(runid, phase=RunPhase.DEPLOYING)
                return
            if isinstance(decision, Skip):
                self._report(runid, decision.status, decision.message, phase=RunPhase.DONE)
                await self._after_final(ctx)
                return
            remaining = ctx.record.deadline - self.clock.time()
            if remaining <= 0:
                message = f"{blocking_gate} kept the run waiting until its slot ended"
                self._report(runid, RunStatus.SKIPPED, message, phase=RunPhase.DONE)
                await self._after_final(ctx)
                return
            if last_wait != (decision.status, decision.message):
                self._report(runid, decision.status, decision.message)
                last_wait = (decision.status, decision.message)
            delay = max(0.0, min(decision.retry_after_secs, remaining))
            await self._unless_aborted(runid, asyncio.sleep(delay))

    # -- DEPLOYING: directory, config, image, hooks, start

    async def _deploying(self, ctx: RunContext) -> None:
        runid = ctx.runid
        record = ctx.record
        summary = record.job_message
        config_text = await self._config_text(ctx)
        prepare_run_dir(
            ctx.run_dir,
            config_text=config_text or "",
            summary=summary,
            detail=ctx.record.detail,
            executor_config_text=self.executor_config_text,
        )
        ctx.log.info("run of job %s for slot %s (deadline %s)", ctx.job.id, ctx.slot, ctx.deadline)
        if config_text is None:
            self._end_early(
                ctx, msgs.failed("experiment config not available: get_job_by_id failed")
            )
            return
        try:
            experiment = parse_experiment_config(config_text)
            spec = build_spec(
                record=record,
                experiment=experiment,
                policy=self.policy,
                node_id=self.state.node_id,
                runtime_kind=self.runtime.kind,
                run_dir=ctx.run_dir,
            )
        except InvalidInput as exc:
            self._end_early(
                ctx, msgs.failed(f"invalid experiment config: {exc.field}: {exc.problem}")
            )
            return
        if record.status != RunStatus.DEPLOYING:
            self._report(runid, RunStatus.DEPLOYING, msgs.MSG_DEPLOYING.format(image=spec.image))
        ctx.log.info("pulling image %s (policy %s)", spec.image, self.policy.pull_policy.value)
        try:
            aborted, _ = await self._unless_aborted(
                runid, self.runtime.pull(spec.image, spec.auth, policy=self.policy.pull_policy)
            )
        except PullError as exc:
            self._end_early(ctx, msgs.failed(f"pull failed: {exc.message}"))
            return
        except (RuntimeErrorBase, InvalidInput) as exc:
            self._end_early(ctx, msgs.failed(f"pull failed: {exc}"))
            return
        if aborted:
            self._end_early(ctx, self._aborted_outcome(runid))
            return
        for hook in self.hooks:
            try:
                spec = await hook.before_start(ctx, spec)
            except Exception as exc:
                self._end_early(ctx, msgs.failed(f"{type(hook).__name__} failed: {exc}"))
                return
        if self._abort_event(runid).is_set():
            self._end_early(ctx, self._aborted_outcome(runid))
            return
        await self._start(ctx, spec)

    async def _config_text(self, ctx: RunContext) -> str | None:
        record = ctx.record
        detail = record.detail
        if detail is not None:
            return detail.config
        try:  # synced before the slot normally; fetch now if that did not happen
            detail = await self.link.job_detail(record.jobid)
        except LinkError as exc:
            ctx.log.warning("cannot fetch the job's config: %s", exc)
            return None
        if detail is None:
            return None
        self._set(ctx.runid, detail_blob=detail.SerializeToString())
        return detail.config

    async def _start(self, ctx: RunContext, spec: ContainerSpec) -> None:
        runid = ctx.runid
        self._set(runid, phase=RunPhase.STARTING, container_name=spec.name)
        ctx.log.info("starting container %s", spec.name)
        try:
            handle = await self.runtime.start(spec)
        except (StartError, RuntimeErrorBase) as exc:
            message = exc.message if isinstance(exc, StartError) else str(exc)
            self._end_early(ctx, msgs.failed(f"container failed to start: {message}"))
            return
        self._handles[runid] = handle
        self._report(
            runid,
            RunStatus.EXECUTING,
            msgs.MSG_EXECUTING,
            phase=RunPhase.RUNNING,
            container_id=handle.id,
            started_at=self.clock.time(),
        )
        ctx.log.info("container %s running (id %.12s)", spec.name, handle.id)

    # -- STARTING (only reached after a restart): find the container or give up

    async def _starting(self, ctx: RunContext) -> None:
        handle = await self._find_container(ctx.runid)
        if handle is None:
            self._end_early(ctx, msgs.failed("agent restarted before the container started"))
            return
        self._handles[ctx.runid] = handle
        self._report(
            ctx.runid,
            RunStatus.EXECUTING,
            msgs.MSG_EXECUTING,
            phase=RunPhase.RUNNING,
            container_id=handle.id,
            started_at=self.clock.time(),
        )

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

    # -- RUNNING: budget, exit, abort

    async def _running(self, ctx: RunContext) -> None:
        runid = ctx.runid
        handle = await self._find_container(runid)
        if handle is None:
            self._finish_container(ctx, msgs.failed("agent restarted: the container was gone"))
            return
        self._handles[runid] = handle
        while True:
            remaining = max(0.0, ctx.record.deadline - self.clock.time())
            try:
                aborted, exit = await self._unless_aborted(
                    runid, self.runtime.wait(handle, remaining)
                )
            except ContainerGone:
                self._finish_container(
                    ctx, msgs.failed("the container was removed while it ran (not by the agent)")
                )
                return
            except RuntimeErrorBase as exc:
                ctx.log.warning("container engine error while waiting: %s", exc)
                await self._unless_aborted(runid, asyncio.sleep(ENGINE_RETRY_SECS))
                continue
            if exit is not None:
                self._finish_container(ctx, msgs.outcome_of_exit(exit, stopped_by_agent=False))
                return
            break
        reason = "aborted" if aborted else "its slot ended"
        ctx.log.info("stopping container (%s), grace %.0fs", reason, self.policy.stop_grace_secs)
        exit = await self._stop(handle)
        if aborted:
            result = self._aborted_outcome(runid)
            result = Outcome(result.status, result.message, exit, True)
        else:
            result = msgs.outcome_of_exit(exit, stopped_by_agent=True)
        self._finish_container(ctx, result)

    async def _stop(self, handle: Handle) -> ExitInfo:
        grace = self.policy.stop_grace_secs
        try:
            await self.runtime.stop(handle, grace)
            exit = await self.runtime.wait(handle, grace + STOP_EXTRA_WAIT_SECS)
        except ContainerGone:
            exit = None
        except RuntimeErrorBase as exc:
            log.warning("stopping %s failed: %s", handle.name, exc)
            exit = None
        return exit or ExitInfo(EXIT_CODE_UNKNOWN, error="stopped; exit status not observed")

    def _finish_container(self, ctx: RunContext, result: Outcome) -> None:
        exit = result.exit
        ctx.log.info("container ended: %s (%s)", result.status, result.message)
        self._set(
            ctx.runid,
            phase=RunPhase.COLLECTING,
            exit_code=exit.exit_code if exit else None,
            oom_killed=bool(exit and exit.oom_killed),
            outcome_status=str(result.status),
            outcome_message=result.message,
        )

    # -- COLLECTING, ARCHIVING, DELIVERING

    async def _collecting(self, ctx: RunContext) -> None:
        runid = ctx.runid
        self._report(runid, RunStatus.FINISHING, msgs.MSG_COLLECTING)
        handle = await self._container_if_any(ctx)
        if handle is not None and ctx.run_dir.is_dir():
            try:
                await self.runtime.collect_logs(
                    handle, ctx.run_dir / CONTAINER_STDOUT, ctx.run_dir / CONTAINER_STDERR
                )
            except RuntimeErrorBase as exc:
                ctx.log.warning("could not save the container's output: %s", exc)
        record = ctx.record
        exit = None
        if record.exit_code is not None:
            exit = ExitInfo(record.exit_code, record.oom_killed)
        result = Outcome(
            record.outcome_status or RunStatus.FAILED, record.outcome_message or "", exit
        )
        for hook in self.hooks:
            try:
                await hook.after_exit(ctx, result)
            except Exception as exc:
                ctx.log.warning("%s.after_exit failed: %s", type(hook).__name__, exc)
        self._set(runid, phase=RunPhase.ARCHIVING)

    async def _archiving(self, ctx: RunContext) -> None:
        runid = ctx.runid
        if not ctx.run_dir.is_dir():  # ended before it had a directory (e.g. aborted at once)
            await self._finalize(ctx, None)
            return
        ctx.log.info("archiving the run directory")
        archive = await asyncio.to_thread(
            make_archive, ctx.run_dir, runid, self.paths.archive_path(runid)
        )
        self._set(
            runid,
            phase=RunPhase.DELIVERING,
            archive_sha256=archive.sha256,
            archive_size=archive.size,
        )

    async def _delivering(self, ctx: RunContext) -> None:
        runid = ctx.runid
        record = ctx.record
        path = self.paths.archive_path(runid)
        if not path.exists() or record.archive_sha256 is None or record.archive_size is None:
            self._set(runid, phase=RunPhase.ARCHIVING)
            return
        archive = Archive(path, record.archive_sha256, record.archive_size)
        self._report(runid, RunStatus.FINISHING, msgs.MSG_UPLOADING)
        backoff = Backoff(DELIVERY_RETRY)
        while True:
            try:
                delivered = await self.delivery.deliver(ctx, archive)
                break
            except DeliveryPending as exc:
                self._report(
                    runid, RunStatus.UPLOAD_PENDING, exc.message, phase=RunPhase.UPLOAD_PENDING
                )
                return
            except Exception as exc:
                wait = backoff.next_wait()
                if wait is None:
                    ctx.log.error("archive delivery failed: %s", exc)
                    await self._finalize(ctx, None, failure=f"archive delivery failed: {exc}")
                    return
                ctx.log.warning("archive delivery failed (%s); retrying in %.1fs", exc, wait)
                await asyncio.sleep(wait)
        await self._finalize(ctx, delivered)

    async def _finalize(
        self, ctx: RunContext, delivered: Delivered | None, *, failure: str | None = None
    ) -> RunRecord:
        """Remove the container, report the final status, clean up local copies."""
        runid = ctx.runid
        record = ctx.record
        handle = await self._container_if_any(ctx)
        if handle is not None:
            try:
                await self.runtime.remove(handle)
            except RuntimeErrorBase as exc:
                ctx.log.warning("could not remove the container: %s", exc)
        status = record.outcome_status or RunStatus.FAILED
        message = record.outcome_message or ""
        if failure is not None:
            status, message = RunStatus.FAILED, f"{message}; {failure}" if message else failure
        changes: dict[str, object] = {"phase": RunPhase.DONE}
        if delivered is not None:
            changes.update(
                blob_url=delivered.blob_url,
                blob_name=delivered.blob_name,
                archive_sha256=delivered.sha256,
                archive_size=delivered.size,
            )
        ctx.log.info("run finished: %s %s", status, message)
        final = self._report(runid, status, message, **changes)
        if delivered is not None:
            self.paths.archive_path(runid).unlink(missing_ok=True)
            if not self.keep_run_dirs:
                await asyncio.to_thread(shutil.rmtree, ctx.run_dir, True)
        await self._after_final(ctx)
        return final

    async def _after_final(self, ctx: RunContext) -> None:
        record = ctx.record
        for hook in self.hooks:
            try:
                await hook.after_final(ctx, record.status, record.status_message)
            except Exception as exc:
                log.warning("run=%s %s.after_final failed: %s", ctx.runid, type(hook).__name__, exc)
