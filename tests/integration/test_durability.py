"""Acknowledged writes survive a kill -9 of the orchestrator and a restart."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from leoscope.api import leotest_pb2 as pb
from tests.harness import Caller, job_request
from tests.process import OrchestratorProcess


@pytest.fixture
def proc(db_url: str | None, tmp_path: Path):
    p = OrchestratorProcess(tmp_path / "orch", secrets.token_hex(16), db_url)
    yield p
    p.stop()


def test_acknowledged_writes_survive_kill_9(proc: OrchestratorProcess) -> None:
    proc.start()
    admin = Caller(proc.address, "admin", proc.admin_token)
    node_token = admin.register_node("node-1")
    user_token = admin.register_user("alice")
    alice = Caller(proc.address, "alice", user_token)
    node = Caller(proc.address, "node-1", node_token)
    acknowledged = []
    for i in range(20):
        resp = alice.call(
            "schedule_job",
            job_request(
                f"j{i}",
                "node-1",
                f"2031-01-0{1 + i % 9}T{10 + i // 9}:00:00",
                f"2031-01-0{1 + i % 9}T{10 + i // 9}:30:00",
            ),
        )
        assert resp.state == pb.SUCCESS, resp.message
        acknowledged.append(f"j{i}")
    run = pb.run_instance(
        runid="r1",
        jobid="j0",
        nodeid="node-1",
        userid="alice",
        start_time="2031-01-01 10:00:00",
        end_time="2031-01-01 10:00:00",
        last_updated="2031-01-01 10:00:05",
        status="EXECUTING",
    )
    assert node.call("update_run", pb.message_update_run(run=run)).state == pb.SUCCESS
    assert (
        node.call(
            "set_scavenger_status",
            pb.message_set_scavenger_status(nodeid="node-1", scavenger_mode_active=True),
        ).state
        == pb.SUCCESS
    )
    for c in (admin, alice, node):
        c.close()

    proc.kill()  # no chance to flush or shut down cleanly
    proc.start()

    admin = Caller(proc.address, "admin", proc.admin_token)
    alice = Caller(proc.address, "alice", user_token)  # tokens still valid
    node = Caller(proc.address, "node-1", node_token)
    jobs = alice.call("get_jobs_by_userid", pb.message_get_jobs_by_userid(userid="alice")).jobs
    assert sorted(j.id for j in jobs) == sorted(acknowledged)
    assert alice.call("get_runs", pb.message_get_runs(runid="r1")).runs[0].status == "EXECUTING"
    assert node.call("get_scavenger_status", pb.message_get_scavenger_status(nodeid="node-1")).found
    # the calendar still refuses overlaps after the restart
    clash = alice.call(
        "schedule_job", job_request("again", "node-1", "2031-01-01T10:00:30", "2031-01-01T11:00:00")
    )
    assert clash.state == pb.FAILED and "jobid=j0" in clash.message
    for c in (admin, alice, node):
        c.close()


def test_sigterm_shuts_down_gracefully(proc: OrchestratorProcess) -> None:
    proc.start()
    assert proc.terminate() == 0
    assert "orchestrator stopped" in proc.log.read_text()


def test_metrics_endpoint(tmp_path: Path) -> None:
    import urllib.request

    from tests.process import free_port

    port = free_port()
    proc = OrchestratorProcess(
        tmp_path / "m", secrets.token_hex(16), extra=["--metrics-listen", f"127.0.0.1:{port}"]
    )
    try:
        proc.start()
        admin = Caller(proc.address, "admin", proc.admin_token)
        admin.call("whoami", pb.message_whoami())
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert 'leoscope_rpc_seconds_count{rpc="whoami"}' in body
        admin.close()
    finally:
        proc.stop()
