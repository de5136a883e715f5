"""One contract suite for every artifact back end (local endpoint, Azurite, moto S3).

Everything goes through real servers on loopback and through signed URLs only, as a node or the
CLI would use them.
"""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from leoscope.api import leotest_pb2 as pb
from leoscope.artifacts import (
    ArtifactStore,
    BlobConflict,
    ChecksumMismatch,
    SignedUrl,
    SignedUrlExpired,
    SignedUrlRejected,
    download_file,
    file_digest,
    signed_url_from_response,
    signed_url_response,
    upload_file,
)
from leoscope.core.errors import InvalidInput, NotFound
from leoscope.core.timeutil import utcnow
from tests.integration.artifacts.servers import (
    MIB,
    random_file,
    unique_blob,
    wait_until,
)

pytest_plugins = ("tests.integration.artifact_fixtures",)


def upload(store: ArtifactStore, path: Path, blob: str, **kwargs: object) -> str:
    sha256, size = file_digest(path)
    signed = store.sign_upload(blob, size=size, sha256=sha256)
    result = upload_file(signed, path, **kwargs)  # type: ignore[arg-type]
    assert result.sha256 == sha256 and result.size == size
    return sha256


def refused_now(url: str) -> bool:
    """True once the store answers 403 to a GET of `url` (the expiry has taken effect)."""
    return (
        httpx.get(url, headers={"Range": "bytes=0-0", "x-ms-version": "2021-08-06"}).status_code
        == 403
    )


def test_upload_download_roundtrip_with_checksums(
    artifact_store: ArtifactStore, tmp_path: Path
) -> None:
    source = tmp_path / "run.zip"
    sha256 = random_file(source, 6 * MIB + 17)  # two parts, the last one short
    blob = unique_blob()
    seen: list[tuple[int, int]] = []

    signed = artifact_store.sign_upload(blob, size=source.stat().st_size, sha256=sha256)
    # The bundle survives the wire unchanged (what the orchestrator sends the node).
    signed = signed_url_from_response(
        pb.message_signed_url_response.FromString(signed_url_response(signed).SerializeToString())
    )
    result = upload_file(signed, source, progress=lambda done, total: seen.append((done, total)))

    assert result.sha256 == sha256 and result.bytes_sent == source.stat().st_size
    assert seen[-1] == (source.stat().st_size, source.stat().st_size)
    info = artifact_store.verify(blob, size=source.stat().st_size, sha256=sha256)
    assert info.sha256 == sha256
    assert artifact_store.stat(blob).size == source.stat().st_size

    dest = tmp_path / "out" / "run.zip"
    got = download_file(artifact_store.sign_download(blob), dest)
    assert got.sha256 == sha256 and not got.skipped
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == sha256
    assert not dest.with_name("run.zip.part").exists()

    names = [b.name for b in artifact_store.list(blob.rsplit("/", 1)[0])]
    assert names == [blob]


def test_retried_upload_is_idempotent_and_never_overwrites(
    artifact_store: ArtifactStore, tmp_path: Path
) -> None:
    source = tmp_path / "run.zip"
    random_file(source, 3 * MIB)
    blob = unique_blob()
    sha256 = upload(artifact_store, source, blob)

    sha2, size2 = file_digest(source)
    again = upload_file(artifact_store.sign_upload(blob, size=size2, sha256=sha2), source)
    assert again.already_stored and again.bytes_sent == 0

    other = tmp_path / "other.zip"
    other_sha = random_file(other, 3 * MIB)
    with pytest.raises(BlobConflict):
        artifact_store.sign_upload(blob, size=3 * MIB, sha256=other_sha)
    assert artifact_store.verify(blob, size=3 * MIB, sha256=sha256).sha256 == sha256


def test_file_changed_after_signing_is_not_committed(
    artifact_store: ArtifactStore, tmp_path: Path
) -> None:
    source = tmp_path / "run.zip"
    sha256 = random_file(source, 2 * MIB)
    blob = unique_blob()
    signed = artifact_store.sign_upload(blob, size=2 * MIB, sha256=sha256)
    random_file(source, 2 * MIB)  # same size, other bytes
    with pytest.raises(ChecksumMismatch):
        upload_file(signed, source)
    with pytest.raises(NotFound):
        artifact_store.stat(blob)


