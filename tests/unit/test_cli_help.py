"""Every command has help with an example; global options name their environment variables."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from leoscope.cli.main import app
from leoscope.settings import SETTINGS


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from command_paths(sub, (*path, name))


ALL = sorted(command_paths(typer.main.get_command(app)))


def test_the_command_tree() -> None:
    leaves = {" ".join(p) for p in ALL}
    for expected in (
        "user register",
        "user show",
        "user list",
        "user update",
        "user delete",
        "node register",
        "node show",
        "node list",
        "node update",
        "node delete",
        "node scavenger on",
        "node scavenger off",
        "node scavenger status",
        "node calendar",
        "node free-slot",
        "job schedule",
        "job show",
        "job list",
        "job delete",
        "job reschedule",
        "job modify",
        "run list",
        "run show",
        "config show",
        "config set",
        "kernel check",
        "login",
        "whoami",
        "version",
        "profile list",
        "profile use",
        "orchestrator",
    ):
        assert expected in leaves


@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p) or "leoscope")
def test_help_has_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    if path and path[-1] in ("user", "node", "job", "run", "config", "kernel", "profile"):
        return  # groups list their commands; the commands carry the examples
    if path == ("node", "scavenger"):
        return
    assert "Example" in result.output, f"`leoscope {' '.join(path)} --help` has no example"
    assert "leoscope " in result.output.split("Example", 1)[1]


def test_global_options_name_their_environment_variables() -> None:
    output = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"}).output
    for setting in SETTINGS:
        if setting.flag:
            assert setting.flag in output
            assert setting.env in output
    assert "LEOSCOPE_PROFILE" in output and "--install-completion" in output


def test_completion_script_is_available(monkeypatch: pytest.MonkeyPatch) -> None:
    # Name the shell instead of letting typer detect it from the process tree, which depends
    # on how the tests were started (pytest-xdist workers have no shell parent).
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    result = CliRunner().invoke(app, ["--show-completion", "bash"])
    assert result.exit_code == 0
    assert "leoscope" in result.output.lower()


@pytest.mark.parametrize(
    "args", [["--help"], ["job", "--help"], ["version"], ["version", "-o", "json"]]
)
def test_a_closed_pipe_stops_quietly(args: list[str], tmp_path: Any) -> None:
    """`leoscope ... | head`: help (click), the printer (rich) and echo all stop without a
    traceback or an 'unexpected BrokenPipeError' line when the reader has gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "leoscope", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env={**os.environ, "HOME": str(tmp_path), "LEOSCOPE_CONFIG": str(tmp_path / "c")},
            timeout=30,
        )
    finally:
        os.close(write_end)
    assert done.stderr.decode() == ""
    assert done.returncode != 0
