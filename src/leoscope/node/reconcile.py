"""After a start: match unfinished local runs with the containers this node owns, and resume.

Containers are found by the label `leoscope.node=<node id>` only, so nothing another agent,
the reference node or the operator started is ever touched. For each local run that had not
finished when the agent stopped (crash, kill -9, reboot, upgrade):

    phase                 its container       what happens
    PENDING, DEPLOYING,   running or exited   adopted: phase RUNNING (the executor then enforces
    STARTING                                  the remaining budget or records the exit)
                          none                still within the grace after its slot, and its
                                              slot not over: resumed (gates, deploy, start
                                              again); otherwise FAILED "agent restarted before
                                              the run started"
    RUNNING               running             adopted: the executor enforces the REMAINING time
                                              (slot + length_secs) and finishes it
                          exited              finished: exit code, logs, archive, delivery
                          none                FAILED "agent restarted: the container was gone";
                                              the run directory is still archived and delivered
    COLLECTING ...        any                 resumed where it stopped (archive reused if made)
    DELIVERING
    UPLOAD_PENDING        any                 left to the uploader that took it over

A container labelled with our node whose run is finished locally (the agent died between the
final report and removing it) is removed. One whose run id is unknown here (the state file was
lost) is left alone and logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from leoscope.core.model import RunStatus

from .clock import Clock
from .executor import Executor
from .outcome import MSG_EXECUTING
from .records import RunPhase, RunRecord
from .runtime.base import LABEL_NODE, Handle, Runtime
from .state import LocalState
from .timer import describe_lateness

log = logging.getLogger(__name__)

_BEFORE_START = (RunPhase.PENDING, RunPhase.DEPLOYING, RunPhase.STARTING)


@dataclass
class ReconcileReport:
    adopted: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    removed_containers: list[str] = field(default_factory=list)
    unknown_containers: list[str] = field(default_factory=list)


async def reconcile(
    *,
    state: LocalState,
    runtime: Runtime,
    executor: Executor,
    clock: Clock,
    grace_secs: float,
) -> ReconcileReport:
    """Adopt, resume or fail every unfinished run, and launch the executor on each."""
    report = ReconcileReport()
    owned = await runtime.list_owned({LABEL_NODE: state.node_id})
    by_run: dict[str, Handle] = {h.run_id: h for h in owned if h.run_id}
    now = clock.time()
    for record in state.unfinished_runs():
        handle = by_run.pop(record.runid, None)
        if record.phase is RunPhase.UPLOAD_PENDING:
            continue
        record = _decide(state, record, handle, now, grace_secs, report)
        executor.launch(record)
    for runid, handle in by_run.items():
        record = state.get_run(runid)
        if record is not None and record.phase is RunPhase.DONE:
            log.info("removing the finished run's leftover container %s", handle.name)
            await runtime.remove(handle)
            report.removed_containers.append(handle.name)
        else:
            log.warning(
                "container %s carries this node's label but no run of this agent: left alone",
                handle.name,
            )
            report.unknown_containers.append(handle.name)
    if any((report.adopted, report.resumed, report.failed, report.removed_containers)):
        log.info(
            "reconciled: %d adopted, %d resumed, %d failed, %d leftover containers removed",
            len(report.adopted),
            len(report.resumed),
            len(report.failed),
            len(report.removed_containers),
        )
    return report


def _decide(
    state: LocalState,
    record: RunRecord,
    handle: Handle | None,
    now: float,
    grace_secs: float,
    report: ReconcileReport,
) -> RunRecord:
    runid = record.runid
    if record.phase in _BEFORE_START:
        if handle is not None:
            log.info(
                "run=%s adopting container %s (started before the restart)", runid, handle.name
            )
            report.adopted.append(runid)
            return _to_running(state, record, handle)
        late = now - record.slot
        if late < grace_secs and now < record.deadline:
            log.info("run=%s resuming (%s after its slot)", runid, describe_lateness(late))
            report.resumed.append(runid)
            phase = RunPhase.PENDING if record.phase is RunPhase.PENDING else RunPhase.DEPLOYING
            return state.update_run(runid, phase=phase)
        report.failed.append(runid)
        return state.update_run(
            runid,
            phase=RunPhase.COLLECTING,
            container_name=None,
            outcome_status=RunStatus.FAILED.value,
            outcome_message=(
                f"agent restarted before the run started ({describe_lateness(late)} after its slot)"
            ),
        )
    if record.phase is RunPhase.RUNNING:
        if handle is not None:
            log.info("run=%s adopting its container %s", runid, handle.name)
            report.adopted.append(runid)
            return _to_running(state, record, handle)
        report.failed.append(runid)
        return state.update_run(
            runid,
            phase=RunPhase.COLLECTING,
            outcome_status=RunStatus.FAILED.value,
            outcome_message="agent restarted: the container was gone",
        )
    report.resumed.append(runid)
    return record


def _to_running(state: LocalState, record: RunRecord, handle: Handle) -> RunRecord:
    changes: dict[str, object] = {
        "phase": RunPhase.RUNNING,
        "container_id": handle.id,
        "container_name": handle.name,
    }
    if record.status != RunStatus.EXECUTING:
        return state.update_run(
            record.runid, status=RunStatus.EXECUTING, message=MSG_EXECUTING, **changes
        )
    return state.update_run(record.runid, **changes)
