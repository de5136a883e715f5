"""The LEOScope Python SDK: a typed client for the orchestrator.

    from leoscope.client import Client, Conflict

    with Client.from_profile() as client:          # or Client(host, user, token, ...)
        print(client.whoami())

Everything public is re-exported here (the submodules are private). Errors form one tree::

    LeoscopeError
    ├── InvalidInput (alias InvalidArgument)   .field names the offending field
    ├── NotFound                               .kind, .id
    ├── Conflict                               .conflicts: [ConflictInfo(jobid, start, end, nodeid)]
    ├── PermissionDenied
    ├── AuthenticationError                    the credentials were not accepted
    ├── Unavailable                            unreachable or timed out (transient)
    └── ServerError                            the orchestrator failed internally

See docs/sdk.md for a tour.
"""

from __future__ import annotations

from leoscope.core.errors import (
    AuthenticationError,
    Conflict,
    ConflictInfo,
    InvalidArgument,
    InvalidInput,
    LeoscopeError,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from leoscope.core.model import (
    BlobSettings,
    GlobalConfig,
    Job,
    JobParams,
    JobType,
    Node,
    Role,
    Run,
    RunStatus,
    StoreSettings,
    Task,
    TaskStatus,
    TaskType,
    User,
)

from ._async import AsyncClient
from ._client import Client
from ._convert import dump_global_config, load_global_config
from ._errors import ServerError
from ._results import (
    Calendar,
    CalendarEvent,
    FreeSlot,
    KernelAccess,
    RegisteredNode,
    RegisteredUser,
    ScheduledJob,
)

__all__ = [
    "AsyncClient",
    "AuthenticationError",
    "BlobSettings",
    "Calendar",
    "CalendarEvent",
    "Client",
    "Conflict",
    "ConflictInfo",
    "FreeSlot",
    "GlobalConfig",
    "InvalidArgument",
    "InvalidInput",
    "Job",
    "JobParams",
    "JobType",
    "KernelAccess",
    "LeoscopeError",
    "Node",
    "NotFound",
    "PermissionDenied",
    "RegisteredNode",
    "RegisteredUser",
    "Role",
    "Run",
    "RunStatus",
    "ScheduledJob",
    "ServerError",
    "StoreSettings",
    "Task",
    "TaskStatus",
    "TaskType",
    "Unavailable",
    "User",
    "dump_global_config",
    "load_global_config",
]
