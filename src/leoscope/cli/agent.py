"""`leoscope agent`: run the node agent on a measurement node.

Only typer is imported at module level; the agent (grpc, docker, numpy, ...) is imported when
the command runs, so other commands stay fast.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import typer
from rich.markup import escape


def _h(text: str, env: str) -> str:
    return f"{text} " + escape(f"[env: LEOSCOPE_{env}]")


def agent(
    orchestrator: str | None = typer.Option(
        None, "--orchestrator", help=_h("Orchestrator address HOST:PORT.", "ORCHESTRATOR")
    ),
    node_id: str | None = typer.Option(None, "--node-id", help=_h("This node's id.", "NODE_ID")),
    token: str | None = typer.Option(
        None,
        "--token",
        help=_h(
            "The node's token. Prefer the environment or --token-file: a flag is visible in "
            "the process list.",
            "NODE_TOKEN",
        ),
        show_default=False,
    ),
    token_file: Path | None = typer.Option(
        None, "--token-file", help=_h("File holding the node's token.", "NODE_TOKEN_FILE")
    ),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help=_h("Local state, run directories and archives.", "AGENT_DATA_DIR"),
    ),
    tls_ca: Path | None = typer.Option(
        None, "--tls-ca", help=_h("PEM certificate to trust for the orchestrator.", "TLS_CA")
    ),
    tls_server_name: str | None = typer.Option(
        None,
        "--tls-server-name",
        help=_h("Name the orchestrator's certificate must match.", "TLS_SERVER_NAME"),
    ),
    insecure: bool | None = typer.Option(
        None,
        "--insecure/--tls",
        help=_h("Plaintext gRPC (the default only for loopback addresses).", "INSECURE"),
        show_default=False,
    ),
    runtime: str | None = typer.Option(
        None, "--runtime", help=_h("docker (default) or process.", "AGENT_RUNTIME")
    ),
    interval: float | None = typer.Option(
        None, "--interval", help=_h("Seconds between syncs (10).", "AGENT_INTERVAL")
    ),
    executor_config: Path | None = typer.Option(
        None,
        "--executor-config",
        help=_h("executor-config.yaml: limits, network, pull policy.", "EXECUTOR_CONFIG"),
    ),
    public_ip_url: str | None = typer.Option(
        None,
        "--public-ip-url",
        help=_h("URL answering this node's public IP, or 'off'.", "PUBLIC_IP_URL"),
    ),
    missed_grace: float | None = typer.Option(
        None,
        "--missed-grace",
        help=_h("A run late by less than this many seconds still starts (60).", "MISSED_GRACE"),
    ),
    artifact_dir: Path | None = typer.Option(
        None,
        "--artifact-dir",
        help=_h("Local artifact store directory (<data-dir>/artifacts).", "ARTIFACT_DIR"),
    ),
    watch: bool | None = typer.Option(
        None,
        "--watch/--no-watch",
        help=_h("Hold watch_node open to learn of changes at once.", "AGENT_WATCH"),
        show_default=False,
    ),
    config: Path | None = typer.Option(
        None, "--config", help=_h("Agent config file (TOML).", "AGENT_CONFIG")
    ),
    log_level: str | None = typer.Option(
        None, "--log-level", help=_h("DEBUG, INFO, WARNING or ERROR.", "LOG_LEVEL")
    ),
) -> None:
    """Run the node agent: keep this node's schedule and run its experiments.

    Example:

        LEOSCOPE_NODE_TOKEN=... leoscope agent --orchestrator orch.example:50051 --node-id n1 --data-dir /var/lib/leoscope
    """
    from leoscope.core.errors import InvalidInput
    from leoscope.node.agent import Agent, AgentStartupError
    from leoscope.node.settings import resolve_settings

    flags = {
        "orchestrator": orchestrator,
        "node_id": node_id,
        "token": token,
        "token_file": token_file,
        "data_dir": data_dir,
        "tls_ca": tls_ca,
        "tls_server_name": tls_server_name,
        "insecure": insecure,
        "runtime": runtime,
        "interval": interval,
        "executor_config": executor_config,
        "public_ip_url": public_ip_url,
        "missed_grace": missed_grace,
        "artifact_dir": artifact_dir,
        "watch": watch,
        "log_level": log_level,
    }
    try:
        settings = resolve_settings(flags, config_file=config)
    except InvalidInput as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    agent_ = Agent(settings)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, agent_.stop)
        await agent_.run()

    try:
        asyncio.run(main())
    except AgentStartupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
