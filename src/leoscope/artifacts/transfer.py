"""Node- and CLI-side uploads and downloads, through signed URLs only (no credentials).

`upload_file` sends a file in parts, several at a time, and resumes: it asks the store which
parts it already holds (Azure uncommitted block list, S3 ListParts, local part list) and sends
only the rest, so neither a killed process nor a restarted store loses finished work or adds
duplicate data. The S3 multipart upload id lives in `checkpoint_path` across process restarts.
Give a signer (`sign(upload_id) -> SignedUrl`, e.g. a call to get_upload_url) instead of a
bundle and URLs are re-signed when they near expiry or are refused; S3 resumes need it.

`download_file` streams into `<dest>.part`, resumes it with Range requests, checks the SHA-256,
re-fetches a corrupt copy, and skips the download when `dest` already has the right checksum.

Both are blocking (run them in a thread from asyncio) and report progress as
`progress(bytes_done, bytes_total)` from the calling thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import httpx

from leoscope.core.errors import NotFound

from .base import SignedUrl, check_sha256, part_count
from .errors import (
    BlobConflict,
    ChecksumMismatch,
    SignedUrlRejected,
    TransferFailed,
    TransferUnavailable,
)
from .protocols import MissingParts, UploadGone, UploadProtocol, azure_version, protocol_for
from .session import (
    TRANSIENT_STATUS,
    RetryPolicy,
    SignedCaller,
    SignedSession,
    Signer,
    refused_error,
)

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

DEFAULT_CONCURRENCY = 4
MAX_UPLOAD_ROUNDS = 4
MAX_DOWNLOAD_FETCHES = 3
_READ_CHUNK = 1024 * 1024
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


@dataclass(frozen=True)
class UploadResult:
    """What was stored. `bytes_sent` counts part bytes sent by this call (retries included);
    `bytes_reused` counts bytes of parts the store already held (resume)."""

    sha256: str
    size: int
    blob_name: str
    bytes_sent: int
    bytes_reused: int
    already_stored: bool


@dataclass(frozen=True)
class DownloadResult:
    """The verified file. `bytes_fetched` counts body bytes received by this call."""

    path: Path
    sha256: str
    size: int
    bytes_fetched: int
    skipped: bool


def file_digest(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(hex SHA-256, size) of a file: what get_upload_url wants to know before signing."""
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
        return digest, f.tell()


def _client(concurrency: int) -> httpx.Client:
    limits = httpx.Limits(
        max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2
    )
    timeout = httpx.Timeout(connect=10.0, read=120.0, write=120.0, pool=None)
    return httpx.Client(limits=limits, timeout=timeout, follow_redirects=False)


# ---------------------------------------------------------------------------- upload


