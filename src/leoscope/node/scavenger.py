"""Scavenger mode on the node: the owner takes the link back (wire contract §5, §6.9).

Where the flag comes from:

* the owner at the node: `leoscope agent scavenger on|off` over the local control socket
  (control.py), and the node's registered quiet hours (quiethours.py), switched at each
  window's start and end. The agent acts at once, then reports the flag to the orchestrator
  (set_scavenger_status as the node itself), retrying until it is acknowledged. Until then the
  orchestrator's older value is ignored, so a poll cannot undo a switch made while the link
  was down.
* the orchestrator: an admin (or the node's own credentials) set it; it arrives on the
  watch_node stream as a "scavenger" notice within milliseconds, else with the next poll.

The flag, where it came from and any unacknowledged report are kept in the local state (kv),
so all of it survives an agent restart; at start, overhead containers adopted from before the
restart are stopped if the mode is on.

While the mode is on:

* running overhead runs, and every server side of a paired run (the reference treats those as
  overhead), are stopped through `Executor.abort_run`: SIGTERM, SIGKILL after the executor's
  stop grace. Their run directories are still archived and delivered. Final status:
      cron      ABORTED "Job aborted: scavenger mode is active."
      one-shot  the job is moved with reschedule_job_nearest(now + scavenger_reschedule_secs,
                the job's end_date): RESCHEDULED "job run rescheduled (scavenger mode is
                active); reason: <the orchestrator's answer>", or RESCHEDULE_FAILED "job run
                reschedule failed (...); reason: ...". The move is made once the container has
                ended (the `after_exit` hook), so stopping never waits on the orchestrator.
* the start gate (`ScavengerGate`): new overhead cron runs end TERMINATED "job run terminated:
  scavenger mode is active."; one-shot runs are moved as above.
* non-overhead runs carry on untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from leoscope.core.errors import InvalidInput
from leoscope.core.model import JobType, RunStatus
from leoscope.core.quiet_hours import parse_quiet_hours, quiet_state
from leoscope.core.timeutil import from_epoch, iso_z
from leoscope.retry import Backoff, RetryPolicy

from .clock import Clock
from .control import ControlError
from .link import LinkError, OrchestratorLink, Refused
from .records import RunPhase, RunRecord
from .seams import PROCEED, GateDecision, Outcome, RunContext, RunHook, Skip
from .state import LocalState
from .sync import SCAVENGER_KEY
from .tasks import cancel_and_wait

if TYPE_CHECKING:
    from .executor import Executor

log = logging.getLogger(__name__)

MSG_TERMINATED = "job run terminated: scavenger mode is active."
MSG_ABORTED = "Job aborted: scavenger mode is active."
MSG_RESCHEDULED = "job run rescheduled (scavenger mode is active); reason: {reason}"
MSG_RESCHEDULE_FAILED = "job run reschedule failed (scavenger mode is active); reason: {reason}"
RESCHEDULE_NOT_TRIED = MSG_RESCHEDULE_FAILED.format(
    reason="the agent stopped before the job could be moved"
)
"""The provisional outcome of a stopped one-shot run until `after_exit` has moved the job."""

FLAG_KEY = SCAVENGER_KEY  # the flag as sync.py stores it when no handler is installed
PENDING_KEY = "scavenger_report_pending"
SOURCE_KEY = "scavenger_source"
QUIET_TEXT_KEY = "scavenger_quiet_hours"
QUIET_INSIDE_KEY = "scavenger_quiet_inside"
QUIET_OWNED_KEY = "scavenger_quiet_owned"

SOURCE_LOCAL = "local switch"
SOURCE_ORCHESTRATOR = "orchestrator"
SOURCE_QUIET = "quiet hours"

STOPPABLE_PHASES = frozenset({RunPhase.DEPLOYING, RunPhase.STARTING, RunPhase.RUNNING})
SWEEP_SECS = 15.0
"""While the mode is on, overhead runs are looked for this often too (a safety net)."""
NODE_REFRESH_SECS = 600.0
"""The node's quiet hours are re-read this often, and on every "node" notice."""
CONTROL_REPORT_WAIT_SECS = 2.0
"""The local switch answers once the orchestrator acknowledged, or after this long."""
REPORT_RETRY = RetryPolicy(first_wait_secs=0.5, max_wait_secs=10.0, give_up_after_secs=None)


