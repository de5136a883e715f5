"""What every group of SDK methods shares: the transport and time encoding."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leoscope.core.timeutil import iso_z, to_utc

from ._errors import Subject
from ._transport import Transport


class Base:
    _transport: Transport

    def _read(self, rpc: str, request: Any, subject: Subject | None = None) -> Any:
        """An idempotent read: retried on UNAVAILABLE within the read policy's bound."""
        return self._transport.call(rpc, request, read=True, subject=subject)

    def _write(self, rpc: str, request: Any, subject: Subject | None = None) -> Any:
        """A write: attempted once."""
        return self._transport.call(rpc, request, read=False, subject=subject)


def wire_time(dt: datetime) -> str:
    """ISO-8601 UTC with Z; a naive datetime is taken to be UTC."""
    return iso_z(to_utc(dt))
