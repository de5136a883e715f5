"""`leoscope user ...`: register, show, list, update and delete users (admins)."""

from __future__ import annotations

from enum import StrEnum

import typer

from leoscope.client import Role

from .args import OutputOption
from .rows import USER_COLUMNS, user_row
from .state import get_state

app = typer.Typer(
    help="Manage users (admins): register, show, list, update, delete.", no_args_is_help=True
)


class RoleName(StrEnum):
    admin = "admin"
    user = "user"
    user_priv = "user_priv"
    node = "node"
    node_priv = "node_priv"

    @property
    def role(self) -> Role:
        return Role[self.value.upper()]


@app.command("register")
def register(
    ctx: typer.Context,
    userid: str = typer.Argument(
        ..., metavar="USER", help="The new user's id (letters, digits, . _ @ -)."
    ),
    name: str = typer.Option("", "--name", help="Full name."),
    role: RoleName = typer.Option(RoleName.user, "--role", case_sensitive=False, help="Role."),
    team: str = typer.Option("", "--team", help="Team or organisation."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the token (scripts)."),
    output: OutputOption = None,
) -> None:
    """Register a user and print its access token, once (admins only).

    Example:

        leoscope user register alice --name "Alice Liddell" --team wonderland

        ALICE_TOKEN=$(leoscope user register alice --quiet)
    """
    state = get_state(ctx)
    printer = state.printer(output)
    result = state.client().register_user(userid, name=name, role=role.role, team=team)
    if quiet:
        typer.echo(result.token)
        return
    if printer.structured:
        printer.dump({"user": user_row(result.user), "token": result.token})
    else:
        printer.item(user_row(result.user), USER_COLUMNS)
        printer.note(f"access token: {result.token}")
    printer.note("Keep this token now: it won't be shown again.")


@app.command("show")
def show(
    ctx: typer.Context,
    userid: str = typer.Argument(..., metavar="USER", help="User id."),
    output: OutputOption = None,
) -> None:
    """Show a user (admins: anyone; others: themselves).

    Example:

        leoscope user show alice
    """
    state = get_state(ctx)
    state.printer(output).item(user_row(state.client().get_user(userid)), USER_COLUMNS)


@app.command("list")
def list_users(ctx: typer.Context, output: OutputOption = None) -> None:
    """List every user, nodes included (admins only).

    Example:

        leoscope user list -o json
    """
    state = get_state(ctx)
    users = state.client().list_users()
    state.printer(output).rows([user_row(u) for u in users], USER_COLUMNS, "No users.")


@app.command("update")
def update(
    ctx: typer.Context,
    userid: str = typer.Argument(..., metavar="USER", help="User id."),
    name: str | None = typer.Option(None, "--name", help="New full name."),
    role: RoleName | None = typer.Option(None, "--role", case_sensitive=False, help="New role."),
    team: str | None = typer.Option(None, "--team", help="New team."),
    output: OutputOption = None,
) -> None:
    """Change a user's name, role or team; the token stays valid (admins only).

    Example:

        leoscope user update alice --role user_priv
    """
    state = get_state(ctx)
    printer = state.printer(output)
    updated = state.client().update_user(
        userid, name=name, role=role.role if role else None, team=team
    )
    printer.item(user_row(updated), USER_COLUMNS)


@app.command("delete")
def delete(
    ctx: typer.Context,
    userids: list[str] = typer.Argument(..., metavar="USER...", help="User ids."),
) -> None:
    """Delete users and revoke their tokens (admins only; delete nodes with `node delete`).

    Example:

        leoscope user delete alice
    """
    state = get_state(ctx)
    client = state.client()
    printer = state.printer()
    for userid in userids:
        client.delete_user(userid)
        printer.note(f"user {userid} deleted")
