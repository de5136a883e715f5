"""Reporting the node's public IP address (paired servers are reached at it), only on change.

The reference asks a check-IP service and calls update_node on every 10 s tick. We ask at most
every `interval` seconds and call update_node only when the answer differs from what we last
reported (remembered in the local state, so a restart does not resend it). Look-up failures
are logged and retried at the next interval; they never affect runs.
"""

from __future__ import annotations

import ipaddress
import logging

import httpx

from .link import LinkError, OrchestratorLink
from .state import LocalState

log = logging.getLogger(__name__)

REPORTED_KEY = "public_ip_reported"
LOOKUP_TIMEOUT_SECS = 5.0


class PublicIpReporter:
    def __init__(
        self, url: str, link: OrchestratorLink, state: LocalState, *, interval: float = 600.0
    ) -> None:
        self.url = url
        self.link = link
        self.state = state
        self.interval = interval
        self._next_lookup = 0.0

    async def lookup(self) -> str | None:
        """The address the look-up service sees, or None (logged) when it cannot tell."""
        try:
            async with httpx.AsyncClient(timeout=LOOKUP_TIMEOUT_SECS) as client:
                response = await client.get(self.url)
                response.raise_for_status()
        except httpx.HTTPError as exc:
            log.info("public IP look-up at %s failed: %s", self.url, exc)
            return None
        text = response.text.strip()
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            log.warning("public IP look-up at %s answered %r, not an address", self.url, text[:60])
            return None

    async def maybe_report(self, monotonic_now: float) -> None:
        """Look up and report if the interval has passed; cheap no-op otherwise."""
        if monotonic_now < self._next_lookup:
            return
        self._next_lookup = monotonic_now + self.interval
        address = await self.lookup()
        if address is None or address == self.state.get_value(REPORTED_KEY):
            return
        try:
            await self.link.report_public_ip(address)
        except LinkError as exc:
            log.info("cannot report public IP %s yet: %s", address, exc)
            self._next_lookup = monotonic_now  # try again at the next sync
            return
        self.state.set_value(REPORTED_KEY, address)
        log.info("public IP reported: %s", address)
