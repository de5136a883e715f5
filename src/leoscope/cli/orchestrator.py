"""`leoscope orchestrator`: run the orchestrator server."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import typer


def orchestrator(
    listen: str = typer.Option(
        "127.0.0.1:50051", envvar="LEOSCOPE_LISTEN", help="Address to serve gRPC on (HOST:PORT)."
    ),
    data_dir: Path = typer.Option(
        Path("./leoscope-data"),
        envvar="LEOSCOPE_DATA_DIR",
        help="Directory for the SQLite database and local artifacts.",
    ),
    db: str | None = typer.Option(
        None,
        envvar="LEOSCOPE_DB",
        help="Database URL; default: a SQLite file in the data directory. Accepts postgresql://...",
    ),
    admin_token: str = typer.Option(
        ...,
        envvar="LEOSCOPE_ADMIN_TOKEN",
        help="Token of the bootstrap user 'admin' (prefer the environment variable).",
        show_default=False,
    ),
    tls_cert: Path | None = typer.Option(
        None,
        envvar="LEOSCOPE_TLS_CERT",
        help="PEM certificate (valid for 'localhost' for reference clients).",
    ),
    tls_key: Path | None = typer.Option(None, envvar="LEOSCOPE_TLS_KEY", help="PEM private key."),
    jwt_secret: str | None = typer.Option(
        None,
        envvar="LEOSCOPE_JWT_SECRET",
        help="HS256 secret shared with the web backend; enables JWT logins.",
        show_default=False,
    ),
    insecure: bool = typer.Option(
        False,
        "--insecure",
        envvar="LEOSCOPE_INSECURE",
        help="Allow serving without TLS on a non-loopback address.",
    ),
    artifacts_listen: str | None = typer.Option(
        None,
        envvar="LEOSCOPE_ARTIFACTS_LISTEN",
        help="HOST:PORT of the local artifact store's HTTP endpoint (default: the gRPC host, any port).",
    ),
    artifacts_public_url: str | None = typer.Option(
        None,
        envvar="LEOSCOPE_ARTIFACTS_PUBLIC_URL",
        help="Base URL at which nodes reach that endpoint, e.g. https://orch.example.org/artifacts.",
    ),
    metrics_listen: str | None = typer.Option(
        None, envvar="LEOSCOPE_METRICS_LISTEN", help="Serve Prometheus metrics on HOST:PORT."
    ),
    log_level: str = typer.Option("INFO", envvar="LEOSCOPE_LOG_LEVEL", help="Logging level."),
) -> None:
    """Run the orchestrator: the gRPC service that keeps users, nodes, jobs, runs and tasks.

    Example:

        LEOSCOPE_ADMIN_TOKEN=$(openssl rand -hex 32) leoscope orchestrator --listen 127.0.0.1:50051 --data-dir ./data
    """
    # Imported here so that other commands start fast.
    from leoscope.orchestrator.server import OrchestratorServer, ServerSettings, StartupError

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = ServerSettings(
        listen=listen,
        data_dir=data_dir,
        db_url=db,
        admin_token=admin_token,
        tls_cert=tls_cert,
        tls_key=tls_key,
        jwt_secret=jwt_secret,
        insecure=insecure,
        metrics_listen=metrics_listen,
        artifacts_listen=artifacts_listen,
        artifacts_public_url=artifacts_public_url,
    )
    try:
        server = OrchestratorServer(settings)
        asyncio.run(server.serve_forever())
    except StartupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
