from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.harness import RunningOrchestrator, postgres_schema_url
from tests.services import POSTGRES_URL, require


def postgres_available() -> bool:
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """A fresh datastore: a SQLite file, or a private schema on the PostgreSQL service."""
    if request.param == "sqlite":
        yield None  # the orchestrator's default: a SQLite file in its data directory
        return
    require(postgres_available(), "PostgreSQL on 127.0.0.1:5432")
    with postgres_schema_url() as url:
        yield url


@pytest.fixture
def orchestrator(db_url: str | None, tmp_path: Path) -> Iterator[RunningOrchestrator]:
    orch = RunningOrchestrator(tmp_path / "orch", db_url)
    try:
        yield orch
    finally:
        orch.stop()


@pytest.fixture
def sqlite_orchestrator(tmp_path: Path) -> Iterator[RunningOrchestrator]:
    orch = RunningOrchestrator(tmp_path / "orch")
    try:
        yield orch
    finally:
        orch.stop()
