"""Errors -> one line on stderr that says what to do, and the exit code, in one table.

Exit codes: 0 success, 1 the orchestrator refused the request, 2 a usage error (bad flags,
times, files, settings), 3 the orchestrator could not be reached. `--debug` adds the traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperGroup

from leoscope.client import (
    AuthenticationError,
    Conflict,
    InvalidInput,
    LeoscopeError,
    NotFound,
    PermissionDenied,
    ServerError,
    Unavailable,
)

log = logging.getLogger(__name__)

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class UsageProblem(Exception):
    """A problem with what was typed (flags, times, files, settings): exit 2."""


# Wire field names -> the flags that set them, so a refusal points at what to retype.
FLAGS: dict[str, str] = {
    "id": "--id",
    "jobid": "JOB",
    "nodeid": "--node",
    "server": "--server",
    "schedule": "--cron",
    "start_date": "--at/--start",
    "end_date": "--end",
    "length_secs": "--length",
    "config": "--config",
    "trigger": "--trigger",
    "trigger_wait_secs": "--trigger-wait",
    "timezone": "--timezone",
    "coords": "--coords",
    "public_ip": "--public-ip",
    "quiet_hours": "--quiet-hours",
    "not_before": "--from",
    "not_after": "--to",
    "start": "--from",
    "end": "--to",
    "time_range.start": "--since",
    "time_range.end": "--until",
}

LIST_COMMANDS = {
    "job": "leoscope job list",
    "node": "leoscope node list",
    "user": "leoscope user list",
    "run": "leoscope run list",
    "config": "leoscope config set FILE",
}


def _invalid(exc: InvalidInput, ctx: dict[str, str]) -> str:
    flag = FLAGS.get(exc.field)
    where = f"{exc.field} ({flag})" if flag and flag != exc.field else exc.field
    return f"invalid {where}: {exc.problem}"


def _auth(exc: AuthenticationError, ctx: dict[str, str]) -> str:
    return (
        f"the orchestrator at {ctx.get('host', '?')} did not accept the credentials of user "
        f"{ctx.get('user') or '(none)'!r}: log in with `leoscope login`, or check --user and "
        "--token (LEOSCOPE_USER, LEOSCOPE_TOKEN)"
    )


def _permission(exc: PermissionDenied, ctx: dict[str, str]) -> str:
    return f"{exc} (this needs a role or ownership you do not have)"


def _not_found(exc: NotFound, ctx: dict[str, str]) -> str:
    hint = LIST_COMMANDS.get(exc.kind)
    return f"{exc}" + (f" (see `{hint}`)" if hint else "")


def _conflict(exc: Conflict, ctx: dict[str, str]) -> str:
    if not exc.conflicts:
        taken = str(exc).endswith("exists")
        return f"{exc} (choose another id)" if taken else str(exc)
    nodes = sorted({c.nodeid for c in exc.conflicts if c.nodeid})
    return (
        f"{exc}; find a free slot with `leoscope node free-slot {' '.join(nodes) or 'NODE'} "
        "--length DURATION`"
    )


def _unavailable(exc: Unavailable, ctx: dict[str, str]) -> str:
    text = str(exc)
    if "TLS" in text or "plaintext" in text:
        return (
            f"{text}: pass --insecure for a plaintext (development) orchestrator, or --tls-ca "
            "and --tls-server-name for a self-signed certificate"
        )
    return f"{text}: check --host (LEOSCOPE_HOST) and that the orchestrator is running"


# (error type, exit code, message builder), most specific first.
ERRORS: tuple[tuple[type[BaseException], int, Callable[[Any, dict[str, str]], str]], ...] = (
    (UsageProblem, EXIT_USAGE, lambda e, c: str(e)),
    (AuthenticationError, EXIT_REFUSED, _auth),
    (PermissionDenied, EXIT_REFUSED, _permission),
    (NotFound, EXIT_REFUSED, _not_found),
    (Conflict, EXIT_REFUSED, _conflict),
    (InvalidInput, EXIT_REFUSED, _invalid),
    (Unavailable, EXIT_UNREACHABLE, _unavailable),
    (ServerError, EXIT_REFUSED, lambda e, c: f"{e} (the orchestrator logged the details)"),
    (LeoscopeError, EXIT_REFUSED, lambda e, c: str(e)),
)


def explain(exc: BaseException, context: dict[str, str] | None = None) -> tuple[int, str]:
    """(exit code, one-line message) for an error."""
    for kind, code, build in ERRORS:
        if isinstance(exc, kind):
            return code, build(exc, context or {})
    return EXIT_REFUSED, (
        f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)"
    )


COMMAND_ORDER = (
    "login",
    "whoami",
    "profile",
    "job",
    "run",
    "node",
    "user",
    "config",
    "kernel",
    "version",
)


class LeoscopeGroup(TyperGroup):
    """The root command group: turns every error raised by a command into one line + code,
    and lists commands in a reading order (people's commands first, services last)."""

    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda n: (rank.get(n, len(rank)), names.index(n)))

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # The reader went away (`leoscope ... | head`): stop quietly, as other tools do.
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(141) from None
        except Exception as exc:
            state = ctx.obj
            debug = bool(getattr(state, "debug", False))
            context = state.error_context() if hasattr(state, "error_context") else {}
            code, message = explain(exc, context)
            if debug:
                traceback.print_exception(exc)
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(code) from None
