"""Servers and helpers for the artifact tests (fixtures: tests/integration/artifact_fixtures.py).

* S3: moto (5.2) accepts every presigned URL, expired or tampered (its S3 responses never check
  query signatures), so tests reach it through `SigV4Gateway`: a small aiohttp proxy that
  verifies SigV4 presigned signatures and expiry the way S3 does, then forwards to moto.
* Azure: `AzuriteProcess` runs a private Azurite (the shared npm install) that a test may stop.
* Local: `serve_local_store` serves a `LocalStore` on a free loopback port in a background loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import io
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import aiohttp
from aiohttp import web

from leoscope.artifacts import ArtifactStore
from leoscope.artifacts.http import RunningEndpoint, start_endpoint
from leoscope.artifacts.local import LocalStore
from tests.services import AZURITE_ACCOUNT, AZURITE_BLOB_PORT, AZURITE_KEY, port_open, require

MIB = 1024 * 1024
S3_ACCESS_KEY = "leoscope-test"
S3_SECRET_KEY = "leoscope-test-secret"
AZURITE_DIR = (
    Path(os.environ.get("LEOSCOPE_SERVICES_DIR", "/var/lib/leoscope-services")) / "azurite"
)
TEST_PART_SIZE = 5 * MIB  # S3's smallest part size: multi-part uploads with small files


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll `condition` until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def random_file(path: Path, size: int) -> str:
    """Write `size` random bytes; return their SHA-256."""
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        remaining = size
        while remaining:
            chunk = os.urandom(min(remaining, 4 * MIB))
            f.write(chunk)
            digest.update(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()


def unique_blob(prefix: str = "jobs") -> str:
    return f"{prefix}/node-1/job-1/2024/5/7/{uuid.uuid4().hex}.zip"


# ---------------------------------------------------------------- background event loop


class BackgroundLoop:
    """An asyncio loop in a daemon thread, for aiohttp servers used by blocking tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        assert not self.thread.is_alive(), "background loop did not stop"
        self.loop.close()


# ---------------------------------------------------------------- S3: moto + SigV4 gateway


def verify_presigned(
    method: str,
    raw_path: str,
    query: list[tuple[str, str]],
    host: str,
    secret_key: str,
    now: datetime,
) -> str | None:
    """Check an AWS SigV4 presigned (query-signed) request; None if valid, else the S3 error."""
    params = dict(query)
    needed = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires")
    if any(k not in params for k in (*needed, "X-Amz-SignedHeaders", "X-Amz-Signature")):
        return "AccessDenied"
    if params["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
        return "AccessDenied"
    signed_at = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if now >= signed_at + timedelta(seconds=int(params["X-Amz-Expires"])):
        return "Expired"

    def enc(text: str) -> str:
        return quote(text, safe="-_.~")

    canonical_query = "&".join(
        f"{enc(k)}={enc(v)}" for k, v in sorted(query) if k != "X-Amz-Signature"
    )
    signed_headers = params["X-Amz-SignedHeaders"]
    if signed_headers != "host":
        return "AccessDenied"  # our presigned URLs sign only the host
    canonical = "\n".join(
        (method, raw_path, canonical_query, f"host:{host}\n", signed_headers, "UNSIGNED-PAYLOAD")
    )
    scope = params["X-Amz-Credential"].split("/", 1)[1]
    to_sign = "\n".join(
        (
            "AWS4-HMAC-SHA256",
            params["X-Amz-Date"],
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        )
    )
    key = ("AWS4" + secret_key).encode()
    for piece in scope.split("/"):
        key = hmac.new(key, piece.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, params["X-Amz-Signature"]):
        return "SignatureDoesNotMatch"
    return None


_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
    "server",
    "date",
}


