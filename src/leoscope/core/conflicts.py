"""Busy calendars of nodes: an interval index, exact overlap search and free-slot search.

Intervals are HALF-OPEN: a run starting at `t` with length `L` occupies `[t, t + L)`, so a run
that starts exactly when another ends does not clash with it. Times are integer epoch seconds.

A node's calendar is a `BusyIndex` built from the runs of the overhead jobs on it (one
`BusyJob` per job: its run starts and its length). Which jobs belong to which node, including a
job's paired server node, is the orchestrator's decision; this module only does the maths.

The index keeps every run sorted by start with the running maximum of run ends ("prefix-max
ends"). Whether `[s, e)` touches any run is then one binary search: the runs starting before
`e` are a prefix, and one of them reaches past `s` exactly when the prefix's maximum end does.
That answers thousands of candidate runs with one `np.searchsorted`. Exact reporting of *which*
jobs clash uses per-length sorted arrays, where the runs overlapping `[s, e)` are exactly those
starting in `(s - length, e)`: a contiguous slice, with no false candidates to filter.

Indexes are immutable; per-job arrays can be cached by the caller (for example keyed by job id
and version) and an index rebuilt from them with `BusyIndex(jobs)` or `with_jobs` in
milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ConflictInfo, InvalidInput
from .model import Job
from .schedule import occurrences

_EMPTY = np.empty(0, dtype=np.int64)


def _check_length(length_secs: int) -> int:
    if int(length_secs) <= 0:
        raise InvalidInput(
            "length_secs", f"must be a positive number of seconds, not {length_secs}"
        )
    return int(length_secs)


def _frozen_sorted(starts: np.ndarray | Sequence[int]) -> np.ndarray:
    array = np.array(starts, dtype=np.int64).ravel()  # a private copy
    if len(array) > 1 and not np.all(array[1:] >= array[:-1]):
        array.sort()
    array.flags.writeable = False
    return array


@dataclass(frozen=True, slots=True)
class BusyJob:
    """The runs of one job on a calendar: sorted start times (a read-only copy) and a length."""

    jobid: str
    starts: np.ndarray
    length_secs: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "starts", _frozen_sorted(self.starts))
        object.__setattr__(self, "length_secs", _check_length(self.length_secs))

    @classmethod
    def from_job(cls, job: Job, window_start: int, window_end: int) -> BusyJob:
        """The job's runs that overlap [window_start, window_end), including one in progress."""
        lo = int(window_start) - job.length_secs + 1
        return cls(job.id, occurrences(job, lo, window_end), job.length_secs)


@dataclass(frozen=True, slots=True)
class _LengthGroup:
    starts: np.ndarray  # sorted
    owners: np.ndarray  # index into BusyIndex.jobs


