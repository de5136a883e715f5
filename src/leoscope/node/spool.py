"""The node's spool: results on disk that are not yet safely stored, and its disk budget.

The spool is everything under the data directory's

    runs/       run directories (the experiments' /artifacts)
    archives/   archives being made or delivered
    uploads/    archives waiting for upload, kept after upload (keep_uploaded), snapshots

(a file hard-linked in two of them counts once). Nothing in it is ever deleted to make room:
when it holds more than the `spool_budget` setting, `SpoolGate` stops new runs from starting
(FAILED "spool full: ..."; the run never deploys, so it adds nothing) and the agent says so in
its heartbeat log line every sync interval, until uploads drain it below the budget again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from leoscope.core.model import RunStatus

from .paths import AgentPaths
from .seams import PROCEED, GateDecision, RunContext, Skip
from .sizes import format_size

log = logging.getLogger(__name__)

UPLOADS_DIR = "uploads"
CACHE_SECS = 2.0


def spool_dirs(paths: AgentPaths) -> tuple[Path, ...]:
    return (paths.runs_root, paths.archives, paths.data_dir / UPLOADS_DIR)


def disk_usage(roots: tuple[Path, ...]) -> int:
    """Bytes of the regular files under `roots` (each inode once; symlinks not followed)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [r for r in roots if r.is_dir()]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:  # removed while we looked: nothing left to count
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    key = (st.st_dev, st.st_ino)
                    if key not in seen:
                        seen.add(key)
                        total += st.st_size
            except OSError:
                continue
    return total


class Spool:
    """Measures the spool (cached for a moment: gates of runs starting together share it)."""

    def __init__(self, paths: AgentPaths, budget: int | None) -> None:
        self.roots = spool_dirs(paths)
        self.budget = budget
        self._measured: tuple[float, int] | None = None
        self.full_reported = False

    def usage(self) -> int:
        """Bytes in the spool now (blocking: a directory walk)."""
        now = time.monotonic()
        if self._measured is not None and now - self._measured[0] < CACHE_SECS:
            return self._measured[1]
        used = disk_usage(self.roots)
        self._measured = (now, used)
        return used

    def forget(self) -> None:
        self._measured = None

    def over_budget(self, used: int) -> bool:
        return self.budget is not None and used >= self.budget

    def describe(self, used: int) -> str:
        assert self.budget is not None
        return (
            f"spool full: {format_size(used)} of results waiting on this node "
            f"(budget {format_size(self.budget)})"
        )

    async def watch(self, interval: float, node_id: str) -> None:
        """The heartbeat log line: every `interval` seconds while the spool is over budget."""
        while True:
            used = await asyncio.to_thread(self.usage)
            if self.over_budget(used):
                log.warning(
                    "heartbeat node=%s: %s; not starting new runs until uploads drain it",
                    node_id,
                    self.describe(used),
                )
                self.full_reported = True
            elif self.full_reported:
                log.info(
                    "heartbeat node=%s: spool below its budget again (%s); runs start again",
                    node_id,
                    format_size(used),
                )
                self.full_reported = False
            await asyncio.sleep(interval)


class SpoolGate:
    """Skips a run (FAILED "spool full: ...") while the spool is over its budget."""

    name = "spool"

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    async def check(self, run: RunContext) -> GateDecision:
        if self.spool.budget is None:
            return PROCEED
        used = await asyncio.to_thread(self.spool.usage)
        if not self.spool.over_budget(used):
            return PROCEED
        message = f"{self.spool.describe(used)}; the run was not started"
        log.warning("run=%s not started: %s", run.runid, message)
        return Skip(RunStatus.FAILED, message)
