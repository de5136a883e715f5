"""End-to-end fixtures: a real orchestrator, a registered node, agents, Docker images.

Every container an agent starts carries `leoscope.node=<the test's node id>`; the
`leftover_containers` fixture removes whatever is left after a test and fails the test if it
expected none.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from leoscope.client import Client, Run
from leoscope.core.timeutil import to_utc, utcnow
from leoscope.node.agent import Agent
from leoscope.node.settings import AgentSettings
from tests.harness import RunningOrchestrator
from tests.images import docker_client, ensure_image_with_cmd
from tests.services import docker_available, require

LABEL_NODE = "leoscope.node"
EXECUTOR_CONFIG = """\
docker:
  pull_policy: if-not-present
  execute:
    cpus: 0.5
    memory: 64m
    pids_limit: 64
    stop_grace_secs: 1
"""


def experiment_config(image: str, name: str = "exp", extra: str = "") -> str:
    return f"docker:\n  image: {image}\n  execute:\n    name: {name}\n{extra}"


def next_second(after: float = 1.5) -> datetime:
    """A whole-second UTC time at least `after` seconds from now (job starts are whole seconds)."""
    moment = utcnow() + timedelta(seconds=after)
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment


@pytest.fixture(scope="session")
def docker_ready() -> None:
    require(docker_available(), "Docker")


@pytest.fixture(scope="session")
def writer_image(docker_ready: None) -> str:
    """Writes its environment and a result into /artifacts, prints, and exits 0 after 1 s."""
    return ensure_image_with_cmd(
        [
            "sh",
            "-c",
            (
                "echo hello from the experiment; echo result-42 > /artifacts/result.txt; "
                "env > /artifacts/env.txt; sleep 1"
            ),
        ]
    )


@pytest.fixture(scope="session")
def sleeper_image(docker_ready: None) -> str:
    """Writes a marker, then sleeps until stopped (SIGTERM ends it)."""
    script = (
        "echo started; echo up > /artifacts/started.txt; trap 'exit 0' TERM; "
        "while true; do sleep 0.2; done"
    )
    return ensure_image_with_cmd(["sh", "-c", script])


@pytest.fixture(scope="session")
def exit3_image(docker_ready: None) -> str:
    return ensure_image_with_cmd(["sh", "-c", "echo failing >&2; exit 3"])


@pytest.fixture
def orchestrator(tmp_path: Path) -> Iterator[RunningOrchestrator]:
    orch = RunningOrchestrator(tmp_path / "orch", watch_ping_secs=5.0)
    try:
        yield orch
    finally:
        orch.stop()


@pytest.fixture
def admin(orchestrator: RunningOrchestrator) -> Iterator[Client]:
    client = Client(orchestrator.address, "admin", orchestrator.admin_token, insecure=True)
    yield client
    client.close()


@dataclass
class Node:
    id: str
    token: str = field(repr=False)


@pytest.fixture
def node(orchestrator: RunningOrchestrator) -> Node:
    nodeid = f"node-{uuid.uuid4().hex[:8]}"
    caller = orchestrator.admin()
    token = caller.register_node(nodeid)
    caller.close()
    return Node(nodeid, token)


@pytest.fixture
def leftover_containers(node: Node) -> Iterator[list[str]]:
    """Yields a list; teardown removes the node's containers and fails if any were left
    (append "allowed" to the list to permit leftovers)."""
    allowed: list[str] = []
    yield allowed
    if not docker_available():
        return
    client = docker_client()
    try:
        left = client.containers.list(all=True, filters={"label": f"{LABEL_NODE}={node.id}"})
        for container in left:
            container.remove(force=True)
    finally:
        client.close()
    assert not left or allowed, f"containers left behind: {[c.name for c in left]}"


class AgentRunner:
    """An in-process agent, started and stopped by the test."""

    def __init__(self, settings: AgentSettings, **kwargs: Any) -> None:
        self.settings = settings
        self.kwargs = kwargs
        self.agent: Agent | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self, **overrides: Any) -> Agent:
        if overrides:
            self.settings = replace(self.settings, **overrides)
        self.agent = Agent(self.settings, **self.kwargs)
        self.task = asyncio.create_task(self.agent.run())
        ready = asyncio.create_task(self.agent.ready.wait())
        await asyncio.wait({ready, self.task}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if self.task.done():
            ready.cancel()
            self.task.result()  # raises the start-up error
        assert self.agent.ready.is_set(), "agent did not become ready"
        return self.agent

    async def stop(self) -> None:
        if self.agent is not None and self.task is not None:
            self.agent.stop()
            await asyncio.wait_for(self.task, 30)
        self.agent, self.task = None, None


@pytest.fixture
async def make_agent(
    tmp_path: Path, orchestrator: RunningOrchestrator, node: Node
) -> AsyncIterator[Callable[..., AgentRunner]]:
    runners: list[AgentRunner] = []
    executor_config = tmp_path / "executor-config.yaml"
    executor_config.write_text(EXECUTOR_CONFIG)

    def make(
        address: str | None = None, agent_kwargs: dict[str, Any] | None = None, **overrides: Any
    ) -> AgentRunner:
        settings = AgentSettings(
            orchestrator=address or orchestrator.address,
            node_id=node.id,
            token=node.token,
            data_dir=tmp_path / "agent",
            insecure=True,
            executor_config=executor_config,
            public_ip_url=None,
            interval=10.0,
        )
        runner = AgentRunner(replace(settings, **overrides), **(agent_kwargs or {}))
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        with contextlib.suppress(Exception):
            await runner.stop()


def schedule_at(
    admin: Client, jobid: str, node: Node, at: datetime, config: str, length_secs: int = 5
) -> None:
    admin.schedule_job(
        jobid, node.id, length_secs=length_secs, config=config, at=at, overhead=False
    )


async def wait_for_run(
    admin: Client, jobid: str, statuses: tuple[str, ...], within: float = 20.0
) -> Run:
    """Poll the orchestrator until the job's run reaches one of `statuses`."""
    deadline = time.monotonic() + within
    seen: list[str] = []
    while time.monotonic() < deadline:
        runs = await asyncio.to_thread(admin.list_runs, job=jobid)
        if runs:
            if not seen or seen[-1] != runs[0].status:
                seen.append(runs[0].status)
            if runs[0].status in statuses:
                return runs[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {jobid} did not reach {statuses} within {within}s (saw {seen})")


def epoch(moment: datetime) -> float:
    return to_utc(moment).timestamp()
