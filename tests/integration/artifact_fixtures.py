"""Fixtures for the artifact tests: real servers, torn down after use.

* `artifact_store`: a fresh, empty store of each back end (local endpoint, Azurite, moto S3).
* `moto_server` / `s3_gateway`: moto's standalone S3 server on a free port (one per session),
  behind the SigV4-verifying gateway (see tests/integration/artifacts/servers.py).
* `azurite_process`: a private Azurite on a free port, for tests that stop and start it.

Test modules load this with `pytest_plugins = ("tests.integration.artifact_fixtures",)`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from leoscope.artifacts import ArtifactStore
from tests.integration.artifacts.servers import (
    AZURITE_DIR,
    S3_SECRET_KEY,
    TEST_PART_SIZE,
    AzuriteProcess,
    BackgroundLoop,
    SigV4Gateway,
    drop_azure_container,
    drop_s3_bucket,
    free_port,
    make_azure_store,
    make_s3_store,
    require_azurite,
    serve_local_store,
    wait_until,
)
from tests.services import AZURITE_CONNECTION_STRING, port_open, require

BACKENDS = ("local", "azure", "s3")


@pytest.fixture(scope="session")
def background_loop() -> Iterator[BackgroundLoop]:
    loop = BackgroundLoop()
    yield loop
    loop.close()


@dataclass
class MotoServer:
    url: str
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    port = free_port()
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"moto-{port}.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(
            lambda: port_open("127.0.0.1", port) or process.poll() is not None, 30, "moto_server"
        )
        if process.poll() is not None:
            pytest.fail(f"moto_server exited: {log_path.read_text()[-2000:]}")
        yield MotoServer(f"http://127.0.0.1:{port}", process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log_path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def s3_gateway(moto_server: MotoServer, background_loop: BackgroundLoop) -> Iterator[SigV4Gateway]:
    gateway = SigV4Gateway(moto_server.url, S3_SECRET_KEY)
    background_loop.run(gateway.start())
    yield gateway
    background_loop.run(gateway.stop())


@pytest.fixture
def azurite_process(tmp_path: Path) -> Iterator[AzuriteProcess]:
    binary = AZURITE_DIR / "node_modules" / ".bin" / "azurite-blob"
    require(binary.exists(), f"Azurite npm install ({binary})")
    azurite = AzuriteProcess(tmp_path / "azurite")
    azurite.start()
    try:
        yield azurite
    finally:
        azurite.stop()


# ---------------------------------------------------------------- the parametrized store


@pytest.fixture(params=BACKENDS)
def artifact_store(
    request: pytest.FixtureRequest, tmp_path: Path, background_loop: BackgroundLoop
) -> Iterator[ArtifactStore]:
    """A fresh, empty store of each back end (own directory / container / bucket)."""
    backend = request.param
    name = f"leoscope-{uuid.uuid4().hex[:12]}"
    if backend == "local":
        served = serve_local_store(tmp_path / "store", background_loop, part_size=TEST_PART_SIZE)
        yield served.store
        background_loop.run(served.endpoint.close())
        served.store.close()
    elif backend == "azure":
        require_azurite()
        store = make_azure_store(AZURITE_CONNECTION_STRING, name, part_size=TEST_PART_SIZE)
        yield store
        drop_azure_container(store)
        store.close()
    else:
        gateway = request.getfixturevalue("s3_gateway")
        store = make_s3_store(gateway.url, name, part_size=TEST_PART_SIZE)
        yield store
        drop_s3_bucket(store)
        store.close()
