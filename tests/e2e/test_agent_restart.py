"""Restarts and what the agent owns: adoption after a graceful stop, a lost container, foreign
containers left alone, out-of-memory runs, and the public IP reported only when it changes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from aiohttp import web

from leoscope.client import Client
from tests.fakes.http import LocalHttpServer
from tests.fakes.waits import wait_until
from tests.harness import RunningOrchestrator
from tests.images import docker_client, ensure_image_with_cmd

from .conftest import LABEL_NODE, Node, experiment_config, next_second, schedule_at, wait_for_run
from .grpc_recorder import RecordingProxy
from .uploads import run_archive

pytestmark = [pytest.mark.docker]


@pytest.fixture
def foreign_containers(node: Node, sleeper_image: str) -> Iterator[list[str]]:
    """Two containers the agent must never touch: another node's, and an unlabelled one."""
    client = docker_client()
    started = [
        client.containers.run(
            sleeper_image,
            detach=True,
            labels={"leotest": "true", LABEL_NODE: f"{node.id}-other", "leoscope.run": "f" * 32},
        ),
        client.containers.run(sleeper_image, detach=True),
    ]
    try:
        yield [c.id for c in started]
    finally:
        for container in started:
            container.remove(force=True)
        client.close()


async def test_graceful_restart_adopts_the_run_and_leaves_foreign_containers(
    admin: Client,
    node: Node,
    make_agent,
    sleeper_image: str,
    foreign_containers: list[str],
    leftover_containers,
) -> None:
    runner = make_agent()
    agent = await runner.start()
    schedule_at(admin, "adopt", node, next_second(1.5), experiment_config(sleeper_image), 5)
    await wait_for_run(admin, "adopt", ("EXECUTING",))
    await runner.stop()  # the container keeps running: the next start adopts it
    agent = await runner.start()
    run = await wait_for_run(admin, "adopt", ("COMPLETE", "FAILED"))
    assert run.status == "COMPLETE", run.status_message
    assert [r.status for r in agent.state.runs("adopt")] == ["COMPLETE"]
    client = docker_client()
    try:
        for container_id in foreign_containers:
            assert client.containers.get(container_id).status == "running"
    finally:
        client.close()


async def test_a_run_whose_container_vanished_fails_but_keeps_its_files(
    admin: Client, node: Node, make_agent, sleeper_image: str, leftover_containers
) -> None:
    runner = make_agent()
    agent = await runner.start()
    schedule_at(admin, "vanish", node, next_second(1.5), experiment_config(sleeper_image), 30)
    await wait_for_run(admin, "vanish", ("EXECUTING",))
    (local,) = agent.state.runs("vanish")
    await runner.stop()
    client = docker_client()
    try:
        client.containers.get(local.container_id).remove(force=True)
    finally:
        client.close()
    await runner.start()
    run = await wait_for_run(admin, "vanish", ("COMPLETE", "FAILED"))
    assert run.status == "FAILED"
    assert run.status_message == "agent restarted: the container was gone"
    with run_archive(admin, run) as zf:
        assert zf.read(f"{run.runid}/started.txt") == b"up\n"


async def test_out_of_memory_is_reported(
    admin: Client, node: Node, make_agent, docker_ready: None, leftover_containers
) -> None:
    image = ensure_image_with_cmd(
        ["sh", "-c", "echo eating; a=$(head -c 150000000 /dev/zero | tr '\\0' x); echo survived"]
    )
    await make_agent().start()  # the e2e executor config limits memory to 64m
    schedule_at(admin, "oom", node, next_second(1.5), experiment_config(image), 20)
    run = await wait_for_run(admin, "oom", ("COMPLETE", "FAILED"))
    assert run.status == "FAILED"
    assert run.status_message.startswith("experiment failed: out of memory")


async def test_public_ip_is_reported_only_when_it_changes(
    orchestrator: RunningOrchestrator, admin: Client, node: Node, make_agent
) -> None:
    answers = ["203.0.113.7"]
    lookups = 0

    async def checkip(_request: web.Request) -> web.Response:
        nonlocal lookups
        lookups += 1
        return web.Response(text=answers[-1] + "\n")

    app = web.Application()
    app.router.add_get("/", checkip)
    proxy = RecordingProxy(orchestrator.address)
    try:
        async with LocalHttpServer(app) as checkip_server:
            await make_agent(
                address=proxy.address,
                interval=0.2,
                public_ip_url=checkip_server.url + "/",
                public_ip_interval=0.2,
            ).start()
            await wait_until(lambda: lookups >= 5, 10, "several look-ups")
            node_record = await asyncio.to_thread(admin.get_node, node.id)
            assert node_record.public_ip == "203.0.113.7"
            assert proxy.calls["update_node"] == 1
            answers.append("203.0.113.8")
            await wait_until(lambda: proxy.calls["update_node"] == 2, 10, "the change reported")
            node_record = await asyncio.to_thread(admin.get_node, node.id)
            assert node_record.public_ip == "203.0.113.8"
            seen = lookups
            await wait_until(lambda: lookups >= seen + 3, 10, "more look-ups")
            assert proxy.calls["update_node"] == 2
    finally:
        proxy.close()
