"""Start latency: from a run's planned slot to its container "running".

Each sample plans a slot a little ahead on the monotonic clock, sleeps until it, then starts
one run; the latency is the time from the slot to "the container is running". Contenders are
measured interleaved (A, B, A, B, ...) so that machine noise hits them alike:

* floor:   `docker run -d` of the same image, as a subprocess (the CLI returns once started);
* runtime: DockerRuntime.pull (local image, IF_NOT_PRESENT) + DockerRuntime.start, with the
           security options and limits the agent uses.

Target: runtime p50 <= floor p50 + 300 ms. `measure()` takes any "start one run" coroutine,
so the agent-level measurement (timer + state machine + runtime) can be added as another
Contender later.

    .venv/bin/python bench/start_latency.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
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
from tests.images import docker_client, ensure_busybox_image

BENCH = "start_latency"
TARGET_EXTRA_MS = 300.0
LEAD_SECS = 0.2
StartOne = Callable[[int], Awaitable[None]]


@dataclass
class Contender:
    """A way to start one run: `start_one(i)` returns once run i's container is running."""

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
            await contender.start_one(i)
            samples[contender.name].append(loop.time() - slot)
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
                "mean_ms": round(statistics.fmean(samples[ours]) * 1000, 1),
                "baseline_mean_ms": round(statistics.fmean(samples[floor]) * 1000, 1),
            }
        )
    return lines


async def main(runs: int) -> None:
    image = ensure_busybox_image()
    node_id = f"bench-{uuid.uuid4().hex[:8]}"
    runtime = DockerRuntime()
    try:
        with tempfile.TemporaryDirectory(prefix="lsbench-") as tmp:
            floor = floor_contender(image, node_id)
            ours = runtime_contender(runtime, image, node_id, Path(tmp))
            await measure([floor, ours], 1)  # warm-up: caches, connection pool, CLI binary
            samples = await measure([floor, ours], runs)
    finally:
        client = docker_client()
        for container in client.containers.list(
            all=True, filters={"label": f"{LABEL_NODE}={node_id}"}
        ):
            container.remove(force=True)
        client.close()
        await runtime.close()
    for line in result_lines(samples, ours.name, floor.name):
        print(json.dumps(line))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs instead of 20")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    asyncio.run(main(args.runs or (5 if args.quick else 20)))
