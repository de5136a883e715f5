"""The Alembic migrations build exactly the schema the code declares, on both databases, and
re-running them (every orchestrator start) is harmless."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from leoscope.core.errors import Conflict
from leoscope.core.model import Job, JobType
from leoscope.orchestrator.store import Store, normalize_url
from leoscope.orchestrator.store import jobs as job_store
from leoscope.orchestrator.store.schema import metadata


def test_migrations_match_the_declared_schema(db_url: str | None, tmp_path: Path) -> None:
    store = Store.open(normalize_url(db_url, tmp_path))
    store.migrate()  # idempotent
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    store.dispose()
    assert diff == []


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    store = Store.open(normalize_url(None, tmp_path))
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.dispose()


def test_replacing_a_job_needs_its_stored_version(db_url: str | None, tmp_path: Path) -> None:
    """One (id, version) never names two contents: admission caches calendars by it."""
    store = Store.open(normalize_url(db_url, tmp_path))
    now = datetime(2031, 1, 1, tzinfo=UTC)
    job = Job("j", "n", JobType.ATQ, now, now + timedelta(hours=1), 60, "alice")
    with store.write() as conn:
        job_store.add(conn, job, now)
        newer = job_store.replace(conn, job.with_changes(length_secs=120), now)
    assert newer.version == 2
    with pytest.raises(Conflict), store.write() as conn:
        job_store.replace(conn, job.with_changes(length_secs=30), now)  # read at version 1
    with store.read() as conn:
        assert job_store.get(conn, "j") == newer
    store.dispose()
