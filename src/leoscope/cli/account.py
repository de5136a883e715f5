"""`leoscope login`, `whoami`, `version` and `leoscope profile ...` (the config file)."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import grpc
import typer

from leoscope.client import Client, InvalidInput
from leoscope.settings import (
    CONNECTION_KEYS,
    DEFAULT_PROFILE,
    Settings,
    delete_profile,
    read_config,
    resolve,
    save_profile,
    use_profile,
)

from .args import OutputOption
from .errors import UsageProblem
from .output import Column
from .state import get_state

profile_app = typer.Typer(
    help="Profiles in the config file: list, show, use, delete.", no_args_is_help=True
)


def _resolve_login(flags: dict[str, object], name: str) -> Settings:
    try:
        settings = resolve(flags, profile=name, new_profile_ok=True)
    except InvalidInput as exc:
        raise UsageProblem(str(exc)) from None
    return settings


def login(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="Orchestrator HOST[:PORT]."),
    user: str | None = typer.Option(None, "--user", help="Your user id."),
    token: str | None = typer.Option(
        None, "--token", help="Your token (omit to be asked; it then stays out of shell history)."
    ),
    token_stdin: bool = typer.Option(False, "--token-stdin", help="Read the token from stdin."),
    tls_ca: Path | None = typer.Option(None, "--tls-ca", help="PEM file to trust."),
    tls_server_name: str | None = typer.Option(
        None, "--tls-server-name", help="Name the certificate must match (reference: localhost)."
    ),
    insecure: bool | None = typer.Option(
        None, "--insecure/--tls", help="Plaintext gRPC (loopback development orchestrators)."
    ),
    profile: str | None = typer.Option(
        None, "--profile", "-p", help="Profile to write (default: 'default'); becomes current."
    ),
) -> None:
    """Check your credentials against the orchestrator and save them as a profile.

    Later commands use the current profile; `--profile NAME` (or LEOSCOPE_PROFILE) picks another.
    The file is ~/.config/leoscope/config.toml (mode 0600), or $LEOSCOPE_CONFIG.

    Example:

        leoscope login --host orchestrator.example.org --user alice --tls-ca server.crt --tls-server-name localhost

        echo "$TOKEN" | leoscope login --host 127.0.0.1:50051 --insecure --user alice --token-stdin --profile local
    """
    state = get_state(ctx)
    name = profile or state.profile or DEFAULT_PROFILE
    if token_stdin:
        if token is not None:
            raise UsageProblem("give --token or --token-stdin, not both")
        token = sys.stdin.readline().strip()
    given = {
        "host": host,
        "user": user,
        "token": token,
        "tls_ca": tls_ca,
        "tls_server_name": tls_server_name,
        "insecure": insecure,
    }
    flags = {**state.flags, **{k: v for k, v in given.items() if v is not None}}
    settings = _resolve_login(flags, name)
    if not settings.user:
        raise UsageProblem("give --user (or LEOSCOPE_USER)")
    stale_token = settings.sources.get("token") == "profile" and settings.sources["user"] != (
        "profile"
    )
    if not (settings.token or settings.jwt) or stale_token:
        if not sys.stdin.isatty():
            raise UsageProblem("give --token, --token-stdin or LEOSCOPE_TOKEN")
        flags["token"] = typer.prompt(f"Token for {settings.user}", hide_input=True)
        settings = _resolve_login(flags, name)
    with Client.from_settings(settings) as client:
        me = client.whoami()
    values = {key: getattr(settings, key) for key in CONNECTION_KEYS}
    values["user"] = me.id
    path = save_profile(name, values)
    printer = state.printer()
    printer.note(f"Logged in to {settings.host} as {me.id} ({me.role.name}).")
    printer.note(f"Saved profile {name!r} in {path}; it is now the current profile.")


def whoami(ctx: typer.Context, output: OutputOption = None) -> None:
    """Show who you are on the orchestrator (and which host and profile you use).

    Example:

        leoscope whoami
    """
    state = get_state(ctx)
    printer = state.printer(output)
    me = state.client().whoami()
    s = state.settings()
    row = {
        "id": me.id,
        "name": me.name,
        "role": me.role.name,
        "team": me.team,
        "host": s.host,
        "profile": s.profile if s.sources.get("user") == "profile" else None,
    }
    printer.item(row, [Column(k, k) for k in row])


def show_version(ctx: typer.Context, output: OutputOption = None) -> None:
    """Show the version of leoscope (and of Python and gRPC).

    Example:

        leoscope version
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("leoscope")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        ours = "unknown"
    row = {"leoscope": ours, "python": platform.python_version(), "grpcio": grpc.__version__}
    printer = get_state(ctx).printer(output)
    if printer.structured:
        printer.dump(row)
    else:
        printer.note(f"leoscope {ours} (python {row['python']}, grpcio {row['grpcio']})")


@profile_app.command("list")
def list_profiles(ctx: typer.Context, output: OutputOption = None) -> None:
    """List the profiles in the config file (tokens are never shown).

    Example:

        leoscope profile list
    """
    state = get_state(ctx)
    config = read_config(state.settings().config_path)
    rows = [
        {
            "name": name,
            "host": values.get("host", ""),
            "user": values.get("user", ""),
            "current": name == config.current,
        }
        for name, values in sorted(config.profiles.items())
    ]
    columns = [
        Column("name", "PROFILE"),
        Column("host", "HOST"),
        Column("user", "USER"),
        Column("current", "CURRENT", "bool"),
    ]
    state.printer(output).rows(rows, columns, "No profiles yet: run `leoscope login`.")


@profile_app.command("show")
def show_profile(
    ctx: typer.Context,
    reveal: bool = typer.Option(False, "--reveal", help="Show the token."),
    output: OutputOption = None,
) -> None:
    """Show the settings in effect and where each came from (flag, env, profile, default).

    Example:

        leoscope --profile alice profile show
    """
    state = get_state(ctx)
    s = state.settings()
    values = s.describe(reveal)
    rows = [{"setting": k, "value": v, "source": s.sources[k]} for k, v in values.items()]
    printer = state.printer(output)
    if printer.structured:
        printer.dump({"profile": s.profile, "config": str(s.config_path), "settings": rows})
        return
    printer.note(f"profile {s.profile!r} in {s.config_path}")
    columns = [Column("setting", "SETTING"), Column("value", "VALUE"), Column("source", "SOURCE")]
    printer.rows(rows, columns, "")


@profile_app.command("use")
def use(
    ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME", help="Profile name.")
) -> None:
    """Make a profile the current one.

    Example:

        leoscope profile use admin
    """
    state = get_state(ctx)
    try:
        path = use_profile(name, state.settings().config_path)
    except InvalidInput as exc:
        raise UsageProblem(exc.problem) from None
    state.printer().note(f"current profile: {name} ({path})")


@profile_app.command("delete")
def delete(
    ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME", help="Profile name.")
) -> None:
    """Delete a profile (and the token stored in it).

    Example:

        leoscope profile delete old-lab
    """
    state = get_state(ctx)
    try:
        path = delete_profile(name, state.settings().config_path)
    except InvalidInput as exc:
        raise UsageProblem(exc.problem) from None
    state.printer().note(f"profile {name} deleted from {path}")
