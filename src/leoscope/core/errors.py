"""The LEOScope error hierarchy.

    LeoscopeError
    ├── InvalidInput(field, problem)      bad request data; names the field
    ├── NotFound(kind, id)                a named object does not exist
    ├── Conflict(message, conflicts)      the request clashes with stored state
    ├── PermissionDenied(message)         the caller may not do this
    ├── AuthenticationError(message)      the caller could not be identified
    └── Unavailable(message)              a service could not be reached (transient)

Core code raises these; the orchestrator maps them to wire answers in one place and the SDK
maps wire answers back to them.
"""

from __future__ import annotations

from dataclasses import dataclass


class LeoscopeError(Exception):
    """Base class of every error LEOScope raises on purpose."""


class InvalidInput(LeoscopeError):
    """A request field is malformed or breaks a rule. `field` names it."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"invalid {field}: {problem}")


InvalidArgument = InvalidInput
"""The same error under gRPC's name (status INVALID_ARGUMENT); the SDK exports both names."""


class NotFound(LeoscopeError):
    """The named object does not exist."""

    def __init__(self, kind: str, id: str, message: str | None = None) -> None:
        self.kind = kind
        self.id = id
        super().__init__(message or f"{kind} {id!r} not found")


@dataclass(frozen=True)
class ConflictInfo:
    """One conflicting job and its first clashing interval (epoch seconds, half-open)."""

    jobid: str
    start: int
    end: int
    nodeid: str = ""


class Conflict(LeoscopeError):
    """The request clashes with stored state (an overlapping job, a duplicate id)."""

    def __init__(self, message: str, conflicts: list[ConflictInfo] | None = None) -> None:
        self.conflicts = list(conflicts or [])
        super().__init__(message)


class PermissionDenied(LeoscopeError):
    """The caller is authenticated but may not do this."""


class AuthenticationError(LeoscopeError):
    """The caller's credentials are missing or wrong."""


class Unavailable(LeoscopeError):
    """A service could not be reached; retrying later may succeed."""
