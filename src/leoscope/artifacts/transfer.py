"""Node- and CLI-side uploads, through signed URLs only (no credentials).

`upload_file` sends a file in parts, several at a time, and resumes: it asks the store which
parts it already holds (Azure uncommitted block list, S3 ListParts, local part list) and sends
only the rest, so neither a killed process nor a restarted store loses finished work or adds
duplicate data. The S3 multipart upload id lives in `checkpoint_path` across process restarts.
Give a signer (`sign(upload_id) -> SignedUrl`, e.g. a call to get_upload_url) instead of a
bundle and URLs are re-signed when they near expiry or are refused; S3 resumes need it.

Downloads are in `download.py` (`download_file`, re-exported here). Both are blocking (run them
in a thread from asyncio) and report `progress(bytes_done, bytes_total)` from the calling thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from .base import SignedUrl, part_count
from .digest import file_digest, known_digest, unchanged
from .download import DownloadResult, download_file
from .errors import BlobConflict, ChecksumMismatch, TransferFailed, TransferUnavailable
from .protocols import MissingParts, UploadGone, UploadProtocol, protocol_for
from .session import RetryPolicy, SignedCaller, SignedSession, Signer, http_client

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

DEFAULT_CONCURRENCY = 4
MAX_UPLOAD_ROUNDS = 4


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
    with http_client(concurrency) as client:
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
                    identity = os.fstat(f.fileno())
                    # Hash while reading unless file_digest hashed this very file version.
                    hasher = None if known_digest(identity) == signed.sha256 else hashlib.sha256()
                    for index in range(count):
                        data = f.read(min(part_size, self.size - index * part_size))
                        if hasher is not None:
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
                    actual = hasher.hexdigest() if hasher else signed.sha256
                    if hasher is None and not unchanged(identity, f.fileno()):
                        actual = "a file modified during the upload"
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    collect(finished)
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
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


__all__ = [
    "DownloadResult",
    "RetryPolicy",
    "UploadResult",
    "download_file",
    "file_digest",
    "resume_upload_id",
    "upload_file",
]
