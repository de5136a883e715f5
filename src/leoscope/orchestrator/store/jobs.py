"""Jobs. A job whose end date has passed stays as history but no longer goes to nodes or
blocks calendars: callers pass `active_at` to see only live jobs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from leoscope.core.errors import Conflict
from leoscope.core.model import Job, JobParams, JobType

from .schema import jobs

# Columns a job listing needs (everything but the config text, which can be large).
_LIST_COLUMNS = [c for c in jobs.c if c.name != "config"]


def _job(row: Row, with_config: bool = True) -> Job:
    return Job(
        id=row.id,
        nodeid=row.nodeid,
        type=JobType(row.type),
        start=row.start_date,
        end=row.end_date,
        length_secs=row.length_secs,
        userid=row.userid,
        schedule=row.schedule,
        params=JobParams(row.params_mode, row.params_deploy, row.params_execute, row.params_finish),
        overhead=bool(row.overhead),
        server=row.server,
        trigger=row.trigger,
        config=row.config if with_config else "",
        timezone=row.timezone,
        trigger_wait_secs=row.trigger_wait_secs,
        version=row.version,
    )


def _values(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "nodeid": job.nodeid,
        "server": job.server,
        "type": int(job.type),
        "params_mode": job.params.mode,
        "params_deploy": job.params.deploy,
        "params_execute": job.params.execute,
        "params_finish": job.params.finish,
        "schedule": job.schedule,
        "start_date": job.start,
        "end_date": job.end,
        "length_secs": job.length_secs,
        "overhead": job.overhead,
        "trigger": job.trigger,
        "userid": job.userid,
        "config": job.config,
        "timezone": job.timezone,
        "trigger_wait_secs": job.trigger_wait_secs,
        "version": job.version,
    }


def get(conn: Connection, jobid: str) -> Job | None:
    row = conn.execute(select(jobs).where(jobs.c.id == jobid)).first()
    return _job(row) if row else None


def exists(conn: Connection, jobid: str) -> bool:
    return conn.execute(select(jobs.c.id).where(jobs.c.id == jobid)).first() is not None


def by_user(conn: Connection, userid: str | None) -> list[Job]:
    query = select(*_LIST_COLUMNS).order_by(jobs.c.start_date, jobs.c.id)
    if userid:
        query = query.where(jobs.c.userid == userid)
    return [_job(r, with_config=False) for r in conn.execute(query)]


_LIVE_ON_NODE = (
    select(*_LIST_COLUMNS)
    .where(or_(jobs.c.nodeid == bindparam("n"), jobs.c.server == bindparam("n")))
    .where(jobs.c.end_date >= bindparam("now"))
    .order_by(jobs.c.start_date, jobs.c.id)
)


def live_on_node(conn: Connection, nodeid: str, now: datetime) -> list[Job]:
    """The hot path of every node's tick: live jobs where the node is the node or the server."""
    return [
        _job(r, with_config=False) for r in conn.execute(_LIVE_ON_NODE, {"n": nodeid, "now": now})
    ]


_LIVE_IDENTITIES = (
    select(jobs.c.id, jobs.c.version, jobs.c.nodeid, jobs.c.server)
    .where(
        or_(
            jobs.c.nodeid.in_(bindparam("n", expanding=True)),
            jobs.c.server.in_(bindparam("n", expanding=True)),
        )
    )
    .where(jobs.c.end_date >= bindparam("now"))
    .where(jobs.c.overhead.is_(True))
)


def live_identities(
    conn: Connection, nodeids: Iterable[str], now: datetime
) -> list[tuple[str, int, str, str | None]]:
    """(id, version, nodeid, server) of the live overhead jobs on these nodes: cheap rows that
    identify a calendar exactly (a changed job has a new version)."""
    result = conn.execute(_LIVE_IDENTITIES, {"n": list(set(nodeids)), "now": now})
    return [tuple(r) for r in result]


def by_ids(conn: Connection, ids: list[str]) -> list[Job]:
    if not ids:
        return []
    query = select(*_LIST_COLUMNS).where(jobs.c.id.in_(ids)).order_by(jobs.c.id)
    return [_job(r, with_config=False) for r in conn.execute(query)]


def on_nodes(
    conn: Connection,
    nodeids: Iterable[str],
    *,
    active_at: datetime | None,
    overhead_only: bool = False,
    with_config: bool = False,
) -> list[Job]:
    """Jobs whose node or server node is one of `nodeids`.

    With `active_at`, only jobs whose end date is not before it (live jobs).
    """
    ids = list(set(nodeids))
    columns = list(jobs.c) if with_config else _LIST_COLUMNS
    query = (
        select(*columns)
        .where(or_(jobs.c.nodeid.in_(ids), jobs.c.server.in_(ids)))
        .order_by(jobs.c.start_date, jobs.c.id)
    )
    if active_at is not None:
        query = query.where(jobs.c.end_date >= active_at)
    if overhead_only:
        query = query.where(jobs.c.overhead.is_(True))
    return [_job(r, with_config=with_config) for r in conn.execute(query)]


def add(conn: Connection, job: Job, now: datetime) -> None:
    try:
        with conn.begin_nested():
            conn.execute(insert(jobs).values(**_values(job), created_at=now, updated_at=now))
    except IntegrityError:
        raise Conflict("job with the given id exists") from None


def replace(conn: Connection, job: Job, now: datetime) -> Job:
    """Store a changed job, bumping its version. `job.version` must be the stored one: one
    version never names two contents (caches key on it), so a job changed or deleted since it
    was read raises Conflict."""
    changed = job.with_changes(version=job.version + 1)
    values = _values(changed)
    values.pop("id")
    result = conn.execute(
        update(jobs)
        .where(jobs.c.id == job.id, jobs.c.version == job.version)
        .values(**values, updated_at=now)
    )
    if result.rowcount != 1:
        raise Conflict("the job was changed or deleted meanwhile; try again")
    return changed


def remove(conn: Connection, jobid: str) -> bool:
    return conn.execute(delete(jobs).where(jobs.c.id == jobid)).rowcount > 0


def remove_on_node(conn: Connection, nodeid: str) -> list[Job]:
    """Delete the jobs whose (client) node is `nodeid`; returns them (for change notices)."""
    doomed = [
        _job(r, with_config=False)
        for r in conn.execute(select(*_LIST_COLUMNS).where(jobs.c.nodeid == nodeid))
    ]
    conn.execute(delete(jobs).where(jobs.c.nodeid == nodeid))
    return doomed
