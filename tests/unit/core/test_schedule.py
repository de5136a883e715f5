"""core.schedule: cron validation, expansion against croniter, occurrences and admission limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from croniter import CroniterBadDateError, croniter
from hypothesis import example, given
from hypothesis import strategies as st

from leoscope.core.errors import InvalidInput
from leoscope.core.model import Job, JobType
from leoscope.core.schedule import (
    DEFAULT_HORIZON_DAYS,
    MAX_OCCURRENCES,
    admission_occurrences,
    calendar_runs,
    check_no_self_overlap,
    expand_cron,
    first_self_overlap,
    horizon_window,
    normalize_cron,
    occurrences,
    validate_cron,
)

from .schedule_oracles import cron_expressions, croniter_fires, epoch, window_lengths

T2024 = epoch(datetime(2024, 1, 1))
WINDOWS_FROM = epoch(datetime(2019, 1, 1))
WINDOWS_TO = epoch(datetime(2031, 1, 1))
CAP = 150  # fires compared per example: croniter steps only ~10k fires/s


def job(**changes: object) -> Job:
    base = Job(
        id="j1",
        nodeid="n1",
        type=JobType.CRON,
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=datetime(2024, 1, 2, tzinfo=UTC),
        length_secs=60,
        userid="u1",
        schedule="*/10 * * * *",
    )
    return base.with_changes(**changes)


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "normalized"),
    [
        ("*/5 * * * *", "*/5 * * * *"),
        ("  0   9-17\t* *   MON-FRI ", "0 9-17 * * mon-fri"),
        ("0 0 1,15 Jan-Jun/2 *", "0 0 1,15 jan-jun/2 *"),
        ("00 05 * * 7", "00 05 * * 7"),
        ("0 0 * * 0-7", "0 0 * * 0-7"),
    ],
)
def test_normalize_cron_gives_five_single_spaced_lower_case_fields(
    expr: str, normalized: str
) -> None:
    assert normalize_cron(expr) == normalized


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("", "is empty"),
        ("* * * *", "has 4 fields; expected exactly 5"),
        ("0 * * * * *", "has 6 fields"),
        ("0 0 * * * 2024", "has 6 fields"),
        ("@daily", "'@' shortcuts are not supported"),
        ("@reboot", "'@' shortcuts are not supported"),
        ("60 * * * *", "minute value 60 is outside 0-59"),
        ("* 24 * * *", "hour value 24 is outside 0-23"),
        ("* * 0 * *", "day-of-month value 0 is outside 1-31"),
        ("* * * 13 *", "month value 13 is outside 1-12"),
        ("* * * * 8", "day-of-week value 8 is outside 0-7"),
        ("* * * * funday", "day-of-week value 'funday' is not a number or one of sun"),
        ("* * mon * *", "day-of-month value 'mon' is not a number"),
        ("5/15 * * * *", "write 5-59/15 instead"),
        ("*/0 * * * *", "step in '*/0' must be between 1 and 60"),
        ("*/61 * * * *", "must be between 1 and 60"),
        ("10-5 * * * *", "range '10-5' runs backwards"),
        ("* * * * fri-sun", "runs backwards (use 7 for Sunday)"),
        ("3-3 * * * *", "equal bounds; write the single value 3"),
        ("*,5 * * * *", "'*' cannot be combined"),
        ("0 0 L * *", "day-of-month value 'l' is not a number"),
        ("0 0 15W * *", "day-of-month value '15w' is not a number"),
        ("0 0 * * 1#2", "is not *, a value, a range"),
        ("0 0 ? * *", "is not *, a value, a range"),
        ("H * * * *", "minute value 'h' is not a number"),
        ("1,,2 * * * *", "'' is not *, a value"),
        ("0 0 30 2 *", "never fires: day-of-month 30 does not occur in month 2"),
        ("0 0 31 apr,jun,sep,nov *", "never fires"),
        ("99999 * * * *", "out of range"),
    ],
)
def test_validate_cron_names_the_problem(expr: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_cron(expr)
    assert caught.value.field == "schedule"
    assert reason in caught.value.problem


def test_an_impossible_day_still_fires_on_its_weekdays() -> None:
    # 31 February never happens, but with a restricted weekday the day fields are ORed.
    validate_cron("0 0 31 2 mon")
    fires = expand_cron("0 0 31 2 mon", T2024, T2024 + 366 * 86400)
    assert len(fires) == 4  # the Mondays of February 2024
    assert list(fires) == croniter_fires("0 0 31 2 mon", T2024, T2024 + 366 * 86400, 10)


@given(cron_expressions())
def test_everything_we_accept_croniter_accepts(expr: str) -> None:
    try:
        normalized = normalize_cron(expr)
    except InvalidInput as exc:
        assert "never fires" in exc.problem
        with pytest.raises(CroniterBadDateError):
            croniter(expr, datetime(2020, 1, 1)).get_next(datetime)
        return
    assert croniter.is_valid(normalized)
    assert normalized == " ".join(expr.lower().split())


# --- expansion against croniter ----------------------------------------------------------------


def assert_same_as_croniter(expr: str, window_start: int, window_end: int) -> None:
    ours = expand_cron(expr, window_start, window_end)
    assert ours.dtype == np.int64
    if len(ours) > CAP:  # compare a prefix window; a miss or extra fire inside it still shows
        window_end = int(ours[CAP])
        ours = ours[:CAP]
    assert list(ours) == croniter_fires(expr, window_start, window_end, CAP)
    assert np.all(np.diff(ours) > 0)
    assert np.all((ours >= window_start) & (ours < window_end))


@given(
    expr=cron_expressions(),
    window_start=st.integers(WINDOWS_FROM, WINDOWS_TO),
    window_secs=window_lengths,
)
@example(expr="0 0 29 2 *", window_start=epoch(datetime(2019, 1, 1)), window_secs=12 * 365 * 86400)
@example(expr="59 23 31 * *", window_start=T2024, window_secs=2 * 366 * 86400)
@example(expr="0 12 28-31 feb *", window_start=epoch(datetime(2023, 2, 1)), window_secs=800 * 86400)
@example(expr="*/7 */5 */3 * */2", window_start=T2024 + 37, window_secs=90 * 86400)
@example(expr="0 0 */2 * mon", window_start=T2024, window_secs=200 * 86400)
@example(expr="0 0 1-31 * mon", window_start=T2024, window_secs=60 * 86400)
@example(expr="0 0 */1 * */1", window_start=T2024, window_secs=60 * 86400)
@example(expr="0 0 1-15 * 0-7", window_start=T2024, window_secs=60 * 86400)
@example(expr="0 0 * * 1-7/2", window_start=T2024, window_secs=60 * 86400)
def test_expansion_matches_croniter(expr: str, window_start: int, window_secs: int) -> None:
    try:
        validate_cron(expr)
    except InvalidInput:
        return  # never fires; test_everything_we_accept_croniter_accepts covers this
    assert_same_as_croniter(expr, window_start, window_start + window_secs)


@pytest.mark.parametrize(
    ("expr", "first", "days", "expected"),
    [
        ("0 0 29 2 *", datetime(2020, 1, 1), 3 * 366, [datetime(2020, 2, 29)]),
        ("0 0 29 2 *", datetime(2021, 1, 1), 1200, [datetime(2024, 2, 29)]),
        (
            "30 12 31 * *",
            datetime(2024, 1, 1),
            92,
            [datetime(2024, 1, 31, 12, 30), datetime(2024, 3, 31, 12, 30)],
        ),
        ("0 6 * * sat", datetime(2024, 2, 26), 7, [datetime(2024, 3, 2, 6)]),
        # dom and dow both restricted: either matches (the 13th, or any Friday).
        (
            "0 0 13 * fri",
            datetime(2024, 9, 1),
            30,
            [datetime(2024, 9, d) for d in (6, 13, 20, 27)],
        ),
        (
            "0 0 13 * fri",
            datetime(2024, 9, 10),
            5,
            [datetime(2024, 9, 13)],
        ),
        # "*/2" in day-of-month is a restriction, so it is ORed with the weekday (croniter).
        (
            "0 0 */10 * sun",
            datetime(2024, 3, 1),
            12,
            [datetime(2024, 3, d) for d in (1, 3, 10, 11)],
        ),
    ],
)
def test_known_calendar_corners(
    expr: str, first: datetime, days: int, expected: list[datetime]
) -> None:
    start = epoch(first)
    fires = expand_cron(expr, start, start + days * 86400)
    assert list(fires) == [epoch(e) for e in expected]
    assert list(fires) == croniter_fires(expr, start, start + days * 86400, 100)


def test_window_bounds_are_half_open() -> None:
    ten = T2024 + 600
    assert list(expand_cron("*/10 * * * *", ten, ten + 600)) == [ten]
    assert list(expand_cron("*/10 * * * *", ten + 1, ten + 601)) == [ten + 600]
    assert len(expand_cron("*/10 * * * *", ten, ten)) == 0
    assert len(expand_cron("*/10 * * * *", ten, ten - 5)) == 0


def test_a_year_of_every_minute_is_exact() -> None:
    fires = expand_cron("* * * * *", T2024, T2024 + 366 * 86400)
    assert len(fires) == 366 * 1440  # 2024 is a leap year
    assert np.all(np.diff(fires) == 60)


@given(
    expr=cron_expressions(),
    window_start=st.integers(WINDOWS_FROM, WINDOWS_TO),
    limit=st.integers(0, 500),
)
def test_limit_gives_a_prefix(expr: str, window_start: int, limit: int) -> None:
    try:
        validate_cron(expr)
    except InvalidInput:
        return
    window_end = window_start + 60 * 86400
    full = expand_cron(expr, window_start, window_end)
    assert list(expand_cron(expr, window_start, window_end, limit=limit)) == list(full[:limit])


# --- occurrences -------------------------------------------------------------------------------


def test_cron_occurrences_include_both_job_bounds() -> None:
    j = job(start=datetime(2024, 1, 1, 0, 10, tzinfo=UTC), end=datetime(2024, 1, 1, 1, tzinfo=UTC))
    starts = occurrences(j, 0, 2**40)
    assert starts[0] == T2024 + 600 and starts[-1] == T2024 + 3600
    assert len(starts) == 6


def test_cron_start_with_fraction_excludes_the_fire_before_it() -> None:
    j = job(start=datetime(2024, 1, 1, 0, 10, 0, 500, tzinfo=UTC))
    assert occurrences(j, 0, 2**40)[0] == T2024 + 1200


def test_occurrences_are_clipped_to_the_window() -> None:
    j = job()
    starts = occurrences(j, T2024 + 3600, T2024 + 7200)
    assert list(starts) == list(range(T2024 + 3600, T2024 + 7200, 600))


def test_atq_occurs_once_at_its_start_when_inside_the_window() -> None:
    j = job(type=JobType.ATQ, schedule="", start=datetime(2024, 1, 1, 5, tzinfo=UTC))
    assert list(occurrences(j, T2024, T2024 + 86400)) == [T2024 + 5 * 3600]
    assert len(occurrences(j, T2024 + 5 * 3600 + 1, T2024 + 86400)) == 0
    assert len(occurrences(j, T2024, T2024 + 5 * 3600)) == 0


def test_occurrences_use_the_job_time_zone() -> None:
    j = job(schedule="0 9 * * *", timezone="America/New_York", end=datetime(2024, 1, 3, tzinfo=UTC))
    assert list(occurrences(j, 0, 2**40)) == [T2024 + 14 * 3600, T2024 + 86400 + 14 * 3600]


# --- admission limits --------------------------------------------------------------------------


def test_every_minute_fits_the_default_horizon() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    j = job(schedule="* * * * *", end=now + timedelta(days=1000))
    starts = admission_occurrences(j, now)
    assert len(starts) == DEFAULT_HORIZON_DAYS * 1440 <= MAX_OCCURRENCES
    assert horizon_window(now) == (T2024, T2024 + DEFAULT_HORIZON_DAYS * 86400)


def test_too_many_runs_in_the_horizon_are_refused_not_truncated() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    j = job(schedule="* * * * *", end=now + timedelta(days=1000))
    with pytest.raises(InvalidInput) as caught:
        admission_occurrences(j, now, horizon_days=30, max_occurrences=1000)
    assert caught.value.field == "schedule"
    assert "more than 1000 runs within the 30-day scheduling horizon" in caught.value.problem
    # The same job within its bound is admitted.
    assert len(admission_occurrences(j, now, horizon_days=30, max_occurrences=43200)) == 43200


def test_admission_only_counts_runs_from_now() -> None:
    now = datetime(2024, 1, 1, 12, tzinfo=UTC)
    starts = admission_occurrences(job(), now)
    assert starts[0] == T2024 + 12 * 3600 and len(starts) == 12 * 6 + 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"schedule": "* * * *"}, "schedule"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"length_secs": 0}, "length_secs"),
    ],
)
def test_admission_rejects_bad_jobs(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        admission_occurrences(job(**changes), datetime(2024, 1, 1, tzinfo=UTC))
    assert caught.value.field == field


def test_a_job_overlapping_itself_is_refused_naming_both_runs() -> None:
    j = job(schedule="* * * * *", length_secs=120)
    with pytest.raises(InvalidInput) as caught:
        admission_occurrences(j, datetime(2024, 1, 1, tzinfo=UTC))
    assert caught.value.field == "length_secs"
    assert "2024-01-01T00:00:00Z" in caught.value.problem
    assert "2024-01-01T00:01:00Z" in caught.value.problem


def test_runs_that_touch_do_not_overlap() -> None:
    j = job(schedule="*/10 * * * *", length_secs=600)
    assert len(admission_occurrences(j, datetime(2024, 1, 1, tzinfo=UTC))) == 24 * 6 + 1


def test_a_dst_gap_can_make_a_job_overlap_itself() -> None:
    # 01:00 and 03:00 Berlin time are only one hour apart on the night clocks spring forward.
    j = job(
        schedule="0 1,3 * * *",
        timezone="Europe/Berlin",
        length_secs=90 * 60,
        start=datetime(2024, 3, 1, tzinfo=UTC),
        end=datetime(2024, 5, 1, tzinfo=UTC),
    )
    with pytest.raises(InvalidInput) as caught:
        admission_occurrences(j, datetime(2024, 3, 1, tzinfo=UTC))
    assert "2024-03-31T00:00:00Z" in caught.value.problem
    assert "2024-03-31T01:00:00Z" in caught.value.problem
    assert len(admission_occurrences(j.with_changes(timezone=None), j.start)) > 0


@given(st.lists(st.integers(0, 10_000), unique=True, max_size=30), st.integers(1, 2000))
def test_first_self_overlap_agrees_with_all_pairs(starts: list[int], length: int) -> None:
    starts.sort()
    clashing = [(a, b) for i, a in enumerate(starts) for b in starts[i + 1 :] if a < b < a + length]
    found = first_self_overlap(np.array(starts, dtype=np.int64), length)
    if not clashing:
        assert found is None
        check_no_self_overlap(np.array(starts, dtype=np.int64), length)
    else:
        assert found == min(clashing)


# --- calendar listing --------------------------------------------------------------------------


def test_calendar_runs_are_sorted_capped_and_flagged() -> None:
    a = job(id="a", schedule="0 * * * *")
    b = job(id="b", schedule="0,30 * * * *", length_secs=60)
    c = job(id="c", type=JobType.ATQ, schedule="", start=datetime(2024, 1, 1, 0, 45, tzinfo=UTC))
    page = calendar_runs([b, c, a], T2024, T2024 + 3600, max_runs=10)
    assert [(r.job.id, r.start - T2024) for r in page.runs] == [
        ("a", 0),
        ("b", 0),
        ("b", 1800),
        ("c", 2700),
    ]
    assert not page.truncated
    assert page.runs[0].end == T2024 + 60
    capped = calendar_runs([b, c, a], T2024, T2024 + 86400, max_runs=3)
    assert capped.truncated and len(capped.runs) == 3
    assert calendar_runs([a], T2024, T2024 + 3601, max_runs=2).truncated is False


def test_calendar_runs_include_a_run_in_progress() -> None:
    long_run = job(id="a", schedule="0 * * * *", length_secs=1800)
    page = calendar_runs([long_run], T2024 + 600, T2024 + 900, max_runs=10)
    assert [r.start for r in page.runs] == [T2024]
    assert calendar_runs([long_run], T2024 + 1800, T2024 + 1900, max_runs=10).runs == []
