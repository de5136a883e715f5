"""Measurement nodes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from leoscope.core.errors import Conflict
from leoscope.core.model import Node

from .schema import nodes


def _node(row: Row) -> Node:
    return Node(
        nodeid=row.nodeid,
        name=row.name,
        description=row.description,
        coords=row.coords,
        location=row.location,
        provider=row.provider,
        last_active=row.last_active,
        scavenger_mode_active=bool(row.scavenger_mode_active),
        public_ip=row.public_ip,
        altitude_m=row.altitude_m,
        min_elevation_deg=row.min_elevation_deg,
        quiet_hours=row.quiet_hours,
    )


# Hot-path statements are built once; SQLAlchemy caches their compiled form.
_GET = select(nodes).where(nodes.c.nodeid == bindparam("nodeid"))
_EXISTS = select(nodes.c.nodeid).where(nodes.c.nodeid == bindparam("nodeid"))
_TOUCH = (
    update(nodes)
    .where(nodes.c.nodeid == bindparam("n"))
    .where(or_(nodes.c.last_active.is_(None), nodes.c.last_active < bindparam("t")))
    .values(last_active=bindparam("t"))
)


def get(conn: Connection, nodeid: str) -> Node | None:
    row = conn.execute(_GET, {"nodeid": nodeid}).first()
    return _node(row) if row else None


def exists(conn: Connection, nodeid: str) -> bool:
    return conn.execute(_EXISTS, {"nodeid": nodeid}).first() is not None


def touch_many(conn: Connection, last_active: dict[str, datetime]) -> None:
    """Move `last_active` forward (never back) for many nodes in one statement."""
    conn.execute(_TOUCH, [{"n": n, "t": t} for n, t in last_active.items()])


def find(
    conn: Connection,
    *,
    nodeid: str | None = None,
    location: str | None = None,
    name: str | None = None,
    provider: str | None = None,
) -> list[Node]:
    query = select(nodes).order_by(nodes.c.nodeid)
    for column, value in (
        (nodes.c.nodeid, nodeid),
        (nodes.c.location, location),
        (nodes.c.name, name),
        (nodes.c.provider, provider),
    ):
        if value:
            query = query.where(column == value)
    return [_node(r) for r in conn.execute(query)]


def add(conn: Connection, node: Node, now: datetime) -> None:
    try:
        with conn.begin_nested():
            conn.execute(
                insert(nodes).values(
                    nodeid=node.nodeid,
                    name=node.name,
                    description=node.description,
                    coords=node.coords,
                    location=node.location,
                    provider=node.provider,
                    last_active=node.last_active,
                    scavenger_mode_active=False,
                    public_ip="",
                    altitude_m=node.altitude_m,
                    min_elevation_deg=node.min_elevation_deg,
                    quiet_hours=node.quiet_hours,
                    created_at=now,
                )
            )
    except IntegrityError:
        raise Conflict("node with the given id exists") from None


def change(conn: Connection, nodeid: str, **values: Any) -> bool:
    """Set the given columns; False when the node does not exist."""
    if not values:
        return exists(conn, nodeid)
    result = conn.execute(update(nodes).where(nodes.c.nodeid == nodeid).values(**values))
    return result.rowcount > 0


def remove(conn: Connection, nodeid: str) -> bool:
    return conn.execute(delete(nodes).where(nodes.c.nodeid == nodeid)).rowcount > 0
