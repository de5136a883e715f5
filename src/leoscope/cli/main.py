"""The `leoscope` command: groups are registered here."""

from __future__ import annotations

import typer

from .orchestrator import orchestrator

app = typer.Typer(
    name="leoscope",
    help="LEOScope: network experiments over LEO satellite broadband.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("orchestrator")(orchestrator)


@app.callback()
def main() -> None:
    """LEOScope: network experiments over LEO satellite broadband."""


def run() -> None:
    app()
