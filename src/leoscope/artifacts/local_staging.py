"""Uploads in progress for the local store: parts written in place, hashed as they line up.

Each blob being uploaded has a directory `<root>/.leoscope/staging/<key>/` holding `info.json`
(the signed size, SHA-256 and part size), `data` (parts written at their offsets) and one marker
file per complete part, `parts/<index>`, containing the part's id. A marker is removed before a
part is (re)written and written after it is complete, so a marker always means "these bytes are
there". Staged data for other content (another size or checksum) is discarded on sight.

The commit must check the SHA-256 of the whole file. Rather than read it all again at commit,
a *frontier* hashes parts in order as soon as each one and all before it are complete, in the
worker thread that finished the part, so by the commit the hash is usually done. The frontier
lives in memory only; after a restart the commit simply hashes whatever is left from disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from leoscope.core.errors import InvalidInput

from .base import part_count

_HASH_READ = 4 * 1024 * 1024


@dataclass(frozen=True)
class Grant:
    """What a verified local URL allows: one operation on one blob (and, to upload, one content)."""

    op: str  # "w" (upload) or "r" (download)
    blob_name: str
    expires_epoch: int
    size: int | None = None
    sha256: str | None = None
    part_size: int | None = None

    @property
    def parts(self) -> int:
        assert self.size is not None and self.part_size is not None
        return part_count(self.size, self.part_size)

    def part_length(self, index: int) -> int:
        assert self.size is not None and self.part_size is not None
        if not 0 <= index < self.parts:
            raise InvalidInput("part", f"{index} is outside 0..{self.parts - 1}")
        return min(self.part_size, self.size - index * self.part_size)

    def staging_info(self) -> dict[str, object]:
        return {
            "blob": self.blob_name,
            "size": self.size,
            "sha256": self.sha256,
            "part_size": self.part_size,
        }


class MissingParts(InvalidInput):
    """A commit named parts that are not staged (for example after a store restart)."""

    def __init__(self, missing: list[int]) -> None:
        self.missing = missing
        super().__init__("parts", f"not staged: {missing[:20]}")


@dataclass
class _Frontier:
    """The SHA-256 of parts 0..next-1 of one staged upload."""

    info: dict[str, object]
    next: int = 0
    hasher: hashlib._Hash = field(default_factory=hashlib.sha256)
    lock: threading.Lock = field(default_factory=threading.Lock)


class StagingArea:
    """All uploads in progress under one directory. Callers hold the blob's lock to `open`."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.base.mkdir(parents=True, exist_ok=True)
        self._frontiers: dict[str, _Frontier] = {}
        self._guard = threading.Lock()

    def directory(self, blob_name: str) -> Path:
        return self.base / hashlib.sha256(blob_name.encode()).hexdigest()[:32]

    def open(self, grant: Grant) -> StagedUpload:
        """The staged upload for this grant's content, created (or reset) as needed."""
        path = self.directory(grant.blob_name)
        info = grant.staging_info()
        try:
            current = json.loads((path / "info.json").read_text())
        except (FileNotFoundError, ValueError):
            current = None
        if current != info:
            self.discard(grant.blob_name)
            (path / "parts").mkdir(parents=True)
            write_atomic(path / "info.json", json.dumps(info).encode())
        with self._guard:
            frontier = self._frontiers.get(grant.blob_name)
            if frontier is None or frontier.info != info:
                frontier = self._frontiers[grant.blob_name] = _Frontier(info)
        return StagedUpload(path, grant, frontier)

    def discard(self, blob_name: str) -> None:
        with self._guard:
            self._frontiers.pop(blob_name, None)
        shutil.rmtree(self.directory(blob_name), ignore_errors=True)


class StagedUpload:
    """One blob's staged parts (see the module docstring)."""

    def __init__(self, path: Path, grant: Grant, frontier: _Frontier) -> None:
        self.path = path
        self.grant = grant
        self._frontier = frontier

    @property
    def data(self) -> Path:
        return self.path / "data"

    def parts(self) -> dict[int, str]:
        """Index -> id of every complete part."""
        found = {}
        for marker in (self.path / "parts").iterdir():
            if marker.name.isdigit():
                found[int(marker.name)] = marker.read_text()
        return found

    def open_part(self, index: int, part_id: str) -> PartWriter:
        if not part_id or len(part_id) > 128:
            raise InvalidInput("id", "a part id of 1 to 128 characters is required")
        length = self.grant.part_length(index)
        assert self.grant.part_size is not None
        marker = self.path / "parts" / str(index)
        with self._frontier.lock:
            # Unmark first (under the lock), so the frontier never hashes bytes being replaced;
            # if they were hashed already, hash again from the start.
            marker.unlink(missing_ok=True)
            if index < self._frontier.next:
                self._frontier.next = 0
                self._frontier.hasher = hashlib.sha256()
        return PartWriter(self.data, marker, index, index * self.grant.part_size, length, part_id)

    def advance(self) -> None:
        """Hash every complete part that directly follows the frontier."""
        frontier = self._frontier
        with frontier.lock:
            while frontier.next < self.grant.parts:
                if not (self.path / "parts" / str(frontier.next)).exists():
                    return
                self._hash_part(frontier, frontier.next)
                frontier.next += 1

    def missing(self, part_ids: list[str]) -> list[int]:
        """Indexes whose staged part is absent or has another id than `part_ids` says."""
        if len(part_ids) != self.grant.parts:
            raise InvalidInput(
                "parts", f"expected {self.grant.parts} part ids, got {len(part_ids)}"
            )
        staged = self.parts()
        return [i for i, part_id in enumerate(part_ids) if staged.get(i) != part_id]

    def sha256(self) -> str:
        """SHA-256 of the staged data (every part must be complete)."""
        self.advance()
        with self._frontier.lock:
            if self._frontier.next != self.grant.parts:
                raise MissingParts([self._frontier.next])
            return self._frontier.hasher.copy().hexdigest()

    def _hash_part(self, frontier: _Frontier, index: int) -> None:
        assert self.grant.part_size is not None
        offset = index * self.grant.part_size
        remaining = self.grant.part_length(index)
        fd = os.open(self.data, os.O_RDONLY)
        try:
            while remaining:
                chunk = os.pread(fd, min(_HASH_READ, remaining), offset)
                if not chunk:
                    raise InvalidInput("parts", f"part {index} is shorter than recorded")
                frontier.hasher.update(chunk)
                offset += len(chunk)
                remaining -= len(chunk)
        finally:
            os.close(fd)


class PartWriter:
    """One part streamed into its place in the staging file; recorded only once complete."""

    def __init__(
        self, data: Path, marker: Path, index: int, offset: int, length: int, part_id: str
    ) -> None:
        self._marker = marker
        self._fd: int | None = os.open(data, os.O_WRONLY | os.O_CREAT, 0o600)
        self._index = index
        self._offset = offset
        self._remaining = length
        self._part_id = part_id

    def write(self, chunk: bytes) -> None:
        self.write_chunks([chunk])

    def write_chunks(self, chunks: list[bytes]) -> None:
        """Write consecutive chunks in place (one pwrite each: cheaper here than pwritev)."""
        assert self._fd is not None
        if sum(len(c) for c in chunks) > self._remaining:
            raise InvalidInput("body", f"part {self._index} is longer than its signed length")
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                written = os.pwrite(self._fd, view, self._offset)
                view = view[written:]
                self._offset += written
                self._remaining -= written

    def finish(self) -> None:
        if self._remaining:
            raise InvalidInput("body", f"part {self._index} is {self._remaining} bytes short")
        self.close()
        write_atomic(self._marker, self._part_id.encode())

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
