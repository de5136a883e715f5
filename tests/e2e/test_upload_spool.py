"""Results on the node until they are safe: the spool budget, retention after upload, and
partial snapshots of running runs.

Process runtime (fast, no Docker); the orchestrator's store is the embedded local one unless
a test points it elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import pytest
import yaml

from leoscope.api import leotest_pb2 as pb
from leoscope.client import Client
from leoscope.node import upload
from leoscope.retry import RetryPolicy
from tests.fakes.waits import wait_until
from tests.harness import RunningOrchestrator
from tests.integration.artifacts.servers import free_port

from .conftest import Node, next_second, schedule_at, wait_for_run
from .uploads import make_researcher, use_store, writer_config

pytest_plugins = ("tests.integration.artifact_fixtures",)

PAYLOAD = 300_000


def point_store_at_nothing(orchestrator: RunningOrchestrator) -> None:
    """An S3 store on a port where nothing listens: every signing attempt finds it down."""
    store = pb.artifact_store_settings(
        url="s3://nowhere",
        s3_endpoint=f"http://127.0.0.1:{free_port()}",
        s3_access_key="k",
        s3_secret_key="s",
        s3_region="us-east-1",
    )
    admin = orchestrator.admin()
    try:
        reply = admin.call(
            "update_global_config",
            pb.message_update_global_config(
                config=pb.settings(datastore=pb.datastore_settings(store=store))
            ),
        )
        assert reply.state == pb.SUCCESS, reply.message
    finally:
        admin.close()


async def test_a_full_spool_refuses_new_runs_and_deletes_nothing(
    orchestrator: RunningOrchestrator,
    admin: Client,
    node: Node,
    make_agent,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(upload, "RETRY", RetryPolicy(0.2, 0.5, give_up_after_secs=None))
    caplog.set_level(logging.INFO, logger="leoscope.node.spool")
    point_store_at_nothing(orchestrator)
    agent = await make_agent(runtime="process", spool_budget=100_000, interval=0.3).start()

    schedule_at(admin, "waiting", node, next_second(1.5), writer_config(PAYLOAD), length_secs=10)
    pending = await wait_for_run(admin, "waiting", ("UPLOAD_PENDING",), within=20)
    await wait_until(
        lambda: "artifact store unreachable" in admin.get_run(pending.runid).status_message,
        10,
        "the researcher sees why the upload waits",
    )
    assert admin.get_run(pending.runid).status_message.startswith(
        "upload pending: artifact store unreachable (S3 endpoint is unreachable"
    )
    spooled = agent.uploader.spool_dir / f"{pending.runid}.zip"
    assert spooled.stat().st_size > 100_000

    schedule_at(admin, "refused", node, next_second(1.5), writer_config(10), length_secs=5)
    refused = await wait_for_run(admin, "refused", ("FAILED", "COMPLETE", "UPLOAD_PENDING"))
    assert refused.status == "FAILED"
    assert refused.status_message.startswith("spool full: ")
    assert refused.status_message.endswith("(budget 97.7 KiB); the run was not started")
    (local,) = agent.state.runs("refused")
    assert not agent.paths.run_dir(local.run_relpath).exists(), "it never deployed"
    # Nothing waiting was deleted to make room.
    assert spooled.exists() and agent.paths.archive_path(pending.runid).exists()
    await wait_until(
        lambda: "spool full" in caplog.text and "heartbeat node=" in caplog.text,
        5,
        "the heartbeat log line says so",
    )

    use_store(orchestrator, "s3", request)  # the store is back (moto)
    done = await wait_for_run(admin, "waiting", ("COMPLETE",), within=20)
    assert done.blob_name and done.blob_name.endswith(f"{pending.runid}.zip")
    await wait_until(lambda: not spooled.exists(), 10, "the spool copy released")
    await wait_until(lambda: "below its budget again" in caplog.text, 5, "the all-clear")


async def test_an_uploaded_archive_is_kept_for_keep_uploaded_seconds(
    admin: Client, node: Node, make_agent
) -> None:
    agent = await make_agent(runtime="process", keep_uploaded=1.5).start()
    schedule_at(admin, "kept", node, next_second(1.5), writer_config(1000), length_secs=5)
    run = await wait_for_run(admin, "kept", ("COMPLETE", "FAILED"))
    assert run.status == "COMPLETE", run.status_message
    spooled = agent.uploader.spool_dir / f"{run.runid}.zip"
    await wait_until(
        lambda: (e := agent.uploader.queue.get(run.runid)) is not None and e.keep_until,
        5,
        "kept after the accepted report",
    )
    assert spooled.exists()
    assert not agent.paths.archive_path(run.runid).exists(), "one copy only"
    await wait_until(lambda: not spooled.exists(), 5, "deleted once its time is up")
    assert agent.uploader.queue.get(run.runid) is None


TICKS = 8
TICKER = (
    "import os, pathlib, sys, time\n"
    "out = pathlib.Path(os.environ['LEOSCOPE_ARTIFACTS'])\n"
    f"for i in range({TICKS}):\n"
    "    print(f'tick {i}', flush=True)\n"
    "    with open(out / 'progress.txt', 'a') as f: f.write(f'{i}\\n')\n"
    "    time.sleep(0.3)\n"
)


async def test_partial_snapshots_during_a_run_and_logs_follow_them(
    orchestrator: RunningOrchestrator, node: Node, make_agent, tmp_path: Path
) -> None:
    researcher = make_researcher(orchestrator, tmp_path / "researcher")
    agent = await make_agent(runtime="process").start()
    config = yaml.safe_dump(
        {
            "process": {"command": [sys.executable, "-c", TICKER]},
            "artifacts": {"sync_interval": 0.4},
        }
    )
    with researcher.client as client:
        client.schedule_job(
            "ticker", node.id, length_secs=15, config=config, at=next_second(1.5), overhead=False
        )
        running = await wait_for_run(client, "ticker", ("EXECUTING",))
        # The researcher follows the logs from the first snapshot to the end.
        follow = asyncio.create_task(
            researcher.cli_async("run", "logs", running.runid, "--follow", "--interval", "0.2")
        )
        await wait_until(
            lambda: ".partial-" in (client.get_run(running.runid).blob_name or ""),
            10,
            "a partial snapshot reported while the run goes on",
        )
        mid = client.get_run(running.runid)
        assert mid.status == "EXECUTING"
        assert mid.blob_name.startswith(f"jobs/{node.id}/ticker/")
        with client.open_archive(running.runid) as zf:
            names = {n.split("/", 1)[1] for n in zf.namelist()}
            assert {"progress.txt", "container.stdout", "executor.stdout"} <= names
            partial = zf.read(f"{running.runid}/progress.txt").decode().split()
        assert 0 < len(partial) < TICKS, "taken mid-run"
        result = await asyncio.wait_for(follow, 30)
        final = client.get_run(running.runid)
    assert result.exit_code == 0, result.output
    assert final.status == "COMPLETE" and final.blob_name.endswith(f"/{final.runid}.zip")
    ticks = [line for line in result.stdout.splitlines() if line.startswith("tick ")]
    assert ticks == [f"tick {i}" for i in range(TICKS)], "every line once, in order"
    assert result.stdout.count("==> container.stdout <==") >= 2, (
        "printed from a snapshot, then more"
    )
    assert "==> executor.stdout <==" in result.stdout
    # Snapshots are not kept on the node.
    await wait_until(lambda: not list(agent.uploader.spool_dir.rglob("*.zip")), 5, "spool emptied")
