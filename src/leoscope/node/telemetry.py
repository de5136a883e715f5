"""Per-run telemetry files, written while a run executes.

The experiment sees its run directory as ``/artifacts``; beside its own output the agent writes

``grpc.csv``        the dish status at 1 Hz (the reference's file name and shape: a header line,
                    then one row per second), whenever a dish source has fresh data;
``satellites.csv``  the satellite summary (elevation, visible count, slant ranges) at 1 Hz.

Each file is written by a `CsvTelemetryWriter` that asks a getter for the current values once per
tick on the monotonic clock. A getter returning None means "no source right now": no row is
written, and a file that never got a row is never created (no dish, no ``grpc.csv``). Unknown
values are empty cells; booleans are written ``True``/``False`` as the reference did. Every row
is flushed as it is written, and ``stop`` closes the file, so the archive taken after the run has
every row.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from leoscope.core.errors import InvalidInput
from leoscope.core.timeutil import from_epoch, iso_z

from .monitors.dish_fields import STATUS_FIELDS
from .tasks import cancel_and_wait

log = logging.getLogger(__name__)

ValuesGetter = Callable[[], Mapping[str, object] | None]
"""Returns the current values by column name, or None when the source has nothing fresh."""

GRPC_CSV = "grpc.csv"
SATELLITES_CSV = "satellites.csv"
TIMESTAMP_COLUMN = "datetimestamp_utc"
GRPC_COLUMNS: tuple[str, ...] = (TIMESTAMP_COLUMN, *STATUS_FIELDS)
SATELLITE_COLUMNS: tuple[str, ...] = (
    TIMESTAMP_COLUMN,
    "satellite_elevation",
    "visible_satellites",
    "sat_dist_min",
    "sat_dist_max",
    "sat_dist_mean",
)
STOP_TIMEOUT_SECS = 5.0


def _cell(value: object) -> object:
    return "" if value is None else value


class CsvTelemetryWriter:
    """Writes one CSV row per ``interval_secs`` from ``get_values`` until stopped."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        columns: Sequence[str],
        get_values: ValuesGetter,
        *,
        interval_secs: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not interval_secs > 0:
            raise InvalidInput("interval_secs", f"must be positive, got {interval_secs!r}")
        if not columns or columns[0] != TIMESTAMP_COLUMN:
            raise InvalidInput("columns", f"must start with {TIMESTAMP_COLUMN!r}")
        self.path = Path(path)
        self.columns = tuple(columns)
        self.interval_secs = interval_secs
        self._get_values = get_values
        self._clock = clock
        self.rows_written = 0
        self._file: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, exit_stack: contextlib.AsyncExitStack | None = None) -> None:
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._run(), name=f"telemetry:{self.path.name}")
        if exit_stack is not None:
            exit_stack.push_async_callback(self.stop)

    async def stop(self) -> None:
        """Stop ticking, then flush and close the file (bounded, so shutdown cannot hang)."""
        task, self._task = self._task, None
        await cancel_and_wait(task, timeout=STOP_TIMEOUT_SECS)
        self._close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def write_row(self, values: Mapping[str, object], at: float) -> None:
        """Append one row (creating the file with its header on the first row) and flush it."""
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("w", newline="", encoding="utf-8")
            self._writer = csv.DictWriter(
                self._file, fieldnames=self.columns, extrasaction="ignore"
            )
            self._writer.writeheader()
        row = {column: _cell(values.get(column)) for column in self.columns[1:]}
        row[TIMESTAMP_COLUMN] = iso_z(from_epoch(at))
        self._writer.writerow(row)
        assert self._file is not None
        self._file.flush()
        self.rows_written += 1

    def _close(self) -> None:
        if self._file is not None:
            self._file.flush()
            self._file.close()
            self._file = None
            self._writer = None

    async def _run(self) -> None:
        next_tick = time.monotonic()
        while True:
            try:
                values = self._get_values()
                if values is not None:
                    self.write_row(values, self._clock())
            except OSError as exc:
                log.warning("telemetry file=%s write failed: %s", self.path, exc)
            except Exception:
                log.exception("telemetry file=%s getter failed", self.path)
            next_tick = max(next_tick + self.interval_secs, time.monotonic())
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))


class RunTelemetry:
    """The telemetry files of one run: ``grpc.csv`` and ``satellites.csv`` in ``run_dir``.

    ``dish_values`` is typically ``DishMonitor.telemetry`` (None while the dish is silent) and
    ``satellite_values`` returns the satellite monitor's latest values; either may be None when
    the node has no such source.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        dish_values: ValuesGetter | None = None,
        satellite_values: ValuesGetter | None = None,
        interval_secs: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        directory = Path(run_dir)
        self.writers: list[CsvTelemetryWriter] = []
        if dish_values is not None:
            self.writers.append(
                CsvTelemetryWriter(
                    directory / GRPC_CSV,
                    GRPC_COLUMNS,
                    dish_values,
                    interval_secs=interval_secs,
                    clock=clock,
                )
            )
        if satellite_values is not None:
            self.writers.append(
                CsvTelemetryWriter(
                    directory / SATELLITES_CSV,
                    SATELLITE_COLUMNS,
                    satellite_values,
                    interval_secs=interval_secs,
                    clock=clock,
                )
            )

    async def start(self, exit_stack: contextlib.AsyncExitStack | None = None) -> None:
        for writer in self.writers:
            await writer.start()
        if exit_stack is not None:
            exit_stack.push_async_callback(self.stop)

    async def stop(self) -> None:
        await asyncio.gather(*(writer.stop() for writer in self.writers))

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