def is_overhead(record: RunRecord) -> bool:
    """Overhead runs give way to scavenger mode; a paired run's server side always does."""
    return record.is_server_side or bool(record.job_message.overhead)


def is_one_shot(record: RunRecord) -> bool:
    return not record.is_server_side and record.job_message.type == JobType.ATQ


@dataclass(frozen=True)
class SwitchResult:
    """What a switch did: the flag now, whether it changed, the runs asked to stop, and
    whether the orchestrator has acknowledged the flag (False: it will be retried)."""

    active: bool
    changed: bool
    stopping: list[str] = field(default_factory=list)
    reported: bool = False


class Scavenger:
    """The node's scavenger mode; see the module docstring. `bind(executor)` before `run()`."""

    def __init__(
        self,
        *,
        state: LocalState,
        link: OrchestratorLink,
        clock: Clock,
        reschedule_secs: float = 1800.0,
    ) -> None:
        self.state = state
        self.link = link
        self.clock = clock
        self.reschedule_secs = reschedule_secs
        self.executor: Executor | None = None
        self.gate = ScavengerGate(self)
        self.hook = ScavengerHook(self)
        self._report_wake = asyncio.Event()
        self._reported = asyncio.Event()
        self._quiet_wake = asyncio.Event()
        self._node_changed = True
        self._background: set[asyncio.Task[Any]] = set()
        self._bad_quiet_text: str | None = None

    def bind(self, executor: Executor) -> None:
        self.executor = executor

    # ------------------------------------------------------------------------ the flag

    @property
    def active(self) -> bool:
        return bool(self.state.get_value(FLAG_KEY, False))

    @property
    def report_pending(self) -> bool:
        return self.state.get_value(PENDING_KEY) is not None

    def status(self) -> dict[str, Any]:
        """What `leoscope agent scavenger status` shows."""
        overhead = [
            r.runid
            for r in self.state.unfinished_runs()
            if r.phase in STOPPABLE_PHASES and is_overhead(r)
        ]
        return {
            "scavenger_mode_active": self.active,
            "source": self.state.get_value(SOURCE_KEY, ""),
            "report_pending": self.report_pending,
            "quiet_hours": self.state.get_value(QUIET_TEXT_KEY, ""),
            "in_quiet_hours": bool(self.state.get_value(QUIET_INSIDE_KEY, False)),
            "overhead_runs": overhead,
        }

    def _set(self, active: bool, source: str) -> bool:
        if self.active == active:
            return False
        self.state.set_value(FLAG_KEY, active)
        self.state.set_value(SOURCE_KEY, source)
        log.info("scavenger mode %s (%s)", "ACTIVE" if active else "off", source)
        return True

    async def switch(
        self, active: bool, source: str = SOURCE_LOCAL, *, report_wait: float = 0.0
    ) -> SwitchResult:
        """Turn the mode on or off here and now, then report it to the orchestrator.

        Overhead runs are asked to stop before anything is sent. `report_wait` bounds how long
        to wait for the orchestrator's acknowledgement (the report is retried regardless).
        """
        changed = self._set(active, source)
        if source != SOURCE_QUIET:
            self.state.set_value(QUIET_OWNED_KEY, False)
        stopping = await self.sweep() if active else []
        self.state.set_value(PENDING_KEY, active)
        self._reported.clear()
        self._report_wake.set()
        if report_wait > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(report_wait):
                    while self.report_pending:
                        await self._reported.wait()
                        self._reported.clear()
        return SwitchResult(active, changed, stopping, not self.report_pending)

    def control_handlers(
        self,
    ) -> dict[str, Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]]:
        """The control socket's commands: `scavenger` (with `active`) and `status`."""

        async def scavenger(request: Mapping[str, Any]) -> dict[str, Any]:
            active = request.get("active")
            if not isinstance(active, bool):
                raise ControlError("'active' must be true or false")
            result = await self.switch(active, SOURCE_LOCAL, report_wait=CONTROL_REPORT_WAIT_SECS)
            return {
                "scavenger_mode_active": result.active,
                "changed": result.changed,
                "stopping": result.stopping,
                "reported": result.reported,
            }

        async def status(request: Mapping[str, Any]) -> dict[str, Any]:
            return self.status()

        return {"scavenger": scavenger, "status": status}

    def orchestrator_flag(self, active: bool) -> None:
        """The orchestrator's flag, from a watch notice or a poll (sync's handler)."""
        pending = self.state.get_value(PENDING_KEY)
        if pending is not None:
            if bool(pending) != active:
                log.debug(
                    "orchestrator says scavenger=%s; our own switch is not reported yet", active
                )
            return
        if self._set(active, SOURCE_ORCHESTRATOR):
            self.state.set_value(QUIET_OWNED_KEY, False)
            if active:
                self._spawn(self.sweep())

    def notice(self, kind: str) -> None:
        """A watch notice (sync's listener): the node record may have new quiet hours."""
        if kind in ("node", "hello"):
            self._node_changed = True
            self._quiet_wake.set()

    # ------------------------------------------------------------------------ stopping runs

    async def sweep(self) -> list[str]:
        """Ask every running overhead run to stop; returns their run ids."""
        if self.executor is None:
            return []
        stopping = []
        for record in self.state.unfinished_runs():
            if record.phase not in STOPPABLE_PHASES or not is_overhead(record):
                continue
            if record.outcome_status is not None or record.abort_status is not None:
                continue
            if is_one_shot(record):
                status, message = RunStatus.RESCHEDULE_FAILED, RESCHEDULE_NOT_TRIED
            else:
                status, message = RunStatus.ABORTED, MSG_ABORTED
            if await self.executor.abort_run(record.runid, status, message):
                stopping.append(record.runid)
        if stopping:
            log.info("scavenger mode: stopping %d overhead run(s): %s", len(stopping), stopping)
        return stopping

    async def reschedule(self, record: RunRecord) -> tuple[str, str]:
        """Move a one-shot job (now + reschedule_secs .. its end date): (status, message)."""
        not_before = iso_z(from_epoch(self.clock.time() + self.reschedule_secs))
        end_date = record.job_message.end_date
        try:
            moved, reason = await self.link.reschedule_nearest(record.jobid, not_before, end_date)
        except LinkError as exc:
            moved, reason = False, f"the orchestrator could not be asked ({exc.message})"
        if moved:
            log.info("run=%s job=%s moved: %s", record.runid, record.jobid, reason)
            return RunStatus.RESCHEDULED, MSG_RESCHEDULED.format(reason=reason)
        log.warning("run=%s job=%s could not be moved: %s", record.runid, record.jobid, reason)
        return RunStatus.RESCHEDULE_FAILED, MSG_RESCHEDULE_FAILED.format(reason=reason)

    # ------------------------------------------------------------------------ background

    async def run(self) -> None:
        """Stop adopted overhead runs if the mode is on; then report and follow quiet hours."""
        if self.active:
            await self.sweep()
        if self.report_pending:
            self._report_wake.set()
        try:
            await asyncio.gather(self._report_loop(), self._quiet_loop())
        finally:
            await cancel_and_wait(*self._background)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _report_loop(self) -> None:
        backoff = Backoff(REPORT_RETRY)
        while True:
            pending = self.state.get_value(PENDING_KEY)
            if pending is None:
                self._report_wake.clear()
                await self._report_wake.wait()
                continue
            self._report_wake.clear()
            try:
                await self.link.set_scavenger_mode(bool(pending))
            except Refused as exc:
                log.warning("the orchestrator refused our scavenger flag: %s", exc)
            except LinkError as exc:
                wait = backoff.next_wait() or REPORT_RETRY.max_wait_secs
                if backoff.attempts == 1:
                    log.info("scavenger flag not reported yet (%s); retrying", exc)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._report_wake.wait()
                continue
            else:
                log.info("scavenger flag %s reported to the orchestrator", bool(pending))
            backoff = Backoff(REPORT_RETRY)
            if self.state.get_value(PENDING_KEY) == pending:
                self.state.set_value(PENDING_KEY, None)
            self._reported.set()

    async def _quiet_loop(self) -> None:
        refreshed_at = float("-inf")
        while True:
            self._quiet_wake.clear()
            if self._node_changed or self.clock.monotonic() - refreshed_at > NODE_REFRESH_SECS:
                if await self._refresh_quiet_hours():
                    refreshed_at = self.clock.monotonic()
                    self._node_changed = False
            now = self.clock.time()
            inside, next_change = quiet_state(self._windows(), now)
            await self._quiet_transition(inside)
            if self.active:
                await self.sweep()
            delay = min(max(next_change - now, 0.05), SWEEP_SECS)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._quiet_wake.wait()

    async def _refresh_quiet_hours(self) -> bool:
        try:
            node = await self.link.own_node()
        except LinkError as exc:
            log.debug("quiet hours not refreshed: %s", exc)
            return False
        text = node.quiet_hours if node is not None and node.HasField("quiet_hours") else ""
        if text != self.state.get_value(QUIET_TEXT_KEY, ""):
            self.state.set_value(QUIET_TEXT_KEY, text)
            log.info("quiet hours: %s", text or "none")
        return True

    def _windows(self) -> tuple[Any, ...]:
        text = self.state.get_value(QUIET_TEXT_KEY, "")
        try:
            return parse_quiet_hours(text)
        except InvalidInput as exc:
            if self._bad_quiet_text != text:
                log.warning("quiet hours %r ignored: %s", text, exc)
                self._bad_quiet_text = text
            return ()

    async def _quiet_transition(self, inside: bool) -> None:
        """Switch at a window's start; at its end only if the window had switched it on."""
        if inside == bool(self.state.get_value(QUIET_INSIDE_KEY, False)):
            return
        self.state.set_value(QUIET_INSIDE_KEY, inside)
        if inside and not self.active:
            await self.switch(True, SOURCE_QUIET)
            self.state.set_value(QUIET_OWNED_KEY, True)
        elif not inside and self.active and self.state.get_value(QUIET_OWNED_KEY, False):
            await self.switch(False, SOURCE_QUIET)
            self.state.set_value(QUIET_OWNED_KEY, False)


class ScavengerGate:
    """Start gate: overhead runs do not start while the mode is on."""

    name = "scavenger"

    def __init__(self, scavenger: Scavenger) -> None:
        self.scavenger = scavenger

    async def check(self, run: RunContext) -> GateDecision:
        record = run.record
        if not self.scavenger.active or not is_overhead(record):
            return PROCEED
        if is_one_shot(record):
            status, message = await self.scavenger.reschedule(record)
            return Skip(status, message)
        return Skip(RunStatus.TERMINATED, MSG_TERMINATED)


class ScavengerHook(RunHook):
    """Moves the job of a one-shot run that scavenger mode stopped, once its container ended."""

    def __init__(self, scavenger: Scavenger) -> None:
        self.scavenger = scavenger

    async def after_exit(self, run: RunContext, outcome: Outcome) -> None:
        if outcome.status != RunStatus.RESCHEDULE_FAILED or outcome.message != RESCHEDULE_NOT_TRIED:
            return
        status, message = await self.scavenger.reschedule(run.record)
        run.log.info("%s", message)
        run.state.update_run(run.runid, outcome_status=str(status), outcome_message=message)
