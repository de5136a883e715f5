"""Transport behaviour on real sockets: bounded retries of reads, no retries of writes, a
restart on the same port, and TLS with a name override (as reference certificates need)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from leoscope.client import Client, InvalidInput, Unavailable
from leoscope.orchestrator.server import OrchestratorServer, ServerSettings
from tests.harness import RunningOrchestrator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PinnedOrchestrator:
    """An orchestrator on a chosen port (the harness always picks a fresh one)."""

    def __init__(self, data_dir: Path, port: int, admin_token: str) -> None:
        settings = ServerSettings(
            listen=f"127.0.0.1:{port}", data_dir=data_dir, admin_token=admin_token
        )
        self.server = OrchestratorServer(settings)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(timeout=30)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(grace=0.5), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def test_reads_give_up_after_the_bound(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="leoscope.retry")
    port = free_port()
    with Client(f"127.0.0.1:{port}", "admin", "t", insecure=True, retry_secs=1.0) as client:
        started = time.monotonic()
        with pytest.raises(Unavailable, match="connection refused") as caught:
            client.list_nodes()
        elapsed = time.monotonic() - started
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert isinstance(caught.value.__cause__, Exception)  # chained to the gRPC error
    retries = [r for r in caplog.records if r.name == "leoscope.retry"]
    assert len(retries) >= 2, "the read should have been retried"
    assert all("get_nodes" in r.getMessage() for r in retries)
    # The budget is 1 s; allow generous slack for a loaded machine, none for giving up early.
    assert 0.9 <= elapsed < 6.0


def test_writes_are_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="leoscope.retry")
    port = free_port()
    with Client(f"127.0.0.1:{port}", "admin", "t", insecure=True, retry_secs=30) as client:
        started = time.monotonic()
        with pytest.raises(Unavailable):
            client.delete_job("anything")
        elapsed = time.monotonic() - started
    assert not [r for r in caplog.records if r.name == "leoscope.retry"]
    assert elapsed < 5.0  # far below the 30 s read budget


def test_read_survives_an_orchestrator_restart_on_the_same_port(tmp_path: Path) -> None:
    port, token = free_port(), secrets.token_hex(16)
    first = PinnedOrchestrator(tmp_path / "a", port, token)
    client = Client(f"127.0.0.1:{port}", "admin", token, insecure=True, retry_secs=20)
    try:
        assert client.whoami().id == "admin"
        first.stop()
        second: list[PinnedOrchestrator] = []
        starter = threading.Timer(
            0.8, lambda: second.append(PinnedOrchestrator(tmp_path / "b", port, token))
        )
        starter.start()
        try:
            assert client.whoami().id == "admin"  # retried until the new server answered
        finally:
            starter.join()
            for server in second:
                server.stop()
        assert second, "the replacement server never started"
    finally:
        client.close()


# ---------------------------------------------------------------------------- TLS


def self_signed(directory: Path, name: str = "localhost") -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_orchestrator(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningOrchestrator, Path]]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(directory)
    orch = RunningOrchestrator(directory / "data", tls_cert=cert, tls_key=key)
    yield orch, cert
    orch.stop()


def test_tls_with_the_reference_name_override(
    tls_orchestrator: tuple[RunningOrchestrator, Path],
) -> None:
    orch, cert = tls_orchestrator
    # The certificate names "localhost"; we dial 127.0.0.1, as reference clients do.
    with Client(
        orch.address, "admin", orch.admin_token, tls_ca=cert, tls_server_name="localhost"
    ) as client:
        assert client.whoami().id == "admin"


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"insecure": True}, id="plaintext-to-tls"),
        pytest.param({"tls_server_name": None}, id="name-mismatch"),
    ],
)
def test_tls_mismatches_are_unavailable(
    tls_orchestrator: tuple[RunningOrchestrator, Path], options: dict[str, object]
) -> None:
    orch, cert = tls_orchestrator
    kwargs: dict[str, object] = {"tls_ca": cert, "retry_secs": 0.3, **options}
    if kwargs.get("insecure"):
        kwargs.pop("tls_ca")
    with Client(orch.address, "admin", orch.admin_token, **kwargs) as client:  # type: ignore[arg-type]
        with pytest.raises(Unavailable):
            client.whoami()


def test_unreadable_ca_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        Client("localhost:1", "u", "t", tls_ca=tmp_path / "missing.pem")
    assert caught.value.field == "tls_ca"
    not_pem = tmp_path / "x.pem"
    not_pem.write_text("hello")
    with pytest.raises(InvalidInput, match="not a PEM"):
        Client("localhost:1", "u", "t", tls_ca=not_pem)
