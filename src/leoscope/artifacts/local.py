"""The local-directory artifact store (the embedded default).

Blobs are plain files under `root`, named by their blob names. Nodes and users reach them only
through the orchestrator's HTTP endpoint (`artifacts/http.py`) with URLs that this store signs:

    <base_url>/<blob name>?op=w|r&exp=<epoch>&sz=<size>&sh=<sha256>&ps=<part size>&sig=<hmac>

`sig` is HMAC-SHA256 (key: `secret`, held by the orchestrator) over the operation, blob name,
expiry and, for uploads, the promised size, checksum and part size, so a URL cannot be stretched
in time, pointed at another blob, or used to store other content. The upload protocol mirrors
Azure's block blobs: parts are staged (`local_staging.py`), listed, and committed; the commit
checks the SHA-256 of the staged bytes and refuses content that does not match.

Internal state lives in `root/.leoscope/` (commit records, staging, temporary files), so a blob
name may not start with `.leoscope`. Because this is a file system, a name cannot be both a
blob and a "directory" of other blobs (`a/b` and `a/b/c`): such a commit raises InvalidInput.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import shutil
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

from leoscope.core.errors import InvalidInput, NotFound
from leoscope.core.timeutil import from_epoch

from .base import (
    DEFAULT_PART_SIZE,
    ArtifactStore,
    BlobInfo,
    SignedUrl,
    check_blob_name,
    check_sha256,
    check_size,
)
from .errors import ChecksumMismatch, SignedUrlExpired, SignedUrlRejected
from .local_staging import (
    Grant,
    MissingParts,
    PartWriter,
    StagingArea,
    file_sha256,
    write_atomic,
)

log = logging.getLogger(__name__)

STATE_DIR = ".leoscope"
# Parts of 16 MiB: this endpoint is usually near its clients, where per-request costs weigh
# more than on a satellite uplink; fewer, larger parts measured faster in bench/artifacts.py.
LOCAL_PART_SIZE = 2 * DEFAULT_PART_SIZE


class LocalStore(ArtifactStore):
    """Blobs as files under `root`, served by the HMAC-signed HTTP endpoint in `http.py`.

    `secret` signs URLs; give the same persistent secret to every orchestrator replica (a random
    one is made when omitted, so URLs then die with the process). `base_url` is where the
    endpoint is reachable from nodes (e.g. `https://orch.example:8443/artifacts`); it may be set
    later with `set_base_url` once the server knows its port.
    """

    backend = "local"

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        secret: bytes | str | None = None,
        base_url: str | None = None,
        url_ttl_secs: int | None = None,
        part_size: int = LOCAL_PART_SIZE,
    ) -> None:
        super().__init__(url_ttl_secs=url_ttl_secs)
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        if secret is None:
            secret = secrets.token_bytes(32)
        self._secret = secret.encode() if isinstance(secret, str) else bytes(secret)
        if len(self._secret) < 16:
            raise InvalidInput("signing_secret", "must be at least 16 bytes")
        self._base_url = base_url.rstrip("/") if base_url else None
        self.part_size = check_size(part_size, "part_size")
        self._state = self.root / STATE_DIR
        for sub in ("meta", "tmp"):
            (self._state / sub).mkdir(parents=True, exist_ok=True)
        self._staging = StagingArea(self._state / "staging")
        # Striped locks: per-blob serialisation without a lock object per blob ever seen.
        self._locks = [threading.Lock() for _ in range(64)]

    def set_base_url(self, base_url: str) -> None:
        """Where the HTTP endpoint serves this store, as nodes will reach it."""
        self._base_url = base_url.rstrip("/")

    @property
    def base_url(self) -> str:
        if not self._base_url:
            raise InvalidInput("public_base_url", "the local store's HTTP endpoint URL is not set")
        return self._base_url

    # ---------------------------------------------------------------- signing

    def sign_upload(
        self,
        blob_name: str,
        *,
        size: int,
        sha256: str,
        ttl_secs: int | None = None,
        upload_id: str | None = None,
    ) -> SignedUrl:
        name, size, sha256 = self._check_upload(blob_name, size, sha256)
        self._stored_copy(name, size, sha256)
        grant = Grant("w", name, 0, size, sha256, self.part_size)
        return self._signed(grant, self._ttl(ttl_secs), "upload")

    def sign_download(self, blob_name: str, *, ttl_secs: int | None = None) -> SignedUrl:
        ttl = self._ttl(ttl_secs)
        info = self.stat(blob_name)
        signed = self._signed(Grant("r", info.name, 0), ttl, "download")
        return SignedUrl(
            backend=signed.backend,
            operation="download",
            url=signed.url,
            blob_name=info.name,
            expires_at=signed.expires_at,
            ttl_secs=signed.ttl_secs,
            sha256=info.sha256,
            size=info.size,
        )

    def _signed(self, grant: Grant, ttl: int, operation: str) -> SignedUrl:
        expires = math.ceil(time.time() + ttl)
        grant = Grant(grant.op, grant.blob_name, expires, grant.size, grant.sha256, grant.part_size)
        query = {"op": grant.op, "exp": str(expires)}
        if grant.op == "w":
            query.update(sz=str(grant.size), sh=str(grant.sha256), ps=str(grant.part_size))
        query["sig"] = self._signature(grant)
        url = f"{self.base_url}/{quote(grant.blob_name, safe='/')}?{urlencode(query)}"
        return SignedUrl(
            backend=self.backend,
            operation="upload" if operation == "upload" else "download",
            url=url,
            blob_name=grant.blob_name,
            expires_at=from_epoch(expires),
            ttl_secs=ttl,
            sha256=grant.sha256,
            size=grant.size,
            part_size=grant.part_size,
        )

    def _signature(self, grant: Grant) -> str:
        message = "\n".join(
            (
                "leoscope-artifact-v1",
                grant.op,
                grant.blob_name,
                str(grant.expires_epoch),
                "" if grant.size is None else str(grant.size),
                grant.sha256 or "",
                "" if grant.part_size is None else str(grant.part_size),
            )
        )
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def check_access(
        self, blob_name: str, query: dict[str, str], *, write: bool, now: float | None = None
    ) -> Grant:
        """Verify a signed URL's query for `blob_name`; return what it grants.

        Raises SignedUrlRejected (bad/missing signature, other blob, read-only URL used to
        write) or SignedUrlExpired. The endpoint maps both to HTTP 403.
        """
        try:
            op = query["op"]
            expires = int(query["exp"])
            signature = query["sig"]
            size = int(query["sz"]) if op == "w" else None
            sha = query["sh"] if op == "w" else None
            part_size = int(query["ps"]) if op == "w" else None
        except (KeyError, ValueError):
            raise SignedUrlRejected("signed URL is missing or has malformed fields") from None
        if op not in ("r", "w"):
            raise SignedUrlRejected("signed URL has an unknown operation")
        grant = Grant(op, blob_name, expires, size, sha, part_size)
        if not hmac.compare_digest(self._signature(grant), signature):
            raise SignedUrlRejected("signature does not match")
        if expires <= (time.time() if now is None else now):
            raise SignedUrlExpired("signed URL has expired")
        if write and op != "w":
            raise SignedUrlRejected("this signed URL only allows reading")
        return grant

    # ---------------------------------------------------------------- committed blobs

    def stat(self, blob_name: str) -> BlobInfo:
        name = self._check_name(blob_name)
        path = self.blob_path(name)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise self._not_found(name) from None
        if not path.is_file():
            raise self._not_found(name)
        return BlobInfo(name, st.st_size, self._recorded_sha256(name, st), _mtime(st))

    def verify(self, blob_name: str, *, size: int, sha256: str) -> BlobInfo:
        """Recompute the blob's SHA-256 from its bytes (the local store can afford to)."""
        sha256 = check_sha256(sha256)
        info = self.stat(blob_name)
        if info.size != size:
            raise ChecksumMismatch(f"artifact {info.name!r} size", str(size), str(info.size))
        actual = file_sha256(self.blob_path(info.name))
        if actual != sha256:
            raise ChecksumMismatch(f"artifact {info.name!r} sha256", sha256, actual)
        return BlobInfo(info.name, info.size, actual, info.last_modified)

    def delete(self, blob_name: str) -> bool:
        name = self._check_name(blob_name)
        with self._lock(name):
            self._staging.discard(name)
            self._meta_path(name).unlink(missing_ok=True)
            path = self.blob_path(name)
            try:
                path.unlink()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return False
            self._prune_empty_dirs(path.parent, self.root)
            self._prune_empty_dirs(self._meta_path(name).parent, self._state / "meta")
        log.info("artifact deleted blob=%s", name)
        return True

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        names: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel_dir = os.path.relpath(dirpath, self.root)
            if rel_dir == ".":
                dirnames[:] = [d for d in dirnames if d != STATE_DIR]
                rel_dir = ""
            for filename in filenames:
                name = f"{rel_dir}/{filename}" if rel_dir else filename
                if name.startswith(prefix):
                    names.append(name.replace(os.sep, "/"))
        for name in sorted(names):
            try:
                yield self.stat(name)
            except (NotFound, InvalidInput):
                continue  # removed meanwhile, or a stray file with an unusable name

    def _discard_stale_uploads(self, cutoff: datetime) -> None:
        for area in ("staging", "tmp"):
            for entry in (self._state / area).iterdir():
                if _mtime(entry.stat()) >= cutoff:
                    continue
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    # ---------------------------------------------------------------- staging (used by http.py)

    def blob_path(self, blob_name: str) -> Path:
        return self.root / blob_name

    def staged_parts(self, grant: Grant) -> dict[int, str]:
        """Part index -> part id of what is staged for this grant's content."""
        with self._lock(grant.blob_name):
            return self._staging.open(grant).parts()

    def stage_part(self, grant: Grant, index: int, part_id: str, data: bytes) -> None:
        """Stage part `index` (exactly its length) in one call."""
        writer = self.open_part(grant, index, part_id)
        try:
            writer.write(data)
            self.finish_part(grant, writer)
        finally:
            writer.close()
        self.hash_ahead(grant)

    def open_part(self, grant: Grant, index: int, part_id: str) -> PartWriter:
        """Start writing part `index` in place into the staging file (streamed by http.py)."""
        with self._lock(grant.blob_name):
            staged = self._staging.open(grant)
        return staged.open_part(index, part_id)

    def finish_part(self, grant: Grant, writer: PartWriter) -> None:
        """Record a completely written part (then call `hash_ahead`, off the request path)."""
        writer.finish()

    def hash_ahead(self, grant: Grant) -> None:
        """Hash the staged parts that now extend the in-order prefix, so the commit need not."""
        with self._lock(grant.blob_name):
            staged = self._staging.open(grant)
        staged.advance()

    def commit(self, grant: Grant, part_ids: list[str]) -> BlobInfo:
        """Commit the staged parts as the blob, after checking them and the SHA-256.

        Idempotent: committing an already committed blob with the same checksum succeeds.
        Raises MissingParts, ChecksumMismatch (staging is discarded), BlobConflict.
        """
        assert grant.size is not None and grant.sha256 is not None
        name = grant.blob_name
        with self._lock(name):
            done = self._stored_copy(name, grant.size, grant.sha256)
            if done is not None:
                return done
            staged = self._staging.open(grant)
            missing = staged.missing(part_ids)
            if missing:
                raise MissingParts(missing)
            actual = staged.sha256()
            if staged.data.stat().st_size != grant.size or actual != grant.sha256:
                self._staging.discard(name)
                raise ChecksumMismatch(f"upload of {name!r}", grant.sha256, actual)
            info = self._publish(staged.data, name, grant.sha256)
            self._staging.discard(name)
        log.info("artifact committed blob=%s size=%d", name, info.size)
        return info

    def open_whole(self, grant: Grant) -> WholeUpload:
        """Start storing a whole blob from one request body (small files, benchmark baseline)."""
        return WholeUpload(self, grant)

    # ---------------------------------------------------------------- internals

    def _check_name(self, blob_name: str) -> str:
        name = check_blob_name(blob_name)
        if name.split("/", 1)[0] == STATE_DIR:
            raise InvalidInput("blob_name", f"names under {STATE_DIR}/ are reserved")
        return name

    def _lock(self, blob_name: str) -> threading.Lock:
        return self._locks[zlib.crc32(blob_name.encode()) % len(self._locks)]

    def _meta_path(self, blob_name: str) -> Path:
        return self._state / "meta" / f"{blob_name}.json"

    def _recorded_sha256(self, name: str, st: os.stat_result) -> str | None:
        try:
            meta = json.loads(self._meta_path(name).read_text())
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return None
        if meta.get("size") != st.st_size or meta.get("mtime_ns") != st.st_mtime_ns:
            return None  # the file was changed behind our back: no trustworthy checksum
        return meta.get("sha256")

    def _stored_sha256(self, info: BlobInfo) -> str | None:
        # A blob written behind our back has no trustworthy record: hash its bytes.
        return info.sha256 or file_sha256(self.blob_path(info.name))

    def _publish(self, source: Path, name: str, sha256: str) -> BlobInfo:
        target = self.blob_path(name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_dir():
                raise NotADirectoryError(str(target))
            os.replace(source, target)
        except (NotADirectoryError, FileExistsError, IsADirectoryError):
            raise InvalidInput(
                "blob_name", f"{name!r} clashes with another blob's path in the local store"
            ) from None
        st = target.stat()
        meta = {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        meta_path = self._meta_path(name)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(meta_path, json.dumps(meta).encode())
        return BlobInfo(name, st.st_size, sha256, _mtime(st))

    @staticmethod
    def _prune_empty_dirs(start: Path, stop: Path) -> None:
        current = start
        while current != stop and stop in current.parents:
            try:
                current.rmdir()
            except OSError:
                return
            current = current.parent


class WholeUpload:
    """One request body streamed into a temporary file, hashed, then published."""

    def __init__(self, store: LocalStore, grant: Grant) -> None:
        assert grant.size is not None and grant.sha256 is not None
        self._store = store
        self._grant = grant
        self._hash = hashlib.sha256()
        self._written = 0
        self._path = store._state / "tmp" / secrets.token_hex(16)
        self._file: BinaryIO | None = open(self._path, "wb")

    def write(self, chunk: bytes) -> None:
        self.write_chunks([chunk])

    def write_chunks(self, chunks: list[bytes]) -> None:
        assert self._file is not None
        for chunk in chunks:
            self._written += len(chunk)
            if self._written > (self._grant.size or 0):
                raise InvalidInput("body", f"is longer than the signed size {self._grant.size}")
            self._hash.update(chunk)
            self._file.write(chunk)

    def finish(self) -> BlobInfo:
        assert self._file is not None and self._grant.sha256 is not None
        self._file.close()
        self._file = None
        actual = self._hash.hexdigest()
        if self._written != self._grant.size or actual != self._grant.sha256:
            raise ChecksumMismatch(
                f"upload of {self._grant.blob_name!r}", self._grant.sha256, actual
            )
        name = self._grant.blob_name
        with self._store._lock(name):
            done = self._store._stored_copy(name, self._written, actual)
            if done is not None:
                return done
            return self._store._publish(self._path, name, actual)

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._path.unlink(missing_ok=True)


def _mtime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime, UTC)
