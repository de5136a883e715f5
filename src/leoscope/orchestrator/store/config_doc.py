"""The global config: exactly one stored document."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from .schema import config


def load(conn: Connection) -> dict[str, Any] | None:
    row = conn.execute(select(config.c.document).where(config.c.id == 0)).first()
    return json.loads(row.document) if row else None


def save(conn: Connection, document: dict[str, Any], now: datetime) -> None:
    text = json.dumps(document, sort_keys=True)
    if conn.execute(select(config.c.id).where(config.c.id == 0)).first() is None:
        conn.execute(insert(config).values(id=0, document=text, updated_at=now))
    else:
        conn.execute(update(config).where(config.c.id == 0).values(document=text, updated_at=now))
