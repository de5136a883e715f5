"""The extension points later features plug into: gates, run hooks, archive delivery.

These runs use the process runtime (fast, no Docker): the seams are runtime-independent.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import yaml

from leoscope.client import Client
from leoscope.node.records import RunPhase, RunRecord
from leoscope.node.runtime.base import ContainerSpec
from leoscope.node.seams import (
    PROCEED,
    Archive,
    Delivered,
    DeliveryPending,
    GateDecision,
    Outcome,
    RunContext,
    RunHook,
    Skip,
    WaitAndRetry,
)
from tests.fakes.waits import wait_until

from .conftest import Node, next_second, schedule_at, wait_for_run
from .uploads import run_archive

SCRIPT = (
    "import json, os, pathlib; out = pathlib.Path(os.environ['LEOSCOPE_ARTIFACTS']); "
    "(out / 'env.json').write_text(json.dumps(dict(os.environ)))"
)
CONFIG = yaml.safe_dump({"process": {"command": [sys.executable, "-c", SCRIPT]}})


class CountingGate:
    """Waits twice (reporting trigger values), then lets the run through."""

    name = "trigger"

    def __init__(self, waits: int = 2) -> None:
        self.waits = waits
        self.calls = 0

    async def check(self, run: RunContext) -> GateDecision:
        self.calls += 1
        if self.calls <= self.waits:
            values = f"rtt={80 + self.calls}"
            return WaitAndRetry(0.2, "trigger false; waiting", trigger_values=values)
        return PROCEED


class SkipGate:
    name = "scavenger"

    async def check(self, run: RunContext) -> GateDecision:
        return Skip("TERMINATED", "job run terminated: scavenger mode is active.")


class ForeverGate:
    name = "trigger"

    async def check(self, run: RunContext) -> GateDecision:
        return WaitAndRetry(0.2, "trigger false")


class RecordingHook(RunHook):
    def __init__(self) -> None:
        self.finals: list[tuple[str, str]] = []

    async def before_start(self, run: RunContext, spec: ContainerSpec) -> ContainerSpec:
        return replace(spec, env={**spec.env, "LEOTEST_SERVERIP": "192.0.2.10"})

    async def after_exit(self, run: RunContext, outcome: Outcome) -> None:
        (run.run_dir / "hook.txt").write_text(f"{outcome.status} exit={outcome.exit.exit_code}")

    async def after_final(self, run: RunContext, status: str, message: str) -> None:
        self.finals.append((status, message))


class PendingDelivery:
    """Takes the archive over (as a resumable uploader would) and finishes later."""

    def __init__(self) -> None:
        self.archives: list[tuple[str, Archive]] = []

    async def deliver(self, run: RunContext, archive: Archive) -> Delivered:
        self.archives.append((run.runid, archive))
        raise DeliveryPending("upload queued: 1 part of 1")


def statuses_of(records: list[RunRecord]) -> list[str]:
    return [r.status for r in records]


async def test_gates_wait_then_proceed_and_hooks_shape_the_run(
    admin: Client, node: Node, make_agent
) -> None:
    gate, hook = CountingGate(), RecordingHook()
    agent = await make_agent(
        runtime="process", agent_kwargs={"gates": [gate], "hooks": [hook]}
    ).start()
    seen: list[RunRecord] = []
    agent.executor.listeners.append(seen.append)
    schedule_at(admin, "gated", node, next_second(1.5), CONFIG)
    run = await wait_for_run(admin, "gated", ("COMPLETE", "FAILED"))
    assert run.status == "COMPLETE", run.status_message
    assert statuses_of(seen) == [
        "WAITING",  # once per message, not per check
        "DEPLOYING",
        "EXECUTING",
        "FINISHING",
        "FINISHING",
        "UPLOAD_PENDING",  # the default delivery uploads to the orchestrator's store
        "COMPLETE",
    ]
    assert seen[0].trigger_values == "rtt=81"
    assert gate.calls == 3
    assert run.trigger_values == "rtt=82", "the latest values travel with the next report"
    with run_archive(admin, run) as zf:
        env = json.loads(zf.read(f"{run.runid}/env.json"))
        assert zf.read(f"{run.runid}/hook.txt") == b"COMPLETE exit=0"
    assert env["LEOTEST_SERVERIP"] == "192.0.2.10"
    assert hook.finals == [("COMPLETE", "Done executing the job.")]


async def test_a_gate_can_skip_a_run_with_its_own_status(
    admin: Client, node: Node, make_agent
) -> None:
    agent = await make_agent(runtime="process", agent_kwargs={"gates": [SkipGate()]}).start()
    schedule_at(admin, "skipped", node, next_second(1.5), CONFIG)
    run = await wait_for_run(admin, "skipped", ("TERMINATED", "COMPLETE", "FAILED"))
    assert run.status == "TERMINATED"
    assert run.status_message == "job run terminated: scavenger mode is active."
    (local,) = agent.state.runs("skipped")
    assert local.phase is RunPhase.DONE and local.container_name is None
    assert not agent.paths.run_dir(local.run_relpath).exists()


async def test_a_gate_that_never_lets_go_skips_the_run_when_its_slot_ends(
    admin: Client, node: Node, make_agent
) -> None:
    await make_agent(runtime="process", agent_kwargs={"gates": [ForeverGate()]}).start()
    schedule_at(admin, "starved", node, next_second(1.0), CONFIG, length_secs=2)
    run = await wait_for_run(admin, "starved", ("SKIPPED", "COMPLETE", "FAILED"), within=10)
    assert run.status == "SKIPPED"
    assert run.status_message == "trigger kept the run waiting until its slot ended"


async def test_a_delivery_can_take_the_archive_over_and_finish_later(
    admin: Client, node: Node, make_agent
) -> None:
    delivery = PendingDelivery()
    agent = await make_agent(runtime="process", agent_kwargs={"delivery": delivery}).start()
    schedule_at(admin, "pending", node, next_second(1.5), CONFIG)
    run = await wait_for_run(admin, "pending", ("UPLOAD_PENDING", "COMPLETE", "FAILED"))
    assert run.status == "UPLOAD_PENDING"
    assert run.status_message == "upload queued: 1 part of 1"
    ((runid, archive),) = delivery.archives
    assert archive.path.exists() and archive.size > 0
    (local,) = agent.state.runs("pending")
    assert local.phase is RunPhase.UPLOAD_PENDING
    assert local.outcome_status == "COMPLETE", "the outcome waits for the upload"

    url = "https://store.example/jobs/x.zip"
    await agent.executor.complete_delivery(
        runid, Delivered(url, None, archive.sha256, archive.size)
    )
    run = await wait_for_run(admin, "pending", ("COMPLETE",))
    assert run.blob_url == url
    assert run.archive_sha256 == archive.sha256
    await wait_until(lambda: agent.state.outbox_size() == 0, 5, "outbox drained")
