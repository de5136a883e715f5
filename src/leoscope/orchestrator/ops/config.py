"""The global config document."""

from __future__ import annotations

from typing import Any

from leoscope.core.errors import InvalidInput, NotFound

from ..store import config_doc
from .context import Ctx

MASK = "********"
SECRET_KEYS = frozenset({"connectionString", "apikey", "s3SecretKey", "s3AccessKey"})


def update(ctx: Ctx, document: dict[str, Any]) -> str:
    """Present top-level groups replace the stored ones wholesale (reference semantics)."""
    ctx.require("update_global_config")
    store_url = document.get("datastore", {}).get("store", {}).get("url")
    if store_url is not None and store_url.split("://")[0] not in ("local", "azure", "s3"):
        raise InvalidInput("datastore.store.url", "must start with local://, azure:// or s3://")
    with ctx.write() as conn:
        current = config_doc.load(conn) or {}
        current.update({k: v for k, v in document.items() if v})
        config_doc.save(conn, current, ctx.now)
        ctx.notify("*", "config")  # every watching node re-reads it (e.g. a new weather key)
    return "config updated"


def load(ctx: Ctx) -> dict[str, Any]:
    """The stored document, its secrets masked unless the caller may see them."""
    with ctx.read() as conn:
        document = config_doc.load(conn)
    if document is None:
        raise NotFound("config", "global", "global config not set")
    return document if ctx.may("get_global_config") else mask(document)


def mask(document: Any) -> Any:
    if isinstance(document, dict):
        return {k: (MASK if k in SECRET_KEYS and v else mask(v)) for k, v in document.items()}
    return document
