"""Agent-level upload throughput: a run's archive from hand-over to COMPLETE, against the
library's own upload of the same archive through the same store.

* agent:    a node agent (process runtime) runs a job that writes an incompressible payload;
            the sample is the time from the run's UPLOAD_PENDING (its archive handed to the
            uploader) to its COMPLETE report: the durable queue, get_upload_url through the
            agent's link, the upload in parts, the final report with the archive's checksum.
* baseline: in the same process, right after, `upload_file` of that very archive (the spool
            copy, kept with keep_uploaded) to a sibling blob name, signed by the SDK's
            `upload_url` (one RPC, like the agent).

Stores: the orchestrator's embedded local store, and Azurite when it runs. Target: the
agent's throughput >= 0.8 x the baseline's.

    .venv/bin/python bench/agent_upload.py [--quick] [--size-mib N] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import emit  # noqa: E402
from leoscope.artifacts import upload_file  # noqa: E402
from leoscope.client import AsyncClient, Client, load_global_config  # noqa: E402
from leoscope.core.timeutil import from_epoch  # noqa: E402
from leoscope.node.agent import Agent  # noqa: E402
from leoscope.node.records import RunRecord  # noqa: E402
from leoscope.node.settings import AgentSettings  # noqa: E402
from leoscope.orchestrator.server import OrchestratorServer, ServerSettings  # noqa: E402
from tests.services import AZURITE_BLOB_PORT, AZURITE_CONNECTION_STRING, port_open  # noqa: E402

BENCH = "agent_upload"
MIB = 1024 * 1024
TARGET_RATIO = 0.8


def writer(size: int, seed: int) -> str:
    script = (
        "import os, pathlib, random\n"
        "out = pathlib.Path(os.environ['LEOSCOPE_ARTIFACTS'])\n"
        f"(out / 'payload.bin').write_bytes(random.Random({seed}).randbytes({size}))\n"
    )
    return f"process:\n  command: [{sys.executable!r}, '-c', {script!r}]\n"


async def measure_store(store: str, size: int, repeat: int, scratch: Path) -> None:
    admin_token = secrets.token_urlsafe(16)
    server = OrchestratorServer(
        ServerSettings(listen="127.0.0.1:0", data_dir=scratch / "orch", admin_token=admin_token)
    )
    address = f"127.0.0.1:{await server.start()}"
    admin = AsyncClient(address, "admin", admin_token, insecure=True)
    agent: Agent | None = None
    task: asyncio.Task[None] | None = None
    try:
        if store == "azure":
            blob = {
                "connectionString": AZURITE_CONNECTION_STRING,
                "container": f"bench-{uuid.uuid4().hex[:10]}",
                "artifactPath": "jobs/",
            }
            await admin.set_global_config(load_global_config({"datastore": {"blob": blob}}))
        nodeid = f"bench-{uuid.uuid4().hex[:6]}"
        node = await admin.register_node(nodeid, coords="47.6,-122.3", location="bench")
        settings = AgentSettings(
            orchestrator=address,
            node_id=nodeid,
            token=node.token,
            data_dir=scratch / "agent",
            insecure=True,
            runtime="process",
            public_ip_url=None,
            keep_uploaded=3600.0,
            tle_url=None,
            weather_url=None,
            traffic_monitor=False,
        )
        agent = Agent(settings)
        task = asyncio.create_task(agent.run())
        await asyncio.wait_for(agent.ready.wait(), 30)
        assert agent.executor is not None
        marks: dict[str, dict[str, float]] = {}

        def mark(record: RunRecord) -> None:
            marks.setdefault(record.runid, {}).setdefault(record.status, time.perf_counter())

        agent.executor.listeners.append(mark)
        agent_rates: list[float] = []
        base_rates: list[float] = []
        node_client = Client(address, nodeid, node.token, insecure=True)
        for i in range(repeat):
            jobid = f"up{i}"
            slot = from_epoch(int(time.time()) + 2)
            await admin.schedule_job(
                jobid, nodeid, length_secs=60, config=writer(size, i), at=slot, overhead=False
            )
            run = await _until_complete(admin, jobid)
            times = marks[run.runid]
            archive_size = run.archive_size or 0
            agent_rates.append(archive_size / MIB / (times["COMPLETE"] - times["UPLOAD_PENDING"]))
            spooled = agent.paths.data_dir / "uploads" / f"{run.runid}.zip"
            stem = (run.blob_name or "").removesuffix(".zip")
            sha = run.archive_sha256 or ""

            seconds = await asyncio.to_thread(
                baseline_upload, node_client, run.runid, f"{stem}.bench.zip", sha, spooled
            )
            base_rates.append(archive_size / MIB / seconds)
        node_client.close()
        best, best_base = max(agent_rates), max(base_rates)
        ratio = best / best_base
        emit(
            BENCH,
            f"upload_{store}",
            best,
            "MiB/s",
            baseline=best_base,
            ratio=ratio,
            target=f">= {TARGET_RATIO} x baseline",
            met=ratio >= TARGET_RATIO,
            size_mib=round(size / MIB, 1),
            repeat=repeat,
        )
    finally:
        if agent is not None and task is not None:
            agent.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30)
        await admin.close()
        await server.stop(grace=1.0)


def baseline_upload(client: Client, runid: str, name: str, sha256: str, path: Path) -> float:
    """Seconds for the library's upload of `path`, signed like the agent's (one RPC)."""
    size = path.stat().st_size
    started = time.perf_counter()
    upload_file(
        lambda upload_id: client.upload_url(
            runid, sha256=sha256, size=size, blob_name=name, upload_id=upload_id
        ),
        path,
    )
    return time.perf_counter() - started


async def _until_complete(admin: AsyncClient, jobid: str, within: float = 120.0) -> object:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        runs = await admin.list_runs(job=jobid)
        if runs and runs[0].status in ("COMPLETE", "FAILED"):
            if runs[0].status != "COMPLETE":
                raise RuntimeError(f"run of {jobid} failed: {runs[0].status_message}")
            return runs[0]
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the run of {jobid} did not complete within {within} s")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 MiB, one repeat")
    parser.add_argument("--size-mib", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    size = (20 if args.quick else args.size_mib) * MIB
    repeat = 1 if args.quick else args.repeat
    stores = ["local"] + (["azure"] if port_open("127.0.0.1", AZURITE_BLOB_PORT) else [])
    for store in stores:
        with tempfile.TemporaryDirectory(prefix=f"bench-upload-{store}-") as scratch:
            await measure_store(store, size, repeat, Path(scratch))


if __name__ == "__main__":
    asyncio.run(main())
