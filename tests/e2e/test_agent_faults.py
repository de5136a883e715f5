"""The agent through faults: the orchestrator down during a run, and the agent killed mid-run.

Both tests watch the run updates through a recording proxy in front of the orchestrator, so
they see exactly which statuses were acknowledged, in which order, and how often.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from leoscope.client import Client
from tests.fakes.waits import wait_until
from tests.harness import Caller, RunningOrchestrator
from tests.images import docker_client
from tests.process import OrchestratorProcess

from .agentproc import AgentProcess
from .conftest import (
    EXECUTOR_CONFIG,
    LABEL_NODE,
    Node,
    experiment_config,
    next_second,
    schedule_at,
    wait_for_run,
)
from .grpc_recorder import RecordingProxy
from .uploads import run_archive

pytestmark = [pytest.mark.docker]

FULL_SEQUENCE = [
    "DEPLOYING",
    "EXECUTING",
    "FINISHING",
    "FINISHING",
    "UPLOAD_PENDING",  # the archive goes to the orchestrator's store (node/upload.py)
    "COMPLETE",
]


@pytest.fixture
def proxy_for(request: pytest.FixtureRequest) -> Iterator:
    proxies: list[RecordingProxy] = []

    def make(upstream: str) -> RecordingProxy:
        proxy = RecordingProxy(upstream)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


def assert_delivered_once_in_order(proxy: RecordingProxy, runid: str) -> None:
    observed = proxy.statuses(runid)
    seqs = [seq for seq, _ in observed]
    assert seqs == list(range(1, len(observed) + 1)), f"duplicates or gaps: {observed}"
    assert [status for _, status in observed] == FULL_SEQUENCE


async def test_runs_while_the_orchestrator_is_down_and_reports_everything_after(
    tmp_path: Path, make_agent, writer_image: str, proxy_for
) -> None:
    admin_token = secrets.token_hex(16)
    orch = OrchestratorProcess(tmp_path / "orch-proc", admin_token).start()
    nodeid = f"offline-{uuid.uuid4().hex[:8]}"
    try:
        admin_raw = Caller(orch.address, "admin", admin_token)
        node = Node(nodeid, admin_raw.register_node(nodeid))
        admin_raw.close()
        admin = Client(orch.address, "admin", admin_token, insecure=True, retry_secs=15)
        proxy = proxy_for(orch.address)
        agent = await make_agent(
            address=proxy.address, node_id=node.id, token=node.token, interval=1.0
        ).start()

        slot = next_second(2.5)
        schedule_at(admin, "offline", node, slot, experiment_config(writer_image), length_secs=4)
        await wait_until(
            lambda: (j := agent.state.job("offline")) is not None and j.detail is not None,
            5,
            "job and config synced",
        )
        orch.terminate()  # down before the run starts

        await wait_until(
            lambda: any(r.status == "UPLOAD_PENDING" for r in agent.state.runs("offline")),
            15,
            "the run finishes locally with the orchestrator down, its archive waiting",
        )
        (local,) = agent.state.runs("offline")
        assert proxy.statuses(local.runid) == []
        assert agent.state.outbox_size() == len(FULL_SEQUENCE) - 1  # COMPLETE needs the upload

        orch.start()  # same port, same data
        run = await wait_for_run(admin, "offline", ("COMPLETE",), within=20)
        await wait_until(lambda: agent.state.outbox_size() == 0, 10, "outbox drained")
        assert run.runid == local.runid
        assert run.seq == len(FULL_SEQUENCE)
        assert run.blob_url == agent.state.get_run(local.runid).blob_url
        assert len(admin.list_runs(job="offline")) == 1
        assert_delivered_once_in_order(proxy, local.runid)
        admin.close()
    finally:
        orch.stop()
        client = docker_client()
        try:
            left = client.containers.list(all=True, filters={"label": f"{LABEL_NODE}={nodeid}"})
            for container in left:
                container.remove(force=True)
        finally:
            client.close()
    assert not left, "the agent removes its containers"


async def test_agent_killed_mid_run_adopts_and_finishes_its_container(
    tmp_path: Path,
    orchestrator: RunningOrchestrator,
    admin: Client,
    node: Node,
    sleeper_image: str,
    leftover_containers,
    proxy_for,
) -> None:
    proxy = proxy_for(orchestrator.address)
    executor_config = tmp_path / "executor-config.yaml"
    executor_config.write_text(EXECUTOR_CONFIG)
    agent = AgentProcess(
        proxy.address,
        node.id,
        node.token,
        tmp_path / "agent",
        "--interval",
        "1",
        executor_config=executor_config,
    ).start()
    try:
        slot = next_second(2.5)
        schedule_at(admin, "crashy", node, slot, experiment_config(sleeper_image), length_secs=7)
        await wait_for_run(admin, "crashy", ("EXECUTING",), within=15)
        await wait_until(lambda: agent.phase("crashy") == "running", 5, "phase persisted")
        agent.kill()

        client = docker_client()
        try:
            (container,) = client.containers.list(filters={"label": f"{LABEL_NODE}={node.id}"})
            assert container.status == "running", "the container outlives the agent"
        finally:
            client.close()

        agent.start()
        run = await wait_for_run(admin, "crashy", ("COMPLETE", "FAILED", "ABORTED"), within=25)
        assert run.status == "COMPLETE", run.status_message
        assert "stopped at the end of its slot" in run.status_message
        finished = time.time()
        assert finished < slot.timestamp() + 7 + 8, "the remaining budget was enforced"
        assert len(admin.list_runs(job="crashy")) == 1
        assert_delivered_once_in_order(proxy, run.runid)
        with run_archive(admin, run) as zf:
            assert zf.read(f"{run.runid}/started.txt") == b"up\n"
            assert b"started" in zf.read(f"{run.runid}/container.stdout")
        await asyncio.to_thread(agent.terminate)
        assert node.token not in agent.log_text()
        assert "adopting its container" in agent.log_text()
    finally:
        agent.stop()


async def test_without_watch_node_the_agent_polls(
    orchestrator: RunningOrchestrator,
    admin: Client,
    node: Node,
    make_agent,
    writer_image: str,
    leftover_containers,
    proxy_for,
) -> None:
    """The reference orchestrator has only the reference RPCs: watch_node is UNIMPLEMENTED."""
    proxy = RecordingProxy(orchestrator.address, unimplemented=("watch_node",))
    try:
        agent = await make_agent(address=proxy.address, interval=0.5).start()
        await wait_until(lambda: agent.syncer.watch_state == "unsupported", 5, "watch given up")
        schedule_at(admin, "polled", node, next_second(1.5), experiment_config(writer_image))
        run = await wait_for_run(admin, "polled", ("COMPLETE", "FAILED"))
        assert run.status == "COMPLETE", run.status_message
        assert_delivered_once_in_order(proxy, run.runid)
    finally:
        proxy.close()