class SigV4Gateway:
    """Verifies presigned requests like S3, forwards good ones to moto, refuses the rest (403).

    Requests with an Authorization header (the store's own boto3 calls) pass straight through;
    moto does not check those either, and they are not what these tests are about.
    """

    def __init__(self, upstream: str, secret_key: str) -> None:
        self.upstream = upstream
        self.secret_key = secret_key
        self.session: aiohttp.ClientSession | None = None
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application(client_max_size=1024 * MIB)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.session = aiohttp.ClientSession(auto_decompress=False)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def stop(self) -> None:
        assert self.runner is not None and self.session is not None
        await self.session.close()
        await self.runner.cleanup()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw_path, _, raw_query = request.raw_path.partition("?")
        query = parse_qsl(raw_query, keep_blank_values=True)
        if "Authorization" not in request.headers:
            problem = verify_presigned(
                request.method, raw_path, query, request.host, self.secret_key, datetime.now(UTC)
            )
            if problem is not None:
                message = "Request has expired" if problem == "Expired" else problem
                code = "AccessDenied" if problem == "Expired" else problem
                body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
                return web.Response(status=403, text=body, content_type="application/xml")
        assert self.session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        body = await request.read()
        async with self.session.request(
            request.method, self.upstream + request.raw_path, headers=headers, data=io.BytesIO(body)
        ) as upstream:
            payload = await upstream.read()
            out_headers = {
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP
            }
            if request.method == "HEAD":
                out_headers["Content-Length"] = upstream.headers.get("Content-Length", "0")
            return web.Response(status=upstream.status, headers=out_headers, body=payload)


def make_s3_store(endpoint: str, bucket: str, **kwargs: Any) -> ArtifactStore:
    from leoscope.artifacts.s3 import S3Store

    return S3Store(
        bucket,
        endpoint_url=endpoint,
        access_key=S3_ACCESS_KEY,
        secret_key=S3_SECRET_KEY,
        region="us-east-1",
        **kwargs,
    )


def drop_s3_bucket(store: ArtifactStore) -> None:
    client = store._client  # type: ignore[attr-defined]
    bucket = store.bucket  # type: ignore[attr-defined]
    with contextlib.suppress(Exception):
        for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            client.abort_multipart_upload(
                Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        for obj in client.list_objects_v2(Bucket=bucket).get("Contents", []):
            client.delete_object(Bucket=bucket, Key=obj["Key"])
        client.delete_bucket(Bucket=bucket)


# ---------------------------------------------------------------- Azure: Azurite


def require_azurite() -> None:
    require(port_open("127.0.0.1", AZURITE_BLOB_PORT), "Azurite (blob, 127.0.0.1:10000)")


def azurite_connection_string(port: int) -> str:
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )


def make_azure_store(connection_string: str, container: str, **kwargs: Any) -> ArtifactStore:
    from leoscope.artifacts.azure import AzureBlobStore

    return AzureBlobStore(connection_string, container, **kwargs)


def drop_azure_container(store: ArtifactStore) -> None:
    with contextlib.suppress(Exception):
        store._container.delete_container()  # type: ignore[attr-defined]


class AzuriteProcess:
    """A private Azurite blob server (its own port and data directory) that tests may stop."""

    def __init__(self, data_dir: Path) -> None:
        self.binary = AZURITE_DIR / "node_modules" / ".bin" / "azurite-blob"
        self.data_dir = data_dir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(self.port)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(self.binary),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(self.port),
                "--location",
                str(self.data_dir),
                "--skipApiVersionCheck",
                "--loose",
                "--silent",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(lambda: port_open("127.0.0.1", self.port), 30, "private Azurite to listen")

    def stop(self) -> None:
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        self.process = None
        wait_until(lambda: not port_open("127.0.0.1", self.port), 10, "private Azurite to stop")


# ---------------------------------------------------------------- local store endpoint


@dataclass
class LocalServed:
    store: LocalStore
    endpoint: RunningEndpoint


def serve_local_store(root: Path, loop: BackgroundLoop, **kwargs: Any) -> LocalServed:
    store = LocalStore(root, secret=os.urandom(32), **kwargs)
    endpoint = loop.run(start_endpoint(store))
    return LocalServed(store, endpoint)
