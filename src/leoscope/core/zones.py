"""IANA time zones for cron: loading a zone by name, and its UTC offsets over an interval.

zoneinfo converts one instant at a time and does not expose its transition table, so the table
is rebuilt here, a year at a time and cached, for `core.cron` to map wall-clock fire times to
UTC in bulk.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidInput
from .timeutil import from_epoch, to_epoch


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


__all__ = ["load_zone"]
