"""When a job runs: occurrences, admission limits and the calendar listing.

Every time here is an integer count of epoch seconds (UTC) and every window is half-open,
`[window_start, window_end)`. A run occupies `[t, t + length_secs)`.

Cron expressions are parsed and expanded in `core/cron.py` (zones in `core/zones.py`); their
public functions are re-exported here, so `leoscope.core.schedule` stays the one import for
scheduling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from .cron import _EMPTY, DAY_SECS, expand_cron, normalize_cron, validate_cron
from .errors import InvalidInput
from .model import Job, JobType
from .timeutil import from_epoch, iso_z, to_epoch
from .zones import load_zone

DEFAULT_HORIZON_DAYS = 400
"""Conflicts are exact for runs that start within this many days of "now"."""
MAX_OCCURRENCES = 600_000
"""A job with more runs than this within the horizon is refused (never silently truncated)."""


def job_bounds(job: Job) -> tuple[int, int]:
    """[first, last + 1): the seconds a cron job may fire at (its start and end are inclusive)."""
    start = to_epoch(job.start)
    if job.start.microsecond:
        start += 1  # a fire time is a whole second and must not precede the start
    return start, to_epoch(job.end) + 1


def occurrences(
    job: Job, window_start: int, window_end: int, *, limit: int | None = None
) -> np.ndarray:
    """Run start times of `job` that fall in [window_start, window_end), sorted int64.

    CRON: fire times within [job.start, job.end], both inclusive, in job.timezone (UTC when
    unset). ATQ: the single run at job.start (whole seconds).
    """
    if job.type == JobType.ATQ:
        start = to_epoch(job.start)
        inside = window_start <= start < window_end and (limit is None or limit > 0)
        return np.array([start], dtype=np.int64) if inside else _EMPTY.copy()
    first, end = job_bounds(job)
    lo, hi = max(int(window_start), first), min(int(window_end), end)
    return expand_cron(job.schedule, lo, hi, job.timezone, limit=limit)


# ---------------------------------------------------------------------------------------------
# Admission limits


def horizon_window(now: datetime, horizon_days: int = DEFAULT_HORIZON_DAYS) -> tuple[int, int]:
    """[now, now + horizon): the window within which conflicts are exact."""
    start = to_epoch(now)
    return start, start + horizon_days * DAY_SECS


def first_self_overlap(starts: np.ndarray, length_secs: int) -> tuple[int, int] | None:
    """The first pair of consecutive runs (a, b) with b - a < length_secs, or None.

    `starts` must be sorted. Such a job would still be running its previous run when the next
    one starts.
    """
    starts = np.asarray(starts, dtype=np.int64)
    if len(starts) < 2:
        return None
    clashes = np.flatnonzero(np.diff(starts) < length_secs)
    if not len(clashes):
        return None
    i = int(clashes[0])
    return int(starts[i]), int(starts[i + 1])


def check_no_self_overlap(starts: np.ndarray, length_secs: int) -> None:
    """Raise InvalidInput("length_secs", ...) naming the two clashing runs, if any overlap."""
    clash = first_self_overlap(starts, length_secs)
    if clash is None:
        return
    first, second = clash
    raise InvalidInput(
        "length_secs",
        f"runs of this job overlap each other: the run at {iso_z(from_epoch(first))} lasts "
        f"{length_secs} s, past the next run at {iso_z(from_epoch(second))} "
        f"({second - first} s later); shorten length_secs or space the runs further apart",
    )


def admission_occurrences(
    job: Job,
    now: datetime,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    max_occurrences: int = MAX_OCCURRENCES,
) -> np.ndarray:
    """The job's run starts in [now, now + horizon), after checking that it may be admitted.

    Raises InvalidInput when the cron expression or zone is invalid, when the job has more than
    `max_occurrences` runs within the horizon (it is refused, never truncated), or when its
    runs overlap each other. The returned array is what the conflict index needs.
    """
    if job.length_secs <= 0:
        raise InvalidInput(
            "length_secs", f"must be a positive number of seconds, not {job.length_secs}"
        )
    if job.type == JobType.CRON:
        validate_cron(job.schedule)
        if job.timezone:
            load_zone(job.timezone)
    window_start, window_end = horizon_window(now, horizon_days)
    starts = occurrences(job, window_start, window_end, limit=max_occurrences + 1)
    if len(starts) > max_occurrences:
        raise InvalidInput(
            "schedule",
            f"the job has more than {max_occurrences} runs within the {horizon_days}-day "
            f"scheduling horizon (until {iso_z(from_epoch(window_end))}); use a sparser "
            "schedule or a shorter date range",
        )
    check_no_self_overlap(starts, job.length_secs)
    return starts


# ---------------------------------------------------------------------------------------------
# Calendar listing


@dataclass(frozen=True, slots=True)
class ScheduledRun:
    """One planned run of a job: [start, start + job.length_secs) in epoch seconds."""

    job: Job
    start: int

    @property
    def end(self) -> int:
        return self.start + self.job.length_secs


@dataclass(frozen=True, slots=True)
class CalendarPage:
    """Planned runs sorted by (start, job id); `truncated` says the cap cut the list short."""

    runs: list[ScheduledRun]
    truncated: bool


def calendar_runs(
    jobs: Sequence[Job], window_start: int, window_end: int, max_runs: int
) -> CalendarPage:
    """The runs of `jobs` that overlap [window_start, window_end), the first `max_runs` of them.

    A run already in progress at window_start is included. Each job is expanded only as far as
    the cap can need, so a wide window stays cheap.
    """
    if max_runs < 0:
        raise InvalidInput("limit", f"must not be negative, not {max_runs}")
    id_rank = np.empty(len(jobs), dtype=np.int64)
    id_rank[sorted(range(len(jobs)), key=lambda i: jobs[i].id)] = np.arange(len(jobs))
    starts: list[np.ndarray] = [_EMPTY]
    owners: list[np.ndarray] = [_EMPTY]
    for index, job in enumerate(jobs):
        lo = int(window_start) - max(job.length_secs, 1) + 1
        found = occurrences(job, lo, window_end, limit=max_runs + 1)
        starts.append(found)
        owners.append(np.full(len(found), index, dtype=np.int64))
    all_starts = np.concatenate(starts)
    all_owners = np.concatenate(owners)
    order = np.lexsort((id_rank[all_owners], all_starts))
    runs = [ScheduledRun(jobs[int(all_owners[i])], int(all_starts[i])) for i in order[:max_runs]]
    return CalendarPage(runs, len(order) > max_runs)


__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "MAX_OCCURRENCES",
    "CalendarPage",
    "ScheduledRun",
    "admission_occurrences",
    "calendar_runs",
    "check_no_self_overlap",
    "expand_cron",
    "first_self_overlap",
    "horizon_window",
    "job_bounds",
    "load_zone",
    "normalize_cron",
    "occurrences",
    "validate_cron",
]
