"""Run archives for `leoscope run download | logs | show`: selection, progress, printing.

Everything goes through the SDK (`Client.download_run`, `Client.open_archive`): signed URLs
from the orchestrator, never a storage key. Downloads resume a partial `<run>.zip.part`,
verify the SHA-256 the store recorded, fetch a corrupt copy again and skip a file that is
already there intact. Logs and file lists read the archive in place (HTTP ranges).
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from leoscope.client import Client, LeoscopeError, NotFound, Run
from leoscope.core.model import FINAL_STATUSES

from .output import Column, Row

DOWNLOAD_COLUMNS: Sequence[Column] = (
    Column("runid", "RUN"),
    Column("file", "FILE"),
    Column("size", "BYTES"),
    Column("sha256", "SHA256"),
    Column("result", "RESULT"),
)
FILE_COLUMNS: Sequence[Column] = (Column("name", "FILE"), Column("size", "BYTES"))
LOG_FILES = ("executor.stdout", "executor.stderr", "container.stdout", "container.stderr")


def has_archive(run: Run) -> bool:
    """Whether the run reported an archive (or a partial snapshot) to fetch."""
    return bool(run.blob_name or run.blob_url or run.archive_sha256)


def select_runs(
    client: Client,
    runids: Sequence[str],
    *,
    job: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[Run]:
    """The runs named, else those matching the filters that have an archive (oldest first)."""
    if runids:
        return [client.get_run(runid) for runid in runids]
    runs = client.list_runs(job=job, since=since, until=until)
    return [run for run in reversed(runs) if has_archive(run)]


# ---------------------------------------------------------------------------- download


@dataclass
class _Bars:
    """A bar per file and one overall (only on a terminal: pipes get the summary alone)."""

    progress: Progress
    overall: TaskID
    total: int

    @classmethod
    def start(cls, console: Console, runs: Sequence[Run]) -> _Bars:
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        total = sum(run.archive_size or 0 for run in runs)
        overall = progress.add_task(f"{len(runs)} run(s)", total=total or None)
        progress.start()
        return cls(progress, overall, total)

    def file(self, run: Run) -> Callable[[int, int], None]:
        """A progress callback for one run's download, feeding both bars."""
        task = self.progress.add_task(run.runid[:12], total=run.archive_size or None)
        base = self.progress.tasks[self.overall].completed
        known = run.archive_size is not None

        def update(done: int, total: int) -> None:
            nonlocal known
            if not known and total:
                self.total += total
                self.progress.update(self.overall, total=self.total)
                known = True
            self.progress.update(task, completed=done, total=total)
            self.progress.update(self.overall, completed=base + done)

        return update

    def stop(self) -> None:
        self.progress.stop()


def download_runs(
    client: Client, runs: Sequence[Run], dest: Path, *, extract: bool, console: Console
) -> tuple[list[Row], int]:
    """Download each run's archive into `dest`; (one row per run, number of failures)."""
    dest.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    failures = 0
    bars = _Bars.start(console, runs)
    try:
        for run in runs:
            row: Row = {"runid": run.runid, "file": None, "size": None, "sha256": None}
            try:
                result = client.download_run(run.runid, dest, progress=bars.file(run))
            except NotFound as exc:
                row["result"] = f"no archive ({exc})"
                failures += has_archive(run) and run.status in FINAL_STATUSES
            except LeoscopeError as exc:
                row["result"] = f"failed: {exc}"
                failures += 1
            else:
                row.update(
                    file=str(result.path),
                    size=result.size,
                    sha256=result.sha256,
                    result="already there" if result.skipped else "downloaded",
                    fetched=result.bytes_fetched,
                )
                if extract:
                    row["extracted"] = str(extract_archive(result.path, dest, run.runid))
            rows.append(row)
    finally:
        bars.stop()
    return rows, failures


def extract_archive(archive: Path, dest: Path, runid: str) -> Path:
    """Unpack into `dest`: archives hold one top-level folder `<runid>/` (zipfile refuses
    absolute paths and `..`)."""
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(dest)
    return dest / runid


# ---------------------------------------------------------------------------- files, logs


def archive_files(client: Client, runid: str) -> list[Row]:
    """The archive's files (name without the top folder, size), read in place."""
    with client.open_archive(runid) as zf:
        return [
            {"name": _member_name(info.filename), "size": info.file_size}
            for info in zf.infolist()
            if not info.is_dir()
        ]


def _member_name(name: str) -> str:
    top, _, rest = name.partition("/")
    return rest or top


def read_logs(zf: zipfile.ZipFile) -> dict[str, bytes]:
    """The executor and container logs in an archive, by file name."""
    found: dict[str, bytes] = {}
    for info in zf.infolist():
        name = _member_name(info.filename)
        if name in LOG_FILES and not info.is_dir():
            found[name] = zf.read(info)
    return found


class LogPrinter:
    """Prints each log once, and on later calls only what was appended since (tail -f)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.printed: dict[str, int] = {}

    def show(self, logs: dict[str, bytes]) -> None:
        for name in LOG_FILES:
            data = logs.get(name)
            if data is None:
                continue
            start = self.printed.get(name, 0)
            if len(data) < start:  # rewritten, not appended: show it again
                start = 0
            fresh = data[start:]
            if not fresh:
                continue
            self.out.write(f"==> {name} <==\n")
            text = fresh.decode("utf-8", errors="replace")
            self.out.write(text if text.endswith("\n") else text + "\n")
            self.out.flush()
            self.printed[name] = len(data)


def follow_logs(
    client: Client,
    runid: str,
    out: TextIO,
    *,
    follow: bool,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
) -> Run:
    """Print the run's logs; with `follow`, keep printing newer snapshots until it ends."""
    printer = LogPrinter(out)
    shown: str | None = None
    while True:
        run = client.get_run(runid)
        version = run.blob_name or run.blob_url or None
        if version is not None and version != shown:
            try:
                with client.open_archive(runid) as zf:
                    printer.show(read_logs(zf))
                shown = version
            except NotFound:
                if not follow:
                    raise
        elif version is None and not follow:
            raise NotFound(
                "artifact",
                runid,
                f"run {runid} has no archive yet (it is {run.status}); add --follow to wait "
                "for it (a run with artifacts.sync_interval uploads partial snapshots)",
            )
        if not follow or (run.status in FINAL_STATUSES and shown == version):
            return run
        sleep(interval)
