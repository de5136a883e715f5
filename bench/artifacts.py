"""Artifact transfer throughput: our signed-URL path against one direct SDK call, per back end.

For each store (Azurite, moto's S3 server, the local store behind its HTTP endpoint) the same
file is uploaded and downloaded twice, alternating:

* ours: `file_digest` + `sign_upload` + `upload_file` (parts, resumable, checksummed), and
  `sign_download` + `download_file` (Range-resumable, SHA-256 verified);
* baseline: one direct call with the store's credentials: azure `BlobClient.upload_blob` /
  `download_blob().readinto`, boto3 `upload_file` / `download_file`, and for the local store a
  single httpx PUT of the whole file / a single streamed GET through the same endpoint.

Each figure is the best of the repetitions (the machine is shared, so the best is the least
disturbed): two, or three for the local store, whose transfers take about a second. Target: ours >= 0.8 x the baseline's throughput, both ways. One JSON line per result.

    .venv/bin/python bench/artifacts.py [--quick] [--size-mib N] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.services: the Azurite connection constants

from leoscope.artifacts import (  # noqa: E402
    ArtifactStore,
    download_file,
    file_digest,
    open_store,
    upload_file,
)
from leoscope.artifacts.http import start_endpoint  # noqa: E402
from leoscope.artifacts.local import LocalStore  # noqa: E402
from tests.services import AZURITE_BLOB_PORT, AZURITE_CONNECTION_STRING, port_open  # noqa: E402

MIB = 1024 * 1024
TARGET_RATIO = 0.8
S3_KEYS = {"s3_access_key": "bench", "s3_secret_key": "bench-secret", "s3_region": "us-east-1"}


def emit(metric: str, value: float, baseline: float, **extra: object) -> None:
    ratio = value / baseline if baseline else 0.0
    line = {
        "bench": "artifacts",
        "metric": metric,
        "value": round(value, 2),
        "unit": "MiB/s",
        "baseline": round(baseline, 2),
        "ratio": round(ratio, 3),
        "target": f">= {TARGET_RATIO} x baseline",
        "met": ratio >= TARGET_RATIO,
        **extra,
    }
    print(json.dumps(line), flush=True)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not port_open("127.0.0.1", port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")
        time.sleep(0.1)


def make_file(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        for _ in range(size // MIB):
            f.write(os.urandom(MIB))


# ---------------------------------------------------------------- our path and the baselines


def ours_upload(store: ArtifactStore, path: Path, blob: str) -> None:
    sha256, size = file_digest(path)
    upload_file(store.sign_upload(blob, size=size, sha256=sha256), path)


def ours_download(store: ArtifactStore, blob: str, dest: Path) -> None:
    download_file(store.sign_download(blob), dest)


class Baseline:
    """One direct SDK call each way, with the store's own credentials."""

    def upload(self, path: Path, blob: str) -> None:
        raise NotImplementedError

    def download(self, blob: str, dest: Path) -> None:
        raise NotImplementedError


class AzureBaseline(Baseline):
    def __init__(self, store: ArtifactStore) -> None:
        self.container = store._container  # type: ignore[attr-defined]

    def upload(self, path: Path, blob: str) -> None:
        with open(path, "rb") as f:
            self.container.get_blob_client(blob).upload_blob(f, overwrite=True)

    def download(self, blob: str, dest: Path) -> None:
        with open(dest, "wb") as f:
            self.container.get_blob_client(blob).download_blob().readinto(f)


