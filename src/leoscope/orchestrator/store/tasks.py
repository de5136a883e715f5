"""Node-to-node tasks (client/server pairing). Expired tasks are invisible and swept."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Row, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from leoscope.core.errors import Conflict
from leoscope.core.model import Task, TaskStatus, TaskType

from .schema import jobs, tasks


def _task(row: Row) -> Task:
    return Task(
        taskid=row.taskid,
        type=TaskType(row.type),
        runid=row.runid,
        jobid=row.jobid,
        nodeid=row.nodeid,
        status=TaskStatus(row.status),
        ttl_secs=row.ttl_secs,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def get(conn: Connection, taskid: str, now: datetime) -> Task | None:
    row = conn.execute(
        select(tasks).where(tasks.c.taskid == taskid, tasks.c.expires_at > now)
    ).first()
    return _task(row) if row else None


def add(conn: Connection, task: Task, now: datetime) -> None:
    # An expired task with the same id no longer exists as far as callers can tell.
    conn.execute(delete(tasks).where(tasks.c.taskid == task.taskid, tasks.c.expires_at <= now))
    try:
        with conn.begin_nested():
            conn.execute(
                insert(tasks).values(
                    taskid=task.taskid,
                    type=int(task.type),
                    runid=task.runid,
                    jobid=task.jobid,
                    nodeid=task.nodeid,
                    status=int(TaskStatus.TASK_SCHEDULED),
                    ttl_secs=task.ttl_secs,
                    created_at=now,
                    expires_at=now + timedelta(seconds=task.ttl_secs),
                )
            )
    except IntegrityError:
        raise Conflict("task with the given id exists") from None


def find(
    conn: Connection,
    now: datetime,
    *,
    type: TaskType | None = None,
    taskid: str | None = None,
    runid: str | None = None,
    jobid: str | None = None,
    nodeid: str | None = None,
    status: TaskStatus | None = None,
    visible_to_node: str | None = None,
) -> list[Task]:
    query = select(tasks).where(tasks.c.expires_at > now).order_by(tasks.c.created_at)
    for column, value in (
        (tasks.c.taskid, taskid),
        (tasks.c.runid, runid),
        (tasks.c.jobid, jobid),
        (tasks.c.nodeid, nodeid),
    ):
        if value:
            query = query.where(column == value)
    if type is not None:
        query = query.where(tasks.c.type == int(type))
    if status is not None:
        query = query.where(tasks.c.status == int(status))
    if visible_to_node is not None:
        own_jobs = select(jobs.c.id).where(jobs.c.nodeid == visible_to_node)
        query = query.where(or_(tasks.c.nodeid == visible_to_node, tasks.c.jobid.in_(own_jobs)))
    return [_task(r) for r in conn.execute(query)]


def set_status(conn: Connection, taskid: str, status: TaskStatus, now: datetime) -> bool:
    result = conn.execute(
        update(tasks)
        .where(tasks.c.taskid == taskid, tasks.c.expires_at > now)
        .values(status=int(status))
    )
    return result.rowcount > 0


def sweep(conn: Connection, now: datetime) -> int:
    return conn.execute(delete(tasks).where(tasks.c.expires_at <= now)).rowcount
