"""`leoscope kernel ...`: kernel-service access (what nodes ask before tuning the kernel)."""

from __future__ import annotations

import typer

from .args import OutputOption
from .rows import kernel_row
from .state import get_state

app = typer.Typer(help="Kernel services: who may tune a node's kernel.", no_args_is_help=True)


@app.command("check")
def check(
    ctx: typer.Context,
    userid: str = typer.Argument(..., metavar="USER", help="The user to check."),
    output: OutputOption = None,
) -> None:
    """Check whether a user may use kernel services (admins and nodes ask). Exits 1 if not.

    Example:

        leoscope kernel check alice
    """
    state = get_state(ctx)
    printer = state.printer(output)
    access = state.client().kernel_access(userid)
    if printer.structured:
        printer.dump(kernel_row(access))
    else:
        printer.note(f"{'granted' if access.granted else 'denied'}: {access.message}")
    if not access.granted:
        raise typer.Exit(1)
