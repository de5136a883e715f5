"""`leoscope agent`: run the node agent on a measurement node; `leoscope agent scavenger`
switches the running agent's scavenger mode over its local control socket.

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
    ctx: typer.Context,
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
    if ctx.invoked_subcommand is not None:
        return  # `leoscope agent scavenger ...` talks to a running agent instead
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


# ---------------------------------------------------------------------------- the command group

app = typer.Typer(rich_markup_mode="rich")
app.callback(invoke_without_command=True)(agent)
scavenger_app = typer.Typer(
    help=(
        "Scavenger mode of the agent running on this node, over its local control socket "
        "(as the agent's user). While on, overhead experiments are stopped and not started.\n\n"
        "Example:\n\n    sudo leoscope agent scavenger on --data-dir /var/lib/leoscope"
    ),
    no_args_is_help=True,
)
app.add_typer(scavenger_app, name="scavenger")

_DATA_DIR_HELP = _h("The running agent's data directory.", "AGENT_DATA_DIR")
_SOCKET_HELP = _h("The agent's control socket (<data-dir>/control.sock).", "AGENT_CONTROL_SOCKET")
_CONFIG_HELP = _h("Agent config file (TOML) naming data_dir.", "AGENT_CONFIG")


def _control_request(
    payload: dict[str, object],
    data_dir: Path | None,
    control_socket: Path | None,
    config: Path | None,
) -> dict[str, object]:
    from leoscope.core.errors import InvalidInput
    from leoscope.node.control import ControlError, request
    from leoscope.node.settings import CONFIG_ENV, read_config_file

    try:
        path = control_socket or _env_path("LEOSCOPE_AGENT_CONTROL_SOCKET")
        directory = data_dir or _env_path("LEOSCOPE_AGENT_DATA_DIR")
        config = config or _env_path(CONFIG_ENV)
        if path is None and directory is None and config is not None:
            from_file = read_config_file(config)
            if from_file.get("control_socket"):
                path = Path(str(from_file["control_socket"])).expanduser()
            elif from_file.get("data_dir"):
                directory = Path(str(from_file["data_dir"])).expanduser()
    except InvalidInput as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if path is None:
        if directory is None:
            typer.echo(
                "error: data_dir is required (--data-dir DIR or --control-socket PATH)", err=True
            )
            raise typer.Exit(2)
        path = directory / "control.sock"
    try:
        return request(path, payload)
    except ControlError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _env_path(name: str) -> Path | None:
    import os

    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def _switch(
    active: bool, data_dir: Path | None, control_socket: Path | None, config: Path | None
) -> None:
    reply = _control_request(
        {"command": "scavenger", "active": active}, data_dir, control_socket, config
    )
    state = "on" if reply.get("scavenger_mode_active") else "off"
    stopping = reply.get("stopping") or []
    typer.echo(f"scavenger mode {state}" + ("" if reply.get("changed") else " (unchanged)"))
    if isinstance(stopping, list) and stopping:
        typer.echo(f"stopping {len(stopping)} overhead run(s): {', '.join(map(str, stopping))}")
    if reply.get("reported"):
        typer.echo("reported to the orchestrator")
    else:
        typer.echo("not yet acknowledged by the orchestrator; the agent keeps retrying")


@scavenger_app.command("on")
def scavenger_on(
    data_dir: Path | None = typer.Option(None, "--data-dir", help=_DATA_DIR_HELP),
    control_socket: Path | None = typer.Option(None, "--control-socket", help=_SOCKET_HELP),
    config: Path | None = typer.Option(None, "--config", help=_CONFIG_HELP),
) -> None:
    """Take the link back: stop overhead runs now and start none until `off`.

    Example:

        sudo leoscope agent scavenger on --data-dir /var/lib/leoscope
    """
    _switch(True, data_dir, control_socket, config)


@scavenger_app.command("off")
def scavenger_off(
    data_dir: Path | None = typer.Option(None, "--data-dir", help=_DATA_DIR_HELP),
    control_socket: Path | None = typer.Option(None, "--control-socket", help=_SOCKET_HELP),
    config: Path | None = typer.Option(None, "--config", help=_CONFIG_HELP),
) -> None:
    """Give the link back to experiments: overhead runs start again.

    Example:

        sudo leoscope agent scavenger off --data-dir /var/lib/leoscope
    """
    _switch(False, data_dir, control_socket, config)


@scavenger_app.command("status")
def scavenger_status(
    data_dir: Path | None = typer.Option(None, "--data-dir", help=_DATA_DIR_HELP),
    control_socket: Path | None = typer.Option(None, "--control-socket", help=_SOCKET_HELP),
    config: Path | None = typer.Option(None, "--config", help=_CONFIG_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the agent's answer as JSON."),
) -> None:
    """Show the agent's scavenger mode, where it came from, and its overhead runs.

    Example:

        sudo leoscope agent scavenger status --data-dir /var/lib/leoscope
    """
    import json

    reply = _control_request({"command": "status"}, data_dir, control_socket, config)
    reply.pop("ok", None)
    if as_json:
        typer.echo(json.dumps(reply, indent=2, sort_keys=True))
        return
    state = "on" if reply.get("scavenger_mode_active") else "off"
    source = reply.get("source") or "never switched"
    typer.echo(f"scavenger mode {state} ({source})")
    if reply.get("report_pending"):
        typer.echo("not yet acknowledged by the orchestrator; the agent keeps retrying")
    quiet = reply.get("quiet_hours") or "none"
    inside = " (now inside a window)" if reply.get("in_quiet_hours") else ""
    typer.echo(f"quiet hours: {quiet}{inside}")
    runs = reply.get("overhead_runs") or []
    typer.echo(f"overhead runs in progress: {len(runs) if isinstance(runs, list) else runs}")
