"""Running a blocking transfer from the agent's event loop, and signing its URLs from there.

`leoscope.artifacts.upload_file` blocks and calls its signer from its own threads whenever a URL
nears expiry or is refused. The signer here hops back onto the event loop to call
`get_upload_url` through the agent's one link (credentials, deadlines, typed errors), and
remembers the last bundle (its URL, without the signature, is the run's `blob_url`).

Transfers run in a daemon thread (`in_daemon_thread`), not the loop's default executor: an
agent that stops does not wait for an upload to drain (a later start resumes it, exactly as
after a crash), and the transfer is stopped early through its progress callback, which
raises `TransferStopped` once `stop` is set.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

from leoscope.api import leotest_pb2 as pb
from leoscope.artifacts import SignedUrl, signed_url_from_response

from .link import OrchestratorLink
from .upload_errors import SignRefused

T = TypeVar("T")

SIGN_WAIT_SECS = 30.0


class TransferStopped(Exception):
    """The agent is stopping: the transfer was abandoned (to be resumed at the next start)."""


class UploadSigner:
    """`Signer` for one archive: get_upload_url(runid, sha256, size, blob_name, upload_id)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        link: OrchestratorLink,
        *,
        runid: str,
        sha256: str,
        size: int,
        blob_name: str | None = None,
    ) -> None:
        self.loop = loop
        self.link = link
        self.runid = runid
        self.sha256 = sha256
        self.size = size
        self.blob_name = blob_name
        self.last: SignedUrl | None = None

    async def sign(self, upload_id: str | None = None) -> SignedUrl:
        """From the event loop. Raises SignRefused, or the link's errors."""
        request = pb.message_get_upload_url(runid=self.runid, sha256=self.sha256, size=self.size)
        if self.blob_name:
            request.blob_name = self.blob_name
        if upload_id:
            request.upload_id = upload_id
        response = await self.link.get_upload_url(request)
        if response.state != pb.SUCCESS or not response.url:
            raise SignRefused(response.message or "no signed URL in the answer")
        signed = signed_url_from_response(response)
        self.last = signed
        return signed

    def __call__(self, upload_id: str | None) -> SignedUrl:
        """From a transfer thread: sign on the loop and wait for the answer."""
        future = asyncio.run_coroutine_threadsafe(self.sign(upload_id), self.loop)
        return future.result(timeout=SIGN_WAIT_SECS)


async def in_daemon_thread(work: Callable[[], T], name: str) -> T:
    """Run `work` in a new daemon thread and await its result (or exception)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():  # the awaiting task was cancelled meanwhile
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def target() -> None:
        try:
            result = work()
        except BaseException as exc:
            outcome: tuple[T | None, BaseException | None] = (None, exc)
        else:
            outcome = (result, None)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the loop has closed: nobody waits any more
            pass

    threading.Thread(target=target, name=name, daemon=True).start()
    return await future


def stoppable_progress(
    *stops: threading.Event, listener: Callable[[int, int], None] | None = None
) -> Callable[[int, int], None]:
    """A transfer progress callback that tells `listener` and aborts once any of `stops` is
    set (raising TransferStopped in the transfer thread, which ends the transfer)."""

    def progress(done: int, total: int) -> None:
        if any(stop.is_set() for stop in stops):
            raise TransferStopped()
        if listener is not None:
            listener(done, total)

    return progress
