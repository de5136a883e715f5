"""Quiet hours: cron windows during which a node is in scavenger mode.

A node's registered `quiet_hours` is `<cron>@<minutes>` windows joined by ';', e.g.
`0 18 * * 1-5@120;0 9 * * 0,6@600` (weekday evenings for two hours, weekend days for ten).
Each fire time `f` of the cron expression (UTC) opens a window `[f, f + minutes)`. The
orchestrator checks the text at registration and warns about overhead runs inside the windows;
the node switches scavenger mode by them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .cron import expand_cron, validate_cron
from .errors import InvalidInput

LOOKAHEAD_SECS = 366 * 24 * 3600
"""How far ahead the next window start is searched (a yearly cron still fires within it)."""


@dataclass(frozen=True)
class QuietWindow:
    cron: str
    length_secs: int


def parse_quiet_hours(text: str | None) -> tuple[QuietWindow, ...]:
    """The windows of a `quiet_hours` text; empty for None or "". Raises InvalidInput."""
    if not text or not text.strip():
        return ()
    windows = []
    for part in text.split(";"):
        cron, sep, minutes = part.partition("@")
        if not sep or not minutes.strip().isdigit() or int(minutes) <= 0:
            raise InvalidInput(
                "quiet_hours",
                f"{part!r} must be '<cron expression>@<minutes>', e.g. '0 18 * * *@120'",
            )
        try:
            validate_cron(cron.strip())
        except InvalidInput as exc:
            raise InvalidInput("quiet_hours", exc.problem) from None
        windows.append(QuietWindow(cron.strip(), int(minutes) * 60))
    return tuple(windows)


def quiet_state(windows: tuple[QuietWindow, ...], now: float) -> tuple[bool, float]:
    """(whether `now` is inside a window, the next time at which that may change).

    The next time is the earliest end of a window covering `now` or start of another window
    (infinity when there are no windows); overlapping windows may keep the node quiet past
    it, which the caller sees when it asks again then.
    """
    n = int(now)
    inside = False
    next_change = float("inf")
    for window in windows:
        covering = expand_cron(window.cron, n - window.length_secs + 1, n + 1)
        if len(covering):
            inside = True
            next_change = min(next_change, float(int(covering[-1]) + window.length_secs))
        else:
            upcoming = expand_cron(window.cron, n + 1, n + LOOKAHEAD_SECS, limit=1)
            if len(upcoming):
                next_change = min(next_change, float(int(upcoming[0])))
    return inside, next_change
