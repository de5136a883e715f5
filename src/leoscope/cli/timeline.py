"""A compact text timeline of a node's calendar: one line per job, one cell per time slice.

Pure: takes intervals as epoch seconds and returns lines. A cell is marked busy when any run
overlaps its slice (runs are half-open, [start, end)), so short runs are never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

BUSY, FREE = "█", "·"
TICK_EVERY = 15


def _label(epoch: int, span: int) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%H:%M" if span <= 2 * 86400 else "%m-%d")


def timeline(
    lanes: Sequence[tuple[str, Sequence[tuple[int, int]]]],
    start: int,
    end: int,
    width: int = 60,
) -> list[str]:
    """Lines: an axis with UTC labels, then `name  █··█··` for each (name, intervals) lane."""
    if end <= start or width <= 0:
        return []
    span = end - start
    name_width = max([len(name) for name, _ in lanes] + [len("UTC")])
    axis = [" "] * (width + 6)
    for cell in range(0, width, TICK_EVERY):
        text = _label(start + span * cell // width, span)
        axis[cell : cell + len(text)] = list(text)
    lines = [f"{'UTC':<{name_width}}  {''.join(axis).rstrip()}"]
    for name, intervals in lanes:
        cells = [FREE] * width
        for lo, hi in intervals:
            if hi <= start or lo >= end:
                continue
            first = max(0, (lo - start) * width // span)
            last = min(width - 1, ((min(hi, end) - start) * width - 1) // span)
            for i in range(first, last + 1):
                cells[i] = BUSY
        lines.append(f"{name:<{name_width}}  {''.join(cells)}")
    return lines
