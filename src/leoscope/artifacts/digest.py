"""SHA-256 of files, remembered per file identity so an upload need not hash the file again.

A node hashes its archive before asking for an upload URL (the store records the checksum),
and the upload must be sure it sends those very bytes. Hashing again while uploading would be
a second full pass; instead `file_digest` remembers the digest under the file's identity
(device, inode, size, mtime and ctime in ns), and `known_digest` returns it only while the
identity is unchanged. Any write changes mtime/ctime, so a modified file is hashed again.

File timestamps tick coarsely (a few ms), so a write landing in the same tick as the digest
could go unseen (git's "racy" index entries). A digest is therefore remembered only for files
whose ctime is at least `_RACY_WINDOW_NS` older than the moment hashing started.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import time
from collections import OrderedDict

_RACY_WINDOW_NS = 100_000_000  # 100 ms, well above any kernel's timestamp granularity
_MAX_REMEMBERED = 64
_remembered: OrderedDict[tuple[int, int], tuple[tuple[int, ...], str]] = OrderedDict()
_lock = threading.Lock()


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def file_digest(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(hex SHA-256, size) of a file: what get_upload_url wants to know before signing."""
    started_ns = time.time_ns()
    with open(path, "rb") as f:
        before = os.fstat(f.fileno())
        digest = hashlib.file_digest(f, "sha256").hexdigest()
        size = f.tell()
        after = os.fstat(f.fileno())
    identity = _identity(after)
    if identity == _identity(before) and after.st_ctime_ns < started_ns - _RACY_WINDOW_NS:
        with _lock:
            _remembered[(after.st_dev, after.st_ino)] = (identity, digest)
            _remembered.move_to_end((after.st_dev, after.st_ino))
            while len(_remembered) > _MAX_REMEMBERED:
                _remembered.popitem(last=False)
    return digest, size


def known_digest(st: os.stat_result) -> str | None:
    """The remembered SHA-256 of the file `st` describes, if it has not changed since."""
    with _lock:
        entry = _remembered.get((st.st_dev, st.st_ino))
    if entry is None or entry[0] != _identity(st):
        return None
    return entry[1]


def unchanged(st: os.stat_result, fd: int) -> bool:
    """Whether the open file `fd` still has the identity `st` recorded."""
    return _identity(os.fstat(fd)) == _identity(st)


class BackgroundHasher:
    """A SHA-256 fed on another thread, so hashing overlaps receiving and writing the bytes.

    hashlib releases the GIL on large updates, so the hash of a download costs little wall
    time. Chunks are handed over in lists of about 1 MiB (references, not copies); `hexdigest`
    waits for the hashing thread to catch up. Call `close` to stop the thread when abandoned.
    """

    _BATCH = 1024 * 1024

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._batch: list[bytes] = []
        self._batched = 0
        self._queue: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=16)
        self._thread = threading.Thread(target=self._run, name="artifact-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunks := self._queue.get()) is not None:
            for chunk in chunks:
                self._hash.update(chunk)

    def update(self, data: bytes) -> None:
        self._batch.append(data)
        self._batched += len(data)
        if self._batched >= self._BATCH:
            self._queue.put(self._batch)
            self._batch, self._batched = [], 0

    def hexdigest(self) -> str:
        self.close()
        return self._hash.hexdigest()

    def close(self) -> None:
        if self._thread.is_alive():
            if self._batch:
                self._queue.put(self._batch)
                self._batch, self._batched = [], 0
            self._queue.put(None)
            self._thread.join()
