"""Small frozen results for calls whose answer is not a core.model object.

Tokens are excluded from `repr`, so printing a result in a notebook never shows one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from leoscope.core.model import JobType, Node, User


@dataclass(frozen=True, slots=True)
class RegisteredUser:
    """A new user and its access token. The orchestrator shows the token only this once."""

    user: User
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class RegisteredNode:
    """A new node and its access token (for the node agent). Shown only this once."""

    node: Node
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    """What `schedule_job` answered: accepted (or, for a dry run, would be accepted)."""

    jobid: str
    dry_run: bool
    message: str
    next_runs: tuple[datetime, ...] = ()
    """The first planned run starts (up to five) within the orchestrator's horizon."""
    warnings: tuple[str, ...] = ()
    """E.g. runs that fall into a node's quiet hours."""


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """One planned run of a job on a node, occupying [start, end)."""

    jobid: str
    nodeid: str
    start: datetime
    end: datetime
    type: JobType
    length_secs: int
    overhead: bool
    schedule: str = ""
    trigger: str | None = None
    server: str | None = None


@dataclass(frozen=True, slots=True)
class Calendar:
    """A node's planned runs in a window; `truncated` when the orchestrator's cap cut it short."""

    nodeid: str
    start: datetime
    end: datetime
    events: tuple[CalendarEvent, ...]
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class FreeSlot:
    """The earliest free slot on a node, or `start=None` when there is none in the window."""

    nodeid: str
    start: datetime | None
    end: datetime | None

    @property
    def found(self) -> bool:
        return self.start is not None


@dataclass(frozen=True, slots=True)
class KernelAccess:
    """Whether a user may use a node's kernel services, with the orchestrator's explanation."""

    userid: str
    granted: bool
    message: str
