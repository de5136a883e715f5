"""Row builders: one dict per object, shared by tables and JSON/YAML, plus the table columns.

Keys are stable (they are the JSON output's contract); times are ISO-8601 UTC strings with Z;
enums are their names. Tables show a subset of the keys, chosen by the COLUMNS lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from leoscope.client import (
    CalendarEvent,
    FreeSlot,
    GlobalConfig,
    Job,
    KernelAccess,
    Node,
    Run,
    ScheduledJob,
    User,
    dump_global_config,
)
from leoscope.core.timeutil import iso_z

from .output import Column, Row

MASK = "********"
SECRET_KEYS = frozenset({"connectionString", "apikey", "s3AccessKey", "s3SecretKey"})


def _t(value: Any) -> str | None:
    return iso_z(value) if value is not None else None


def user_row(user: User) -> Row:
    return {"id": user.id, "name": user.name, "role": user.role.name, "team": user.team}


def node_row(node: Node) -> Row:
    return {
        "nodeid": node.nodeid,
        "name": node.name,
        "description": node.description,
        "location": node.location,
        "provider": node.provider,
        "coords": node.coords,
        "public_ip": node.public_ip,
        "last_active": _t(node.last_active),
        "scavenger_mode_active": node.scavenger_mode_active,
        "altitude_m": node.altitude_m,
        "min_elevation_deg": node.min_elevation_deg,
        "quiet_hours": node.quiet_hours,
    }


def job_row(job: Job, with_config: bool = False) -> Row:
    """A job; `with_config` adds the experiment config (only `job show` has it)."""
    row: Row = {
        "id": job.id,
        "nodeid": job.nodeid,
        "userid": job.userid,
        "type": job.type.label,
        "schedule": job.schedule,
        "timezone": job.timezone,
        "start": _t(job.start),
        "end": _t(job.end),
        "length_secs": job.length_secs,
        "overhead": job.overhead,
        "server": job.server,
        "trigger": job.trigger,
        "trigger_wait_secs": job.trigger_wait_secs,
    }
    if with_config:
        row["config"] = job.config
    return row


def run_row(run: Run) -> Row:
    return {
        "runid": run.runid,
        "jobid": run.jobid,
        "nodeid": run.nodeid,
        "userid": run.userid,
        "status": run.status,
        "status_message": run.status_message,
        "start_time": _t(run.start_time),
        "end_time": _t(run.end_time),
        "last_updated": _t(run.last_updated),
        "blob_url": run.blob_url,
        "blob_name": run.blob_name,
        "archive_sha256": run.archive_sha256,
        "archive_size": run.archive_size,
        "seq": run.seq,
        "trigger_values": run.trigger_values,
    }


def event_row(event: CalendarEvent) -> Row:
    return {
        "jobid": event.jobid,
        "nodeid": event.nodeid,
        "start": _t(event.start),
        "end": _t(event.end),
        "type": event.type.label,
        "length_secs": event.length_secs,
        "overhead": event.overhead,
        "schedule": event.schedule,
        "trigger": event.trigger,
        "server": event.server,
    }


def slot_row(slot: FreeSlot) -> Row:
    return {
        "nodeid": slot.nodeid,
        "found": slot.found,
        "start": _t(slot.start),
        "end": _t(slot.end),
    }


def scheduled_row(result: ScheduledJob) -> Row:
    return {
        "jobid": result.jobid,
        "dry_run": result.dry_run,
        "message": result.message,
        "next_runs": [_t(t) for t in result.next_runs],
        "warnings": list(result.warnings),
    }


def kernel_row(access: KernelAccess) -> Row:
    return {"userid": access.userid, "granted": access.granted, "message": access.message}


def config_document(config: GlobalConfig, reveal: bool) -> dict[str, Any]:
    """The global_config.json shape (what `config set` reads), secrets masked unless `reveal`."""
    document = dump_global_config(config)
    return document if reveal else _mask(document)


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (MASK if k in SECRET_KEYS and v else _mask(v)) for k, v in value.items()}
    return value


def flatten(document: dict[str, Any], prefix: str = "") -> Row:
    """{'a': {'b': 1}} -> {'a.b': 1}, for a FIELD/VALUE table."""
    out: Row = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


USER_COLUMNS: Sequence[Column] = (
    Column("id", "USER"),
    Column("name", "NAME"),
    Column("role", "ROLE"),
    Column("team", "TEAM"),
)
NODE_COLUMNS: Sequence[Column] = (
    Column("nodeid", "NODE"),
    Column("name", "NAME"),
    Column("location", "LOCATION"),
    Column("provider", "PROVIDER"),
    Column("coords", "COORDS"),
    Column("last_active", "LAST SEEN", "time"),
    Column("scavenger_mode_active", "SCAVENGER", "bool"),
)
NODE_FIELDS: Sequence[Column] = (
    Column("nodeid", "node"),
    Column("name", "name"),
    Column("description", "description"),
    Column("location", "location"),
    Column("provider", "provider"),
    Column("coords", "coords"),
    Column("altitude_m", "altitude (m)"),
    Column("min_elevation_deg", "min elevation (deg)"),
    Column("public_ip", "public IP"),
    Column("last_active", "last seen", "time"),
    Column("scavenger_mode_active", "scavenger mode", "bool"),
    Column("quiet_hours", "quiet hours"),
)
JOB_COLUMNS: Sequence[Column] = (
    Column("id", "JOB"),
    Column("userid", "OWNER"),
    Column("nodeid", "NODE"),
    Column("type", "TYPE"),
    Column("schedule", "CRON"),
    Column("start", "START", "time"),
    Column("end", "END", "time"),
    Column("length_secs", "LENGTH", "duration"),
    Column("overhead", "OVERHEAD", "bool"),
)
JOB_FIELDS: Sequence[Column] = (
    Column("id", "job"),
    Column("userid", "owner"),
    Column("nodeid", "node"),
    Column("server", "server node"),
    Column("type", "type"),
    Column("schedule", "cron"),
    Column("timezone", "timezone"),
    Column("start", "start", "time"),
    Column("end", "end", "time"),
    Column("length_secs", "length", "duration"),
    Column("overhead", "overhead", "bool"),
    Column("trigger", "trigger"),
    Column("trigger_wait_secs", "trigger wait", "duration"),
    Column("config", "config"),
)
RUN_COLUMNS: Sequence[Column] = (
    Column("runid", "RUN"),
    Column("jobid", "JOB"),
    Column("nodeid", "NODE"),
    Column("status", "STATUS"),
    Column("start_time", "STARTED", "time"),
    Column("end_time", "ENDED", "time"),
    Column("status_message", "MESSAGE"),
)
RUN_FIELDS: Sequence[Column] = (
    Column("runid", "run"),
    Column("jobid", "job"),
    Column("nodeid", "node"),
    Column("userid", "owner"),
    Column("status", "status"),
    Column("status_message", "message"),
    Column("start_time", "started", "time"),
    Column("end_time", "ended", "time"),
    Column("last_updated", "updated", "time"),
    Column("blob_name", "archive"),
    Column("archive_size", "archive bytes"),
    Column("archive_sha256", "archive sha256"),
    Column("blob_url", "archive URL"),
    Column("trigger_values", "trigger values"),
)
EVENT_COLUMNS: Sequence[Column] = (
    Column("start", "START", "time"),
    Column("end", "END", "time"),
    Column("jobid", "JOB"),
    Column("type", "TYPE"),
    Column("length_secs", "LENGTH", "duration"),
    Column("overhead", "OVERHEAD", "bool"),
)
SLOT_COLUMNS: Sequence[Column] = (
    Column("nodeid", "NODE"),
    Column("found", "FOUND", "bool"),
    Column("start", "START", "time"),
    Column("end", "END", "time"),
)
