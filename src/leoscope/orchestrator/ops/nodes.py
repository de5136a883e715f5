"""Nodes, heartbeats and the scavenger flag."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from datetime import timedelta
from typing import Any

from leoscope.core.errors import Conflict, InvalidInput, NotFound
from leoscope.core.model import Job, Node, Role, User
from leoscope.core.quiet_hours import parse_quiet_hours
from leoscope.core.timeutil import parse_time
from leoscope.core.validation import check_id, check_text, parse_coords

from ..auth import issue_token
from ..store import jobs as job_store
from ..store import nodes as node_store
from ..store import users as user_store
from .context import Ctx

DEFAULT_DESCRIPTION = "Leopard Node"
DEFAULT_PROVIDER = "starlink"
DEFAULT_ACTIVE_THRESHOLD_SECS = 600
NODE_MISSING = "node with given id does not exist"


def check_public_ip(value: str) -> str:
    if value:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise InvalidInput("public_ip", f"{value!r} is not an IP address") from None
    return value


def check_quiet_hours(value: str | None) -> str | None:
    """Quiet hours: `<cron>@<minutes>` windows joined by ';' (scavenger mode on in each)."""
    parse_quiet_hours(value)
    return value


def check_node_extras(altitude_m: float | None, min_elevation_deg: float | None) -> None:
    if altitude_m is not None and not -500 <= altitude_m <= 10000:
        raise InvalidInput("altitude_m", "must be between -500 and 10000 metres")
    if min_elevation_deg is not None and not 0 <= min_elevation_deg <= 90:
        raise InvalidInput("min_elevation_deg", "must be between 0 and 90 degrees")


def cached_node(ctx: Ctx, nodeid: str) -> Node | None:
    """The node's record through the read cache (the poll path asks for it every tick)."""

    def load() -> Node | None:
        with ctx.read() as conn:
            return node_store.get(conn, nodeid)

    return ctx.services.cache.get(("node", nodeid), load)


def register_node(ctx: Ctx, node: Node) -> str:
    ctx.require("register_node")
    check_id("nodeid", node.nodeid)
    parse_coords(node.coords)
    for field in ("name", "description", "location", "provider"):
        check_text(field, getattr(node, field))
    check_node_extras(node.altitude_m, node.min_elevation_deg)
    check_quiet_hours(node.quiet_hours)
    node = Node(
        nodeid=node.nodeid,
        name=node.name,
        description=node.description or DEFAULT_DESCRIPTION,
        coords=node.coords,
        location=node.location,
        provider=node.provider or DEFAULT_PROVIDER,
        altitude_m=node.altitude_m,
        min_elevation_deg=node.min_elevation_deg,
        quiet_hours=node.quiet_hours,
    )
    token, digest = issue_token()
    with ctx.write() as conn:
        if user_store.exists(conn, node.nodeid):
            if node_store.exists(conn, node.nodeid):
                raise Conflict("node with the given id exists")
            raise Conflict("a user with the given id exists; choose another node id")
        node_store.add(conn, node, ctx.now)
        user = User(id=node.nodeid, name=node.name, role=Role.NODE, team=node.description)
        user_store.add(conn, user, digest, ctx.now)
        ctx.notify(node.nodeid, "node")
    return f"node successfully registered access_token={token}"


