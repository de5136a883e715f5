"""`leoscope up` (what `make demo` runs): the whole testbed on one machine, one real run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.services import docker_available, require


def run_up(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEOSCOPE_")}
    return subprocess.run(
        [sys.executable, "-m", "leoscope", "up", "--dir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=90,
        env={**env, "COLUMNS": "160"},
    )


def check_results(tmp_path: Path, stdout: str, kinds: set[str]) -> None:
    assert "The run completed." in stdout
    statuses = re.findall(r"\+\s*[\d.]+s\s+(\w+)", stdout)
    assert statuses == [
        "DEPLOYING",
        "EXECUTING",
        "FINISHING",
        "FINISHING",
        "UPLOAD_PENDING",
        "COMPLETE",
    ]
    (archive,) = (tmp_path / "orchestrator" / "artifacts").rglob("*.zip")
    (downloaded,) = (tmp_path / "results").glob("*.zip")  # fetched as the researcher would
    assert downloaded.read_bytes() == archive.read_bytes()
    assert "verified" in stdout
    with zipfile.ZipFile(archive) as zf:
        csv_name = next(n for n in zf.namelist() if n.endswith("/latency.csv"))
        rows = zf.read(csv_name).decode().splitlines()
    assert rows[0] == "kind,seq,target,rtt_ms"
    assert {row.split(",")[0] for row in rows[1:]} == kinds
    for kind in kinds:
        assert re.search(rf"{kind}\s+│\s+5\s+│", stdout), f"no summary line for {kind}"
    assert str(archive) in stdout.replace("\n", "")


@pytest.mark.docker
def test_up_runs_the_latency_experiment_in_docker(tmp_path: Path) -> None:
    require(docker_available(), "Docker")
    result = run_up(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "runtime       docker" in result.stdout
    check_results(tmp_path, result.stdout, {"ping", "tcp_connect"})


def test_up_falls_back_to_the_process_runtime(tmp_path: Path) -> None:
    result = run_up(tmp_path, "--runtime", "process")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "runtime       process" in result.stdout
    assert "runtime=process" in result.stderr  # the agent's WARNING
    kinds = {"tcp_connect"} | ({"ping"} if "ping," in _csv(tmp_path) else set())
    check_results(tmp_path, result.stdout, kinds)


def _csv(tmp_path: Path) -> str:
    (archive,) = (tmp_path / "orchestrator" / "artifacts").rglob("*.zip")
    with zipfile.ZipFile(archive) as zf:
        return zf.read(next(n for n in zf.namelist() if n.endswith("/latency.csv"))).decode()
