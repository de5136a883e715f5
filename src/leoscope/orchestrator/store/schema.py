"""The datastore schema: one SQLAlchemy Core metadata for SQLite and PostgreSQL.

Dialect differences are decided here, once. Times are stored as naive UTC in a plain DATETIME /
TIMESTAMP column and come back as aware UTC datetimes (`UTCDateTime`), so queries never branch on
the dialect and never compare aware with naive values.

Every id is a primary key (unique), and every lookup the RPCs make has an index behind it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

ID = String(255)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out; naive UTC on disk."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", Text, nullable=False, default=""),
    Column("role", Integer, nullable=False),
    Column("team", Text, nullable=False, default=""),
    # SHA-256 hex of the token issued at registration (the reference's "static" slot).
    Column("token_sha256", String(64), nullable=True),
    # SHA-256 hex of the "dynamic" slot (the bootstrap admin's token lives in both).
    Column("access_token_sha256", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

nodes = Table(
    "nodes",
    metadata,
    Column("nodeid", ID, primary_key=True),
    Column("name", Text, nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("coords", String(64), nullable=False, default=""),
    Column("location", String(255), nullable=False, default=""),
    Column("provider", String(255), nullable=False, default=""),
    Column("last_active", UTCDateTime, nullable=True),
    Column("scavenger_mode_active", Boolean, nullable=False, default=False),
    Column("public_ip", String(64), nullable=False, default=""),
    Column("altitude_m", Float, nullable=True),
    Column("min_elevation_deg", Float, nullable=True),
    Column("quiet_hours", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_nodes_location", "location"),
    Index("ix_nodes_provider", "provider"),
    Index("ix_nodes_name", "name"),
    Index("ix_nodes_last_active", "last_active"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("nodeid", ID, nullable=False),
    Column("server", ID, nullable=True),
    Column("type", Integer, nullable=False),
    Column("params_mode", String(64), nullable=False, default=""),
    Column("params_deploy", String(255), nullable=False, default=""),
    Column("params_execute", String(255), nullable=False, default=""),
    Column("params_finish", String(255), nullable=False, default=""),
    Column("schedule", String(255), nullable=False, default=""),
    Column("start_date", UTCDateTime, nullable=False),
    Column("end_date", UTCDateTime, nullable=False),
    Column("length_secs", Integer, nullable=False),
    Column("overhead", Boolean, nullable=False),
    Column("trigger", Text, nullable=True),
    Column("userid", ID, nullable=False),
    Column("config", Text, nullable=False, default=""),
    Column("timezone", String(64), nullable=True),
    Column("trigger_wait_secs", Integer, nullable=True),
    Column("version", Integer, nullable=False, default=1),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_jobs_nodeid_end", "nodeid", "end_date"),
    Index("ix_jobs_server_end", "server", "end_date"),
    Index("ix_jobs_userid", "userid"),
    Index("ix_jobs_end_date", "end_date"),
)

runs = Table(
    "runs",
    metadata,
    Column("runid", ID, primary_key=True),
    Column("jobid", ID, nullable=False),
    Column("nodeid", ID, nullable=False),
    Column("userid", ID, nullable=False),
    Column("start_time", UTCDateTime, nullable=False),
    Column("end_time", UTCDateTime, nullable=False),
    Column("last_updated", UTCDateTime, nullable=False),
    Column("blob_url", Text, nullable=False, default=""),
    Column("status", String(64), nullable=False),
    Column("status_message", Text, nullable=False, default=""),
    Column("archive_sha256", String(64), nullable=True),
    Column("archive_size", BigInteger, nullable=True),
    Column("seq", BigInteger, nullable=True),
    Column("blob_name", Text, nullable=True),
    Column("trigger_values", Text, nullable=True),
    Index("ix_runs_jobid_start", "jobid", "start_time"),
    Index("ix_runs_nodeid_start", "nodeid", "start_time"),
    Index("ix_runs_userid_start", "userid", "start_time"),
    Index("ix_runs_start", "start_time"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("taskid", ID, primary_key=True),
    Column("type", Integer, nullable=False),
    Column("runid", ID, nullable=False),
    Column("jobid", ID, nullable=False),
    Column("nodeid", ID, nullable=False),
    Column("status", Integer, nullable=False),
    Column("ttl_secs", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_tasks_nodeid_expires", "nodeid", "expires_at"),
    Index("ix_tasks_runid", "runid"),
    Index("ix_tasks_jobid", "jobid"),
    Index("ix_tasks_expires", "expires_at"),
)

config = Table(
    "config",
    metadata,
    Column("id", Integer, primary_key=True),
    # The global config document as JSON (the `settings` message in protobuf's JSON mapping).
    Column("document", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
