"""The agent uploads each run's archive to the orchestrator's store, for every back end the
global config can select (the embedded local store, Azurite, S3 through moto), and the
researcher downloads and verifies it with the CLI.

The runs use the process runtime (fast, no Docker): uploads do not depend on the runtime.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from leoscope.client import Client
from leoscope.node.records import RunPhase, RunRecord
from tests.fakes.waits import wait_until
from tests.harness import RunningOrchestrator

from .conftest import Node, next_second, wait_for_run
from .uploads import expected_payload, make_researcher, use_store, writer_config

pytest_plugins = ("tests.integration.artifact_fixtures",)

PAYLOAD = 300_000


@pytest.fixture(params=["local", "azure", "s3"])
def backend(request: pytest.FixtureRequest, orchestrator: RunningOrchestrator) -> str:
    use_store(orchestrator, request.param, request)
    return request.param


async def test_the_run_is_complete_once_its_archive_is_stored_and_the_owner_downloads_it(
    backend: str,
    orchestrator: RunningOrchestrator,
    admin: Client,
    node: Node,
    make_agent,
    tmp_path: Path,
) -> None:
    researcher = make_researcher(orchestrator, tmp_path / "researcher")
    agent = await make_agent(runtime="process").start()
    seen: list[RunRecord] = []
    agent.executor.listeners.append(seen.append)
    jobid = f"up-{backend}"
    with researcher.client as client:
        client.schedule_job(
            jobid,
            node.id,
            length_secs=10,
            config=writer_config(PAYLOAD),
            at=next_second(1.5),
            overhead=False,
        )
    run = await wait_for_run(admin, jobid, ("COMPLETE", "FAILED"), within=30)
    assert run.status == "COMPLETE", run.status_message
    assert run.status_message == "Done executing the job."
    assert run.blob_name == f"jobs/{node.id}/{jobid}/{run.start_time:%Y/%-m/%-d}/{run.runid}.zip"
    assert [r.status for r in seen][-2:] == ["UPLOAD_PENDING", "COMPLETE"]
    assert seen[-2].status_message.startswith("upload pending: queued for upload")
    (local,) = agent.state.runs(jobid)
    assert local.phase is RunPhase.DONE
    assert local.archive_sha256 == run.archive_sha256 and local.archive_size == run.archive_size
    # Accepted by the orchestrator: the node lets go of its copies (keep_uploaded = 0).
    await wait_until(
        lambda: not list(agent.uploader.spool_dir.glob("*.zip")), 10, "the spool copy deleted"
    )
    assert not agent.paths.archive_path(run.runid).exists()
    assert agent.uploader.queue.entries() == []

    dest = tmp_path / "results"
    result = await researcher.cli_async(
        "run", "download", run.runid, "--dest", str(dest), "--extract", "-o", "json"
    )
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["result"] == "downloaded"
    assert row["sha256"] == run.archive_sha256 and row["size"] == run.archive_size
    archive = dest / f"{run.runid}.zip"
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == run.archive_sha256
    assert (dest / run.runid / "result.bin").read_bytes() == expected_payload(PAYLOAD)
    with zipfile.ZipFile(archive) as zf:
        assert zf.read(f"{run.runid}/container.stdout") == b"hello from the experiment\n"

    again = await researcher.cli_async("run", "download", run.runid, "--dest", str(dest))
    assert again.exit_code == 0, again.output
    assert "already there" in again.stdout
