"""core.quiet_hours: the one parser of a node's `quiet_hours` text."""

from __future__ import annotations

import pytest

from leoscope.core.errors import InvalidInput
from leoscope.core.quiet_hours import QuietWindow, parse_quiet_hours


def test_windows_in_order() -> None:
    assert parse_quiet_hours("0 18 * * 1-5@120; 0 9 * * 0,6@600") == (
        QuietWindow("0 18 * * 1-5", 7200),
        QuietWindow("0 9 * * 0,6", 36000),
    )


@pytest.mark.parametrize("text", [None, "", "  "])
def test_nothing_means_no_windows(text: str | None) -> None:
    assert parse_quiet_hours(text) == ()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("0 18 * * *", "must be '<cron expression>@<minutes>'"),
        ("0 18 * * *@0", "must be '<cron expression>@<minutes>'"),
        ("0 18 * * *@x", "must be '<cron expression>@<minutes>'"),
        ("0 25 * * *@60", "hour"),
    ],
)
def test_refusals_name_the_field(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_quiet_hours(text)
    assert caught.value.field == "quiet_hours" and problem in caught.value.problem
