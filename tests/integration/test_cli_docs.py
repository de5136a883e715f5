"""docs/cli.md is executable: every command it shows runs here, against a real orchestrator.

* Each ```console block is a shell session. `$ leoscope ...` lines run in order through the CLI
  (exit code 0, or N when the line ends with `# exits N`); `$ VAR=$(leoscope ...)` captures
  stdout; `$ cat FILE` followed by text creates FILE; `$ export VAR=...` sets a variable.
  `$ leoscope orchestrator ... &` is only parsed: this test's orchestrator stands in for it.
* Shown output is checked loosely, so the page stays readable: each shown line without digits
  (digits are times, tokens and ids that change per run) must appear in the real output,
  whitespace aside; table rules are skipped.
* Every `leoscope ...` in inline code (the reference mapping table, the prose) must parse:
  the command exists, its options exist, required ones are given.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from leoscope.cli.main import app
from tests.harness import RunningOrchestrator

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
DOC_ADDRESS = "127.0.0.1:50051"
DOC_CONFIG = "/home/you/.config/leoscope/config.toml"
EXITS = re.compile(r"\s+#\s*exits (\d+)\s*$")
CAPTURE = re.compile(r"^([A-Z_][A-Z0-9_]*)=\$\((leoscope .*)\)$")
EXPORT = re.compile(r"^export ([A-Z_][A-Z0-9_]*)=(.*)$")
VARIABLE = re.compile(r"\$\{?([A-Z_][A-Z0-9_]*)\}?")
INLINE = re.compile(r"`(leoscope [^`]*)`")
NOT_COMMANDS = {"leoscope NOUN VERB [ARGS] [OPTIONS]"}


@dataclass
class Step:
    command: str
    output: list[str] = field(default_factory=list)


def console_steps(text: str) -> list[Step]:
    steps: list[Step] = []
    in_block = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_block = line.strip() == "```console"
            continue
        if not in_block:
            continue
        if line.startswith("$ "):
            steps.append(Step(line[2:]))
        elif steps and steps[-1].command.endswith("\\"):
            steps[-1].command = steps[-1].command[:-1] + " " + line.strip()
        elif steps:
            steps[-1].output.append(line)
    return steps


def inline_commands(text: str) -> list[str]:
    outside = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    return [c for c in INLINE.findall(outside) if c not in NOT_COMMANDS]


@cache
def root_command() -> Any:
    return typer.main.get_command(app)


def parse_only(argv: list[str]) -> None:
    """Resolve and parse a command line without running it (raises typer's usage errors)."""
    command = root_command()
    ctx = command.make_context("leoscope", argv)
    while isinstance(command, TyperGroup):
        args = [*ctx._protected_args, *ctx.args]
        assert args, f"{argv}: a command group needs a subcommand"
        _, sub, rest = command.resolve_command(ctx, args)
        assert sub is not None
        ctx = sub.make_context(sub.name or "", rest, parent=ctx)
        command = sub


def normalise(line: str) -> str:
    return " ".join(line.split())


def checked_lines(lines: list[str]) -> Iterator[str]:
    for line in lines:
        text = normalise(line)
        if not text or any(c.isdigit() for c in text) or set(text) <= {"─", " "}:
            continue
        yield text


@pytest.fixture(scope="module")
def orch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOrchestrator]:
    o = RunningOrchestrator(tmp_path_factory.mktemp("docs-orch"))
    yield o
    o.stop()


def test_every_console_command_runs_as_documented(
    orch: RunningOrchestrator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("LEOSCOPE_"):
            monkeypatch.delenv(key)
    config = tmp_path / "config" / "config.toml"
    monkeypatch.setenv("LEOSCOPE_CONFIG", str(config))
    monkeypatch.chdir(tmp_path)
    variables = {"LEOSCOPE_ADMIN_TOKEN": orch.admin_token}
    literal = {DOC_ADDRESS: orch.address, DOC_CONFIG: str(config)}

    def substitute(text: str) -> str:
        for old, new in literal.items():
            text = text.replace(old, new)
        return VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)

    runner = CliRunner()
    steps = console_steps(DOC.read_text(encoding="utf-8"))
    assert len(steps) > 30, "the tour seems to have lost its commands"
    ran = 0
    for step in steps:
        command, expected_code = step.command, 0
        if m := EXITS.search(command):
            command, expected_code = command[: m.start()], int(m.group(1))
        command = command.strip()
        if m := EXPORT.match(command):
            if m.group(1) not in variables:  # preset ones (the admin token) stand as they are
                variables[m.group(1)] = substitute(m.group(2))
            monkeypatch.setenv(m.group(1), variables[m.group(1)])
            continue
        if command.startswith("cat "):
            target = tmp_path / command.split(maxsplit=1)[1]
            target.write_text("\n".join(step.output) + "\n", encoding="utf-8")
            continue
        capture = None
        if m := CAPTURE.match(command):
            capture, command = m.group(1), m.group(2)
        argv = shlex.split(substitute(command))
        assert argv[0] == "leoscope", f"docs/cli.md shows a non-leoscope command: {command}"
        if argv[1] == "orchestrator":
            parse_only(argv[1:-1] if argv[-1] == "&" else argv[1:])
            continue
        result = runner.invoke(app, argv[1:])
        ran += 1
        assert result.exit_code == expected_code, (
            f"$ {command}\nexit {result.exit_code} (expected {expected_code}):\n{result.output}"
        )
        if capture:
            variables[capture] = result.stdout.strip()
            assert variables[capture], f"$ {command} printed nothing to capture"
            continue
        actual = {normalise(line) for line in result.output.splitlines()}
        for line in checked_lines([substitute(x) for x in step.output]):
            assert line in actual, f"$ {command}\nmissing line: {line!r}\ngot:\n{result.output}"
    assert ran > 25


def test_every_inline_command_parses() -> None:
    commands = inline_commands(DOC.read_text(encoding="utf-8"))
    assert len(commands) > 30
    for command in commands:
        argv = shlex.split(command)[1:]
        if argv == ["--install-completion"]:
            assert "--install-completion" in CliRunner().invoke(app, ["--help"]).output
            continue
        try:
            parse_only(argv)
        except typer.TyperException as exc:
            pytest.fail(f"docs/cli.md: `{command}` does not parse: {exc.format_message()}")


def test_the_mapping_table_covers_every_reference_action() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## From the reference CLI", 1)[1].split("\n## ", 1)[0]
    reference_actions = [
        "config --action=update",
        "config --action=get",
        "user --action=register",
        "user --action=get",
        "user --action=modify",
        "user --action=delete",
        "job --action=schedule",
        "job --action=get",
        "job --action=delete",
        "job --action=modify",
        "run --action=get",
        "run --action=download",
        "run --action=get-scheduled",
        "node --action=register",
        "node --action=get",
        "node --action=update",
        "node --action=delete",
        "node --action=scavenger-set",
        "node --action=scavenger-unset",
        "services --name kernel --action verify",
    ]
    for action in reference_actions:
        assert f"`{action}" in table, f"the mapping table lacks the reference action {action!r}"
