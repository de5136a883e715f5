"""The one place that parses and prints times.

Inside LEOScope every time is an aware UTC `datetime` or an integer count of epoch seconds.
Input strings are ISO-8601 with `T` or a space, with or without fractions, with or without a
zone; a string without a zone is UTC (the reference's convention). Output comes in three shapes:

* `iso_z`: ISO-8601 with `Z`, for people and for our own clients;
* `job_date`: naive `YYYY-MM-DDTHH:MM:SS`, the shape reference nodes need for job dates
  (no space, no offset: they paste it unquoted into shell commands);
* `ref_time`: `YYYY-MM-DD HH:MM:SS[.ffffff]`, Python's `str(datetime)` of a naive UTC time, the
  reference's format for run times, `last_active` and calendar events.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from .errors import InvalidInput

_ISO = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|z|UTC|[+-]\d{2}(?::?\d{2})?)?\s*$"
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NEVER_ACTIVE = datetime(2020, 1, 1, tzinfo=UTC)


def parse_time(text: str, field: str = "time") -> datetime:
    """Parse an ISO-8601 time string into an aware UTC datetime.

    Raises InvalidInput naming `field` when the text is empty or not a valid time.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(
            field, "is empty; expected an ISO-8601 time such as 2024-05-01T10:00:00Z"
        )
    m = _ISO.match(text)
    if not m:
        raise InvalidInput(field, f"{text!r} is not an ISO-8601 time (e.g. 2024-05-01T10:00:00Z)")
    year, month, day, hour, minute, second, frac, zone = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        dt = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise InvalidInput(field, f"{text!r} is not a valid date/time: {exc}") from None
    if zone and zone.upper() not in ("Z", "UTC"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        if hours > 23 or minutes > 59:
            raise InvalidInput(field, f"{text!r} has an invalid UTC offset")
        dt -= sign * timedelta(hours=hours, minutes=minutes)
    return dt


def to_utc(dt: datetime) -> datetime:
    """Return `dt` as an aware UTC datetime; a naive datetime is taken to be UTC."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def to_epoch(dt: datetime) -> int:
    """Whole epoch seconds of `dt` (floored)."""
    return int((to_utc(dt) - EPOCH).total_seconds() // 1)


def from_epoch(secs: float) -> datetime:
    return EPOCH + timedelta(seconds=secs)


def iso_z(dt: datetime | None) -> str:
    """ISO-8601 UTC with a `Z`, fractions only when non-zero. Empty for None."""
    if dt is None:
        return ""
    dt = to_utc(dt)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if dt.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return dt.strftime(fmt)


def job_date(dt: datetime) -> str:
    """Naive UTC `YYYY-MM-DDTHH:MM:SS`: safe for reference nodes' shell command lines."""
    return to_utc(dt).strftime("%Y-%m-%dT%H:%M:%S")


def ref_time(dt: datetime | None) -> str:
    """The reference's `str(datetime)` of naive UTC: `YYYY-MM-DD HH:MM:SS[.ffffff]`."""
    if dt is None:
        return ""
    return str(to_utc(dt).replace(tzinfo=None))


def utcnow() -> datetime:
    """The current time, aware UTC. Only edges (I/O layers) call this; core takes `now`."""
    return datetime.now(UTC)
