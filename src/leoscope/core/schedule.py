"""When a job runs: cron validation, vectorized cron expansion, occurrences, admission limits.

Every time here is an integer count of epoch seconds (UTC) and every window is half-open,
`[window_start, window_end)`. A run occupies `[t, t + length_secs)`.

Cron semantics (see docs/scheduling.md):

* Standard 5-field cron: minute hour day-of-month month day-of-week. Each field is `*` or a comma
  list of values, `a-b` ranges and `*/n` or `a-b/n` steps; month and day-of-week also take the
  names jan..dec and sun..sat; day-of-week 7 is Sunday. Nothing else (`@daily`, seconds, `L`,
  `W`, `#`, `?`, `H`) is accepted, because reference nodes hand the string to a real crontab.
* Day-of-month and day-of-week combine the way croniter (our oracle) combines them: when both are
  restricted they are ORed, otherwise ANDed. A field counts as unrestricted when it is `*`, or
  when it lists every value and the *other* field's text contains a `*`. So `*/2` in either day
  field is a restriction (croniter's rule; Vixie cron would AND it).
* Without a zone, cron is evaluated in UTC. With an IANA zone, in local wall time: a local time
  that does not exist (spring forward) is skipped; a repeated one (fall back) fires once, at its
  first instant (fold=0).

Expansion never steps an iterator: it builds the matching days and the times of day as numpy
arrays and takes their outer sum, which is thousands of times faster than croniter on dense
expressions and yields exactly the same fire times.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache, partial
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from .errors import InvalidInput
from .model import Job, JobType
from .timeutil import from_epoch, iso_z, to_epoch

DEFAULT_HORIZON_DAYS = 400
"""Conflicts are exact for runs that start within this many days of "now"."""
MAX_OCCURRENCES = 600_000
"""A job with more runs than this within the horizon is refused (never silently truncated)."""

DAY_SECS = 86_400
_FIRST_SUPPORTED = to_epoch(datetime(1900, 1, 1, tzinfo=UTC))
_END_SUPPORTED = to_epoch(datetime(9990, 1, 1, tzinfo=UTC))  # room for zone arithmetic
_NO_TIME = np.iinfo(np.int64).max
_EMPTY = np.empty(0, dtype=np.int64)

# ---------------------------------------------------------------------------------------------
# Parsing and validation


class _Field(NamedTuple):
    name: str
    low: int
    high: int
    names: dict[str, int]


_MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_DOW_NAMES = {name: n for n, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day-of-month", 1, 31, {}),
    _Field("month", 1, 12, _MONTH_NAMES),
    _Field("day-of-week", 0, 7, _DOW_NAMES),
)
_ITEM = re.compile(r"^(?:(\*)|([0-9a-z]+)(?:-([0-9a-z]+))?)(?:/([0-9]+))?$")
_DAYS_IN_MONTH_MAX = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True, slots=True)
class _CronSpec:
    """A parsed expression: the allowed values of each field and how the day fields combine."""

    minutes: np.ndarray  # sorted int64
    hours: np.ndarray  # sorted int64
    dom_mask: np.ndarray  # bool[32], index = day of month
    month_mask: np.ndarray  # bool[13], index = month
    dow_mask: np.ndarray  # bool[7], index = weekday, Sunday = 0
    days_or: bool  # both day fields restricted: a day matches either


def _bad(problem: str) -> InvalidInput:
    return InvalidInput("schedule", problem)


def _field_value(field: _Field, text: str, item: str) -> int:
    where = "" if text == item else f" in {item!r}"
    if text.isdigit():
        if len(text) > 4:
            raise _bad(f"{field.name} value {text!r}{where} is out of range")
        value = int(text)
    elif text in field.names:
        value = field.names[text]
    elif field.names:
        choices = ", ".join(field.names)
        raise _bad(f"{field.name} value {text!r}{where} is not a number or one of {choices}")
    else:
        raise _bad(f"{field.name} value {text!r}{where} is not a number")
    if not field.low <= value <= field.high:
        raise _bad(f"{field.name} value {value}{where} is outside {field.low}-{field.high}")
    return value


def _field_values(field: _Field, text: str) -> set[int]:
    """The values one field allows; raises InvalidInput naming the field and the bad item."""
    values: set[int] = set()
    items = text.split(",")
    for item in items:
        match = _ITEM.match(item)
        if not match:
            raise _bad(
                f"{field.name} field {text!r}: {item!r} is not *, a value, a range a-b or a "
                "step */n or a-b/n"
            )
        star, first, last, step_text = match.groups()
        step = 1
        if step_text is not None:
            step = int(step_text)
            size = field.high - field.low + 1 if field.name != "day-of-week" else 7
            if not 1 <= step <= size:
                raise _bad(f"{field.name} step in {item!r} must be between 1 and {size}")
        if star:
            if len(items) > 1 and step_text is None:
                raise _bad(f"{field.name} field {text!r}: '*' cannot be combined with other values")
            low, high = field.low, (6 if field.name == "day-of-week" else field.high)
        else:
            low = _field_value(field, first, item)
            if last is None:
                if step_text is not None:
                    raise _bad(
                        f"{field.name} item {item!r} has a step but no range; crontabs differ on "
                        f"this form, write {first}-{field.high}/{step} instead"
                    )
                high = low
            else:
                high = _field_value(field, last, item)
                if low == high:
                    raise _bad(
                        f"{field.name} range {item!r} has equal bounds; write the single value "
                        f"{first}"
                    )
                if low > high:
                    hint = " (use 7 for Sunday)" if field.name == "day-of-week" else ""
                    raise _bad(f"{field.name} range {item!r} runs backwards{hint}")
        values.update(range(low, high + 1, step))
    if field.name == "day-of-week" and 7 in values:
        values.discard(7)
        values.add(0)
    return values


def _split(expr: str) -> list[str]:
    if not isinstance(expr, str) or not expr.strip():
        raise _bad("is empty; expected 5 cron fields, e.g. '*/10 * * * *'")
    if expr.strip().startswith("@"):
        raise _bad(f"{expr.strip()!r}: '@' shortcuts are not supported; write the 5 fields")
    fields = expr.lower().split()
    if len(fields) != 5:
        raise _bad(
            f"{expr!r} has {len(fields)} fields; expected exactly 5 "
            "(minute hour day-of-month month day-of-week), no seconds or years"
        )
    return fields


def normalize_cron(expr: str) -> str:
    """The canonical form of a valid expression: 5 lower-case fields joined by single spaces.

    Reference nodes split the stored string on single spaces, so this is the form to store.
    Raises InvalidInput("schedule", ...) when the expression is not valid.
    """
    normalized = " ".join(_split(expr))
    _parse(normalized)
    return normalized


def validate_cron(expr: str) -> None:
    """Raise InvalidInput("schedule", reason) unless `expr` is a valid 5-field cron expression."""
    normalize_cron(expr)


def _mask(values: set[int], size: int) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    mask[sorted(values)] = True
    return mask


@lru_cache(maxsize=1024)
def _parse(normalized: str) -> _CronSpec:
    texts = normalized.split(" ")
    minutes, hours, doms, months, dows = (
        _field_values(field, text) for field, text in zip(_FIELDS, texts, strict=True)
    )
    dom_text, dow_text = texts[2], texts[4]
    # croniter's rule: a day field is unrestricted if written "*", or if it lists every value and
    # the other day field's text contains a "*".
    dom_all = dom_text == "*" or (len(doms) == 31 and "*" in dow_text)
    dow_all = dow_text == "*" or (len(dows) == 7 and "*" in dom_text)
    days_or = not dom_all and not dow_all
    if (
        not days_or
        and dow_all
        and not any(day <= _DAYS_IN_MONTH_MAX[month] for day in doms for month in months)
    ):
        raise _bad(
            f"{normalized!r} never fires: day-of-month {texts[2]} does not occur in month "
            f"{texts[3]}"
        )
    return _CronSpec(
        minutes=np.array(sorted(minutes), dtype=np.int64),
        hours=np.array(sorted(hours), dtype=np.int64),
        dom_mask=_mask(doms, 32),
        month_mask=_mask(months, 13),
        dow_mask=_mask(dows, 7),
        days_or=days_or,
    )


def _spec(expr: str) -> _CronSpec:
    return _parse(" ".join(_split(expr)))


# ---------------------------------------------------------------------------------------------
# Expansion in wall-clock ("local epoch") seconds


def _matching_days(spec: _CronSpec, first_day: int, last_day: int) -> np.ndarray:
    """Day numbers (days since 1970-01-01) in [first_day, last_day) that the day fields allow."""
    days = np.arange(first_day, last_day, dtype=np.int64)
    dates = days.astype("datetime64[D]")
    month_starts = dates.astype("datetime64[M]")
    month = month_starts.astype(np.int64) % 12 + 1
    day_of_month = (dates - month_starts.astype("datetime64[D]")).astype(np.int64) + 1
    weekday = (days + 4) % 7  # 1970-01-01 was a Thursday; Sunday = 0
    dom_ok = spec.dom_mask[day_of_month]
    dow_ok = spec.dow_mask[weekday]
    day_ok = (dom_ok | dow_ok) if spec.days_or else (dom_ok & dow_ok)
    return days[day_ok & spec.month_mask[month]]


def _wall_fires(spec: _CronSpec, lo: int, hi: int) -> np.ndarray:
    """Fire times in wall-clock seconds within [lo, hi): matching days x times of day."""
    if hi <= lo:
        return _EMPTY
    times_of_day = (spec.hours[:, None] * 3600 + spec.minutes[None, :] * 60).ravel()
    days = _matching_days(spec, lo // DAY_SECS, (hi - 1) // DAY_SECS + 1)
    fires = (days[:, None] * DAY_SECS + times_of_day[None, :]).ravel()
    return fires[np.searchsorted(fires, lo) : np.searchsorted(fires, hi)]


def _first_fires(
    fires_between: Callable[[int, int], np.ndarray], lo: int, hi: int, limit: int | None
) -> np.ndarray:
    """The first `limit` fire times in [lo, hi) (all when None).

    With a limit the window is taken in chunks that double from one day, so a wide window
    costs only what the limit needs.
    """
    if limit is None:
        return fires_between(lo, hi)
    pieces: list[np.ndarray] = [_EMPTY]
    found, start, span = 0, lo, DAY_SECS
    while start < hi and found < limit:
        stop = min(hi, start + span)
        pieces.append(fires_between(start, stop))
        found += len(pieces[-1])
        start, span = stop, span * 2
    return np.concatenate(pieces)[:limit]


# ---------------------------------------------------------------------------------------------
# Time zones


def load_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; raises InvalidInput("timezone", ...) for an unknown name."""
    try:
        return _zone(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput(
            "timezone", f"{name!r} is not a known IANA time zone (e.g. Europe/Berlin)"
        ) from None


@lru_cache(maxsize=128)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _offset_at(zone: ZoneInfo, t: int) -> int:
    offset = datetime.fromtimestamp(t, zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


@lru_cache(maxsize=512)
def _year_transitions(zone: ZoneInfo, year: int) -> tuple[int, tuple[tuple[int, int], ...]]:
    """(offset at the start of UTC `year`, ((instant, new offset), ...) within the year).

    zoneinfo does not expose its transition table, so the offset is sampled every six hours (no
    zone changes its offset twice within six hours) and each change is bisected to the second.
    """
    start = to_epoch(datetime(year, 1, 1, tzinfo=UTC))
    end = to_epoch(datetime(year + 1, 1, 1, tzinfo=UTC))
    samples = [*range(start, end, 6 * 3600), end]
    offsets = [_offset_at(zone, t) for t in samples]
    changes: list[tuple[int, int]] = []
    for i in range(len(samples) - 1):
        if offsets[i] == offsets[i + 1]:
            continue
        before, after = samples[i], samples[i + 1]  # offset(before) is the old offset
        while after - before > 1:
            middle = (before + after) // 2
            if _offset_at(zone, middle) == offsets[i]:
                before = middle
            else:
                after = middle
        changes.append((after, _offset_at(zone, after)))
    return offsets[0], tuple(changes)


def _offset_segments(zone: ZoneInfo, lo: int, hi: int) -> list[tuple[int, int, int]]:
    """[(from, to, offset)] covering UTC [lo, hi): the zone's UTC offset on each piece."""
    first_year = from_epoch(lo).year
    last_year = from_epoch(hi).year
    initial, _ = _year_transitions(zone, first_year)
    segments: list[tuple[int, int, int]] = []
    begin, offset = lo, initial
    for year in range(first_year, last_year + 1):
        for instant, new_offset in _year_transitions(zone, year)[1]:
            if instant <= lo:
                offset = new_offset
            elif instant < hi:
                segments.append((begin, instant, offset))
                begin, offset = instant, new_offset
    segments.append((begin, hi, offset))
    return segments


def _zoned_fires(spec: _CronSpec, zone: ZoneInfo, lo: int, hi: int) -> np.ndarray:
    """Fire times (UTC) in [lo, hi) of a cron evaluated in `zone`'s wall-clock time."""
    if hi <= lo:
        return _EMPTY
    segments = _offset_segments(zone, lo - DAY_SECS, hi + DAY_SECS)
    offsets = [offset for _, _, offset in segments]
    wall = _wall_fires(spec, lo + min(offsets), hi + max(offsets))
    # Each wall time maps to one UTC instant per offset piece it falls in: none when it does
    # not exist, two when it repeats; keep the earliest (fold=0).
    utc = np.full(len(wall), _NO_TIME, dtype=np.int64)
    for begin, end, offset in segments:
        first = np.searchsorted(wall, begin + offset)
        last = np.searchsorted(wall, end + offset)
        np.minimum(utc[first:last], wall[first:last] - offset, out=utc[first:last])
    utc = utc[(utc >= lo) & (utc < hi)]
    if not np.all(utc[1:] > utc[:-1]):  # not expected: the fold=0 mapping is monotonic
        utc = np.unique(utc)
    return utc


# ---------------------------------------------------------------------------------------------
# Public expansion API


def expand_cron(
    expr: str,
    window_start: int,
    window_end: int,
    tz: str | None = None,
    *,
    limit: int | None = None,
) -> np.ndarray:
    """Fire times t of `expr` with window_start <= t < window_end, as sorted unique int64.

    `tz` names the IANA zone the expression is read in (UTC when None or empty). `limit` keeps
    only the first `limit` fire times without building the rest. Fire times are produced for
    the years 1900 to 9989 only. Raises InvalidInput for a bad expression or zone.
    """
    spec = _spec(expr)
    window_start = max(int(window_start), _FIRST_SUPPORTED)
    window_end = min(int(window_end), _END_SUPPORTED)
    if not tz or tz == "UTC":
        return _first_fires(partial(_wall_fires, spec), window_start, window_end, limit)
    zone = load_zone(tz)
    return _first_fires(partial(_zoned_fires, spec, zone), window_start, window_end, limit)


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
