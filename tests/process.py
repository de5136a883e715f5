"""Start LEOScope processes (orchestrator, agent) as real subprocesses, for crash tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(
    address: str, timeout: float = 30.0, credentials: grpc.ChannelCredentials | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        channel = (
            grpc.secure_channel(
                address, credentials, options=[("grpc.ssl_target_name_override", "localhost")]
            )
            if credentials
            else grpc.insecure_channel(address)
        )
        try:
            stub = health_pb2_grpc.HealthStub(channel)
            resp = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
            if resp.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError:
            time.sleep(0.1)
        finally:
            channel.close()
    raise TimeoutError(f"orchestrator at {address} did not become healthy")


class OrchestratorProcess:
    """`leoscope orchestrator` in a child process (so it can be killed with SIGKILL)."""

    def __init__(
        self,
        data_dir: Path,
        admin_token: str,
        db_url: str | None = None,
        port: int | None = None,
        extra: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.admin_token = admin_token
        self.db_url = db_url
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.extra = extra or []
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "orchestrator.log"

    def start(self, wait: bool = True) -> OrchestratorProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "leoscope",
            "orchestrator",
            "--listen",
            self.address,
            "--data-dir",
            str(self.data_dir),
            *self.extra,
        ]
        if self.db_url:
            cmd += ["--db", self.db_url]
        env = {**os.environ, "LEOSCOPE_ADMIN_TOKEN": self.admin_token, **self.env}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        if wait:
            wait_healthy(self.address)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 15) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
