"""Node-to-node tasks for client/server pairing."""

from __future__ import annotations

from dataclasses import replace

from leoscope.core.errors import InvalidInput, NotFound
from leoscope.core.model import Task, TaskStatus, TaskType
from leoscope.core.validation import check_id

from ..store import jobs as job_store
from ..store import tasks as task_store
from .context import Ctx

DEFAULT_TTL_SECS = 300
MAX_TTL_SECS = 31 * 24 * 3600
TASK_MISSING = "task with given id does not exist"


def schedule_task(ctx: Ctx, task: Task) -> str:
    check_id("task.taskid", task.taskid)
    check_id("task.runid", task.runid)
    check_id("task.jobid", task.jobid)
    check_id("task.nodeid", task.nodeid)
    if task.type not in (TaskType.SERVER_START, TaskType.SERVER_STOP):
        raise InvalidInput("task.type", "must be SERVER_START or SERVER_STOP")
    if task.ttl_secs < 0 or task.ttl_secs > MAX_TTL_SECS:
        raise InvalidInput("task.ttl_secs", f"must be between 0 and {MAX_TTL_SECS}")
    task = replace(task, ttl_secs=task.ttl_secs or DEFAULT_TTL_SECS)
    with ctx.write() as conn:
        job = job_store.get(conn, task.jobid)
        if job is None:
            raise InvalidInput("task.jobid", f"job {task.jobid!r} does not exist")
        ctx.require("schedule_task", job=job)
        if task.nodeid != job.server:
            raise InvalidInput("task.nodeid", "must be the job's server node")
        task_store.add(conn, task, ctx.now)
        ctx.notify(task.nodeid, "tasks", taskid=task.taskid, jobid=task.jobid)
    return "task successfully scheduled"


def get_tasks(
    ctx: Ctx,
    *,
    type: TaskType | None = None,
    taskid: str | None = None,
    runid: str | None = None,
    jobid: str | None = None,
    nodeid: str | None = None,
    status: TaskStatus | None = None,
) -> list[Task]:
    p = ctx.principal
    if not ctx.may("get_tasks"):
        return []
    if p.is_node and nodeid == p.userid and not (type or taskid or runid or jobid or status):
        # A node's own poll: cached, dropped on task notices and at the first expiry.
        def load() -> list[Task]:
            with ctx.read() as conn:
                return task_store.find(conn, ctx.now, nodeid=nodeid, visible_to_node=p.userid)

        def first_expiry(tasks: list[Task]) -> float:
            return min(
                (t.expires_at.timestamp() for t in tasks if t.expires_at), default=float("inf")
            )

        return ctx.services.cache.get(("tasks", nodeid), load, first_expiry)
    scope = {} if p.is_admin else {"visible_to_node": p.userid}
    with ctx.read() as conn:
        return task_store.find(
            conn,
            ctx.now,
            type=type,
            taskid=taskid,
            runid=runid,
            jobid=jobid,
            nodeid=nodeid,
            status=status,
            **scope,
        )


def update_task(ctx: Ctx, taskid: str, status: int) -> str:
    check_id("taskid", taskid)
    if status not in (TaskStatus.TASK_SCHEDULED, TaskStatus.TASK_COMPLETE):
        raise InvalidInput("status", "must be TASK_SCHEDULED or TASK_COMPLETE")
    with ctx.write() as conn:
        task = task_store.get(conn, taskid, ctx.now)
        if task is None:
            raise NotFound("task", taskid, TASK_MISSING)
        ctx.require("update_task", task=task)
        task_store.set_status(conn, taskid, TaskStatus(status), ctx.now)
        # The client node waiting on this task learns at once (and the server's view changes).
        ctx.notify(task.nodeid, "tasks", taskid=taskid, jobid=task.jobid)
        job = job_store.get(conn, task.jobid)
        if job is not None:
            ctx.notify(job.nodeid, "tasks", taskid=taskid, jobid=task.jobid)
    return "updated task successfully"
