"""The testbed's data model: users, nodes, jobs, runs and tasks.

These are plain frozen records. Times are aware UTC datetimes. Field meanings follow the wire
contract; where LEOScope adds a field, its docstring says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import IntEnum, StrEnum


class Role(IntEnum):
    """A principal's role (wire enum `user_roles`)."""

    ADMIN = 0
    USER = 1
    NODE = 2
    USER_PRIV = 3
    NODE_PRIV = 4

    @property
    def is_node(self) -> bool:
        return self in (Role.NODE, Role.NODE_PRIV)

    @property
    def is_experimenter(self) -> bool:
        return self in (Role.USER, Role.USER_PRIV, Role.ADMIN)

    @property
    def has_kernel_access(self) -> bool:
        return self in (Role.USER_PRIV, Role.NODE_PRIV, Role.ADMIN)


class JobType(IntEnum):
    """CRON: recurring within [start, end]. ATQ: one run at start."""

    CRON = 0
    ATQ = 1

    @property
    def label(self) -> str:
        return self.name.lower()


class TaskType(IntEnum):
    TYPE_UNUSED = 0
    SERVER_START = 1
    SERVER_STOP = 2


class TaskStatus(IntEnum):
    STATUS_UNUSED = 0
    TASK_SCHEDULED = 1
    TASK_COMPLETE = 2


class RunStatus(StrEnum):
    """Run statuses. The wire carries free-form strings; these are the ones LEOScope sends.

    The first eight are the reference's. FAILED, MISSED, SKIPPED, UPLOAD_PENDING and WAITING are
    LEOScope's: a run that could not do its job says so instead of pretending to be COMPLETE.
    """

    DEPLOYING = "DEPLOYING"
    EXECUTING = "EXECUTING"
    FINISHING = "FINISHING"
    COMPLETE = "COMPLETE"
    TERMINATED = "TERMINATED"
    RESCHEDULED = "RESCHEDULED"
    RESCHEDULE_FAILED = "RESCHEDULE_FAILED"
    ABORTED = "ABORTED"
    FAILED = "FAILED"
    MISSED = "MISSED"
    SKIPPED = "SKIPPED"
    UPLOAD_PENDING = "UPLOAD_PENDING"
    WAITING = "WAITING"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {
        RunStatus.COMPLETE,
        RunStatus.TERMINATED,
        RunStatus.RESCHEDULED,
        RunStatus.RESCHEDULE_FAILED,
        RunStatus.ABORTED,
        RunStatus.FAILED,
        RunStatus.MISSED,
        RunStatus.SKIPPED,
    }
)


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str = ""
    role: Role = Role.USER
    team: str = ""


@dataclass(frozen=True, slots=True)
class JobParams:
    """Legacy execution parameters; only `mode` means anything (always `docker`)."""

    mode: str = "docker"
    deploy: str = ""
    execute: str = ""
    finish: str = ""


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    nodeid: str
    type: JobType
    start: datetime
    end: datetime
    length_secs: int
    userid: str
    schedule: str = ""
    params: JobParams = field(default_factory=JobParams)
    overhead: bool = True
    server: str | None = None
    trigger: str | None = None
    config: str = ""
    timezone: str | None = None
    """LEOScope: IANA zone the cron expression is evaluated in (UTC when None)."""
    trigger_wait_secs: int | None = None
    """LEOScope: how long a node re-evaluates a false trigger before skipping the run."""
    version: int = 1
    """Bumped by every change, so caches keyed by (id, version) stay correct."""

    @property
    def nodes(self) -> tuple[str, ...]:
        """Every node the job occupies (its node and, when paired, its server node)."""
        return (self.nodeid, self.server) if self.server else (self.nodeid,)

    def with_changes(self, **changes: object) -> Job:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Node:
    nodeid: str
    name: str = ""
    description: str = ""
    coords: str = ""
    location: str = ""
    provider: str = ""
    last_active: datetime | None = None
    scavenger_mode_active: bool = False
    public_ip: str = ""
    altitude_m: float | None = None
    min_elevation_deg: float | None = None
    quiet_hours: str | None = None


@dataclass(frozen=True, slots=True)
class Run:
    runid: str
    jobid: str
    nodeid: str
    userid: str
    start_time: datetime
    end_time: datetime
    last_updated: datetime
    status: str
    status_message: str = ""
    blob_url: str = ""
    archive_sha256: str | None = None
    archive_size: int | None = None
    seq: int | None = None
    blob_name: str | None = None
    trigger_values: str | None = None


@dataclass(frozen=True, slots=True)
class Task:
    taskid: str
    type: TaskType
    runid: str
    jobid: str
    nodeid: str
    status: TaskStatus
    ttl_secs: int
    created_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BlobSettings:
    connection_string: str = ""
    container: str = ""
    artifact_path: str = ""


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """LEOScope: the artifact back end the orchestrator signs URLs for."""

    url: str = ""
    s3_endpoint: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str | None = None
    url_ttl_secs: int | None = None
    retention_days: int | None = None


@dataclass(frozen=True, slots=True)
class GlobalConfig:
    blob: BlobSettings | None = None
    store: StoreSettings | None = None
    weather_apikey: str | None = None
