"""Run archives as researchers meet them, through the CLI: `run show` lists the files, `run logs`
prints the logs, `run download` verifies, skips, and re-fetches a corrupt copy; only the
job's owner (or an admin) gets a download URL, and no user ever sees the store's account key.

The orchestrator's store is Azure (Azurite); the node's upload is done as the node would,
with the SDK's `upload_url` and nothing but signed URLs.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from leoscope.api import leotest_pb2 as pb
from leoscope.artifacts import upload_file
from leoscope.cli.main import app
from leoscope.client import Client, PermissionDenied
from tests.harness import RunningOrchestrator
from tests.integration.artifacts.servers import require_azurite
from tests.integration.world import START, World, build_world
from tests.services import AZURITE_CONNECTION_STRING, AZURITE_KEY

RUN = "0f3c00000000000000000000000000bb"
LOGS = {
    "executor.stdout": b"2031-03-01T10:00:00Z deploying\n2031-03-01T10:00:01Z executing\n",
    "executor.stderr": b"",
    "container.stdout": b"hello from the experiment\n",
    "container.stderr": b"a warning\n",
}


@dataclass
class Setup:
    orch: RunningOrchestrator
    world: World
    archive: bytes
    sha256: str
    home: Path


def make_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo(f"{RUN}/"), b"")
        for name, data in LOGS.items():
            zf.writestr(f"{RUN}/{name}", data)
        zf.writestr(f"{RUN}/result.bin", os.urandom(300_000))
    return buffer.getvalue()


def report(world: World, status: str, seq: int, **fields: object) -> None:
    run = pb.run_instance(
        runid=RUN,
        jobid="job-a",
        nodeid="node-1",
        userid="alice",
        start_time=START,
        end_time=START,
        last_updated=START,
        status=status,
        seq=seq,
        **fields,
    )
    reply = world.node1.call("update_run", pb.message_update_run(run=run))
    assert reply.state == pb.SUCCESS, reply.message


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    require_azurite()
    root = tmp_path_factory.mktemp("access")
    orch = RunningOrchestrator(root / "orch")
    world = build_world(orch)
    blob = pb.blob_settings(
        connectionString=AZURITE_CONNECTION_STRING,
        container=f"leoscope-{uuid.uuid4().hex[:10]}",
        artifactPath="jobs/",
    )
    reply = world.admin.call(
        "update_global_config",
        pb.message_update_global_config(
            config=pb.settings(datastore=pb.datastore_settings(blob=blob))
        ),
    )
    assert reply.state == pb.SUCCESS, reply.message
    report(world, "EXECUTING", 1)
    archive = make_archive()
    path = root / f"{RUN}.zip"
    path.write_bytes(archive)
    sha = hashlib.sha256(archive).hexdigest()
    with Client(orch.address, "node-1", world.node1.token, insecure=True) as node:
        result = upload_file(
            lambda upload_id: node.upload_url(
                RUN, sha256=sha, size=len(archive), upload_id=upload_id
            ),
            path,
        )
    report(
        world,
        "COMPLETE",
        2,
        status_message="Done executing the job.",
        blob_name=result.blob_name,
        archive_sha256=sha,
        archive_size=len(archive),
    )
    yield Setup(orch, world, archive, sha, root)
    world.close()
    orch.stop()


def cli(setup: Setup, who: str, *args: str) -> Result:
    callers = {"alice": setup.world.alice, "bob": setup.world.bob, "admin": setup.world.admin}
    caller = callers[who]
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("LEOSCOPE_")}
    env.update(
        LEOSCOPE_HOST=setup.orch.address,
        LEOSCOPE_USER=caller.userid,
        LEOSCOPE_TOKEN=caller.token,
        LEOSCOPE_INSECURE="true",
        LEOSCOPE_CONFIG=str(setup.home / "config.toml"),
    )
    return CliRunner().invoke(app, list(args), env=env)


def test_show_lists_the_archive_files(setup: Setup) -> None:
    result = cli(setup, "alice", "run", "show", RUN, "-o", "json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    files = {f["name"]: f["size"] for f in shown["files"]}
    assert files == {**{n: len(d) for n, d in LOGS.items()}, "result.bin": 300_000}
    table = cli(setup, "alice", "run", "show", RUN)
    assert table.exit_code == 0, table.output
    assert "container.stdout" in table.stdout and "300000" in table.stdout


def test_logs_prints_the_executor_and_container_logs(setup: Setup) -> None:
    result = cli(setup, "alice", "run", "logs", RUN)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "==> executor.stdout <==\n"
        "2031-03-01T10:00:00Z deploying\n2031-03-01T10:00:01Z executing\n"
        "==> container.stdout <==\nhello from the experiment\n"
        "==> container.stderr <==\na warning\n"
    )


def test_download_verifies_skips_and_refetches_a_corrupt_copy(setup: Setup, tmp_path: Path) -> None:
    def download() -> dict[str, object]:
        result = cli(setup, "alice", "run", "download", RUN, "--dest", str(tmp_path), "-o", "json")
        assert result.exit_code == 0, result.output
        (row,) = json.loads(result.stdout)
        assert row["sha256"] == setup.sha256
        return row

    target = tmp_path / f"{RUN}.zip"
    assert download()["result"] == "downloaded"
    assert target.read_bytes() == setup.archive
    assert download()["result"] == "already there"

    corrupt = bytearray(setup.archive)
    corrupt[1000] ^= 0xFF
    target.write_bytes(bytes(corrupt))
    row = download()
    assert row["result"] == "downloaded" and row["fetched"] == len(setup.archive)
    assert target.read_bytes() == setup.archive

    # A partial download whose bytes were damaged on disk: resumed, found wrong, fetched anew.
    target.unlink()
    with Client(setup.orch.address, "alice", setup.world.alice.token, insecure=True) as alice:
        signed = alice.download_url(RUN)
    head = httpx.head(signed.url, headers={"x-ms-version": "2021-08-06"})
    half = len(setup.archive) // 2
    damaged = bytearray(setup.archive[:half])
    damaged[10] ^= 0xFF
    (tmp_path / f"{RUN}.zip.part").write_bytes(bytes(damaged))
    (tmp_path / f"{RUN}.zip.part.json").write_text(
        json.dumps({"etag": head.headers["etag"], "size": len(setup.archive)})
    )
    row = download()
    assert row["result"] == "downloaded"
    assert row["fetched"] == len(setup.archive) - half + len(setup.archive), "resumed, then anew"
    assert target.read_bytes() == setup.archive
    assert not (tmp_path / f"{RUN}.zip.part").exists()


def test_only_the_owner_gets_the_archive(setup: Setup, tmp_path: Path) -> None:
    for command in (("run", "download", RUN, "--dest", str(tmp_path)), ("run", "logs", RUN)):
        result = cli(setup, "bob", *command)
        assert result.exit_code == 1, result.output
        assert f"run {RUN!r} not found" in result.output  # not even its existence shows
    assert not list(tmp_path.iterdir())
    with Client(setup.orch.address, "bob", setup.world.bob.token, insecure=True) as bob:
        with pytest.raises(PermissionDenied, match="permission denied"):
            bob.download_url(RUN)
    admin = cli(setup, "admin", "run", "download", RUN, "--dest", str(tmp_path))
    assert admin.exit_code == 0, admin.output


def test_a_user_never_sees_the_account_key(setup: Setup, tmp_path: Path) -> None:
    outputs = [
        cli(setup, "alice", "config", "show", "-o", "json"),
        cli(setup, "alice", "config", "show", "--reveal"),
        cli(setup, "alice", "run", "show", RUN, "-o", "json"),
        cli(setup, "alice", "run", "download", RUN, "--dest", str(tmp_path), "-o", "json"),
    ]
    for result in outputs:
        assert AZURITE_KEY not in result.output
    assert "********" in outputs[0].stdout
    # The check can fail: an admin does see the key.
    revealed = cli(setup, "admin", "config", "show", "--reveal")
    assert revealed.exit_code == 0, revealed.output
    assert AZURITE_KEY in revealed.stdout
