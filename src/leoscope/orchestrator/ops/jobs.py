"""Jobs: admission, lookup, rescheduling, modification and deletion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from leoscope.core import triggers
from leoscope.core.errors import Conflict, InvalidInput, NotFound
from leoscope.core.experiment import parse_experiment_config
from leoscope.core.model import Job, JobType
from leoscope.core.schedule import CalendarPage
from leoscope.core.timeutil import from_epoch, job_date, parse_time, ref_time
from leoscope.core.validation import JobRequest, build_job, check_id

from ..store import jobs as job_store
from ..store import nodes as node_store
from ..store import users as user_store
from .context import Ctx

NEXT_RUNS_SHOWN = 5
JOB_MISSING = "job with the given id not found."


@dataclass
class Admitted:
    job: Job
    next_runs: list[datetime] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def conflict_message(conflicts: list[Any], jobs_by_id: dict[str, Job]) -> str:
    """The reference's `schedule conflict:<...>` text, one entry per conflicting job."""
    parts = []
    for i, c in enumerate(conflicts):
        other = jobs_by_id.get(c.jobid)
        cron = other.schedule if other else ""
        start = job_date(other.start) if other else ""
        end = job_date(other.end) if other else ""
        parts.append(
            f"<{i}, jobid={c.jobid}, cron='{cron}', start={start}, end={end},"
            f"conflict_start={ref_time(from_epoch(c.start))}, "
            f"conflict_end={ref_time(from_epoch(c.end))}>"
        )
    return "schedule conflict:" + "".join(parts)


def _check_nodes(conn: Connection, job: Job) -> None:
    if not node_store.exists(conn, job.nodeid):
        raise InvalidInput("nodeid", f"node {job.nodeid!r} is not registered")
    if job.server and not node_store.exists(conn, job.server):
        raise InvalidInput("server", f"node {job.server!r} is not registered")


def _check_trigger(job: Job) -> None:
    if job.trigger is not None:
        triggers.validate_trigger(job.trigger)


def _check_kernel(conn: Connection, job: Job) -> None:
    if parse_experiment_config(job.config).kernel_sysctls():
        owner = user_store.get(conn, job.userid)
        if owner is None or not owner.role.has_kernel_access:
            raise InvalidInput(
                "config",
                "asks for kernel settings, which need the USER_PRIV role "
                f"(user {job.userid!r} does not have it)",
            )


def _admit(ctx: Ctx, conn: Connection, job: Job, exclude: str | None = None) -> Admitted:
    """The seam to the scheduling engine: bounds, self-overlap and conflicts, in `conn`'s
    transaction (which holds the nodes' locks). Raises Conflict with the reference's text."""
    admission = ctx.services.admission
    conflicts, others = admission.check(conn, job, ctx.now, exclude=exclude)
    if conflicts:
        raise Conflict(conflict_message(conflicts, others), conflicts)
    return Admitted(
        job=job,
        next_runs=admission.next_runs(job, ctx.now, NEXT_RUNS_SHOWN),
        warnings=admission.quiet_hour_warnings(conn, job, ctx.now),
    )


def schedule_job(ctx: Ctx, request: JobRequest, dry_run: bool = False) -> Admitted:
    """Order: authorization, field validation, duplicate id, trigger, conflicts, atomic insert."""
    ctx.require("schedule_job")
    job = build_job(request, owner=ctx.principal.userid, now=ctx.now)
    with ctx.write(lock_nodes=job.nodes) as conn:
        _check_nodes(conn, job)
        if job_store.exists(conn, job.id):
            raise Conflict("job with the given id exists")
        _check_trigger(job)
        _check_kernel(conn, job)
        admitted = _admit(ctx, conn, job)
        if dry_run:
            return admitted
        job_store.add(conn, job, ctx.now)
        for nodeid in job.nodes:
            ctx.notify(nodeid, "jobs", jobid=job.id)
    return admitted


def _stored_job(conn: Connection, jobid: str) -> Job:
    job = job_store.get(conn, jobid)
    if job is None:
        raise NotFound("job", jobid, JOB_MISSING)
    return job


def get_job(ctx: Ctx, jobid: str) -> Job:
    check_id("jobid", jobid)
    with ctx.read() as conn:
        job = _stored_job(conn, jobid)
    ctx.require("get_job_by_id", job=job)
    return job


