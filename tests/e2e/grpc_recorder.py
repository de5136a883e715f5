"""A pass-through gRPC proxy that records the run updates the orchestrator acknowledged.

It forwards every call (unary and the watch stream) byte for byte to the upstream
orchestrator, with the caller's metadata, and keeps each `update_run` request the upstream
answered SUCCESS. Tests read `updates` to see exactly which statuses reached the orchestrator,
in which order, and how often. When the upstream is down the caller sees UNAVAILABLE, as it
would without the proxy. RPCs named in `unimplemented` answer UNIMPLEMENTED, like the
reference orchestrator, which has no `watch_node`.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio

from leoscope.api import leotest_pb2 as pb

SERVICE = "/unary.LeotestOrchestrator/"


@dataclass(frozen=True)
class Update:
    runid: str
    seq: int
    status: str
    message: str
    blob_url: str


class _Handler(grpc.GenericRpcHandler):
    def __init__(self, proxy: RecordingProxy) -> None:
        self.proxy = proxy

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = details.method
        if not method.startswith(SERVICE) or method[len(SERVICE) :] in self.proxy.unimplemented:
            return None  # grpc answers UNIMPLEMENTED, as an orchestrator without the RPC does
        if method.endswith("/watch_node"):
            return grpc.unary_stream_rpc_method_handler(self.proxy.forward_stream(method))
        return grpc.unary_unary_rpc_method_handler(self.proxy.forward_unary(method))


class RecordingProxy:
    """Serve on 127.0.0.1:<port> in a background thread, forwarding to `upstream`."""

    def __init__(self, upstream: str, *, unimplemented: tuple[str, ...] = ()) -> None:
        self.upstream = upstream
        self.unimplemented = frozenset(unimplemented)
        self.updates: list[Update] = []
        self.calls: Counter[str] = Counter()
        """Acknowledged calls per RPC name."""
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        self.address = f"127.0.0.1:{self.port}"

    async def _start(self) -> int:
        self._channel = grpc.aio.insecure_channel(
            self.upstream,
            options=[("grpc.max_reconnect_backoff_ms", 500), ("grpc.enable_retries", 0)],
        )
        self._server = grpc.aio.server()
        self._server.add_generic_rpc_handlers([_Handler(self)])
        port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        return port

    def close(self) -> None:
        async def stop() -> None:
            await self._server.stop(0.5)
            await self._channel.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def statuses(self, runid: str) -> list[tuple[int, str]]:
        with self._lock:
            return [(u.seq, u.status) for u in self.updates if u.runid == runid]

    def forward_unary(self, method: str) -> Any:
        call = self._channel.unary_unary(method)

        async def forward(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            outcome = call(request, metadata=context.invocation_metadata(), timeout=10)
            try:
                response = await outcome
            except grpc.aio.AioRpcError as exc:
                context.set_trailing_metadata(exc.trailing_metadata() or ())
                await context.abort(exc.code(), exc.details() or "")
            context.set_trailing_metadata(await outcome.trailing_metadata() or ())
            with self._lock:
                self.calls[method.rsplit("/", 1)[1]] += 1
            if method.endswith("/update_run"):
                self._record(request, response)
            return response

        return forward

    def forward_stream(self, method: str) -> Any:
        call_factory = self._channel.unary_stream(method)

        async def forward(request: bytes, context: grpc.aio.ServicerContext) -> Any:
            call = call_factory(request, metadata=context.invocation_metadata())
            try:
                async for message in call:
                    yield message
            except grpc.aio.AioRpcError as exc:
                await context.abort(exc.code(), exc.details() or "")
            finally:
                call.cancel()

        return forward

    def _record(self, request: bytes, response: bytes) -> None:
        answer = pb.message_update_run_response.FromString(response)
        if answer.state != pb.SUCCESS:
            return
        run = pb.message_update_run.FromString(request).run
        with self._lock:
            self.updates.append(
                Update(run.runid, run.seq, run.status, run.status_message, run.blob_url)
            )
