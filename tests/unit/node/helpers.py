"""Small builders shared by the node unit tests (pure data, a real SQLite file)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from leoscope.api import leotest_pb2 as pb
from leoscope.core.timeutil import job_date
from leoscope.node.state import LocalState
from leoscope.node.sync import fingerprint

NODE = "node-1"


class FakeClock:
    """A wall clock the test moves by hand; the monotonic clock follows it unless jumped."""

    def __init__(self, start: float) -> None:
        self.wall = start
        self.mono = 1000.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, secs: float) -> None:
        self.wall += secs
        self.mono += secs

    def jump(self, secs: float) -> None:
        self.wall += secs


def job_msg(
    jobid: str,
    start: datetime,
    end: datetime,
    *,
    cron: str = "",
    length_secs: int = 30,
    nodeid: str = NODE,
) -> pb.job:
    return pb.job(
        id=jobid,
        nodeid=nodeid,
        type=pb.CRON if cron else pb.ATQ,
        params=pb.job_params(mode="docker"),
        schedule=cron,
        start_date=job_date(start),
        end_date=job_date(end),
        length_secs=length_secs,
        overhead=True,
        userid="alice",
    )


def open_state(tmp_path: Path, clock: FakeClock) -> LocalState:
    return LocalState.open(tmp_path / "agent.sqlite3", NODE, clock.time)


def put(state: LocalState, msg: pb.job, *, floor: int, role: str = "client") -> None:
    state.put_job(msg, fingerprint(msg), role, floor_if_new=floor, floor_at_least=floor)
