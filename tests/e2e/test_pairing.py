"""Paired client/server runs: two agents (two nodes, two data directories) on one machine.

The server node's public IP is registered as the Docker bridge's gateway, so a client
container on the bridge reaches the server container's published port through it, as a
client reaches a cloud VM's public address in the field.
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from leoscope.client import Client
from leoscope.core.model import Run, Task, TaskStatus, TaskType
from leoscope.core.timeutil import utcnow
from leoscope.node.pairing import (
    MSG_SERVER_DID_NOT_START,
    MSG_SETTING_UP_SERVER,
    MSG_STOPPED_BY_CLIENT,
)
from leoscope.node.records import RunPhase, RunRecord
from tests.fakes.waits import wait_until
from tests.images import docker_client, ensure_image_with_cmd

from .conftest import EXECUTOR_CONFIG, Node, next_second, wait_for_run

SERVER_PORT_IN_CONTAINER = 5201
CLIENT_SCRIPT = (
    "port=$(sed -n 's/^test_port: *//p' /artifacts/experiment-config.yaml); "
    "env > /artifacts/env.txt; i=0; "
    'while [ $i -lt 60 ]; do nc -w 2 "$LEOTEST_SERVERIP" "$port" > /artifacts/got.txt; '
    "[ -s /artifacts/got.txt ] && exit 0; i=$((i+1)); sleep 0.1; done; exit 1"
)
SERVER_SCRIPT = (  # serves one greeting, then runs until it is stopped
    "env > /artifacts/env.txt; echo server-says-hi | nc -l -p 5201; "
    "echo served > /artifacts/served.txt; trap 'exit 0' TERM; while true; do sleep 0.2; done"
)


@pytest.fixture(scope="module")
def client_image(docker_ready: None) -> str:
    return ensure_image_with_cmd(["sh", "-c", CLIENT_SCRIPT])


@pytest.fixture(scope="module")
def server_image(docker_ready: None) -> str:
    return ensure_image_with_cmd(["sh", "-c", SERVER_SCRIPT])


@pytest.fixture
def bridge_config(tmp_path: Path) -> Path:
    path = tmp_path / "executor-config-bridge.yaml"
    path.write_text(
        EXECUTOR_CONFIG.replace("    cpus: 0.5\n", "    network: bridge\n    cpus: 0.5\n")
    )
    return path


@pytest.fixture
def server_node(orchestrator) -> Iterator[Node]:
    nodeid = f"server-{uuid.uuid4().hex[:8]}"
    caller = orchestrator.admin()
    token = caller.register_node(nodeid)
    caller.close()
    yield Node(nodeid, token)
    client = docker_client()
    try:
        for container in client.containers.list(
            all=True, filters={"label": f"leoscope.node={nodeid}"}
        ):
            container.remove(force=True)
    finally:
        client.close()


def bridge_gateway() -> str:
    client = docker_client()
    try:
        subnet = client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Subnet"]
    finally:
        client.close()
    return str(ipaddress.ip_network(subnet)[1])


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return int(sock.getsockname()[1])


def archive_of(admin: Client, run: Run, directory: Path) -> zipfile.ZipFile:
    if run.blob_url.startswith("file://"):
        return zipfile.ZipFile(Path(run.blob_url.removeprefix("file://")))
    target = directory / f"{run.runid}.zip"
    admin.download_run(run.runid, target)
    return zipfile.ZipFile(target)


def env_of(zf: zipfile.ZipFile, runid: str) -> dict[str, str]:
    lines = zf.read(f"{runid}/env.txt").decode().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


async def run_until(
    admin: Client, runid: str, statuses: tuple[str, ...], within: float = 20
) -> Run:
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        runs = await asyncio.to_thread(admin.list_runs, runid=runid)
        if runs:
            last = runs[0]
            if last.status in statuses:
                return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {runid} did not reach {statuses} (last: {last})")


async def test_the_client_reaches_its_server_at_the_address_it_was_given(
    admin: Client,
    node: Node,
    server_node: Node,
    make_agent,
    bridge_config: Path,
    client_image: str,
    server_image: str,
    leftover_containers,
    tmp_path: Path,
) -> None:
    gateway = bridge_gateway()
    admin.update_node(server_node.id, public_ip=gateway)
    client_agent = await make_agent(executor_config=bridge_config).start()
    server_agent = await make_agent(
        node_id=server_node.id,
        token=server_node.token,
        data_dir=tmp_path / "server-agent",
        executor_config=bridge_config,
    ).start()
    seen: list[RunRecord] = []
    client_agent.executor.listeners.append(seen.append)

    port = free_port()
    config = yaml.safe_dump(
        {
            "docker": {"image": client_image, "execute": {"name": "pair"}},
            "test_port": port,
            "server": {
                "docker": {
                    "image": server_image,
                    "execute": {"ports": {f"{SERVER_PORT_IN_CONTAINER}/tcp": port}},
                }
            },
        }
    )
    admin.schedule_job(
        "paired", node.id, length_secs=12, config=config, at=next_second(1.0), server=server_node.id
    )
    client_run = await wait_for_run(admin, "paired", ("COMPLETE", "FAILED"), within=30)
    assert client_run.status == "COMPLETE", client_run.status_message
    server_run = await run_until(admin, f"{client_run.runid}_server", ("COMPLETE", "FAILED"))
    assert (server_run.status, server_run.status_message) == ("COMPLETE", MSG_STOPPED_BY_CLIENT)

    statuses = [(r.status, r.status_message) for r in seen]
    assert ("DEPLOYING", MSG_SETTING_UP_SERVER) in statuses
    assert ("FINISHING", "Performing post-execution tasks: stopping server") in statuses

    with archive_of(admin, client_run, tmp_path) as zf:
        assert zf.read(f"{client_run.runid}/got.txt") == b"server-says-hi\n"
        client_env = env_of(zf, client_run.runid)
    assert client_env["LEOTEST_SERVER"] == "0"
    assert client_env["LEOTEST_SERVERIP"] == gateway
    assert client_env["LEOTEST_SERVER_NODEID"] == server_node.id

    # The server side is filed under the client's node, with its own archive.
    assert server_run.nodeid == node.id
    assert server_run.start_time == client_run.start_time
    with archive_of(admin, server_run, tmp_path) as zf:
        assert zf.read(f"{server_run.runid}/served.txt") == b"served\n"
        server_env = env_of(zf, server_run.runid)
    assert server_env["LEOTEST_SERVER"] == "1"
    assert server_env["LEOTEST_NODEID"] == node.id
    if server_run.blob_name:
        day = client_run.start_time
        assert server_run.blob_name.endswith(
            f"/{node.id}/paired/{day.year}/{day.month}/{day.day}/{client_run.runid}_server.zip"
        )
    tasks = admin.list_tasks(runid=client_run.runid)
    assert {t.type for t in tasks} == {TaskType.SERVER_START, TaskType.SERVER_STOP}
    await wait_until(
        lambda: all(
            t.status is TaskStatus.TASK_COMPLETE for t in admin.list_tasks(runid=client_run.runid)
        ),
        10,
        "both tasks complete",
    )
    (local,) = server_agent.state.runs("paired")
    assert local.phase is RunPhase.DONE


async def test_a_server_that_never_starts_fails_the_client_run(
    admin: Client, node: Node, server_node: Node, make_agent
) -> None:
    await make_agent(runtime="process").start()  # no agent runs on the server node
    config = yaml.safe_dump({"process": {"command": [sys.executable, "-c", "print('never')"]}})
    began = time.monotonic()
    admin.schedule_job(
        "lonely", node.id, length_secs=4, config=config, at=next_second(1.0), server=server_node.id
    )
    run = await wait_for_run(admin, "lonely", ("COMPLETE", "FAILED"))
    assert (run.status, run.status_message) == ("FAILED", MSG_SERVER_DID_NOT_START)
    assert time.monotonic() - began < 4 + 3, "it waited only its share of the run's length"
    kinds = {t.type for t in admin.list_tasks(runid=run.runid)}
    assert kinds == {TaskType.SERVER_START, TaskType.SERVER_STOP}, "released even so"


async def test_a_vanished_client_still_stops_the_server_at_its_ttl(
    orchestrator,
    admin: Client,
    node: Node,
    server_node: Node,
    make_agent,
    sleeper_image: str,
    tmp_path: Path,
) -> None:
    server_agent = await make_agent(
        node_id=server_node.id, token=server_node.token, data_dir=tmp_path / "server-agent"
    ).start()
    config = f"docker:\n  image: {sleeper_image}\n  execute:\n    name: srv\n"
    admin.schedule_job(
        "gone",
        node.id,
        length_secs=3,
        config=config,
        at=next_second(3600.0),
        server=server_node.id,
    )
    await wait_until(lambda: server_agent.state.job("gone") is not None, 5, "job synced")
    # The client node asks for its server, then is never heard of again.
    client = Client(orchestrator.address, node.id, node.token, insecure=True)
    runid = uuid.uuid4().hex
    now = utcnow()
    client.update_run(Run(runid, "gone", node.id, "admin", now, now, now, "DEPLOYING", seq=1))
    taskid = uuid.uuid4().hex
    client.schedule_task(
        Task(
            taskid,
            TaskType.SERVER_START,
            runid,
            "gone",
            server_node.id,
            TaskStatus.TASK_SCHEDULED,
            3,
        )
    )
    client.close()

    await wait_until(
        lambda: admin.list_tasks(taskid=taskid)[0].status is TaskStatus.TASK_COMPLETE,
        10,
        "the server reported it running",
    )
    started = time.monotonic()
    server_run = await run_until(admin, f"{runid}_server", ("COMPLETE", "FAILED", "ABORTED"))
    assert server_run.status == "COMPLETE"
    assert server_run.status_message == "Done executing the job (stopped at the end of its slot)."
    assert time.monotonic() - started < 3 + 5
    assert server_run.nodeid == node.id, "adopted from the client's run"
    (local,) = server_agent.state.runs("gone")
    assert local.deadline - local.slot == pytest.approx(3, abs=1)