def upload_file(
    signed: SignedUrl | Signer,
    path: str | os.PathLike[str],
    *,
    checkpoint_path: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    policy: RetryPolicy | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> UploadResult:
    """Upload `path` to the blob `signed` names, resuming whatever is already staged.

    `signed` is an upload bundle, or a signer called with the upload id to resume (from the
    checkpoint, S3 only) that returns a fresh bundle. Returns once the blob is committed with
    the file's SHA-256 (at once if it already was). Raises:

    * `ChecksumMismatch`: the file's size or SHA-256 differs from the signed ones (it changed);
    * `BlobConflict`: the name already holds other content;
    * `SignedUrlExpired` / `SignedUrlRejected`: refused, and no signer to get a new bundle;
    * `TransferUnavailable`: the store stayed unreachable for `policy.max_elapsed_secs`;
    * `TransferFailed`: any other unexpected answer.
    """
    path = Path(path)
    policy = policy or RetryPolicy()
    checkpoint = _Checkpoint(Path(checkpoint_path)) if checkpoint_path else None
    signer = None if isinstance(signed, SignedUrl) else signed
    size = path.stat().st_size
    if signer is not None:
        resume_id = checkpoint.upload_id(path) if checkpoint else None
        bundle = signer(resume_id)
    else:
        assert isinstance(signed, SignedUrl)
        bundle = signed
    if bundle.operation != "upload":
        raise TransferFailed("upload_file needs an upload URL, got a download URL")
    if bundle.size != size or bundle.sha256 is None:
        raise ChecksumMismatch(f"size of {path}", str(bundle.size), str(size))
    session = SignedSession(bundle, signer)
    with _client(concurrency) as client:
        call = SignedCaller(client, session, policy)
        uploader = _Uploader(path, size, call, checkpoint, progress, concurrency)
        return uploader.run()


def resume_upload_id(
    checkpoint_path: str | os.PathLike[str], path: str | os.PathLike[str]
) -> str | None:
    """The S3 upload id a checkpoint holds for `path` (to pass to get_upload_url), if any."""
    return _Checkpoint(Path(checkpoint_path)).upload_id(Path(path))


class _Uploader:
    def __init__(
        self,
        path: Path,
        size: int,
        call: SignedCaller,
        checkpoint: _Checkpoint | None,
        progress: Progress | None,
        concurrency: int,
    ) -> None:
        self.path = path
        self.size = size
        self.call = call
        self.session = call.session
        self.checkpoint = checkpoint
        self.progress = progress or (lambda done, total: None)
        self.concurrency = max(1, concurrency)
        self.bytes_sent = 0
        self.bytes_reused = 0

    @property
    def signed(self) -> SignedUrl:
        return self.session.current

    def run(self) -> UploadResult:
        protocol = protocol_for(self.call)
        if self._already_stored(protocol):
            return self._result(already_stored=True)
        for round_number in range(1, MAX_UPLOAD_ROUNDS + 1):
            upload_id = self.signed.upload_id
            if self.checkpoint:
                self.checkpoint.save(self.path, self.signed)
            try:
                tokens = self._stage_all(protocol)
                protocol.commit(tokens)
            except MissingParts:
                log.warning(
                    "artifact parts missing at commit, staging again blob=%s round=%d",
                    self.signed.blob_name,
                    round_number,
                )
                continue
            except UploadGone:
                if not self.session.can_refresh:
                    raise TransferFailed(
                        "the multipart upload no longer exists; sign a new upload"
                    ) from None
                log.warning("artifact upload gone, re-signing blob=%s", self.signed.blob_name)
                self.session.refresh(self.signed)
                if self.signed.upload_id == upload_id and self._already_stored(protocol):
                    return self._result(already_stored=True)
                continue
            if self.checkpoint:
                self.checkpoint.clear()
            log.info(
                "artifact uploaded blob=%s size=%d sent=%d reused=%d",
                self.signed.blob_name,
                self.size,
                self.bytes_sent,
                self.bytes_reused,
            )
            return self._result(already_stored=False)
        raise TransferUnavailable(
            f"upload of {self.signed.blob_name!r} lost parts {MAX_UPLOAD_ROUNDS} times in a row"
        )

    def _already_stored(self, protocol: UploadProtocol) -> bool:
        blob = protocol.stored()
        if blob is None:
            return False
        if blob.size != self.size or blob.sha256 != self.signed.sha256:
            raise BlobConflict(
                self.signed.blob_name, f"stored size {blob.size}, sha256 {blob.sha256}"
            )
        if self.checkpoint:
            self.checkpoint.clear()
        self.progress(self.size, self.size)
        return True

    def _stage_all(self, protocol: UploadProtocol) -> list[str]:
        """Read the file once, hashing it; send every part the store does not hold."""
        signed = self.signed
        assert signed.part_size is not None
        part_size = signed.part_size
        count = part_count(self.size, part_size)
        staged = protocol.staged()
        tokens: list[str | None] = [None] * count
        hasher = hashlib.sha256()
        done = 0
        pending: dict[Future[str], tuple[int, int]] = {}

        def collect(futures: set[Future[str]]) -> None:
            nonlocal done
            for future in futures:
                index, length = pending.pop(future)
                tokens[index] = future.result()
                self.bytes_sent += length
                done += length
                self.progress(done, self.size)

        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="artifact-upload") as pool:
            try:
                with open(self.path, "rb") as f:
                    for index in range(count):
                        data = f.read(min(part_size, self.size - index * part_size))
                        hasher.update(data)
                        token = staged.get(index)
                        if token is not None and protocol.matches(index, data, token):
                            tokens[index] = token
                            self.bytes_reused += len(data)
                            done += len(data)
                            self.progress(done, self.size)
                            continue
                        while len(pending) >= self.concurrency:
                            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                            collect(finished)
                        pending[pool.submit(protocol.put_part, index, data)] = (index, len(data))
                    if f.read(1):
                        raise ChecksumMismatch(f"size of {self.path}", str(self.size), "more")
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    collect(finished)
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        actual = hasher.hexdigest()
        if actual != signed.sha256:
            raise ChecksumMismatch(
                f"sha256 of {self.path} (changed since signing?)", str(signed.sha256), actual
            )
        return [t for t in tokens if t is not None]

    def _result(self, *, already_stored: bool) -> UploadResult:
        assert self.signed.sha256 is not None
        return UploadResult(
            sha256=self.signed.sha256,
            size=self.size,
            blob_name=self.signed.blob_name,
            bytes_sent=self.bytes_sent,
            bytes_reused=self.bytes_reused,
            already_stored=already_stored,
        )


