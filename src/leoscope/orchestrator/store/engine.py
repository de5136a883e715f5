"""Opening the datastore: SQLite (embedded default) or PostgreSQL, migrated at start.

`Store.read()` and `Store.write()` hand out connections inside a transaction. Writes that must be
serialised per node (admission of overhead jobs) pass `lock_nodes`: on PostgreSQL the transaction
takes one advisory lock per node, in sorted order so two requests cannot deadlock; on SQLite every
write transaction starts with `BEGIN IMMEDIATE`, which already serialises writers across
processes. That difference is decided here, once, when the store is opened.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def normalize_url(url: str | None, data_dir: Path) -> str:
    """Turn a `--db` value into a SQLAlchemy URL (default: SQLite file in the data directory)."""
    if not url:
        return f"sqlite:///{(data_dir / 'leoscope.db').resolve()}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def redact(url: str) -> str:
    """The URL with any password hidden, for logs."""
    return make_url(url).render_as_string(hide_password=True)


class Store:
    """A migrated database and the transactions the orchestrator runs on it."""

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30},
                pool_size=pool_size,
                max_overflow=pool_size,
            )
            _configure_sqlite(self.engine)
            self._lock = _no_lock
            # pysqlite already runs in autocommit (isolation_level None); reads just skip BEGIN.
            self._reader = self.engine.execution_options(leoscope_autocommit=True)
        else:
            self.engine = create_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800
            )
            self._lock = _pg_advisory_lock
            self._reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @classmethod
    def open(cls, url: str) -> Store:
        store = cls(url)
        store.migrate()
        return store

    def migrate(self) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads, in autocommit mode: one round trip per query, no BEGIN.

        Each statement sees a consistent snapshot of its own; reads that must agree with each
        other belong in `write()`.
        """
        with self._reader.connect() as conn:
            yield conn

    @contextmanager
    def write(self, lock_nodes: Iterable[str] = ()) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(leoscope_write=True)
            with conn.begin():
                for nodeid in sorted(set(lock_nodes)):
                    self._lock(conn, nodeid)
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def _no_lock(conn: Connection, nodeid: str) -> None:
    """SQLite: BEGIN IMMEDIATE already holds the database's single write lock."""


def _pg_advisory_lock(conn: Connection, nodeid: str) -> None:
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 7))"), {"k": nodeid})


def _configure_sqlite(engine: Engine) -> None:
    """WAL, durable commits, a busy timeout, and explicit BEGIN (IMMEDIATE for writes).

    pysqlite's own transaction handling is switched off so that SQLAlchemy's begin emits the
    BEGIN we choose; BEGIN IMMEDIATE takes the write lock up front, so a check-then-insert inside
    one write transaction is atomic across threads and processes.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("leoscope_autocommit"):
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("leoscope_write") else "BEGIN")
