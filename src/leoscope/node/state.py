"""The agent's durable local state: one SQLite file in the data directory.

Tables:

    jobs     the node's jobs as last synced: listed summary (protobuf), a fingerprint of it,
             the get_job_by_id detail (config) fetched for that fingerprint, and the timer's
             watermark (`floor`)
    runs     every run this node claimed, with its phase and last reported status (records.py)
    outbox   run updates not yet acknowledged by the orchestrator, in order (outbox.py)
    tasks    the node's tasks as last synced (for client/server pairing, issue 8); `seen_at`
             is when the listing last changed
    kv       small named values: scavenger flag, last reported public IP, ...

Why these choices:

* Every status change of a run and its outbox row are written in ONE transaction
  (`update_run(status=...)`), so a crash can neither lose an update nor report one that the
  local state does not hold. Each change bumps the run's `seq`, which travels as
  `run_instance.seq`: the orchestrator ignores a lower one, so redelivery is harmless.
* `runs(jobid, slot)` is unique: a slot is claimed at most once, whatever restarts happen.
* WAL with `synchronous=FULL`: a committed state change survives a power cut, not just a crash
  (the node's power does fail). Writes are a few small rows, so the fsync is cheap.
* One connection, used only from the event loop's thread. Writes are short and never await in
  the middle, so no other coroutine can interleave inside a transaction and no lock is needed.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from leoscope.api import convert
from leoscope.api import leotest_pb2 as pb
from leoscope.core.model import Run
from leoscope.core.timeutil import from_epoch

from .records import RunPhase, RunRecord, StoredJob

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MAX_MESSAGE_CHARS = 2000

_RUN_FIELDS = [f.name for f in fields(RunRecord)]
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS jobs (
    jobid TEXT PRIMARY KEY,
    summary BLOB NOT NULL,
    fingerprint TEXT NOT NULL,
    role TEXT NOT NULL,
    detail BLOB,
    detail_fingerprint TEXT,
    first_seen REAL NOT NULL,
    learned_at REAL NOT NULL,
    floor INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    {", ".join(f"{name}" for name in _RUN_FIELDS)},
    PRIMARY KEY (runid),
    UNIQUE (jobid, slot)
);
CREATE INDEX IF NOT EXISTS runs_unfinished ON runs (phase) WHERE phase != 'done';
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    runid TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    payload BLOB NOT NULL,
    enqueued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    rejected INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (id) WHERE rejected = 0;
CREATE TABLE IF NOT EXISTS tasks (
    taskid TEXT PRIMARY KEY,
    payload BLOB NOT NULL,
    seen_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class OutboxRow:
    id: int
    runid: str
    seq: int
    status: str
    payload: bytes
    attempts: int

    @property
    def run(self) -> pb.run_instance:
        return pb.run_instance.FromString(self.payload)


def clean_message(text: str) -> str:
    """A status message the orchestrator accepts: one line, no control characters, bounded."""
    flat = "".join(ch if ch >= " " else " " for ch in text.replace("\n", " "))
    return flat[:MAX_MESSAGE_CHARS]


class LocalState:
    """See the module docstring. `now` is the wall clock (epoch seconds) of the agent."""

    def __init__(self, conn: sqlite3.Connection, node_id: str, now: Callable[[], float]) -> None:
        self._conn = conn
        self.node_id = node_id
        self._now = now
        self.on_outbox: Callable[[], None] | None = None
        """Called after a transaction that added outbox rows commits (the outbox wakes up)."""
        self._outbox_added = False

    @classmethod
    def open(cls, path: Path, node_id: str, now: Callable[[], float]) -> LocalState:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            conn.close()
            raise RuntimeError(f"{path} has schema version {version}; this agent knows 1")
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        path.chmod(0o600)
        return cls(conn, node_id, now)

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            self._outbox_added = False
            raise
        self._conn.execute("COMMIT")
        if self._outbox_added:
            self._outbox_added = False
            if self.on_outbox is not None:
                self.on_outbox()

    # ------------------------------------------------------------------------------- jobs

    def jobs(self) -> list[StoredJob]:
        rows = self._conn.execute("SELECT * FROM jobs ORDER BY jobid").fetchall()
        return [_job_from_row(row) for row in rows]

    def job_index(self) -> dict[str, tuple[str, str]]:
        """jobid -> (fingerprint, role): what sync compares a listing with, cheaply."""
        rows = self._conn.execute("SELECT jobid, fingerprint, role FROM jobs").fetchall()
        return {jobid: (fp, role) for jobid, fp, role in rows}

    def job(self, jobid: str) -> StoredJob | None:
        row = self._conn.execute("SELECT * FROM jobs WHERE jobid = ?", (jobid,)).fetchone()
        return _job_from_row(row) if row else None

    def put_job(
        self,
        summary: pb.job,
        fingerprint: str,
        role: str,
        *,
        floor_if_new: int,
        floor_at_least: int,
    ) -> str:
        """Store a listed job; "new", "changed" (the fingerprint moved) or "same".

        A new job's watermark is `floor_if_new`; a changed one's is raised to at least
        `floor_at_least` (slots of the new definition that passed before the agent learned it
        are not this node's to have missed).
        """
        current = self.job(summary.id)
        if current is not None and current.fingerprint == fingerprint and current.role == role:
            return "same"  # the common case on every sync: no write at all
        with self._tx() as conn:
            if current is None:
                now = self._now()
                conn.execute(
                    "INSERT INTO jobs (jobid, summary, fingerprint, role, first_seen, learned_at,"
                    " floor) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        summary.id,
                        summary.SerializeToString(),
                        fingerprint,
                        role,
                        now,
                        now,
                        floor_if_new,
                    ),
                )
                return "new"
            conn.execute(
                "UPDATE jobs SET summary = ?, fingerprint = ?, role = ?, learned_at = ?,"
                " floor = MAX(floor, ?) WHERE jobid = ?",
                (
                    summary.SerializeToString(),
                    fingerprint,
                    role,
                    self._now(),
                    floor_at_least,
                    summary.id,
                ),
            )
            return "changed"

    def set_job_detail(
        self, jobid: str, detail: pb.message_get_job_by_id_response, fingerprint: str
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE jobs SET detail = ?, detail_fingerprint = ? WHERE jobid = ?",
                (detail.SerializeToString(), fingerprint, jobid),
            )

    def advance_floor(self, jobid: str, slot: int) -> None:
        """Pass over slots up to `slot` without a run (slots that were never this node's)."""
        with self._tx() as conn:
            conn.execute("UPDATE jobs SET floor = MAX(floor, ?) WHERE jobid = ?", (slot, jobid))

    def remove_job(self, jobid: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM jobs WHERE jobid = ?", (jobid,))

    # ------------------------------------------------------------------------------- runs

    def create_run(
        self, record: RunRecord, *, status: str | None = None, message: str = ""
    ) -> RunRecord:
        """Claim a slot: insert the run, raise its job's watermark, and report `status` if given.

        Raises sqlite3.IntegrityError if the slot was already claimed.
        """
        record = record.with_changes(created_at=self._now())
        if status is not None:
            record = self._reported(record, status, message)
        with self._tx() as conn:
            values = [_db_value(getattr(record, name)) for name in _RUN_FIELDS]
            conn.execute(
                f"INSERT INTO runs ({', '.join(_RUN_FIELDS)})"
                f" VALUES ({', '.join('?' for _ in _RUN_FIELDS)})",
                values,
            )
            conn.execute(
                "UPDATE jobs SET floor = MAX(floor, ?) WHERE jobid = ?",
                (record.slot, record.jobid),
            )
            if status is not None:
                self._enqueue(conn, record)
        return record

    def update_run(
        self, runid: str, *, status: str | None = None, message: str = "", **changes: Any
    ) -> RunRecord:
        """Change a run's fields; with `status`, also report it (seq + 1, outbox row)."""
        record = self.get_run(runid)
        if record is None:
            raise KeyError(runid)
        record = record.with_changes(**changes)
        if status is not None:
            record = self._reported(record, status, message)
        names = [n for n in _RUN_FIELDS if n != "runid"]
        with self._tx() as conn:
            conn.execute(
                f"UPDATE runs SET {', '.join(f'{n} = ?' for n in names)} WHERE runid = ?",
                [*(_db_value(getattr(record, n)) for n in names), runid],
            )
            if status is not None:
                self._enqueue(conn, record)
        return record

    def _reported(self, record: RunRecord, status: str, message: str) -> RunRecord:
        changes: dict[str, Any] = {
            "status": status,
            "status_message": clean_message(message),
            "seq": record.seq + 1,
        }
        reported = record.with_changes(**changes)
        if reported.is_final and reported.end_time is None:
            reported = reported.with_changes(end_time=self._now())
        return reported

    def get_run(self, runid: str) -> RunRecord | None:
        row = self._conn.execute("SELECT * FROM runs WHERE runid = ?", (runid,)).fetchone()
        return _run_from_row(row) if row else None

    def runs(self, jobid: str | None = None) -> list[RunRecord]:
        if jobid is None:
            rows = self._conn.execute("SELECT * FROM runs ORDER BY slot, created_at").fetchall()
        else:
            rows = self._conn.execute(
                "SELECT * FROM runs WHERE jobid = ? ORDER BY slot, created_at", (jobid,)
            ).fetchall()
        return [_run_from_row(row) for row in rows]

    def unfinished_runs(self) -> list[RunRecord]:
        rows = self._conn.execute(
            "SELECT * FROM runs WHERE phase != 'done' ORDER BY slot, created_at"
        ).fetchall()
        return [_run_from_row(row) for row in rows]

    def run_instance(self, record: RunRecord) -> pb.run_instance:
        """The wire form of a run as reported now."""
        start = from_epoch(record.start_time)
        end = from_epoch(record.end_time) if record.end_time is not None else start
        run = Run(
            runid=record.runid,
            jobid=record.jobid,
            nodeid=record.filed_nodeid or self.node_id,
            userid=record.userid,
            start_time=start,
            end_time=end,
            last_updated=from_epoch(self._now()),
            status=record.status,
            status_message=record.status_message,
            blob_url=record.blob_url,
            archive_sha256=record.archive_sha256,
            archive_size=record.archive_size,
            seq=record.seq,
            blob_name=record.blob_name,
            trigger_values=record.trigger_values,
        )
        return convert.run_to_pb(run)

    # ------------------------------------------------------------------------------- outbox

    def _enqueue(self, conn: sqlite3.Connection, record: RunRecord) -> None:
        conn.execute(
            "INSERT INTO outbox (runid, seq, status, payload, enqueued_at) VALUES (?, ?, ?, ?, ?)",
            (
                record.runid,
                record.seq,
                record.status,
                self.run_instance(record).SerializeToString(),
                self._now(),
            ),
        )
        self._outbox_added = True

    def next_outbox(self) -> OutboxRow | None:
        row = self._conn.execute(
            "SELECT id, runid, seq, status, payload, attempts FROM outbox"
            " WHERE rejected = 0 ORDER BY id LIMIT 1"
        ).fetchone()
        return OutboxRow(*row) if row else None

    def outbox_size(self) -> int:
        return int(
            self._conn.execute("SELECT COUNT(*) FROM outbox WHERE rejected = 0").fetchone()[0]
        )

    def ack(self, outbox_id: int) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM outbox WHERE id = ?", (outbox_id,))

    def note_failure(self, outbox_id: int, error: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error[:500], outbox_id),
            )

    def reject(self, outbox_id: int, error: str) -> None:
        """The orchestrator refused the update for good; keep it for the operator, stop sending."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE outbox SET rejected = 1, attempts = attempts + 1, last_error = ?"
                " WHERE id = ?",
                (error[:500], outbox_id),
            )

    # ------------------------------------------------------------------------------- tasks, kv

    def replace_tasks(self, tasks: list[pb._task]) -> None:
        """Store the node's tasks as listed. Every sync lists them, and they rarely change: an
        unchanged list is not written again (a committed write costs an fsync)."""
        wanted = {t.taskid: t.SerializeToString() for t in tasks}
        stored = dict(self._conn.execute("SELECT taskid, payload FROM tasks").fetchall())
        if stored == wanted:
            return
        with self._tx() as conn:
            conn.execute("DELETE FROM tasks")
            conn.executemany(
                "INSERT OR REPLACE INTO tasks (taskid, payload, seen_at) VALUES (?, ?, ?)",
                [(taskid, payload, self._now()) for taskid, payload in wanted.items()],
            )

    def tasks(self) -> list[pb._task]:
        rows = self._conn.execute("SELECT payload FROM tasks ORDER BY taskid").fetchall()
        return [pb._task.FromString(row[0]) for row in rows]

    def get_value(self, key: str, default: Any = None) -> Any:
        row = self._conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_value(self, key: str, value: Any) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )


def _db_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, RunPhase):
        return value.value
    return value


def _run_from_row(row: tuple[Any, ...]) -> RunRecord:
    values = dict(zip(_RUN_FIELDS, row, strict=True))
    values["phase"] = RunPhase(values["phase"])
    values["oom_killed"] = bool(values["oom_killed"])
    return RunRecord(**values)


def _job_from_row(row: tuple[Any, ...]) -> StoredJob:
    jobid, summary, fingerprint, role, detail, detail_fp, first_seen, learned_at, floor = row
    return StoredJob(
        jobid=jobid,
        summary=pb.job.FromString(summary),
        fingerprint=fingerprint,
        role=role,
        detail=pb.message_get_job_by_id_response.FromString(detail) if detail else None,
        detail_fingerprint=detail_fp,
        first_seen=first_seen,
        learned_at=learned_at,
        floor=floor,
    )
