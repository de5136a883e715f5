"""Times and durations as people type and read them on the command line. Pure: `now` is passed in.

Accepted times (all UTC):

* ISO-8601, with or without a zone (naive means UTC), parsed by `core.timeutil`;
* ``now``;
* an offset from now: ``+10m``, ``-1h``, ``+1d2h``, ``in 10m``, ``2h ago``;
* a day and an optional time: ``today``, ``tomorrow 08:00``, ``yesterday 18:30:15``.

Durations: plain seconds (``90``) or numbers with units ``s``, ``m``, ``h``, ``d``, ``w``,
combinable (``90s``, ``5m``, ``1h30m``).
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from leoscope.core.errors import InvalidInput
from leoscope.core.timeutil import iso_z, parse_time, to_utc

MAX_DURATION_SECS = 366 * 86400
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?[smhdw])+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_OFFSET = re.compile(r"^([+-])\s*(\S+)$")
_IN = re.compile(r"^in\s+(\S+)$")
_AGO = re.compile(r"^(\S+)\s+ago$")
_DAY = re.compile(r"^(today|tomorrow|yesterday)(?:[\sT@]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_DAY_OFFSETS = {"yesterday": -1, "today": 0, "tomorrow": 1}

TIME_FORMS = "ISO-8601 (2026-05-01T10:00:00Z), now, +10m, -1h, in 2h, 3h ago, tomorrow 08:00"
DURATION_FORMS = "90s, 5m, 1h30m, 2d or plain seconds"


def parse_duration(text: str, field: str = "duration") -> int:
    """Whole seconds of a duration; must be positive. Raises InvalidInput naming `field`."""
    value = text.strip().lower().replace(" ", "")
    if value.isdigit():
        secs = float(value)
    elif _DURATION.match(value):
        secs = sum(float(n) * UNITS[u] for n, u in _PART.findall(value))
    else:
        raise InvalidInput(field, f"{text!r} is not a duration; use {DURATION_FORMS}")
    if secs < 1:
        raise InvalidInput(field, f"{text!r} must be at least one second")
    if secs > MAX_DURATION_SECS:
        raise InvalidInput(field, f"{text!r} is longer than a year")
    return round(secs)


def parse_time_arg(text: str, now: datetime, field: str = "time") -> datetime:
    """An aware UTC datetime from any accepted form. Raises InvalidInput naming `field`."""
    value = " ".join(text.strip().lower().split())
    now = to_utc(now)
    if value == "now":
        return now
    for pattern, sign in ((_OFFSET, None), (_IN, 1), (_AGO, -1)):
        m = pattern.match(value)
        if m:
            direction = sign if sign is not None else (1 if m.group(1) == "+" else -1)
            amount = m.group(m.lastindex or 1)
            if _DURATION.match(amount) or amount.isdigit():
                return now + direction * timedelta(seconds=parse_duration(amount, field))
    m = _DAY.match(value)
    if m:
        day, hour, minute, second = m.groups()
        try:
            clock = time(int(hour or 0), int(minute or 0), int(second or 0))
        except ValueError:
            raise InvalidInput(field, f"{text!r} has an invalid time of day") from None
        date = (now + timedelta(days=_DAY_OFFSETS[day])).date()
        return datetime.combine(date, clock, tzinfo=now.tzinfo)
    try:
        return parse_time(text, field)
    except InvalidInput:
        raise InvalidInput(field, f"{text!r} is not a time; use {TIME_FORMS}") from None


def format_duration(secs: float) -> str:
    """Compact, exact: 90 -> '1m30s', 3600 -> '1h', 0 -> '0s'."""
    total = round(abs(secs))
    if total == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return ("-" if secs < 0 else "") + "".join(parts)


def approximate(secs: float) -> str:
    """The two largest units, for relative times: 9000 -> '2h30m', 90061 -> '1d1h'."""
    total = round(abs(secs))
    parts: list[tuple[int, str]] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count or parts:
            parts.append((count, unit))
        if len(parts) == 2:
            break
    text = "".join(f"{n}{u}" for n, u in parts if n)
    return text or "0s"


def relative(dt: datetime, now: datetime) -> str:
    """'in 2h', '5m ago' or 'now' (within a second)."""
    delta = (to_utc(dt) - to_utc(now)).total_seconds()
    if abs(delta) < 1:
        return "now"
    return f"in {approximate(delta)}" if delta > 0 else f"{approximate(delta)} ago"


def show_time(dt: datetime | None, now: datetime) -> str:
    """'2026-11-29T10:00:00Z (in 2h)'; '-' for None."""
    if dt is None:
        return "-"
    return f"{iso_z(dt)} ({relative(dt, now)})"
