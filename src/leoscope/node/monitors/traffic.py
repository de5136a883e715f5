"""Network rates of the running experiment containers, from Docker's statistics.

Variables produced, every second by default:

``exp_rx_rate_bytes``  int, bytes/s received by the sampled containers (all interfaces summed)
``exp_tx_rate_bytes``  int, bytes/s sent by them

The agent passes ``list_containers``, a callable returning the Docker SDK ``Container`` objects to
sample (typically the running ``leotest=true`` containers; `labelled_containers` builds that one),
so discovery policy stays with the agent. It is called in a worker thread, as are the stats reads.

A rate is the change of a container's byte counters between two samples divided by the time
between them. A container seen for the first time contributes nothing until its second sample; a
counter that went backwards (restarted container) is re-based. With no containers both rates are
0. The reference never started this monitor, so its variables stayed -1.

**Host networking.** A container sharing the host's network namespace has no per-container
network counters (Docker reports no ``networks``), and the host's interface counters would count
every process on the host, not the experiment. Such a container is listed in ``unmeasured`` and,
while any sampled container is unmeasured, both rates are None (unknown): a partial sum would
understate the experiment's traffic and mislead triggers such as
``uplink_throughput_bps - exp_tx_rate_bytes*8 > 100000``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from docker.errors import InvalidVersion, NotFound

from .base import Backoff, Clock, PollingMonitor, SampleCallback

log = logging.getLogger(__name__)

TRAFFIC_VARIABLES = ("exp_rx_rate_bytes", "exp_tx_rate_bytes")
EXPERIMENT_LABEL = "leotest=true"

ContainerLister = Callable[[], Iterable[Any]]
"""Returns the Docker SDK ``Container`` objects to sample (called in a worker thread)."""


def labelled_containers(client: Any, label: str = EXPERIMENT_LABEL) -> ContainerLister:
    """A lister of the running containers carrying ``label`` (``key=value`` or ``key``)."""

    def list_running() -> list[Any]:
        return list(client.containers.list(filters={"label": label, "status": "running"}))

    return list_running


def network_totals(stats: Mapping[str, Any]) -> tuple[int, int] | None:
    """Total (rx_bytes, tx_bytes) over a container's interfaces; None without network stats."""
    networks = stats.get("networks")
    if not isinstance(networks, Mapping) or not networks:
        return None
    rx = sum(int(iface.get("rx_bytes", 0)) for iface in networks.values())
    tx = sum(int(iface.get("tx_bytes", 0)) for iface in networks.values())
    return rx, tx


@dataclass(frozen=True)
class CounterSample:
    rx_bytes: int
    tx_bytes: int
    at: float  # monotonic seconds


def combined_rates(
    previous: Mapping[str, CounterSample], current: Mapping[str, CounterSample]
) -> tuple[int, int]:
    """Summed (rx, tx) bytes/s over containers sampled both times; reset counters count 0."""
    rx_rate = tx_rate = 0.0
    for container_id, now in current.items():
        before = previous.get(container_id)
        if before is None or now.at <= before.at:
            continue
        elapsed = now.at - before.at
        rx_rate += max(0, now.rx_bytes - before.rx_bytes) / elapsed
        tx_rate += max(0, now.tx_bytes - before.tx_bytes) / elapsed
    return round(rx_rate), round(tx_rate)


def _read_stats(container: Any) -> Mapping[str, Any]:
    try:
        return container.stats(stream=False, one_shot=True)
    except InvalidVersion:  # engines before API 1.41 have no one-shot reads
        return container.stats(stream=False)


class TrafficMonitor(PollingMonitor):
    """Publishes `TRAFFIC_VARIABLES` for the containers ``list_containers`` returns."""

    name = "traffic"

    def __init__(
        self,
        on_sample: SampleCallback,
        *,
        list_containers: ContainerLister,
        interval_secs: float = 1.0,
        backoff: Backoff | None = None,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(
            on_sample,
            interval_secs=interval_secs,
            backoff=backoff or Backoff(1.0, 60.0),
            clock=clock,
        )
        self._list_containers = list_containers
        self._previous: dict[str, CounterSample] | None = None
        self.unmeasured: set[str] = set()
        """Ids of sampled containers without per-container network counters (host network)."""

    def _read_counters(self) -> tuple[dict[str, CounterSample], set[str]]:
        """Blocking: list the containers and read each one's byte counters."""
        counters: dict[str, CounterSample] = {}
        unmeasured: set[str] = set()
        for container in self._list_containers():
            try:
                stats = _read_stats(container)
            except NotFound:  # it exited between listing and reading
                continue
            totals = network_totals(stats)
            if totals is None:
                unmeasured.add(container.id)
                continue
            counters[container.id] = CounterSample(totals[0], totals[1], time.monotonic())
        return counters, unmeasured

    async def _poll(self) -> None:
        counters, unmeasured = await asyncio.to_thread(self._read_counters)
        newly_unmeasured = unmeasured - self.unmeasured
        if newly_unmeasured:
            log.warning(
                "traffic containers=%s have no per-container network stats (host network?); rates unknown",
                ",".join(sorted(c[:12] for c in newly_unmeasured)),
            )
        self.unmeasured = unmeasured
        previous, self._previous = self._previous, counters
        at = self._clock()
        if unmeasured:
            self._emit({"exp_rx_rate_bytes": None, "exp_tx_rate_bytes": None}, at)
            return
        if previous is None and counters:
            return  # the first sample of running containers only sets the baseline
        rx, tx = combined_rates(previous or {}, counters)
        self._emit({"exp_rx_rate_bytes": rx, "exp_tx_rate_bytes": tx}, at)
