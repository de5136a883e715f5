"""Idle cost of the node agent: CPU use with 100 cached jobs and no run due.

Two `leoscope agent` processes run side by side against one orchestrator (in this process):
one node has 100 jobs (50 cron, 50 one-shot, none due for a day), the other none (the
baseline, measured over the same window). Both sync every 10 s and hold the watch stream, as
in production. CPU is user + system time from /proc/<pid>/stat over the window, in percent of
one core. Target: under 1 % of a core with 100 jobs.

    .venv/bin/python bench/agent_idle.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit
from leoscope.client import Client
from leoscope.core.timeutil import utcnow
from tests.harness import RunningOrchestrator

BENCH = "agent_idle"
JOBS = 100
TARGET_PERCENT = 1.0
CONFIG = "docker:\n  image: leoscope-test/busybox:latest\n  execute:\n    name: idle\n"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_secs(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def start_agent(orch: RunningOrchestrator, root: Path, node_id: str) -> subprocess.Popen[bytes]:
    caller = orch.admin()
    token = caller.register_node(node_id)
    caller.close()
    args = [
        sys.executable, "-m", "leoscope", "agent",
        "--orchestrator", orch.address, "--node-id", node_id,
        "--data-dir", str(root / node_id), "--runtime", "process",
        "--public-ip-url", "off", "--interval", "10", "--log-level", "WARNING",
    ]  # fmt: skip
    log = (root / f"{node_id}.log").open("wb")
    return subprocess.Popen(
        args, env={**os.environ, "LEOSCOPE_NODE_TOKEN": token}, stdout=log, stderr=log
    )


def jobs_with_config(root: Path, node_id: str) -> int:
    path = root / node_id / "agent.sqlite3"
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute("SELECT COUNT(*) FROM jobs WHERE detail IS NOT NULL").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def main(window_secs: float) -> None:
    with tempfile.TemporaryDirectory(prefix="lsbench-idle-") as tmp:
        root = Path(tmp)
        orch = RunningOrchestrator(root / "orch")
        client = Client(orch.address, "admin", orch.admin_token, insecure=True)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            busy = start_agent(orch, root, "busy-node")
            idle = start_agent(orch, root, "empty-node")
            procs = [busy, idle]
            tomorrow = utcnow() + timedelta(days=1)
            for i in range(JOBS):
                common = {"length_secs": 60, "config": CONFIG, "overhead": False}
                if i % 2:
                    client.schedule_job(
                        f"atq-{i}", "busy-node", at=tomorrow + timedelta(minutes=i), **common
                    )
                else:
                    client.schedule_job(
                        f"cron-{i}",
                        "busy-node",
                        cron=f"{i % 60} 3 * * *",
                        start=tomorrow,
                        end=tomorrow + timedelta(days=30),
                        **common,
                    )
            deadline = time.monotonic() + 60
            while jobs_with_config(root, "busy-node") < JOBS:
                if time.monotonic() > deadline or busy.poll() is not None:
                    raise RuntimeError("the agent did not cache the jobs; see its log")
                time.sleep(0.2)
            time.sleep(2.0)  # let start-up work settle
            before = {p.pid: cpu_secs(p.pid) for p in procs}
            began = time.monotonic()
            time.sleep(window_secs)
            elapsed = time.monotonic() - began
            used = {p.pid: cpu_secs(p.pid) - before[p.pid] for p in procs}
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            client.close()
            orch.stop()
    value = used[busy.pid] / elapsed * 100
    baseline = used[idle.pid] / elapsed * 100
    emit(
        BENCH,
        "cpu_percent_of_one_core_100_jobs",
        value,
        "%",
        baseline=baseline,
        ratio=value / baseline if baseline else None,
        target=f"< {TARGET_PERCENT:g} % of a core",
        met=value < TARGET_PERCENT,
        window_secs=round(elapsed, 1),
        jobs=JOBS,
        baseline_kind="the same agent with 0 jobs, same window",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 15 s window instead of 40 s")
    args = parser.parse_args()
    main(15.0 if args.quick else 40.0)
