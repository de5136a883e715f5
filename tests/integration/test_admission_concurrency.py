"""Atomic admission: 50 concurrent, mutually conflicting schedule_job calls spread over two
orchestrator processes sharing one database. Exactly one is accepted, on PostgreSQL (advisory
locks per node) and on SQLite (BEGIN IMMEDIATE across processes)."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from leoscope.api import leotest_pb2 as pb
from tests.harness import Caller, job_request
from tests.process import OrchestratorProcess

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
