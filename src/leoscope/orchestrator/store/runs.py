"""Runs: one execution of a job on a node, upserted by run id."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy import Connection, Row, insert, or_, select, update

from leoscope.core.model import Run

from .schema import jobs, runs


def _run(row: Row) -> Run:
    return Run(
        runid=row.runid,
        jobid=row.jobid,
        nodeid=row.nodeid,
        userid=row.userid,
        start_time=row.start_time,
        end_time=row.end_time,
        last_updated=row.last_updated,
        status=row.status,
        status_message=row.status_message,
        blob_url=row.blob_url,
        archive_sha256=row.archive_sha256,
        archive_size=row.archive_size,
        seq=row.seq,
        blob_name=row.blob_name,
        trigger_values=row.trigger_values,
    )


def get(conn: Connection, runid: str) -> Run | None:
    row = conn.execute(select(runs).where(runs.c.runid == runid)).first()
    return _run(row) if row else None


def upsert(conn: Connection, run: Run, stored: Run | None) -> bool:
    """Insert `run`, or replace `stored` (its row as read in this transaction) with it.

    Returns False (and changes nothing) when the stored run carries a higher sequence number:
    a late retry must never move a run backwards.
    """
    values = asdict(run)
    if stored is None:
        conn.execute(insert(runs).values(**values))
        return True
    if run.seq is not None and stored.seq is not None and run.seq < stored.seq:
        return False
    del values["runid"]
    conn.execute(update(runs).where(runs.c.runid == run.runid).values(**values))
    return True


def find(
    conn: Connection,
    *,
    runid: str | None = None,
    jobid: str | None = None,
    nodeid: str | None = None,
    userid: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    visible_to_user: str | None = None,
    visible_to_node: str | None = None,
) -> list[Run]:
    """Runs matching every given filter, newest start first.

    `visible_to_user` keeps the runs whose owner is that user; `visible_to_node` keeps the runs
    of jobs that node runs (as node or server) plus the runs it reported itself.
    """
    query = select(runs).order_by(runs.c.start_time.desc(), runs.c.runid)
    for column, value in (
        (runs.c.runid, runid),
        (runs.c.jobid, jobid),
        (runs.c.nodeid, nodeid),
        (runs.c.userid, userid),
        (runs.c.status, status),
    ):
        if value:
            query = query.where(column == value)
    if since is not None:
        query = query.where(runs.c.start_time >= since)
    if until is not None:
        query = query.where(runs.c.start_time <= until)
    if visible_to_user is not None:
        query = query.where(runs.c.userid == visible_to_user)
    if visible_to_node is not None:
        node_jobs = select(jobs.c.id).where(
            or_(jobs.c.nodeid == visible_to_node, jobs.c.server == visible_to_node)
        )
        query = query.where(or_(runs.c.nodeid == visible_to_node, runs.c.jobid.in_(node_jobs)))
    if limit:
        query = query.limit(limit)
    return [_run(r) for r in conn.execute(query)]
