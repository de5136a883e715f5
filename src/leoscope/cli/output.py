"""The one printer: rows (plain dicts from `rows.py`) become a table, JSON or YAML.

Tables are for people: stable columns, times shown in UTC with the relative form beside them,
colour only on a terminal. JSON and YAML print the full rows with stable keys, for scripts;
notes then go to stderr so stdout stays parseable.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from leoscope.core.timeutil import parse_time

from .timearg import format_duration, show_time

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Column:
    """One table column: which row key, its header, and how to show the value."""

    key: str
    header: str
    kind: str = "text"
    """text | time (ISO + relative) | duration (seconds -> 5m) | bool (yes/no) | list"""


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    terminal = stream.isatty()
    # Off a terminal (pipes, tests) never wrap or truncate: one row per line.
    return Console(file=stream, width=None if terminal else 100_000, highlight=False)


class Printer:
    """Prints rows in the chosen format. `now` anchors the relative times of one invocation."""

    def __init__(self, fmt: str, now: datetime) -> None:
        self.fmt = fmt
        self.now = now
        self.out = _console()
        self.err = _console(stderr=True)

    @property
    def structured(self) -> bool:
        return self.fmt in ("json", "yaml")

    # ------------------------------------------------------------------ data
    def rows(self, rows: Sequence[Row], columns: Sequence[Column], empty: str) -> None:
        """A list: a table (or `empty` when there is nothing), or a JSON/YAML array."""
        if self.structured:
            self.dump(list(rows))
            return
        if not rows:
            self.note(empty)
            return
        table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
        for column in columns:
            table.add_column(column.header, overflow="fold")
        for row in rows:
            table.add_row(*(escape(self.cell(row.get(c.key), c.kind)) for c in columns))
        self.out.print(table)

    def item(self, row: Row, columns: Sequence[Column] | None = None) -> None:
        """One object: a two-column FIELD/VALUE table, or a JSON/YAML object."""
        if self.structured:
            self.dump(row)
            return
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        shown = columns or [Column(k, k) for k in row]
        for column in shown:
            table.add_row(column.header, escape(self.cell(row.get(column.key), column.kind)))
        self.out.print(table)

    def cell(self, value: Any, kind: str = "text") -> str:
        if value is None or value == "":
            return "-"
        if kind == "time":
            return show_time(parse_time(value) if isinstance(value, str) else value, self.now)
        if kind == "duration":
            return format_duration(value)
        if kind == "bool" or isinstance(value, bool):
            return "yes" if value else "no"
        if kind == "list" or isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value) or "-"
        if isinstance(value, str) and "\n" in value:
            return value.rstrip("\n")
        return str(value)

    def dump(self, data: Any) -> None:
        """Print `data` as JSON or YAML (whatever the format; callers check `structured`)."""
        if self.fmt == "json":
            text = json.dumps(data, indent=2, ensure_ascii=False)
        else:
            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip("\n")
        self.out.print(text, markup=False, highlight=False, soft_wrap=True)

    # ------------------------------------------------------------------ messages
    def note(self, text: str) -> None:
        """A message for people: stdout with tables, stderr with JSON/YAML."""
        target = self.err if self.structured else self.out
        target.print(text, markup=False, highlight=False, soft_wrap=True)

    def warn(self, text: str) -> None:
        self.err.print(f"warning: {text}", style="yellow", markup=False, soft_wrap=True)

    def text(self, text: str) -> None:
        """Free text for people (e.g. a timeline); shown only in table mode."""
        if not self.structured:
            self.out.print(text, markup=False, highlight=False, soft_wrap=True)
