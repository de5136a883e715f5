"""The container-runtime interface the node agent drives, and its data types.

The agent runs each experiment run as a state machine and asks a `Runtime` to pull the image,
start the container, watch it, stop it and clean up after it; after an agent restart it calls
`list_owned` to re-adopt the containers it started before. Two back ends implement the
interface: `docker.DockerRuntime` (the default wherever a Docker engine is reachable) and
`process.ProcessRuntime` (plain child processes, for development and hosts without Docker).

Errors (all subclass `core.errors.LeoscopeError`):

    RuntimeErrorBase          the runtime could not do what was asked (engine down, API error)
    ├── PullError(image)      the image could not be fetched; `message` is the engine's own text
    ├── StartError(name)      the container could not be created or started
    └── ContainerGone(ref)    the container no longer exists (removed behind our back)

A `ContainerSpec` that breaks a rule raises `core.errors.InvalidInput` naming the field when it
is built, so a bad spec never reaches the engine.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Literal

from leoscope.core.errors import InvalidInput, LeoscopeError

DEFAULT_ARTIFACTS_DEST = "/artifacts"
DEFAULT_STOP_GRACE_SECS = 10.0
DEFAULT_CAP_ADD: tuple[str, ...] = ("NET_RAW",)
# Docker refuses memory limits below 6 MiB; say so before the engine does.
MIN_MEMORY_BYTES = 6 * 1024 * 1024
# Exit code reported when a process ended while nobody could observe its status.
EXIT_CODE_UNKNOWN = -1

# Labels the runtimes themselves rely on. The caller passes every label (see docker.py for the
# full table, including the reference's); the runtime adds only LABEL_RUN, from spec.run_id, so
# that a re-adopted container can be mapped back to its run.
LABEL_RUN = "leoscope.run"
LABEL_NODE = "leoscope.node"
LABEL_JOB = "leoscope.job"

_CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,253}$")
_CAPABILITY = re.compile(r"^[A-Z][A-Z0-9_]*$")
_SYSCTL = re.compile(r"^[a-z0-9_][a-z0-9_.\-/]*$")
_ENV_NAME = re.compile(r"^[^=\x00]+$")


class RuntimeErrorBase(LeoscopeError):
    """The runtime could not carry out an operation. `message` is a human-readable reason."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class PullError(RuntimeErrorBase):
    """The image could not be pulled. `message` carries the engine's (registry's) own words."""

    def __init__(self, image: str, message: str) -> None:
        self.image = image
        super().__init__(f"cannot pull image {image!r}: {message}")
        self.message = message


class StartError(RuntimeErrorBase):
    """The container could not be created or started; nothing is left behind under `name`."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"cannot start container {name!r}: {message}")
        self.message = message


class ContainerGone(RuntimeErrorBase):
    """The container (or process) no longer exists, e.g. it was removed behind our back."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(f"container {ref!r} no longer exists")


