"""What every group of SDK methods shares: the transport. (Times go on the wire as
`core.timeutil.iso_z` prints them.)"""

from __future__ import annotations

from typing import Any

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
