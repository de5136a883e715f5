"""Experiment and executor configuration (YAML), validated with pydantic.

The experiment config travels as the job's `config` text (wire contract §6.2); the executor
config is the node operator's file (§6.1). Only the keys LEOScope acts on are modelled; anything
else in an experiment config belongs to the image and passes through untouched.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import InvalidInput

MAX_CONFIG_BYTES = 1024 * 1024

# Per-network-namespace kernel settings an experiment may ask for (issue: kernel tuning). These
# are the ones Docker's `sysctls` accepts for a container's own network namespace.
KERNEL_KEY = re.compile(r"^net\.(ipv4\.tcp_[a-z0-9_]+|core\.[a-z0-9_]+)$")
KERNEL_ALIASES = {"tcp_congestion_control": "net.ipv4.tcp_congestion_control"}
KERNEL_VALUE = re.compile(r"^[A-Za-z0-9_. -]{1,64}$")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class DockerExecute(_Open):
    name: str = "leoscope"
    ports: dict[str, Any] | None = None


class DockerSection(_Open):
    image: str
    execute: DockerExecute = Field(default_factory=DockerExecute)


class ProcessSection(_Open):
    command: list[str]


class ArtifactsSection(_Open):
    sync_interval: float | None = None

    @field_validator("sync_interval")
    @classmethod
    def _positive(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError("must be a positive number of seconds")
        return v


class ExperimentConfig(_Open):
    """What the node reads from a job's config."""

    docker: DockerSection | None = None
    process: ProcessSection | None = None
    server: dict[str, Any] | None = None
    artifacts: ArtifactsSection | None = None
    kernel: dict[str, str | int] | None = None

    def kernel_sysctls(self) -> dict[str, str]:
        """The requested kernel settings as sysctl names, validated against the whitelist."""
        return normalize_kernel(self.kernel or {})


def normalize_kernel(requested: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in requested.items():
        name = KERNEL_ALIASES.get(key, key)
        if not KERNEL_KEY.match(name):
            raise InvalidInput(
                "config",
                f"kernel setting {key!r} is not allowed; only per-namespace net.ipv4.tcp_* "
                "and net.core.* settings (or tcp_congestion_control) may be set",
            )
        text = str(value)
        if not KERNEL_VALUE.match(text):
            raise InvalidInput("config", f"kernel setting {key!r} has an invalid value {text!r}")
        out[name] = text
    return out


@functools.lru_cache(maxsize=64)
def parse_experiment_config(text: str, field: str = "config") -> ExperimentConfig:
    """Parse and validate a job's experiment config, naming the problem precisely.

    Cached: a job's config is checked at admission more than once and read again by nodes.
    Treat the result as read-only.
    """
    if not text or not text.strip():
        raise InvalidInput(field, "is empty; an experiment config (YAML) is required")
    if len(text.encode()) > MAX_CONFIG_BYTES:
        raise InvalidInput(field, f"is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InvalidInput(field, f"is not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise InvalidInput(field, "must be a YAML mapping (e.g. 'docker: {image: ...}')")
    try:
        parsed = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(field, f"{where}: {err['msg']}") from None
    parsed.kernel_sysctls()
    return parsed


class ExecutorVolume(_Open):
    source: str | None = None
    dest: str = "/artifacts"


class ExecutorDockerExecute(_Open):
    network: str | None = None
    volume: ExecutorVolume = Field(default_factory=ExecutorVolume)
    cpus: float = 1.0
    memory: str = "512m"
    pids_limit: int = 512
    cap_add: list[str] = Field(default_factory=lambda: ["NET_RAW"])
    stop_grace_secs: float = 10.0
    user: str | None = None


class RegistryAuth(_Open):
    username: str
    password: str
    registry: str | None = None


class ExecutorDocker(_Open):
    execute: ExecutorDockerExecute = Field(default_factory=ExecutorDockerExecute)
    pull_policy: Literal["always", "if-not-present", "never"] = "always"
    """`always` pulls before every run (the reference's behaviour); `if-not-present` suits
    locally built or digest-pinned images and offline nodes."""

    @field_validator("pull_policy", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.lower() if isinstance(v, str) else v

    auth: RegistryAuth | None = None


class ExecutorConfig(_Open):
    """The node operator's executor config (reference keys plus LEOScope's limits)."""

    docker: ExecutorDocker = Field(default_factory=ExecutorDocker)
    route: dict[str, str] | None = None
    allow_host_kernel_settings: bool = False


def parse_executor_config(text: str) -> ExecutorConfig:
    data = yaml.safe_load(text) if text.strip() else {}
    if not isinstance(data, dict):
        raise InvalidInput("executor-config", "must be a YAML mapping")
    try:
        return ExecutorConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(where or "executor-config", err["msg"]) from None
