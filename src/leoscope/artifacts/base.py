"""The artifact store interface, and the signed-URL bundle it hands to nodes and clients.

The orchestrator alone holds a store's credentials. It calls the methods below (they are
blocking: run them in a worker thread) and passes nodes and users a `SignedUrl`: a short-lived
bundle of URLs scoped to ONE blob and ONE operation. `leoscope.artifacts.transfer` moves the
bytes with nothing but that bundle, so a node never sees an account key.

Every back end behaves alike:

* An upload URL lets its holder stage blocks/parts of that blob, list what is staged, commit,
  and read the blob's size and checksum (to see whether it is already there). It cannot touch
  any other blob. A download URL allows GET (with Range) of that blob only.
* Every URL stops working `ttl_secs` after it was issued (default `DEFAULT_URL_TTL_SECS`,
  15 minutes; at most `MAX_URL_TTL_SECS`). The store then answers HTTP 403, which the transfer
  functions raise as `SignedUrlExpired`.
* A committed blob carries its SHA-256 (Azure/S3: user metadata `sha256`; local: a sidecar
  record) and is never overwritten by different content: signing an upload for a name that
  holds other content raises `BlobConflict`.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit

from leoscope.core.errors import InvalidInput, NotFound
from leoscope.core.timeutil import iso_z, utcnow

from .errors import BlobConflict, ChecksumMismatch

DEFAULT_URL_TTL_SECS = 15 * 60
MAX_URL_TTL_SECS = 7 * 24 * 3600  # S3 SigV4 presigned URLs cannot live longer.
MIB = 1024 * 1024
DEFAULT_PART_SIZE = 8 * MIB
MAX_BLOB_NAME_LEN = 1024

Operation = Literal["upload", "download"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


@dataclass(frozen=True, repr=False)
class SignedUrl:
    """Everything a node or user needs to move one blob, without credentials.

    `url` is the blob's signed URL (S3 upload: a presigned HeadObject; the multipart requests
    are in `part_urls`, `list_parts_url` and `complete_url`). `sha256`/`size` describe the
    content expected (upload) or stored (download). `issued_monotonic` is when this process
    received the bundle; `ttl_secs` counts from then, so a skewed clock does not matter.
    """

    backend: str
    operation: Operation
    url: str
    blob_name: str
    expires_at: datetime
    ttl_secs: int
    sha256: str | None = None
    size: int | None = None
    part_size: int | None = None
    upload_id: str | None = None
    part_urls: tuple[str, ...] = ()
    list_parts_url: str | None = None
    complete_url: str | None = None
    issued_monotonic: float = field(default_factory=time.monotonic, compare=False)

    @property
    def deadline_monotonic(self) -> float:
        return self.issued_monotonic + self.ttl_secs

    def expires_within(self, secs: float) -> bool:
        """True when the URLs stop working within `secs` from now (by the monotonic clock)."""
        return time.monotonic() + secs >= self.deadline_monotonic

    def with_url(self, url: str) -> SignedUrl:
        return replace(self, url=url)

    def __repr__(self) -> str:  # URLs are bearer credentials: never print their signatures.
        return (
            f"SignedUrl(backend={self.backend!r}, operation={self.operation!r}, "
            f"blob_name={self.blob_name!r}, url={redact_url(self.url)!r}, "
            f"expires_at={iso_z(self.expires_at)!r}, size={self.size}, parts={len(self.part_urls)})"
        )


@dataclass(frozen=True)
class BlobInfo:
    """A committed blob. `sha256` is None when the blob was stored without one."""

    name: str
    size: int
    sha256: str | None
    last_modified: datetime


class ArtifactStore(ABC):
    """One artifact back end (local directory, Azure Blob Storage, S3).

    Blob names are full names inside the container/bucket/directory (`blob_name_for` builds
    them). Every method raises `InvalidInput` for a malformed name, size, checksum or TTL,
    `leoscope.core.errors.Unavailable` when the store cannot be reached, and never returns a
    partial result silently. Methods block; the orchestrator runs them in a thread.
    """

    backend: ClassVar[str]

    def __init__(self, *, url_ttl_secs: int | None = None) -> None:
        self.url_ttl_secs = check_ttl(url_ttl_secs or DEFAULT_URL_TTL_SECS, "url_ttl_secs")

    @abstractmethod
    def sign_upload(
        self,
        blob_name: str,
        *,
        size: int,
        sha256: str,
        ttl_secs: int | None = None,
        upload_id: str | None = None,
    ) -> SignedUrl:
        """Sign an upload of `size` bytes with SHA-256 `sha256` to `blob_name`.

        Returns a `SignedUrl` (operation "upload") valid for `ttl_secs` (default: the store's
        `url_ttl_secs`). If the blob already exists with this size and checksum, the bundle is
        still returned: the uploader sees the blob and finishes at once (idempotent retries).
        S3 starts (or, given the `upload_id` of an earlier bundle, resumes) a multipart upload;
        calling again with that id only re-signs, so a refresh never loses staged parts.
        Raises `BlobConflict` when the name holds different content.
        """

    @abstractmethod
    def sign_download(self, blob_name: str, *, ttl_secs: int | None = None) -> SignedUrl:
        """Sign a read of `blob_name`, with its stored size and SHA-256 filled in.

        Raises `NotFound("artifact", blob_name)` when there is no such blob.
        """

    @abstractmethod
    def stat(self, blob_name: str) -> BlobInfo:
        """Size, recorded SHA-256 and modification time of a committed blob.

        Raises `NotFound("artifact", blob_name)` when there is no such blob.
        """

    def verify(self, blob_name: str, *, size: int, sha256: str) -> BlobInfo:
        """Check that the committed blob has this size and SHA-256; return its info.

        Azure and S3 compare against the checksum recorded at commit; the local store
        recomputes it from the bytes. Raises `NotFound` or `ChecksumMismatch`.
        """
        sha256 = check_sha256(sha256)
        info = self.stat(blob_name)
        if info.size != size:
            raise ChecksumMismatch(f"artifact {blob_name!r} size", str(size), str(info.size))
        if info.sha256 != sha256:
            raise ChecksumMismatch(f"artifact {blob_name!r} sha256", sha256, str(info.sha256))
        return info

    @abstractmethod
    def delete(self, blob_name: str) -> bool:
        """Delete a blob and anything staged for it. True if a committed blob was removed."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Committed blobs whose names start with `prefix`, in name order."""

    def delete_older_than(self, days: float, *, now: datetime | None = None) -> int:
        """Retention sweep: delete blobs last modified more than `days` ago.

        Also discards abandoned staged uploads older than that. Returns the number of committed
        blobs deleted. `now` defaults to the current time.
        """
        if days < 0:
            raise InvalidInput("days", f"must not be negative (got {days})")
        cutoff = (now or utcnow()) - timedelta(days=days)
        old = [info.name for info in self.list() if info.last_modified < cutoff]
        deleted = sum(1 for name in old if self.delete(name))
        self._discard_stale_uploads(cutoff)
        return deleted

    def _discard_stale_uploads(self, cutoff: datetime) -> None:  # noqa: B027 - optional hook
        """Drop uploads staged before `cutoff` and never committed (where the store keeps them)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and connections."""

    def __enter__(self) -> ArtifactStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- helpers for back ends

    def _ttl(self, ttl_secs: int | None) -> int:
        return self.url_ttl_secs if ttl_secs is None else check_ttl(ttl_secs)

    def _check_name(self, blob_name: str) -> str:
        """A valid blob name for this store (back ends may reserve more names)."""
        return check_blob_name(blob_name)

    def _check_upload(self, blob_name: str, size: int, sha256: str) -> tuple[str, int, str]:
        """The validated (name, size, sha256) of a `sign_upload` call."""
        return self._check_name(blob_name), check_size(size), check_sha256(sha256)

    def _stored_copy(self, name: str, size: int, sha256: str) -> BlobInfo | None:
        """The committed blob when it already holds this content, None when there is none.

        Judges "already uploaded" the same way for every back end (sign_upload, the local
        commit). Raises `BlobConflict` when the name holds other content.
        """
        try:
            info = self.stat(name)
        except NotFound:
            return None
        if info.size == size and self._stored_sha256(info) == sha256:
            return replace(info, sha256=sha256)
        raise BlobConflict(name, f"stored size {info.size}, sha256 {info.sha256}")

    def _stored_sha256(self, info: BlobInfo) -> str | None:
        """The SHA-256 to compare a stored blob by (the local store can compute a missing one)."""
        return info.sha256

    @staticmethod
    def _not_found(blob_name: str) -> NotFound:
        return NotFound("artifact", blob_name)


