"""Where the agent keeps things inside its data directory.

    <data-dir>/agent.sqlite3                          local state: jobs, runs, outbox (state.py)
    <data-dir>/runs/<nodeid>/<jobid>/<YYYY>/<M>/<D>/<runid>/
                                                      one run's directory, seen as /artifacts
    <data-dir>/archives/<runid>.zip                   a run's archive until it is delivered
    <data-dir>/artifacts/                             the local artifact store (default)
    <data-dir>/process-runtime/                       the process runtime's records

The run directory's relative path is the reference's (wire contract §6.3): the run's UTC start
date, month and day not zero-padded. Every id that becomes a path segment is checked here, so a
job id such as `..` or `a/b` can never walk out of the data directory, whatever the
orchestrator accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from leoscope.core.errors import InvalidInput
from leoscope.core.timeutil import to_utc

STATE_FILE = "agent.sqlite3"
# The orchestrator's id alphabet (core.validation.ID_PATTERN); dots-only names are refused too.
_SEGMENT = re.compile(r"^[A-Za-z0-9._@-]{1,128}$")
_RUN_ID = re.compile(r"^[0-9a-f]{32}(_server)?$")


def check_segment(field: str, value: str) -> str:
    """`value` if it is safe as one path segment (and in a shell, though none is used)."""
    if not isinstance(value, str) or not _SEGMENT.match(value) or set(value) == {"."}:
        raise InvalidInput(
            field,
            f"{value!r} is not a safe id (letters, digits, '.', '_', '@', '-'; not only dots)",
        )
    return value


def check_run_id(value: str) -> str:
    """Run ids are uuid4 hex (32 lowercase hex digits); `_server` marks a paired server side."""
    if not isinstance(value, str) or not _RUN_ID.match(value):
        raise InvalidInput("runid", f"{value!r} is not a 32-digit lowercase hex run id")
    return value


def run_relpath(nodeid: str, jobid: str, start: datetime, runid: str) -> PurePosixPath:
    """`<nodeid>/<jobid>/<YYYY>/<M>/<D>/<runid>` for a run started at `start` (UTC date)."""
    check_segment("nodeid", nodeid)
    check_segment("jobid", jobid)
    check_run_id(runid)
    day = to_utc(start)
    return PurePosixPath(nodeid, jobid, str(day.year), str(day.month), str(day.day), runid)


@dataclass(frozen=True)
class AgentPaths:
    """The data directory's layout. `ensure()` creates the directories."""

    data_dir: Path

    @property
    def state_db(self) -> Path:
        return self.data_dir / STATE_FILE

    @property
    def runs_root(self) -> Path:
        return self.data_dir / "runs"

    @property
    def archives(self) -> Path:
        return self.data_dir / "archives"

    @property
    def artifacts(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def process_state(self) -> Path:
        return self.data_dir / "process-runtime"

    def run_dir(self, relpath: PurePosixPath | str) -> Path:
        return self.runs_root / PurePosixPath(relpath)

    def archive_path(self, runid: str) -> Path:
        return self.archives / f"{check_run_id(runid)}.zip"

    def ensure(self) -> AgentPaths:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)  # the state file holds job configs, which may hold secrets
        for directory in (self.runs_root, self.archives):
            directory.mkdir(exist_ok=True)
        return self
