"""The agent's one connection to the orchestrator (grpc.aio), with typed calls and errors.

The node always dials out (it sits behind NAT); nothing ever connects to it. Every call
carries the node's credentials as metadata (`x-leotest-userid` = node id, the token, an empty
JWT) and a deadline. Errors come back as exactly three kinds, which is all callers decide on:

    LinkError
    ├── LinkDown(message)            transient: unreachable, deadline, server overloaded;
    │                                retry later (outbox, sync) and keep running locally
    ├── CredentialsRejected(message) UNAUTHENTICATED: unknown node or wrong token
    └── Refused(message)             the orchestrator answered "no" for good (FAILED state,
                                     PERMISSION_DENIED, INVALID_ARGUMENT, UNIMPLEMENTED, ...)

The channel reconnects by itself; its reconnect backoff is capped at a few seconds so that
an orchestrator coming back is seen promptly (gRPC's default cap is two minutes).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc
import grpc.aio

from leoscope.api import leotest_pb2 as pb
from leoscope.api import leotest_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

DEFAULT_CALL_TIMEOUT_SECS = 5.0
ERROR_TRAILER = "x-leoscope-error"
CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 3_000),
    ("grpc.enable_retries", 0),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
]
_TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)


class LinkError(Exception):
    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        self.message = message
        self.code = code
        super().__init__(message)


class LinkDown(LinkError):
    """The orchestrator could not be reached or did not answer in time (transient)."""


class CredentialsRejected(LinkError):
    """UNAUTHENTICATED: the node is not registered, or its token is wrong."""


class Refused(LinkError):
    """The orchestrator answered and refused; retrying the same request will not help."""


def _translate(rpc: str, exc: grpc.aio.AioRpcError) -> LinkError:
    code = exc.code()
    details = exc.details() or code.name
    trailers = dict(exc.trailing_metadata() or ())
    reason = trailers.get(ERROR_TRAILER) or details
    if code in _TRANSIENT:
        return LinkDown(f"{rpc}: {code.name}: {details}", code)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return CredentialsRejected(f"{rpc}: {details}", code)
    return Refused(f"{rpc}: {code.name}: {reason}", code)


def _read_pem(path: Path) -> bytes:
    data = Path(path).read_bytes()
    if b"-----BEGIN" not in data:
        raise ValueError(f"{path} is not a PEM file")
    return data


def open_channel(
    address: str,
    *,
    tls_ca: Path | None = None,
    tls_server_name: str | None = None,
    insecure: bool = False,
) -> grpc.aio.Channel:
    """A lazily connecting aio channel: plaintext if `insecure`, else TLS."""
    options = list(CHANNEL_OPTIONS)
    if insecure:
        return grpc.aio.insecure_channel(address, options=options)
    if tls_server_name:
        options += [
            ("grpc.ssl_target_name_override", tls_server_name),
            ("grpc.default_authority", tls_server_name),
        ]
    roots = _read_pem(tls_ca) if tls_ca else None
    return grpc.aio.secure_channel(address, grpc.ssl_channel_credentials(roots), options=options)


class OrchestratorLink:
    """Typed, credentialed calls to the orchestrator for node `node_id`."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        node_id: str,
        token: str,
        *,
        call_timeout: float = DEFAULT_CALL_TIMEOUT_SECS,
    ) -> None:
        self.node_id = node_id
        self.call_timeout = call_timeout
        self._channel = channel
        self._stub = pb_grpc.LeotestOrchestratorStub(channel)
        self._metadata = (
            ("x-leotest-userid", node_id),
            ("x-leotest-access-token", token),
            ("x-leotest-jwt-access-token", ""),
        )

    def __repr__(self) -> str:  # never show the token
        return f"OrchestratorLink(node_id={self.node_id!r})"

    async def close(self) -> None:
        await self._channel.close(grace=None)

    async def __aenter__(self) -> OrchestratorLink:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _call(self, rpc: str, request: Any, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        method = getattr(self._stub, rpc)
        try:
            return await method(
                request, metadata=self._metadata, timeout=timeout or self.call_timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise _translate(rpc, exc) from None

    async def _call_accepted(self, rpc: str, request: Any) -> Any:
        """`_call` for an RPC answering with a `state`: a FAILED answer raises Refused."""
        response = await self._call(rpc, request)
        if response.state == pb.FAILED:
            raise Refused(f"{rpc}: {response.message}")
        return response

    # ------------------------------------------------------------------- identity, liveness

    async def own_node(self) -> pb._node | None:
        """This node's record (None if the orchestrator has no such node)."""
        return await self.node(self.node_id)

    async def heartbeat(self) -> bool:
        response = await self._call("report_heartbeat", pb.message_heartbeat(nodeid=self.node_id))
        return bool(response.received)

    async def report_public_ip(self, address: str) -> None:
        request = pb.message_update_node(nodeid=self.node_id, public_ip=address)
        await self._call_accepted("update_node", request)

    async def global_config(self) -> pb.settings | None:
        """The global config (nodes see its secrets); None when none has been set yet."""
        try:
            response = await self._call("get_global_config", pb.message_get_global_config())
        except Refused as exc:
            if exc.code == grpc.StatusCode.FAILED_PRECONDITION:
                return None
            raise
        return response.config

    # ------------------------------------------------------------------- jobs, tasks, scavenger

    async def jobs(self) -> list[pb.job]:
        """Live jobs where this node is the node or the paired server (no configs)."""
        response = await self._call(
            "get_jobs_by_nodeid", pb.message_get_jobs_by_nodeid(nodeid=self.node_id)
        )
        return list(response.jobs)

    async def job_detail(self, jobid: str) -> pb.message_get_job_by_id_response | None:
        """The job with its config; None when the orchestrator says it does not exist."""
        response = await self._call("get_job_by_id", pb.message_get_job_by_id(jobid=jobid))
        return response if response.exists else None

    async def tasks(self) -> list[pb._task]:
        response = await self._call("get_tasks", pb.message_get_tasks(nodeid=self.node_id))
        return list(response.tasks)

    async def scavenger_mode(self) -> bool:
        response = await self._call(
            "get_scavenger_status", pb.message_get_scavenger_status(nodeid=self.node_id)
        )
        return bool(response.found and response.scavenger_mode_active)

    # ------------------------------------------------------------------- scavenger, pairing, kernel

    async def set_scavenger_mode(self, active: bool) -> None:
        """Tell the orchestrator this node's scavenger flag (a node may set its own)."""
        request = pb.message_set_scavenger_status(nodeid=self.node_id, scavenger_mode_active=active)
        await self._call_accepted("set_scavenger_status", request)

    async def reschedule_nearest(
        self, jobid: str, not_before: str, not_after: str
    ) -> tuple[bool, str]:
        """reschedule_job_nearest: (moved, the orchestrator's message). Times as wire strings."""
        request = pb.message_reschedule_job(jobid=jobid, starttime=not_before, endtime=not_after)
        response = await self._call("reschedule_job_nearest", request)
        return bool(response.rescheduled), response.message

    async def schedule_task(self, task: pb._task) -> None:
        await self._call_accepted("schedule_task", pb.message_schedule_task(task=task))

    async def task(self, taskid: str) -> pb._task | None:
        """One task by id (None once it expired or if it never existed)."""
        response = await self._call("get_tasks", pb.message_get_tasks(taskid=taskid))
        for task in response.tasks:
            if task.taskid == taskid:
                return task
        return None

    async def update_task(self, taskid: str, status: int) -> None:
        request = pb.message_update_task(taskid=taskid, status=status)  # type: ignore[arg-type]
        await self._call_accepted("update_task", request)

    async def run(self, runid: str) -> pb.run_instance | None:
        """One run as the orchestrator has it (None if unknown or not visible to this node)."""
        response = await self._call("get_runs", pb.message_get_runs(runid=runid, limit=1))
        for run in response.runs:
            if run.runid == runid:
                return run
        return None

    async def node(self, nodeid: str) -> pb._node | None:
        response = await self._call("get_nodes", pb.message_get_nodes(nodeid=nodeid))
        for node in response.nodes:
            if node.nodeid == nodeid:
                return node
        return None

    async def kernel_access(self, userid: str) -> tuple[bool, str]:
        """kernel_access: (granted, the orchestrator's message)."""
        response = await self._call("kernel_access", pb.message_kernel_access(userid=userid))
        return response.state != pb.FAILED, response.message

    # ------------------------------------------------------------------- runs

    async def update_run(self, run: pb.run_instance) -> None:
        """Deliver one run update. Raises Refused when the orchestrator will not take it."""
        await self._call_accepted("update_run", pb.message_update_run(run=run))

    # ------------------------------------------------------------------- artifacts

    async def get_upload_url(
        self, request: pb.message_get_upload_url
    ) -> pb.message_signed_url_response:
        """A signed upload URL for one of this node's runs. A FAILED answer is returned as is
        (its message says why: the caller decides what is transient). The reference has no
        such RPC: Refused with code UNIMPLEMENTED."""
        response: pb.message_signed_url_response = await self._call("get_upload_url", request)
        return response

    # ------------------------------------------------------------------- watch

    async def watch(self) -> AsyncIterator[pb.message_node_event]:
        """Change notices for this node, until the stream breaks (LinkError).

        Refused with code UNIMPLEMENTED means the orchestrator has no watch_node (the
        reference): poll instead.
        """
        call = self._stub.watch_node(
            pb.message_watch_node(nodeid=self.node_id), metadata=self._metadata
        )
        try:
            async for event in call:
                yield event
        except grpc.aio.AioRpcError as exc:
            raise _translate("watch_node", exc) from None
        finally:
            call.cancel()
        raise LinkDown("watch_node: the orchestrator ended the stream")
