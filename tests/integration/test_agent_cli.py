"""`leoscope agent` as operators start it: exit codes and messages, settings sources, signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.harness import RunningOrchestrator

AGENT = [sys.executable, "-m", "leoscope", "agent"]


def run_agent(
    args: list[str], env: dict[str, str], timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEOSCOPE_")}
    return subprocess.run(
        AGENT + args, env={**clean, **env}, capture_output=True, text=True, timeout=timeout
    )


def common(orch: RunningOrchestrator, tmp_path: Path, node: str) -> list[str]:
    return [
        "--orchestrator",
        orch.address,
        "--node-id",
        node,
        "--data-dir",
        str(tmp_path / "agent"),
        "--runtime",
        "process",
        "--public-ip-url",
        "off",
    ]


def test_unregistered_node_exits_with_a_clear_message(
    sqlite_orchestrator: RunningOrchestrator, tmp_path: Path
) -> None:
    result = run_agent(
        common(sqlite_orchestrator, tmp_path, "ghost"), {"LEOSCOPE_NODE_TOKEN": "x" * 32}
    )
    assert result.returncode == 2
    assert "node 'ghost'" in result.stderr
    assert "not registered or its token is wrong" in result.stderr
    assert "x" * 32 not in result.stderr + result.stdout


def test_wrong_token_exits_nonzero(
    sqlite_orchestrator: RunningOrchestrator, tmp_path: Path
) -> None:
    admin = sqlite_orchestrator.admin()
    admin.register_node("n-wrong")
    admin.close()
    result = run_agent(
        common(sqlite_orchestrator, tmp_path, "n-wrong"), {"LEOSCOPE_NODE_TOKEN": "not-the-token"}
    )
    assert result.returncode == 2
    assert "rejected the credentials of node 'n-wrong'" in result.stderr


def test_a_user_account_is_not_a_node(
    sqlite_orchestrator: RunningOrchestrator, tmp_path: Path
) -> None:
    admin = sqlite_orchestrator.admin()
    token = admin.register_user("alice")
    admin.close()
    result = run_agent(
        common(sqlite_orchestrator, tmp_path, "alice"), {"LEOSCOPE_NODE_TOKEN": token}
    )
    assert result.returncode == 2
    assert "node 'alice' is not registered" in result.stderr


def test_missing_and_bad_settings_are_named(tmp_path: Path) -> None:
    result = run_agent(
        ["--node-id", "n1", "--data-dir", str(tmp_path)], {"LEOSCOPE_NODE_TOKEN": "t"}
    )
    assert result.returncode == 2
    assert "invalid orchestrator: is required" in result.stderr
    result = run_agent(
        ["--orchestrator", "nohost", "--node-id", "n1", "--data-dir", str(tmp_path)],
        {"LEOSCOPE_NODE_TOKEN": "t"},
    )
    assert result.returncode == 2
    assert "invalid orchestrator" in result.stderr and "HOST:PORT" in result.stderr
    result = run_agent(
        ["--orchestrator", "127.0.0.1:1", "--node-id", "../etc", "--data-dir", str(tmp_path)],
        {"LEOSCOPE_NODE_TOKEN": "t"},
    )
    assert result.returncode == 2
    assert "invalid node_id" in result.stderr


def test_config_file_and_token_file_start_the_agent_and_sigterm_stops_it(
    sqlite_orchestrator: RunningOrchestrator, tmp_path: Path
) -> None:
    admin = sqlite_orchestrator.admin()
    token = admin.register_node("n-file")
    admin.close()
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    config = tmp_path / "agent.toml"
    config.write_text(
        f'orchestrator = "{sqlite_orchestrator.address}"\nnode_id = "n-file"\n'
        f'token_file = "{token_file}"\ndata_dir = "{tmp_path / "agent"}"\n'
        'runtime = "process"\npublic_ip_url = "off"\n'
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEOSCOPE_")}
    log = tmp_path / "agent.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*AGENT, "--config", str(config)], env=clean, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 20
        while "agent ready" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        assert "agent ready node=n-file" in log.read_text()
        assert token not in " ".join(proc.args)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "agent stopping" in text
    assert token not in text
