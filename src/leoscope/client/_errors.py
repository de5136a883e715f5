"""Wire answers -> LEOScope errors: the SDK's one translation boundary.

The orchestrator refuses a request in one of three ways (see orchestrator/service.py):

* reference RPCs answer under status OK with the refusal inside the response
  (`state=FAILED`, `exists=false`, `rescheduled=false`, ...) and a message; `REFUSALS` says,
  per RPC, how to read that shape;
* any refusal may also carry the reason in trailing metadata (`x-leoscope-error`, plus
  `x-leoscope-field` for invalid input); list RPCs have nowhere else to put it;
* LEOScope's own RPCs, and authentication failures, use gRPC status codes (`STATUS_ERRORS`).

Messages are then classified once, in `refusal()`. Every `grpc.RpcError` is converted here and
chained (`raise ... from`), so none leaves the SDK.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from leoscope.api import leotest_pb2 as pb
from leoscope.core.errors import (
    AuthenticationError,
    Conflict,
    ConflictInfo,
    InvalidInput,
    LeoscopeError,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from leoscope.core.timeutil import from_epoch, iso_z

ERROR_TRAILER = "x-leoscope-error"
FIELD_TRAILER = "x-leoscope-field"


class ServerError(LeoscopeError):
    """The orchestrator failed internally, or answered in a way this SDK cannot read."""

    def __init__(self, message: str, code: str = "") -> None:
        self.code = code
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Subject:
    """What a call is about, so a NotFound can name it."""

    kind: str
    id: str


# ---------------------------------------------------------------------------- classification

_INVALID = re.compile(r"^invalid ([A-Za-z0-9_.\[\]-]+): (.*)$", re.DOTALL)

# (pattern on the message, error kind), first match wins. The messages are the reference's
# (wire contract) plus LEOScope's, from orchestrator/ops/*.py.
_MESSAGE_KINDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^permission denied"), "permission"),
    (re.compile(r"^schedule conflict"), "conflict"),
    (re.compile(r"empty slot not found"), "conflict"),
    (re.compile(r"\b(already exists|exists)(;|$)"), "conflict"),
    (re.compile(r"only jobs of type 'atq' can be rescheduled"), "invalid:jobid"),
    (re.compile(r"does not exist|not found|not set"), "not_found"),
)


def describe_conflicts(conflicts: Sequence[ConflictInfo]) -> str:
    """'job j1 on n1 at 2030-01-01T00:00:00Z..2030-01-01T00:05:00Z' for each, comma separated."""
    return ", ".join(
        f"job {c.jobid} on {c.nodeid or '?'} at {iso_z(from_epoch(c.start))}"
        f"..{iso_z(from_epoch(c.end))}"
        for c in conflicts
    )


def refusal(
    message: str,
    *,
    field: str | None = None,
    conflicts: Sequence[ConflictInfo] = (),
    subject: Subject | None = None,
) -> LeoscopeError:
    """The typed error for a refusal message (and its structured details, when present)."""
    message = message.strip()
    if conflicts:
        count = len(conflicts)
        noun = "job" if count == 1 else "jobs"
        text = f"the job overlaps {count} scheduled {noun}: {describe_conflicts(conflicts)}"
        return Conflict(text, list(conflicts))
    kind = next((k for pattern, k in _MESSAGE_KINDS if pattern.search(message)), "")
    if kind == "permission":
        return PermissionDenied(message)
    invalid = _INVALID.match(message)
    if field or invalid:
        problem = invalid.group(2) if invalid else message
        return InvalidInput(field or (invalid.group(1) if invalid else "request"), problem)
    if kind == "conflict":
        return Conflict(message)
    if kind.startswith("invalid:"):
        return InvalidInput(kind.split(":", 1)[1], message)
    if kind == "not_found" or (not message and subject is not None):
        if subject is not None:
            return NotFound(subject.kind, subject.id, message or None)
        return NotFound("object", "", message)
    return LeoscopeError(message or "the orchestrator refused the request")


# ---------------------------------------------------------------------------- in-response refusals


def _state(resp: Any) -> str | None:
    return resp.message if resp.state == pb.FAILED else None


def _field(resp: Any) -> str | None:
    return resp.field if resp.HasField("field") and resp.field else None


def _kernel(resp: Any) -> str | None:
    # state=FAILED is also the normal "not granted" answer; only a denial is a refusal.
    return resp.message if resp.message.startswith("permission denied") else None


def _delete_job(resp: Any) -> str | None:
    return resp.message if not resp.exists or resp.message.startswith("permission") else None


def _scavenger(resp: Any) -> str | None:
    return "" if resp.HasField("node_exists") and not resp.node_exists else None


REFUSALS: dict[str, Callable[[Any], str | None]] = {
    "update_global_config": _state,
    "register_user": _state,
    "get_user": lambda r: None if r.exists else "",
    "modify_user": _state,
    "delete_user": _state,
    "schedule_job": _state,
    "get_job_by_id": lambda r: None if r.exists else "",
    "get_jobs_by_userid": lambda r: r.message if not r.exists and r.message else None,
    "reschedule_job_nearest": lambda r: None if r.rescheduled else r.message,
    "modify_job": _state,
    "delete_job_by_id": _delete_job,
    "delete_jobs_by_nodeid": lambda r: (
        None if r.message == "deleted records successfully" else r.message
    ),
    "update_run": _state,
    "get_scheduled_runs": _state,
    "register_node": _state,
    "update_node": _state,
    "delete_node": _state,
    "set_scavenger_status": _state,
    "get_scavenger_status": _scavenger,
    "schedule_task": _state,
    "update_task": _state,
    "kernel_access": _kernel,
    "find_free_slot": _state,
}
"""Per RPC: the refusal message inside a response, or None when the response is a success."""

FIELD_OF: dict[str, Callable[[Any], str | None]] = {
    "schedule_job": _field,
    "modify_job": _field,
    "find_free_slot": _field,
}


def check_response(
    rpc: str,
    response: Any,
    trailers: dict[str, str],
    subject: Subject | None,
    conflicts: Callable[[Any], list[ConflictInfo]],
) -> None:
    """Raise the typed error when `response` (or its trailers) says the request was refused."""
    detect = REFUSALS.get(rpc)
    message = detect(response) if detect is not None else None
    trailer = trailers.get(ERROR_TRAILER)
    if message is None and not trailer:
        return
    field = trailers.get(FIELD_TRAILER) or (FIELD_OF[rpc](response) if rpc in FIELD_OF else None)
    found = conflicts(response) if hasattr(response, "conflicts") else []
    raise refusal(trailer or message or "", field=field, conflicts=found, subject=subject)


# ---------------------------------------------------------------------------- status codes


def _unreachable(details: str) -> str:
    lowered = details.lower()
    if "connection refused" in lowered:
        return "connection refused"
    if "ssl" in lowered or "handshake" in lowered or "tls" in lowered:
        return "TLS handshake failed"
    if "dns" in lowered or "resolve" in lowered or "name resolution" in lowered:
        return "the host name does not resolve"
    if "socket closed" in lowered or "connection reset" in lowered:
        return "the connection was closed (a TLS/plaintext mismatch?)"
    return details or "no answer"


def from_rpc_error(
    exc: grpc.RpcError, *, rpc: str, host: str, timeout: float, subject: Subject | None
) -> LeoscopeError:
    """The typed error for a failed call."""
    code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = (exc.details() if isinstance(exc, grpc.Call) else "") or ""
    trailers: dict[str, str] = {}
    if isinstance(exc, grpc.Call):
        trailers = {k: v for k, v in (exc.trailing_metadata() or ()) if isinstance(v, str)}
    C = grpc.StatusCode
    if code is C.UNAUTHENTICATED:
        return AuthenticationError(details or "Invalid token")
    if code is C.UNAVAILABLE:
        return Unavailable(f"cannot reach the orchestrator at {host}: {_unreachable(details)}")
    if code is C.DEADLINE_EXCEEDED:
        return Unavailable(f"the orchestrator at {host} did not answer {rpc} within {timeout:g}s")
    if code is C.CANCELLED:
        return Unavailable(f"the call {rpc} to {host} was cancelled")
    if code is C.PERMISSION_DENIED:
        return PermissionDenied(details)
    if code is C.NOT_FOUND:
        return NotFound(subject.kind, subject.id, details) if subject else NotFound("", "", details)
    if code in (C.ALREADY_EXISTS, C.ABORTED):
        return Conflict(details)
    if code in (C.INVALID_ARGUMENT, C.OUT_OF_RANGE, C.FAILED_PRECONDITION):
        return refusal(details, field=trailers.get(FIELD_TRAILER), subject=subject)
    if code is C.RESOURCE_EXHAUSTED:
        return InvalidInput("request", f"too large or too many: {details}")
    if code is C.UNIMPLEMENTED:
        return ServerError(f"the orchestrator at {host} does not implement {rpc}", code.name)
    return ServerError(f"{rpc} failed on the orchestrator: {details or code.name}", code.name)


def is_unavailable(exc: BaseException) -> bool:
    """Retry predicate: only UNAVAILABLE is transient (never INVALID_ARGUMENT and friends)."""
    return isinstance(exc, grpc.Call) and exc.code() is grpc.StatusCode.UNAVAILABLE
