"""Errors become one line and an exit code; usage problems are caught before any call is made.

These need no orchestrator: every command here fails before it would connect (the host given
is unreachable, so a test that got further would fail with exit 3, not pass by accident).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leoscope.cli.errors import UsageProblem, explain
from leoscope.cli.main import app
from leoscope.client import (
    AuthenticationError,
    Conflict,
    ConflictInfo,
    InvalidInput,
    LeoscopeError,
    NotFound,
    PermissionDenied,
    ServerError,
    Unavailable,
)

Invoke = Callable[..., tuple[int, str]]


@pytest.mark.parametrize(
    ("error", "code", "words"),
    [
        (UsageProblem("--at: bad"), 2, ["--at: bad"]),
        (AuthenticationError("Invalid token"), 1, ["did not accept", "leoscope login"]),
        (PermissionDenied("permission denied: userid=a"), 1, ["permission denied"]),
        (NotFound("job", "x", "job with the given id not found."), 1, ["leoscope job list"]),
        (
            Conflict("the job overlaps 1 scheduled job: job a", [ConflictInfo("a", 0, 60, "n")]),
            1,
            ["job a", "leoscope node free-slot n --length"],
        ),
        (Conflict("job with the given id exists"), 1, ["exists (choose another id)"]),
        (InvalidInput("length_secs", "must be greater than 0"), 1, ["(--length)", "greater"]),
        (InvalidInput("weird", "no"), 1, ["invalid weird: no"]),
        (Unavailable("cannot reach the orchestrator at h:1: connection refused"), 3, ["--host"]),
        (Unavailable("cannot reach ...: TLS handshake failed"), 3, ["--insecure", "--tls-ca"]),
        (ServerError("boom", "INTERNAL"), 1, ["boom", "logged"]),
        (LeoscopeError("odd"), 1, ["odd"]),
        (RuntimeError("bug"), 1, ["unexpected RuntimeError", "--debug"]),
    ],
)
def test_explain(error: BaseException, code: int, words: list[str]) -> None:
    exit_code, message = explain(error, {"host": "h:1", "user": "alice"})
    assert exit_code == code
    assert "\n" not in message
    for word in words:
        assert word in message


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    import os

    for key in list(os.environ):
        if key.startswith("LEOSCOPE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LEOSCOPE_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.yaml").write_text("docker:\n  image: busybox\n")
    (tmp_path / "bad.yaml").write_text("docker:\n  image: [unclosed\n")
    (tmp_path / "list.yaml").write_text("- just\n- a list\n")
    base = ["--host", "127.0.0.1:9", "--user", "u", "--token", "t", "--insecure"]

    def invoke(*args: str, creds: bool = True) -> tuple[int, str]:
        result = CliRunner().invoke(app, [*(base if creds else []), *args])
        return result.exit_code, result.output

    return invoke


SCHEDULE = ["job", "schedule", "--node", "n", "--length", "5m", "--config", "ok.yaml"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([*SCHEDULE, "--at", "next week"], ["--at:", "tomorrow 08:00"]),
        ([*SCHEDULE, "--at", "+1h", "--cron", "0 * * * *"], ["not both", "--at", "--cron"]),
        ([*SCHEDULE], ["--at TIME", "--cron EXPR"]),
        ([*SCHEDULE, "--cron", "0 * * * *"], ["--end is required"]),
        ([*SCHEDULE, "--at", "+1h", "--start", "now"], ["--start"]),
        (
            ["job", "schedule", "--node", "n", "--length", "5x", "--at", "+1h", "-c", "ok.yaml"],
            ["--length:", "90s"],
        ),
        (
            ["job", "schedule", "--node", "n", "--length", "5m", "--at", "+1h", "-c", "nope.yaml"],
            ["--config", "nope.yaml does not exist"],
        ),
        (
            ["job", "schedule", "--node", "n", "--length", "5m", "--at", "+1h", "-c", "bad.yaml"],
            ["bad.yaml", "not valid YAML at line"],
        ),
        (
            ["job", "schedule", "--node", "n", "--length", "5m", "--at", "+1h", "-c", "list.yaml"],
            ["list.yaml", "mapping"],
        ),
        (["job", "delete"], ["job ids", "--node"]),
        (["job", "delete", "a", "--node", "n"], ["job ids", "--node"]),
        (["job", "list", "--mine", "--user", "x"], ["--mine or --user"]),
        (["job", "modify", "j"], ["nothing to change"]),
        (["node", "update", "n"], ["nothing to change"]),
        (["node", "free-slot", "--length", "1h"], ["--location"]),
        (["node", "calendar", "n", "--from", "+2h", "--to", "+1h"], ["--to must be after"]),
        (["run", "list", "--since", "last tuesday"], ["--since:"]),
        (["config", "set", "missing.json"], ["missing.json does not exist"]),
    ],
)
def test_usage_problems_exit_2_with_one_line(
    run: Invoke, args: list[str], words: list[str]
) -> None:
    code, output = run(*args)
    assert code == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    for word in words:
        assert word in lines[0]


def test_missing_credentials_say_how_to_log_in(run: Invoke) -> None:
    code, output = run("job", "list", creds=False)
    assert code == 2 and "leoscope login" in output


def test_bad_settings_are_usage_errors(run: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEOSCOPE_TIMEOUT", "soon")
    code, output = run("job", "list")
    assert code == 2 and "LEOSCOPE_TIMEOUT" in output
    monkeypatch.delenv("LEOSCOPE_TIMEOUT")
    code, output = run("--profile", "ghost", "job", "list")
    assert code == 2 and "no profile 'ghost'" in output
    code, output = run("--tls", "--tls-ca", "missing.pem", "job", "list")
    assert code == 2 and "tls_ca" in output and "missing.pem" in output


def test_typer_usage_errors_exit_2(run: Invoke) -> None:
    code, _ = run("job", "schedule", "--node", "n")
    assert code == 2
    code, _ = run("job", "list", "--no-such-flag")
    assert code == 2
    code, _ = run("user", "register", "x", "--role", "emperor")
    assert code == 2


def test_unreachable_host_exits_3(run: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEOSCOPE_RETRY_SECS", "0")
    code, output = run("job", "list")
    assert code == 3, output
    (line,) = output.strip().splitlines()
    assert "127.0.0.1:9" in line and "connection refused" in line and "--host" in line
