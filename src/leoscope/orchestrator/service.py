"""The gRPC servicer: authenticate, run the handler in a worker thread, answer refusals.

Refusals are answered the way the wire contract requires, in one table (`FAILURES`): reference
RPCs report them inside the response under status OK (`state=FAILED`, `exists=false`, ...),
because reference clients retry forever on error statuses. List RPCs, which have no field for a
message, answer an empty list under OK and carry the reason in the trailing metadata key
`x-leoscope-error` (our SDK reads it). LEOScope's own RPCs use ordinary status codes. No call
ever ends in `UNKNOWN`: anything unexpected is logged with its traceback and answered INTERNAL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from prometheus_client import Counter, Histogram

from leoscope.api import leotest_pb2 as pb
from leoscope.api import leotest_pb2_grpc as pb_grpc
from leoscope.core.errors import (
    AuthenticationError,
    Conflict,
    InvalidInput,
    LeoscopeError,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from leoscope.core.timeutil import from_epoch, iso_z, utcnow

from .auth import Principal, allowed, authenticate, last_values
from .handlers import Handlers
from .ops.context import Ctx, Services
from .store import users as user_store

log = logging.getLogger(__name__)

ERROR_TRAILER = "x-leoscope-error"
FIELD_TRAILER = "x-leoscope-field"

RPC_SECONDS = Histogram("leoscope_rpc_seconds", "RPC handling time", ["rpc"])
RPC_REFUSED = Counter("leoscope_rpc_refused_total", "RPCs answered with a refusal", ["rpc"])


def _state_failure(response: type) -> Callable[[LeoscopeError], Any]:
    def build(exc: LeoscopeError) -> Any:
        return response(state=pb.FAILED, message=str(exc))

    return build


def _with_details(response: Any, exc: LeoscopeError) -> Any:
    """Add the offending field and the structured conflicts (LEOScope extensions)."""
    if isinstance(exc, InvalidInput):
        response.field = exc.field
    if isinstance(exc, Conflict) and hasattr(response, "conflicts"):
        for c in exc.conflicts:
            response.conflicts.add(
                jobid=c.jobid,
                nodeid=c.nodeid,
                start=iso_z(from_epoch(c.start)),
                end=iso_z(from_epoch(c.end)),
            )
    return response


def _schedule_failure(exc: LeoscopeError) -> Any:
    return _with_details(pb.message_schedule_job_response(state=pb.FAILED, message=str(exc)), exc)


def _modify_failure(exc: LeoscopeError) -> Any:
    return _with_details(pb.message_modify_job_response(state=pb.FAILED, message=str(exc)), exc)


def _reschedule_failure(exc: LeoscopeError) -> Any:
    text = str(exc)
    if isinstance(exc, InvalidInput) and exc.field == "jobid":
        text = exc.problem  # "only jobs of type 'atq' can be rescheduled."
    return pb.message_reschedule_job_response(rescheduled=False, message=text)


def _list_failure(response: type) -> Callable[[LeoscopeError], Any]:
    def build(exc: LeoscopeError) -> Any:
        return response()

    return build


FAILURES: dict[str, Callable[[LeoscopeError], Any]] = {
    "update_global_config": _state_failure(pb.message_update_global_config_response),
    "register_user": _state_failure(pb.message_register_user_response),
    "get_user": lambda exc: pb.message_get_user_response(exists=False, role=pb.USER),
    "modify_user": _state_failure(pb.message_modify_user_response),
    "delete_user": _state_failure(pb.message_delete_user_response),
    "schedule_job": _schedule_failure,
    "get_job_by_id": lambda exc: pb.message_get_job_by_id_response(exists=False),
    "get_jobs_by_userid": lambda exc: pb.message_get_jobs_by_userid_response(
        exists=False, message=str(exc)
    ),
    "get_jobs_by_nodeid": _list_failure(pb.message_get_jobs_by_nodeid_response),
    "reschedule_job_nearest": _reschedule_failure,
    "modify_job": _modify_failure,
    "delete_job_by_id": lambda exc: pb.message_delete_job_by_id_response(
        exists=isinstance(exc, PermissionDenied), message=str(exc)
    ),
    "delete_jobs_by_nodeid": lambda exc: pb.message_delete_jobs_by_nodeid_response(
        num_deleted=0, message=str(exc)
    ),
    "update_run": _state_failure(pb.message_update_run_response),
    "get_runs": _list_failure(pb.message_get_runs_response),
    "get_scheduled_runs": _state_failure(pb.message_get_scheduled_runs_response),
    "register_node": _state_failure(pb.message_register_node_response),
    "get_nodes": _list_failure(pb.message_get_nodes_response),
    "update_node": _state_failure(pb.message_update_node_response),
    "delete_node": _state_failure(pb.message_delete_node_response),
    "set_scavenger_status": _state_failure(pb.message_set_scavenger_status_response),
    "get_scavenger_status": lambda exc: pb.message_get_scavenger_status_response(
        found=False, **({"node_exists": False} if isinstance(exc, NotFound) else {})
    ),
    "schedule_task": _state_failure(pb.message_schedule_task_response),
    "get_tasks": _list_failure(pb.message_get_tasks_response),
    "update_task": _state_failure(pb.message_update_task_response),
    "kernel_access": _state_failure(pb.message_kernel_access_response),
    "report_heartbeat": lambda exc: pb.message_heartbeat_response(received=False),
    "get_upload_url": _state_failure(pb.message_signed_url_response),
    "get_download_url": _state_failure(pb.message_signed_url_response),
    "find_free_slot": lambda exc: _with_details(
        pb.message_find_free_slot_response(state=pb.FAILED, message=str(exc)), exc
    ),
}

# For RPCs without an in-response failure shape: errors -> status codes.
STATUS_FOR = (
    (InvalidInput, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (Conflict, grpc.StatusCode.ALREADY_EXISTS),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
)

# Where the wire contract asks one RPC for another code: reference nodes retry an unset global
# config (FAILED_PRECONDITION) until an admin uploads one.
STATUS_OVERRIDES: dict[tuple[str, type[LeoscopeError]], grpc.StatusCode] = {
    ("get_global_config", NotFound): grpc.StatusCode.FAILED_PRECONDITION,
}


def status_for(rpc: str, exc: LeoscopeError) -> grpc.StatusCode:
    """The status code of a refusal of `rpc` that has no in-response failure shape."""
    for kind, code in STATUS_FOR:
        if isinstance(exc, kind):
            return STATUS_OVERRIDES.get((rpc, kind), code)
    return grpc.StatusCode.FAILED_PRECONDITION


# RPCs every node makes every tick; mostly cache hits, run on the event loop itself.
INLINE_RPCS = frozenset(
    {"report_heartbeat", "get_jobs_by_nodeid", "get_tasks", "get_scavenger_status"}
)

UNARY_RPCS = tuple(
    m.name
    for m in pb.DESCRIPTOR.services_by_name["LeotestOrchestrator"].methods
    if not m.server_streaming
)


class OrchestratorServicer(pb_grpc.LeotestOrchestratorServicer):
    """Every unary RPC goes through `_dispatch`; `watch_node` streams change notices."""

    def __init__(
        self,
        services: Services,
        *,
        jwt_secret: str | None = None,
        workers: int = 16,
        ping_interval: float = 30.0,
    ) -> None:
        self.services = services
        self.jwt_secret = jwt_secret
        self.handlers = Handlers()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpc")
        self.ping_interval = ping_interval

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=False)

    # ------------------------------------------------------------------ plumbing
    def _lookup(self, userid: str) -> Any:
        def load() -> Any:
            with self.services.store.read() as conn:
                return user_store.get_with_hashes(conn, userid)

        return self.services.cache.get(("user", userid), load)

    def _authenticate(self, metadata: Any) -> Principal:
        return authenticate(last_values(metadata or ()), self._lookup, self.jwt_secret)

    def _invoke(self, rpc: str, metadata: Any, request: Any) -> Any:
        principal = self._authenticate(metadata)
        ctx = Ctx(self.services, principal, utcnow())
        return getattr(self.handlers, rpc)(ctx, request)

    async def _dispatch(self, rpc: str, request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            if rpc in INLINE_RPCS:
                # The node poll path: answered from caches, cheaper than a thread hop.
                return self._invoke(rpc, context.invocation_metadata(), request)
            return await loop.run_in_executor(
                self.pool, self._invoke, rpc, context.invocation_metadata(), request
            )
        except AuthenticationError:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "Invalid token")
        except LeoscopeError as exc:
            RPC_REFUSED.labels(rpc).inc()
            log.info("rpc=%s refused: %s", rpc, exc)
            failure = FAILURES.get(rpc)
            if failure is not None:
                # The reason also travels as trailing metadata, which reference clients ignore
                # and ours read (list RPCs have no other place for it).
                trailers = [(ERROR_TRAILER, _ascii(str(exc)))]
                if isinstance(exc, InvalidInput):
                    trailers.append((FIELD_TRAILER, exc.field))
                context.set_trailing_metadata(trailers)
                return failure(exc)
            await context.abort(status_for(rpc, exc), str(exc))
        except Exception:
            log.exception("rpc=%s failed unexpectedly", rpc)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error (logged by the server)")
        finally:
            RPC_SECONDS.labels(rpc).observe(time.perf_counter() - started)

    # ------------------------------------------------------------------ streaming
    async def watch_node(
        self, request: pb.message_watch_node, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.message_node_event]:
        """Push a notice the moment a change for this node commits; the node then re-reads."""
        loop = asyncio.get_running_loop()
        try:
            principal = await loop.run_in_executor(
                self.pool, self._authenticate, context.invocation_metadata()
            )
        except AuthenticationError:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "Invalid token")
            return
        if not allowed("watch_node", principal, nodeid=request.nodeid):
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, principal.denial())
            return
        hub = self.services.hub
        with hub.subscribe(request.nodeid) as queue:
            yield pb.message_node_event(kind="hello", nodeid=request.nodeid, seq=hub.next_seq())
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=self.ping_interval)
                except TimeoutError:
                    yield pb.message_node_event(kind="ping", nodeid=request.nodeid)
                    continue
                yield pb.message_node_event(
                    kind=event.kind,
                    nodeid=event.nodeid,
                    jobid=event.jobid,
                    taskid=event.taskid,
                    scavenger_mode_active=event.scavenger_mode_active,
                    seq=hub.next_seq(),
                )


def _ascii(text: str) -> str:
    """gRPC metadata values must be printable ASCII."""
    return text.encode("ascii", "replace").decode().replace("\n", " ")[:1000]


def _make_unary(rpc: str) -> Callable[..., Any]:
    async def method(self: OrchestratorServicer, request: Any, context: Any) -> Any:
        return await self._dispatch(rpc, request, context)

    method.__name__ = rpc
    return method


for _rpc in UNARY_RPCS:
    setattr(OrchestratorServicer, _rpc, _make_unary(_rpc))
