"""Experiments as plain child processes: for development and hosts without Docker.

There is no isolation: the experiment runs as the agent's user, on the host network, without
CPU, memory or capability limits, and can read whatever that user can. The constructor logs a
WARNING saying so. What the runtime does keep from the container contract:

* `spec.command` runs as an argument list (never through a shell) in its own session and
  process group, with cwd = the run directory and an environment made only of PATH,
  `spec.env`, `LEOSCOPE_ARTIFACTS=<run dir>` and a marker. The agent's own environment is not
  inherited: it may hold credentials.
* stdout and stderr go straight to `container.stdout` / `container.stderr` in the run
  directory.
* stop = SIGTERM to the process group, then SIGKILL after the grace. When the main process
  ends, whatever it left behind in its group is killed, as Docker does with a container.
* Each run has a record, `.leoscope-process.json`, in its run directory, and the runtime's
  `state_dir` keeps a symlink per container name pointing at that directory. A new runtime
  object (after an agent restart) finds the records there. A recorded pid counts as ours only
  if the boot id and the kernel's start time of that pid still match the record and its
  initial environment carries our marker (`LEOSCOPE_PROCESS_RUN=<run id>`), so a reused pid
  is reported as exited and never signalled. (An experiment that re-executes itself with a
  cleared environment therefore looks exited to a restarted agent.)

Exit codes follow Docker (128+N for signal N). The runtime writes an exit code into the record
when it observes it; a process that ended while no agent was watching reports
EXIT_CODE_UNKNOWN. Options that need a container engine (limits, caps, sysctls, network,
ports, user, image) are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from leoscope.core.errors import InvalidInput
from leoscope.core.timeutil import iso_z, parse_time, utcnow

from .base import (
    DEFAULT_STOP_GRACE_SECS,
    EXIT_CODE_UNKNOWN,
    LABEL_RUN,
    ContainerGone,
    ContainerSpec,
    ContainerState,
    ContainerStatus,
    ExitInfo,
    Handle,
    LogChunk,
    NetStats,
    PullPolicy,
    RegistryAuth,
    Runtime,
    RuntimeErrorBase,
    StartError,
    check_owner_labels,
)

logger = logging.getLogger(__name__)

RECORD_NAME = ".leoscope-process.json"
STDOUT_NAME = "container.stdout"
STDERR_NAME = "container.stderr"
MARKER_ENV = "LEOSCOPE_PROCESS_RUN"
ARTIFACTS_ENV = "LEOSCOPE_ARTIFACTS"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_POLL_SECS = 0.1
_KILL_WAIT_SECS = 5.0
_UNKNOWN_EXIT = "the process ended while no agent was watching; its exit status is unknown"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class _ProcStat:
    state: str
    pgid: int
    start_ticks: int


def _proc_stat(pid: int) -> _ProcStat | None:
    """State, process group and start time (clock ticks since boot) of `pid`, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and parentheses; fields resume after the last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    return _ProcStat(state=fields[0], pgid=int(fields[2]), start_ticks=int(fields[19]))


