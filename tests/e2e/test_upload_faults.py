"""Uploads through faults: the store stopped in the middle of a 50 MB upload, the agent
killed with SIGKILL during one, a COMPLETE the orchestrator cannot verify, and an
orchestrator without an artifact store (the reference).

Each time the run must end COMPLETE with the archive's checksum, nothing duplicated or lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import signal
import threading
import zipfile
from pathlib import Path
from typing import Any

import grpc
import pytest

from leoscope.api import leotest_pb2 as pb
from leoscope.artifacts import RetryPolicy as TransferPolicy
from leoscope.client import Client
from leoscope.node import upload
from leoscope.retry import RetryPolicy
from tests.fakes.waits import wait_until
from tests.harness import RunningOrchestrator
from tests.integration.artifacts.servers import AzuriteProcess

from .agentproc import AgentProcess
from .conftest import Node, next_second, schedule_at, wait_for_run
from .grpc_recorder import RecordingProxy
from .uploads import expected_payload, use_store, writer_config

pytest_plugins = ("tests.integration.artifact_fixtures",)

BIG = 50 * 1024 * 1024
SMALL = 200_000


def quick_retries(monkeypatch: pytest.MonkeyPatch, wait_secs: float = 1.0) -> None:
    """Give up on an unreachable store within 2 s per attempt; retry after `wait_secs`
    (between half of it and all of it: the backoff's jitter)."""
    monkeypatch.setattr(upload, "TRANSFER_POLICY", TransferPolicy(max_elapsed_secs=2.0))
    policy = RetryPolicy(wait_secs, wait_secs, give_up_after_secs=None)
    monkeypatch.setattr(upload, "RETRY", policy)


def store_answers(connection_string: str) -> bool:
    from azure.core.exceptions import AzureError
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient.from_connection_string(
        connection_string, retry_total=0, connection_timeout=1, read_timeout=2
    )
    try:
        client.get_service_properties()
        return True
    except AzureError:
        return False
    finally:
        client.close()


def downloaded_sha256(admin: Client, runid: str, directory: Path) -> str:
    result = admin.download_run(runid, directory)
    return hashlib.sha256(result.path.read_bytes()).hexdigest()


async def test_the_store_stops_mid_upload_and_comes_back(
    orchestrator: RunningOrchestrator,
    admin: Client,
    node: Node,
    make_agent,
    azurite_process: AzuriteProcess,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # The next attempt comes 3-6 s after the store was found down: it finds it restarted.
    quick_retries(monkeypatch, wait_secs=6.0)
    use_store(orchestrator, "azure", request, connection_string=azurite_process.connection_string)
    agent = await make_agent(runtime="process").start()
    stopped_at: list[int] = []

    def stop_the_store_mid_upload(runid: str, done: int, total: int) -> None:
        if not stopped_at and 0 < done < total:  # runs in the upload's own thread
            stopped_at.append(done)
            azurite_process.stop()

    agent.uploader.progress_listeners.append(stop_the_store_mid_upload)
    schedule_at(admin, "bigdown", node, next_second(1.5), writer_config(BIG), length_secs=30)
    await wait_until(
        lambda: (
            (runs := admin.list_runs(job="bigdown"))
            and runs[0].status == "UPLOAD_PENDING"
            and "artifact store unreachable" in runs[0].status_message
        ),
        40,
        "the run shows UPLOAD_PENDING with the reason",
    )
    assert stopped_at and stopped_at[0] < BIG
    await asyncio.to_thread(azurite_process.start)  # same port, same data
    await wait_until(
        lambda: store_answers(azurite_process.connection_string), 10, "the store back up"
    )

    run = await wait_for_run(admin, "bigdown", ("COMPLETE", "FAILED"), within=60)
    assert run.status == "COMPLETE", run.status_message
    (local,) = agent.state.runs("bigdown")
    assert run.archive_sha256 == local.archive_sha256 and run.archive_size == local.archive_size
    assert run.archive_size > BIG  # the payload does not compress
    result = agent.uploader.results[run.runid]
    assert result.bytes_reused > 0, "parts staged before the store stopped were kept"
    assert result.bytes_reused + result.bytes_sent >= run.archive_size
    sha = await asyncio.to_thread(downloaded_sha256, admin, run.runid, tmp_path)
    assert sha == run.archive_sha256


def uncommitted_blocks(connection_string: str, container: str, blob_name: str) -> int:
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.blob import BlobClient

    client = BlobClient.from_connection_string(connection_string, container, blob_name)
    try:
        return len(client.get_block_list("uncommitted")[1])
    except ResourceNotFoundError:
        return 0
    finally:
        client.close()


def blob_exists(connection_string: str, container: str, blob_name: str) -> bool:
    from azure.storage.blob import BlobClient

    with BlobClient.from_connection_string(connection_string, container, blob_name) as client:
        return client.exists()


@pytest.mark.timeout(180)
async def test_the_agent_killed_during_an_upload_resumes_it_after_a_restart(
    tmp_path: Path,
    orchestrator: RunningOrchestrator,
    admin: Client,
    node: Node,
    azurite_process: AzuriteProcess,
    request: pytest.FixtureRequest,
) -> None:
    connection = azurite_process.connection_string
    container = use_store(orchestrator, "azure", request, connection_string=connection)
    data_dir = tmp_path / "agent"
    args = ("--runtime", "process", "--interval", "1")
    agent = AgentProcess(orchestrator.address, node.id, node.token, data_dir, *args).start()
    try:
        schedule_at(admin, "killed", node, next_second(2.0), writer_config(BIG), length_secs=30)
        running = await wait_for_run(admin, "killed", ("EXECUTING", "FINISHING"), within=20)
        start = running.start_time
        blob = f"jobs/{node.id}/killed/{start.year}/{start.month}/{start.day}/{running.runid}.zip"

        def blocks_staged() -> bool:
            return uncommitted_blocks(connection, container, blob) > 0

        deadline = asyncio.get_running_loop().time() + 40
        while not await asyncio.to_thread(blocks_staged):  # polled without pause: it is fast
            assert asyncio.get_running_loop().time() < deadline, "the upload never started"
        # Freeze the store so the upload cannot finish, then kill the agent in the middle.
        os.killpg(azurite_process.process.pid, signal.SIGSTOP)
        try:
            agent.kill()
        finally:
            os.killpg(azurite_process.process.pid, signal.SIGCONT)
        assert not await asyncio.to_thread(blob_exists, connection, container, blob)
        assert admin.get_run(running.runid).status == "UPLOAD_PENDING"

        agent = AgentProcess(orchestrator.address, node.id, node.token, data_dir, *args).start()
        run = await wait_for_run(admin, "killed", ("COMPLETE", "FAILED"), within=60)
        assert run.status == "COMPLETE", run.status_message
        sha = await asyncio.to_thread(downloaded_sha256, admin, run.runid, tmp_path)
        assert sha == run.archive_sha256
        uploads = re.findall(
            r"archive uploaded blob=\S+ size=(\d+) sent=(\d+) reused=(\d+)", agent.log_text()
        )
        ((size, sent, reused),) = uploads  # the one upload, by the restarted agent
        assert int(reused) > 0, "the parts staged before the kill were not sent again"
        assert int(sent) + int(reused) == int(size) == run.archive_size
        assert node.token not in agent.log_text()
    finally:
        agent.stop()


class HoldingProxy(RecordingProxy):
    """Holds the first COMPLETE update_run until `release` is set (the test acts meanwhile)."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.held = threading.Event()
        self.release = threading.Event()
        self.held_run: pb.run_instance | None = None

    def forward_unary(self, method: str) -> Any:
        forward = super().forward_unary(method)
        if not method.endswith("/update_run"):
            return forward

        async def hold_then_forward(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            run = pb.message_update_run.FromString(request).run
            if run.status == "COMPLETE" and not self.held.is_set():
                self.held_run = run
                self.held.set()
                await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 4.0)
            return await forward(request, context)

        return hold_then_forward


async def test_a_complete_the_orchestrator_cannot_verify_is_uploaded_again(
    orchestrator: RunningOrchestrator,
    admin: Client,
    node: Node,
    make_agent,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    quick_retries(monkeypatch)
    proxy = HoldingProxy(orchestrator.address)
    try:
        agent = await make_agent(address=proxy.address, runtime="process").start()
        schedule_at(admin, "lost", node, next_second(1.5), writer_config(SMALL), length_secs=10)
        await wait_until(proxy.held.is_set, 20, "the first COMPLETE on its way")
        assert proxy.held_run is not None
        store = orchestrator.server.artifacts.local
        assert store.delete(proxy.held_run.blob_name), "the store loses the archive"
        proxy.release.set()

        run = await wait_for_run(admin, "lost", ("COMPLETE", "FAILED"), within=20)
        assert run.status == "COMPLETE", run.status_message
        statuses = [status for _, status in proxy.statuses(run.runid)]
        assert statuses[-3:] == ["UPLOAD_PENDING", "UPLOAD_PENDING", "COMPLETE"]
        again = [u for u in proxy.updates if u.runid == run.runid][-2]
        assert again.message.startswith(
            "upload pending: the orchestrator could not verify the archive (artifact "
        )
        assert again.message.endswith("not found); uploading again")
        sha = await asyncio.to_thread(downloaded_sha256, admin, run.runid, tmp_path)
        assert sha == run.archive_sha256 == proxy.held_run.archive_sha256
        await wait_until(lambda: agent.uploader.queue.entries() == [], 5, "released at last")
    finally:
        proxy.close()


async def test_a_reference_orchestrator_keeps_archives_on_the_node(
    orchestrator: RunningOrchestrator,
    admin: Client,
    node: Node,
    make_agent,
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy = RecordingProxy(orchestrator.address, unimplemented=("get_upload_url", "watch_node"))
    try:
        agent = await make_agent(address=proxy.address, runtime="process", interval=0.5).start()
        schedule_at(admin, "ref", node, next_second(1.5), writer_config(SMALL), length_secs=10)
        run = await wait_for_run(admin, "ref", ("COMPLETE", "FAILED"), within=20)
        assert run.status == "COMPLETE", run.status_message
        assert run.blob_url.startswith("file://") and run.blob_name is None
        archive = Path(run.blob_url.removeprefix("file://"))
        assert archive.is_relative_to(agent.settings.artifact_root)
        stored = await asyncio.to_thread(archive.read_bytes)
        assert hashlib.sha256(stored).hexdigest() == run.archive_sha256
        assert "no get_upload_url: a reference orchestrator?" in caplog.text
        await wait_until(lambda: not agent.uploader.queue.entries(), 5, "nothing left queued")
        with zipfile.ZipFile(io.BytesIO(stored)) as zf:
            assert zf.read(f"{run.runid}/result.bin") == expected_payload(SMALL)
    finally:
        proxy.close()
