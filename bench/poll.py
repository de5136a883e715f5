"""Node poll cycle against the orchestrator vs a bare grpc.aio server with canned replies.

Simulated nodes run the reference node's tick (report_heartbeat, update_node, get_jobs_by_nodeid,
get_tasks, get_scavenger_status) against an orchestrator holding 1,000 nodes x 20 jobs, on
SQLite and on PostgreSQL. In the same run, the same load goes to a bare grpc.aio server that
answers each RPC with a canned reply of the same size. Reported: throughput (closed loop, many
calls in flight), p50/p99 at a fixed 500 RPC/s (1,000 nodes at the reference's 10 s poll rate),
and the ratio to the bare server. The server runs in its own process; so does the load.

    .venv/bin/python bench/poll.py [--quick] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import secrets
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit, free_port, percentile, python_process, wait_port
from leoscope.api import leotest_pb2 as pb
from leoscope.api import leotest_pb2_grpc as pb_grpc

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NODES = 1000
JOBS_PER_NODE = 20
TICK = (
    "report_heartbeat",
    "update_node",
    "get_jobs_by_nodeid",
    "get_tasks",
    "get_scavenger_status",
)


def populate(url: str, tokens: dict[str, str]) -> None:
    from leoscope.orchestrator.store import Store
    from leoscope.orchestrator.store.schema import jobs, nodes, users

    store = Store.open(url)
    now = datetime.now(UTC)
    with store.write() as conn:
        conn.execute(
            sa.insert(users),
            [
                {
                    "id": n,
                    "name": n,
                    "role": 2,
                    "team": "bench",
                    "token_sha256": hashlib.sha256(t.encode()).hexdigest(),
                    "access_token_sha256": None,
                    "created_at": now,
                }
                for n, t in tokens.items()
            ],
        )
        conn.execute(
            sa.insert(nodes),
            [
                {
                    "nodeid": n,
                    "name": n,
                    "description": "bench",
                    "coords": "1,2",
                    "location": "lab",
                    "provider": "starlink",
                    "last_active": None,
                    "scavenger_mode_active": False,
                    "public_ip": "",
                    "created_at": now,
                }
                for n in tokens
            ],
        )
        rows = []
        for n in tokens:
            for j in range(JOBS_PER_NODE):
                rows.append(
                    {
                        "id": f"{n}-job-{j}",
                        "nodeid": n,
                        "server": None,
                        "type": 0,
                        "params_mode": "docker",
                        "params_deploy": "d",
                        "params_execute": "e",
                        "params_finish": "f",
                        "schedule": f"{j * 3} * * * *",
                        "start_date": now,
                        "end_date": now + timedelta(days=30),
                        "length_secs": 60,
                        "overhead": True,
                        "trigger": None,
                        "userid": "bench-user",
                        "config": "docker: {image: x}",
                        "timezone": None,
                        "trigger_wait_secs": None,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        conn.execute(sa.insert(jobs), rows)
    store.dispose()


def tick_requests(nodeid: str) -> dict[str, object]:
    return {
        "report_heartbeat": pb.message_heartbeat(nodeid=nodeid),
        "update_node": pb.message_update_node(nodeid=nodeid, public_ip="198.51.100.7"),
        "get_jobs_by_nodeid": pb.message_get_jobs_by_nodeid(nodeid=nodeid),
        "get_tasks": pb.message_get_tasks(nodeid=nodeid),
        "get_scavenger_status": pb.message_get_scavenger_status(nodeid=nodeid),
    }


async def _load(
    port: int,
    tokens: dict[str, str],
    seconds: float,
    rate: float | None,
    concurrency: int = 64,
    channels: int = 32,
) -> tuple[int, float, list[float]]:
    """Closed loop (rate None: `concurrency` calls in flight) or open loop at `rate` RPC/s."""
    opts = [("grpc.use_local_subchannel_pool", 1)]
    chans = [grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=opts) for _ in range(channels)]
    stubs = [pb_grpc.LeotestOrchestratorStub(c) for c in chans]
    node_ids = list(tokens)
    latencies: list[float] = []
    errors = 0

    async def one(i: int) -> None:
        nonlocal errors
        nodeid = node_ids[i // len(TICK) % len(node_ids)]
        rpc = TICK[i % len(TICK)]
        md = (
            ("x-leotest-userid", nodeid),
            ("x-leotest-access-token", tokens[nodeid]),
            ("x-leotest-jwt-access-token", ""),
        )
        t0 = time.perf_counter()
        try:
            await getattr(stubs[i % channels], rpc)(
                tick_requests(nodeid)[rpc], metadata=md, timeout=10
            )
        except grpc.RpcError:
            errors += 1
            return
        latencies.append(time.perf_counter() - t0)

    # Warm up to the steady state: every node has made one full tick (its first update_node
    # stores its public IP; later ticks repeat it, as real nodes do).
    # Twice, a second apart: change notices from the first round (the IPs being stored) have
    # reached every cache before measuring, as they long have for nodes that poll all day.
    warm = len(node_ids) * len(TICK)
    for _round in range(2):
        for first in range(0, warm, 256):
            await asyncio.gather(*(one(i) for i in range(first, min(first + 256, warm))))
        await asyncio.sleep(1.0)
    latencies.clear()
    start = time.perf_counter()
    end = start + seconds
    counter = 0
    if rate is None:

        async def worker() -> None:
            nonlocal counter
            while time.perf_counter() < end:
                counter += 1
                await one(counter)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    else:
        tasks = []
        interval = 1.0 / rate
        next_at = start
        while next_at < end:
            now = time.perf_counter()
            if now < next_at:
                await asyncio.sleep(next_at - now)
            counter += 1
            tasks.append(asyncio.create_task(one(counter)))
            next_at += interval
        await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for c in chans:
        await c.close()
    return (
        len(latencies),
        elapsed,
        latencies if errors == 0 else latencies + [float("inf")] * errors,
    )


def run_load(port: int, tokens: dict[str, str], seconds: float) -> dict[str, float]:
    done, elapsed, _ = asyncio.run(_load(port, tokens, seconds, None))
    _, _, lat = asyncio.run(_load(port, tokens, seconds, 500.0))
    return {
        "rps": done / elapsed,
        "p50_ms": percentile(lat, 50) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
    }


# ------------------------------------------------------------------------------- bare server
def serve_bare(port: int) -> None:
    """A grpc.aio server answering the tick RPCs with canned replies of realistic size."""
    job = pb.job(
        id="node-0000-job-10",
        nodeid="node-0000",
        type=pb.CRON,
        params=pb.job_params(mode="docker", deploy="d", execute="e", finish="f"),
        schedule="30 * * * *",
        start_date="2026-11-29T00:00:00",
        end_date="2026-12-29T00:00:00",
        length_secs=60,
        overhead=True,
        userid="bench-user",
    )
    canned = {
        "report_heartbeat": pb.message_heartbeat_response(received=True),
        "update_node": pb.message_update_node_response(message="updated node successfully"),
        "get_jobs_by_nodeid": pb.message_get_jobs_by_nodeid_response(
            exists=True, jobs=[job] * JOBS_PER_NODE
        ),
        "get_tasks": pb.message_get_tasks_response(),
        "get_scavenger_status": pb.message_get_scavenger_status_response(node_exists=True),
    }

    class Bare(pb_grpc.LeotestOrchestratorServicer):
        pass

    for rpc, reply in canned.items():

        async def method(self, request, context, _reply=reply):
            return _reply

        setattr(Bare, rpc, method)

    async def main() -> None:
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        pb_grpc.add_LeotestOrchestratorServicer_to_server(Bare(), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        await server.wait_for_termination()

    asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    seconds = 3.0 if args.quick else 8.0
    nodes = 200 if args.quick else NODES
    tokens = {f"node-{i:04d}": secrets.token_hex(32) for i in range(nodes)}
    work = Path(tempfile.mkdtemp(prefix="bench-poll-"))
    results: dict[str, dict[str, float]] = {}
    try:
        port = free_port()
        bare = python_process(["bench/poll.py", "--serve-bare", str(port)], work / "bare.log")
        try:
            wait_port(port)
            results["bare"] = run_load(port, tokens, seconds)
        finally:
            bare.kill()
            bare.wait()
        for backend in args.backends.split(","):
            if backend == "sqlite":
                url = None
                data = work / "sqlite"
                populate(
                    f"sqlite:///{data / 'leoscope.db'}" if data.mkdir() is None else "", tokens
                )
            else:
                schema = f"bench_{secrets.token_hex(4)}"
                engine = sa.create_engine(PG_URL)
                with engine.begin() as conn:
                    conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
                url = f"{PG_URL}?options=-csearch_path%3D{schema}"
                data = work / "pg"
                data.mkdir()
                populate(url, tokens)
            port = free_port()
            cmd = [
                "-m",
                "leoscope",
                "orchestrator",
                "--listen",
                f"127.0.0.1:{port}",
                "--data-dir",
                str(data),
                "--log-level",
                "WARNING",
            ]
            if url:
                cmd += ["--db", url]
            server = python_process(
                cmd, work / f"{backend}.log", env={"LEOSCOPE_ADMIN_TOKEN": secrets.token_hex(16)}
            )
            try:
                try:
                    wait_port(port)
                except TimeoutError:
                    sys.stderr.write((work / f"{backend}.log").read_text())
                    raise
                results[backend] = run_load(port, tokens, seconds)
            finally:
                server.terminate()
                server.wait()
                if backend != "sqlite":
                    with engine.begin() as conn:
                        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
                    engine.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bare_r = results["bare"]
    emit(
        "poll", "bare_rps", bare_r["rps"], "rpc/s", p50_ms=bare_r["p50_ms"], p99_ms=bare_r["p99_ms"]
    )
    for backend in args.backends.split(","):
        r = results[backend]
        ratio = r["rps"] / bare_r["rps"]
        emit(
            "poll",
            f"{backend}_rps",
            r["rps"],
            "rpc/s",
            baseline=bare_r["rps"],
            ratio=ratio,
            target=">= 0.5 of bare",
            met=ratio >= 0.5,
            nodes=nodes,
            jobs_per_node=JOBS_PER_NODE,
        )
        emit(
            "poll",
            f"{backend}_p99_at_500rps",
            r["p99_ms"],
            "ms",
            baseline=bare_r["p99_ms"],
            ratio=r["p99_ms"] / bare_r["p99_ms"],
            target="< 50 ms",
            met=r["p99_ms"] < 50,
            p50_ms=round(r["p50_ms"], 3),
        )


if __name__ == "__main__":
    random.seed(1)
    main()
