"""The synchronous client: construction, lifetime, and the method groups."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from leoscope.retry import RetryPolicy
from leoscope.settings import Settings, resolve

from ._artifacts import ArtifactsAPI
from ._convert import conflicts_of
from ._jobs import JobsAPI
from ._nodes import NodesAPI
from ._runs import RunsAPI
from ._transport import Transport, open_channel
from ._users import UsersAPI

DEFAULT_TIMEOUT_SECS = 10.0
DEFAULT_READ_RETRY_SECS = 5.0


class Client(UsersAPI, NodesAPI, JobsAPI, RunsAPI, ArtifactsAPI):
    """A connection to a LEOScope orchestrator, with one typed method per RPC.

    Methods return `leoscope.core.model` objects or small frozen results, and raise the
    errors in `leoscope.client` (never `grpc.RpcError`). Reads retry while the orchestrator is
    unreachable (UNAVAILABLE), for at most `retry_secs`; writes are sent once.

    >>> with Client("localhost:50051", "alice", token, insecure=True) as client:
    ...     client.whoami()
    """

    def __init__(
        self,
        host: str,
        user: str,
        token: str = "",
        *,
        tls_ca: str | Path | None = None,
        tls_server_name: str | None = None,
        insecure: bool = False,
        jwt: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECS,
        retry_secs: float = DEFAULT_READ_RETRY_SECS,
    ) -> None:
        """Open a (lazily connecting) channel to `host` ("HOST:PORT").

        TLS is the default: `tls_ca` is a PEM file to trust instead of the system roots, and
        `tls_server_name` overrides the name the certificate must match (reference
        certificates are issued for "localhost"). `insecure=True` speaks plaintext, for a
        loopback development orchestrator. Authenticate with `token`, or with a `jwt`.
        """
        self.host = host
        self.user = user
        channel = open_channel(
            host, tls_ca=tls_ca, tls_server_name=tls_server_name, insecure=insecure
        )
        self._transport = Transport(
            channel,
            host=host,
            user=user,
            token=token,
            jwt=jwt or "",
            timeout=timeout,
            read_retry=RetryPolicy(
                first_wait_secs=0.1, max_wait_secs=2.0, give_up_after_secs=retry_secs
            ),
            conflicts=conflicts_of,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Client:
        """A client configured by resolved settings (see `leoscope.settings`)."""
        return cls(
            settings.host,
            settings.user,
            settings.token,
            tls_ca=settings.tls_ca,
            tls_server_name=settings.tls_server_name,
            insecure=settings.insecure,
            jwt=settings.jwt or None,
            timeout=settings.timeout,
            retry_secs=settings.retry_secs,
        )

    @classmethod
    def from_profile(cls, profile: str | None = None, **overrides: Any) -> Client:
        """A client configured like the CLI: `overrides`, then LEOSCOPE_* variables, then the
        profile (default: the current one) in the config file, then defaults."""
        return cls.from_settings(resolve(overrides, profile=profile))

    def close(self) -> None:
        """Close the channel. The client is unusable afterwards."""
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(host={self.host!r}, user={self.user!r})"
