"""Shared options and the conversions of typed-in values (each failure is a usage error)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from leoscope.core.errors import InvalidInput
from leoscope.settings import OUTPUT_FORMATS

from .errors import UsageProblem
from .timearg import DURATION_FORMS, parse_duration, parse_time_arg


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


assert tuple(OutputFormat) == OUTPUT_FORMATS

OutputOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--output",
        "-o",
        help="Output format: table, json or yaml (default: the global -o / LEOSCOPE_OUTPUT).",
        case_sensitive=False,
        show_default=False,
    ),
]

TIME_HELP = "ISO-8601 or relative (now, +10m, -1h, tomorrow 08:00), UTC."
DURATION_HELP = f"Accepts {DURATION_FORMS}."


def when(text: str, now: datetime, flag: str) -> datetime:
    """A time typed as ISO-8601 or relative (see timearg)."""
    try:
        return parse_time_arg(text, now, flag)
    except InvalidInput as exc:
        raise UsageProblem(f"{flag}: {exc.problem}") from None


def not_before_now(
    moment: datetime, now: datetime, flag: str, warn: Callable[[str], None]
) -> datetime:
    """Searches for slots start no earlier than now: a slot in the past can never run."""
    if moment < now:
        warn(f"{flag} is in the past; searching from now")
        return now
    return moment


def maybe_when(text: str | None, now: datetime, flag: str) -> datetime | None:
    return None if text is None else when(text, now, flag)


def seconds(text: str, flag: str) -> int:
    """A duration typed as 90s, 5m, 1h30m or plain seconds."""
    try:
        return parse_duration(text, flag)
    except InvalidInput as exc:
        raise UsageProblem(f"{flag}: {exc.problem}") from None


def maybe_seconds(text: str | None, flag: str) -> int | None:
    return None if text is None else seconds(text, flag)


def read_file(path: Path, flag: str) -> str:
    try:
        return path.expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageProblem(f"{flag}: {path} does not exist") from None
    except IsADirectoryError:
        raise UsageProblem(f"{flag}: {path} is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageProblem(f"{flag}: cannot read {path}: {exc}") from None


def experiment_config(path: Path, flag: str = "--config") -> str:
    """The experiment config file's text, validated (YAML, known keys) before it is sent."""
    from leoscope.core.experiment import parse_experiment_config  # pydantic: load on demand

    text = read_file(path, flag)
    try:
        parse_experiment_config(text, "config")
    except InvalidInput as exc:
        raise UsageProblem(f"{flag} {path}: {exc.problem}") from None
    return text
