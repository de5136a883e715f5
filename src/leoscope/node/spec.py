"""From a job, a run and the node's executor config to the ContainerSpec the runtime starts.

What the experiment container gets (wire contract §6.4-6.6, plus LEOScope's hardening):

* the image's own entrypoint and CMD (docker runtime); `process.command` as an argument list
  (process runtime). Nothing is ever passed through a shell.
* environment: LEOTEST_SERVER=0, LEOTEST_JOBID, LEOTEST_NODEID, LEOTEST_SERVERIP=None,
  LEOTEST_SERVER_NODEID=None (a pairing hook fills the last two), LEOSCOPE_RUN_ID. Nothing of
  the agent's own environment (which holds the node token).
* labels: the reference's (runid, jobid, userid, start_time, start_date, end_date, type,
  overhead, server, leotest) and ours (leoscope.node, leoscope.job, leoscope.slot; the runtime
  adds leoscope.run). `leoscope.node` is what reconcile looks for after a restart.
* name `<docker.execute.name>_<jobid>_<runid>`, with characters Docker does not allow in names
  replaced by `-`.
* network `docker.execute.network`, or the host network when none is set; the run directory
  bound read-write at `docker.execute.volume.dest` (/artifacts). When the agent itself runs in
  a container, `docker.execute.volume.source` is the HOST path of `<data-dir>/runs`.
* limits from the executor config (`docker.execute.cpus`, `memory`, `pids_limit`; defaults
  1 CPU, 512m, 512), not privileged, no-new-privileges, every capability dropped except
  `cap_add` (NET_RAW by default, for ping), stop grace `stop_grace_secs` (10 s).

Executor config keys LEOScope adds beyond core.experiment's model:

    docker.pull_policy   always | if-not-present | never     (default: always, as the
                         reference: a moved `:latest` is picked up; `if-not-present` for
                         digest-pinned images, flaky links, and tests with local images)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from leoscope.api import leotest_pb2 as pb
from leoscope.core.errors import InvalidInput
from leoscope.core.experiment import ExecutorConfig, ExperimentConfig
from leoscope.core.model import JobType
from leoscope.core.timeutil import from_epoch, iso_z, ref_time

from .records import RunRecord
from .runtime.base import (
    DEFAULT_ARTIFACTS_DEST,
    LABEL_JOB,
    LABEL_NODE,
    ContainerSpec,
    PullPolicy,
    RegistryAuth,
)

LABEL_SLOT = "leoscope.slot"
PROCESS_IMAGE = "process"
_NAME_BAD = re.compile(r"[^a-zA-Z0-9_.-]")
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmg]?)b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_memory(value: str | int, field: str = "docker.execute.memory") -> int:
    """Docker-style sizes: 512m, 1g, 65536 (bytes); binary units."""
    if isinstance(value, int):
        return value
    match = _MEMORY.match(str(value))
    if not match:
        raise InvalidInput(field, f"{value!r} is not a size such as 512m or 1g")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


@dataclass(frozen=True)
class ExecutionPolicy:
    """The executor config, checked and in the runtime's units."""

    pull_policy: PullPolicy = PullPolicy.ALWAYS
    network: str | None = None
    volume_source: Path | None = None
    volume_dest: str = DEFAULT_ARTIFACTS_DEST
    nano_cpus: int | None = 1_000_000_000
    memory_bytes: int | None = 512 * 1024**2
    pids_limit: int | None = 512
    cap_add: tuple[str, ...] = ("NET_RAW",)
    stop_grace_secs: float = 10.0
    user: str | None = None
    auth: RegistryAuth | None = None


