"""`leoscope up`: a whole testbed on this machine, running one latency experiment end to end.

An embedded orchestrator (SQLite) and a node agent start in a scratch directory, a node and a
researcher are registered, and the researcher schedules a sample latency experiment
(node/demo.py) a few seconds ahead. The run's statuses are printed as they happen; the agent
uploads the run's archive to the orchestrator's embedded store through a signed URL. Then the
orchestrator's run table, the researcher's download of the archive (through
get_download_url, SHA-256 verified) and where it is, and min/avg/max of the measured
latencies. Exit status 0 only if the run completed and its archive was downloaded. With
`--keep` the testbed keeps running until Ctrl-C, with credentials for the CLI in
`<dir>/connect.env`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from leoscope.client import AsyncClient, Run

DEMO_NODE = "demo-node"
DEMO_USER = "demo-researcher"
DEMO_JOB = "latency-demo"
RUN_LENGTH_SECS = 30
LEAD_SECS = 3
RUN_TIMEOUT_SECS = 45


def up(
    keep: bool = typer.Option(False, "--keep", help="Leave the testbed running (Ctrl-C stops it)."),
    directory: Path | None = typer.Option(
        None, "--dir", help="Scratch directory (default: a new temporary directory)."
    ),
    runtime: str = typer.Option(
        "auto", "--runtime", help="auto (Docker if available), docker or process."
    ),
    verbose: bool = typer.Option(False, "--verbose", help="Show the services' own logs."),
) -> None:
    """Start an orchestrator and a node agent here and run a sample latency experiment.

    Example:

        leoscope up            # or: make demo
    """
    if runtime not in ("auto", "docker", "process"):
        typer.echo(f"error: invalid runtime: {runtime!r} is not auto, docker or process", err=True)
        raise typer.Exit(2)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    scratch = directory or Path(tempfile.mkdtemp(prefix="leoscope-up-"))
    scratch.mkdir(parents=True, exist_ok=True)
    console = Console(highlight=False)
    try:
        ok = asyncio.run(_demo(console, scratch.resolve(), runtime, keep))
    except KeyboardInterrupt:
        ok = False
    raise typer.Exit(0 if ok else 1)


async def _demo(console: Console, scratch: Path, runtime_choice: str, keep: bool) -> bool:
    # Imported here so that other commands start fast.
    from leoscope.client import AsyncClient
    from leoscope.core.timeutil import from_epoch
    from leoscope.node import demo
    from leoscope.node.agent import Agent
    from leoscope.node.settings import AgentSettings
    from leoscope.orchestrator.server import OrchestratorServer, ServerSettings

    started = time.monotonic()
    console.print(f"[bold]LEOScope testbed[/] in {scratch}")
    admin_token = secrets.token_urlsafe(24)
    server = OrchestratorServer(
        ServerSettings(
            listen="127.0.0.1:0", data_dir=scratch / "orchestrator", admin_token=admin_token
        )
    )
    port = await server.start()
    address = f"127.0.0.1:{port}"
    console.print(f"  orchestrator  {address} (SQLite in {scratch / 'orchestrator'})")
    admin = AsyncClient(address, "admin", admin_token, insecure=True)
    researcher: AsyncClient | None = None
    target = await demo.LatencyTarget().start()
    agent: Agent | None = None
    agent_task: asyncio.Task[None] | None = None
    try:
        registered = await admin.register_node(
            DEMO_NODE, coords="47.61,-122.33", location="demo", description="leoscope up"
        )
        user = await admin.register_user(DEMO_USER, name="Demo Researcher", team="demo")
        researcher = AsyncClient(address, DEMO_USER, user.token, insecure=True)
        image, why_not = (None, "")
        if runtime_choice in ("auto", "docker"):
            image, why_not = await asyncio.to_thread(demo.ensure_image)
            if image is None and runtime_choice == "docker":
                console.print(f"[red]error:[/] Docker runtime unavailable: {why_not}")
                return False
        kind = "docker" if image is not None else "process"
        script = None if image else demo.write_python_experiment(scratch)
        if kind == "docker":
            console.print(f"  runtime       docker (image {image}, built locally from busybox)")
        else:
            reason = f"no Docker: {why_not}" if why_not else "as asked"
            console.print(f"  runtime       [yellow]process[/] ({reason})")
        executor_config = scratch / "executor-config.yaml"
        executor_config.write_text("docker:\n  pull_policy: if-not-present\n")
        settings = AgentSettings(
            orchestrator=address,
            node_id=DEMO_NODE,
            token=registered.token,
            data_dir=scratch / "agent",
            insecure=True,
            runtime=kind,
            executor_config=executor_config,
            public_ip_url=None,
        )
        agent = Agent(settings)
        agent_task = asyncio.create_task(agent.run())
        await _until_ready(agent, agent_task)
        console.print(f"  node agent    {DEMO_NODE} (data in {scratch / 'agent'})")

        finished = asyncio.Event()
        t0 = time.monotonic()

        def show(record: object) -> None:
            status = getattr(record, "status", "")
            message = getattr(record, "status_message", "")
            console.print(f"  +{time.monotonic() - t0:6.2f}s  [bold]{status:<10}[/] {message}")
            if status in ("COMPLETE", "FAILED", "ABORTED", "MISSED", "SKIPPED"):
                finished.set()

        assert agent.executor is not None
        agent.executor.listeners.append(show)
        slot = from_epoch(int(time.time()) + LEAD_SECS)
        config = demo.experiment_config(
            image=image, script=script, python=sys.executable, port=target.port
        )
        await researcher.schedule_job(
            DEMO_JOB, DEMO_NODE, length_secs=RUN_LENGTH_SECS, config=config, at=slot, overhead=False
        )
        console.print(
            f"\nScheduled [bold]{DEMO_JOB}[/]: ping 127.0.0.1 and time TCP connects to "
            f"127.0.0.1:{target.port}, one run at {slot:%H:%M:%S} UTC\n"
        )
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(RUN_TIMEOUT_SECS):
                await finished.wait()
        except TimeoutError:
            console.print(f"[red]The run did not finish within {RUN_TIMEOUT_SECS} s.[/]")
        assert agent.outbox is not None
        await agent.outbox.flush(10.0)
        ok = await _report(console, researcher, scratch)
        console.print(f"\n(demo took {time.monotonic() - started:.1f} s)")
        if keep:
            await _keep_running(console, scratch, address, admin_token)
        return ok
    finally:
        if agent is not None and agent_task is not None:
            agent.stop()
            with contextlib.suppress(Exception):
                await agent_task
        await admin.close()
        if researcher is not None:
            await researcher.close()
        await target.close()
        await server.stop(grace=1.0)


async def _until_ready(agent: object, task: asyncio.Task[None]) -> None:
    ready = asyncio.ensure_future(agent.ready.wait())  # type: ignore[attr-defined]
    await asyncio.wait({ready, task}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        task.result()
    if not ready.done():
        ready.cancel()
        raise RuntimeError("the node agent did not start within 30 s")


async def _report(console: Console, researcher: AsyncClient, scratch: Path) -> bool:
    from leoscope.node import demo

    runs = await researcher.list_runs(job=DEMO_JOB)
    table = Table(title="Runs, as the orchestrator has them", title_justify="left")
    for column in ("run", "job", "status", "start (UTC)", "end (UTC)", "message"):
        table.add_column(column, no_wrap=column != "message")
    for run in runs:
        table.add_row(
            run.runid[:8],
            run.jobid,
            run.status,
            f"{run.start_time:%H:%M:%S.%f}"[:-3],
            f"{run.end_time:%H:%M:%S.%f}"[:-3],
            run.status_message,
        )
    console.print()
    console.print(table)
    if not runs:
        return False
    run = runs[0]
    results = await _download(console, researcher, run, scratch)
    csv_path = results / run.runid / demo.RESULTS_FILE if results else None
    if csv_path is not None and csv_path.exists():
        summary = demo.summarize(csv_path.read_text())
        stats = Table(title=f"Latency ({csv_path.name})", title_justify="left")
        for column in ("measurement", "n", "min ms", "avg ms", "max ms"):
            stats.add_column(column, justify="right" if column != "measurement" else "left")
        for row in summary:
            stats.add_row(
                row.kind,
                str(row.count),
                f"{row.min_ms:.3f}",
                f"{row.avg_ms:.3f}",
                f"{row.max_ms:.3f}",
            )
        console.print()
        console.print(stats)
    if run.status == "COMPLETE" and results is not None:
        console.print("\n[green]The run completed.[/]")
        return True
    console.print(f"\n[red]The run ended {run.status}: {run.status_message}[/]")
    return False


async def _download(
    console: Console, researcher: AsyncClient, run: Run, scratch: Path
) -> Path | None:
    """Fetch the run's archive as its owner would (get_download_url, SHA-256 verified) and
    unpack it into <scratch>/results; None if there is nothing to fetch."""
    from leoscope.client import LeoscopeError

    from .archives import extract_archive

    runid, blob_name = run.runid, run.blob_name
    if not blob_name:
        return None
    stored = scratch / "orchestrator" / "artifacts" / blob_name
    if stored.exists():  # the orchestrator's embedded store, on this machine
        console.print(f"\nStored      {stored}")
    results = scratch / "results"
    results.mkdir(parents=True, exist_ok=True)
    try:
        got = await researcher.download_run(runid, results)
    except LeoscopeError as exc:
        console.print(f"[red]Download failed:[/] {exc}")
        return None
    shutil.rmtree(results / runid, ignore_errors=True)
    extract_archive(got.path, results, runid)
    console.print(
        f"Downloaded  {got.path} ({got.size} bytes, SHA-256 {got.sha256[:16]}... verified)"
    )
    console.print(f"Results     {results / runid}")
    return results


async def _keep_running(console: Console, scratch: Path, address: str, admin_token: str) -> None:
    env_file = scratch / "connect.env"
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(
            f"export LEOSCOPE_HOST={address}\nexport LEOSCOPE_USER=admin\n"
            f"export LEOSCOPE_TOKEN={admin_token}\nexport LEOSCOPE_INSECURE=true\n"
        )
    console.print(
        f"\nThe testbed keeps running. In another shell:\n"
        f"  source {env_file}\n  leoscope run list\n"
        "Press Ctrl-C to stop."
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    console.print("Stopping the testbed.")
