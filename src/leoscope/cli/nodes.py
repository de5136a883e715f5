"""`leoscope node ...`: measurement nodes, scavenger mode, calendars and free slots."""

from __future__ import annotations

from datetime import timedelta

import typer

from leoscope.core.timeutil import iso_z, to_epoch

from .args import DURATION_HELP, TIME_HELP, OutputOption, not_before_now, seconds, when
from .errors import UsageProblem
from .rows import (
    EVENT_COLUMNS,
    NODE_COLUMNS,
    NODE_FIELDS,
    SLOT_COLUMNS,
    event_row,
    node_row,
    slot_row,
)
from .state import get_state
from .timeline import timeline

app = typer.Typer(
    help="Measurement nodes: register, list, update, scavenger mode, calendar, free slots.",
    no_args_is_help=True,
)
scavenger_app = typer.Typer(
    help="Scavenger mode: while on, a node runs no overhead experiments.", no_args_is_help=True
)
app.add_typer(scavenger_app, name="scavenger")


@app.command("register")
def register(
    ctx: typer.Context,
    nodeid: str = typer.Argument(
        ..., metavar="NODE", help="The new node's id (letters, digits, . _ @ -)."
    ),
    coords: str = typer.Option(..., "--coords", help="'<lat>,<lon>' in decimal degrees."),
    name: str = typer.Option("", "--name", help="Display name."),
    description: str = typer.Option("", "--description", help="Free text."),
    location: str = typer.Option("", "--location", help="Location label (for filters)."),
    provider: str = typer.Option("", "--provider", help="Access provider (default starlink)."),
    altitude: float | None = typer.Option(None, "--altitude", help="Altitude in metres."),
    min_elevation: float | None = typer.Option(
        None, "--min-elevation", help="Lowest usable satellite elevation, degrees."
    ),
    quiet_hours: str | None = typer.Option(
        None, "--quiet-hours", help="Scavenger windows: '<cron>@<minutes>' joined by ';'."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the token (scripts)."),
    output: OutputOption = None,
) -> None:
    """Register a node and print its access token, once (admins only).

    The node agent authenticates with the node id and this token.

    Example:

        leoscope node register lab-1 --name "Lab node 1" --coords 47.65,-122.31 --location seattle
    """
    state = get_state(ctx)
    printer = state.printer(output)
    result = state.client().register_node(
        nodeid,
        coords=coords,
        name=name,
        description=description,
        location=location,
        provider=provider,
        altitude_m=altitude,
        min_elevation_deg=min_elevation,
        quiet_hours=quiet_hours,
    )
    if quiet:
        typer.echo(result.token)
        return
    node = state.client().get_node(nodeid)
    if printer.structured:
        printer.dump({"node": node_row(node), "token": result.token})
    else:
        printer.item(node_row(node), NODE_FIELDS)
        printer.note(f"access token: {result.token}")
    printer.note("Keep this token for the node agent now: it won't be shown again.")


@app.command("show")
def show(
    ctx: typer.Context,
    nodeid: str = typer.Argument(..., metavar="NODE", help="Node id."),
    output: OutputOption = None,
) -> None:
    """Show a node.

    Example:

        leoscope node show lab-1
    """
    state = get_state(ctx)
    state.printer(output).item(node_row(state.client().get_node(nodeid)), NODE_FIELDS)


@app.command("list")
def list_nodes(
    ctx: typer.Context,
    active: bool = typer.Option(False, "--active", help="Only nodes heard from recently."),
    active_within: str | None = typer.Option(
        None, "--active-within", help=f"What 'recently' means (default 10m). {DURATION_HELP}"
    ),
    location: str | None = typer.Option(None, "--location", help="Only this location."),
    provider: str | None = typer.Option(None, "--provider", help="Only this provider."),
    output: OutputOption = None,
) -> None:
    """List nodes.

    Example:

        leoscope node list --active --location seattle
    """
    state = get_state(ctx)
    within = seconds(active_within, "--active-within") if active_within else None
    nodes = state.client().list_nodes(
        active=active or within is not None,
        active_within_secs=within,
        location=location,
        provider=provider,
    )
    state.printer(output).rows([node_row(n) for n in nodes], NODE_COLUMNS, "No nodes.")


@app.command("update")
def update(
    ctx: typer.Context,
    nodeid: str = typer.Argument(..., metavar="NODE", help="Node id."),
    name: str | None = typer.Option(None, "--name"),
    description: str | None = typer.Option(None, "--description"),
    coords: str | None = typer.Option(None, "--coords", help="'<lat>,<lon>'."),
    location: str | None = typer.Option(None, "--location"),
    provider: str | None = typer.Option(None, "--provider"),
    public_ip: str | None = typer.Option(None, "--public-ip"),
    altitude: float | None = typer.Option(None, "--altitude", help="Metres."),
    min_elevation: float | None = typer.Option(None, "--min-elevation", help="Degrees."),
    quiet_hours: str | None = typer.Option(
        None, "--quiet-hours", help="'<cron>@<minutes>' windows joined by ';' ('' clears)."
    ),
    output: OutputOption = None,
) -> None:
    """Change a node's details (admins, or the node itself).

    Example:

        leoscope node update lab-1 --location redmond --quiet-hours "0 18 * * *@120"
    """
    state = get_state(ctx)
    printer = state.printer(output)
    changes = {
        "name": name,
        "description": description,
        "coords": coords,
        "location": location,
        "provider": provider,
        "public_ip": public_ip,
        "altitude_m": altitude,
        "min_elevation_deg": min_elevation,
        "quiet_hours": quiet_hours,
    }
    if all(v is None for v in changes.values()):
        raise UsageProblem("nothing to change: give at least one option (see --help)")
    client = state.client()
    client.update_node(nodeid, **changes)  # type: ignore[arg-type]
    printer.item(node_row(client.get_node(nodeid)), NODE_FIELDS)


@app.command("delete")
def delete(
    ctx: typer.Context,
    nodeid: str = typer.Argument(..., metavar="NODE", help="Node id."),
    with_jobs: bool = typer.Option(False, "--with-jobs", help="Also delete the node's jobs."),
) -> None:
    """Delete a node and revoke its token (admins only).

    Example:

        leoscope node delete lab-1 --with-jobs
    """
    state = get_state(ctx)
    state.client().delete_node(nodeid, delete_jobs=with_jobs)
    state.printer().note(f"node {nodeid} deleted" + (" with its jobs" if with_jobs else ""))


def _set_scavenger(ctx: typer.Context, nodeid: str, active: bool) -> None:
    state = get_state(ctx)
    state.client().set_scavenger(nodeid, active)
    state.printer().note(f"scavenger mode {'on' if active else 'off'} for node {nodeid}")


@scavenger_app.command("on")
def scavenger_on(
    ctx: typer.Context, nodeid: str = typer.Argument(..., metavar="NODE", help="Node id.")
) -> None:
    """Turn scavenger mode on: the node stops and refuses overhead runs (admins, the node).

    Example:

        leoscope node scavenger on lab-1
    """
    _set_scavenger(ctx, nodeid, True)


@scavenger_app.command("off")
def scavenger_off(
    ctx: typer.Context, nodeid: str = typer.Argument(..., metavar="NODE", help="Node id.")
) -> None:
    """Turn scavenger mode off (admins, the node).

    Example:

        leoscope node scavenger off lab-1
    """
    _set_scavenger(ctx, nodeid, False)


@scavenger_app.command("status")
def scavenger_status(
    ctx: typer.Context,
    nodeid: str = typer.Argument(..., metavar="NODE", help="Node id."),
    output: OutputOption = None,
) -> None:
    """Show whether scavenger mode is on.

    Example:

        leoscope node scavenger status lab-1
    """
    state = get_state(ctx)
    printer = state.printer(output)
    node = state.client().get_node(nodeid)
    if printer.structured:
        printer.dump({"nodeid": nodeid, "scavenger_mode_active": node.scavenger_mode_active})
    else:
        printer.note(f"scavenger mode is {'on' if node.scavenger_mode_active else 'off'}")


@app.command("calendar")
def calendar(
    ctx: typer.Context,
    nodeid: str = typer.Argument(..., metavar="NODE", help="Node id."),
    start: str = typer.Option("now", "--from", help=f"Window start. {TIME_HELP}"),
    end: str = typer.Option("+1d", "--to", help=f"Window end. {TIME_HELP}"),
    width: int = typer.Option(60, "--width", min=10, max=400, help="Timeline width in cells."),
    output: OutputOption = None,
) -> None:
    """Show a node's planned runs in a window: a table, then a compact timeline.

    Example:

        leoscope node calendar lab-1 --from "tomorrow 06:00" --to "tomorrow 12:00"
    """
    state = get_state(ctx)
    printer = state.printer(output)
    first, last = when(start, state.now, "--from"), when(end, state.now, "--to")
    if last <= first:
        raise UsageProblem("--to must be after --from")
    cal = state.client().calendar(nodeid, first, last)
    rows = [event_row(e) for e in cal.events]
    if printer.structured:
        printer.dump(
            {
                "nodeid": nodeid,
                "from": iso_z(first),
                "to": iso_z(last),
                "truncated": cal.truncated,
                "events": rows,
            }
        )
        return
    printer.rows(rows, EVENT_COLUMNS, f"No runs planned on {nodeid} in this window.")
    if cal.events:
        lanes: dict[str, list[tuple[int, int]]] = {}
        for e in cal.events:
            lanes.setdefault(e.jobid, []).append((to_epoch(e.start), to_epoch(e.end)))
        printer.text("")
        for line in timeline(list(lanes.items()), to_epoch(first), to_epoch(last), width):
            printer.text(line)
    if cal.truncated:
        printer.warn("the orchestrator capped the list; narrow the window to see every run")


@app.command("free-slot")
def free_slot(
    ctx: typer.Context,
    nodeids: list[str] | None = typer.Argument(
        None, metavar="[NODE]...", help="Node ids (or use --location)."
    ),
    length: str = typer.Option(
        ..., "--length", "-l", help=f"How long the slot must be. {DURATION_HELP}"
    ),
    start: str = typer.Option("now", "--from", help=f"Earliest start. {TIME_HELP}"),
    end: str | None = typer.Option(
        None, "--to", help=f"Latest end (default --from +7d). {TIME_HELP}"
    ),
    location: str | None = typer.Option(None, "--location", help="All nodes at this location."),
    provider: str | None = typer.Option(None, "--provider", help="All nodes of this provider."),
    output: OutputOption = None,
) -> None:
    """Find the earliest free slot of a given length on each node.

    Example:

        leoscope node free-slot lab-1 --length 30m --from "tomorrow 08:00" --to "tomorrow 12:00"

        leoscope node free-slot --location seattle --length 1h
    """
    state = get_state(ctx)
    printer = state.printer(output)
    if not nodeids and not (location or provider):
        raise UsageProblem("name nodes, or give --location or --provider")
    secs = seconds(length, "--length")
    first = not_before_now(when(start, state.now, "--from"), state.now, "--from", printer.warn)
    last = when(end, state.now, "--to") if end else first + timedelta(days=7)
    slots = state.client().find_free_slot(
        nodeids or (),
        length_secs=secs,
        not_before=first,
        not_after=last,
        location=location,
        provider=provider,
    )
    printer.rows([slot_row(s) for s in slots], SLOT_COLUMNS, "No matching nodes.")