class ContainerStatus(StrEnum):
    """Docker's container states; the process runtime uses RUNNING and EXITED only."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"

    @classmethod
    def parse(cls, text: str) -> ContainerStatus:
        try:
            return cls(text.lower())
        except ValueError:
            return cls.DEAD


class PullPolicy(StrEnum):
    """When `pull` asks the registry.

    ALWAYS: every time (the reference's behaviour: an updated `:latest` is picked up).
    IF_NOT_PRESENT: only when the engine has no local copy (digest-pinned images, flaky links).
    NEVER: use the local copy or fail with PullError.
    """

    ALWAYS = "always"
    IF_NOT_PRESENT = "if-not-present"
    NEVER = "never"


@dataclass(frozen=True)
class RegistryAuth:
    """Credentials for a private registry. The password never appears in repr or logs."""

    username: str
    password: str = field(repr=False)
    server: str | None = None


def _frozen_str_map(name: str, value: Mapping[str, str] | None) -> Mapping[str, str]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise InvalidInput(name, f"must be a mapping of strings, got {type(value).__name__}")
    copied: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise InvalidInput(name, f"keys must be non-empty strings, got {key!r}")
        if not isinstance(item, str):
            raise InvalidInput(f"{name}[{key}]", f"must be a string, got {type(item).__name__}")
        if "\x00" in key or "\x00" in item:
            raise InvalidInput(f"{name}[{key}]", "must not contain NUL characters")
        copied[key] = item
    return MappingProxyType(copied)


def _positive_int(name: str, value: int | None, minimum: int = 1) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(name, f"must be an integer >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class ContainerSpec:
    """Everything a runtime needs to start one experiment container.

    Limits (`nano_cpus`, `memory_bytes`, `pids_limit`) are chosen by the caller; None means
    "no limit", which the agent should never send for an experiment. `network=None` means the
    host network (the reference's default); `"host"` is accepted and stored as None.
    `command=None` runs the image's own entrypoint and CMD, as the reference does.
    """

    run_id: str
    name: str
    image: str
    artifacts_dir: Path
    command: Sequence[str] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    artifacts_dest: str = DEFAULT_ARTIFACTS_DEST
    network: str | None = None
    # docker-py format, e.g. {"5201/tcp": 5201}; only with a named (non-host) network.
    ports: Mapping[str, Any] | None = None
    nano_cpus: int | None = None  # 1_000_000_000 = one CPU
    memory_bytes: int | None = None  # swap is disabled: memory+swap = this
    pids_limit: int | None = None
    cap_add: Sequence[str] = DEFAULT_CAP_ADD  # everything else is dropped
    # Per-container network-namespace sysctls, e.g. {"net.ipv4.tcp_congestion_control": "reno"}.
    sysctls: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None  # "uid", "uid:gid" or a name; None = the image's user
    auth: RegistryAuth | None = None
    stop_grace_secs: float = DEFAULT_STOP_GRACE_SECS

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("run_id", "name", "image"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(name, "must be a non-empty string")
        if not _CONTAINER_NAME.match(self.name):
            raise InvalidInput(
                "name", f"{self.name!r} is not a valid container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"
            )
        if any(ch.isspace() for ch in self.image) or self.image.startswith("-"):
            raise InvalidInput("image", f"{self.image!r} is not an image reference")
        artifacts_dir = Path(self.artifacts_dir)
        if not artifacts_dir.is_absolute():
            raise InvalidInput(
                "artifacts_dir", f"must be an absolute host path, got {artifacts_dir}"
            )
        set_(self, "artifacts_dir", artifacts_dir)
        if not self.artifacts_dest.startswith("/") or self.artifacts_dest.rstrip("/") == "":
            raise InvalidInput("artifacts_dest", "must be an absolute path other than /")
        if self.command is not None:
            if isinstance(self.command, (str, bytes)):
                raise InvalidInput(
                    "command", "must be a list of arguments, never a shell command string"
                )
            command = tuple(self.command)
            if not command or not all(isinstance(arg, str) for arg in command):
                raise InvalidInput("command", "must be a non-empty list of strings")
            set_(self, "command", command)
        env = _frozen_str_map("env", self.env)
        for key in env:
            if not _ENV_NAME.match(key):
                raise InvalidInput(f"env[{key}]", "is not a valid variable name")
        set_(self, "env", env)
        set_(self, "labels", _frozen_str_map("labels", self.labels))
        if self.network is not None:
            if not isinstance(self.network, str) or not self.network.strip():
                raise InvalidInput("network", "must be a network name or None for the host network")
            if self.network == "host":
                set_(self, "network", None)
        if self.ports:
            if self.network is None:
                raise InvalidInput(
                    "ports", "can only be published from a named network, not the host network"
                )
            set_(self, "ports", MappingProxyType(dict(self.ports)))
        _positive_int("nano_cpus", self.nano_cpus)
        _positive_int("memory_bytes", self.memory_bytes, MIN_MEMORY_BYTES)
        _positive_int("pids_limit", self.pids_limit)
        if isinstance(self.cap_add, (str, bytes)):
            raise InvalidInput("cap_add", "must be a list of capability names")
        caps = tuple(str(cap).upper().removeprefix("CAP_") for cap in self.cap_add)
        for cap in caps:
            if not _CAPABILITY.match(cap):
                raise InvalidInput("cap_add", f"{cap!r} is not a capability name")
            if cap == "ALL":
                raise InvalidInput("cap_add", "ALL would give the container every capability")
        set_(self, "cap_add", caps)
        sysctls = _frozen_str_map("sysctls", self.sysctls)
        for key in sysctls:
            if not _SYSCTL.match(key):
                raise InvalidInput(f"sysctls[{key}]", "is not a sysctl name")
            if key.startswith("net.") and self.network is None:
                raise InvalidInput(
                    f"sysctls[{key}]",
                    "net.* sysctls need the container's own network namespace; "
                    "a host-network container would change the host",
                )
        set_(self, "sysctls", sysctls)
        if self.user is not None and (not self.user or any(c.isspace() for c in self.user)):
            raise InvalidInput("user", f"{self.user!r} is not a user or uid[:gid]")
        grace = self.stop_grace_secs
        if (
            isinstance(grace, bool)
            or not isinstance(grace, (int, float))
            or not math.isfinite(grace)
        ):
            raise InvalidInput("stop_grace_secs", f"must be a number of seconds, got {grace!r}")
        if grace < 0:
            raise InvalidInput("stop_grace_secs", "must not be negative")
        owner = self.labels.get(LABEL_RUN)
        if owner is not None and owner != self.run_id:
            raise InvalidInput(f"labels[{LABEL_RUN}]", "must equal run_id (the runtime sets it)")


@dataclass(frozen=True)
class Handle:
    """A started container, as `start` or `list_owned` saw it.

    `status` is a snapshot taken when the handle was made; call `inspect` for the current one.
    `id` is the engine's identifier (Docker container id; the process runtime uses the name).
    """

    id: str
    name: str
    run_id: str
    status: ContainerStatus
    labels: Mapping[str, str]
    started_at: datetime | None


@dataclass(frozen=True)
class ExitInfo:
    """How a container ended.

    `exit_code` follows Docker: 128+N when killed by signal N (137 = SIGKILL, which is also what
    an OOM kill shows), EXIT_CODE_UNKNOWN when nobody could observe the exit. `oom_killed` is
    the engine's verdict that the kernel OOM killer hit the container's memory limit. `error`
    is the engine's own error text (empty when none).
    """

    exit_code: int
    oom_killed: bool = False
    error: str = ""
    finished_at: datetime | None = None

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.oom_killed and not self.error

    def describe(self) -> str:
        """One line for a run's status message."""
        if self.oom_killed:
            text = f"killed by the out-of-memory killer (memory limit), exit code {self.exit_code}"
        elif self.exit_code == EXIT_CODE_UNKNOWN:
            text = "exit status unknown"
        elif self.exit_code > 128:
            text = f"killed by signal {self.exit_code - 128} (exit code {self.exit_code})"
        else:
            text = f"exited with code {self.exit_code}"
        return f"{text}: {self.error}" if self.error else text


@dataclass(frozen=True)
class ContainerState:
    """The current state of a container, from `inspect`."""

    status: ContainerStatus
    exit_code: int | None  # None until the container has exited
    oom_killed: bool
    error: str
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def running(self) -> bool:
        return self.status in (ContainerStatus.RUNNING, ContainerStatus.RESTARTING)

    def exit_info(self) -> ExitInfo | None:
        """The ExitInfo when the container has ended, else None."""
        if self.status not in (ContainerStatus.EXITED, ContainerStatus.DEAD):
            return None
        code = self.exit_code if self.exit_code is not None else EXIT_CODE_UNKNOWN
        return ExitInfo(code, self.oom_killed, self.error, self.finished_at)


@dataclass(frozen=True)
class NetStats:
    """Bytes a container has received and sent, summed over its interfaces (monotonic)."""

    rx_bytes: int
    tx_bytes: int


@dataclass(frozen=True)
class LogChunk:
    """A piece of a container's output, as the engine delivered it (not split into lines)."""

    stream: Literal["stdout", "stderr"]
    data: bytes


def check_owner_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Validate a `list_owned` filter; an empty filter would match every container."""
    if not labels:
        raise InvalidInput("labels", "must name at least one label; refusing to match everything")
    return dict(_frozen_str_map("labels", labels))


class Runtime(ABC):
    """Runs experiment containers. Every method is a coroutine safe to call from the event loop.

    Methods that take a `Handle` raise `ContainerGone` when the container no longer exists,
    except `remove`, which is idempotent. Any other failure of the engine raises
    `RuntimeErrorBase` (or the subclass named below) with the engine's message.
    """

    kind: ClassVar[str]

    @abstractmethod
    async def pull(
        self,
        image: str,
        auth: RegistryAuth | None = None,
        *,
        policy: PullPolicy = PullPolicy.ALWAYS,
    ) -> str:
        """Make `image` available locally and return its id.

        Raises PullError with the engine's message when it cannot (unknown image, registry
        unreachable, bad credentials, or NEVER with no local copy); InvalidInput for an empty
        or malformed reference.
        """

    @abstractmethod
    async def start(self, spec: ContainerSpec) -> Handle:
        """Create and start the container described by `spec`; return once it is running.

        A leftover container with the same name (a previous attempt of the same run) is
        stopped with the spec's grace and removed first. Raises StartError with the engine's
        message when the container cannot be created or started; a container that failed to
        start is removed again, so nothing is left under `spec.name`.
        """

    @abstractmethod
    async def wait(self, handle: Handle, timeout: float | None) -> ExitInfo | None:  # noqa: ASYNC109
        """Wait until the container exits and return how; None if `timeout` seconds pass first.

        `timeout=None` waits without limit. Returns at once for a container that has already
        exited. Raises ContainerGone if it was removed.
        """

    @abstractmethod
    async def stop(self, handle: Handle, grace_secs: float = DEFAULT_STOP_GRACE_SECS) -> None:
        """Send SIGTERM, then SIGKILL if it still runs after `grace_secs`; return once it ended.

        A container that has already exited is left as it is. Does not remove the container:
        its exit status and logs stay readable until `remove`.
        """

    @abstractmethod
    async def collect_logs(self, handle: Handle, stdout_path: Path, stderr_path: Path) -> None:
        """Write the container's whole stdout and stderr so far to the two files (overwritten)."""

    @abstractmethod
    def stream_logs(self, handle: Handle) -> AsyncIterator[LogChunk]:
        """Yield the container's output from its start, following it until the container exits.

        Closing the iterator early is allowed; the runtime stops following soon after.
        """

    @abstractmethod
    async def remove(self, handle: Handle) -> None:
        """Delete the container (killing it if it still runs). Idempotent."""

    @abstractmethod
    async def list_owned(self, labels: Mapping[str, str]) -> list[Handle]:
        """Every container, running or exited, that carries all of `labels` (key = value).

        Used to re-adopt containers after an agent restart. Containers without these labels are
        never returned or touched. Raises InvalidInput for an empty filter.
        """

    @abstractmethod
    async def inspect(self, handle: Handle) -> ContainerState:
        """The container's current status, exit code and OOM verdict. Raises ContainerGone."""

    @abstractmethod
    async def stats(self, handle: Handle) -> NetStats | None:
        """Network byte counters of the container, summed over its interfaces.

        None when the runtime cannot attribute traffic to the container: a host-network
        container shares the host's interfaces (Docker reports no per-container network stats
        for it), and the process runtime always runs on the host network. Callers that need
        a number then have to fall back to host-wide counters. Raises ContainerGone.
        """

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release the runtime's resources (connections, threads). Containers keep running."""
