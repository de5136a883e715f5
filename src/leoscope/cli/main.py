"""The `leoscope` command: global options, and where every command group is registered."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.markup import escape

from leoscope.settings import BY_KEY

from . import account, agent, globalconfig, jobs, kernel, nodes, runs, up, users
from .args import OutputFormat
from .errors import LeoscopeGroup
from .orchestrator import orchestrator
from .state import CliState

app = typer.Typer(
    name="leoscope",
    cls=LeoscopeGroup,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals could hold a token
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Start with `leoscope login`; see docs/cli.md for a tour.",
)


def _help(key: str) -> str:
    setting = BY_KEY[key]
    return f"{setting.help} " + escape(f"[env: {setting.env}]")


@app.callback()
def main(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help=_help("host"), show_default=False),
    user: str | None = typer.Option(None, "--user", help=_help("user"), show_default=False),
    token: str | None = typer.Option(None, "--token", help=_help("token"), show_default=False),
    tls_ca: Path | None = typer.Option(None, "--tls-ca", help=_help("tls_ca")),
    tls_server_name: str | None = typer.Option(
        None, "--tls-server-name", help=_help("tls_server_name")
    ),
    insecure: bool | None = typer.Option(
        None, "--insecure/--tls", help=_help("insecure"), show_default=False
    ),
    output: OutputFormat | None = typer.Option(
        None, "--output", "-o", help=_help("output"), case_sensitive=False
    ),
    profile: str | None = typer.Option(
        None,
        "--profile",
        "-p",
        help="Profile in the config file. " + escape("[env: LEOSCOPE_PROFILE]"),
    ),
    debug: bool = typer.Option(
        False, "--debug", envvar="LEOSCOPE_DEBUG", help="Log RPCs and show tracebacks."
    ),
) -> None:
    """LEOScope: network experiments over LEO satellite broadband.

    Example:

        leoscope login --host 127.0.0.1:50051 --insecure --user alice

        leoscope job list -o json
    """
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    flags = {
        "host": host,
        "user": user,
        "token": token,
        "tls_ca": tls_ca,
        "tls_server_name": tls_server_name,
        "insecure": insecure,
        "output": output.value if output else None,
    }
    state = CliState(flags=flags, profile=profile, debug=debug)
    ctx.obj = state
    ctx.call_on_close(state.close)


# ---------------------------------------------------------------------------- people's commands
app.command("login", rich_help_panel="Account")(account.login)
app.command("whoami", rich_help_panel="Account")(account.whoami)
app.add_typer(account.profile_app, name="profile", rich_help_panel="Account")
app.add_typer(jobs.app, name="job", rich_help_panel="Experiments")
app.add_typer(runs.app, name="run", rich_help_panel="Experiments")
app.add_typer(nodes.app, name="node", rich_help_panel="Experiments")
app.add_typer(users.app, name="user", rich_help_panel="Administration")
app.add_typer(globalconfig.app, name="config", rich_help_panel="Administration")
app.add_typer(kernel.app, name="kernel", rich_help_panel="Administration")
app.command("version", rich_help_panel="Account")(account.show_version)

# ---------------------------------------------------------------------------- services
# Long-running parts register here, each from its own module:
# `agent` runs the agent; `agent scavenger ...` talks to a running one (imports lazily)
app.add_typer(agent.app, name="agent", rich_help_panel="Services")
app.command("up", rich_help_panel="Services")(up.up)  # imports the testbed lazily
app.command("orchestrator", rich_help_panel="Services")(orchestrator)


def run() -> None:
    """The console script's entry point."""
    app()
