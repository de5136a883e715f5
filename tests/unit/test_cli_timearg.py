"""Times and durations typed on the command line, and how they are shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leoscope.cli.timearg import (
    format_duration,
    parse_duration,
    parse_time_arg,
    relative,
    show_time,
)
from leoscope.core.errors import InvalidInput

NOW = datetime(2026, 11, 29, 10, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "secs"),
    [
        ("90s", 90),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("2d", 172800),
        ("1w", 604800),
        ("1.5h", 5400),
        ("3600", 3600),
        (" 5m ", 300),
        ("1H 30M", 5400),
    ],
)
def test_durations(text: str, secs: int) -> None:
    assert parse_duration(text) == secs


@pytest.mark.parametrize(
    "text", ["", "5x", "0", "0s", "m5", "-5m", "five minutes", "1h-30m", "400d"]
)
def test_bad_durations_name_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_duration(text, "--length")
    assert caught.value.field == "--length"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("+10m", NOW + timedelta(minutes=10)),
        ("-1h", NOW - timedelta(hours=1)),
        ("+ 1d2h", NOW + timedelta(days=1, hours=2)),
        ("+90", NOW + timedelta(seconds=90)),
        ("in 2h", NOW + timedelta(hours=2)),
        ("3h ago", NOW - timedelta(hours=3)),
        ("today", datetime(2026, 11, 29, tzinfo=UTC)),
        ("today 18:00", datetime(2026, 11, 29, 18, tzinfo=UTC)),
        ("Tomorrow  08:00", datetime(2026, 11, 30, 8, tzinfo=UTC)),
        ("tomorrow 8:05", datetime(2026, 11, 30, 8, 5, tzinfo=UTC)),
        ("yesterday 18:30:15", datetime(2026, 11, 28, 18, 30, 15, tzinfo=UTC)),
        ("2026-12-01T10:00:00Z", datetime(2026, 12, 1, 10, tzinfo=UTC)),
        ("2026-12-01 10:00", datetime(2026, 12, 1, 10, tzinfo=UTC)),
        ("2026-12-01T10:00:00+02:00", datetime(2026, 12, 1, 8, tzinfo=UTC)),
    ],
)
def test_times(text: str, expected: datetime) -> None:
    assert parse_time_arg(text, NOW) == expected


def test_month_end_rolls_over() -> None:
    end_of_month = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert parse_time_arg("tomorrow 01:00", end_of_month) == datetime(2026, 12, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["", "next week", "+5x", "tomorrow 25:00", "today 10:61", "2026-13-01", "soon"]
)
def test_bad_times_name_the_field_and_the_forms(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_time_arg(text, NOW, "--at")
    assert caught.value.field == "--at"
    if text not in ("tomorrow 25:00", "today 10:61"):
        assert "tomorrow 08:00" in caught.value.problem  # says which forms work


@pytest.mark.parametrize(
    ("secs", "text"),
    [(0, "0s"), (45, "45s"), (90, "1m30s"), (3600, "1h"), (5400, "1h30m"), (90061, "1d1h1m1s")],
)
def test_format_duration(secs: int, text: str) -> None:
    assert format_duration(secs) == text


@given(st.integers(min_value=1, max_value=366 * 86400))
def test_formatted_durations_parse_back(secs: int) -> None:
    assert parse_duration(format_duration(secs)) == secs


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "now"),
        (timedelta(milliseconds=400), "now"),
        (timedelta(hours=2), "in 2h"),
        (timedelta(hours=2, minutes=30, seconds=5), "in 2h30m"),
        (timedelta(days=1, hours=5, minutes=7), "in 1d5h"),
        (timedelta(days=3, minutes=7), "in 3d"),
        (-timedelta(minutes=5, seconds=3), "5m3s ago"),
        (-timedelta(seconds=42), "42s ago"),
    ],
)
def test_relative(delta: timedelta, text: str) -> None:
    assert relative(NOW + delta, NOW) == text


def test_show_time() -> None:
    assert show_time(NOW + timedelta(hours=2), NOW) == "2026-11-29T12:15:30Z (in 2h)"
    assert show_time(None, NOW) == "-"
