"""`AsyncClient`: the same methods as `Client`, awaitable.

A thin second face over the one implementation: each call runs the synchronous client in a
worker thread (`asyncio.to_thread`), so the event loop never blocks and behaviour (errors,
retries, deadlines) is identical. Long-running node software that wants streaming uses
`grpc.aio` stubs directly instead.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from types import TracebackType
from typing import Any

from leoscope.settings import Settings

from ._client import Client


class AsyncClient:
    """`await client.list_jobs()` and so on; see `Client` for every method."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Takes the same arguments as `Client`."""
        self.sync = Client(*args, **kwargs)

    @classmethod
    def from_settings(cls, settings: Settings) -> AsyncClient:
        client = cls.__new__(cls)
        client.sync = Client.from_settings(settings)
        return client

    @classmethod
    def from_profile(cls, profile: str | None = None, **overrides: Any) -> AsyncClient:
        client = cls.__new__(cls)
        client.sync = Client.from_profile(profile, **overrides)
        return client

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.sync, name)
        if name.startswith("_") or not callable(method):
            raise AttributeError(name)

        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(method, *args, **kwargs)

        return call

    async def close(self) -> None:
        self.sync.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncClient(host={self.sync.host!r}, user={self.sync.user!r})"
