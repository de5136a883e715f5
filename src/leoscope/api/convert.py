"""Protobuf messages <-> core.model objects. The only place that knows both shapes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format

from leoscope.core.model import (
    BlobSettings,
    GlobalConfig,
    Job,
    JobParams,
    JobType,
    Node,
    Role,
    Run,
    StoreSettings,
    Task,
    TaskStatus,
    TaskType,
    User,
)
from leoscope.core.timeutil import NEVER_ACTIVE, job_date, parse_time, ref_time

from . import leotest_pb2 as pb

if TYPE_CHECKING:
    from leoscope.core.validation import JobRequest

# ---------------------------------------------------------------------------- jobs


def params_to_pb(params: JobParams) -> pb.job_params:
    return pb.job_params(
        mode=params.mode, deploy=params.deploy, execute=params.execute, finish=params.finish
    )


def params_from_pb(msg: pb.job_params) -> JobParams:
    return JobParams(msg.mode, msg.deploy, msg.execute, msg.finish)


def job_request_from_pb(msg: pb.message_schedule_job) -> JobRequest:
    # Imported here: validation pulls in numpy and pydantic, which clients need not load.
    from leoscope.core.validation import JobRequest

    return JobRequest(
        id=msg.id,
        nodeid=msg.nodeid,
        type=msg.type,
        schedule=msg.schedule,
        start_date=msg.start_date,
        end_date=msg.end_date,
        length_secs=msg.length_secs,
        overhead=msg.overhead,
        config=msg.config,
        params=params_from_pb(msg.params),
        server=msg.server if msg.HasField("server") else None,
        trigger=msg.trigger if msg.HasField("trigger") else None,
        timezone=msg.timezone if msg.HasField("timezone") else None,
        trigger_wait_secs=msg.trigger_wait_secs if msg.HasField("trigger_wait_secs") else None,
    )


def job_to_pb(job: Job, with_config: bool = False) -> pb.job:
    msg = pb.job(
        id=job.id,
        nodeid=job.nodeid,
        type=int(job.type),
        params=params_to_pb(job.params),
        schedule=job.schedule,
        start_date=job_date(job.start),
        end_date=job_date(job.end),
        length_secs=job.length_secs,
        overhead=job.overhead,
        userid=job.userid,
        config=job.config if with_config else "",
    )
    if job.server:
        msg.server = job.server
    if job.trigger:
        msg.trigger = job.trigger
    if job.timezone:
        msg.timezone = job.timezone
    if job.trigger_wait_secs is not None:
        msg.trigger_wait_secs = job.trigger_wait_secs
    return msg


def job_from_pb(msg: pb.job) -> Job:
    return Job(
        id=msg.id,
        nodeid=msg.nodeid,
        type=JobType(msg.type),
        start=parse_time(msg.start_date, "start_date"),
        end=parse_time(msg.end_date, "end_date"),
        length_secs=msg.length_secs,
        userid=msg.userid,
        schedule=msg.schedule,
        params=params_from_pb(msg.params),
        overhead=msg.overhead,
        server=msg.server if msg.HasField("server") and msg.server else None,
        trigger=msg.trigger if msg.HasField("trigger") and msg.trigger else None,
        config=msg.config,
        timezone=msg.timezone if msg.HasField("timezone") and msg.timezone else None,
        trigger_wait_secs=(msg.trigger_wait_secs if msg.HasField("trigger_wait_secs") else None),
    )


def job_detail_to_pb(job: Job) -> pb.message_get_job_by_id_response:
    msg = pb.message_get_job_by_id_response(
        exists=True,
        id=job.id,
        nodeid=job.nodeid,
        type=int(job.type),
        params=params_to_pb(job.params),
        schedule=job.schedule,
        userid=job.userid,
        trigger=job.trigger or "",
        config=job.config,
        server=job.server or "",
        overhead=job.overhead,
        start_date=job_date(job.start),
        end_date=job_date(job.end),
        length_secs=job.length_secs,
    )
    if job.timezone:
        msg.timezone = job.timezone
    if job.trigger_wait_secs is not None:
        msg.trigger_wait_secs = job.trigger_wait_secs
    return msg


def job_detail_from_pb(msg: pb.message_get_job_by_id_response) -> Job:
    return Job(
        id=msg.id,
        nodeid=msg.nodeid,
        type=JobType(msg.type),
        start=parse_time(msg.start_date, "start_date"),
        end=parse_time(msg.end_date, "end_date"),
        length_secs=msg.length_secs if msg.HasField("length_secs") else 0,
        userid=msg.userid,
        schedule=msg.schedule,
        params=params_from_pb(msg.params),
        overhead=msg.overhead,
        server=msg.server or None,
        trigger=msg.trigger or None,
        config=msg.config,
        timezone=msg.timezone if msg.HasField("timezone") and msg.timezone else None,
        trigger_wait_secs=(msg.trigger_wait_secs if msg.HasField("trigger_wait_secs") else None),
    )


def job_summary(job: Job) -> str:
    """One entry of `_node.jobs`, in the reference's format."""
    return (
        f"<jobid={job.id} userid={job.userid} type={job.type.label} "
        f"start={job_date(job.start)} end={job_date(job.end)} length={job.length_secs} "
        f"schedule={job.schedule} overhead={job.overhead} server={job.server} "
        f"trigger={job.trigger}>"
    )


# ---------------------------------------------------------------------------- nodes


