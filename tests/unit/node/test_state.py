"""The local state file: atomic status + outbox writes, per-run sequence numbers, durability."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leoscope.api import leotest_pb2 as pb
from leoscope.core.timeutil import to_epoch
from leoscope.node.records import RunPhase, RunRecord
from leoscope.node.state import LocalState

from .helpers import NODE, FakeClock, job_msg, open_state, put

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def record(runid: str = "a" * 32, slot: int | None = None) -> RunRecord:
    msg = job_msg("j1", T0, T0 + timedelta(hours=1))
    slot = slot if slot is not None else to_epoch(T0)
    return RunRecord(
        runid=runid,
        jobid="j1",
        userid="alice",
        slot=slot,
        deadline=slot + 30.0,
        start_time=slot + 0.2,
        run_relpath=f"{NODE}/j1/2030/1/1/{runid}",
        job_blob=msg.SerializeToString(),
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(to_epoch(T0))


@pytest.fixture
def state(tmp_path: Path, clock: FakeClock) -> LocalState:
    return open_state(tmp_path, clock)


def test_each_reported_status_is_one_outbox_row_with_the_next_seq(state: LocalState) -> None:
    state.create_run(record())
    assert state.outbox_size() == 0, "claiming a slot reports nothing by itself"
    state.update_run("a" * 32, status="DEPLOYING", message="pulling")
    state.update_run("a" * 32, phase=RunPhase.RUNNING, container_id="c1")  # local only
    state.update_run("a" * 32, status="EXECUTING", message="Executing job.")
    rows = []
    while (row := state.next_outbox()) is not None:
        rows.append((row.seq, row.status, row.run.seq, row.run.status, row.run.nodeid))
        state.ack(row.id)
    assert rows == [(1, "DEPLOYING", 1, "DEPLOYING", NODE), (2, "EXECUTING", 2, "EXECUTING", NODE)]


def test_the_wire_run_keeps_start_time_as_end_time_until_final(
    state: LocalState, clock: FakeClock
) -> None:
    state.create_run(record(), status="DEPLOYING", message="x")
    first = state.next_outbox().run
    assert first.end_time == first.start_time
    clock.advance(5)
    final = state.update_run("a" * 32, status="COMPLETE", message="done\nok", blob_url="file:///x")
    assert final.end_time == clock.time()
    rows = state._conn.execute("SELECT payload FROM outbox ORDER BY id").fetchall()
    from leoscope.api import leotest_pb2 as pb

    wire = pb.run_instance.FromString(rows[-1][0])
    assert wire.status == "COMPLETE" and wire.status_message == "done ok"
    assert wire.end_time != wire.start_time and wire.blob_url == "file:///x"
    assert wire.seq == 2 and wire.userid == "alice"


def test_a_slot_is_claimed_once_and_a_failed_claim_leaves_no_trace(state: LocalState) -> None:
    put(state, job_msg("j1", T0, T0 + timedelta(hours=1)), floor=0)
    state.create_run(record("a" * 32), status="MISSED", message="m")
    with pytest.raises(sqlite3.IntegrityError):
        state.create_run(record("b" * 32), status="MISSED", message="m")
    assert [r.runid for r in state.runs()] == ["a" * 32]
    assert state.outbox_size() == 1
    assert state.job("j1").floor == to_epoch(T0)


def test_everything_survives_reopening(tmp_path: Path, clock: FakeClock) -> None:
    state = open_state(tmp_path, clock)
    put(state, job_msg("j1", T0, T0 + timedelta(hours=1)), floor=7)
    state.create_run(record(), status="DEPLOYING", message="x")
    state.set_value("scavenger_mode_active", True)
    state.close()
    again = LocalState.open(tmp_path / "agent.sqlite3", NODE, clock.time)
    assert again.job("j1").floor == to_epoch(T0), "claiming the slot raised the floor"
    assert again.get_run("a" * 32).status == "DEPLOYING"
    assert again.outbox_size() == 1
    assert again.get_value("scavenger_mode_active") is True
    assert again.unfinished_runs()[0].runid == "a" * 32


def test_a_changed_job_keeps_its_floor_unless_raised(state: LocalState) -> None:
    from leoscope.node.sync import fingerprint

    msg = job_msg("j1", T0, T0 + timedelta(hours=1))
    assert state.put_job(msg, fingerprint(msg), "client", floor_if_new=5, floor_at_least=0) == "new"
    assert (
        state.put_job(msg, fingerprint(msg), "client", floor_if_new=9, floor_at_least=9) == "same"
    )
    assert state.job("j1").floor == 5
    changed = job_msg("j1", T0, T0 + timedelta(hours=2))
    assert (
        state.put_job(changed, fingerprint(changed), "client", floor_if_new=0, floor_at_least=3)
        == "changed"
    )
    assert state.job("j1").floor == 5
    changed2 = job_msg("j1", T0, T0 + timedelta(hours=3))
    state.put_job(changed2, fingerprint(changed2), "client", floor_if_new=0, floor_at_least=50)
    assert state.job("j1").floor == 50
    assert not state.job("j1").detail_is_current


def test_rejected_updates_stop_blocking_the_queue(state: LocalState) -> None:
    state.create_run(record(), status="DEPLOYING", message="x")
    state.update_run("a" * 32, status="EXECUTING", message="y")
    first = state.next_outbox()
    state.reject(first.id, "permission denied")
    assert state.next_outbox().status == "EXECUTING"
    assert state.outbox_size() == 1


def test_state_file_is_private(tmp_path: Path, clock: FakeClock) -> None:
    open_state(tmp_path, clock)
    assert (tmp_path / "agent.sqlite3").stat().st_mode & 0o077 == 0


def test_an_unchanged_task_list_is_not_written_again(state: LocalState) -> None:
    """Sync lists the tasks every few seconds; only a change may cost a write (an fsync)."""
    tasks = [pb._task(taskid="t1", jobid="j1"), pb._task(taskid="t2", jobid="j1")]
    state.replace_tasks(tasks)
    writes = state._conn.total_changes
    state.replace_tasks(list(reversed(tasks)))
    assert state._conn.total_changes == writes
    assert [t.taskid for t in state.tasks()] == ["t1", "t2"]
    state.replace_tasks(tasks[:1])
    assert state._conn.total_changes > writes
    assert [t.taskid for t in state.tasks()] == ["t1"]
    state.replace_tasks([])
    assert state.tasks() == []
