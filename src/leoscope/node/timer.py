"""The local timer: fires each job's runs at their slots from the durable local schedule.

For every job this node runs (role "client"; server-side runs come from tasks), the next slot
is the first occurrence (core.schedule.occurrences: cron within [start_date, end_date], or
the one-shot start) after the job's watermark `floor`. Start and end dates are therefore
enforced here, not trusted to the orchestrator's expiry.

When slots are due, each one is claimed exactly once (a run row, unique per (job, slot), in
the same transaction that raises the floor) and handled by the missed-run policy:

* the latest due slot starts if it is late by less than `grace_secs` (default 60 s) and its
  slot has not already ended (slot + length_secs); the run keeps its slot's end as deadline;
* every other due slot is recorded MISSED with the reason, and the orchestrator is told
  (at most MAX_MISSED_RECORDED per job at a time, the most recent; older ones are logged).

What counts as due starts from the watermark `floor`. A one-shot job owns its single slot
whenever it is first seen: first seen late -> MISSED, never dropped. A cron definition learned
at time L (new job or changed fingerprint) may still start a slot of [L - grace, L) late, but
slots before L that cannot start are not the node's to have missed and are passed over
quietly. After downtime, every slot between the floor and now is either started (the latest,
within the grace) or recorded MISSED.

Sleeping: on the monotonic clock, for at most CHECK_SECS at a time. At each wake the timer
compares wall minus monotonic with the value it slept on; if the wall clock jumped, it logs
it and recomputes every next slot. Idle cost is a few wake-ups per minute with no work, and
next slots are cached per (job, fingerprint, floor), so 100 idle jobs cost nothing.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from leoscope.core.errors import InvalidInput
from leoscope.core.model import Job, JobType, RunStatus
from leoscope.core.schedule import occurrences
from leoscope.core.timeutil import from_epoch, iso_z

from . import clock as clocks
from .clock import Clock
from .paths import run_relpath
from .records import RunPhase, RunRecord, StoredJob
from .state import LocalState

log = logging.getLogger(__name__)

CHECK_SECS = 2.0
JUMP_TOLERANCE_SECS = 0.5
MAX_MISSED_RECORDED = 50
_NEVER = float("inf")


@dataclass(frozen=True)
class _Plan:
    key: tuple[str, int]
    job: Job
    next_slot: int | None


def describe_lateness(secs: float) -> str:
    secs = int(secs)
    if secs < 120:
        return f"{secs} s"
    if secs < 7200:
        return f"{secs // 60} min"
    return f"{secs // 3600} h {secs % 3600 // 60} min"


class Timer:
    """See the module docstring. `launch(record)` receives every run that should start."""

    def __init__(
        self,
        state: LocalState,
        clock: Clock,
        launch: Callable[[RunRecord], object],
        *,
        grace_secs: float = 60.0,
    ) -> None:
        self.state = state
        self.clock = clock
        self.launch = launch
        self.grace_secs = grace_secs
        self._wake = asyncio.Event()
        self._plans: dict[str, _Plan] = {}
        self._jobs: list[StoredJob] | None = None
        self.fired = 0

    def jobs_changed(self) -> None:
        """The local job list changed (sync): re-read it and recompute next slots."""
        self._jobs = None
        self._wake.set()

    # ------------------------------------------------------------------------ planning

    def _schedulable(self) -> list[StoredJob]:
        if self._jobs is None:
            self._jobs = [j for j in self.state.jobs() if j.role == "client"]
            live = {j.jobid for j in self._jobs}
            self._plans = {k: v for k, v in self._plans.items() if k in live}
        return self._jobs

    def _plan(self, stored: StoredJob) -> _Plan:
        key = (stored.fingerprint, stored.floor)
        plan = self._plans.get(stored.jobid)
        if plan is not None and plan.key == key:
            return plan
        try:
            job = stored.job
            found = occurrences(job, stored.floor + 1, _far_end(job), limit=1)
        except InvalidInput as exc:
            log.warning("job=%s cannot be scheduled: %s", stored.jobid, exc)
            plan = _Plan(key, _placeholder(stored), None)
        else:
            plan = _Plan(key, job, int(found[0]) if len(found) else None)
        self._plans[stored.jobid] = plan
        return plan

    def next_due(self) -> float:
        """The earliest next slot over all jobs (epoch seconds), or infinity."""
        slots = [p.next_slot for p in map(self._plan, self._schedulable()) if p.next_slot]
        return float(min(slots)) if slots else _NEVER

    # ------------------------------------------------------------------------ firing

    def fire_due(self, now: float) -> int:
        """Claim every slot due at `now` (start or MISSED). Returns how many were claimed."""
        claimed = 0
        changed = False
        for stored in self._schedulable():
            plan = self._plan(stored)
            if plan.next_slot is None or plan.next_slot > now:
                continue
            slots = occurrences(plan.job, stored.floor + 1, int(now) + 1)
            claimed += self._handle_due(stored, plan.job, [int(s) for s in slots], now)
            changed = True
        if changed:
            self._jobs = None  # floors moved
        return claimed

    def _handle_due(self, stored: StoredJob, job: Job, slots: list[int], now: float) -> int:
        latest = slots[-1]
        lateness = now - latest
        startable = lateness < self.grace_secs and now < latest + job.length_secs
        missed = slots[:-1] if startable else slots
        if job.type == JobType.CRON:
            # Slots of a cron definition that passed before this node learned it were never
            # the node's to run (only a late start within the grace is offered).
            unowned = [slot for slot in missed if slot < stored.learned_at]
            if unowned:
                missed = missed[len(unowned) :]
                self.state.advance_floor(job.id, unowned[-1])
                log.debug(
                    "job=%s %d slot(s) before it reached this node skipped", job.id, len(unowned)
                )
        if missed:
            log.warning(
                "job=%s %d slot(s) missed, %s to %s (%d recorded as MISSED, the most recent)",
                job.id,
                len(missed),
                iso_z(from_epoch(missed[0])),
                iso_z(from_epoch(missed[-1])),
                min(len(missed), MAX_MISSED_RECORDED),
            )
            missed = missed[-MAX_MISSED_RECORDED:]
        claimed = 0
        for slot in missed:
            claimed += self._claim(stored, job, slot, now, missed=True)
        if startable:
            claimed += self._claim(stored, job, latest, now, missed=False)
        return claimed

    def _claim(self, stored: StoredJob, job: Job, slot: int, now: float, *, missed: bool) -> int:
        runid = uuid.uuid4().hex
        record = RunRecord(
            runid=runid,
            jobid=job.id,
            userid=job.userid,
            slot=slot,
            deadline=float(slot + job.length_secs),
            start_time=float(slot) if missed else now,
            run_relpath=str(run_relpath(self.state.node_id, job.id, from_epoch(now), runid)),
            job_blob=stored.summary.SerializeToString(),
            detail_blob=stored.detail.SerializeToString() if stored.detail else None,
            phase=RunPhase.DONE if missed else RunPhase.PENDING,
        )
        try:
            if missed:
                message = self._missed_message(stored, slot, now)
                record = self.state.create_run(record, status=RunStatus.MISSED, message=message)
                log.debug("run=%s job=%s slot=%s MISSED", runid, job.id, iso_z(from_epoch(slot)))
                return 1
            record = self.state.create_run(record)
        except sqlite3.IntegrityError:
            log.info("job=%s slot=%s was already claimed", job.id, iso_z(from_epoch(slot)))
            return 0
        late = now - slot
        log.info(
            "run=%s job=%s slot=%s fired (late %.3f s)",
            runid,
            job.id,
            iso_z(from_epoch(slot)),
            late,
        )
        self.fired += 1
        self.launch(record)
        return 1

    def _missed_message(self, stored: StoredJob, slot: int, now: float) -> str:
        late = describe_lateness(now - slot)
        if slot < stored.learned_at:
            return (
                f"missed: the job reached this node {late} after its start time "
                f"(grace {self.grace_secs:g} s)"
            )
        return (
            f"missed: the agent could not start the run at its slot (late by {late}; "
            f"grace {self.grace_secs:g} s; the node was down or the agent not running)"
        )

    # ------------------------------------------------------------------------ the loop

    async def run(self) -> None:
        """Fire runs forever (until cancelled)."""
        while True:
            self._wake.clear()
            now = self.clock.time()
            self.fire_due(now)
            due = self.next_due()
            await self._sleep_until(due)

    async def _sleep_until(self, due: float) -> None:
        """Sleep on the monotonic clock until `due` (wall), a wake-up, or a wall-clock jump."""
        base_offset = clocks.offset(self.clock)
        while not self._wake.is_set():
            delay = due - self.clock.time()
            if delay <= 0:
                return
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=min(delay, CHECK_SECS))
            except TimeoutError:
                pass
            jump = clocks.offset(self.clock) - base_offset
            if abs(jump) > JUMP_TOLERANCE_SECS:
                log.warning("wall clock jumped by %+.1f s; recomputing the schedule", jump)
                self._plans.clear()
                return


def _far_end(job: Job) -> int:
    """The end of the window searched for a next slot: just past the job's end date."""
    return int(job.end.timestamp()) + 2


def _placeholder(stored: StoredJob) -> Job:
    """A job that never fires, for a stored job that cannot be scheduled."""
    return Job(
        id=stored.jobid,
        nodeid="",
        type=0,  # type: ignore[arg-type]
        start=from_epoch(0),
        end=from_epoch(0),
        length_secs=1,
        userid="",
    )
