"""Faults: a store that stops mid-upload, an uploader killed with SIGKILL, lost staged parts,
corrupt and partial downloads. Real servers throughout (private Azurite, moto, local endpoint).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from leoscope.artifacts import (
    ArtifactStore,
    RetryPolicy,
    TransferUnavailable,
    download_file,
    file_digest,
    resume_upload_id,
    signed_url_response,
    upload_file,
)
from leoscope.artifacts.local import LocalStore
from tests.integration.artifacts.servers import (
    MIB,
    AzuriteProcess,
    BackgroundLoop,
    free_port,
    make_azure_store,
    random_file,
    serve_local_store,
    unique_blob,
    wait_until,
)

pytest_plugins = ("tests.integration.artifact_fixtures",)

REPO_ROOT = Path(__file__).resolve().parents[2]


class RetrySeen(logging.Handler):
    """Sets `event` when the transfer code logs a retry of a failed request."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "failed (attempt" in record.getMessage():
            self.event.set()


@pytest.mark.azurite
@pytest.mark.slow
def test_upload_survives_azurite_stopping_and_starting(
    azurite_process: AzuriteProcess, tmp_path: Path
) -> None:
    source = tmp_path / "run.zip"
    sha256 = random_file(source, 50 * MIB)
    store = make_azure_store(azurite_process.connection_string, "faults")
    blob = unique_blob()
    signed = store.sign_upload(blob, size=50 * MIB, sha256=sha256)
    assert signed.part_size == 8 * MIB

    retry_seen = RetrySeen()
    logging.getLogger("leoscope.artifacts").addHandler(retry_seen)
    azurite_down = threading.Event()
    outcome: dict[str, object] = {}

    def progress(done: int, total: int) -> None:
        # Hold the uploader at 16 MiB until Azurite is down, so the outage hits the upload.
        if done >= 16 * MIB and not azurite_down.is_set():
            assert azurite_down.wait(30), "Azurite was not stopped"

    def run() -> None:
        try:
            outcome["result"] = upload_file(
                signed,
                source,
                progress=progress,
                policy=RetryPolicy(max_elapsed_secs=60, max_delay_secs=1.0),
            )
        except BaseException as exc:
            outcome["error"] = exc

    uploader = threading.Thread(target=run)
    try:
        uploader.start()
        wait_until(lambda: "error" in outcome or _staged(store, blob) >= 2, 30, "blocks staged")
        azurite_process.stop()
        azurite_down.set()
        assert retry_seen.event.wait(30), "the uploader never hit the outage"
        azurite_process.start()
        uploader.join(90)
        assert not uploader.is_alive()
    finally:
        azurite_down.set()
        logging.getLogger("leoscope.artifacts").removeHandler(retry_seen)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"].sha256 == sha256  # type: ignore[attr-defined]
    assert store.verify(blob, size=50 * MIB, sha256=sha256)
    committed = store._container.get_blob_client(blob).get_block_list("committed")[0]  # type: ignore[attr-defined]
    assert len(committed) == 7 and sum(b.size for b in committed) == 50 * MIB
    got = download_file(store.sign_download(blob), tmp_path / "back.zip")
    assert got.sha256 == sha256
    store.close()


def _staged(store: ArtifactStore, blob: str) -> int:
    client = store._container.get_blob_client(blob)  # type: ignore[attr-defined]
    try:
        return len(client.get_block_list("uncommitted")[1])
    except Exception:
        return 0


def test_killed_uploader_resumes_without_duplicates(
    artifact_store: ArtifactStore, tmp_path: Path
) -> None:
    source = tmp_path / "run.zip"
    size = 20 * MIB  # four 5 MiB parts
    sha256 = random_file(source, size)
    blob = unique_blob()
    checkpoint = tmp_path / "run.zip.upload.json"
    bundle = tmp_path / "bundle.pb"
    signed = artifact_store.sign_upload(blob, size=size, sha256=sha256)
    bundle.write_bytes(signed_url_response(signed).SerializeToString())
    part_size = signed.part_size or 0

    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.artifacts.upload_child",
            str(bundle),
            str(source),
            str(checkpoint),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        for line in child.stdout:
            kind, *rest = line.split()
            assert kind == "progress", f"child finished before it was killed: {line}"
            if int(rest[0]) >= part_size:
                os.kill(child.pid, signal.SIGKILL)
                break
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    # The node restarts: it asks for a fresh URL (resuming its S3 upload) and uploads again.
    resumed = artifact_store.sign_upload(
        blob, size=size, sha256=sha256, upload_id=resume_upload_id(checkpoint, source)
    )
    assert resumed.upload_id == signed.upload_id
    result = upload_file(resumed, source, checkpoint_path=checkpoint)

    assert result.sha256 == sha256 and not result.already_stored
    assert result.bytes_reused >= part_size
    assert result.bytes_sent + result.bytes_reused == size  # every byte went up exactly once
    assert not checkpoint.exists()
    assert artifact_store.verify(blob, size=size, sha256=sha256)
    _assert_no_leftovers(artifact_store, blob, parts=4)


def _assert_no_leftovers(store: ArtifactStore, blob: str, parts: int) -> None:
    if store.backend == "azure":
        client = store._container.get_blob_client(blob)  # type: ignore[attr-defined]
        committed, uncommitted = client.get_block_list("all")
        assert len(committed) == parts and not uncommitted
    elif store.backend == "s3":
        client, bucket = store._client, store.bucket  # type: ignore[attr-defined]
        assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
        assert client.head_object(Bucket=bucket, Key=blob, PartNumber=1)["PartsCount"] == parts
    else:
        assert isinstance(store, LocalStore)
        assert list((store.root / ".leoscope" / "staging").iterdir()) == []
    assert [b.name for b in store.list(blob)] == [blob]


def test_parts_lost_by_the_store_are_staged_again(
    tmp_path: Path, background_loop: BackgroundLoop
) -> None:
    served = serve_local_store(tmp_path / "store", background_loop, part_size=MIB)
    store = served.store
    source = tmp_path / "run.zip"
    sha256 = random_file(source, 4 * MIB)
    blob = unique_blob()
    signed = store.sign_upload(blob, size=4 * MIB, sha256=sha256)
    staging = store.root / ".leoscope" / "staging"
    wiped = []

    def progress(done: int, total: int) -> None:
        if done == MIB and not wiped:  # the store "restarts" and loses part 0
            wiped.append(True)
            for entry in staging.iterdir():
                (entry / "parts" / "0").unlink()

    try:
        result = upload_file(signed, source, progress=progress, concurrency=1)
        assert wiped and result.sha256 == sha256
        assert result.bytes_sent == 5 * MIB  # four parts, plus part 0 again
        assert store.verify(blob, size=4 * MIB, sha256=sha256)
    finally:
        background_loop.run(served.endpoint.close())


def test_unreachable_store_gives_up_with_a_typed_error(tmp_path: Path) -> None:
    dead = LocalStore(tmp_path / "store", base_url=f"http://127.0.0.1:{_closed_port()}/artifacts")
    source = tmp_path / "run.zip"
    sha256 = random_file(source, 1024)
    signed = dead.sign_upload(unique_blob(), size=1024, sha256=sha256)
    with pytest.raises(TransferUnavailable):
        upload_file(
            signed, source, policy=RetryPolicy(max_elapsed_secs=0.5, initial_delay_secs=0.05)
        )


def _closed_port() -> int:
    return free_port()


def _etag(url: str) -> str:
    response = httpx.get(url, headers={"Range": "bytes=0-0", "x-ms-version": "2021-08-06"})
    assert response.status_code == 206
    return response.headers["etag"]


def _stored_blob(store: ArtifactStore, tmp_path: Path, size: int) -> tuple[str, str, bytes]:
    source = tmp_path / "run.zip"
    random_file(source, size)
    sha256, _ = file_digest(source)
    blob = unique_blob()
    upload_file(store.sign_upload(blob, size=size, sha256=sha256), source)
    return blob, sha256, source.read_bytes()


def test_partial_download_resumes_with_range(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    size = 3 * MIB
    blob, sha256, content = _stored_blob(artifact_store, tmp_path, size)
    signed = artifact_store.sign_download(blob)
    dest = tmp_path / "dl" / "run.zip"
    dest.parent.mkdir()
    half = size // 2
    dest.with_name("run.zip.part").write_bytes(content[:half])
    dest.with_name("run.zip.part.json").write_text(f'{{"etag": {json.dumps(_etag(signed.url))}}}')

    got = download_file(signed, dest)
    assert got.sha256 == sha256 and got.bytes_fetched == size - half
    assert dest.read_bytes() == content


def test_corrupt_download_is_detected_and_fetched_again(
    artifact_store: ArtifactStore, tmp_path: Path
) -> None:
    size = 2 * MIB
    blob, sha256, content = _stored_blob(artifact_store, tmp_path, size)
    signed = artifact_store.sign_download(blob)
    dest = tmp_path / "dl" / "run.zip"
    dest.parent.mkdir()
    half = size // 2
    corrupt = bytearray(content[:half])
    corrupt[1000] ^= 0xFF
    dest.with_name("run.zip.part").write_bytes(bytes(corrupt))
    dest.with_name("run.zip.part.json").write_text(f'{{"etag": {json.dumps(_etag(signed.url))}}}')

    got = download_file(signed, dest)
    assert got.sha256 == sha256
    assert got.bytes_fetched == (size - half) + size  # the resumed copy failed; all again
    assert dest.read_bytes() == content

    # A wrong file already at dest is replaced; a right one is not fetched again.
    dest.write_bytes(b"not the archive")
    assert download_file(signed, dest).bytes_fetched == size
    again = download_file(signed, dest)
    assert again.skipped and again.bytes_fetched == 0
