"""`leoscope job ...`: schedule (with dry runs), show, list, delete, reschedule, modify."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

import typer

from leoscope.client import ScheduledJob
from leoscope.core.timeutil import iso_z

from .args import (
    DURATION_HELP,
    TIME_HELP,
    OutputOption,
    experiment_config,
    maybe_seconds,
    maybe_when,
    not_before_now,
    seconds,
    when,
)
from .errors import UsageProblem
from .output import Printer
from .rows import JOB_COLUMNS, JOB_FIELDS, job_row, scheduled_row
from .state import get_state
from .timearg import show_time

app = typer.Typer(
    help="Experiments: schedule, show, list, delete, reschedule, modify.", no_args_is_help=True
)


def generated_id(nodeid: str, first: datetime) -> str:
    """A readable, unique-enough job id: <node>-<yyyymmdd-hhmm>-<4 hex>."""
    return f"{nodeid}-{first:%Y%m%d-%H%M}-{secrets.token_hex(2)}"


def _report(printer: Printer, result: ScheduledJob, nodeid: str) -> None:
    if printer.structured:
        printer.dump(scheduled_row(result))
    elif result.dry_run:
        printer.note(
            f"Dry run: job {result.jobid} is valid and fits the calendar of {nodeid} "
            "(nothing was stored)."
        )
    else:
        printer.note(f"Job {result.jobid} scheduled on {nodeid}.")
    if not printer.structured and result.next_runs:
        printer.note("Next runs:")
        for moment in result.next_runs:
            printer.note(f"  {show_time(moment, printer.now)}")
    for warning in result.warnings:
        printer.warn(warning)


@app.command("schedule")
def schedule(
    ctx: typer.Context,
    node: str = typer.Option(..., "--node", "-n", help="Node to run on."),
    length: str = typer.Option(..., "--length", "-l", help=f"Run length. {DURATION_HELP}"),
    config: Path = typer.Option(..., "--config", "-c", help="Experiment config (YAML file)."),
    at: str | None = typer.Option(None, "--at", help=f"One run at this time. {TIME_HELP}"),
    cron: str | None = typer.Option(None, "--cron", help="Recurring runs: 5-field cron (UTC)."),
    jobid: str | None = typer.Option(None, "--id", help="Job id (default: generated)."),
    start: str | None = typer.Option(None, "--start", help=f"Cron: first day (now). {TIME_HELP}"),
    end: str | None = typer.Option(
        None,
        "--end",
        help="Cron: required, when runs stop. One-shot: latest end when rescheduled "
        f"(default a day after the run). {TIME_HELP}",
    ),
    trigger: str | None = typer.Option(None, "--trigger", help="Condition for each run."),
    trigger_wait: str | None = typer.Option(
        None, "--trigger-wait", help=f"How long a run waits for its trigger. {DURATION_HELP}"
    ),
    server: str | None = typer.Option(None, "--server", help="Paired server node."),
    timezone: str | None = typer.Option(None, "--timezone", help="IANA zone for --cron."),
    overhead: bool = typer.Option(
        True, "--overhead/--no-overhead", help="Exclusive use of the link (conflict-checked)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Validate and check conflicts; store nothing."
    ),
    output: OutputOption = None,
) -> None:
    """Schedule an experiment: one run (--at) or recurring runs (--cron).

    Try it with --dry-run first: it reports conflicts and the next runs without storing.

    Example:

        leoscope job schedule --node lab-1 --at "tomorrow 08:30" --length 5m --config experiment.yaml --dry-run

        leoscope job schedule --id ping-hourly --node lab-1 --cron "0 * * * *" --end +7d --length 5m --config experiment.yaml
    """
    state = get_state(ctx)
    printer = state.printer(output)
    if at is not None and cron is not None:
        raise UsageProblem("give --at (one run) or --cron (recurring runs), not both")
    if at is None and cron is None:
        raise UsageProblem("give --at TIME for one run, or --cron EXPR for recurring runs")
    if cron is not None and end is None:
        raise UsageProblem("--end is required with --cron (e.g. --end +7d)")
    if at is not None and start is not None:
        raise UsageProblem("--start applies to --cron jobs; a one-shot job starts --at")
    length_secs = seconds(length, "--length")
    at_time = maybe_when(at, state.now, "--at")
    start_time = maybe_when(start, state.now, "--start")
    end_time = maybe_when(end, state.now, "--end")
    text = experiment_config(config)
    wait = maybe_seconds(trigger_wait, "--trigger-wait")
    if jobid is None:
        jobid = generated_id(node, at_time or start_time or state.now)
        printer.note(f"No --id given: the job id is {jobid}")
    result = state.client().schedule_job(
        jobid,
        node,
        length_secs=length_secs,
        config=text,
        at=at_time,
        cron=cron,
        start=start_time,
        end=end_time,
        timezone=timezone,
        trigger=trigger,
        trigger_wait_secs=wait,
        server=server,
        overhead=overhead,
        dry_run=dry_run,
    )
    _report(printer, result, node)


@app.command("show")
def show(
    ctx: typer.Context,
    jobid: str = typer.Argument(..., metavar="JOB", help="Job id."),
    output: OutputOption = None,
) -> None:
    """Show a job, including its experiment config (owner, admins).

    Example:

        leoscope job show ping-once -o yaml
    """
    state = get_state(ctx)
    job = state.client().get_job(jobid)
    state.printer(output).item(job_row(job, with_config=True), JOB_FIELDS)


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    node: str | None = typer.Option(None, "--node", "-n", help="Jobs on this node."),
    user: str | None = typer.Option(None, "--user", "-u", help="Jobs of this user (admins)."),
    mine: bool = typer.Option(False, "--mine", help="Only my jobs."),
    expired: bool = typer.Option(False, "--expired", help="With --node: include ended jobs."),
    output: OutputOption = None,
) -> None:
    """List jobs: yours, a user's (admins), or a node's. Admins see every job by default.

    Example:

        leoscope job list --node lab-1

        leoscope job list --mine -o json
    """
    state = get_state(ctx)
    if mine and user:
        raise UsageProblem("give --mine or --user, not both")
    if expired and not node:
        raise UsageProblem("--expired needs --node")
    who = state.settings().user if mine else user
    jobs = state.client().list_jobs(user=who, node=node, include_expired=expired)
    state.printer(output).rows([job_row(j) for j in jobs], JOB_COLUMNS, "No jobs.")


@app.command("delete")
def delete(
    ctx: typer.Context,
    jobids: list[str] | None = typer.Argument(None, metavar="[JOB]...", help="Job ids."),
    node: str | None = typer.Option(None, "--node", "-n", help="Delete every job on a node."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete jobs by id, or every job on a node (admins; asks first unless --yes).

    A run already in progress is not stopped.

    Example:

        leoscope job delete ping-once

        leoscope job delete --node lab-1 --yes
    """
    state = get_state(ctx)
    printer = state.printer()
    if bool(jobids) == bool(node):
        raise UsageProblem("give job ids, or --node NODE to delete every job on a node")
    client = state.client()
    if node:
        if not yes:
            try:
                confirmed = typer.confirm(f"Delete every job on node {node}?", default=False)
            except typer.Abort:
                confirmed = False
            if not confirmed:
                raise UsageProblem("not confirmed; nothing was deleted (--yes skips the question)")
        count = client.delete_jobs_on_node(node)
        printer.note(f"deleted {count} job{'s' if count != 1 else ''} on node {node}")
        return
    for jobid in jobids or ():
        client.delete_job(jobid)
        printer.note(f"job {jobid} deleted")


