"""Builders shared by the agent trigger tests: a run of a job with a trigger, in a real state."""

from __future__ import annotations

import uuid
from pathlib import Path

from leoscope.api import leotest_pb2 as pb
from leoscope.core.experiment import parse_executor_config
from leoscope.core.timeutil import from_epoch, job_date
from leoscope.node.records import RunRecord
from leoscope.node.rundir import RunLog
from leoscope.node.seams import RunContext
from leoscope.node.state import LocalState

SLOT = 1_717_243_200  # 2024-06-01T12:00:00Z, 12.0 as utc_hour


class ManualClock:
    """A wall clock the test sets by hand."""

    def __init__(self, wall: float) -> None:
        self.wall = wall

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.wall


def new_run(
    state: LocalState,
    runs_dir: Path,
    trigger: str | None,
    *,
    wait_secs: int | None = None,
    length_secs: int = 60,
    nodeid: str | None = None,
    slot: int = SLOT,
) -> RunContext:
    """Claim a run of a new one-shot job (with `trigger`) in `state`; its context for gates."""
    jobid = f"job-{uuid.uuid4().hex[:8]}"
    msg = pb.job(
        id=jobid,
        nodeid=nodeid or state.node_id,
        type=pb.ATQ,
        params=pb.job_params(mode="docker"),
        start_date=job_date(from_epoch(slot)),
        end_date=job_date(from_epoch(slot + 3600)),
        length_secs=length_secs,
        overhead=True,
        userid="alice",
    )
    if trigger is not None:
        msg.trigger = trigger
    if wait_secs is not None:
        msg.trigger_wait_secs = wait_secs
    runid = uuid.uuid4().hex
    record = RunRecord(
        runid=runid,
        jobid=jobid,
        userid="alice",
        slot=slot,
        deadline=slot + length_secs,
        start_time=slot,
        run_relpath=f"runs/{runid}",
        job_blob=msg.SerializeToString(),
    )
    state.create_run(record)

    async def report(status: str, message: str, values: str | None) -> None:
        raise AssertionError("the trigger gate reports through its decisions only")

    def current() -> RunRecord:
        stored = state.get_run(runid)
        assert stored is not None
        return stored

    return RunContext(
        runid=runid,
        job=record.job,
        node_id=state.node_id,
        slot=from_epoch(slot),
        deadline=from_epoch(slot + length_secs),
        run_dir=runs_dir / runid,
        executor_config=parse_executor_config(""),
        state=state,
        link=None,  # type: ignore[arg-type]  # the gate never calls the orchestrator
        log=RunLog(runs_dir / runid, runid, ManualClock(slot)),
        _record=current,
        _report=report,
    )
