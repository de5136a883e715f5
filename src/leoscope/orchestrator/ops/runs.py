"""Runs: status reports from nodes, and queries scoped to the caller."""

from __future__ import annotations

from dataclasses import replace

from leoscope.core.errors import Conflict, InvalidInput, PermissionDenied
from leoscope.core.model import Run, RunStatus
from leoscope.core.timeutil import parse_time
from leoscope.core.validation import check_id, check_text

from ..store import jobs as job_store
from ..store import runs as run_store
from . import artifacts as artifact_ops
from .context import Ctx

MAX_STATUS_LEN = 64
MAX_MESSAGE_LEN = 4096


def update_run(ctx: Ctx, run: Run) -> str:
    """Upsert a run reported by a node. A retry with an older sequence number is acknowledged
    and ignored, so deliveries are idempotent and never move a run backwards."""
    check_id("run.runid", run.runid)
    check_id("run.jobid", run.jobid)
    check_id("run.nodeid", run.nodeid)
    if not run.status:
        raise InvalidInput("run.status", "is empty")
    check_text("run.status", run.status, MAX_STATUS_LEN)
    check_text("run.status_message", run.status_message.replace("\n", " "), MAX_MESSAGE_LEN)
    if run.blob_name:
        # Download URLs are signed for the stored name: it must be this run's own archive.
        artifact_ops.own_blob_name(run, run.blob_name, field="run.blob_name")
    if run.status == RunStatus.COMPLETE and ctx.services.artifacts is not None:
        artifact_ops.verify_archive(ctx, run)  # outside the transaction: it may talk to a store
    with ctx.write() as conn:
        stored = run_store.get(conn, run.runid)
        if stored is not None and stored.jobid != run.jobid:
            raise Conflict("run with the given id belongs to another job")
        job = job_store.get(conn, run.jobid)
        if job is not None:
            ctx.require("update_run", job=job)
            # The owner comes from the job, not from the reporter.
            run = replace(run, userid=job.userid)
        else:
            # The job is gone (deleted mid-run): the reporting node may still close its run.
            reporter_ok = ctx.principal.is_admin or (
                ctx.principal.is_node
                and ctx.principal.userid in (run.nodeid, stored.nodeid if stored else None)
            )
            if not reporter_ok:
                raise PermissionDenied(ctx.principal.denial())
            if stored is not None:
                run = replace(run, userid=stored.userid)
        run_store.upsert(conn, run, stored)
    if ctx.principal.is_node:
        ctx.services.liveness.mark(ctx.principal.userid, ctx.now)
    return "updated run successfully"


def get_runs(
    ctx: Ctx,
    *,
    runid: str | None = None,
    jobid: str | None = None,
    nodeid: str | None = None,
    userid: str | None = None,
    status: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
) -> list[Run]:
    """Runs matching the filters, newest first, limited to what the caller may see."""
    ctx.require("get_runs")
    if limit is not None and limit < 0:
        raise InvalidInput("limit", "must not be negative")
    start = parse_time(since, "time_range.start") if since else None
    end = parse_time(until, "time_range.end") if until else None
    if start and end and end < start:
        raise InvalidInput("time_range.end", "must not be before time_range.start")
    p = ctx.principal
    scope: dict[str, str] = {}
    if not p.is_admin:
        scope = {"visible_to_node": p.userid} if p.is_node else {"visible_to_user": p.userid}
    with ctx.read() as conn:
        return run_store.find(
            conn,
            runid=runid,
            jobid=jobid,
            nodeid=nodeid,
            userid=userid,
            status=status,
            since=start,
            until=end,
            limit=limit or None,
            **scope,
        )
