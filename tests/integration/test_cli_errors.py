"""The real `leoscope` console script: exit codes and one-line errors, as a shell sees them.

Settings come from LEOSCOPE_* environment variables only (no config file), as in CI scripts.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from leoscope.client import Client
from leoscope.core.timeutil import iso_z, utcnow
from tests.harness import EXPERIMENT_CONFIG, RunningOrchestrator

SCRIPT = Path(sys.executable).with_name("leoscope")


@pytest.fixture(scope="module")
def orch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOrchestrator]:
    o = RunningOrchestrator(tmp_path_factory.mktemp("orch"))
    yield o
    o.stop()


@pytest.fixture
def env(orch: RunningOrchestrator, tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEOSCOPE_")}
    return {
        **clean,
        "LEOSCOPE_CONFIG": str(tmp_path / "none.toml"),
        "LEOSCOPE_HOST": orch.address,
        "LEOSCOPE_USER": "admin",
        "LEOSCOPE_TOKEN": orch.admin_token,
        "LEOSCOPE_INSECURE": "true",
        "LEOSCOPE_RETRY_SECS": "0.5",
    }


def leoscope(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    assert SCRIPT.exists(), f"console script missing: {SCRIPT}"
    return subprocess.run(
        [str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
    return lines[0]


def test_success_exits_0_with_parseable_json(env: dict[str, str]) -> None:
    result = leoscope(env, "whoami", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] == "admin"
    assert env["LEOSCOPE_TOKEN"] not in result.stdout + result.stderr


def test_unreachable_orchestrator_exits_3(env: dict[str, str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = leoscope({**env, "LEOSCOPE_HOST": f"127.0.0.1:{port}"}, "job", "list")
    assert result.returncode == 3
    line = one_error_line(result)
    assert f"127.0.0.1:{port}" in line and "--host" in line
    assert result.stdout == ""


def test_bad_token_exits_1(env: dict[str, str]) -> None:
    result = leoscope({**env, "LEOSCOPE_TOKEN": "wrong-token"}, "node", "list")
    assert result.returncode == 1
    line = one_error_line(result)
    assert "did not accept the credentials of user 'admin'" in line
    assert "wrong-token" not in line


def test_conflict_exits_1_naming_the_job_and_time(
    env: dict[str, str], orch: RunningOrchestrator, tmp_path: Path
) -> None:
    with Client(orch.address, "admin", orch.admin_token, insecure=True) as admin:
        admin.register_node("conflict-node", coords="1,1")
    (tmp_path / "exp.yaml").write_text(EXPERIMENT_CONFIG)
    at = iso_z((utcnow() + timedelta(hours=2)).replace(second=0, microsecond=0))
    args = ["job", "schedule", "--node", "conflict-node", "--at", at, "-l", "5m", "-c", "exp.yaml"]
    first = leoscope(env, *args, "--id", "first", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = leoscope(env, *args, "--id", "second", cwd=tmp_path)
    assert second.returncode == 1
    line = one_error_line(second)
    assert f"job first on conflict-node at {at}" in line


def test_usage_errors_exit_2(env: dict[str, str]) -> None:
    """(Missing and invalid config files: tests/unit/test_cli_errors.py, without a process.)"""
    bad_time = leoscope(env, "run", "list", "--since", "the day before")
    assert bad_time.returncode == 2
    assert "--since" in one_error_line(bad_time)
    assert leoscope(env, "job", "schedule").returncode == 2  # typer: missing options


def test_debug_shows_the_traceback_but_never_the_token(env: dict[str, str]) -> None:
    result = leoscope({**env, "LEOSCOPE_TOKEN": "secret-token-123"}, "--debug", "node", "list")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "AuthenticationError" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "secret-token-123" not in result.stderr
