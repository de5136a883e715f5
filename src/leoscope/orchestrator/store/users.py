"""Users (people and nodes share one table: a node is a user with role NODE)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from leoscope.core.errors import Conflict
from leoscope.core.model import Role, User

from .schema import users


def _user(row: Row) -> User:
    return User(id=row.id, name=row.name, role=Role(row.role), team=row.team)


def get(conn: Connection, userid: str) -> User | None:
    row = conn.execute(select(users).where(users.c.id == userid)).first()
    return _user(row) if row else None


_GET = select(users).where(users.c.id == bindparam("id"))


def get_with_hashes(conn: Connection, userid: str) -> tuple[User, str | None, str | None] | None:
    row = conn.execute(_GET, {"id": userid}).first()
    if row is None:
        return None
    return _user(row), row.token_sha256, row.access_token_sha256


def list_all(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(select(users).order_by(users.c.id))]


def exists(conn: Connection, userid: str) -> bool:
    return conn.execute(select(users.c.id).where(users.c.id == userid)).first() is not None


def add(conn: Connection, user: User, token_sha256: str, now: datetime) -> None:
    """Insert a user; raises Conflict when the id is taken (the primary key decides)."""
    try:
        with conn.begin_nested():
            conn.execute(
                insert(users).values(
                    id=user.id,
                    name=user.name,
                    role=int(user.role),
                    team=user.team,
                    token_sha256=token_sha256,
                    access_token_sha256=None,
                    created_at=now,
                )
            )
    except IntegrityError:
        raise Conflict("user with given id already exists") from None


def put_bootstrap_admin(conn: Connection, token_sha256: str, now: datetime) -> None:
    """Re-assert the bootstrap user `admin` with the admin token in both slots."""
    conn.execute(delete(users).where(users.c.id == "admin"))
    conn.execute(
        insert(users).values(
            id="admin",
            name="LEOScope Admin",
            role=int(Role.ADMIN),
            team="LeoScope MSR-India",
            token_sha256=token_sha256,
            access_token_sha256=token_sha256,
            created_at=now,
        )
    )


def modify(conn: Connection, userid: str, name: str, role: Role, team: str) -> bool:
    """Change name, role and team only; the tokens stay (the reference blanked them)."""
    result = conn.execute(
        update(users).where(users.c.id == userid).values(name=name, role=int(role), team=team)
    )
    return result.rowcount > 0


def remove(conn: Connection, userid: str) -> bool:
    return conn.execute(delete(users).where(users.c.id == userid)).rowcount > 0