class _Checkpoint:
    """A small JSON file naming the upload session a file belongs to (survives restarts).

    The store stays the record of which parts it holds; the checkpoint keeps what cannot be
    rediscovered from it: the S3 upload id, tied to the file's identity (size, mtime, SHA-256).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def upload_id(self, source: Path) -> str | None:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        st = source.stat()
        if data.get("size") != st.st_size or data.get("mtime_ns") != st.st_mtime_ns:
            return None
        upload_id = data.get("upload_id")
        return upload_id if isinstance(upload_id, str) else None

    def save(self, source: Path, signed: SignedUrl) -> None:
        st = source.stat()
        data = {
            "version": 1,
            "blob_name": signed.blob_name,
            "backend": signed.backend,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "sha256": signed.sha256,
            "upload_id": signed.upload_id,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- download


def download_file(
    signed: SignedUrl | Signer,
    dest: str | os.PathLike[str],
    *,
    expected_sha256: str | None = None,
    progress: Progress | None = None,
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
    with _client(1) as client:
        fetcher = _Fetcher(client, session, policy, dest, report)
        for fetch in range(1, MAX_DOWNLOAD_FETCHES + 1):
            digest, size = fetcher.fetch()
            if digest == expected:
                fetcher.publish()
                log.info("artifact downloaded blob=%s size=%d", bundle.blob_name, size)
                return DownloadResult(dest, digest, size, fetcher.bytes_fetched, skipped=False)
            log.warning(
                "artifact download corrupt, fetching again blob=%s attempt=%d",
                bundle.blob_name,
                fetch,
            )
            fetcher.discard()
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
        progress: Progress,
    ) -> None:
        self.client = client
        self.session = session
        self.policy = policy
        self.dest = dest
        self.part = dest.with_name(dest.name + ".part")
        self.meta = dest.with_name(dest.name + ".part.json")
        self.progress = progress
        self.bytes_fetched = 0
        self._hasher = hashlib.sha256()
        self._offset = 0

    def fetch(self) -> tuple[str, int]:
        """Complete `.part`; return its (sha256, size)."""
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        self._load_partial()
        failing_since: float | None = None
        attempt = refreshes = 0
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
            now = time.monotonic()
            failing_since = now if failing_since is None else failing_since
            if now - failing_since >= self.policy.max_elapsed_secs:
                raise TransferUnavailable(f"download failed for too long, last: {problem}")
            attempt += 1
            delay = self.policy.delay(attempt)
            log.warning(
                "artifact download interrupted (attempt %d, retry in %.2f s): %s",
                attempt,
                delay,
                problem,
            )
            time.sleep(delay)

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
                f.flush()
                os.fsync(f.fileno())
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
            while chunk := f.read(4 * _READ_CHUNK):
                self._hasher.update(chunk)
                self._offset += len(chunk)

    def _reset(self) -> None:
        self._hasher = hashlib.sha256()
        self._offset = 0

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
