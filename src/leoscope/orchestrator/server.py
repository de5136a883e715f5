"""Bootstrap: open the store, build the services, serve gRPC (plus health and reflection)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

from leoscope.api import leotest_pb2 as pb
from leoscope.api import leotest_pb2_grpc as pb_grpc
from leoscope.artifacts.http import start_endpoint
from leoscope.core.timeutil import utcnow

from .admission import Admission
from .artifact_service import ArtifactService
from .auth import check_jwt_secret, hash_token
from .cache import ReadCache
from .events import EventHub, PostgresEventHub
from .liveness import LivenessRecorder
from .ops.context import Services
from .service import OrchestratorServicer
from .store import Store, config_doc, normalize_url, redact
from .store import tasks as task_store
from .store import users as user_store

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["LeotestOrchestrator"].full_name
MAINTENANCE_INTERVAL_SECS = 60.0
# The reference's published default admin token: starting with it would be an open door.
KNOWN_DEFAULT_TOKENS = frozenset({"leotest-access-token"})


class StartupError(Exception):
    """The server cannot start with these settings; the message says what to change."""


@dataclass
class ServerSettings:
    listen: str = "127.0.0.1:50051"
    data_dir: Path = Path("./leoscope-data")
    db_url: str | None = None
    admin_token: str = ""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    jwt_secret: str | None = None
    insecure: bool = False
    workers: int = 8
    watch_ping_secs: float = 30.0
    metrics_listen: str | None = None
    """HOST:PORT for the Prometheus metrics endpoint (off when None)."""
    artifacts_listen: str | None = None
    """HOST:PORT of the local artifact store's HTTP endpoint (default: the gRPC host, any port)."""
    artifacts_public_url: str | None = None
    """Base URL nodes reach that endpoint at, when it differs (a proxy, a public name)."""


def _is_loopback(listen: str) -> bool:
    host = listen.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check(settings: ServerSettings) -> None:
    if (
        not settings.admin_token
        or len(settings.admin_token) < 16
        or settings.admin_token in KNOWN_DEFAULT_TOKENS
    ):
        raise StartupError(
            "--admin-token (LEOSCOPE_ADMIN_TOKEN) must be set to a random string of at least "
            "16 characters"
        )
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise StartupError("--tls-cert and --tls-key must be given together")
    if not settings.tls_cert and not _is_loopback(settings.listen) and not settings.insecure:
        raise StartupError(
            f"refusing to serve {settings.listen} without TLS: give --tls-cert/--tls-key, listen on "
            "a loopback address, or pass --insecure"
        )
    try:
        check_jwt_secret(settings.jwt_secret)
    except ValueError as exc:
        raise StartupError(str(exc)) from None


