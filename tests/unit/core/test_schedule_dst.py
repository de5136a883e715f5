"""core.schedule with IANA zones: DST gaps are skipped, repeated wall times fire once (fold=0)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from leoscope.core.errors import InvalidInput
from leoscope.core.schedule import expand_cron, validate_cron

from .schedule_oracles import cron_expressions, epoch, zoned_oracle_fires

CAP = 150

# (zone, an instant near one of its transitions, UTC)
TRANSITIONS = [
    ("Europe/Berlin", datetime(2024, 3, 31, 1)),  # 02:00 -> 03:00
    ("Europe/Berlin", datetime(2024, 10, 27, 1)),  # 03:00 -> 02:00
    ("America/New_York", datetime(2024, 3, 10, 7)),
    ("America/New_York", datetime(2024, 11, 3, 6)),
    ("Australia/Lord_Howe", datetime(2024, 4, 6, 15)),  # half-hour shift
    ("Australia/Lord_Howe", datetime(2024, 10, 5, 15, 30)),
    ("America/Sao_Paulo", datetime(2018, 11, 4, 3)),  # midnight does not exist
    ("America/Sao_Paulo", datetime(2019, 2, 17, 2)),  # 23:00 repeats
    ("Pacific/Apia", datetime(2011, 12, 30, 10)),  # 30 December 2011 does not exist
    ("Asia/Kolkata", datetime(2024, 3, 31, 1)),  # no DST at all
]


def assert_matches_policy(expr: str, zone: str, window_start: int, window_end: int) -> None:
    ours = expand_cron(expr, window_start, window_end, zone)
    if len(ours) > CAP:
        window_end = int(ours[CAP])
        ours = ours[:CAP]
    assert list(ours) == zoned_oracle_fires(expr, zone, window_start, window_end, CAP)
    assert np.all(np.diff(ours) > 0)


@given(
    expr=cron_expressions(),
    transition=st.sampled_from(TRANSITIONS),
    before=st.integers(0, 36 * 3600),
    after=st.integers(0, 36 * 3600),
)
@example(expr="* * * * *", transition=TRANSITIONS[0], before=7200, after=7200)
@example(expr="* * * * *", transition=TRANSITIONS[1], before=7200, after=7200)
@example(expr="*/30 * * * *", transition=TRANSITIONS[4], before=86400, after=86400)
@example(expr="0 0 * * *", transition=TRANSITIONS[6], before=86400, after=86400)
@example(expr="0 23 * * *", transition=TRANSITIONS[7], before=86400, after=86400)
@example(expr="0 12 * * *", transition=TRANSITIONS[8], before=3 * 86400, after=3 * 86400)
def test_zoned_expansion_follows_the_dst_policy(
    expr: str, transition: tuple[str, datetime], before: int, after: int
) -> None:
    try:
        validate_cron(expr)
    except InvalidInput:
        return
    zone, instant = transition
    middle = epoch(instant)
    assert_matches_policy(expr, zone, middle - before, middle + after)


@given(
    expr=cron_expressions(),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
    window_start=st.integers(epoch(datetime(2020, 1, 1)), epoch(datetime(2030, 1, 1))),
    window_secs=st.integers(86400, 400 * 86400),
)
def test_zoned_expansion_over_long_windows(
    expr: str, zone: str, window_start: int, window_secs: int
) -> None:
    try:
        validate_cron(expr)
    except InvalidInput:
        return
    assert_matches_policy(expr, zone, window_start, window_start + window_secs)


def utc(*args: int) -> int:
    return epoch(datetime(*args))


@pytest.mark.parametrize(
    ("expr", "zone", "day", "expected"),
    [
        # 02:30 does not exist in Berlin on 31 March 2024: skipped (croniter would use 03:00).
        ("30 2 * * *", "Europe/Berlin", (2024, 3, 31), []),
        # 02:30 happens twice on 27 October 2024: once, at the first (summer time) instant.
        ("30 2 * * *", "Europe/Berlin", (2024, 10, 27), [utc(2024, 10, 27, 0, 30)]),
        (
            "0 * * * *",
            "Europe/Berlin",
            (2024, 10, 27),
            [utc(2024, 10, 26, 22), utc(2024, 10, 26, 23), utc(2024, 10, 27, 0)]
            + [utc(2024, 10, 27, h) for h in range(2, 23)],
        ),
        ("30 1 * * *", "America/New_York", (2024, 11, 3), [utc(2024, 11, 3, 5, 30)]),
        ("30 2 * * *", "America/New_York", (2024, 3, 10), []),
        ("0 9 * * *", "America/New_York", (2024, 7, 1), [utc(2024, 7, 1, 13)]),
    ],
)
def test_dst_examples(expr: str, zone: str, day: tuple[int, int, int], expected: list[int]) -> None:
    # The local day, widened by a day each side in UTC and then filtered to the local date.
    start = utc(*day) - 86400
    fires = expand_cron(expr, start, start + 3 * 86400, zone)
    local_day = datetime(*day).date()
    on_day = [
        int(t) for t in fires if datetime.fromtimestamp(int(t), ZoneInfo(zone)).date() == local_day
    ]
    assert on_day == expected


def test_a_skipped_day_has_no_runs() -> None:
    # Samoa moved across the date line: 30 December 2011 did not happen in Pacific/Apia.
    start = utc(2011, 12, 27)
    fires = expand_cron("0 12 * * *", start, start + 6 * 86400, "Pacific/Apia")
    local_days = [datetime.fromtimestamp(int(t), ZoneInfo("Pacific/Apia")).day for t in fires]
    assert local_days == [27, 28, 29, 31, 1, 2]


def test_utc_zone_names_match_plain_utc() -> None:
    start = utc(2024, 1, 1)
    plain = expand_cron("*/5 1-3 * * 1-5", start, start + 30 * 86400)
    for zone in ("UTC", "Etc/UTC", "Etc/GMT"):
        assert list(expand_cron("*/5 1-3 * * 1-5", start, start + 30 * 86400, zone)) == list(plain)


def test_fixed_offset_zone_shifts_every_fire() -> None:
    start = utc(2024, 1, 1)
    plain = expand_cron("0 9 * * *", start, start + 10 * 86400)
    shifted = expand_cron("0 9 * * *", start, start + 10 * 86400, "Etc/GMT-3")  # UTC+3
    assert list(shifted) == [int(t) - 3 * 3600 for t in plain]


@given(
    expr=cron_expressions(),
    transition=st.sampled_from(TRANSITIONS),
    limit=st.integers(0, 300),
)
def test_zoned_limit_gives_a_prefix(
    expr: str, transition: tuple[str, datetime], limit: int
) -> None:
    try:
        validate_cron(expr)
    except InvalidInput:
        return
    zone, instant = transition
    start = epoch(instant) - 2 * 86400
    full = expand_cron(expr, start, start + 20 * 86400, zone)
    limited = expand_cron(expr, start, start + 20 * 86400, zone, limit=limit)
    assert list(limited) == list(full[:limit])


def test_unknown_zone_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        expand_cron("* * * * *", 0, 60, "Nowhere/Special")
    assert caught.value.field == "timezone"
    assert "Nowhere/Special" in caught.value.problem


@pytest.mark.parametrize("zone", [None, "Europe/Berlin"])
def test_a_limit_over_a_huge_window_needs_only_the_start_of_it(zone: str | None) -> None:
    start = utc(2024, 1, 1)
    near = expand_cron("0 0 29 2 *", start, start + 10 * 366 * 86400, zone)
    assert list(expand_cron("0 0 29 2 *", start, 2**40, zone, limit=2)) == list(near[:2])


def test_an_empty_zone_name_means_utc() -> None:
    start = utc(2024, 1, 1)
    assert list(expand_cron("0 9 * * *", start, start + 86400, "")) == [start + 9 * 3600]
