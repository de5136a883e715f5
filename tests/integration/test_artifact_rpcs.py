"""get_upload_url / get_download_url through a real orchestrator, for every back end the global
config can select (the embedded local store, Azurite, S3 via moto): a node uploads its own run's
archive and only that, COMPLETE is accepted only for a verified archive, and only the job's owner
or an admin may download it."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from leoscope.api import leotest_pb2 as pb
from leoscope.artifacts import download_file, file_digest, signed_url_from_response, upload_file
from tests.harness import RunningOrchestrator, job_request
from tests.integration.artifacts.servers import S3_ACCESS_KEY, S3_SECRET_KEY, require_azurite
from tests.integration.world import START, World, build_world
from tests.services import AZURITE_CONNECTION_STRING

pytest_plugins = ("tests.integration.artifact_fixtures",)

RUN = "0f3c00000000000000000000000000aa"


def settings_for(backend: str, request: pytest.FixtureRequest) -> pb.settings | None:
    name = f"leoscope-{uuid.uuid4().hex[:10]}"
    blob = pb.blob_settings(connectionString="", container=name, artifactPath="jobs/")
    if backend == "local":
        return None  # no config at all: the embedded default
    if backend == "azure":
        require_azurite()
        blob.connectionString = AZURITE_CONNECTION_STRING
        return pb.settings(datastore=pb.datastore_settings(blob=blob))
    gateway = request.getfixturevalue("s3_gateway")
    store = pb.artifact_store_settings(
        url=f"s3://{name}",
        s3_endpoint=gateway.url,
        s3_access_key=S3_ACCESS_KEY,
        s3_secret_key=S3_SECRET_KEY,
        s3_region="us-east-1",
    )
    return pb.settings(datastore=pb.datastore_settings(blob=blob, store=store))


@pytest.fixture(params=["local", "azure", "s3"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    orch = RunningOrchestrator(tmp_path / "orch")
    w = build_world(orch)
    settings = settings_for(request.param, request)
    if settings is not None:
        resp = w.admin.call(
            "update_global_config", pb.message_update_global_config(config=settings)
        )
        assert resp.state == pb.SUCCESS, resp.message
    run = pb.run_instance(
        runid=RUN,
        jobid="job-a",
        nodeid="node-1",
        userid="alice",
        start_time=START,
        end_time=START,
        last_updated=START,
        status="EXECUTING",
    )
    assert w.node1.call("update_run", pb.message_update_run(run=run)).state == pb.SUCCESS
    yield w
    w.close()
    orch.stop()


def archive(tmp_path: Path, size: int = 300_000) -> Path:
    path = tmp_path / f"{RUN}.zip"
    path.write_bytes(hashlib.sha256(b"x").digest() * (size // 32))
    return path


def upload_request(path: Path, **fields: object) -> pb.message_get_upload_url:
    sha, size = file_digest(path)
    return pb.message_get_upload_url(runid=RUN, sha256=sha, size=size, **fields)


def complete(world: World, blob_name: str, sha: str, size: int) -> pb.message_update_run_response:
    run = pb.run_instance(
        runid=RUN,
        jobid="job-a",
        nodeid="node-1",
        userid="alice",
        start_time=START,
        end_time=START,
        last_updated=START,
        status="COMPLETE",
        status_message="Done executing the job.",
        archive_sha256=sha,
        archive_size=size,
        blob_name=blob_name,
        seq=10,
    )
    return world.node1.call("update_run", pb.message_update_run(run=run))


def test_upload_verify_and_download(world: World, tmp_path: Path) -> None:
    path = archive(tmp_path)
    sha, size = file_digest(path)
    reply = world.node1.call("get_upload_url", upload_request(path))
    assert reply.state == pb.SUCCESS, reply.message
    assert reply.blob_name == f"jobs/node-1/job-a/2031/3/1/{RUN}.zip"  # the reference layout
    # not uploaded yet: COMPLETE is refused, the run stays where it was
    early = complete(world, reply.blob_name, sha, size)
    assert early.state == pb.FAILED
    assert (
        world.alice.call("get_runs", pb.message_get_runs(runid=RUN)).runs[0].status == "EXECUTING"
    )

    def signer(upload_id: str | None):
        req = upload_request(path, **({"upload_id": upload_id} if upload_id else {}))
        return signed_url_from_response(world.node1.call("get_upload_url", req))

    result = upload_file(signer, path)
    assert (result.sha256, result.size) == (sha, size)
    done = complete(world, reply.blob_name, sha, size)
    assert done.state == pb.SUCCESS, done.message
    wrong = complete(world, reply.blob_name, "0" * 64, size)
    assert wrong.state == pb.FAILED  # a checksum that doesn't match is never COMPLETE

    down = world.alice.call("get_download_url", pb.message_get_download_url(runid=RUN))
    assert down.state == pb.SUCCESS, down.message
    got = download_file(signed_url_from_response(down), tmp_path / "got.zip", expected_sha256=sha)
    assert got.sha256 == sha and (tmp_path / "got.zip").read_bytes() == path.read_bytes()


def test_urls_only_for_the_right_callers(world: World, tmp_path: Path) -> None:
    path = archive(tmp_path)
    other_node = world.node3.call("get_upload_url", upload_request(path))
    assert other_node.state == pb.FAILED and other_node.message.startswith("permission denied")
    user = world.alice.call("get_upload_url", upload_request(path))
    assert user.state == pb.FAILED
    stranger = world.bob.call("get_download_url", pb.message_get_download_url(runid=RUN))
    assert stranger.state == pb.FAILED and stranger.message.startswith("permission denied")
    foreign_name = world.node1.call(
        "get_upload_url", upload_request(path, blob_name="jobs/node-9/x.zip")
    )
    assert foreign_name.state == pb.FAILED and "blob_name" in foreign_name.message
    snapshot = world.node1.call(
        "get_upload_url",
        upload_request(path, blob_name=f"jobs/node-1/job-a/2031/3/1/{RUN}.partial-1.zip"),
    )
    assert snapshot.state == pb.SUCCESS, snapshot.message
    missing = world.node1.call(
        "get_upload_url", pb.message_get_upload_url(runid="nope", sha256="0" * 64, size=1)
    )
    assert missing.state == pb.FAILED and "not found" in missing.message
    not_uploaded = world.alice.call("get_download_url", pb.message_get_download_url(runid=RUN))
    assert not_uploaded.state == pb.FAILED


@pytest.mark.parametrize("world", ["azure", "s3"], indirect=True)
def test_users_never_see_storage_keys(world: World) -> None:
    config = world.alice.call("get_global_config", pb.message_get_global_config()).config
    assert config.datastore.blob.connectionString in ("", "********")
    assert config.datastore.store.s3_secret_key in ("", "********")


@pytest.mark.parametrize("world", ["local"], indirect=True)
def test_a_run_cannot_claim_another_runs_archive_or_id(world: World, tmp_path: Path) -> None:
    """Download URLs go to the job's owner: a node must not point a run of its own job at
    another job's archive, nor take over another job's run by its id."""
    path = archive(tmp_path)
    sha, size = file_digest(path)

    def signer(upload_id: str | None):
        req = upload_request(path, **({"upload_id": upload_id} if upload_id else {}))
        return signed_url_from_response(world.node1.call("get_upload_url", req))

    upload_file(signer, path)
    alices = f"jobs/node-1/job-a/2031/3/1/{RUN}.zip"
    assert complete(world, alices, sha, size).state == pb.SUCCESS
    bobs_job = job_request("job-b", "node-3", START, "2031-03-01T12:00:00")
    assert world.bob.call("schedule_job", bobs_job).state == pb.SUCCESS

    def report(runid: str, **fields: object) -> pb.message_update_run_response:
        run = pb.run_instance(
            runid=runid,
            jobid="job-b",
            nodeid="node-3",
            userid="bob",
            start_time=START,
            end_time=START,
            last_updated=START,
            status="EXECUTING",
            **fields,
        )
        return world.node3.call("update_run", pb.message_update_run(run=run))

    before = world.orch.snapshot()["runs"]
    pointed = report("run-b", blob_name=alices)
    assert pointed.state == pb.FAILED and "blob_name" in pointed.message
    taken = report(RUN)
    assert taken.state == pb.FAILED and "job" in taken.message
    assert world.orch.snapshot()["runs"] == before
    assert report("run-b").state == pb.SUCCESS
    nothing = world.bob.call("get_download_url", pb.message_get_download_url(runid="run-b"))
    assert nothing.state == pb.FAILED  # bob's run has no archive, and alice's stays hers
