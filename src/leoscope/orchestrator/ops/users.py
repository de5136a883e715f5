"""Users and the kernel-service access check."""

from __future__ import annotations

from leoscope.core.errors import InvalidInput, NotFound
from leoscope.core.model import Role, User
from leoscope.core.validation import check_id, check_text

from ..auth import issue_token
from ..store import nodes as node_store
from ..store import users as user_store
from .context import Ctx


def parse_role(value: int, field: str = "role") -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(field, f"{value} is not a role (0=ADMIN .. 4=NODE_PRIV)") from None


def register_user(ctx: Ctx, userid: str, name: str, role: int, team: str) -> str:
    """Create a user; returns the reference's success message carrying the token (once)."""
    ctx.require("register_user")
    check_id("id", userid)
    check_text("name", name)
    check_text("team", team)
    user = User(id=userid, name=name, role=parse_role(role), team=team)
    token, digest = issue_token()
    with ctx.write() as conn:
        user_store.add(conn, user, digest, ctx.now)
        ctx.notify(userid, "user")
    return f"user registered access_token={token}"


def get_user(ctx: Ctx, userid: str) -> User:
    check_id("userid", userid)
    ctx.require("get_user", userid=userid)
    with ctx.read() as conn:
        user = user_store.get(conn, userid)
    if user is None:
        raise NotFound("user", userid, "user with given id does not exist")
    return user


def list_users(ctx: Ctx) -> list[User]:
    ctx.require("get_users")
    with ctx.read() as conn:
        return user_store.list_all(conn)


def modify_user(ctx: Ctx, userid: str, name: str, role: int, team: str) -> str:
    ctx.require("modify_user")
    check_id("id", userid)
    new_role = parse_role(role)
    check_text("name", name)
    check_text("team", team)
    with ctx.write() as conn:
        if not user_store.modify(conn, userid, name, new_role, team):
            raise NotFound("user", userid, "user with given id does not exist")
        ctx.notify(userid, "user")
    return "user updated"


def delete_user(ctx: Ctx, userid: str) -> str:
    ctx.require("delete_user")
    check_id("userid", userid)
    if userid in ("admin", ctx.principal.userid):
        raise InvalidInput("userid", "the bootstrap admin and your own account cannot be deleted")
    with ctx.write() as conn:
        if node_store.exists(conn, userid):
            raise InvalidInput("userid", f"{userid!r} is a node; delete it with delete_node")
        if not user_store.remove(conn, userid):
            raise NotFound("user", userid, "user with given id does not exist")
        ctx.notify(userid, "user")
    return "user deleted"


def kernel_access(ctx: Ctx, userid: str) -> tuple[bool, str]:
    """Whether `userid` may use kernel services; (granted, reference message)."""
    ctx.require("kernel_access")
    check_id("userid", userid)
    with ctx.read() as conn:
        user = user_store.get(conn, userid)
    if user is None:
        return False, f"userid={userid} does not exist"
    if user.role.has_kernel_access:
        return True, f"userid={userid} role={user.role.name} has access to kernel services"
    return False, (
        f"userid={userid} role={user.role.name} does not have access to kernel services "
        "(higher access level required)"
    )