def _carries_marker(pid: int, run_id: str) -> bool:
    """Whether `pid` was started with our marker (True when its environ is unreadable)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except PermissionError:
        return True
    except (FileNotFoundError, ProcessLookupError):
        return False
    return f"{MARKER_ENV}={run_id}".encode() in environ.split(b"\0")


def _copy_file(source: Path, target: Path) -> None:
    """Copy a live log file to where the caller wants it (nothing to do if it is the same file)."""
    if not source.exists():
        target.write_bytes(b"")
    elif not (target.exists() and os.path.samefile(source, target)):
        shutil.copyfile(source, target)


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


@dataclass
class _Record:
    """What `.leoscope-process.json` holds about one started process."""

    name: str
    run_id: str
    pid: int
    pgid: int
    start_ticks: int
    boot_id: str
    run_dir: str
    labels: dict[str, str]
    started_at: str
    exit_code: int | None = None
    finished_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> _Record:
        data = json.loads(path.read_text())
        known = {key: data.pop(key) for key in list(data) if key in cls.__dataclass_fields__}
        return cls(**known, extra=data)

    def save(self, path: Path) -> None:
        data = {key: getattr(self, key) for key in self.__dataclass_fields__ if key != "extra"}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({**self.extra, **data}, indent=1, sort_keys=True))
        os.replace(tmp, path)

    def is_live_process(self) -> bool:
        """True while the recorded pid is still this very process and has not exited.

        Identity needs the same boot, the same kernel start time (10 ms ticks) and, where
        /proc lets us read it, our marker in the process's initial environment.
        """
        stat = _proc_stat(self.pid)
        return (
            stat is not None
            and stat.start_ticks == self.start_ticks
            and self.boot_id == _boot_id()
            and stat.state not in ("Z", "X", "x")
            and _carries_marker(self.pid, self.run_id)
        )


class ProcessRuntime(Runtime):
    """`Runtime` running each experiment as a child process; see the module docstring."""

    kind = "process"

    def __init__(self, state_dir: Path, *, path_env: str | None = None) -> None:
        logger.warning(
            "process runtime in use: experiments run as plain processes of this user, with no "
            "isolation and no resource limits; use it only for development or trusted jobs"
        )
        self._state_dir = Path(state_dir)
        self._state_dir.mkdir(parents=True, exist_ok=True)
        self._path_env = path_env or os.environ.get("PATH") or DEFAULT_PATH
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    # -- records --------------------------------------------------------------------------

    def _link(self, name: str) -> Path:
        return self._state_dir / name

    def _record_path(self, name: str) -> Path:
        return self._link(name) / RECORD_NAME

    def _load(self, name: str) -> _Record:
        try:
            return _Record.load(self._record_path(name))
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise ContainerGone(name) from exc
        except (OSError, ValueError, TypeError) as exc:
            raise RuntimeErrorBase(f"unreadable process record for {name}: {exc}") from exc

    def _observe(self, record: _Record) -> ContainerState:
        """The process's state now; records an exit code the first time one is seen."""
        child = self._children.get(record.name)
        if record.exit_code is None and child is not None and child.pid == record.pid:
            returncode = child.poll()
            if returncode is None:
                return self._state(record, ContainerStatus.RUNNING)
            self._kill_group(record.pgid)  # leftovers die with the main process
            record.exit_code = _exit_code(returncode)
            record.finished_at = iso_z(utcnow())
            with contextlib.suppress(OSError):
                record.save(self._record_path(record.name))
            self._children.pop(record.name, None)
            logger.info(
                "process exited run=%s name=%s exit_code=%d",
                record.run_id,
                record.name,
                record.exit_code,
            )
        if record.exit_code is None and record.is_live_process():
            return self._state(record, ContainerStatus.RUNNING)
        return self._state(record, ContainerStatus.EXITED)

    @staticmethod
    def _state(record: _Record, status: ContainerStatus) -> ContainerState:
        exited = status is ContainerStatus.EXITED
        unknown = exited and record.exit_code is None
        return ContainerState(
            status=status,
            exit_code=(EXIT_CODE_UNKNOWN if unknown else record.exit_code) if exited else None,
            oom_killed=False,
            error=_UNKNOWN_EXIT if unknown else "",
            started_at=parse_time(record.started_at, "started_at"),
            finished_at=parse_time(record.finished_at, "finished_at")
            if exited and record.finished_at
            else None,
        )

    @staticmethod
    def _handle(record: _Record, status: ContainerStatus) -> Handle:
        return Handle(
            id=record.name,
            name=record.name,
            run_id=record.run_id,
            status=status,
            labels=dict(record.labels),
            started_at=parse_time(record.started_at, "started_at"),
        )

    @staticmethod
    def _kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    # -- images ---------------------------------------------------------------------------

    async def pull(
        self,
        image: str,
        auth: RegistryAuth | None = None,
        *,
        policy: PullPolicy = PullPolicy.ALWAYS,
    ) -> str:
        """There are no images: nothing is fetched and the reference is returned as given."""
        if not isinstance(image, str) or not image.strip():
            raise InvalidInput("image", "must be a non-empty string")
        return image

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, spec: ContainerSpec) -> Handle:
        if spec.command is None:
            raise StartError(spec.name, "the process runtime needs an explicit command (no image)")
        if not spec.artifacts_dir.is_dir():
            raise StartError(spec.name, f"run directory {spec.artifacts_dir} does not exist")
        await self._remove_leftover(spec)
        record = await asyncio.to_thread(self._spawn, spec)
        logger.info("process started run=%s name=%s pid=%d", spec.run_id, spec.name, record.pid)
        return self._handle(record, ContainerStatus.RUNNING)

    async def _remove_leftover(self, spec: ContainerSpec) -> None:
        link = self._link(spec.name)
        if not link.is_symlink() and not link.exists():
            return
        try:
            record = self._load(spec.name)
        except (ContainerGone, RuntimeErrorBase):
            link.unlink(missing_ok=True)
            return
        logger.warning("removing leftover process name=%s pid=%d", spec.name, record.pid)
        handle = self._handle(record, ContainerStatus.RUNNING)
        await self.stop(handle, spec.stop_grace_secs)
        await self.remove(handle)

    def _spawn(self, spec: ContainerSpec) -> _Record:
        run_dir = spec.artifacts_dir
        env = {"PATH": self._path_env, **spec.env}
        env[ARTIFACTS_ENV] = str(run_dir)
        env[MARKER_ENV] = spec.run_id
        with (run_dir / STDOUT_NAME).open("wb") as out, (run_dir / STDERR_NAME).open("wb") as err:
            try:
                child = subprocess.Popen(
                    list(spec.command or ()),
                    cwd=run_dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                    close_fds=True,
                )
            except OSError as exc:
                raise StartError(spec.name, f"{exc.strerror or exc}: {spec.command[0]!r}") from exc
        stat = _proc_stat(child.pid)  # an unreaped child still has its /proc entry
        labels = dict(spec.labels)
        labels[LABEL_RUN] = spec.run_id
        record = _Record(
            name=spec.name,
            run_id=spec.run_id,
            pid=child.pid,
            pgid=child.pid,
            start_ticks=stat.start_ticks if stat else -1,
            boot_id=_boot_id(),
            run_dir=str(run_dir),
            labels=labels,
            started_at=iso_z(utcnow()),
        )
        record.save(run_dir / RECORD_NAME)
        link = self._link(spec.name)
        link.unlink(missing_ok=True)
        link.symlink_to(run_dir, target_is_directory=True)
        self._children[spec.name] = child
        return record

    async def wait(self, handle: Handle, timeout: float | None) -> ExitInfo | None:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + max(0.0, timeout)
        while True:
            record = self._load(handle.name)
            state = self._observe(record)
            ended = state.exit_info()
            if ended is not None:
                return ended
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return None
            await self._wait_for_exit(record, remaining)

    async def _wait_for_exit(self, record: _Record, timeout_secs: float | None) -> None:
        """Return when the process exits or `timeout` passes; the caller re-checks which."""
        try:
            pidfd = os.pidfd_open(record.pid)
        except ProcessLookupError:
            return
        except OSError:  # no pidfd support: poll
            await asyncio.sleep(
                _POLL_SECS if timeout_secs is None else min(timeout_secs, _POLL_SECS)
            )
            return
        if not record.is_live_process():  # exited (zombie) or the pid is no longer ours
            os.close(pidfd)
            return
        loop = asyncio.get_running_loop()
        exited = loop.create_future()
        loop.add_reader(pidfd, lambda: exited.done() or exited.set_result(None))
        try:
            await asyncio.wait_for(exited, timeout_secs)
        except TimeoutError:
            pass
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)

    async def stop(self, handle: Handle, grace_secs: float = DEFAULT_STOP_GRACE_SECS) -> None:
        record = self._load(handle.name)
        if self._observe(record).status is not ContainerStatus.RUNNING:
            return
        logger.info("stopping process name=%s grace_secs=%.1f", handle.name, grace_secs)
        self._kill_group(record.pgid, signal.SIGTERM)
        if await self.wait(handle, max(0.0, grace_secs)) is not None:
            self._kill_group(record.pgid)
            return
        logger.info("process ignored SIGTERM, killing name=%s", handle.name)
        self._kill_group(record.pgid)
        if await self.wait(handle, _KILL_WAIT_SECS) is None:
            raise RuntimeErrorBase(f"process {handle.name} survived SIGKILL")

    async def remove(self, handle: Handle) -> None:
        try:
            record = self._load(handle.name)
        except ContainerGone:
            # The run directory (and the record in it) may already be deleted: drop the index
            # entry, and make sure a child we still know of does not outlive it.
            child = self._children.pop(handle.name, None)
            if child is not None and child.poll() is None:
                self._kill_group(child.pid)
                await asyncio.to_thread(child.wait, _KILL_WAIT_SECS)
            self._link(handle.name).unlink(missing_ok=True)
            return
        if self._observe(record).status is ContainerStatus.RUNNING:
            self._kill_group(record.pgid)
            await self.wait(handle, _KILL_WAIT_SECS)
        self._forget(record)
        logger.info("process record removed name=%s", handle.name)

    def _forget(self, record: _Record) -> None:
        Path(record.run_dir, RECORD_NAME).unlink(missing_ok=True)
        self._link(record.name).unlink(missing_ok=True)
        self._children.pop(record.name, None)

    # -- observation ----------------------------------------------------------------------

    async def inspect(self, handle: Handle) -> ContainerState:
        return self._observe(self._load(handle.name))

    async def list_owned(self, labels: Mapping[str, str]) -> list[Handle]:
        wanted = check_owner_labels(labels)
        handles: list[Handle] = []
        for link in sorted(self._state_dir.iterdir()):
            if not link.is_symlink():
                continue
            try:
                record = self._load(link.name)
            except (ContainerGone, RuntimeErrorBase) as exc:
                logger.warning("skipping process record %s: %s", link.name, exc)
                continue
            if all(record.labels.get(key) == value for key, value in wanted.items()):
                handles.append(self._handle(record, self._observe(record).status))
        return handles

    async def stats(self, handle: Handle) -> NetStats | None:
        """Always None: the process shares the host's network interfaces."""
        self._load(handle.name)
        return None

    # -- logs -----------------------------------------------------------------------------

    async def collect_logs(self, handle: Handle, stdout_path: Path, stderr_path: Path) -> None:
        run_dir = Path(self._load(handle.name).run_dir)
        await asyncio.to_thread(_copy_file, run_dir / STDOUT_NAME, Path(stdout_path))
        await asyncio.to_thread(_copy_file, run_dir / STDERR_NAME, Path(stderr_path))

    async def stream_logs(self, handle: Handle) -> AsyncIterator[LogChunk]:
        """Follow the two log files until the process has exited and both are drained."""
        run_dir = Path(self._load(handle.name).run_dir)
        with (run_dir / STDOUT_NAME).open("rb") as out, (run_dir / STDERR_NAME).open("rb") as err:
            sources: tuple[tuple[Literal["stdout", "stderr"], BinaryIO], ...] = (
                ("stdout", out),
                ("stderr", err),
            )
            while True:
                finished = (await self.inspect(handle)).status is not ContainerStatus.RUNNING
                got_data = False
                for stream, file in sources:
                    data = file.read(65536)
                    if data:
                        got_data = True
                        yield LogChunk(stream, data)
                if finished and not got_data:
                    return
                if not got_data:
                    await asyncio.sleep(_POLL_SECS)

    @property
    def state_dir(self) -> Path:
        return self._state_dir
