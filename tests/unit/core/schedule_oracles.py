"""Slow but obviously correct reference answers and hypothesis strategies for schedule tests.

The oracles step croniter one fire at a time (the thing core.schedule must never do) and map
wall-clock times to UTC one datetime at a time with zoneinfo.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from hypothesis import strategies as st

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def epoch(dt: datetime) -> int:
    """Epoch seconds of a naive-UTC or aware datetime."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return calendar.timegm(dt.timetuple())


def naive_utc(t: int) -> datetime:
    return datetime(1970, 1, 1) + timedelta(seconds=t)


def croniter_fires(expr: str, window_start: int, window_end: int, cap: int) -> list[int]:
    """Fire times in [window_start, window_end) by croniter iteration in UTC, at most cap + 1."""
    it = croniter(expr, naive_utc(window_start - 1))
    fires: list[int] = []
    while len(fires) <= cap:
        t = epoch(it.get_next(datetime))
        if t >= window_end:
            break
        fires.append(t)
    return fires


def zoned_oracle_fires(
    expr: str, zone_name: str, window_start: int, window_end: int, cap: int
) -> list[int]:
    """Fire times in [window_start, window_end) under LEOScope's DST policy, one at a time.

    croniter walks the wall clock (naive local times); each wall time is then placed in the
    zone: skipped when it does not exist, its first instant (fold=0) when it repeats.
    """
    zone = ZoneInfo(zone_name)
    offset = datetime.fromtimestamp(window_start, zone).utcoffset() or timedelta(0)
    # Clocks go back by at most an hour, so no wall time earlier than this can map
    # into the window.
    wall_start = naive_utc(window_start) + offset - timedelta(hours=2)
    it = croniter(expr, wall_start)
    fires: list[int] = []
    while len(fires) <= cap:
        wall = it.get_next(datetime)
        instant = wall.replace(tzinfo=zone, fold=0)
        round_trip = instant.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if round_trip != wall:
            continue  # this wall time does not exist in the zone
        t = epoch(instant)
        if t >= window_end:
            break  # existing wall times map to UTC in order
        if t >= window_start:
            fires.append(t)
    return fires


def _value(field: int, draw: st.DrawFn, low: int, high: int) -> tuple[int, str]:
    number = draw(st.integers(low, high))
    if field == 3 and draw(st.booleans()):
        return number, MONTHS[number - 1]
    if field == 4 and number <= 6 and draw(st.booleans()):
        return number, WEEKDAYS[number]
    return number, str(number)


_BOUNDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


@st.composite
def cron_field(draw: st.DrawFn, field: int) -> str:
    """One field of a valid cron expression in the grammar LEOScope accepts."""
    low, high = _BOUNDS[field]
    size = 7 if field == 4 else high - low + 1
    kind = draw(st.sampled_from(["star", "star_step", "list"]))
    if kind == "star":
        return "*"
    if kind == "star_step":
        return f"*/{draw(st.integers(1, size))}"
    items = []
    for _ in range(draw(st.integers(1, 3))):
        first, first_text = _value(field, draw, low, high - 1)
        if draw(st.booleans()):
            items.append(first_text)
            continue
        _, last_text = _value(field, draw, first + 1, high)
        item = f"{first_text}-{last_text}"
        if draw(st.booleans()):
            item += f"/{draw(st.integers(1, size))}"
        items.append(item)
    return ",".join(items)


@st.composite
def cron_expressions(draw: st.DrawFn) -> str:
    fields = [draw(cron_field(i)) for i in range(5)]
    if draw(st.booleans()):
        fields = [f.upper() for f in fields]  # names are case-insensitive
    return " ".join(fields)


# Window lengths from an hour to three years, so both dense and sparse expressions fire.
window_lengths = st.sampled_from(
    [3600, 86400, 7 * 86400, 31 * 86400, 92 * 86400, 366 * 86400, 3 * 366 * 86400]
).flatmap(lambda longest: st.integers(longest // 4, longest))