def jobs_of_user(ctx: Ctx, userid: str) -> list[Job]:
    """Admins: that user's jobs, or all jobs for ''. Others: their own ('' means self)."""
    if userid:
        check_id("userid", userid)
    elif not ctx.principal.is_admin:
        userid = ctx.principal.userid
    ctx.require("get_jobs_by_userid", userid=userid)
    with ctx.read() as conn:
        return job_store.by_user(conn, userid or None)


def jobs_on_node(ctx: Ctx, nodeid: str, include_expired: bool = False) -> Sequence[Job]:
    ctx.require("get_jobs_by_nodeid")
    check_id("nodeid", nodeid)
    if include_expired:
        with ctx.read() as conn:
            return job_store.on_nodes(conn, [nodeid], active_at=None)

    def load() -> tuple[Job, ...]:
        with ctx.read() as conn:
            return tuple(job_store.live_on_node(conn, nodeid, ctx.now))

    def first_expiry(jobs: tuple[Job, ...]) -> float:
        return min((j.end.timestamp() for j in jobs), default=float("inf"))

    return ctx.services.cache.get(("jobs", nodeid), load, first_expiry)


def reschedule_nearest(ctx: Ctx, jobid: str, starttime: str, endtime: str) -> datetime:
    """Move a one-shot job to the earliest free slot in [starttime, endtime]; keep end_date."""
    check_id("jobid", jobid)
    not_before = parse_time(starttime, "starttime")
    not_after = parse_time(endtime, "endtime")
    job = _changeable_job(ctx, "reschedule_job_nearest", jobid)
    if job.type is not JobType.ATQ:
        raise InvalidInput("jobid", "only jobs of type 'atq' can be rescheduled.")
    not_before = max(not_before, ctx.now)  # never into the past: no node would run it
    with ctx.write(lock_nodes=job.nodes) as conn:
        job = _locked_job(ctx, conn, "reschedule_job_nearest", job)
        slot = ctx.services.admission.free_slot(
            conn,
            job.nodes if job.overhead else (),
            job.length_secs,
            not_before,
            min(not_after, job.end),
            now=ctx.now,
            exclude=job.id,
        )
        if slot is None:
            raise Conflict(
                "empty slot not found with the given constraints:"
                f"start_time={starttime} end_time={endtime}"
            )
        moved = job_store.replace(conn, job.with_changes(start=slot), ctx.now)
        for nodeid in moved.nodes:
            ctx.notify(nodeid, "jobs", jobid=job.id)
    return slot


MODIFIABLE = (
    "schedule",
    "start_date",
    "end_date",
    "length_secs",
    "trigger",
    "config",
    "timezone",
    "overhead",
    "trigger_wait_secs",
)


def modify_job(ctx: Ctx, jobid: str, changes: dict[str, Any]) -> Job:
    """Apply the present fields through the same checks as schedule_job, all or nothing."""
    check_id("jobid", jobid)
    job = _changeable_job(ctx, "modify_job", jobid)
    if not changes:
        raise InvalidInput("jobid", "no field to change was given")
    with ctx.write(lock_nodes=job.nodes) as conn:
        job = _locked_job(ctx, conn, "modify_job", job)
        updated = _with_changes(job, changes, ctx.now)
        _check_trigger(updated)
        _check_kernel(conn, updated)
        _admit(ctx, conn, updated, exclude=job.id)
        stored = job_store.replace(conn, updated, ctx.now)
        for nodeid in stored.nodes:
            ctx.notify(nodeid, "jobs", jobid=job.id)
    return stored


def _changeable_job(ctx: Ctx, rpc: str, jobid: str) -> Job:
    """The job as stored, if the caller may change it: read before any write lock is taken,
    so that refusals cost none, and to learn which nodes to lock."""
    with ctx.read() as conn:
        job = _stored_job(conn, jobid)
    ctx.require(rpc, job=job)
    return job


def _locked_job(ctx: Ctx, conn: Connection, rpc: str, seen: Job) -> Job:
    """The job read again once `seen.nodes` are locked: a change must build on what is stored
    now, or a concurrent change would be lost (and two contents share one version)."""
    job = _stored_job(conn, seen.id)
    if job.nodes != seen.nodes:  # deleted and scheduled again meanwhile, on other nodes
        raise Conflict("the job was replaced while this request waited; try again")
    ctx.require(rpc, job=job)
    return job


