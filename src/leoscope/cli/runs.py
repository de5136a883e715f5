"""`leoscope run ...`: what happened. (More verbs, e.g. download and logs, join this group.)"""

from __future__ import annotations

import typer

from .args import TIME_HELP, OutputOption, maybe_when
from .rows import RUN_COLUMNS, RUN_FIELDS, run_row
from .state import get_state

app = typer.Typer(help="Runs of experiments: list and show.", no_args_is_help=True)

DEFAULT_LIMIT = 50


@app.command("list")
def list_runs(
    ctx: typer.Context,
    job: str | None = typer.Option(None, "--job", "-j", help="Runs of this job."),
    node: str | None = typer.Option(None, "--node", "-n", help="Runs on this node."),
    user: str | None = typer.Option(None, "--user", "-u", help="Runs of this user (admins)."),
    status: str | None = typer.Option(
        None, "--status", "-s", help="Only this status, e.g. COMPLETE or FAILED."
    ),
    since: str | None = typer.Option(None, "--since", help=f"Started at or after. {TIME_HELP}"),
    until: str | None = typer.Option(None, "--until", help=f"Started at or before. {TIME_HELP}"),
    limit: int = typer.Option(
        DEFAULT_LIMIT, "--limit", min=0, help="At most this many, newest first (0: all)."
    ),
    output: OutputOption = None,
) -> None:
    """List runs, newest first (admins: all; users: their own; nodes: their jobs').

    Example:

        leoscope run list --job ping-hourly --since -1d

        leoscope run list --status FAILED --limit 10 -o json
    """
    state = get_state(ctx)
    printer = state.printer(output)
    runs = state.client().list_runs(
        job=job,
        node=node,
        user=user,
        status=status.upper() if status else None,
        since=maybe_when(since, state.now, "--since"),
        until=maybe_when(until, state.now, "--until"),
        limit=limit or None,
    )
    printer.rows([run_row(r) for r in runs], RUN_COLUMNS, "No runs.")
    if limit and len(runs) == limit:
        if printer.structured:
            return
        printer.note(f"(the newest {limit}; --limit 0 lists all)")


@app.command("show")
def show(
    ctx: typer.Context,
    runid: str = typer.Argument(..., metavar="RUN", help="Run id."),
    output: OutputOption = None,
) -> None:
    """Show one run: status, times, archive.

    Example:

        leoscope run show 3f2a9c0d1e4b4f5a
    """
    state = get_state(ctx)
    state.printer(output).item(run_row(state.client().get_run(runid)), RUN_FIELDS)