# ---------------------------------------------------------------- validation


def check_blob_name(name: str, field_name: str = "blob_name") -> str:
    """A blob name safe for every back end: relative, `/`-separated, no `.`/`..` segments."""
    if not isinstance(name, str) or not name:
        raise InvalidInput(field_name, "is empty")
    if len(name) > MAX_BLOB_NAME_LEN:
        raise InvalidInput(field_name, f"is longer than {MAX_BLOB_NAME_LEN} characters")
    if _CONTROL.search(name):
        raise InvalidInput(field_name, f"{name!r} contains a control character or backslash")
    if name.startswith("/") or name.endswith("/"):
        raise InvalidInput(field_name, f"{name!r} must not start or end with '/'")
    for segment in name.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidInput(field_name, f"{name!r} has an empty, '.' or '..' path segment")
    return name


def check_sha256(value: str, field_name: str = "sha256") -> str:
    """Normalise a hex SHA-256 to lowercase; raise InvalidInput when it is not one."""
    if not isinstance(value, str):
        raise InvalidInput(field_name, "must be a hex SHA-256 string")
    lowered = value.strip().lower()
    if not _SHA256.match(lowered):
        raise InvalidInput(field_name, f"{value!r} is not 64 hexadecimal digits")
    return lowered


def check_size(value: int, field_name: str = "size") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInput(field_name, f"must be a positive number of bytes (got {value!r})")
    return value


def check_ttl(value: int, field_name: str = "ttl_secs") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(field_name, f"must be a positive whole number of seconds ({value!r})")
    if value > MAX_URL_TTL_SECS:
        raise InvalidInput(field_name, f"must be at most {MAX_URL_TTL_SECS} s (7 days)")
    return value


def choose_part_size(size: int, *, max_parts: int, minimum: int = DEFAULT_PART_SIZE) -> int:
    """The smallest whole-MiB part size >= `minimum` that splits `size` into <= `max_parts`."""
    needed = -(-size // max_parts)
    part = max(minimum, needed)
    return -(-part // MIB) * MIB


def part_count(size: int, part_size: int) -> int:
    return max(1, -(-size // part_size))


def redact_url(url: str) -> str:
    """The URL without its query string (where signatures live), for logs and reprs."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
