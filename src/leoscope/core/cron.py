"""Cron expressions: validation, normalisation and vectorized expansion to fire times.

Every time here is an integer count of epoch seconds (UTC) and every window is half-open,
`[window_start, window_end)`.

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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache, partial
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from .errors import InvalidInput
from .timeutil import to_epoch
from .zones import _offset_segments, load_zone

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


__all__ = ["expand_cron", "normalize_cron", "validate_cron"]
