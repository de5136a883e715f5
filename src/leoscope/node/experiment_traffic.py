"""The traffic monitor as the agent runs it: Docker is asked only while runs are under way.

`TrafficMonitor` samples every second. On an idle node (most of the time) there is no
experiment traffic to measure, so this subclass skips the Docker calls while `busy()` is false:
it reports both rates as 0 once when the node becomes idle, then only keeps its freshness
current. When a run starts, sampling resumes from a fresh baseline.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .monitors.base import Clock, SampleCallback
from .monitors.traffic import ContainerLister, TrafficMonitor


class ExperimentTrafficMonitor(TrafficMonitor):
    """`TrafficMonitor` that idles without Docker calls while `busy()` says no run is active."""

    def __init__(
        self,
        on_sample: SampleCallback,
        *,
        list_containers: ContainerLister,
        busy: Callable[[], bool],
        interval_secs: float = 1.0,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(
            on_sample, list_containers=list_containers, interval_secs=interval_secs, clock=clock
        )
        self._busy = busy
        self._idle_reported = False

    async def _poll(self) -> None:
        if self._busy():
            self._idle_reported = False
            await super()._poll()
            return
        self._previous = None  # the next busy sample starts a new baseline
        at = self._clock()
        if self._idle_reported:
            self._emit({}, at)  # fresh, and nothing new for the table
            return
        self._emit({"exp_rx_rate_bytes": 0, "exp_tx_rate_bytes": 0}, at)
        self._idle_reported = True
