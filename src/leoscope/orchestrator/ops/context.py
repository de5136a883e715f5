"""The per-call context handed to every operation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from leoscope.core.errors import PermissionDenied

from ..auth import Principal, allowed
from ..events import EventHub, NodeEvent
from ..store import Store

if TYPE_CHECKING:
    from ..admission import Admission
    from ..cache import ReadCache
    from ..liveness import LivenessRecorder


@dataclass
class Services:
    """Long-lived things operations use; built once by the server."""

    store: Store
    hub: EventHub
    admission: Admission
    liveness: LivenessRecorder
    cache: ReadCache
    artifacts: Any = None  # leoscope.orchestrator.artifact_service.ArtifactService


@dataclass
class Ctx:
    services: Services
    principal: Principal
    now: datetime
    _events: list[NodeEvent] = field(default_factory=list)

    @property
    def store(self) -> Store:
        return self.services.store

    def require(self, rpc: str, **facts: Any) -> None:
        """Raise PermissionDenied (with the reference's text) unless the table allows the call."""
        if not allowed(rpc, self.principal, **facts):
            raise PermissionDenied(self.principal.denial())

    def may(self, rpc: str, **facts: Any) -> bool:
        return allowed(rpc, self.principal, **facts)

    def read(self) -> Any:
        return self.store.read()

    @contextmanager
    def write(self, lock_nodes: Iterable[str] = ()) -> Iterator[Connection]:
        """A write transaction; change notices queued with `notify` go out when it commits."""
        events: list[NodeEvent] = []
        self._events = events
        with self.store.write(lock_nodes) as conn:
            yield conn
            if events:
                self.services.hub.publish_in_transaction(conn, events)
        if events:
            self.services.cache.on_events(events)  # read-your-writes in this process
            self.services.hub.publish_after_commit(events)

    def notify(self, nodeid: str | None, kind: str, **ids: Any) -> None:
        if nodeid:
            self._events.append(NodeEvent(nodeid=nodeid, kind=kind, **ids))
