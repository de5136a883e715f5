"""The orchestrator's datastore: schema, migrations and queries (SQLAlchemy Core)."""

from .engine import Store, normalize_url, redact

__all__ = ["Store", "normalize_url", "redact"]