def execution_policy(config: ExecutorConfig) -> ExecutionPolicy:
    """Read the executor config; raises InvalidInput naming a bad key."""
    docker = config.docker
    execute = docker.execute
    pull_policy = PullPolicy(docker.pull_policy)
    if execute.cpus <= 0:
        raise InvalidInput("docker.execute.cpus", "must be greater than 0")
    auth = None
    if docker.auth is not None:
        auth = RegistryAuth(docker.auth.username, docker.auth.password, docker.auth.registry)
    source = execute.volume.source
    return ExecutionPolicy(
        pull_policy=pull_policy,
        network=execute.network or None,
        volume_source=Path(source) if source else None,
        volume_dest=execute.volume.dest or DEFAULT_ARTIFACTS_DEST,
        nano_cpus=int(execute.cpus * 1_000_000_000),
        memory_bytes=parse_memory(execute.memory),
        pids_limit=execute.pids_limit,
        cap_add=tuple(execute.cap_add),
        stop_grace_secs=float(execute.stop_grace_secs),
        user=execute.user,
        auth=auth,
    )


def container_name(prefix: str, jobid: str, runid: str) -> str:
    """`<prefix>_<jobid>_<runid>`, made safe for Docker (bad characters become '-')."""
    name = _NAME_BAD.sub("-", f"{prefix}_{jobid}_{runid}")
    if not name[0].isalnum():
        name = "x" + name
    return name[:250]


def run_labels(record: RunRecord, summary: pb.job, node_id: str) -> dict[str, str]:
    job_type = JobType(summary.type) if summary.type in (0, 1) else JobType.CRON
    return {
        "runid": record.runid,
        "jobid": record.jobid,
        "userid": record.userid,
        "start_time": ref_time(from_epoch(record.start_time)),
        "start_date": summary.start_date,
        "end_date": summary.end_date,
        "type": job_type.label,
        "overhead": "true" if summary.overhead else "false",
        "server": "false",
        "leotest": "true",
        LABEL_NODE: node_id,
        LABEL_JOB: record.jobid,
        LABEL_SLOT: iso_z(from_epoch(record.slot)),
    }


def run_environment(record: RunRecord, node_id: str) -> dict[str, str]:
    return {
        "LEOTEST_SERVER": "0",
        "LEOTEST_JOBID": record.jobid,
        "LEOTEST_NODEID": node_id,
        "LEOTEST_SERVERIP": "None",
        "LEOTEST_SERVER_NODEID": "None",
        "LEOSCOPE_RUN_ID": record.runid,
    }


def build_spec(
    *,
    record: RunRecord,
    experiment: ExperimentConfig,
    policy: ExecutionPolicy,
    node_id: str,
    runtime_kind: str,
    run_dir: Path,
) -> ContainerSpec:
    """The container for `record`. Raises InvalidInput when the experiment config cannot run
    on this runtime (no docker.image for Docker, no process.command for the process runtime)."""
    summary = record.job_message
    if runtime_kind == "process":
        if experiment.process is None:
            raise InvalidInput(
                "config", "has no process.command; the process runtime needs an argument list"
            )
        image, command, prefix = PROCESS_IMAGE, list(experiment.process.command), "leoscope"
        if experiment.docker is not None:
            prefix = experiment.docker.execute.name
    else:
        if experiment.docker is None:
            raise InvalidInput("config", "has no docker section (docker.image is required)")
        image, command, prefix = experiment.docker.image, None, experiment.docker.execute.name
    host_dir = run_dir
    if policy.volume_source is not None:
        host_dir = policy.volume_source / PurePosixPath(record.run_relpath)
    ports = experiment.docker.execute.ports if experiment.docker is not None else None
    return ContainerSpec(
        run_id=record.runid,
        name=container_name(prefix, record.jobid, record.runid),
        image=image,
        artifacts_dir=host_dir,
        command=command,
        env=run_environment(record, node_id),
        labels=run_labels(record, summary, node_id),
        artifacts_dest=policy.volume_dest,
        network=policy.network,
        ports=ports if policy.network else None,
        nano_cpus=policy.nano_cpus,
        memory_bytes=policy.memory_bytes,
        pids_limit=policy.pids_limit,
        cap_add=policy.cap_add,
        user=policy.user,
        auth=policy.auth,
        stop_grace_secs=policy.stop_grace_secs,
    )
