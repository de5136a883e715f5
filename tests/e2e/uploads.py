"""Shared by the upload tests: choosing the orchestrator's artifact store, experiments that
write known results, and the researcher's CLI."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from leoscope.api import leotest_pb2 as pb
from leoscope.cli.main import app
from leoscope.client import Client, Run
from tests.harness import RunningOrchestrator
from tests.integration.artifacts.servers import S3_ACCESS_KEY, S3_SECRET_KEY, require_azurite
from tests.services import AZURITE_CONNECTION_STRING


def container_name() -> str:
    return f"leoscope-{uuid.uuid4().hex[:10]}"


def use_store(
    orchestrator: RunningOrchestrator,
    backend: str,
    request: pytest.FixtureRequest,
    *,
    connection_string: str = AZURITE_CONNECTION_STRING,
) -> str:
    """Point the orchestrator's global config at a fresh store of `backend`; return the
    container's (bucket's) name."""
    name = container_name()
    blob = pb.blob_settings(connectionString="", container=name, artifactPath="jobs/")
    if backend == "local":
        return ""  # no config at all: the embedded default store
    if backend == "azure":
        if connection_string == AZURITE_CONNECTION_STRING:
            require_azurite()
        blob.connectionString = connection_string
        settings = pb.settings(datastore=pb.datastore_settings(blob=blob))
    else:
        gateway = request.getfixturevalue("s3_gateway")
        store = pb.artifact_store_settings(
            url=f"s3://{name}",
            s3_endpoint=gateway.url,
            s3_access_key=S3_ACCESS_KEY,
            s3_secret_key=S3_SECRET_KEY,
            s3_region="us-east-1",
        )
        settings = pb.settings(datastore=pb.datastore_settings(blob=blob, store=store))
    admin = orchestrator.admin()
    try:
        reply = admin.call("update_global_config", pb.message_update_global_config(config=settings))
        assert reply.state == pb.SUCCESS, reply.message
    finally:
        admin.close()
    return name


def writer_config(
    payload_bytes: int, *, seed: int = 7, extra: dict[str, object] | None = None
) -> str:
    """A process-runtime experiment that writes `payload_bytes` of incompressible bytes
    (random.Random(seed), so the test knows them) to /artifacts/result.bin and prints."""
    script = (
        "import os, pathlib, random, sys\n"
        "out = pathlib.Path(os.environ['LEOSCOPE_ARTIFACTS'])\n"
        f"(out / 'result.bin').write_bytes(random.Random({seed}).randbytes({payload_bytes}))\n"
        "print('hello from the experiment'); print('to stderr', file=sys.stderr)\n"
    )
    config: dict[str, object] = {"process": {"command": [sys.executable, "-c", script]}}
    config.update(extra or {})
    return yaml.safe_dump(config)


def expected_payload(payload_bytes: int, seed: int = 7) -> bytes:
    """The bytes `writer_config` makes the experiment write."""
    return random.Random(seed).randbytes(payload_bytes)


@dataclass
class Researcher:
    """A user with a job of their own, and the `leoscope` CLI as they would run it."""

    orchestrator: RunningOrchestrator
    userid: str
    token: str = field(repr=False)
    home: Path

    @property
    def client(self) -> Client:
        return Client(self.orchestrator.address, self.userid, self.token, insecure=True)

    def env(self) -> dict[str, str]:
        return {
            "LEOSCOPE_HOST": self.orchestrator.address,
            "LEOSCOPE_USER": self.userid,
            "LEOSCOPE_TOKEN": self.token,
            "LEOSCOPE_INSECURE": "true",
            "LEOSCOPE_CONFIG": str(self.home / "config.toml"),
        }

    def cli(self, *args: str) -> Result:
        """`leoscope ARGS` with this user's credentials (other LEOSCOPE_* variables unset)."""
        env = {k: None for k in os.environ if k.startswith("LEOSCOPE_")}
        env.update(self.env())
        return CliRunner().invoke(app, list(args), env=env)  # type: ignore[arg-type]

    async def cli_async(self, *args: str) -> Result:
        return await asyncio.to_thread(self.cli, *args)


def make_researcher(orchestrator: RunningOrchestrator, home: Path) -> Researcher:
    admin = Client(orchestrator.address, "admin", orchestrator.admin_token, insecure=True)
    try:
        registered = admin.register_user(f"r-{uuid.uuid4().hex[:8]}", name="Researcher")
    finally:
        admin.close()
    home.mkdir(parents=True, exist_ok=True)
    return Researcher(orchestrator, registered.user.id, registered.token, home)


def run_archive(client: Client, run: Run) -> zipfile.ZipFile:
    """A finished run's archive: from the node's local store (a `file://` blob_url, as with a
    reference orchestrator), else read through the orchestrator's signed download URL."""
    if run.blob_url.startswith("file://"):
        return zipfile.ZipFile(Path(run.blob_url.removeprefix("file://")))
    return client.open_archive(run.runid)
