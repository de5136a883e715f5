"""The Alembic migrations build exactly the schema the code declares, on both databases, and
re-running them (every orchestrator start) is harmless."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from leoscope.orchestrator.store import Store, normalize_url
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
