"""Initial schema: users, nodes, jobs, runs, tasks, config.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from leoscope.orchestrator.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(255)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.Integer, nullable=False),
        sa.Column("team", sa.Text, nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=True),
        sa.Column("access_token_sha256", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "nodes",
        sa.Column("nodeid", ID, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("coords", sa.String(64), nullable=False),
        sa.Column("location", sa.String(255), nullable=False),
        sa.Column("provider", sa.String(255), nullable=False),
        sa.Column("last_active", UTCDateTime, nullable=True),
        sa.Column("scavenger_mode_active", sa.Boolean, nullable=False),
        sa.Column("public_ip", sa.String(64), nullable=False),
        sa.Column("altitude_m", sa.Float, nullable=True),
        sa.Column("min_elevation_deg", sa.Float, nullable=True),
        sa.Column("quiet_hours", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_nodes_location", "nodes", ["location"])
    op.create_index("ix_nodes_provider", "nodes", ["provider"])
    op.create_index("ix_nodes_name", "nodes", ["name"])
    op.create_index("ix_nodes_last_active", "nodes", ["last_active"])
    op.create_table(
        "jobs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("nodeid", ID, nullable=False),
        sa.Column("server", ID, nullable=True),
        sa.Column("type", sa.Integer, nullable=False),
        sa.Column("params_mode", sa.String(64), nullable=False),
        sa.Column("params_deploy", sa.String(255), nullable=False),
        sa.Column("params_execute", sa.String(255), nullable=False),
        sa.Column("params_finish", sa.String(255), nullable=False),
        sa.Column("schedule", sa.String(255), nullable=False),
        sa.Column("start_date", UTCDateTime, nullable=False),
        sa.Column("end_date", UTCDateTime, nullable=False),
        sa.Column("length_secs", sa.Integer, nullable=False),
        sa.Column("overhead", sa.Boolean, nullable=False),
        sa.Column("trigger", sa.Text, nullable=True),
        sa.Column("userid", ID, nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("trigger_wait_secs", sa.Integer, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_jobs_nodeid_end", "jobs", ["nodeid", "end_date"])
    op.create_index("ix_jobs_server_end", "jobs", ["server", "end_date"])
    op.create_index("ix_jobs_userid", "jobs", ["userid"])
    op.create_index("ix_jobs_end_date", "jobs", ["end_date"])
    op.create_table(
        "runs",
        sa.Column("runid", ID, primary_key=True),
        sa.Column("jobid", ID, nullable=False),
        sa.Column("nodeid", ID, nullable=False),
        sa.Column("userid", ID, nullable=False),
        sa.Column("start_time", UTCDateTime, nullable=False),
        sa.Column("end_time", UTCDateTime, nullable=False),
        sa.Column("last_updated", UTCDateTime, nullable=False),
        sa.Column("blob_url", sa.Text, nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("status_message", sa.Text, nullable=False),
        sa.Column("archive_sha256", sa.String(64), nullable=True),
        sa.Column("archive_size", sa.BigInteger, nullable=True),
        sa.Column("seq", sa.BigInteger, nullable=True),
        sa.Column("blob_name", sa.Text, nullable=True),
        sa.Column("trigger_values", sa.Text, nullable=True),
    )
    op.create_index("ix_runs_jobid_start", "runs", ["jobid", "start_time"])
    op.create_index("ix_runs_nodeid_start", "runs", ["nodeid", "start_time"])
    op.create_index("ix_runs_userid_start", "runs", ["userid", "start_time"])
    op.create_index("ix_runs_start", "runs", ["start_time"])
    op.create_table(
        "tasks",
        sa.Column("taskid", ID, primary_key=True),
        sa.Column("type", sa.Integer, nullable=False),
        sa.Column("runid", ID, nullable=False),
        sa.Column("jobid", ID, nullable=False),
        sa.Column("nodeid", ID, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("ttl_secs", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_tasks_nodeid_expires", "tasks", ["nodeid", "expires_at"])
    op.create_index("ix_tasks_runid", "tasks", ["runid"])
    op.create_index("ix_tasks_jobid", "tasks", ["jobid"])
    op.create_index("ix_tasks_expires", "tasks", ["expires_at"])
    op.create_table(
        "config",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("config", "tasks", "runs", "jobs", "nodes", "users"):
        op.drop_table(table)