@app.command("reschedule")
def reschedule(
    ctx: typer.Context,
    jobid: str = typer.Argument(..., metavar="JOB", help="A one-shot job's id."),
    start: str = typer.Option("now", "--from", help=f"Earliest new start. {TIME_HELP}"),
    end: str | None = typer.Option(
        None, "--to", help=f"Latest end (default: the job's end). {TIME_HELP}"
    ),
    output: OutputOption = None,
) -> None:
    """Move a one-shot job to the earliest free slot in a window.

    Example:

        leoscope job reschedule ping-once --from "tomorrow 10:10"
    """
    state = get_state(ctx)
    printer = state.printer(output)
    first = not_before_now(when(start, state.now, "--from"), state.now, "--from", printer.warn)
    moved = state.client().reschedule_job(
        jobid, not_before=first, not_after=maybe_when(end, state.now, "--to")
    )
    if printer.structured:
        printer.dump({"jobid": jobid, "start": iso_z(moved)})
    else:
        printer.note(f"Job {jobid} now starts at {show_time(moved, state.now)}.")


@app.command("modify")
def modify(
    ctx: typer.Context,
    jobid: str = typer.Argument(..., metavar="JOB", help="Job id."),
    cron: str | None = typer.Option(None, "--cron", help="New cron expression."),
    at: str | None = typer.Option(None, "--at", help=f"New one-shot time. {TIME_HELP}"),
    start: str | None = typer.Option(None, "--start", help=f"New start. {TIME_HELP}"),
    end: str | None = typer.Option(None, "--end", help=f"New end. {TIME_HELP}"),
    length: str | None = typer.Option(None, "--length", "-l", help=f"New length. {DURATION_HELP}"),
    config: Path | None = typer.Option(None, "--config", "-c", help="New experiment config."),
    trigger: str | None = typer.Option(None, "--trigger", help="New trigger ('' removes it)."),
    trigger_wait: str | None = typer.Option(None, "--trigger-wait", help=DURATION_HELP),
    timezone: str | None = typer.Option(None, "--timezone", help="New IANA zone for --cron."),
    overhead: bool | None = typer.Option(None, "--overhead/--no-overhead", help="New kind."),
    output: OutputOption = None,
) -> None:
    """Change a job in place, through the same checks as schedule (owner, admins).

    Example:

        leoscope job modify ping-hourly --length 10m
    """
    state = get_state(ctx)
    printer = state.printer(output)
    if at is not None and start is not None:
        raise UsageProblem("give --at or --start, not both")
    given = (cron, at, start, end, length, config, trigger, trigger_wait, timezone, overhead)
    if all(v is None for v in given):
        raise UsageProblem("nothing to change: give at least one option (see --help)")
    client = state.client()
    client.modify_job(
        jobid,
        cron=cron,
        start=maybe_when(at if at is not None else start, state.now, "--at/--start"),
        end=maybe_when(end, state.now, "--end"),
        length_secs=maybe_seconds(length, "--length"),
        trigger=trigger,
        config=experiment_config(config) if config is not None else None,
        timezone=timezone,
        overhead=overhead,
        trigger_wait_secs=maybe_seconds(trigger_wait, "--trigger-wait"),
    )
    job = client.get_job(jobid)
    if not printer.structured:
        printer.note(f"Job {jobid} modified.")
    printer.item(job_row(job, with_config=True), JOB_FIELDS)
