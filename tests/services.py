"""Finding the services tests talk to.

A test that needs a service it cannot find is skipped with the reason, except under CI=true,
where it fails: in CI every service-backed test is mandatory.
"""

from __future__ import annotations

import os
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

POSTGRES_URL = os.environ.get(
    "LEOSCOPE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883
AZURITE_BLOB_PORT = 10000
# Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
AZURITE_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=http;"
    f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
    f"BlobEndpoint=http://127.0.0.1:{AZURITE_BLOB_PORT}/{AZURITE_ACCOUNT};"
)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(available: bool, what: str) -> None:
    """Skip (or, under CI, fail) the calling test when `what` is not available."""
    if available:
        return
    message = f"{what} is not available (run scripts/services.sh)"
    if IN_CI:
        pytest.fail(f"CI=true: {message}")
    pytest.skip(message)


def docker_available() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
        client.close()
        return True
    except Exception:
        return False
