"""core.conflicts against a brute-force oracle: second-by-second occupancy of a small window."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leoscope.core.conflicts import BusyIndex, BusyJob, find_conflicts, find_free_slot
from leoscope.core.errors import ConflictInfo, InvalidInput
from leoscope.core.model import Job, JobType
from leoscope.core.schedule import first_self_overlap, occurrences
from leoscope.core.timeutil import from_epoch

from .schedule_oracles import epoch

BASE = epoch(datetime(2024, 5, 1))
SPAN = 4 * 3600  # jobs start and end around this window
LO, HI = BASE - 2 * 3600, BASE + SPAN + 2 * 3600  # runs are materialized in [LO, HI)
GRID_LO, GRID_HI = LO - 2 * 3600, HI + 2 * 3600  # the oracle's seconds


lengths = st.one_of(st.sampled_from([60, 120, 300, 600, 900]), st.integers(1, 1800))


@st.composite
def jobs(draw: st.DrawFn, jobid: str) -> Job:
    """A random cron or one-shot job around the window whose own runs do not overlap."""
    offset = draw(st.integers(-3600, SPAN))
    length = draw(lengths)
    if draw(st.booleans()):
        job = Job(
            id=jobid,
            nodeid="n1",
            type=JobType.ATQ,
            start=from_epoch(BASE + offset),
            end=from_epoch(BASE + offset + 86400),
            length_secs=length,
            userid="u",
        )
    else:
        minute = draw(
            st.one_of(
                st.integers(2, 30).map(lambda k: f"*/{k}"),
                st.tuples(st.integers(0, 58), st.integers(2, 20)).map(
                    lambda p: f"{p[0]}-59/{p[1]}"
                ),
                st.lists(st.integers(0, 59), min_size=1, max_size=4, unique=True).map(
                    lambda ms: ",".join(map(str, ms))
                ),
            )
        )
        hour = draw(st.sampled_from(["*", "*/2", "0-3", "1,2"]))
        duration = draw(st.integers(0, SPAN))
        job = Job(
            id=jobid,
            nodeid="n1",
            type=JobType.CRON,
            start=from_epoch(BASE + offset),
            end=from_epoch(BASE + offset + duration),
            length_secs=length,
            userid="u",
            schedule=f"{minute} {hour} * * *",
        )
    starts = occurrences(job, LO, HI)
    if first_self_overlap(starts, job.length_secs) is not None:
        job = job.with_changes(length_secs=int(np.diff(starts).min()))
    return job


def busy(job: Job) -> BusyJob:
    return BusyJob.from_job(job, LO, HI)


def occupancy(starts: np.ndarray, length: int) -> np.ndarray:
    """One boolean per second of [GRID_LO, GRID_HI): is a run in progress?"""
    grid = np.zeros(GRID_HI - GRID_LO, dtype=bool)
    for s in starts.tolist():
        grid[s - GRID_LO : s - GRID_LO + length] = True
    return grid


def oracle_conflicts(
    candidate: np.ndarray, length: int, existing: list[BusyJob]
) -> list[ConflictInfo]:
    mine = occupancy(candidate, length)
    found = []
    for other in existing:
        both = np.flatnonzero(mine & occupancy(other.starts, other.length_secs))
        if not len(both):
            continue
        t = int(both[0]) + GRID_LO  # the first second both are busy
        ours = max(s for s in candidate.tolist() if s <= t < s + length)
        theirs = max(s for s in other.starts.tolist() if s <= t < s + other.length_secs)
        found.append(ConflictInfo(other.jobid, t, min(ours + length, theirs + other.length_secs)))
    return sorted(found, key=lambda c: (c.start, c.end, c.jobid))


def oracle_free_slot(
    calendars: list[list[BusyJob]], length: int, not_before: int, not_after: int, step: int
) -> int | None:
    busy_grid = np.zeros(GRID_HI - GRID_LO, dtype=bool)
    for calendar in calendars:
        for job in calendar:
            busy_grid |= occupancy(job.starts, job.length_secs)
    busy_before = np.concatenate([[0], np.cumsum(busy_grid)])
    first = -(-not_before // step) * step
    for s in range(first, not_after - length + 1, step):
        i = s - GRID_LO
        if busy_before[i + length] - busy_before[i] == 0:
            return s
    return None


# --- properties --------------------------------------------------------------------------------


@given(
    st.lists(st.integers(0, 10**6), min_size=0, max_size=8, unique=True).flatmap(
        lambda ids: st.tuples(*(jobs(f"job{i}") for i in ids))
    ),
    jobs("candidate"),
)
def test_find_conflicts_matches_brute_force(existing_jobs: tuple[Job, ...], candidate: Job) -> None:
    existing = [busy(j) for j in existing_jobs]
    starts = occurrences(candidate, LO, HI)
    expected = oracle_conflicts(starts, candidate.length_secs, existing)
    assert find_conflicts(starts, candidate.length_secs, existing) == expected
    index = BusyIndex(existing)
    mask = index.clashing(starts, candidate.length_secs)
    grid_busy = np.zeros(GRID_HI - GRID_LO, dtype=bool)
    for other in existing:
        grid_busy |= occupancy(other.starts, other.length_secs)
    for s, hit in zip(starts.tolist(), mask.tolist(), strict=True):
        assert hit == bool(grid_busy[s - GRID_LO : s - GRID_LO + candidate.length_secs].any())


@given(
    st.lists(st.integers(0, 10**6), min_size=0, max_size=8, unique=True).flatmap(
        lambda ids: st.tuples(*(jobs(f"job{i}") for i in ids))
    ),
    st.integers(1, 3),
    st.data(),
)
def test_find_free_slot_matches_brute_force(
    existing_jobs: tuple[Job, ...], calendar_count: int, data: st.DataObject
) -> None:
    calendars: list[list[BusyJob]] = [[] for _ in range(calendar_count)]
    for job in existing_jobs:
        calendars[data.draw(st.integers(0, calendar_count - 1))].append(busy(job))
    length = data.draw(lengths)
    not_before = data.draw(st.integers(LO, HI))
    not_after = data.draw(st.integers(not_before, HI))
    step = data.draw(st.sampled_from([1, 1, 60]))
    expected = oracle_free_slot(calendars, length, not_before, not_after, step)
    found = find_free_slot(calendars, length, not_before, not_after, granularity_secs=step)
    assert found == expected
    indexes = [BusyIndex(c) for c in calendars]
    assert find_free_slot(indexes, length, not_before, not_after, granularity_secs=step) == expected


# --- examples ----------------------------------------------------------------------------------


def test_touching_runs_do_not_conflict() -> None:
    existing = [BusyJob("a", [100, 300], 100)]
    assert find_conflicts(np.array([0, 200, 400]), 100, existing) == []
    assert find_conflicts(np.array([199]), 2, existing) == [ConflictInfo("a", 199, 200)]


def test_a_long_run_started_earlier_still_conflicts() -> None:
    # The reference misses this: the existing run began long before the candidate's run.
    existing = [BusyJob("long", [0], 10_000), BusyJob("short", [5000], 10)]
    assert find_conflicts(np.array([9000]), 60, existing) == [ConflictInfo("long", 9000, 9060)]


def test_each_job_is_reported_once_with_its_first_clash() -> None:
    existing = [BusyJob("b", [50, 150], 100), BusyJob("a", [120], 10)]
    found = find_conflicts(np.array([100, 300]), 100, existing)
    assert found == [ConflictInfo("b", 100, 150), ConflictInfo("a", 120, 130)]


def test_a_job_listed_twice_is_reported_once() -> None:
    # A job can sit on a calendar as client and as server of the same node.
    existing = [BusyJob("dup", [500], 10), BusyJob("dup", [100], 10)]
    assert find_conflicts(np.array([0, 400]), 200, existing) == [ConflictInfo("dup", 100, 110)]


def test_conflicts_name_the_node_of_the_index() -> None:
    index = BusyIndex([BusyJob("a", [0], 10)], nodeid="node-7")
    assert find_conflicts(np.array([5]), 10, index) == [ConflictInfo("a", 5, 10, "node-7")]


def test_free_slot_is_found_across_interleaved_calendars() -> None:
    # Stepping past node A's run lands in node B's, and back again: a single pass gets it wrong.
    node_a = [BusyJob("a", [0, 20, 40], 10)]
    node_b = [BusyJob("b", [10, 30], 10)]
    assert find_free_slot([node_a, node_b], 5, 0, 1000) == 50
    assert find_free_slot([node_a, node_b], 5, 0, 54) is None
    assert find_free_slot([node_a, node_b], 5, 0, 55) == 50
    assert find_free_slot([node_a], 5, 0, 1000) == 10
    assert find_free_slot([node_b], 5, 12, 1000) == 20


def test_free_slot_edges() -> None:
    assert find_free_slot([], 60, 100, 160) == 100
    assert find_free_slot([[]], 60, 100, 159) is None
    assert find_free_slot([[BusyJob("a", [0], 100)]], 60, 50, 1000) == 100
    assert find_free_slot([[BusyJob("a", [0], 100)]], 60, 50, 1000, granularity_secs=60) == 120
    assert find_free_slot([[BusyJob("a", [200], 100)]], 100, 100, 1000) == 100  # touches


def test_index_can_be_rebuilt_with_and_without_jobs() -> None:
    index = BusyIndex([BusyJob("a", [0], 10), BusyJob("b", [20], 10)], nodeid="n")
    smaller = index.with_jobs(remove=["a"])
    assert smaller.is_free(0, 10) and not smaller.is_free(25, 1)
    bigger = smaller.with_jobs(add=[BusyJob("c", [100], 5)])
    assert [j.jobid for j in bigger.jobs] == ["b", "c"] and len(bigger) == 2
    assert bigger.nodeid == "n" and not bigger.is_free(102, 1)
    assert index.is_free(0, 10) is False  # the original is unchanged


def test_busy_job_from_job_includes_a_run_in_progress() -> None:
    job = Job(
        id="a",
        nodeid="n",
        type=JobType.ATQ,
        start=datetime(2024, 5, 1, 10, tzinfo=UTC),
        end=datetime(2024, 5, 2, tzinfo=UTC),
        length_secs=3600,
        userid="u",
    )
    ten = epoch(datetime(2024, 5, 1, 10))
    assert list(BusyJob.from_job(job, ten + 1800, ten + 7200).starts) == [ten]
    assert len(BusyJob.from_job(job, ten + 3600, ten + 7200).starts) == 0


def test_busy_job_keeps_a_sorted_read_only_copy() -> None:
    source = np.array([30, 10, 20], dtype=np.int64)
    job = BusyJob("a", source, 5)
    source[0] = 99
    assert list(job.starts) == [10, 20, 30]
    with pytest.raises(ValueError):
        job.starts[0] = 1


@pytest.mark.parametrize("length", [0, -5])
def test_lengths_must_be_positive(length: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        BusyJob("a", [0], length)
    assert caught.value.field == "length_secs"
    with pytest.raises(InvalidInput):
        find_free_slot([], length, 0, 100)
    with pytest.raises(InvalidInput):
        find_conflicts(np.array([0]), length, [])