def node_to_pb(node: Node, node_jobs: Iterable[Job] = ()) -> pb._node:
    msg = pb._node(
        nodeid=node.nodeid,
        name=node.name,
        description=node.description,
        coords=node.coords,
        location=node.location,
        provider=node.provider,
        scavenger_mode_active=node.scavenger_mode_active,
        public_ip=node.public_ip,
        last_active=ref_time(node.last_active or NEVER_ACTIVE),
        jobs="".join(job_summary(j) for j in node_jobs),
    )
    if node.altitude_m is not None:
        msg.altitude_m = node.altitude_m
    if node.min_elevation_deg is not None:
        msg.min_elevation_deg = node.min_elevation_deg
    if node.quiet_hours is not None:
        msg.quiet_hours = node.quiet_hours
    return msg


def node_from_pb(msg: pb._node) -> Node:
    last_active = None
    if msg.HasField("last_active") and msg.last_active:
        last_active = parse_time(msg.last_active, "last_active")
    return Node(
        nodeid=msg.nodeid,
        name=msg.name,
        description=msg.description,
        coords=msg.coords,
        location=msg.location,
        provider=msg.provider,
        last_active=last_active,
        scavenger_mode_active=msg.scavenger_mode_active,
        public_ip=msg.public_ip,
        altitude_m=msg.altitude_m if msg.HasField("altitude_m") else None,
        min_elevation_deg=msg.min_elevation_deg if msg.HasField("min_elevation_deg") else None,
        quiet_hours=msg.quiet_hours if msg.HasField("quiet_hours") else None,
    )


# ---------------------------------------------------------------------------- runs


def run_to_pb(run: Run) -> pb.run_instance:
    msg = pb.run_instance(
        runid=run.runid,
        jobid=run.jobid,
        nodeid=run.nodeid,
        userid=run.userid,
        start_time=ref_time(run.start_time),
        end_time=ref_time(run.end_time),
        last_updated=ref_time(run.last_updated),
        blob_url=run.blob_url,
        status=run.status,
        status_message=run.status_message,
    )
    for name in ("archive_sha256", "archive_size", "seq", "blob_name", "trigger_values"):
        value = getattr(run, name)
        if value is not None:
            setattr(msg, name, value)
    return msg


def run_from_pb(msg: pb.run_instance) -> Run:
    """Decode a run; raises InvalidInput naming a bad time field."""

    def opt(name: str) -> Any:
        return getattr(msg, name) if msg.HasField(name) else None

    return Run(
        runid=msg.runid,
        jobid=msg.jobid,
        nodeid=msg.nodeid,
        userid=msg.userid,
        start_time=parse_time(msg.start_time, "run.start_time"),
        end_time=parse_time(msg.end_time, "run.end_time"),
        last_updated=parse_time(msg.last_updated, "run.last_updated"),
        status=msg.status,
        status_message=msg.status_message,
        blob_url=msg.blob_url,
        archive_sha256=opt("archive_sha256"),
        archive_size=opt("archive_size"),
        seq=opt("seq"),
        blob_name=opt("blob_name"),
        trigger_values=opt("trigger_values"),
    )


# ---------------------------------------------------------------------------- tasks


def task_to_pb(task: Task) -> pb._task:
    return pb._task(
        type=int(task.type),
        taskid=task.taskid,
        runid=task.runid,
        jobid=task.jobid,
        nodeid=task.nodeid,
        status=int(task.status),
        ttl_secs=task.ttl_secs,
    )


def task_from_pb(msg: pb._task) -> Task:
    return Task(
        taskid=msg.taskid,
        type=TaskType(msg.type)
        if msg.type in TaskType._value2member_map_
        else TaskType.TYPE_UNUSED,
        runid=msg.runid,
        jobid=msg.jobid,
        nodeid=msg.nodeid,
        status=(
            TaskStatus(msg.status)
            if msg.status in TaskStatus._value2member_map_
            else TaskStatus.STATUS_UNUSED
        ),
        ttl_secs=msg.ttl_secs,
    )


# ---------------------------------------------------------------------------- users


def user_to_pb(user: User) -> pb.user_record:
    return pb.user_record(id=user.id, name=user.name, role=int(user.role), team=user.team)


def user_from_pb(msg: Any) -> User:
    return User(id=msg.id, name=msg.name, role=Role(msg.role), team=msg.team)


# ---------------------------------------------------------------------------- global config


def settings_to_document(msg: pb.settings) -> dict[str, Any]:
    """The stored form of a `settings` message: protobuf's JSON mapping, defaults dropped."""
    return json_format.MessageToDict(msg)


def document_to_settings(doc: dict[str, Any]) -> pb.settings:
    return json_format.ParseDict(doc, pb.settings(), ignore_unknown_fields=True)


def global_config_from_document(doc: dict[str, Any]) -> GlobalConfig:
    datastore = doc.get("datastore", {})
    blob = datastore.get("blob")
    store = datastore.get("store")
    return GlobalConfig(
        blob=(
            BlobSettings(
                connection_string=blob.get("connectionString", ""),
                container=blob.get("container", ""),
                artifact_path=blob.get("artifactPath", ""),
            )
            if blob is not None
            else None
        ),
        store=(
            StoreSettings(
                url=store.get("url", ""),
                s3_endpoint=store.get("s3Endpoint"),
                s3_access_key=store.get("s3AccessKey"),
                s3_secret_key=store.get("s3SecretKey"),
                s3_region=store.get("s3Region"),
                url_ttl_secs=store.get("urlTtlSecs"),
                retention_days=store.get("retentionDays"),
            )
            if store is not None
            else None
        ),
        weather_apikey=doc.get("weather", {}).get("apikey"),
    )
