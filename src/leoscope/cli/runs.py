"""`leoscope run ...`: what happened, and the results (archives, logs) runs produced."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from .args import TIME_HELP, OutputOption, maybe_when
from .errors import UsageProblem
from .rows import RUN_COLUMNS, RUN_FIELDS, run_row
from .state import get_state

app = typer.Typer(
    help="Runs of experiments: list, show, download their archives, print their logs.",
    no_args_is_help=True,
)

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
    """Show one run: status, times, archive, and the files in its archive.

    Example:

        leoscope run show 3f2a9c0d1e4b4f5a
    """
    from leoscope.client import LeoscopeError, NotFound

    from .archives import FILE_COLUMNS, archive_files, has_archive

    state = get_state(ctx)
    printer = state.printer(output)
    client = state.client()
    run = client.get_run(runid)
    row = run_row(run)
    files: list[dict[str, object]] = []
    problem = None
    if has_archive(run):
        try:
            files = archive_files(client, runid)
        except NotFound:
            problem = "the archive is not in the store (yet)"
        except LeoscopeError as exc:
            problem = f"cannot read the archive: {exc}"
    if printer.structured:
        printer.dump({**row, "files": files})
        return
    printer.item(row, RUN_FIELDS)
    if files:
        printer.text("")
        printer.rows(files, FILE_COLUMNS, "")
    elif problem:
        printer.warn(problem)


@app.command("download")
def download(
    ctx: typer.Context,
    runids: list[str] | None = typer.Argument(
        None, metavar="[RUN]...", help="Run ids (or select runs with --job/--since/--until)."
    ),
    job: str | None = typer.Option(None, "--job", "-j", help="Every run of this job."),
    since: str | None = typer.Option(None, "--since", help=f"Started at or after. {TIME_HELP}"),
    until: str | None = typer.Option(None, "--until", help=f"Started at or before. {TIME_HELP}"),
    dest: Path = typer.Option(Path("."), "--dest", "-d", help="Directory for the <run>.zip files."),
    extract: bool = typer.Option(False, "--extract", help="Also unpack each into DEST/<run>/."),
    output: OutputOption = None,
) -> None:
    """Download run archives through signed URLs: resumed, SHA-256 verified, never twice.

    Example:

        leoscope run download 3f2a9c0d1e4b4f5a --dest results --extract

        leoscope run download --job ping-hourly --since -1d --dest results
    """
    from rich.console import Console

    from .archives import DOWNLOAD_COLUMNS, download_runs, select_runs

    if not runids and job is None and since is None and until is None:
        raise UsageProblem("name runs (RUN...), or select them with --job, --since or --until")
    state = get_state(ctx)
    printer = state.printer(output)
    runs = select_runs(
        state.client(),
        runids or [],
        job=job,
        since=maybe_when(since, state.now, "--since"),
        until=maybe_when(until, state.now, "--until"),
    )
    rows, failures = download_runs(
        state.client(), runs, dest, extract=extract, console=Console(stderr=True)
    )
    printer.rows(rows, DOWNLOAD_COLUMNS, "No runs with an archive.")
    if failures:
        typer.echo(f"error: {failures} of {len(rows)} download(s) failed", err=True)
        raise typer.Exit(1)


@app.command("logs")
def logs(
    ctx: typer.Context,
    runid: str = typer.Argument(..., metavar="RUN", help="Run id."),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing from newer partial snapshots until it ends."
    ),
    interval: float = typer.Option(
        2.0, "--interval", min=0.1, help="Seconds between checks with --follow."
    ),
) -> None:
    """Print a run's executor and container logs from its archive.

    Example:

        leoscope run logs 3f2a9c0d1e4b4f5a

        leoscope run logs 3f2a9c0d1e4b4f5a --follow
    """
    from .archives import follow_logs

    state = get_state(ctx)
    follow_logs(state.client(), runid, sys.stdout, follow=follow, interval=interval)
