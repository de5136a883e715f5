"""`leoscope agent` as a real child process, so a test can kill -9 it and start it again."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from leoscope.node.paths import STATE_FILE


class AgentProcess:
    """The node token travels in the environment, never on the command line."""

    def __init__(
        self,
        orchestrator: str,
        node_id: str,
        token: str,
        data_dir: Path,
        *extra: str,
        executor_config: Path | None = None,
    ) -> None:
        self.orchestrator = orchestrator
        self.node_id = node_id
        self.token = token
        self.data_dir = data_dir
        self.extra = list(extra)
        self.executor_config = executor_config
        self.log = data_dir.parent / f"agent-{node_id}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def args(self) -> list[str]:
        args = [
            sys.executable,
            "-m",
            "leoscope",
            "agent",
            "--orchestrator",
            self.orchestrator,
            "--node-id",
            self.node_id,
            "--data-dir",
            str(self.data_dir),
            "--insecure",
            "--public-ip-url",
            "off",
            *self.extra,
        ]
        if self.executor_config is not None:
            args += ["--executor-config", str(self.executor_config)]
        return args

    def start(self) -> AgentProcess:
        env = {**os.environ, "LEOSCOPE_NODE_TOKEN": self.token}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=env)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def phase(self, jobid: str) -> str | None:
        """The phase of the job's run in the agent's state file (read-only peek)."""
        path = self.data_dir / STATE_FILE
        if not path.exists():
            return None
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT phase FROM runs WHERE jobid = ?", (jobid,)).fetchone()
        except sqlite3.OperationalError:
            return None
        finally:
            conn.close()
        return row[0] if row else None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
