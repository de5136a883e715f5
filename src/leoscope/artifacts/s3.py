"""S3-compatible back end (AWS, MinIO, Ceph RGW) through boto3; imported only here.

Uploads are multipart so they can resume: `sign_upload` creates the multipart upload itself
(with the SHA-256 as object metadata `sha256`, which S3 only accepts at creation) and presigns
one UploadPart URL per part plus ListParts, CompleteMultipartUpload and a HeadObject of the
target. Part sizes are chosen so an upload has at most `max_parts` parts (default 1,000), which
keeps the RPC answer small. Asking again with the `upload_id` re-signs the same upload, so the
node keeps its staged parts when its URLs expire; asking without one aborts any abandoned
uploads of that key first, so retries never leave duplicates behind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from leoscope.core.errors import InvalidInput, NotFound, Unavailable
from leoscope.core.timeutil import to_utc, utcnow

from .base import (
    DEFAULT_PART_SIZE,
    ArtifactStore,
    BlobInfo,
    SignedUrl,
    check_blob_name,
    check_size,
    choose_part_size,
    part_count,
)

log = logging.getLogger(__name__)

SHA256_METADATA = "sha256"
DEFAULT_MAX_PARTS = 1000  # also the most parts one ListParts page returns
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3Store(ArtifactStore):
    """Objects in one bucket of an S3-compatible service."""

    backend = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        url_ttl_secs: int | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        max_parts: int = DEFAULT_MAX_PARTS,
    ) -> None:
        super().__init__(url_ttl_secs=url_ttl_secs)
        if not bucket:
            raise InvalidInput("store.url", "s3:// needs a bucket name (s3://<bucket>)")
        if (access_key is None) != (secret_key is None):
            raise InvalidInput("s3_access_key", "give both the access key and the secret key")
        if not 1 <= max_parts <= 1000:
            raise InvalidInput("max_parts", "must be between 1 and 1000")
        self.bucket = bucket
        self.region = region or "us-east-1"
        self.part_size = check_size(part_size, "part_size")
        self.max_parts = max_parts
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            # Metadata calls from inside RPCs: fail fast when the store is down (see azure.py).
            retries={"max_attempts": 2, "mode": "standard"},
            connect_timeout=3,
            read_timeout=30,
        )
        self._client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=self.region,
            config=config,
        )
        self._bucket_ready = False

    def sign_upload(
        self,
        blob_name: str,
        *,
        size: int,
        sha256: str,
        ttl_secs: int | None = None,
        upload_id: str | None = None,
    ) -> SignedUrl:
        key, size, sha256 = self._check_upload(blob_name, size, sha256)
        ttl = self._ttl(ttl_secs)
        self._ensure_bucket()
        expires = _expiry(ttl)
        head_url = self._presign("head_object", {"Key": key}, ttl)
        if self._stored_copy(key, size, sha256) is not None:
            # Already stored: the uploader HEADs `url`, sees the checksum and is done.
            return SignedUrl(self.backend, "upload", head_url, key, expires, ttl, sha256, size)
        part_size = choose_part_size(size, max_parts=self.max_parts, minimum=self.part_size)
        upload_id = self._resume_or_create(key, sha256, upload_id)
        base = {"Key": key, "UploadId": upload_id}
        part_urls = tuple(
            self._presign("upload_part", {**base, "PartNumber": number}, ttl)
            for number in range(1, part_count(size, part_size) + 1)
        )
        return SignedUrl(
            backend=self.backend,
            operation="upload",
            url=head_url,
            blob_name=key,
            expires_at=expires,
            ttl_secs=ttl,
            sha256=sha256,
            size=size,
            part_size=part_size,
            upload_id=upload_id,
            part_urls=part_urls,
            list_parts_url=self._presign("list_parts", {**base, "MaxParts": 1000}, ttl),
            complete_url=self._presign("complete_multipart_upload", base, ttl),
        )

    def sign_download(self, blob_name: str, *, ttl_secs: int | None = None) -> SignedUrl:
        ttl = self._ttl(ttl_secs)
        info = self.stat(blob_name)
        return SignedUrl(
            backend=self.backend,
            operation="download",
            url=self._presign("get_object", {"Key": info.name}, ttl),
            blob_name=info.name,
            expires_at=_expiry(ttl),
            ttl_secs=ttl,
            sha256=info.sha256,
            size=info.size,
        )

    def stat(self, blob_name: str) -> BlobInfo:
        key = check_blob_name(blob_name)
        with self._translate():
            try:
                head = self._client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _code(exc) in _MISSING | {"NoSuchBucket"}:
                    raise self._not_found(key) from None
                raise
        return BlobInfo(
            name=key,
            size=head["ContentLength"],
            sha256=(head.get("Metadata") or {}).get(SHA256_METADATA),
            last_modified=to_utc(head["LastModified"]),
        )

    def delete(self, blob_name: str) -> bool:
        key = check_blob_name(blob_name)
        try:
            self.stat(key)
            existed = True
        except NotFound:
            existed = False
        with self._translate():
            self._abort_uploads(key)
            if existed:
                self._client.delete_object(Bucket=self.bucket, Key=key)
                log.info("artifact deleted blob=%s", key)
        return existed

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Objects under `prefix`. `sha256` is None here (S3 listings carry no metadata)."""
        paginator = self._client.get_paginator("list_objects_v2")
        with self._translate():
            try:
                for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                    for obj in page.get("Contents", []):
                        yield BlobInfo(obj["Key"], obj["Size"], None, to_utc(obj["LastModified"]))
            except ClientError as exc:
                if _code(exc) != "NoSuchBucket":
                    raise

    def _discard_stale_uploads(self, cutoff: datetime) -> None:
        """Abort multipart uploads with no activity since `cutoff`: neither started nor given
        a part since. (A node may resume an old upload; its recent parts keep it alive.)"""
        for upload in list(self._uploads(prefix="")):
            if to_utc(upload["Initiated"]) < cutoff and self._last_activity(upload) < cutoff:
                self._abort(upload["Key"], upload["UploadId"])

    def close(self) -> None:
        self._client.close()

    # ---------------------------------------------------------------- internals

    def _resume_or_create(self, key: str, sha256: str, upload_id: str | None) -> str:
        with self._translate():
            if upload_id:
                try:
                    self._client.list_parts(
                        Bucket=self.bucket, Key=key, UploadId=upload_id, MaxParts=1
                    )
                    return upload_id
                except ClientError as exc:
                    if _code(exc) != "NoSuchUpload":
                        raise
                    log.info("artifact upload gone, starting anew blob=%s", key)
            self._abort_uploads(key)
            created = self._client.create_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                Metadata={SHA256_METADATA: sha256},
                ContentType="application/zip",
            )
        log.info("artifact multipart upload started blob=%s", key)
        return created["UploadId"]

    def _last_activity(self, upload: dict[str, Any]) -> datetime:
        last = to_utc(upload["Initiated"])
        with self._translate():
            try:
                parts = self._client.list_parts(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                ).get("Parts", [])
            except ClientError as exc:
                if _code(exc) != "NoSuchUpload":
                    raise
                parts = []
        return max([last, *(to_utc(part["LastModified"]) for part in parts)])

    def _uploads(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self._client.get_paginator("list_multipart_uploads")
        with self._translate():
            try:
                for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                    yield from page.get("Uploads", [])
            except ClientError as exc:
                if _code(exc) != "NoSuchBucket":
                    raise

    def _abort_uploads(self, key: str) -> None:
        for upload in list(self._uploads(prefix=key)):
            if upload["Key"] == key:
                self._abort(key, upload["UploadId"])

    def _abort(self, key: str, upload_id: str) -> None:
        with self._translate():
            try:
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except ClientError as exc:
                if _code(exc) != "NoSuchUpload":
                    raise

    def _presign(self, operation: str, params: dict[str, Any], ttl: int) -> str:
        return self._client.generate_presigned_url(
            operation, Params={"Bucket": self.bucket, **params}, ExpiresIn=ttl
        )

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._translate():
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if _code(exc) not in _MISSING | {"NoSuchBucket"}:
                    raise
                kwargs: dict[str, Any] = {"Bucket": self.bucket}
                if self.region != "us-east-1":
                    kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
                self._client.create_bucket(**kwargs)
                log.info("artifact bucket created bucket=%s", self.bucket)
        self._bucket_ready = True

    @contextmanager
    def _translate(self) -> Iterator[None]:
        """Map boto's transport failures and 5xx answers to Unavailable."""
        try:
            yield
        except (
            EndpointConnectionError,
            ConnectionClosedError,
            ConnectTimeoutError,
            ReadTimeoutError,
        ) as exc:
            raise Unavailable(f"S3 endpoint is unreachable: {exc}") from exc
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500:
                raise Unavailable(f"S3 endpoint failed: {exc}") from exc
            raise


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _expiry(ttl: int) -> datetime:
    # SigV4 presigning stamps whole seconds, so the URLs die at most a second before this.
    return utcnow().replace(microsecond=0) + timedelta(seconds=ttl)