def get_nodes(
    ctx: Ctx,
    *,
    nodeid: str | None = None,
    location: str | None = None,
    name: str | None = None,
    provider: str | None = None,
    active: bool = False,
    active_thres_secs: int | None = None,
) -> list[tuple[Node, list[Job]]]:
    """Matching nodes, each with its live jobs (for the `jobs` summary)."""
    ctx.require("get_nodes")
    thres = active_thres_secs or DEFAULT_ACTIVE_THRESHOLD_SECS
    if thres < 0:
        raise InvalidInput("activeThres", "must not be negative")
    since = ctx.now - timedelta(seconds=thres) if active else None
    liveness = ctx.services.liveness
    with ctx.read() as conn:
        found = [
            replace(n, last_active=liveness.overlay(n.nodeid, n.last_active))
            for n in node_store.find(
                conn, nodeid=nodeid, location=location, name=name, provider=provider
            )
        ]
        if since is not None:
            found = [n for n in found if n.last_active is not None and n.last_active >= since]
        live = (
            job_store.on_nodes(conn, [n.nodeid for n in found], active_at=ctx.now) if found else []
        )
    by_node: dict[str, list[Job]] = {}
    for job in live:
        for n in job.nodes:
            by_node.setdefault(n, []).append(job)
    return [(n, by_node.get(n.nodeid, [])) for n in found]


def update_node(ctx: Ctx, nodeid: str, changes: dict[str, Any]) -> str:
    """Change the present fields only; `changes` maps field names to new values."""
    check_id("nodeid", nodeid)
    ctx.require("update_node", nodeid=nodeid)
    values: dict[str, Any] = {}
    for field, value in changes.items():
        if field == "last_active":
            values[field] = parse_time(value, "last_active")
        elif field == "coords":
            parse_coords(value)
            values[field] = value
        elif field == "public_ip":
            values[field] = check_public_ip(value)
        elif field in ("name", "description", "location", "provider"):
            values[field] = check_text(field, value)
        elif field == "quiet_hours":
            values[field] = check_quiet_hours(value) or None
        elif field in ("altitude_m", "min_elevation_deg"):
            values[field] = value
        else:  # pragma: no cover - the servicer only passes known fields
            raise InvalidInput(field, "cannot be changed")
    check_node_extras(values.get("altitude_m"), values.get("min_elevation_deg"))
    # Nodes send their (usually unchanged) public IP every tick: a no-op costs no write.
    before = cached_node(ctx, nodeid)
    if before is None:
        raise NotFound("node", nodeid, NODE_MISSING)
    if all(getattr(before, k) == v for k, v in values.items()):
        return "updated node successfully"
    with ctx.write() as conn:
        if not node_store.change(conn, nodeid, **values):
            raise NotFound("node", nodeid, NODE_MISSING)
        ctx.notify(nodeid, "node")
    return "updated node successfully"


def delete_node(ctx: Ctx, nodeid: str, delete_jobs: bool) -> str:
    ctx.require("delete_node")
    check_id("nodeid", nodeid)
    with ctx.write() as conn:
        if not node_store.remove(conn, nodeid):
            raise NotFound("node", nodeid, NODE_MISSING)
        user_store.remove(conn, nodeid)
        if delete_jobs:
            for job in job_store.remove_on_node(conn, nodeid):
                ctx.notify(job.server, "jobs", jobid=job.id)
        ctx.notify(nodeid, "node")
    return "node deleted"


def report_heartbeat(ctx: Ctx, nodeid: str) -> bool:
    """True when the caller's own node was marked active."""
    check_id("nodeid", nodeid)
    if not ctx.may("report_heartbeat", nodeid=nodeid):
        return False
    if cached_node(ctx, nodeid) is None:
        return False
    ctx.services.liveness.mark(nodeid, ctx.now)
    return True


def set_scavenger(ctx: Ctx, nodeid: str, active: bool) -> str:
    check_id("nodeid", nodeid)
    ctx.require("set_scavenger_status", nodeid=nodeid)
    with ctx.write() as conn:
        if not node_store.change(conn, nodeid, scavenger_mode_active=active):
            raise NotFound("node", nodeid, NODE_MISSING)
        ctx.notify(nodeid, "scavenger", scavenger_mode_active=active)
    return "updated scavenger_mode_status successfully"


def get_scavenger(ctx: Ctx, nodeid: str) -> Node:
    check_id("nodeid", nodeid)
    ctx.require("get_scavenger_status", nodeid=nodeid)
    node = cached_node(ctx, nodeid)
    if node is None:
        raise NotFound("node", nodeid, NODE_MISSING)
    return node
