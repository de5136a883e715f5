"""Container runtimes for experiment runs: the interface and its back ends.

`DockerRuntime` (module `docker`, needs the `leoscope[node]` extra) is the default wherever a
Docker engine is reachable; `ProcessRuntime` (module `process`) is for development and hosts
without Docker. Both implement `Runtime` from `base`, whose docstrings state the contract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import (
    DEFAULT_ARTIFACTS_DEST,
    DEFAULT_CAP_ADD,
    DEFAULT_STOP_GRACE_SECS,
    EXIT_CODE_UNKNOWN,
    LABEL_JOB,
    LABEL_NODE,
    LABEL_RUN,
    ContainerGone,
    ContainerSpec,
    ContainerState,
    ContainerStatus,
    ExitInfo,
    Handle,
    LogChunk,
    NetStats,
    PullError,
    PullPolicy,
    RegistryAuth,
    Runtime,
    RuntimeErrorBase,
    StartError,
)
from .process import ProcessRuntime

if TYPE_CHECKING:
    from .docker import DockerRuntime

__all__ = [
    "DEFAULT_ARTIFACTS_DEST",
    "DEFAULT_CAP_ADD",
    "DEFAULT_STOP_GRACE_SECS",
    "EXIT_CODE_UNKNOWN",
    "LABEL_JOB",
    "LABEL_NODE",
    "LABEL_RUN",
    "ContainerGone",
    "ContainerSpec",
    "ContainerState",
    "ContainerStatus",
    "DockerRuntime",
    "ExitInfo",
    "Handle",
    "LogChunk",
    "NetStats",
    "ProcessRuntime",
    "PullError",
    "PullPolicy",
    "RegistryAuth",
    "Runtime",
    "RuntimeErrorBase",
    "StartError",
]


def __getattr__(name: str) -> Any:
    # The docker SDK is an optional extra: import it only when DockerRuntime is asked for.
    if name == "DockerRuntime":
        from .docker import DockerRuntime

        return DockerRuntime
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
