"""Node- and CLI-side downloads through a signed URL (no credentials).

`download_file` streams into `<dest>.part`, resumes it with Range requests (only while the
blob's ETag is unchanged), checks the SHA-256, fetches a corrupt copy again from scratch, and
skips the download when `dest` already has the right checksum.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from leoscope.core.errors import NotFound
from leoscope.retry import Backoff

from .base import SignedUrl, check_sha256
from .digest import BackgroundHasher, file_digest
from .errors import ChecksumMismatch, SignedUrlRejected, TransferFailed
from .protocols import azure_version
from .session import (
    TRANSIENT_STATUS,
    RetryPolicy,
    SignedSession,
    Signer,
    http_client,
    refused_error,
    wait_transient,
)

log = logging.getLogger(__name__)

MAX_DOWNLOAD_FETCHES = 3
_READ_CHUNK = 4 * 1024 * 1024
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


@dataclass(frozen=True)
class DownloadResult:
    """The verified file. `bytes_fetched` counts body bytes received by this call."""

    path: Path
    sha256: str
    size: int
    bytes_fetched: int
    skipped: bool


def download_file(
    signed: SignedUrl | Signer,
    dest: str | os.PathLike[str],
    *,
    expected_sha256: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    policy: RetryPolicy | None = None,
) -> DownloadResult:
    """Download the blob to `dest`, resuming `<dest>.part`, and verify its SHA-256.

    The checksum is `expected_sha256`, else the one in the bundle. When `dest` already has it,
    nothing is fetched. A copy that fails the check is fetched again from scratch (up to
    `MAX_DOWNLOAD_FETCHES` times) before `ChecksumMismatch` is raised. Other errors are as for
    `upload_file`; a signer (called with None) re-signs expired URLs.
    """
    dest = Path(dest)
    policy = policy or RetryPolicy()
    signer = None if isinstance(signed, SignedUrl) else signed
    bundle = signed if isinstance(signed, SignedUrl) else signed(None)
    if bundle.operation != "download":
        raise TransferFailed("download_file needs a download URL, got an upload URL")
    expected = check_sha256(expected_sha256 or bundle.sha256 or "0" * 64)
    if not expected_sha256 and not bundle.sha256:
        raise TransferFailed(f"no SHA-256 is known for {bundle.blob_name!r}: pass expected_sha256")
    report = progress or (lambda done, total: None)
    if dest.is_file():
        digest, size = file_digest(dest)
        if digest == expected:
            report(size, size)
            return DownloadResult(dest, digest, size, 0, skipped=True)
    session = SignedSession(bundle, signer)
    with http_client(1) as client:
        fetcher = _Fetcher(client, session, policy, dest, report)
        try:
            for fetch in range(1, MAX_DOWNLOAD_FETCHES + 1):
                digest, size = fetcher.fetch()
                if digest == expected:
                    fetcher.publish()
                    log.info("artifact downloaded blob=%s size=%d", bundle.blob_name, size)
                    return DownloadResult(dest, digest, size, fetcher.bytes_fetched, False)
                log.warning(
                    "artifact download corrupt, fetching again blob=%s attempt=%d",
                    bundle.blob_name,
                    fetch,
                )
                fetcher.discard()
        finally:
            fetcher.close()
    raise ChecksumMismatch(f"download of {bundle.blob_name!r}", expected, digest)


class _Fetcher:
    """Streams a blob into `<dest>.part`, picking up where an earlier attempt stopped.

    `<dest>.part.json` remembers the blob's ETag, so a partial copy is only continued while
    the blob is unchanged. The running SHA-256 always covers exactly the bytes in `.part`.
    """

    def __init__(
        self,
        client: httpx.Client,
        session: SignedSession,
        policy: RetryPolicy,
        dest: Path,
        progress: Callable[[int, int], None],
    ) -> None:
        self.client = client
        self.session = session
        self.policy = policy
        self.dest = dest
        self.part = dest.with_name(dest.name + ".part")
        self.meta = dest.with_name(dest.name + ".part.json")
        self.progress = progress
        self.bytes_fetched = 0
        self._hasher = BackgroundHasher()
        self._offset = 0

    def fetch(self) -> tuple[str, int]:
        """Complete `.part`; return its (sha256, size)."""
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        self._load_partial()
        backoff: Backoff | None = None
        refreshes = 0
        while True:
            signed = self.session.get()
            try:
                total = self._stream(signed)
                return self._hasher.hexdigest(), total
            except _Restart:
                self.discard()
                self._reset()
                continue
            except _Refused as exc:
                if not self.session.can_refresh or refreshes >= 2:
                    raise exc.error from None
                refreshes += 1
                self.session.refresh(signed)
                continue
            except (httpx.TransportError, _TransientStatus) as exc:
                problem = str(exc) or type(exc).__name__
            backoff = backoff or self.policy.backoff()
            wait_transient(
                backoff, "download", problem, f"download failed for too long, last: {problem}"
            )

    def _stream(self, signed: SignedUrl) -> int:
        headers = {"Range": f"bytes={self._offset}-"} if self._offset else {}
        if signed.backend == "azure":
            headers["x-ms-version"] = azure_version(signed.url)
        with self.client.stream("GET", signed.url, headers=headers) as response:
            status = response.status_code
            if status not in (200, 206):
                response.read()
                if status == 403:
                    raise _Refused(refused_error(response, signed))
                if status in TRANSIENT_STATUS:
                    raise _TransientStatus(f"HTTP {status}")
                if status == 416:
                    raise _Restart()
                if status == 404:
                    raise NotFound("artifact", signed.blob_name)
                raise TransferFailed(
                    f"download of {signed.blob_name!r}: HTTP {status}: {response.text[:300]}",
                    status,
                )
            total, start = self._extent(response)
            etag = response.headers.get("etag", "")
            if start == 0:
                self._start_fresh(etag, total)
            elif self._saved_etag() != etag:
                raise _Restart()  # the blob changed since the partial copy was made
            with open(self.part, "r+b" if start else "wb") as f:
                f.seek(start)
                for chunk in response.iter_raw():
                    f.write(chunk)
                    self._hasher.update(chunk)
                    self._offset += len(chunk)
                    self.bytes_fetched += len(chunk)
                    self.progress(self._offset, total)
            if self._offset != total:
                raise _TransientStatus(f"body ended at {self._offset} of {total} bytes")
            return total

    def _extent(self, response: httpx.Response) -> tuple[int, int]:
        """(total size, first byte of this body); a 200 means the whole blob from byte 0."""
        if response.status_code == 200:
            self._reset()
            return int(response.headers.get("content-length", "0")), 0
        m = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
        if not m or m.group(3) == "*" or int(m.group(1)) != self._offset:
            raise _Restart()
        return int(m.group(3)), self._offset

    def _load_partial(self) -> None:
        """Continue an earlier partial copy (hashing what it holds), or start clean."""
        self._reset()
        if not self.part.exists() or self._saved_etag() is None:
            self.discard()
            return
        with open(self.part, "rb") as f:
            while chunk := f.read(_READ_CHUNK):
                self._hasher.update(chunk)
                self._offset += len(chunk)

    def _reset(self) -> None:
        self._hasher.close()
        self._hasher = BackgroundHasher()
        self._offset = 0

    def close(self) -> None:
        """Stop the hashing thread."""
        self._hasher.close()

    def _start_fresh(self, etag: str, total: int) -> None:
        self.part.unlink(missing_ok=True)
        self.meta.write_text(json.dumps({"etag": etag, "size": total}))

    def _saved_etag(self) -> str | None:
        try:
            return str(json.loads(self.meta.read_text())["etag"])
        except (FileNotFoundError, ValueError, KeyError):
            return None

    def publish(self) -> None:
        os.replace(self.part, self.dest)
        self.meta.unlink(missing_ok=True)

    def discard(self) -> None:
        self.part.unlink(missing_ok=True)
        self.meta.unlink(missing_ok=True)


class _Refused(Exception):
    def __init__(self, error: SignedUrlRejected) -> None:
        self.error = error


class _Restart(Exception):
    """The partial copy cannot be continued: fetch from byte 0."""


class _TransientStatus(Exception):
    """A retryable answer (5xx, a cut-short body, a re-signed URL)."""
