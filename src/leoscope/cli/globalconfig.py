"""`leoscope config ...`: the orchestrator's global config (storage, weather key)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from leoscope.client import InvalidInput, load_global_config

from .args import OutputOption, read_file
from .errors import UsageProblem
from .output import Column
from .rows import config_document, flatten
from .state import get_state

app = typer.Typer(
    help="The global config: artifact storage and the weather API key.", no_args_is_help=True
)


@app.command("show")
def show(
    ctx: typer.Context,
    reveal: bool = typer.Option(False, "--reveal", help="Show secrets (admins and nodes)."),
    output: OutputOption = None,
) -> None:
    """Show the global config, secrets masked unless --reveal.

    `-o json --reveal` prints the global_config.json shape that `config set` reads.

    Example:

        leoscope config show

        leoscope config show -o json --reveal > global_config.json
    """
    state = get_state(ctx)
    printer = state.printer(output)
    document = config_document(state.client().get_global_config(), reveal)
    if printer.structured:
        printer.dump(document)
        return
    flat = flatten(document)
    printer.item(flat, [Column(k, k) for k in flat])


@app.command("set")
def set_config(
    ctx: typer.Context,
    path: Path = typer.Argument(
        ..., metavar="FILE", help="A JSON file in the reference global_config.json shape."
    ),
) -> None:
    """Store the global config from a file (admins only).

    Each top-level group in the file (datastore, weather) replaces the stored one.

    Example:

        leoscope config set global_config.json
    """
    state = get_state(ctx)
    text = read_file(path, "FILE")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageProblem(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise UsageProblem(f'{path} must hold a JSON object such as {{"weather": {{...}}}}')
    try:
        config = load_global_config(document)
    except InvalidInput as exc:
        raise UsageProblem(f"{path}: {exc.problem}") from None
    state.client().set_global_config(config)
    groups = ", ".join(sorted(document)) or "nothing"
    state.printer().note(f"global config updated ({groups})")