def test_file_changed_after_its_digest_is_hashed_again(
    artifact_store: ArtifactStore, tmp_path: Path
) -> None:
    source = tmp_path / "run.zip"
    random_file(source, 2 * MIB)
    ctime = source.stat().st_ctime_ns
    wait_until(lambda: time.time_ns() - ctime > 300_000_000, 5, "the file to age")
    sha256, size = file_digest(source)  # remembered: the upload may skip hashing this version
    signed = artifact_store.sign_upload(unique_blob(), size=size, sha256=sha256)
    with open(source, "r+b") as f:  # same size, one byte different
        f.seek(MIB)
        byte = f.read(1)
        f.seek(MIB)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(ChecksumMismatch):
        upload_file(signed, source)
    with pytest.raises(NotFound):
        artifact_store.stat(signed.blob_name)


def test_download_url_expires(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "run.zip"
    random_file(source, 64 * 1024)
    blob = unique_blob()
    upload(artifact_store, source, blob)

    signed = artifact_store.sign_download(blob, ttl_secs=1)
    assert signed.ttl_secs == 1 and signed.expires_at <= utcnow() + timedelta(seconds=2)
    wait_until(lambda: refused_now(signed.url), timeout=6, what="the 1 s URL to expire")
    with pytest.raises(SignedUrlExpired):
        download_file(signed, tmp_path / "late.zip")
    assert not (tmp_path / "late.zip").exists()


def test_upload_url_expires(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "run.zip"
    sha256 = random_file(source, 64 * 1024)
    blob = unique_blob()
    signed = artifact_store.sign_upload(blob, size=64 * 1024, sha256=sha256, ttl_secs=1)
    wait_until(
        lambda: _head_status(signed.url) == 403, timeout=6, what="the 1 s upload URL to expire"
    )
    with pytest.raises(SignedUrlExpired):
        upload_file(signed, source)
    with pytest.raises(NotFound):
        artifact_store.stat(blob)


def test_signer_replaces_an_expired_upload_url(
    artifact_store: ArtifactStore, tmp_path: Path
) -> None:
    source = tmp_path / "run.zip"
    sha256 = random_file(source, 6 * MIB)
    blob = unique_blob()
    stale = artifact_store.sign_upload(blob, size=6 * MIB, sha256=sha256, ttl_secs=1)
    wait_until(lambda: _head_status(stale.url) == 403, timeout=6, what="the upload URL to expire")
    calls: list[str | None] = []

    def signer(upload_id: str | None) -> SignedUrl:
        calls.append(upload_id)
        if len(calls) == 1:
            return stale
        return artifact_store.sign_upload(blob, size=6 * MIB, sha256=sha256, upload_id=upload_id)

    result = upload_file(signer, source)
    assert len(calls) >= 2 and result.sha256 == sha256
    assert artifact_store.verify(blob, size=6 * MIB, sha256=sha256)
    if stale.upload_id:  # S3: re-signing kept the multipart upload the stale bundle started
        assert calls[1] == stale.upload_id


def test_tampered_signature_is_refused(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "run.zip"
    random_file(source, 64 * 1024)
    blob = unique_blob()
    upload(artifact_store, source, blob)
    signed = artifact_store.sign_download(blob)

    tampered = signed.with_url(_flip_signature(signed.url))
    assert tampered.url != signed.url
    with pytest.raises(SignedUrlRejected) as caught:
        download_file(tampered, tmp_path / "x.zip")
    assert not isinstance(caught.value, SignedUrlExpired)
    # The untouched URL still works, so it was the tampering that was refused.
    assert download_file(signed, tmp_path / "y.zip").size == 64 * 1024


def test_url_for_one_blob_does_not_open_another(
    artifact_store: ArtifactStore, tmp_path: Path
) -> None:
    source = tmp_path / "run.zip"
    random_file(source, 64 * 1024)
    blob_a, blob_b = unique_blob(), unique_blob()
    upload(artifact_store, source, blob_a)
    upload(artifact_store, source, blob_b)
    signed_a = artifact_store.sign_download(blob_a)

    leaf_a, leaf_b = blob_a.rsplit("/", 1)[1], blob_b.rsplit("/", 1)[1]
    assert leaf_a in signed_a.url
    pointed_at_b = signed_a.with_url(signed_a.url.replace(leaf_a, leaf_b))
    with pytest.raises(SignedUrlRejected):
        download_file(pointed_at_b, tmp_path / "b.zip")

    # A download URL cannot be used to write either.
    put = httpx.put(signed_a.url, content=b"x", headers={"x-ms-blob-type": "BlockBlob"})
    assert put.status_code == 403


def test_missing_blobs_and_bad_input(artifact_store: ArtifactStore) -> None:
    blob = unique_blob()
    with pytest.raises(NotFound):
        artifact_store.stat(blob)
    with pytest.raises(NotFound):
        artifact_store.sign_download(blob)
    assert artifact_store.delete(blob) is False
    with pytest.raises(InvalidInput) as bad_name:
        artifact_store.sign_upload("../escape.zip", size=1, sha256="0" * 64)
    assert bad_name.value.field == "blob_name"
    with pytest.raises(InvalidInput) as bad_sha:
        artifact_store.sign_upload(blob, size=1, sha256="not-a-sha")
    assert bad_sha.value.field == "sha256"
    with pytest.raises(InvalidInput) as bad_ttl:
        artifact_store.sign_download(blob, ttl_secs=0)
    assert bad_ttl.value.field == "ttl_secs"


def test_delete_and_retention_sweep(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "run.zip"
    random_file(source, 32 * 1024)
    old, keep = unique_blob("old"), unique_blob("keep")
    upload(artifact_store, source, old)
    upload(artifact_store, source, keep)

    assert artifact_store.delete(keep) is True
    assert artifact_store.delete(keep) is False
    with pytest.raises(NotFound):
        artifact_store.stat(keep)

    # An upload that was started and abandoned (one part staged, never committed). The sweep
    # removes it from S3 and the local store; Azure drops uncommitted blocks itself (7 days).
    sweepable = artifact_store.backend in ("s3", "local")
    sha256, size = file_digest(source)
    abandoned = artifact_store.sign_upload(unique_blob("gone"), size=size, sha256=sha256)
    assert _stage_first_part(abandoned, source) in (200, 201)
    if sweepable:
        assert _abandoned_uploads(artifact_store) == 1

    # Nothing is older than a day yet; seen from two days ahead, everything is.
    assert artifact_store.delete_older_than(1) == 0
    if sweepable:
        assert _abandoned_uploads(artifact_store) == 1
    assert artifact_store.delete_older_than(1, now=utcnow() + timedelta(days=2)) == 1
    assert list(artifact_store.list()) == []
    if sweepable:
        assert _abandoned_uploads(artifact_store) == 0


def _stage_first_part(signed: SignedUrl, source: Path) -> int:
    body = source.read_bytes()[: signed.part_size]
    if signed.backend == "s3":
        return httpx.put(signed.part_urls[0], content=body).status_code
    if signed.backend == "azure":
        url = f"{signed.url}&comp=block&blockid=MDAwMDAw"  # base64 of "000000"
        return httpx.put(url, content=body, headers={"x-ms-version": "2021-08-06"}).status_code
    return httpx.put(f"{signed.url}&part=0&id=p0", content=body).status_code


def _abandoned_uploads(store: ArtifactStore) -> int:
    if store.backend == "s3":
        client, bucket = store._client, store.bucket  # type: ignore[attr-defined]
        return len(client.list_multipart_uploads(Bucket=bucket).get("Uploads", []))
    staging = store.root / ".leoscope" / "staging"  # type: ignore[attr-defined]
    return len(list(staging.iterdir()))


def _head_status(url: str) -> int:
    return httpx.head(url, headers={"x-ms-version": "2021-08-06"}).status_code


def _flip_signature(url: str) -> str:
    """Change one character of the URL's signature parameter (sig=, X-Amz-Signature=)."""
    for marker in ("X-Amz-Signature=", "sig="):
        at = url.find(marker)
        if at >= 0:
            i = at + len(marker)
            replacement = "A" if url[i] != "A" else "B"
            return url[:i] + replacement + url[i + 1 :]
    raise AssertionError("no signature in URL")
