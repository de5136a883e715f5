"""Request message -> operation -> response message, one method per RPC.

Handlers are synchronous and run in the servicer's worker threads. They hold no rules: they
decode the request, call the operation in `ops`, and encode the result. Refusals travel as
`core.errors` exceptions to the servicer, which answers them as the wire contract prescribes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from leoscope.api import convert
from leoscope.api import leotest_pb2 as pb
from leoscope.artifacts import signed_url_response, upload_request_from_pb
from leoscope.core.errors import InvalidInput
from leoscope.core.model import Job, TaskStatus, TaskType
from leoscope.core.timeutil import from_epoch, iso_z, job_date, ref_time

from .ops import artifacts as artifact_ops
from .ops import config as config_ops
from .ops import jobs as job_ops
from .ops import nodes as node_ops
from .ops import runs as run_ops
from .ops import tasks as task_ops
from .ops import users as user_ops
from .ops.context import Ctx

SUCCESS = pb.SUCCESS


def _opt(msg: Any, name: str) -> Any:
    return getattr(msg, name) if msg.HasField(name) else None


def _jobs_response(jobs: Sequence[Job]) -> pb.message_get_jobs_by_nodeid_response:
    return pb.message_get_jobs_by_nodeid_response(
        exists=bool(jobs), jobs=[convert.job_to_pb(j) for j in jobs]
    )


class Handlers:
    def __init__(self) -> None:
        # nodeid -> (the cached job tuple, its encoded response): nodes poll this every tick.
        self._encoded_jobs: dict[str, tuple[tuple[Any, ...], Any]] = {}

    # ------------------------------------------------------------------ config
    def update_global_config(self, ctx: Ctx, req: pb.message_update_global_config) -> Any:
        document = convert.settings_to_document(req.config)
        return pb.message_update_global_config_response(message=config_ops.update(ctx, document))

    def get_global_config(self, ctx: Ctx, req: pb.message_get_global_config) -> Any:
        document = config_ops.load(ctx)
        return pb.message_get_global_config_response(config=convert.document_to_settings(document))

    # ------------------------------------------------------------------ users
    def register_user(self, ctx: Ctx, req: pb.message_register_user) -> Any:
        message = user_ops.register_user(ctx, req.id, req.name, req.role, req.team)
        return pb.message_register_user_response(message=message)

    def get_user(self, ctx: Ctx, req: pb.message_get_user) -> Any:
        user = user_ops.get_user(ctx, req.userid)
        return pb.message_get_user_response(
            exists=True, id=user.id, name=user.name, role=int(user.role), team=user.team
        )

    def modify_user(self, ctx: Ctx, req: pb.message_modify_user) -> Any:
        message = user_ops.modify_user(ctx, req.id, req.name, req.role, req.team)
        return pb.message_modify_user_response(message=message)

    def delete_user(self, ctx: Ctx, req: pb.message_delete_user) -> Any:
        return pb.message_delete_user_response(message=user_ops.delete_user(ctx, req.userid))

    def get_users(self, ctx: Ctx, req: pb.message_get_users) -> Any:
        return pb.message_get_users_response(
            users=[convert.user_to_pb(u) for u in user_ops.list_users(ctx)]
        )

    def whoami(self, ctx: Ctx, req: pb.message_whoami) -> Any:
        user = user_ops.get_user(ctx, ctx.principal.userid)
        return pb.message_whoami_response(
            userid=user.id, role=int(user.role), name=user.name, team=user.team
        )

    def kernel_access(self, ctx: Ctx, req: pb.message_kernel_access) -> Any:
        granted, message = user_ops.kernel_access(ctx, req.userid)
        return pb.message_kernel_access_response(
            state=pb.SUCCESS if granted else pb.FAILED, message=message
        )

    # ------------------------------------------------------------------ jobs
    def schedule_job(self, ctx: Ctx, req: pb.message_schedule_job) -> Any:
        dry_run = bool(_opt(req, "dry_run"))
        admitted = job_ops.schedule_job(ctx, convert.job_request_from_pb(req), dry_run=dry_run)
        message = (
            "dry run: job is valid and fits the calendar"
            if dry_run
            else "job successfully scheduled"
        )
        return pb.message_schedule_job_response(
            message=message,
            warnings=admitted.warnings,
            next_runs=[iso_z(t) for t in admitted.next_runs],
        )

    def get_job_by_id(self, ctx: Ctx, req: pb.message_get_job_by_id) -> Any:
        return convert.job_detail_to_pb(job_ops.get_job(ctx, req.jobid))

    def get_jobs_by_userid(self, ctx: Ctx, req: pb.message_get_jobs_by_userid) -> Any:
        jobs = job_ops.jobs_of_user(ctx, req.userid)
        return pb.message_get_jobs_by_userid_response(
            exists=bool(jobs), jobs=[convert.job_to_pb(j) for j in jobs]
        )

    def get_jobs_by_nodeid(self, ctx: Ctx, req: pb.message_get_jobs_by_nodeid) -> Any:
        include_expired = bool(_opt(req, "include_expired"))
        jobs = job_ops.jobs_on_node(ctx, req.nodeid, include_expired)
        if include_expired:
            return _jobs_response(jobs)
        # The live list comes from the read cache: encode each cached answer once.
        hit = self._encoded_jobs.get(req.nodeid)
        if hit is not None and hit[0] is jobs:
            return hit[1]
        response = _jobs_response(jobs)
        if len(self._encoded_jobs) > 50_000:
            self._encoded_jobs.clear()
        self._encoded_jobs[req.nodeid] = (jobs, response)
        return response

    def reschedule_job_nearest(self, ctx: Ctx, req: pb.message_reschedule_job) -> Any:
        slot = job_ops.reschedule_nearest(ctx, req.jobid, req.starttime, req.endtime)
        return pb.message_reschedule_job_response(
            rescheduled=True,
            message=f"updated job schedule successfully; next_slot={ref_time(slot)}",
            next_slot=iso_z(slot),
        )

    def modify_job(self, ctx: Ctx, req: pb.message_modify_job) -> Any:
        changes = {name: _opt(req, name) for name in job_ops.MODIFIABLE}
        changes = {k: v for k, v in changes.items() if v is not None}
        job = job_ops.modify_job(ctx, req.jobid, changes)
        return pb.message_modify_job_response(
            message=f"job modified; start={job_date(job.start)} end={job_date(job.end)}"
        )

    def delete_job_by_id(self, ctx: Ctx, req: pb.message_delete_job_by_id) -> Any:
        return pb.message_delete_job_by_id_response(
            exists=True, message=job_ops.delete_job(ctx, req.jobid)
        )

    def delete_jobs_by_nodeid(self, ctx: Ctx, req: pb.message_delete_jobs_by_nodeid) -> Any:
        count = job_ops.delete_jobs_on_node(ctx, req.nodeid)
        return pb.message_delete_jobs_by_nodeid_response(
            num_deleted=count, message="deleted records successfully"
        )

    def get_scheduled_runs(self, ctx: Ctx, req: pb.message_get_scheduled_runs) -> Any:
        page = job_ops.calendar(ctx, req.nodeid, req.start, req.end)
        truncated = page.truncated
        out = []
        for i, run in enumerate(page.runs):
            job = run.job
            start = from_epoch(run.start)
            end = from_epoch(run.end)
            out.append(
                pb.run_event(
                    title=job.id,
                    id=i,
                    start=ref_time(start),
                    end=ref_time(end),
                    type=job.type.label,
                    params=convert.params_to_pb(job.params),
                    schedule=job.schedule,
                    length=job.length_secs,
                    overhead=job.overhead,
                    trigger=job.trigger or "",
                    server=job.server or "",
                    nodeid=job.nodeid,
                )
            )
        message = "success"
        if truncated:
            message = (
                f"success; only the first {len(out)} events are listed (the cap): "
                "narrow the window to see the rest"
            )
        return pb.message_get_scheduled_runs_response(
            message=message, events=out, truncated=truncated
        )

    def find_free_slot(self, ctx: Ctx, req: pb.message_find_free_slot) -> Any:
        results = job_ops.find_free_slot(
            ctx,
            list(req.nodeids),
            _opt(req, "location"),
            _opt(req, "provider"),
            req.length_secs,
            req.not_before,
            req.not_after,
        )
        slots = []
        for nodeid, start in results:
            slot = pb.free_slot(nodeid=nodeid, found=start is not None)
            if start is not None:
                slot.start = iso_z(start)
                slot.end = iso_z(start + timedelta(seconds=req.length_secs))
            slots.append(slot)
        return pb.message_find_free_slot_response(message="success", slots=slots)

    # ------------------------------------------------------------------ runs
    def update_run(self, ctx: Ctx, req: pb.message_update_run) -> Any:
        if not req.HasField("run"):
            raise InvalidInput("run", "is missing")
        run = convert.run_from_pb(req.run)
        return pb.message_update_run_response(message=run_ops.update_run(ctx, run))

    def get_runs(self, ctx: Ctx, req: pb.message_get_runs) -> Any:
        since = until = None
        if req.HasField("time_range"):
            since = req.time_range.start or None
            until = req.time_range.end or None
        runs = run_ops.get_runs(
            ctx,
            runid=_opt(req, "runid"),
            jobid=_opt(req, "jobid"),
            nodeid=_opt(req, "nodeid"),
            userid=_opt(req, "userid"),
            status=_opt(req, "status"),
            since=since,
            until=until,
            limit=_opt(req, "limit"),
        )
        return pb.message_get_runs_response(runs=[convert.run_to_pb(r) for r in runs])

    # ------------------------------------------------------------------ artifacts
    def get_upload_url(self, ctx: Ctx, req: pb.message_get_upload_url) -> Any:
        signed = artifact_ops.upload_url(ctx, upload_request_from_pb(req))
        return signed_url_response(signed)

    def get_download_url(self, ctx: Ctx, req: pb.message_get_download_url) -> Any:
        return signed_url_response(artifact_ops.download_url(ctx, req.runid))

    # ------------------------------------------------------------------ nodes
    def register_node(self, ctx: Ctx, req: pb.message_register_node) -> Any:
        node = convert.node_from_pb(req.node)
        return pb.message_register_node_response(message=node_ops.register_node(ctx, node))

    def get_nodes(self, ctx: Ctx, req: pb.message_get_nodes) -> Any:
        found = node_ops.get_nodes(
            ctx,
            nodeid=_opt(req, "nodeid"),
            location=_opt(req, "location"),
            name=_opt(req, "name"),
            provider=_opt(req, "provider"),
            active=bool(_opt(req, "active")),
            active_thres_secs=_opt(req, "activeThres"),
        )
        return pb.message_get_nodes_response(
            nodes=[convert.node_to_pb(node, jobs) for node, jobs in found]
        )

    def update_node(self, ctx: Ctx, req: pb.message_update_node) -> Any:
        fields = (
            "name",
            "description",
            "last_active",
            "coords",
            "location",
            "provider",
            "public_ip",
            "altitude_m",
            "min_elevation_deg",
            "quiet_hours",
        )
        changes = {f: getattr(req, f) for f in fields if req.HasField(f)}
        return pb.message_update_node_response(
            message=node_ops.update_node(ctx, req.nodeid, changes)
        )

    def delete_node(self, ctx: Ctx, req: pb.message_delete_node) -> Any:
        return pb.message_delete_node_response(
            message=node_ops.delete_node(ctx, req.nodeid, req.deleteJobs)
        )

    def report_heartbeat(self, ctx: Ctx, req: pb.message_heartbeat) -> Any:
        return pb.message_heartbeat_response(received=node_ops.report_heartbeat(ctx, req.nodeid))

    def set_scavenger_status(self, ctx: Ctx, req: pb.message_set_scavenger_status) -> Any:
        message = node_ops.set_scavenger(ctx, req.nodeid, req.scavenger_mode_active)
        return pb.message_set_scavenger_status_response(message=message)

    def get_scavenger_status(self, ctx: Ctx, req: pb.message_get_scavenger_status) -> Any:
        node = node_ops.get_scavenger(ctx, req.nodeid)
        active = node.scavenger_mode_active
        # Reference nodes crash on found=true with the flag off: `found` means "flag set".
        return pb.message_get_scavenger_status_response(
            found=active, scavenger_mode_active=active, node_exists=True
        )

    # ------------------------------------------------------------------ tasks
    def schedule_task(self, ctx: Ctx, req: pb.message_schedule_task) -> Any:
        if not req.HasField("task"):
            raise InvalidInput("task", "is missing")
        task = convert.task_from_pb(req.task)
        return pb.message_schedule_task_response(message=task_ops.schedule_task(ctx, task))

    def get_tasks(self, ctx: Ctx, req: pb.message_get_tasks) -> Any:
        type_ = _opt(req, "type")
        status = _opt(req, "status")
        if type_ is not None and type_ not in TaskType._value2member_map_:
            raise InvalidInput("type", f"{type_} is not a task type")
        if status is not None and status not in TaskStatus._value2member_map_:
            raise InvalidInput("status", f"{status} is not a task status")
        tasks = task_ops.get_tasks(
            ctx,
            type=TaskType(type_) if type_ else None,
            taskid=_opt(req, "taskid"),
            runid=_opt(req, "runid"),
            jobid=_opt(req, "jobid"),
            nodeid=_opt(req, "nodeid"),
            status=TaskStatus(status) if status else None,
        )
        return pb.message_get_tasks_response(tasks=[convert.task_to_pb(t) for t in tasks])

    def update_task(self, ctx: Ctx, req: pb.message_update_task) -> Any:
        return pb.message_update_task_response(
            message=task_ops.update_task(ctx, req.taskid, req.status)
        )