class BusyIndex:
    """An immutable interval index over one node's busy calendar (see the module docstring)."""

    __slots__ = ("_ends", "_groups", "_max_length", "_prefix_max_end", "_starts", "jobs", "nodeid")

    def __init__(self, jobs: Iterable[BusyJob] = (), nodeid: str = "") -> None:
        self.jobs: tuple[BusyJob, ...] = tuple(jobs)
        self.nodeid = nodeid
        starts = np.concatenate([_EMPTY, *(job.starts for job in self.jobs)])
        counts = np.array([len(job.starts) for job in self.jobs], dtype=np.int64)
        job_lengths = np.array([job.length_secs for job in self.jobs], dtype=np.int64)
        lengths = np.repeat(job_lengths, counts)
        owners = np.repeat(np.arange(len(self.jobs), dtype=np.int64), counts)
        order = np.argsort(starts, kind="stable")
        starts, lengths, owners = starts[order], lengths[order], owners[order]
        self._starts = starts
        self._ends = starts + lengths
        self._prefix_max_end = np.maximum.accumulate(self._ends) if len(starts) else _EMPTY
        self._max_length = int(lengths.max()) if len(lengths) else 0
        self._groups: dict[int, _LengthGroup] = {}
        for length in np.unique(lengths).tolist():
            picked = lengths == length
            self._groups[int(length)] = _LengthGroup(starts[picked], owners[picked])

    def __repr__(self) -> str:
        return f"BusyIndex(nodeid={self.nodeid!r}, jobs={len(self.jobs)}, runs={len(self)})"

    def __len__(self) -> int:
        """The number of runs in the calendar."""
        return len(self._starts)

    def with_jobs(self, add: Iterable[BusyJob] = (), remove: Iterable[str] = ()) -> BusyIndex:
        """A new index without the jobs whose ids are in `remove`, plus the jobs in `add`."""
        removed = set(remove)
        kept = [job for job in self.jobs if job.jobid not in removed]
        return BusyIndex([*kept, *add], self.nodeid)

    def clashing(self, starts: np.ndarray, length_secs: int) -> np.ndarray:
        """A boolean per run `[s, s + length)`: does it overlap any run in the calendar?"""
        starts = np.asarray(starts, dtype=np.int64)
        length_secs = _check_length(length_secs)
        if not len(self._starts):
            return np.zeros(len(starts), dtype=bool)
        before_end = np.searchsorted(self._starts, starts + length_secs, side="left")
        reach = self._prefix_max_end[np.maximum(before_end - 1, 0)]
        return (before_end > 0) & (reach > starts)

    def is_free(self, start: int, length_secs: int) -> bool:
        """True when [start, start + length) overlaps no run in the calendar."""
        return not bool(self.clashing(np.array([start], dtype=np.int64), length_secs)[0])

    def runs_between(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """(starts, ends) of the runs that may overlap [lo, hi), sorted by start.

        A superset: it can include runs that end before `lo`, which callers simply ignore.
        """
        first = np.searchsorted(self._starts, lo - self._max_length, side="right")
        last = np.searchsorted(self._starts, hi, side="left")
        return self._starts[first:last], self._ends[first:last]

    def find_conflicts(self, starts: np.ndarray, length_secs: int) -> list[ConflictInfo]:
        """Every job with a run overlapping a candidate run, each with its first clash.

        The first clash of a job is the intersection of the clashing pair (candidate run, job
        run) whose intersection starts earliest (then ends earliest). Results are ordered by
        that start, then by job id; a job id listed twice in the calendar is reported once.
        """
        starts = np.asarray(starts, dtype=np.int64)
        length_secs = _check_length(length_secs)
        hit_starts = starts[self.clashing(starts, length_secs)]
        if not len(hit_starts):
            return []
        hit_ends = hit_starts + length_secs
        firsts: list[np.ndarray] = []
        lasts: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        for length, group in self._groups.items():
            # A run at x overlaps [s, e) exactly when s - length < x < e.
            lo = np.searchsorted(group.starts, hit_starts - length, side="right")
            hi = np.searchsorted(group.starts, hit_ends, side="left")
            counts = hi - lo
            total = int(counts.sum())
            if not total:
                continue
            pair_candidate = np.repeat(np.arange(len(hit_starts)), counts)
            offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            run = np.repeat(lo, counts) + offsets
            run_starts = group.starts[run]
            firsts.append(np.maximum(hit_starts[pair_candidate], run_starts))
            lasts.append(np.minimum(hit_ends[pair_candidate], run_starts + length))
            owners.append(group.owners[run])
        if not owners:
            return []
        return self._first_per_job(np.concatenate(firsts), np.concatenate(lasts), owners)

    def _first_per_job(
        self, firsts: np.ndarray, lasts: np.ndarray, owner_parts: list[np.ndarray]
    ) -> list[ConflictInfo]:
        # Rank job ids so that a job id listed twice counts as one job.
        ids = sorted({job.jobid for job in self.jobs})
        id_number = {jobid: n for n, jobid in enumerate(ids)}
        job_id_number = np.array([id_number[job.jobid] for job in self.jobs], dtype=np.int64)
        owner_id = job_id_number[np.concatenate(owner_parts)]
        order = np.lexsort((lasts, firsts, owner_id))
        _, first_of_each = np.unique(owner_id[order], return_index=True)
        chosen = order[first_of_each]
        found = [
            ConflictInfo(ids[int(owner_id[i])], int(firsts[i]), int(lasts[i]), self.nodeid)
            for i in chosen
        ]
        return sorted(found, key=lambda c: (c.start, c.end, c.jobid))


def as_index(calendar: BusyIndex | Sequence[BusyJob]) -> BusyIndex:
    """`calendar` itself when it is an index, else an index built from its jobs."""
    return calendar if isinstance(calendar, BusyIndex) else BusyIndex(calendar)


def find_conflicts(
    candidate_starts: np.ndarray,
    candidate_length: int,
    existing: BusyIndex | Sequence[BusyJob],
) -> list[ConflictInfo]:
    """Every existing job that clashes with the candidate's runs, each with its first clash.

    Exact (half-open intervals, no false positives or negatives); see BusyIndex.find_conflicts.
    Pass a cached BusyIndex when checking many candidates against the same calendar.
    """
    return as_index(existing).find_conflicts(candidate_starts, candidate_length)


def find_free_slot(
    calendars: Sequence[BusyIndex | Sequence[BusyJob]],
    length_secs: int,
    not_before: int,
    not_after: int,
    *,
    granularity_secs: int = 1,
) -> int | None:
    """The earliest start s >= not_before with s + length <= not_after that is free everywhere.

    [s, s + length) must overlap no run on any of `calendars` (an empty calendar is free).
    Busy runs of all calendars are merged first, so moving past a run on one node can never
    land in a run on another unnoticed. `granularity_secs` restricts s to its multiples (60
    for nodes whose `at` has minute resolution). None when no such slot exists.
    """
    length_secs = _check_length(length_secs)
    if granularity_secs <= 0:
        raise InvalidInput("granularity_secs", f"must be positive, not {granularity_secs}")
    not_before, not_after = int(not_before), int(not_after)
    if not_after - not_before < length_secs:
        return None
    pieces = [as_index(c).runs_between(not_before, not_after) for c in calendars]
    starts = np.concatenate([_EMPTY, *(p[0] for p in pieces)])
    ends = np.concatenate([_EMPTY, *(p[1] for p in pieces)])
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    # Free gap i is [max(not_before, end of everything before run i), start of run i); the last
    # gap runs to not_after. The earliest fitting start is at the beginning of the first gap
    # that is long enough.
    gap_begin = np.maximum(not_before, np.concatenate([[not_before], np.maximum.accumulate(ends)]))
    gap_end = np.minimum(np.concatenate([starts, [not_after]]), not_after)
    candidate = -(-gap_begin // granularity_secs) * granularity_secs
    fits = np.flatnonzero(candidate + length_secs <= gap_end)
    return int(candidate[fits[0]]) if len(fits) else None
