"""Reading a run's archive in place, through its signed download URL, with Range requests.

A zip keeps its table of contents at the end, so listing an archive (`leoscope run show`) or
reading a few small members (`leoscope run logs`) needs a few ranges of it, not the whole
archive, which may hold gigabytes of captures. `RangeReader` is a read-only, seekable file
over the URL (blocks of `BLOCK_BYTES`, the last few cached) that `zipfile` reads as it would a
local file. Requests go through the artifact library's `SignedCaller`, like downloads: a URL
near expiry or refused is re-signed through `resign`, and a store that is briefly unreachable
is retried within `READ_RETRY`.
"""

from __future__ import annotations

import io
import zipfile
from collections import OrderedDict
from collections.abc import Callable

import httpx

from leoscope.artifacts import RetryPolicy, SignedUrl, TransferFailed
from leoscope.artifacts.protocols import azure_version
from leoscope.artifacts.session import SignedCaller, SignedSession, http_client

BLOCK_BYTES = 256 * 1024
CACHED_BLOCKS = 16
READ_RETRY = RetryPolicy(max_elapsed_secs=10.0)


class RangeReader(io.RawIOBase):
    """A seekable, read-only file over a signed download URL."""

    def __init__(self, signed: SignedUrl, resign: Callable[[], SignedUrl]) -> None:
        if signed.size is None:
            raise TransferFailed(f"the store did not say how large {signed.blob_name!r} is")
        self.blob_name = signed.blob_name
        self.size = signed.size
        self._pos = 0
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._http = http_client(1)
        session = SignedSession(signed, lambda _upload_id: resign())
        self._call = SignedCaller(self._http, session, READ_RETRY)
        self.bytes_fetched = 0

    def close(self) -> None:
        self._http.close()
        super().close()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        wanted = min(len(buffer), self.size - self._pos)
        done = 0
        while done < wanted:
            index, within = divmod(self._pos, BLOCK_BYTES)
            block = self._block(index)
            piece = block[within : within + wanted - done]
            if not piece:
                break
            buffer[done : done + len(piece)] = piece
            done += len(piece)
            self._pos += len(piece)
        return done

    def _block(self, index: int) -> bytes:
        cached = self._blocks.get(index)
        if cached is not None:
            self._blocks.move_to_end(index)
            return cached
        start = index * BLOCK_BYTES
        end = min(self.size, start + BLOCK_BYTES) - 1
        data = self._get(start, end)
        self._blocks[index] = data
        while len(self._blocks) > CACHED_BLOCKS:
            self._blocks.popitem(last=False)
        return data

    def _get(self, start: int, end: int) -> bytes:
        def send(signed: SignedUrl) -> httpx.Response:
            if signed.blob_name != self.blob_name:  # re-signed for a newer snapshot
                raise TransferFailed(f"{self.blob_name!r} was replaced while it was being read")
            headers = {"Range": f"bytes={start}-{end}"}
            if signed.backend == "azure":
                headers["x-ms-version"] = azure_version(signed.url)
            return self._http.get(signed.url, headers=headers)

        response = self._call(f"read of {self.blob_name!r}", send)
        if response.status_code not in (200, 206):
            raise TransferFailed(
                f"reading {self.blob_name!r}: HTTP {response.status_code}", response.status_code
            )
        body = response.content
        if response.status_code == 200:  # the whole blob: the range was ignored
            body = body[start : end + 1]
        self.bytes_fetched += len(body)
        return body


class RemoteArchive(zipfile.ZipFile):
    """A `zipfile.ZipFile` over a `RangeReader`; closing it closes the reader."""

    def __init__(self, reader: RangeReader) -> None:
        self.reader = reader
        try:
            super().__init__(io.BufferedReader(reader, BLOCK_BYTES))
        except BaseException:
            reader.close()
            raise

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.reader.close()
