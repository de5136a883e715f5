"""Atomic admission: 50 concurrent, mutually conflicting schedule_job calls spread over two
orchestrator processes sharing one database. Exactly one is accepted, on PostgreSQL (advisory
locks per node) and on SQLite (BEGIN IMMEDIATE across processes)."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from leoscope.api import leotest_pb2 as pb
from leoscope.orchestrator.store import normalize_url
from leoscope.orchestrator.store.schema import jobs
from tests.harness import Caller, RunningOrchestrator, job_request, postgres_schema_url
from tests.integration.conftest import postgres_available
from tests.process import OrchestratorProcess
from tests.services import require

CALLS = 50


@pytest.fixture
def two_orchestrators(db_url: str | None, tmp_path: Path):
    token = secrets.token_hex(16)
    data = tmp_path / "shared"  # for SQLite both processes open the same database file
    first = OrchestratorProcess(data, token, db_url).start()
    second = OrchestratorProcess(data, token, db_url).start()
    yield first, second
    first.stop()
    second.stop()


def test_exactly_one_of_many_conflicting_jobs_is_accepted(two_orchestrators) -> None:
    first, second = two_orchestrators
    admin = Caller(first.address, "admin", first.admin_token)
    admin.register_node("node-1")
    admin.register_node("node-2")
    token = admin.register_user("alice")
    callers = [Caller(p.address, "alice", token) for p in (first, second)]

    def submit(i: int) -> pb.message_schedule_job_response:
        # every candidate overlaps every other one; half of them also use node-2 as server
        fields = {"server": "node-2"} if i % 2 else {}
        request = job_request(
            f"race-{i}", "node-1", f"2031-05-01T10:00:{i % 50:02d}", "2031-05-01T12:00:00", **fields
        )
        return callers[i % 2].call("schedule_job", request, timeout=30)

    with ThreadPoolExecutor(max_workers=CALLS) as pool:
        results = list(pool.map(submit, range(CALLS)))
    accepted = [r for r in results if r.state == pb.SUCCESS]
    refused = [r for r in results if r.state == pb.FAILED]
    assert len(accepted) == 1, [r.message for r in accepted]
    assert len(refused) == CALLS - 1
    assert all(r.message.startswith("schedule conflict:") for r in refused)
    stored = (
        callers[0].call("get_jobs_by_nodeid", pb.message_get_jobs_by_nodeid(nodeid="node-1")).jobs
    )
    assert len(stored) == 1
    for c in (admin, *callers):
        c.close()


# ---------------------------------------------------------------------------- read-then-write
# A change to a stored job must be decided on the job as it is once its nodes are locked. The
# tests hold a node's advisory lock (as a concurrent admission would), let calls queue behind
# it (seen in pg_locks), then release it.

_WAITERS = sa.text(
    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
    "WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted "
    "AND l.classid = ((hashtextextended(:k, 7) >> 32) & 4294967295)::oid "
    "AND l.objid = (hashtextextended(:k, 7) & 4294967295)::oid"
)


@pytest.fixture
def pg_orchestrator(tmp_path: Path) -> Iterator[tuple[RunningOrchestrator, str]]:
    require(postgres_available(), "PostgreSQL on 127.0.0.1:5432")
    with postgres_schema_url() as url:
        orch = RunningOrchestrator(tmp_path / "orch", url)
        try:
            yield orch, url
        finally:
            orch.stop()


@contextmanager
def node_locked(url: str, nodeid: str) -> Iterator[Callable[[int], None]]:
    """Hold `nodeid`'s admission lock; yields `wait_for(n)`: block until n calls queue on it."""
    engine = sa.create_engine(normalize_url(url, Path(".")))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(hashtextextended(:k, 7))"), {"k": nodeid})

            def wait_for(count: int) -> None:
                deadline = time.monotonic() + 10
                while conn.execute(_WAITERS, {"k": nodeid}).scalar() < count:
                    assert time.monotonic() < deadline, f"{count} calls never queued"
                    time.sleep(0.01)

            try:
                yield wait_for
            finally:
                conn.execute(
                    sa.text("SELECT pg_advisory_unlock(hashtextextended(:k, 7))"), {"k": nodeid}
                )
    finally:
        engine.dispose()


def _cron_job_world(orch: RunningOrchestrator) -> tuple[Caller, str]:
    nodeid = f"race-{uuid.uuid4().hex[:10]}"  # advisory locks are per database, not schema
    admin = orch.admin()
    admin.register_node(nodeid)
    alice = orch.caller("alice", admin.register_user("alice"))
    admin.close()
    request = job_request(
        "job-c",
        nodeid,
        "2031-05-01T00:00:00",
        "2031-06-01T00:00:00",
        type=pb.CRON,
        schedule="0 * * * *",
    )
    assert alice.call("schedule_job", request).state == pb.SUCCESS
    return alice, nodeid


def test_concurrent_modifications_of_one_job_both_apply(pg_orchestrator) -> None:
    orch, url = pg_orchestrator
    alice, nodeid = _cron_job_world(orch)
    changes = [
        pb.message_modify_job(jobid="job-c", length_secs=120),
        pb.message_modify_job(jobid="job-c", trigger_wait_secs=30),
    ]
    with ThreadPoolExecutor(max_workers=2) as pool, node_locked(url, nodeid) as wait_for:
        first = pool.submit(alice.call, "modify_job", changes[0])
        wait_for(1)
        second = pool.submit(alice.call, "modify_job", changes[1])
        wait_for(2)
    assert [f.result().state for f in (first, second)] == [pb.SUCCESS, pb.SUCCESS]
    job = alice.call("get_job_by_id", pb.message_get_job_by_id(jobid="job-c"))
    assert (job.length_secs, job.trigger_wait_secs) == (120, 30)  # neither change lost
    with orch.server.store.read() as conn:
        versions = conn.execute(sa.select(jobs.c.version)).scalars().all()
    assert versions == [3]  # two changes, two new versions (caches key on them)
    alice.close()


def test_reschedule_of_a_job_deleted_meanwhile_is_refused(pg_orchestrator) -> None:
    orch, url = pg_orchestrator
    alice, nodeid = _cron_job_world(orch)
    request = job_request("job-o", nodeid, "2031-05-02T00:30:00", "2031-05-03T00:00:00")
    assert alice.call("schedule_job", request).state == pb.SUCCESS
    move = pb.message_reschedule_job(
        jobid="job-o", starttime="2031-05-02T00:30:00", endtime="2031-05-02T23:00:00"
    )
    with ThreadPoolExecutor(max_workers=1) as pool, node_locked(url, nodeid) as wait_for:
        moved = pool.submit(alice.call, "reschedule_job_nearest", move)
        wait_for(1)
        deleted = alice.call("delete_job_by_id", pb.message_delete_job_by_id(jobid="job-o"))
        assert deleted.exists
    assert (moved.result().rescheduled, moved.result().message) == (
        False,
        "job with the given id not found.",
    )
    assert [row[0] for row in orch.snapshot()["jobs"]] == ["job-c"]
    alice.close()
