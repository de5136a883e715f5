"""The run phases up to the container's end: gates, deploy, start, supervise.

PENDING     gates in order (seams.Gate): Skip -> final status; WaitAndRetry -> report
            WAITING, sleep, ask all gates again; all PROCEED -> DEPLOYING
DEPLOYING   report DEPLOYING; run directory; experiment config; ContainerSpec; pull;
            `before_start` hooks; persist STARTING; start; persist RUNNING; report EXECUTING
STARTING    only after a restart: find the container by its run label, or give up
RUNNING     wait for the exit, the slot's end (stop: SIGTERM, SIGKILL after the grace) or an
            abort; record the outcome; -> COLLECTING
"""

from __future__ import annotations

import asyncio
import logging

from leoscope.core.errors import InvalidInput
from leoscope.core.experiment import parse_experiment_config
from leoscope.core.model import RunStatus

from . import outcome as msgs
from .link import LinkError
from .records import RunPhase
from .run_base import RunMachine
from .rundir import prepare_run_dir
from .runtime.base import (
    EXIT_CODE_UNKNOWN,
    ContainerGone,
    ContainerSpec,
    ExitInfo,
    Handle,
    PullError,
    RuntimeErrorBase,
    StartError,
)
from .seams import EndRun, Outcome, Proceed, RunContext, Skip, WaitAndRetry
from .spec import build_spec

log = logging.getLogger("leoscope.node.executor")

ENGINE_RETRY_SECS = 2.0
STOP_EXTRA_WAIT_SECS = 15.0


class StartPhases(RunMachine):
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
            values = {"trigger_values": decision.trigger_values} if decision.trigger_values else {}
            if isinstance(decision, Skip):
                self._report(
                    runid, decision.status, decision.message, phase=RunPhase.DONE, **values
                )
                await self._after_final(ctx)
                return
            remaining = ctx.record.deadline - self.clock.time()
            if remaining <= 0:
                message = f"{blocking_gate} kept the run waiting until its slot ended"
                self._report(runid, RunStatus.SKIPPED, message, phase=RunPhase.DONE)
                await self._after_final(ctx)
                return
            if last_wait != (decision.status, decision.message):
                self._report(runid, decision.status, decision.message, **values)
                last_wait = (decision.status, decision.message)
            elif values and values["trigger_values"] != ctx.record.trigger_values:
                self._set(runid, **values)  # sent with the next report
            delay = max(0.0, min(decision.retry_after_secs, remaining))
            await self._unless_aborted(runid, asyncio.sleep(delay))

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
            except EndRun as exc:
                self._end_early(ctx, Outcome(exc.status, exc.message))
                return
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
