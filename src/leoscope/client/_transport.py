"""The channel and the one call path every SDK method goes through.

Credentials travel as per-call metadata (the three `x-leotest-*` headers, always all three, as
reference clients send them), so they work over TLS and over a plaintext loopback channel
alike. Tokens are never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from leoscope.api import leotest_pb2_grpc as pb_grpc
from leoscope.core.errors import ConflictInfo, InvalidInput
from leoscope.retry import RetryPolicy, retry_call

from ._errors import Subject, check_response, from_rpc_error, is_unavailable

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # Come back quickly after the orchestrator restarts (gRPC's default first wait is 1 s and
    # grows to 120 s, which would outlast our own bounded retry).
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]


def read_pem(path: Path | str) -> bytes:
    """The CA file's bytes, or InvalidInput naming `tls_ca`."""
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise InvalidInput("tls_ca", f"cannot read {path}: {exc.strerror}") from None
    if b"-----BEGIN" not in data:
        raise InvalidInput("tls_ca", f"{path} is not a PEM file")
    return data


def open_channel(
    host: str,
    *,
    tls_ca: Path | str | None = None,
    tls_server_name: str | None = None,
    insecure: bool = False,
) -> grpc.Channel:
    """A lazily connecting channel: plaintext if `insecure`, else TLS (system roots by default)."""
    options = list(CHANNEL_OPTIONS)
    if insecure:
        return grpc.insecure_channel(host, options=options)
    roots = read_pem(tls_ca) if tls_ca else None
    if tls_server_name:
        options += [
            ("grpc.ssl_target_name_override", tls_server_name),
            ("grpc.default_authority", tls_server_name),
        ]
    return grpc.secure_channel(host, grpc.ssl_channel_credentials(roots), options=options)


class Transport:
    """Calls RPCs with credentials, a deadline, bounded retries for reads, and typed errors."""

    def __init__(
        self,
        channel: grpc.Channel,
        *,
        host: str,
        user: str,
        token: str,
        jwt: str,
        timeout: float,
        read_retry: RetryPolicy,
        conflicts: Callable[[Any], list[ConflictInfo]],
    ) -> None:
        self.host = host
        self.user = user
        self.timeout = timeout
        self.read_retry = read_retry
        self._channel = channel
        self._stub = pb_grpc.LeotestOrchestratorStub(channel)  # type: ignore[no-untyped-call]
        self._metadata = (
            ("x-leotest-userid", user),
            ("x-leotest-access-token", token),
            ("x-leotest-jwt-access-token", jwt),
        )
        self._conflicts = conflicts

    def call(self, rpc: str, request: Any, *, read: bool, subject: Subject | None = None) -> Any:
        """Make one RPC and return its response, or raise a LEOScope error.

        `read=True` marks an idempotent read: it is retried on UNAVAILABLE within the read
        policy's time bound. Writes are attempted once, never retried blindly.
        """
        method = getattr(self._stub, rpc).with_call

        def once() -> tuple[Any, grpc.Call]:
            answer: tuple[Any, grpc.Call] = method(
                request, metadata=self._metadata, timeout=self.timeout
            )
            return answer

        started = time.perf_counter()
        try:
            if read:
                response, call = retry_call(
                    once, policy=self.read_retry, retryable=is_unavailable, what=rpc
                )
            else:
                response, call = once()
        except grpc.RpcError as exc:
            log.debug("rpc=%s host=%s failed after %.3fs", rpc, self.host, _since(started))
            raise from_rpc_error(
                exc, rpc=rpc, host=self.host, timeout=self.timeout, subject=subject
            ) from exc
        log.debug("rpc=%s host=%s ok in %.3fs", rpc, self.host, _since(started))
        trailers = {k: v for k, v in (call.trailing_metadata() or ()) if isinstance(v, str)}
        check_response(rpc, response, trailers, subject, self._conflicts)
        return response

    def close(self) -> None:
        self._channel.close()


def _since(started: float) -> float:
    return time.perf_counter() - started
