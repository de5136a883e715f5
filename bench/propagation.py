"""Propagation: from schedule_job to the job in the node agent's local state.

Two agents (each its own node) against one orchestrator: one holds the watch_node stream (the
default), the other only polls every 10 s, like the reference node. Each sample schedules a
job far in the future for one node and times, on the same clock, from just before the
schedule_job call to the moment the job is in that agent's local state. The polling agent is
the baseline; the target is watch p99 < 1 s.

    .venv/bin/python bench/propagation.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit, percentile
from leoscope.client import Client
from leoscope.core.timeutil import utcnow
from leoscope.node.agent import Agent
from leoscope.node.settings import AgentSettings
from tests.harness import RunningOrchestrator

BENCH = "propagation"
POLL_INTERVAL_SECS = 10.0
CONFIG = "docker:\n  image: leoscope-test/busybox:latest\n  execute:\n    name: bench\n"


async def start_agent(orch: RunningOrchestrator, root: Path, node_id: str, watch: bool) -> Agent:
    caller = orch.admin()
    token = caller.register_node(node_id)
    caller.close()
    agent = Agent(
        AgentSettings(
            orchestrator=orch.address,
            node_id=node_id,
            token=token,
            data_dir=root / node_id,
            insecure=True,
            runtime="process",  # no run happens; the runtime does not matter here
            public_ip_url=None,
            interval=POLL_INTERVAL_SECS,
            watch=watch,
        )
    )
    agent._task = asyncio.create_task(agent.run())  # type: ignore[attr-defined]
    await asyncio.wait_for(agent.ready.wait(), 30)
    return agent


def notify_changes(agent: Agent) -> asyncio.Event:
    """An event set whenever the agent's sync stored a job change."""
    changed = asyncio.Event()
    stored = agent.syncer.on_jobs_changed

    def on_jobs_changed() -> None:
        stored()
        changed.set()

    agent.syncer.on_jobs_changed = on_jobs_changed
    return changed


async def sample(client: Client, agent: Agent, changed: asyncio.Event, jobid: str) -> float:
    changed.clear()
    began = time.monotonic()
    await asyncio.to_thread(
        client.schedule_job,
        jobid,
        agent.settings.node_id,
        length_secs=60,
        config=CONFIG,
        at=utcnow() + timedelta(days=1),
        overhead=False,
    )
    while agent.state.job(jobid) is None:
        await changed.wait()
        changed.clear()
    return time.monotonic() - began


async def main(watch_runs: int, poll_runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="lsbench-prop-") as tmp:
        root = Path(tmp)
        orch = RunningOrchestrator(root / "orch")
        client = Client(orch.address, "admin", orch.admin_token, insecure=True)
        agents: list[Agent] = []
        try:
            watching = await start_agent(orch, root, "watching-node", watch=True)
            polling = await start_agent(orch, root, "polling-node", watch=False)
            agents = [watching, polling]
            for _ in range(500):
                if watching.syncer.watch_state == "open":
                    break
                await asyncio.sleep(0.01)
            watched, polled = notify_changes(watching), notify_changes(polling)
            await sample(client, watching, watched, "warm-up")
            watch = []
            for i in range(watch_runs):
                jobid = f"w-{i}-{uuid.uuid4().hex[:6]}"
                watch.append(await sample(client, watching, watched, jobid))
            poll = []
            for i in range(poll_runs):
                # Start at a random phase of the polling period, as real schedules do.
                await asyncio.sleep(random.uniform(0, POLL_INTERVAL_SECS))
                jobid = f"p-{i}-{uuid.uuid4().hex[:6]}"
                poll.append(await sample(client, polling, polled, jobid))
        finally:
            for agent in agents:
                agent.stop()
                await agent._task  # type: ignore[attr-defined]
            client.close()
            orch.stop()
    base_p50, base_p99 = percentile(poll, 50), percentile(poll, 99)
    for q, value, baseline in (
        (50, percentile(watch, 50), base_p50),
        (99, percentile(watch, 99), base_p99),
    ):
        emit(
            BENCH,
            f"schedule_to_local_state_watch_p{q}",
            value * 1000,
            "ms",
            baseline=baseline * 1000,
            ratio=value / baseline if baseline else None,
            target="watch p99 < 1000 ms" if q == 99 else "report",
            met=value < 1.0 if q == 99 else None,
            runs=len(watch),
            baseline_runs=len(poll),
            baseline_kind=f"polling every {POLL_INTERVAL_SECS:g} s",
            mean_ms=round(statistics.fmean(watch) * 1000, 2),
            baseline_mean_ms=round(statistics.fmean(poll) * 1000, 1),
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (about 15 s)")
    args = parser.parse_args()
    asyncio.run(main(watch_runs=10 if args.quick else 20, poll_runs=1 if args.quick else 3))