class S3Baseline(Baseline):
    """boto3's managed transfer. Its flexible checksums (CRC32 per part, on by default) are
    turned off so that moto does the same work for both paths: given no checksum algorithm,
    moto computes a full-object CRC64NVME at CompleteMultipartUpload (real S3 does that in its
    own time), which would otherwise charge our path alone for a quirk of the emulator."""

    def __init__(self, store: ArtifactStore, endpoint: str) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = store.bucket  # type: ignore[attr-defined]
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=S3_KEYS["s3_access_key"],
            aws_secret_access_key=S3_KEYS["s3_secret_key"],
            region_name=S3_KEYS["s3_region"],
            config=Config(
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def upload(self, path: Path, blob: str) -> None:
        self.client.upload_file(str(path), self.bucket, blob)

    def download(self, blob: str, dest: Path) -> None:
        self.client.download_file(self.bucket, blob, str(dest))


class LocalBaseline(Baseline):
    """A single PUT of the whole body and a single streamed GET, through the same endpoint."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store

    def upload(self, path: Path, blob: str) -> None:
        sha256, size = file_digest(path)  # the endpoint verifies it, as for our path
        signed = self.store.sign_upload(blob, size=size, sha256=sha256)
        with open(path, "rb") as f:
            response = httpx.put(signed.url, content=f, timeout=120)
        response.raise_for_status()

    def download(self, blob: str, dest: Path) -> None:
        signed = self.store.sign_download(blob)
        with httpx.stream("GET", signed.url, timeout=120) as response, open(dest, "wb") as f:
            response.raise_for_status()
            for chunk in response.iter_raw():
                f.write(chunk)


# ---------------------------------------------------------------- the stores


@contextmanager
def azurite_store() -> Iterator[tuple[ArtifactStore, Baseline] | None]:
    if not port_open("127.0.0.1", AZURITE_BLOB_PORT):
        yield None
        return
    store = open_store(
        f"azure://bench-{uuid.uuid4().hex[:10]}", connection_string=AZURITE_CONNECTION_STRING
    )
    store._ensure_container()  # type: ignore[attr-defined]
    try:
        yield store, AzureBaseline(store)
    finally:
        store._container.delete_container()  # type: ignore[attr-defined]
        store.close()


@contextmanager
def moto_store(workdir: Path) -> Iterator[tuple[ArtifactStore, Baseline] | None]:
    port = free_port()
    with open(workdir / "moto.log", "wb") as log:
        moto = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port)
        endpoint = f"http://127.0.0.1:{port}"
        store = open_store("s3://bench", s3_endpoint=endpoint, **S3_KEYS)
        store._ensure_bucket()  # type: ignore[attr-defined]
        yield store, S3Baseline(store, endpoint)
        store.close()
    finally:
        moto.terminate()
        moto.wait(10)


@contextmanager
def local_store(workdir: Path) -> Iterator[tuple[ArtifactStore, Baseline] | None]:
    """The endpoint runs in its own process, as it does inside the orchestrator; this process
    only signs (same directory, same secret), so client and server do not share one GIL."""
    root = workdir / "local-store"
    secret = os.urandom(32).hex()
    port = free_port()
    env = {**os.environ, "LEOSCOPE_BENCH_SECRET": secret}
    with open(workdir / "endpoint.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve-local", str(root), str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_for_port(port)
        store = LocalStore(
            root, secret=bytes.fromhex(secret), base_url=f"http://127.0.0.1:{port}/artifacts"
        )
        yield store, LocalBaseline(store)
    finally:
        server.terminate()
        server.wait(10)


def serve_local(root: str, port: int) -> None:
    """Run the local store's endpoint until terminated (the child side of `local_store`)."""
    secret = bytes.fromhex(os.environ["LEOSCOPE_BENCH_SECRET"])
    store = LocalStore(root, secret=secret, base_url=f"http://127.0.0.1:{port}/artifacts")

    async def run() -> None:
        await start_endpoint(store, port=port)
        await asyncio.Event().wait()

    asyncio.run(run())


# ---------------------------------------------------------------- measuring


def measure(name: str, store: ArtifactStore, baseline: Baseline, source: Path, repeat: int) -> None:
    size_mib = source.stat().st_size / MIB
    workdir = source.parent
    best = {"ours_up": 0.0, "base_up": 0.0, "ours_down": 0.0, "base_down": 0.0}
    expected = file_digest(source)[0]
    for rep in range(repeat):
        ours_blob = f"bench/{name}/{rep}/ours.zip"
        base_blob = f"bench/{name}/{rep}/base.zip"
        # Alternate who goes first so neither always meets a warmer server.
        order = [("base", base_blob), ("ours", ours_blob)]
        for who, blob in order if rep % 2 == 0 else reversed(order):
            action = (
                (lambda b=blob: ours_upload(store, source, b))
                if who == "ours"
                else (lambda b=blob: baseline.upload(source, b))
            )
            best[f"{who}_up"] = max(best[f"{who}_up"], size_mib / timed(action))
        for who, blob in order if rep % 2 else reversed(order):
            dest = workdir / f"{who}.download"
            action = (
                (lambda b=blob, d=dest: ours_download(store, b, d))
                if who == "ours"
                else (lambda b=blob, d=dest: baseline.download(b, d))
            )
            best[f"{who}_down"] = max(best[f"{who}_down"], size_mib / timed(action))
            if who == "ours":
                assert file_digest(dest)[0] == expected, "downloaded copy differs"
            dest.unlink()
        store.delete(ours_blob)
        store.delete(base_blob)
    extra = {"size_mib": round(size_mib), "repeat": repeat}
    emit(f"{name}_upload_throughput", best["ours_up"], best["base_up"], **extra)
    emit(f"{name}_download_throughput", best["ours_down"], best["base_down"], **extra)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-local":
        serve_local(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 40 MiB file instead of 200 MiB")
    parser.add_argument("--size-mib", type=int, default=None)
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="repetitions (default: 2; 3 for the fast local store)",
    )
    parser.add_argument(
        "--backend", action="append", choices=("azurite", "s3_moto", "local"), help="only these"
    )
    args = parser.parse_args()
    size_mib = args.size_mib or (40 if args.quick else 200)
    workdir = Path(tempfile.mkdtemp(prefix="leoscope-bench-artifacts-"))
    try:
        source = workdir / "run.zip"
        make_file(source, size_mib * MIB)
        for name, opener, repeat in (
            ("azurite", azurite_store, 2),
            ("s3_moto", lambda: moto_store(workdir), 2),
            ("local", lambda: local_store(workdir), 3),
        ):
            if args.backend and name not in args.backend:
                continue
            with opener() as opened:
                if opened is None:
                    print(
                        json.dumps({"bench": "artifacts", "metric": name, "skipped": "not running"})
                    )
                    continue
                measure(name, *opened, source=source, repeat=args.repeat or repeat)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
