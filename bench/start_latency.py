"""Start latency: from a run's planned slot to its container "running".

Each sample plans a slot a little ahead on the monotonic clock, sleeps until it, then starts
one run; the latency is the time from the slot to "the container is running". Contenders are
measured interleaved (A, B, A, B, ...) so that machine noise hits them alike:

* floor:   `docker run -d` of the same image, as a subprocess (the CLI returns once started);
* runtime: DockerRuntime.pull (local image, IF_NOT_PRESENT) + DockerRuntime.start, with the
           security options and limits the agent uses;
* agent:   the whole node agent: a one-shot job is scheduled at the orchestrator for the next
           whole second (job starts are whole seconds), reaches the agent over watch_node, and
           the agent's timer, run state machine (state writes, run directory, pull, spec) and
           runtime start it. The sample is the agent's own record: from the run's slot (wall
           clock) to the moment its container was running (`started_at`).

Target: runtime and agent p50 <= floor p50 + 300 ms. `measure()` takes any "start one run"
coroutine; one that measures its own slot returns the latency (seconds) instead of None.

    .venv/bin/python bench/start_latency.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leoscope.node.runtime.base import (
    LABEL_NODE,
    ContainerSpec,
    ContainerStatus,
    PullPolicy,
)
from leoscope.node.runtime.docker import DockerRuntime
from tests.images import docker_client, ensure_busybox_image, ensure_image_with_cmd

BENCH = "start_latency"
TARGET_EXTRA_MS = 300.0
LEAD_SECS = 0.2
AGENT_MIN_LEAD_SECS = 0.3  # the job must reach the agent before its slot
StartOne = Callable[[int], Awaitable[float | None]]


@dataclass
class Contender:
    """A way to start one run: `start_one(i)` returns once run i's container is running.

    It returns None when the slot is the one `measure` planned, or the latency itself (seconds)
    when the contender keeps its own slot (the agent: slots are whole wall-clock seconds).
    """

    name: str
    start_one: StartOne
    cleanup: Callable[[int], Awaitable[None]]


async def measure(contenders: list[Contender], runs: int, lead_secs: float = LEAD_SECS) -> dict:
    """Slot-to-running latencies in seconds, per contender, sampled interleaved."""
    loop = asyncio.get_running_loop()
    samples: dict[str, list[float]] = {c.name: [] for c in contenders}
    for i in range(runs):
        for contender in contenders:
            slot = loop.time() + lead_secs
            await asyncio.sleep(slot - loop.time())
            own = await contender.start_one(i)
            samples[contender.name].append(loop.time() - slot if own is None else own)
            await contender.cleanup(i)
    return samples


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a small sample."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def floor_contender(image: str, node_id: str) -> Contender:
    names: dict[int, str] = {}

    async def start_one(i: int) -> None:
        names[i] = f"lsbench_floor_{uuid.uuid4().hex[:10]}"
        proc = await asyncio.create_subprocess_exec(
            "docker", "run", "-d", "--network", "host", "--name", names[i],
            "--label", f"{LABEL_NODE}={node_id}", image, "sleep", "60",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"docker run failed: {err.decode().strip()}")

    async def cleanup(i: int) -> None:
        proc = await asyncio.create_subprocess_exec(
            "docker", "rm", "-f", names.pop(i), stdout=asyncio.subprocess.DEVNULL
        )
        await proc.wait()

    return Contender("docker run -d", start_one, cleanup)


def runtime_contender(
    runtime: DockerRuntime, image: str, node_id: str, run_root: Path
) -> Contender:
    handles: dict[int, object] = {}

    async def start_one(i: int) -> None:
        run_id = uuid.uuid4().hex
        run_dir = run_root / run_id
        run_dir.mkdir()
        await runtime.pull(image, policy=PullPolicy.IF_NOT_PRESENT)
        spec = ContainerSpec(
            run_id=run_id,
            name=f"lsbench_rt_{run_id[:10]}",
            image=image,
            artifacts_dir=run_dir,
            command=["sleep", "60"],
            env={"LEOTEST_JOBID": "bench", "LEOTEST_NODEID": node_id},
            labels={LABEL_NODE: node_id, "leotest": "true"},
            nano_cpus=1_000_000_000,
            memory_bytes=256 * 1024 * 1024,
            pids_limit=256,
        )
        handle = await runtime.start(spec)
        if handle.status is not ContainerStatus.RUNNING:
            raise RuntimeError(f"container not running after start: {handle.status}")
        handles[i] = handle

    async def cleanup(i: int) -> None:
        await runtime.remove(handles.pop(i))  # type: ignore[arg-type]

    return Contender("DockerRuntime pull+start", start_one, cleanup)


def agent_contender(harness: AgentHarness) -> Contender:
    """The node agent end to end (see the module docstring)."""
    runs: dict[int, str] = {}

    async def start_one(i: int) -> float:
        now = time.time()
        slot = math.ceil(now + AGENT_MIN_LEAD_SECS)
        jobid = f"bench-{i}-{uuid.uuid4().hex[:6]}"
        started = harness.expect(jobid)
        await asyncio.to_thread(harness.schedule, jobid, slot)
        record = await asyncio.wait_for(started, slot - now + 30)
        runs[i] = record.runid
        return record.started_at - record.slot

    async def cleanup(i: int) -> None:
        await harness.wait_done(runs.pop(i))

    return Contender("agent slot->running", start_one, cleanup)


class AgentHarness:
    """An orchestrator (thread) and a node agent (this loop) for the agent contender."""

    def __init__(self, root: Path, image: str) -> None:
        from leoscope.client import Client
        from tests.harness import RunningOrchestrator

        self.image = image
        self.orchestrator = RunningOrchestrator(root / "orch")
        caller = self.orchestrator.admin()
        self.node_id = f"bench-{uuid.uuid4().hex[:8]}"
        token = caller.register_node(self.node_id)
        caller.close()
        self.client = Client(
            self.orchestrator.address, "admin", self.orchestrator.admin_token, insecure=True
        )
        executor_config = root / "executor-config.yaml"
        executor_config.write_text(
            "docker:\n  pull_policy: if-not-present\n  execute:\n    memory: 256m\n"
            "    pids_limit: 256\n    stop_grace_secs: 1\n"
        )
        from leoscope.node.agent import Agent
        from leoscope.node.settings import AgentSettings

        self.agent = Agent(
            AgentSettings(
                orchestrator=self.orchestrator.address,
                node_id=self.node_id,
                token=token,
                data_dir=root / "agent",
                insecure=True,
                executor_config=executor_config,
                public_ip_url=None,
            )
        )
        self._waiting: dict[str, asyncio.Future] = {}
        self._done: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.agent.run())
        await asyncio.wait_for(self.agent.ready.wait(), 30)
        self.agent.executor.listeners.append(self._on_status)

    def _on_status(self, record) -> None:
        future = self._waiting.get(record.jobid)
        if record.status == "EXECUTING" and future is not None and not future.done():
            future.set_result(record)
        if record.phase == "done":
            self._done.setdefault(record.runid, asyncio.Event()).set()

    def expect(self, jobid: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._waiting[jobid] = future
        return future

    def schedule(self, jobid: str, slot: int) -> None:
        from leoscope.core.timeutil import from_epoch

        config = f"docker:\n  image: {self.image}\n  execute:\n    name: bench\n"
        self.client.schedule_job(
            jobid, self.node_id, length_secs=5, config=config, at=from_epoch(slot), overhead=False
        )

    async def wait_done(self, runid: str) -> None:
        event = self._done.setdefault(runid, asyncio.Event())
        await asyncio.wait_for(event.wait(), 30)

    async def close(self) -> None:
        self.agent.stop()
        if self._task is not None:
            await asyncio.wait_for(self._task, 30)
        self.client.close()
        self.orchestrator.stop()


def result_lines(samples: dict[str, list[float]], ours: str, floor: str) -> list[dict]:
    lines = []
    for q in (50, 99):
        value = percentile(samples[ours], q) * 1000
        baseline = percentile(samples[floor], q) * 1000
        target = baseline + TARGET_EXTRA_MS
        lines.append(
            {
                "bench": BENCH,
                "metric": f"slot_to_running_p{q}",
                "value": round(value, 1),
                "unit": "ms",
                "baseline": round(baseline, 1),
                "ratio": round(value / baseline, 3) if baseline else None,
                "target": round(target, 1),
                "met": value <= target,
                "runs": len(samples[ours]),
                "contender": ours,
                "mean_ms": round(statistics.fmean(samples[ours]) * 1000, 1),
                "baseline_mean_ms": round(statistics.fmean(samples[floor]) * 1000, 1),
            }
        )
    return lines


async def main(runs: int) -> None:
    image = ensure_busybox_image()
    short_image = ensure_image_with_cmd(["sleep", "0.3"])
    node_id = f"bench-{uuid.uuid4().hex[:8]}"
    runtime = DockerRuntime()
    harness: AgentHarness | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="lsbench-") as tmp:
            harness = AgentHarness(Path(tmp), short_image)
            await harness.start()
            floor = floor_contender(image, node_id)
            ours = runtime_contender(runtime, image, node_id, Path(tmp))
            agent = agent_contender(harness)
            contenders = [floor, ours, agent]
            await measure(contenders, 1)  # warm-up: caches, connection pool, CLI binary
            samples = await measure(contenders, runs)
            await harness.close()
            harness = None
    finally:
        if harness is not None:
            await harness.close()
        client = docker_client()
        for container in client.containers.list(
            all=True, filters={"label": f"{LABEL_NODE}={node_id}"}
        ):
            container.remove(force=True)
        client.close()
        await runtime.close()
    for name in (ours.name, agent.name):
        for line in result_lines(samples, name, floor.name):
            print(json.dumps(line))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs instead of 20")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    asyncio.run(main(args.runs or (5 if args.quick else 20)))
