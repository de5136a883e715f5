"""TLS: a client that trusts the deployment's self-signed certificate for `localhost` connects;
a client that trusts nothing (or speaks plaintext) is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from leoscope.api import leotest_pb2 as pb
from leoscope.api import leotest_pb2_grpc as pb_grpc
from leoscope.orchestrator.certs import generate_self_signed
from leoscope.orchestrator.server import OrchestratorServer, ServerSettings, StartupError
from tests.harness import RunningOrchestrator


@pytest.fixture
def tls_orch(tmp_path: Path) -> Iterator[tuple[RunningOrchestrator, Path]]:
    cert, key = generate_self_signed(tmp_path / "certs")
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    orch = RunningOrchestrator(tmp_path / "orch", tls_cert=cert, tls_key=key)
    yield orch, cert
    orch.stop()


def _whoami(channel: grpc.Channel, token: str) -> pb.message_whoami_response:
    stub = pb_grpc.LeotestOrchestratorStub(channel)
    md = [
        ("x-leotest-userid", "admin"),
        ("x-leotest-access-token", token),
        ("x-leotest-jwt-access-token", ""),
    ]
    return stub.whoami(pb.message_whoami(), metadata=md, timeout=5)


def test_client_trusting_the_cert_connects(tls_orch: tuple[RunningOrchestrator, Path]) -> None:
    orch, cert = tls_orch
    creds = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    # as reference clients do: dial an address, check the name `localhost`
    with grpc.secure_channel(
        orch.address, creds, options=[("grpc.ssl_target_name_override", "localhost")]
    ) as ch:
        assert _whoami(ch, orch.admin_token).userid == "admin"
    with grpc.secure_channel(f"localhost:{orch.port}", creds) as ch:
        assert _whoami(ch, orch.admin_token).userid == "admin"


def test_client_trusting_nothing_is_refused(tls_orch: tuple[RunningOrchestrator, Path]) -> None:
    orch, _ = tls_orch
    with grpc.secure_channel(f"localhost:{orch.port}", grpc.ssl_channel_credentials()) as ch:
        with pytest.raises(grpc.RpcError) as info:
            _whoami(ch, orch.admin_token)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    with grpc.insecure_channel(orch.address) as ch:
        with pytest.raises(grpc.RpcError) as info:
            _whoami(ch, orch.admin_token)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_plaintext_refused_off_loopback_without_insecure(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="without TLS"):
        OrchestratorServer(
            ServerSettings(listen="0.0.0.0:0", data_dir=tmp_path, admin_token="x" * 32)
        )
    OrchestratorServer(
        ServerSettings(listen="0.0.0.0:0", data_dir=tmp_path, admin_token="x" * 32, insecure=True)
    )


@pytest.mark.parametrize("secret", ["jwt-secret", "short"])
def test_weak_jwt_secret_refused(tmp_path: Path, secret: str) -> None:
    with pytest.raises(StartupError, match="jwt-secret"):
        OrchestratorServer(
            ServerSettings(data_dir=tmp_path, admin_token="x" * 32, jwt_secret=secret)
        )


@pytest.mark.parametrize("token", ["", "short", "leotest-access-token"])
def test_weak_admin_token_refused(tmp_path: Path, token: str) -> None:
    with pytest.raises(StartupError, match="admin-token"):
        OrchestratorServer(ServerSettings(data_dir=tmp_path, admin_token=token))