def _with_changes(job: Job, changes: dict[str, Any], now: datetime) -> Job:
    """`job` with the present fields changed, through the same checks as schedule_job."""
    request = JobRequest(
        id=job.id,
        nodeid=job.nodeid,
        type=int(job.type),
        schedule=changes.get("schedule", job.schedule),
        start_date=changes.get("start_date", job_date(job.start)),
        end_date=changes.get("end_date", job_date(job.end)),
        length_secs=changes.get("length_secs", job.length_secs),
        overhead=changes.get("overhead", job.overhead),
        config=changes.get("config", job.config),
        params=job.params,
        server=job.server,
        trigger=changes.get("trigger", job.trigger),
        timezone=changes.get("timezone", job.timezone),
        trigger_wait_secs=changes.get("trigger_wait_secs", job.trigger_wait_secs),
    )
    # A one-shot job that already started may still be edited (e.g. its config) without the
    # "start in the past" rule biting, as long as its start does not move.
    if "start_date" not in changes:
        now = min(now, job.start)
    return replace(build_job(request, owner=job.userid, now=now), version=job.version)


def delete_job(ctx: Ctx, jobid: str) -> str:
    check_id("jobid", jobid)
    with ctx.write() as conn:
        job = job_store.get(conn, jobid)
        if job is None:
            if ctx.principal.is_admin:
                raise NotFound("job", jobid, "job with given jobid does not exist")
            raise NotFound("job", jobid, f"job with jobid={jobid} does not exist")
        ctx.require("delete_job_by_id", job=job)
        job_store.remove(conn, jobid)
        for nodeid in job.nodes:
            ctx.notify(nodeid, "jobs", jobid=jobid)
    return "deleted job successfully"


def delete_jobs_on_node(ctx: Ctx, nodeid: str) -> int:
    ctx.require("delete_jobs_by_nodeid")
    check_id("nodeid", nodeid)
    with ctx.write() as conn:
        removed = job_store.remove_on_node(conn, nodeid)
        for job in removed:
            for n in job.nodes:
                ctx.notify(n, "jobs", jobid=job.id)
    return len(removed)


def calendar(ctx: Ctx, nodeid: str, start: str, end: str) -> CalendarPage:
    """The node's planned runs in [start, end] (all its jobs, overhead or not), capped."""
    ctx.require("get_scheduled_runs")
    check_id("nodeid", nodeid)
    window_start = parse_time(start, "start")
    window_end = parse_time(end, "end")
    if window_end < window_start:
        raise InvalidInput("end", "error: end must be greater than start")
    with ctx.read() as conn:
        node_jobs = job_store.on_nodes(conn, [nodeid], active_at=None)
    return ctx.services.admission.calendar(node_jobs, window_start, window_end)


def find_free_slot(
    ctx: Ctx,
    nodeids: list[str],
    location: str | None,
    provider: str | None,
    length_secs: int,
    not_before: str,
    not_after: str,
) -> list[tuple[str, datetime | None]]:
    """The earliest free slot per node (by id, or all nodes at a location / provider)."""
    ctx.require("find_free_slot")
    if length_secs <= 0:
        raise InvalidInput("length_secs", "must be greater than 0")
    start = parse_time(not_before, "not_before")
    end = parse_time(not_after, "not_after")
    if end <= start:
        raise InvalidInput("not_after", "must be after not_before")
    start = max(start, ctx.now)  # a slot in the past is no slot
    if end - start > timedelta(days=400):
        raise InvalidInput("not_after", "the window may span at most 400 days")
    with ctx.read() as conn:
        if nodeids:
            for nodeid in nodeids:
                if not node_store.exists(conn, nodeid):
                    raise InvalidInput("nodeids", f"node {nodeid!r} is not registered")
            chosen = list(dict.fromkeys(nodeids))
        else:
            if not (location or provider):
                raise InvalidInput("nodeids", "give node ids, a location or a provider")
            chosen = [n.nodeid for n in node_store.find(conn, location=location, provider=provider)]
        admission = ctx.services.admission
        return [
            (n, admission.free_slot(conn, (n,), length_secs, start, end, now=ctx.now))
            for n in chosen
        ]
