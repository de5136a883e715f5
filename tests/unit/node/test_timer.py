"""The timer against a real local state and a hand-moved clock: which slots start, which are
missed, and that start and end dates are enforced."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leoscope.core.timeutil import to_epoch
from leoscope.node import timer as timer_module
from leoscope.node.records import RunPhase, RunRecord
from leoscope.node.timer import MAX_MISSED_RECORDED, Timer

from .helpers import FakeClock, job_msg, open_state, put

T0 = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(to_epoch(T0))


@pytest.fixture
def launched() -> list[RunRecord]:
    return []


@pytest.fixture
def timer(tmp_path: Path, clock: FakeClock, launched: list[RunRecord]) -> Timer:
    state = open_state(tmp_path, clock)
    return Timer(state, clock, launched.append, grace_secs=60)


def statuses(timer: Timer, jobid: str) -> list[tuple[int, str, RunPhase]]:
    return [(r.slot - to_epoch(T0), r.status, r.phase) for r in timer.state.runs(jobid)]


def test_one_shot_fires_at_its_slot_exactly_once(timer: Timer, clock: FakeClock, launched) -> None:
    put(timer.state, job_msg("a", T0 + timedelta(seconds=10), T0 + timedelta(hours=1)), floor=0)
    assert timer.next_due() == to_epoch(T0) + 10
    assert timer.fire_due(clock.time()) == 0
    clock.advance(10.2)
    assert timer.fire_due(clock.time()) == 1
    assert timer.fire_due(clock.time()) == 0, "a slot is claimed once"
    (run,) = launched
    assert run.slot == to_epoch(T0) + 10 and run.phase is RunPhase.PENDING
    assert run.deadline == run.slot + 30
    assert timer.next_due() == math.inf


def test_cron_respects_start_and_end_dates(timer: Timer, clock: FakeClock, launched) -> None:
    start = T0 + timedelta(minutes=2, seconds=30)  # the minutes at +1 and +2 are before it
    end = T0 + timedelta(minutes=4)  # inclusive: +4 fires, +5 does not
    put(timer.state, job_msg("c", start, end, cron="* * * * *", length_secs=10), floor=0)
    fired = []
    for _ in range(7 * 60):
        clock.advance(1)
        if timer.fire_due(clock.time()):
            fired.append(int(clock.time() - to_epoch(T0)))
    assert fired == [180, 240]
    assert [r.slot - to_epoch(T0) for r in launched] == [180, 240]


def test_downtime_records_missed_slots_and_starts_the_latest_within_grace(
    timer: Timer, clock: FakeClock, launched
) -> None:
    put(timer.state, job_msg("c", T0, T0 + timedelta(days=1), cron="*/10 * * * *"), floor=0)
    clock.advance(1)
    timer.fire_due(clock.time())  # the 12:00 slot (1 s late) starts
    clock.advance(
        40 * 60 + 20
    )  # down until 12:40:21: 12:10, 12:20, 12:30 missed, 12:40 late by 20 s
    timer.fire_due(clock.time())
    assert statuses(timer, "c") == [
        (0, "", RunPhase.PENDING),
        (600, "MISSED", RunPhase.DONE),
        (1200, "MISSED", RunPhase.DONE),
        (1800, "MISSED", RunPhase.DONE),
        (2400, "", RunPhase.PENDING),
    ]
    assert [r.slot - to_epoch(T0) for r in launched] == [0, 2400]
    missed = timer.state.runs("c")[1]
    assert "agent could not start the run at its slot" in missed.status_message
    assert missed.start_time == missed.slot and missed.seq == 1
    assert timer.state.outbox_size() == 3, "the orchestrator learns of each missed slot"


def test_a_slot_late_beyond_the_grace_is_missed(timer: Timer, clock: FakeClock, launched) -> None:
    put(timer.state, job_msg("a", T0 + timedelta(seconds=5), T0 + timedelta(hours=1)), floor=0)
    clock.advance(5 + 61)
    timer.fire_due(clock.time())
    assert statuses(timer, "a") == [(5, "MISSED", RunPhase.DONE)]
    assert launched == []


def test_a_late_slot_whose_run_would_already_be_over_is_missed(
    timer: Timer, clock: FakeClock, launched
) -> None:
    msg = job_msg("short", T0 + timedelta(seconds=5), T0 + timedelta(hours=1), length_secs=10)
    put(timer.state, msg, floor=0)
    clock.advance(5 + 12)  # within the 60 s grace, but its 10 s slot is over
    timer.fire_due(clock.time())
    assert statuses(timer, "short") == [(5, "MISSED", RunPhase.DONE)]


def test_one_shot_first_seen_late_is_missed_never_dropped(
    timer: Timer, clock: FakeClock, launched
) -> None:
    clock.advance(600)
    put(timer.state, job_msg("a", T0, T0 + timedelta(hours=1)), floor=0)
    timer.fire_due(clock.time())
    (run,) = timer.state.runs("a")
    assert run.status == "MISSED"
    assert "reached this node 10 min after its start time" in run.status_message


def test_cron_slots_before_the_job_reached_the_node_are_not_missed(
    timer: Timer, clock: FakeClock, launched
) -> None:
    clock.advance(3600 + 30)  # 13:00:30; the job started at 12:00
    now = clock.time()
    msg = job_msg("c", T0, T0 + timedelta(days=1), cron="*/15 * * * *", length_secs=60)
    put(timer.state, msg, floor=math.ceil(now - 60) - 1)  # what sync does for a new job
    timer.fire_due(now)
    assert statuses(timer, "c") == [(3600, "", RunPhase.PENDING)], "13:00 starts 30 s late"
    clock.advance(15 * 60)
    timer.fire_due(clock.time())
    assert [s for s, _, _ in statuses(timer, "c")] == [3600, 4500]


def test_missed_records_are_capped(timer: Timer, clock: FakeClock) -> None:
    put(timer.state, job_msg("m", T0, T0 + timedelta(days=2), cron="* * * * *"), floor=0)
    clock.advance(24 * 3600 + 120)  # a day of downtime: 1442 minutes
    timer.fire_due(clock.time())
    *missed, started = timer.state.runs("m")
    assert started.slot == clock.time() and started.phase is RunPhase.PENDING
    assert len(missed) == MAX_MISSED_RECORDED
    assert all(r.status == "MISSED" for r in missed)
    assert missed[-1].slot == started.slot - 60, "the most recent are kept"
    assert timer.state.job("m").floor == started.slot


def test_server_role_jobs_are_not_fired_by_the_timer(timer: Timer, clock: FakeClock) -> None:
    msg = job_msg("srv", T0 + timedelta(seconds=1), T0 + timedelta(hours=1), nodeid="other")
    put(timer.state, msg, floor=0, role="server")
    clock.advance(2)
    assert timer.fire_due(clock.time()) == 0
    assert timer.next_due() == math.inf


async def test_sleep_is_cut_short_by_a_wall_clock_jump(
    timer: Timer, clock: FakeClock, monkeypatch
) -> None:
    monkeypatch.setattr(timer_module, "CHECK_SECS", 0.02)
    sleeper = asyncio.create_task(timer._sleep_until(clock.time() + 3600))
    await asyncio.sleep(0.05)
    assert not sleeper.done()
    clock.jump(1800)  # the wall clock moves; the monotonic clock does not
    await asyncio.wait_for(sleeper, 1.0)


async def test_jobs_changed_wakes_the_timer(timer: Timer, clock: FakeClock) -> None:
    sleeper = asyncio.create_task(timer._sleep_until(clock.time() + 3600))
    await asyncio.sleep(0.01)
    timer.jobs_changed()
    await asyncio.wait_for(sleeper, 1.0)