class OrchestratorServer:
    """One orchestrator process. `start()` returns the bound port; `stop()` drains."""

    def __init__(self, settings: ServerSettings) -> None:
        _check(settings)
        self.settings = settings
        self.port: int | None = None
        self._server: grpc.aio.Server | None = None
        self._servicer: OrchestratorServicer | None = None
        self._maintenance: asyncio.Task[None] | None = None
        self.store: Store | None = None
        self.hub: EventHub | None = None
        self.liveness: LivenessRecorder | None = None
        self._metrics_server: Any = None
        self._endpoint: Any = None
        self.artifacts: ArtifactService | None = None

    async def start(self) -> int:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        url = normalize_url(s.db_url, s.data_dir)
        log.info("opening datastore %s", redact(url))
        self.store = await asyncio.to_thread(Store.open, url)
        await asyncio.to_thread(self._bootstrap_admin)
        self.hub = EventHub() if self.store.is_sqlite else PostgresEventHub(url)
        self.hub.bind(asyncio.get_running_loop())
        self.liveness = LivenessRecorder(self.store)
        self.artifacts = ArtifactService(s.data_dir)
        await self._start_artifact_endpoint()
        cache = ReadCache()
        self.hub.listeners.append(cache.on_events)
        services = Services(
            store=self.store,
            hub=self.hub,
            admission=Admission(),
            liveness=self.liveness,
            cache=cache,
            artifacts=self.artifacts,
        )
        self._servicer = OrchestratorServicer(
            services, jwt_secret=s.jwt_secret, workers=s.workers, ping_interval=s.watch_ping_secs
        )
        self._server = grpc.aio.server(
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", 8 * 1024 * 1024),
                ("grpc.keepalive_time_ms", 60_000),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.min_ping_interval_without_data_ms", 20_000),
                ("grpc.max_pending_requests", 100_000),
            ]
        )
        pb_grpc.add_LeotestOrchestratorServicer_to_server(self._servicer, self._server)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, self._server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self._server
        )
        if s.tls_cert and s.tls_key:
            creds = grpc.ssl_server_credentials([(s.tls_key.read_bytes(), s.tls_cert.read_bytes())])
            self.port = self._server.add_secure_port(s.listen, creds)
            log.info("serving gRPC with TLS on %s", s.listen)
        else:
            self.port = self._server.add_insecure_port(s.listen)
            if _is_loopback(s.listen):
                log.warning("serving gRPC WITHOUT TLS on %s (loopback only)", s.listen)
            else:
                log.warning("serving gRPC WITHOUT TLS on %s (--insecure given)", s.listen)
        if not self.port:
            raise StartupError(f"could not listen on {s.listen}")
        await self._server.start()
        for name in ("", SERVICE_NAME):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._maintenance = asyncio.create_task(self._maintain())
        if s.metrics_listen:
            host, _, port = s.metrics_listen.rpartition(":")
            self._metrics_server, _ = start_http_server(int(port), addr=host or "127.0.0.1")
            log.info("metrics on http://%s/metrics", s.metrics_listen)
        log.info("orchestrator ready on port %d", self.port)
        return self.port

    async def _start_artifact_endpoint(self) -> None:
        """Serve the local artifact store over HTTP with signed URLs (the embedded default)."""
        s = self.settings
        assert self.artifacts is not None
        listen = s.artifacts_listen or f"{s.listen.rsplit(':', 1)[0]}:0"
        host, _, port = listen.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        self._endpoint = await start_endpoint(self.artifacts.local, host=host, port=int(port))
        if s.artifacts_public_url:
            self.artifacts.set_local_base_url(s.artifacts_public_url)
        elif host in ("0.0.0.0", "::"):
            log.warning(
                "the local artifact endpoint listens on all interfaces; give "
                "--artifacts-public-url so that nodes get URLs they can reach"
            )
        log.info(
            "local artifact store %s served at %s",
            self.artifacts.local_root,
            self.artifacts.local.base_url,
        )

    def _bootstrap_admin(self) -> None:
        assert self.store is not None
        with self.store.write() as conn:
            user_store.put_bootstrap_admin(conn, hash_token(self.settings.admin_token), utcnow())

    async def _maintain(self) -> None:
        """Periodic housekeeping: sweep expired tasks."""
        assert self.store is not None
        while True:
            await asyncio.sleep(MAINTENANCE_INTERVAL_SECS)
            try:
                await asyncio.to_thread(self._housekeeping)
            except Exception:
                log.exception("maintenance failed")

    def _housekeeping(self) -> None:
        assert self.store is not None and self.artifacts is not None
        with self.store.write() as conn:
            swept = task_store.sweep(conn, utcnow())
        if swept:
            log.info("swept %d expired tasks", swept)
        with self.store.read() as conn:
            document = config_doc.load(conn) or {}
            store, _ = self.artifacts.current(conn)
        days = document.get("datastore", {}).get("store", {}).get("retentionDays")
        if days:
            removed = store.delete_older_than(float(days))
            if removed:
                log.info("retention: removed %d archives older than %s days", removed, days)

    async def stop(self, grace: float = 5.0) -> None:
        if self._maintenance:
            self._maintenance.cancel()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
        if self._server is not None:
            await self._server.stop(grace)
        if self._servicer is not None:
            await asyncio.to_thread(self._servicer.close)
        if self.liveness is not None:
            await asyncio.to_thread(self.liveness.close)
        if self._endpoint is not None:
            await self._endpoint.close()
        if self.artifacts is not None:
            await asyncio.to_thread(self.artifacts.close)
        if self.hub is not None:
            self.hub.close()
        if self.store is not None:
            self.store.dispose()
        log.info("orchestrator stopped")

    async def serve_forever(self) -> None:
        """Run until SIGTERM or SIGINT, then stop gracefully."""
        await self.start()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await stopping.wait()
        log.info("shutting down")
        await self.stop()
