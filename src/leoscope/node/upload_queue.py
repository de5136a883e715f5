"""The durable upload queue: one row per run archive the uploader has taken over.

The rows live in the agent's state file (state.py's SQLite database), in their own table,
written on their own connection (WAL lets two connections share the file; both are used only
from the event loop's thread and no transaction spans an await, so they never wait on each
other). A row is written BEFORE the delivery reports UPLOAD_PENDING, so an archive handed over
is never forgotten, whatever crash follows.

    runid          the run (one row per run; adding it again is a no-op)
    path           the archive's spool copy: a hard link to archives/<runid>.zip, so the copy
                   costs no disk and survives the executor removing its own name
    sha256, size   the archive's, recorded when it was made
    blob_name      where to upload; None: the name the orchestrator chooses (the reference
                   layout); an alternative name after a conflict (upload.py)
    stage          pending   to upload, then report the final status
                   reported  final report queued in the outbox with seq `report_seq`
                   kept      accepted by the orchestrator; the copy is deleted at `keep_until`
                   failed    given up (reported FAILED); the copy stays for the operator
    final_status, final_message
                   set when the uploader itself must report the final status again (after a
                   refused COMPLETE); None for the first report, which the executor makes
    attempts, last_error, refusals (COMPLETE reports the orchestrator would not verify)

A row leaves the table only once its archive is stored, verified and its report accepted (and
kept as long as `keep_uploaded` says): unuploaded results are never deleted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any


class Stage(StrEnum):
    PENDING = "pending"
    REPORTED = "reported"
    KEPT = "kept"
    FAILED = "failed"


@dataclass(frozen=True)
class UploadEntry:
    runid: str
    path: str
    sha256: str
    size: int
    stage: Stage = Stage.PENDING
    blob_name: str | None = None
    final_status: str | None = None
    final_message: str | None = None
    report_seq: int | None = None
    attempts: int = 0
    last_error: str | None = None
    refusals: int = 0
    keep_until: float | None = None
    created_at: float = 0.0

    @property
    def archive(self) -> Path:
        return Path(self.path)

    def with_changes(self, **changes: Any) -> UploadEntry:
        return replace(self, **changes)


_FIELDS = [f.name for f in fields(UploadEntry)]
_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    runid TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    stage TEXT NOT NULL,
    blob_name TEXT,
    final_status TEXT,
    final_message TEXT,
    report_seq INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    refusals INTEGER NOT NULL DEFAULT 0,
    keep_until REAL,
    created_at REAL NOT NULL
);
"""


class UploadQueue:
    """The `uploads` table. `now` is the agent's wall clock (epoch seconds)."""

    def __init__(self, conn: sqlite3.Connection, now: Callable[[], float]) -> None:
        self._conn = conn
        self._now = now

    @classmethod
    def open(cls, path: Path, now: Callable[[], float]) -> UploadQueue:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(_SCHEMA)
        return cls(conn, now)

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def add(self, entry: UploadEntry) -> UploadEntry:
        """Insert `entry` unless the run already has a row; return the row as stored."""
        entry = entry.with_changes(created_at=entry.created_at or self._now())
        with self._tx() as conn:
            conn.execute(
                f"INSERT OR IGNORE INTO uploads ({', '.join(_FIELDS)})"
                f" VALUES ({', '.join('?' for _ in _FIELDS)})",
                [getattr(entry, name) for name in _FIELDS],
            )
        stored = self.get(entry.runid)
        assert stored is not None
        return stored

    def get(self, runid: str) -> UploadEntry | None:
        row = self._conn.execute(
            f"SELECT {', '.join(_FIELDS)} FROM uploads WHERE runid = ?", (runid,)
        ).fetchone()
        return _entry(row) if row else None

    def entries(self, *stages: Stage) -> list[UploadEntry]:
        """Rows in these stages (all when none given), oldest first."""
        query = f"SELECT {', '.join(_FIELDS)} FROM uploads"
        args: list[str] = []
        if stages:
            query += f" WHERE stage IN ({', '.join('?' for _ in stages)})"
            args = [s.value for s in stages]
        rows = self._conn.execute(query + " ORDER BY created_at, runid", args).fetchall()
        return [_entry(row) for row in rows]

    def update(self, runid: str, **changes: Any) -> UploadEntry:
        entry = self.get(runid)
        if entry is None:
            raise KeyError(runid)
        entry = entry.with_changes(**changes)
        names = [n for n in _FIELDS if n != "runid"]
        with self._tx() as conn:
            conn.execute(
                f"UPDATE uploads SET {', '.join(f'{n} = ?' for n in names)} WHERE runid = ?",
                [*(getattr(entry, n) for n in names), runid],
            )
        return entry

    def remove(self, runid: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM uploads WHERE runid = ?", (runid,))

    def report_fate(self, runid: str, seq: int) -> str:
        """What became of the run's report number `seq` in the outbox (state.py's table):
        "queued" (not yet acknowledged), "refused" (rejected for good, with the reason after
        a colon: "refused:<reason>") or "accepted" (gone: acknowledged and deleted)."""
        row = self._conn.execute(
            "SELECT rejected, last_error FROM outbox WHERE runid = ? AND seq = ?", (runid, seq)
        ).fetchone()
        if row is None:
            return "accepted"
        if row[0]:
            return f"refused:{row[1] or ''}"
        return "queued"


def _entry(row: tuple[Any, ...]) -> UploadEntry:
    values = dict(zip(_FIELDS, row, strict=True))
    values["stage"] = Stage(values["stage"])
    return UploadEntry(**values)
