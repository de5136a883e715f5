"""The local store's HTTP endpoint (aiohttp), mounted by the orchestrator on its own port.

It gives the local store the same shape as Azure and S3: clients hold only signed URLs, and a
URL that is expired, tampered with, or made for another blob gets 403. Requests (on top of the
signed query that `LocalStore` issues):

    HEAD  <blob>                       size and SHA-256 (x-leoscope-sha256); 404 if absent
    GET   <blob>                       the blob (download URL only); Range requests supported
    GET   <blob>&comp=parts            {"parts": {"<index>": "<id>", ...}} staged for this upload
    PUT   <blob>&part=<i>&id=<id>      stage part i (exactly its length); 201
    PUT   <blob>                       the whole blob in one body; 201
    POST  <blob>&comp=commit           body {"ids": [...]}: commit; 201 {"size", "sha256"}

Errors are JSON `{"error": code, "message": text}` with codes `expired` and `forbidden` (403),
`not-found` (404), `missing-parts` (409, plus "missing"), `conflict` (409), `checksum` (422) and
`invalid` (400). Disk work runs in threads so the orchestrator's event loop keeps serving.

Mount it with `root_app.add_subapp("/artifacts", create_app(store))` and give the store the
matching public base URL, or let `start_endpoint` serve it on a port of its own. Keep aiohttp's
access log off for these routes (as `start_endpoint` does): it would record the signatures.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from leoscope.core.errors import InvalidInput, NotFound

from .errors import BlobConflict, ChecksumMismatch, SignedUrlExpired, SignedUrlRejected
from .local import Grant, LocalStore, MissingParts

log = logging.getLogger(__name__)

SHA256_HEADER = "x-leoscope-sha256"
_WRITE_BATCH = 4 * 1024 * 1024
_MAX_COMMIT_BODY = 8 * 1024 * 1024


def create_app(store: LocalStore) -> web.Application:
    """An aiohttp app serving `store`; mount it with `add_subapp(prefix, app)` or run it alone."""
    app = web.Application()
    endpoint = _Endpoint(store)
    app.router.add_route("*", "/{blob:.+}", endpoint.handle)
    return app


@dataclass
class RunningEndpoint:
    """A started endpoint: `url` is the base URL that signed URLs start with."""

    url: str
    runner: web.AppRunner

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_endpoint(
    store: LocalStore, *, host: str = "127.0.0.1", port: int = 0, prefix: str = "/artifacts"
) -> RunningEndpoint:
    """Serve `store` on host:port under `prefix` (port 0 picks a free one).

    Sets the store's base URL to this endpoint unless one was configured (e.g. a public name
    behind a proxy).
    """
    root = web.Application()
    root.add_subapp(prefix, create_app(store))
    runner = web.AppRunner(root, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{bound_port}{prefix}"
    if store._base_url is None:
        store.set_base_url(url)
    log.info("artifact endpoint listening url=%s", url)
    return RunningEndpoint(url, runner)


class _Endpoint:
    def __init__(self, store: LocalStore) -> None:
        self.store = store
        self._background: set[asyncio.Task[None]] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._dispatch(request)
        except SignedUrlExpired as exc:
            return _error(403, "expired", str(exc))
        except SignedUrlRejected as exc:
            return _error(403, "forbidden", str(exc))
        except NotFound as exc:
            return _error(404, "not-found", str(exc))
        except MissingParts as exc:
            return _error(409, "missing-parts", str(exc), missing=exc.missing)
        except BlobConflict as exc:
            return _error(409, "conflict", str(exc))
        except ChecksumMismatch as exc:
            return _error(422, "checksum", str(exc))
        except InvalidInput as exc:
            return _error(400, "invalid", str(exc))

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        blob = self.store._check_name(request.match_info["blob"])
        query = request.query
        method = request.method
        if method == "HEAD":
            self.store.check_access(blob, dict(query), write=False)
            return await self._head(blob)
        if method == "GET" and query.get("comp") == "parts":
            grant = self.store.check_access(blob, dict(query), write=True)
            parts = await asyncio.to_thread(self.store.staged_parts, grant)
            return web.json_response({"parts": {str(i): p for i, p in sorted(parts.items())}})
        if method == "GET":
            grant = self.store.check_access(blob, dict(query), write=False)
            if grant.op != "r":
                raise SignedUrlRejected("an upload URL cannot download")
            return await self._get(blob)
        if method == "PUT" and "part" in query:
            grant = self.store.check_access(blob, dict(query), write=True)
            return await self._put_part(request, grant)
        if method == "PUT":
            grant = self.store.check_access(blob, dict(query), write=True)
            return await self._put_whole(request, grant)
        if method == "POST" and query.get("comp") == "commit":
            grant = self.store.check_access(blob, dict(query), write=True)
            return await self._commit(request, grant)
        return _error(405, "invalid", f"{method} is not supported here")

    async def _head(self, blob: str) -> web.Response:
        info = await asyncio.to_thread(self.store.stat, blob)
        headers = {"Content-Length": str(info.size), "Accept-Ranges": "bytes"}
        if info.sha256:
            headers[SHA256_HEADER] = info.sha256
        return web.Response(status=200, headers=headers)

    async def _get(self, blob: str) -> web.StreamResponse:
        info = await asyncio.to_thread(self.store.stat, blob)
        headers = {SHA256_HEADER: info.sha256} if info.sha256 else {}
        return web.FileResponse(self.store.blob_path(blob), headers=headers)

    async def _put_part(self, request: web.Request, grant: Grant) -> web.Response:
        try:
            index = int(request.query["part"])
        except ValueError:
            raise InvalidInput("part", "must be a whole number") from None
        expected = grant.part_length(index)
        if request.content_length != expected:
            raise InvalidInput("Content-Length", f"part {index} must be {expected} bytes")
        part_id = request.query.get("id", "")
        writer = await asyncio.to_thread(self.store.open_part, grant, index, part_id)
        try:
            await _copy_body(request, writer.write_chunks)
            await asyncio.to_thread(self.store.finish_part, grant, writer)
        finally:
            writer.close()
        # Hash in the background while the client sends its next part; a failure there only
        # means the commit hashes more itself.
        task = asyncio.create_task(asyncio.to_thread(self.store.hash_ahead, grant))
        self._background.add(task)
        task.add_done_callback(self._background_done)
        return web.Response(status=201)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("artifact background hashing failed: %s", task.exception())

    async def _put_whole(self, request: web.Request, grant: Grant) -> web.Response:
        upload = await asyncio.to_thread(self.store.open_whole, grant)
        try:
            await _copy_body(request, upload.write_chunks)
            info = await asyncio.to_thread(upload.finish)
        finally:
            await asyncio.to_thread(upload.discard)
        return web.json_response({"size": info.size, "sha256": info.sha256}, status=201)

    async def _commit(self, request: web.Request, grant: Grant) -> web.Response:
        if (request.content_length or 0) > _MAX_COMMIT_BODY:
            raise InvalidInput("body", "commit body is too large")
        try:
            ids = json.loads(await request.content.read())["ids"]
        except (ValueError, KeyError, TypeError):
            raise InvalidInput("body", 'expected JSON {"ids": [...]}') from None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise InvalidInput("ids", "must be a list of part id strings")
        info = await asyncio.to_thread(self.store.commit, grant, ids)
        return web.json_response({"size": info.size, "sha256": info.sha256}, status=201)


async def _copy_body(request: web.Request, write: Callable[[list[bytes]], None]) -> None:
    """Hand the body to `write` in ~4 MiB batches of chunks, in a thread, while the next batch
    arrives. Chunks are passed as a list (written with vectored I/O), never concatenated."""
    batch: list[bytes] = []
    batched = 0
    pending: asyncio.Future[None] | None = None
    try:
        async for chunk in request.content.iter_any():
            batch.append(chunk)
            batched += len(chunk)
            if batched >= _WRITE_BATCH:
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(asyncio.to_thread(write, batch))
                batch, batched = [], 0
    finally:
        if pending is not None:
            await pending  # never leave a write running, nor its error unread
    if batch:
        await asyncio.to_thread(write, batch)


def _error(status: int, code: str, message: str, **extra: object) -> web.Response:
    body = {"error": code, "message": message, **extra}
    return web.json_response(body, status=status)
