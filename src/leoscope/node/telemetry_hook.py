"""Telemetry in every run: `grpc.csv` and `satellites.csv` in the run's /artifacts.

A `RunHook`: `before_start` (the run directory exists, the container is about to start) opens a
`RunTelemetry` on the run directory with the dish's status and the satellite summary as its
sources; `after_exit` stops it, which flushes and closes the files, before the archive is taken,
so both files are in the run's archive. A source the node does not have adds no file, and a
source that stays silent for the whole run leaves no file (telemetry.py).

Runs adopted after an agent restart get no telemetry files for the part they ran before.
"""

from __future__ import annotations

import logging

from .runtime.base import ContainerSpec
from .seams import Outcome, RunContext, RunHook
from .sensing import NodeSensing
from .telemetry import RunTelemetry

log = logging.getLogger(__name__)


class TelemetryHook(RunHook):
    """Writes the node's dish and satellite telemetry into each run's directory at 1 Hz."""

    def __init__(self, sensing: NodeSensing, *, interval_secs: float = 1.0) -> None:
        self.sensing = sensing
        self.interval_secs = interval_secs
        self._open: dict[str, RunTelemetry] = {}

    async def before_start(self, run: RunContext, spec: ContainerSpec) -> ContainerSpec:
        sensing = self.sensing
        if sensing.dish is None and sensing.satellites is None:
            return spec
        await self._close(run.runid)  # a retried start must not leave a writer behind
        telemetry = RunTelemetry(
            run.run_dir,
            dish_values=sensing.dish_telemetry if sensing.dish is not None else None,
            satellite_values=(
                sensing.satellite_summary if sensing.satellites is not None else None
            ),
            interval_secs=self.interval_secs,
            clock=sensing.clock.time,
        )
        await telemetry.start()
        self._open[run.runid] = telemetry
        return spec

    async def after_exit(self, run: RunContext, outcome: Outcome) -> None:
        await self._close(run.runid)

    async def after_final(self, run: RunContext, status: str, message: str) -> None:
        await self._close(run.runid)  # a run that failed before after_exit

    async def close_all(self) -> None:
        """Close every open writer (agent shutdown: runs are left for the next start)."""
        for runid in list(self._open):
            await self._close(runid)

    async def _close(self, runid: str) -> None:
        telemetry = self._open.pop(runid, None)
        if telemetry is None:
            return
        await telemetry.stop()
        rows = {writer.path.name: writer.rows_written for writer in telemetry.writers}
        log.debug("run=%s telemetry rows=%s", runid, rows)
