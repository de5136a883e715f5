"""`SignedUrl` <-> `message_signed_url_response`, and reading `message_get_upload_url`.

The orchestrator answers `get_upload_url` / `get_download_url` with `signed_url_response(...)`
(or `failed_response(...)`); nodes and the SDK turn the answer back into a `SignedUrl` with
`signed_url_from_response(...)`, which raises on a FAILED answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from leoscope.api import leotest_pb2 as pb
from leoscope.core.errors import InvalidInput, LeoscopeError
from leoscope.core.timeutil import iso_z, parse_time, utcnow

from .base import SignedUrl, check_sha256, check_size


def signed_url_response(signed: SignedUrl, message: str = "") -> pb.message_signed_url_response:
    """The SUCCESS answer carrying `signed` (every field the transfer functions need)."""
    msg = pb.message_signed_url_response(
        state=pb.SUCCESS,
        message=message or f"{signed.operation} URL for {signed.blob_name}",
        url=signed.url,
        expires_at=iso_z(signed.expires_at),
        backend=signed.backend,
        blob_name=signed.blob_name,
        ttl_secs=signed.ttl_secs,
        operation=signed.operation,
        part_urls=list(signed.part_urls),
    )
    if signed.sha256 is not None:
        msg.sha256 = signed.sha256
    if signed.size is not None:
        msg.size = signed.size
    if signed.part_size is not None:
        msg.part_size = signed.part_size
    if signed.upload_id is not None:
        msg.upload_id = signed.upload_id
    if signed.list_parts_url is not None:
        msg.list_parts_url = signed.list_parts_url
    if signed.complete_url is not None:
        msg.complete_url = signed.complete_url
    return msg


def failed_response(message: str) -> pb.message_signed_url_response:
    return pb.message_signed_url_response(state=pb.FAILED, message=message)


class SignedUrlRefused(LeoscopeError):
    """The orchestrator answered FAILED instead of a signed URL; `message` says why."""


def signed_url_from_response(msg: pb.message_signed_url_response) -> SignedUrl:
    """The `SignedUrl` in an answer; raises SignedUrlRefused when the answer is FAILED."""
    if msg.state != pb.SUCCESS or not msg.url:
        raise SignedUrlRefused(msg.message or "the orchestrator gave no signed URL")
    operation = msg.operation if msg.HasField("operation") else "upload"
    if operation not in ("upload", "download"):
        raise InvalidInput("operation", f"{operation!r} is neither upload nor download")
    expires_at = parse_time(msg.expires_at, "expires_at")
    if msg.HasField("ttl_secs") and msg.ttl_secs > 0:
        ttl_secs = msg.ttl_secs
    else:  # an answer without ttl_secs: fall back on our (possibly skewed) clock
        ttl_secs = max(1, int((expires_at - utcnow()).total_seconds()))
    return SignedUrl(
        backend=msg.backend,
        operation=operation,  # type: ignore[arg-type]
        url=msg.url,
        blob_name=msg.blob_name,
        expires_at=expires_at,
        ttl_secs=ttl_secs,
        sha256=msg.sha256 if msg.HasField("sha256") else None,
        size=msg.size if msg.HasField("size") else None,
        part_size=msg.part_size if msg.HasField("part_size") else None,
        upload_id=msg.upload_id if msg.HasField("upload_id") else None,
        part_urls=tuple(msg.part_urls),
        list_parts_url=msg.list_parts_url if msg.HasField("list_parts_url") else None,
        complete_url=msg.complete_url if msg.HasField("complete_url") else None,
    )


@dataclass(frozen=True)
class UploadRequest:
    """A validated `message_get_upload_url`."""

    runid: str
    sha256: str
    size: int
    blob_name: str | None
    upload_id: str | None


def upload_request_from_pb(msg: pb.message_get_upload_url) -> UploadRequest:
    """Validate the request; raises InvalidInput naming `runid`, `sha256` or `size`."""
    if not msg.runid:
        raise InvalidInput("runid", "is empty")
    if not msg.HasField("sha256"):
        raise InvalidInput("sha256", "is required: the SHA-256 of the archive to upload")
    if not msg.HasField("size"):
        raise InvalidInput("size", "is required: the archive's size in bytes")
    return UploadRequest(
        runid=msg.runid,
        sha256=check_sha256(msg.sha256),
        size=check_size(msg.size),
        blob_name=msg.blob_name if msg.HasField("blob_name") and msg.blob_name else None,
        upload_id=msg.upload_id if msg.HasField("upload_id") and msg.upload_id else None,
    )
