"""watch_node pushes a change notice the moment a change commits; across replicas on PostgreSQL."""

from __future__ import annotations

import queue
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from leoscope.api import leotest_pb2 as pb
from tests.harness import Caller, RunningOrchestrator, job_request, postgres_schema_url
from tests.integration.conftest import postgres_available
from tests.integration.world import END, START, build_world
from tests.process import OrchestratorProcess
from tests.services import require


class Watcher:
    def __init__(self, caller: Caller, nodeid: str) -> None:
        self.events: queue.Queue[pb.message_node_event] = queue.Queue()
        self.stream = caller.stub.watch_node(
            pb.message_watch_node(nodeid=nodeid), metadata=caller.metadata
        )
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()
        assert self.next(5).kind == "hello"

    def _pump(self) -> None:
        try:
            for event in self.stream:
                self.events.put(event)
        except grpc.RpcError:
            pass

    def next(self, timeout: float, kinds: tuple[str, ...] = ()) -> pb.message_node_event:
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if not kinds or event.kind in kinds:
                return event

    def close(self) -> None:
        self.stream.cancel()


def test_notices_for_jobs_tasks_scavenger_and_config(orchestrator: RunningOrchestrator) -> None:
    w = build_world(orchestrator, with_job=False)
    client, server = Watcher(w.node1, "node-1"), Watcher(w.node2, "node-2")
    started = time.monotonic()
    w.alice.call("schedule_job", job_request("paired", "node-1", START, END, server="node-2"))
    for watcher in (client, server):
        event = watcher.next(2, ("jobs",))
        assert event.jobid == "paired"
    assert time.monotonic() - started < 1.0
    task = pb._task(
        type=pb.SERVER_START, taskid="t1", runid="r", jobid="paired", nodeid="node-2", ttl_secs=60
    )
    w.node1.call("schedule_task", pb.message_schedule_task(task=task))
    assert server.next(2, ("tasks",)).taskid == "t1"
    w.node2.call("update_task", pb.message_update_task(taskid="t1", status=pb.TASK_COMPLETE))
    assert client.next(2, ("tasks",)).taskid == "t1"  # the waiting client learns at once
    w.admin.call(
        "set_scavenger_status",
        pb.message_set_scavenger_status(nodeid="node-1", scavenger_mode_active=True),
    )
    event = client.next(2, ("scavenger",))
    assert event.scavenger_mode_active
    w.admin.call(
        "update_global_config",
        pb.message_update_global_config(
            config=pb.settings(weather=pb.weather_api_settings(apikey="k2"))
        ),
    )
    assert client.next(2, ("config",)).kind == "config"
    assert server.next(2, ("config",)).kind == "config"
    for watcher in (client, server):
        watcher.close()
    w.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    require(postgres_available(), "PostgreSQL")
    with postgres_schema_url() as url:
        yield url


def test_notices_cross_replicas_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    """SQLite serves one orchestrator process per database; PostgreSQL replicas use NOTIFY."""
    db_url = pg_url
    token = secrets.token_hex(16)
    first = OrchestratorProcess(tmp_path / "a", token, db_url).start()
    second = OrchestratorProcess(tmp_path / "b", token, db_url).start()
    try:
        admin = Caller(first.address, "admin", token)
        node_token = admin.register_node("node-1")
        alice = Caller(first.address, "alice", admin.register_user("alice"))
        watcher = Watcher(Caller(second.address, "node-1", node_token), "node-1")
        started = time.monotonic()
        assert (
            alice.call("schedule_job", job_request("j1", "node-1", START, END)).state == pb.SUCCESS
        )
        assert watcher.next(2, ("jobs",)).jobid == "j1"
        assert time.monotonic() - started < 1.0
        # and the second replica's caches saw it: the node's job list there is current
        node_on_second = Caller(second.address, "node-1", node_token)
        jobs = node_on_second.call(
            "get_jobs_by_nodeid", pb.message_get_jobs_by_nodeid(nodeid="node-1")
        ).jobs
        assert [j.id for j in jobs] == ["j1"]
        watcher.close()
    finally:
        first.stop()
        second.stop()
