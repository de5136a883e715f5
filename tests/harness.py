"""Run a real orchestrator for tests, and call it the way clients do.

`RunningOrchestrator` serves on a loopback port from a background thread with its own event loop,
so tests can stay synchronous. `Caller` is a raw gRPC stub with a principal's credentials; tests
of wire behaviour use it rather than the SDK, to see exactly what a reference client sees.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import sqlalchemy as sa

from leoscope.api import leotest_pb2 as pb
from leoscope.api import leotest_pb2_grpc as pb_grpc
from leoscope.orchestrator.server import OrchestratorServer, ServerSettings

from .services import POSTGRES_URL


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, private schema (dropped afterwards)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


class RunningOrchestrator:
    def __init__(self, data_dir: Path, db_url: str | None = None, **settings: Any) -> None:
        self.admin_token = secrets.token_hex(16)
        self.settings = ServerSettings(
            listen="127.0.0.1:0",
            data_dir=data_dir,
            db_url=db_url,
            admin_token=self.admin_token,
            watch_ping_secs=settings.pop("watch_ping_secs", 5.0),
            **settings,
        )
        self.server = OrchestratorServer(self.settings)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.port = self._run(self.server.start())
        self.address = f"127.0.0.1:{self.port}"

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=60)

    def stop(self) -> None:
        self._run(self.server.stop(grace=1.0))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, for "the refusal changed nothing" assertions."""
        from leoscope.orchestrator.store.schema import metadata

        assert self.server.store is not None
        with self.server.store.read() as conn:
            return {
                name: sorted(tuple(r) for r in conn.execute(sa.select(table)))
                for name, table in metadata.tables.items()
            }

    def caller(self, userid: str, token: str = "", jwt: str = "") -> Caller:
        return Caller(self.address, userid, token, jwt)

    def admin(self) -> Caller:
        return self.caller("admin", self.admin_token)


@dataclass
class Caller:
    """A reference-style client: every call carries the three credential headers."""

    address: str
    userid: str
    token: str = ""
    jwt: str = ""

    def __post_init__(self) -> None:
        self.channel = grpc.insecure_channel(self.address)
        self.stub = pb_grpc.LeotestOrchestratorStub(self.channel)

    @property
    def metadata(self) -> list[tuple[str, str]]:
        return [
            ("x-leotest-userid", self.userid),
            ("x-leotest-access-token", self.token),
            ("x-leotest-jwt-access-token", self.jwt),
        ]

    def call(self, rpc: str, request: Any, timeout: float = 10.0) -> Any:
        return getattr(self.stub, rpc)(request, metadata=self.metadata, timeout=timeout)

    def call_with_trailers(self, rpc: str, request: Any) -> tuple[Any, dict[str, str]]:
        response, call = getattr(self.stub, rpc).with_call(
            request, metadata=self.metadata, timeout=10.0
        )
        return response, dict(call.trailing_metadata() or ())

    def close(self) -> None:
        self.channel.close()

    # Conveniences used across tests -------------------------------------------------------
    def register_user(self, userid: str, role: int = pb.USER, name: str = "A User") -> str:
        resp = self.call(
            "register_user", pb.message_register_user(id=userid, name=name, role=role, team="t")
        )
        assert resp.state == pb.SUCCESS, resp.message
        return resp.message.split("access_token=", 1)[1]

    def register_node(self, nodeid: str, coords: str = "47.6,-122.3", **fields: Any) -> str:
        node = pb._node(nodeid=nodeid, name=nodeid, coords=coords, location="lab", **fields)
        resp = self.call("register_node", pb.message_register_node(node=node))
        assert resp.state == pb.SUCCESS, resp.message
        return resp.message.split("access_token=", 1)[1]


EXPERIMENT_CONFIG = "docker:\n  image: leoscope-test/busybox:latest\n  execute:\n    name: exp\n"


def job_request(
    jobid: str, nodeid: str, start: str, end: str, **fields: Any
) -> pb.message_schedule_job:
    """A schedule_job request as the reference CLI sends it (params filled with placeholders)."""
    values: dict[str, Any] = {
        "id": jobid,
        "nodeid": nodeid,
        "type": pb.ATQ,
        "params": pb.job_params(mode="docker", deploy="d", execute="e", finish="f"),
        "start_date": start,
        "end_date": end,
        "length_secs": 60,
        "overhead": True,
        "config": EXPERIMENT_CONFIG,
    }
    values.update(fields)
    return pb.message_schedule_job(**values)
