"""Experiment containers on a Docker engine, through the `docker` SDK's low-level API.

What a container gets (see wire-contract §6 and `ContainerSpec`):

* not privileged, `no-new-privileges`, every capability dropped except `spec.cap_add`
  (NET_RAW by default, for ping); CPU, memory (swap disabled: memory+swap = memory) and pids
  limits as the caller sets them; stdin open, no TTY; never auto-removed, so the agent can read
  the exit status and logs before `remove`;
* the run directory bind-mounted read-write at `/artifacts` (a missing source is an error,
  not silently created); the host network unless the spec names a network; `ports` only then;
* the image's own entrypoint and CMD unless `spec.command` is given, always as an argument
  list: job data never passes through a shell.

Labels. The caller passes every label; all values are strings. The reference's labels, which
its kernel service and tools read, are:

    runid        client run id (the server side uses the client run id too, no `_server`)
    jobid        job id
    userid       job owner (the kernel service authorises with it)
    start_time   run start, `YYYY-MM-DD HH:MM:SS.ffffff` UTC (timeutil.ref_time)
    start_date   the job's start_date as received; empty on the server side
    end_date     the job's end_date as received; empty on the server side
    type         `cron` or `atq`; empty on the server side
    overhead     `true` / `false` (always `true` on the server side)
    server       `true` on the server side of a paired run, else `false`
    leotest      always `true`

Ours, under `leoscope.`: `leoscope.node` (the node id: what `list_owned` filters on after an
agent restart), `leoscope.job`, and `leoscope.run`, which this runtime sets from
`spec.run_id` so that a re-adopted container maps back to its run.

Stopping uses Docker's stop: the image's stop signal (SIGTERM unless the image declares
another), then SIGKILL after the grace, rounded up to whole seconds (Docker's unit).

Exit status: `ExitInfo.exit_code` is Docker's (137 after SIGKILL) and `ExitInfo.oom_killed` is
Docker's OOMKilled flag, so the agent can tell "killed for memory" from "non-zero exit".

Threads. The SDK is blocking, so every call runs in this runtime's own thread pool rather
than asyncio's default one: waits, log follows and stops hold a thread for seconds, and on a
2-core host the default pool has only 6 threads. Waits block in slices of `WAIT_SLICE_SECS`,
so a cancelled wait frees its thread within one slice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import docker
import docker.errors
import requests
from docker.types import LogConfig, Mount

from leoscope.core.errors import InvalidInput
from leoscope.core.timeutil import parse_time

from .base import (
    DEFAULT_STOP_GRACE_SECS,
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
    check_owner_labels,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

WAIT_SLICE_SECS = 5.0
DEFAULT_LOG_MAX_BYTES = 64 * 1024 * 1024
REFERENCE_OWNER_LABEL = ("leotest", "true")
_ZERO_TIME_PREFIX = "0001-01-01"


def _explain(exc: BaseException) -> str:
    """Docker's own message for an API error, else the exception text."""
    explanation = getattr(exc, "explanation", None)
    if explanation:
        return str(explanation.decode() if isinstance(explanation, bytes) else explanation)
    return str(exc) or type(exc).__name__


@contextlib.contextmanager
def _engine_errors(ref: str | None = None) -> Iterator[None]:
    """Translate SDK and transport errors into the runtime's errors, chained."""
    try:
        yield
    except RuntimeErrorBase:
        raise
    except docker.errors.NotFound as exc:
        if ref is not None:
            raise ContainerGone(ref) from exc
        raise RuntimeErrorBase(_explain(exc)) from exc
    except docker.errors.DockerException as exc:
        raise RuntimeErrorBase(f"Docker engine error: {_explain(exc)}") from exc
    except requests.exceptions.RequestException as exc:
        raise RuntimeErrorBase(f"Docker engine unreachable: {exc}") from exc


def _docker_time(text: str | None) -> datetime | None:
    if not text or text.startswith(_ZERO_TIME_PREFIX):
        return None
    return parse_time(text, "docker timestamp")


def _state_from_inspect(info: Mapping[str, Any]) -> ContainerState:
    state = info.get("State") or {}
    status = ContainerStatus.parse(str(state.get("Status", "dead")))
    ended = status in (ContainerStatus.EXITED, ContainerStatus.DEAD)
    return ContainerState(
        status=status,
        exit_code=int(state.get("ExitCode", 0)) if ended else None,
        oom_killed=bool(state.get("OOMKilled", False)),
        error=str(state.get("Error") or ""),
        started_at=_docker_time(state.get("StartedAt")),
        finished_at=_docker_time(state.get("FinishedAt")) if ended else None,
    )


def _handle_from_inspect(info: Mapping[str, Any]) -> Handle:
    labels = dict((info.get("Config") or {}).get("Labels") or {})
    state = _state_from_inspect(info)
    return Handle(
        id=str(info["Id"]),
        name=str(info.get("Name", "")).lstrip("/"),
        run_id=labels.get(LABEL_RUN) or labels.get("runid", ""),
        status=state.status,
        labels=labels,
        started_at=state.started_at,
    )


def _auth_config(auth: RegistryAuth | None) -> dict[str, str] | None:
    if auth is None:
        return None
    config = {"username": auth.username, "password": auth.password}
    if auth.server:
        config["serveraddress"] = auth.server
    return config


class DockerRuntime(Runtime):
    """`Runtime` on a Docker engine.

    Pass a ready `docker.APIClient`, or let the runtime connect from the environment
    (DOCKER_HOST etc.); connecting asks the engine for its API version, so the constructor
    raises RuntimeErrorBase when no engine answers.

    `max_threads` bounds the runtime's thread pool and connection pool (each running wait or
    log follow holds one). `log_max_bytes` caps what the engine keeps of a container's output
    (json-file driver, two rotated files of half that size) so a chatty experiment cannot fill
    the node's disk; None keeps the engine's default logging.
    """

    kind = "docker"

    def __init__(
        self,
        api: docker.APIClient | None = None,
        *,
        max_threads: int = 32,
        timeout_secs: float = 60.0,
        log_max_bytes: int | None = DEFAULT_LOG_MAX_BYTES,
    ) -> None:
        if api is None:
            with _engine_errors():
                api = docker.from_env(timeout=int(timeout_secs), max_pool_size=max_threads).api
        self._api: docker.APIClient = api
        self._pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="docker-rt")
        self._log_max_bytes = log_max_bytes
        self._open_streams: set[Any] = set()
        self._streams_lock = threading.Lock()

    async def _run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    # -- images ---------------------------------------------------------------------------

    async def pull(
        self,
        image: str,
        auth: RegistryAuth | None = None,
        *,
        policy: PullPolicy = PullPolicy.ALWAYS,
    ) -> str:
        if not isinstance(image, str) or not image.strip() or any(c.isspace() for c in image):
            raise InvalidInput("image", f"{image!r} is not an image reference")
        if policy is not PullPolicy.ALWAYS:
            local = await self._local_image_id(image)
            if local is not None:
                return local
            if policy is PullPolicy.NEVER:
                raise PullError(image, "no local copy and the pull policy is 'never'")
        logger.info("pulling image=%s", image)
        await self._run(self._pull_blocking, image, _auth_config(auth))
        local = await self._local_image_id(image)
        if local is None:
            raise PullError(image, "the engine reported a successful pull but has no such image")
        return local

    def _pull_blocking(self, image: str, auth_config: dict[str, str] | None) -> None:
        try:
            for event in self._api.pull(image, auth_config=auth_config, stream=True, decode=True):
                if isinstance(event, dict) and event.get("error"):
                    detail = event.get("errorDetail") or {}
                    raise PullError(image, str(detail.get("message") or event["error"]))
        except PullError:
            raise
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise PullError(image, _explain(exc)) from exc

    async def _local_image_id(self, image: str) -> str | None:
        try:
            with _engine_errors():
                info = await self._run(self._api.inspect_image, image)
        except RuntimeErrorBase as exc:
            if isinstance(exc.__cause__, docker.errors.NotFound):
                return None
            raise
        return str(info["Id"])

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, spec: ContainerSpec) -> Handle:
        with _engine_errors():
            await self._run(self._remove_leftover, spec)
        create_args = self._create_args(spec)
        try:
            created = await self._run(self._api.create_container, **create_args)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise StartError(spec.name, _explain(exc)) from exc
        container_id = str(created["Id"])
        try:
            await self._run(self._api.start, container_id)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            with contextlib.suppress(Exception):
                await self._run(self._api.remove_container, container_id, force=True, v=True)
            raise StartError(spec.name, _explain(exc)) from exc
        with _engine_errors(spec.name):
            info = await self._run(self._api.inspect_container, container_id)
        handle = _handle_from_inspect(info)
        logger.info(
            "container started run=%s name=%s id=%.12s image=%s",
            spec.run_id,
            spec.name,
            container_id,
            spec.image,
        )
        return handle

    def _remove_leftover(self, spec: ContainerSpec) -> None:
        """Stop and remove an earlier container of this name, if LEOScope (or the reference) made it."""
        try:
            info = self._api.inspect_container(spec.name)
        except docker.errors.NotFound:
            return
        if str(info.get("Name", "")).lstrip("/") != spec.name:
            return  # Docker matched an id prefix, not our name
        labels = (info.get("Config") or {}).get("Labels") or {}
        if (
            LABEL_RUN not in labels
            and labels.get(REFERENCE_OWNER_LABEL[0]) != REFERENCE_OWNER_LABEL[1]
        ):
            raise StartError(
                spec.name,
                "a container with this name exists that LEOScope did not create; not removing it",
            )
        logger.warning(
            "removing leftover container name=%s id=%.12s status=%s",
            spec.name,
            info["Id"],
            (info.get("State") or {}).get("Status"),
        )
        if (info.get("State") or {}).get("Running"):
            self._api.stop(info["Id"], timeout=math.ceil(spec.stop_grace_secs))
        try:
            self._api.remove_container(info["Id"], force=True, v=True)
        except docker.errors.NotFound:
            pass

    def _create_args(self, spec: ContainerSpec) -> dict[str, Any]:
        log_config = None
        if self._log_max_bytes is not None:
            per_file = max(1024 * 1024, self._log_max_bytes // 2)
            log_config = LogConfig(
                type=LogConfig.types.JSON, config={"max-size": str(per_file), "max-file": "2"}
            )
        host_config = self._api.create_host_config(
            mounts=[
                Mount(
                    target=spec.artifacts_dest,
                    source=str(spec.artifacts_dir),
                    type="bind",
                    read_only=False,
                )
            ],
            network_mode=spec.network or "host",
            port_bindings=dict(spec.ports) if spec.ports else None,
            privileged=False,
            security_opt=["no-new-privileges"],
            cap_drop=["ALL"],
            cap_add=list(spec.cap_add) or None,
            nano_cpus=spec.nano_cpus,
            mem_limit=spec.memory_bytes,
            memswap_limit=spec.memory_bytes,
            pids_limit=spec.pids_limit,
            sysctls=dict(spec.sysctls) or None,
            auto_remove=False,
            log_config=log_config,
        )
        labels = dict(spec.labels)
        labels[LABEL_RUN] = spec.run_id
        exposed = [tuple(str(port).split("/", 1)) for port in spec.ports] if spec.ports else None
        return {
            "image": spec.image,
            "command": list(spec.command) if spec.command is not None else None,
            "name": spec.name,
            "environment": dict(spec.env),
            "labels": labels,
            "user": spec.user,
            "stdin_open": True,
            "tty": False,
            "detach": True,
            "ports": exposed,
            "stop_timeout": math.ceil(spec.stop_grace_secs),
            "host_config": host_config,
        }

    async def wait(self, handle: Handle, timeout: float | None) -> ExitInfo | None:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + max(0.0, timeout)
        while True:
            state = await self.inspect(handle)
            ended = state.exit_info()
            if ended is not None:
                return ended
            remaining = WAIT_SLICE_SECS if deadline is None else deadline - loop.time()
            if remaining <= 0:
                return None
            began = loop.time()
            try:
                with _engine_errors(handle.name):
                    await self._run(
                        self._api.wait, handle.id, timeout=min(remaining, WAIT_SLICE_SECS)
                    )
            except ContainerGone:
                raise
            except RuntimeErrorBase:
                pass  # the slice timed out (or the engine hiccuped): inspect decides
            if loop.time() - began < 0.05:
                # `wait` returns at once for a container that is not running (e.g. created or
                # paused): poll gently instead of spinning.
                await asyncio.sleep(0.2)

    async def stop(self, handle: Handle, grace_secs: float = DEFAULT_STOP_GRACE_SECS) -> None:
        secs = max(0, math.ceil(grace_secs))
        logger.info("stopping container name=%s grace_secs=%d", handle.name, secs)
        with _engine_errors(handle.name):
            await self._run(self._api.stop, handle.id, timeout=secs)

    async def remove(self, handle: Handle) -> None:
        try:
            await self._run(self._api.remove_container, handle.id, force=True, v=True)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code == 409 and "already in progress" in _explain(exc):
                return
            raise RuntimeErrorBase(f"cannot remove {handle.name}: {_explain(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise RuntimeErrorBase(f"Docker engine unreachable: {exc}") from exc
        logger.info("container removed name=%s", handle.name)

    # -- observation ----------------------------------------------------------------------

    async def inspect(self, handle: Handle) -> ContainerState:
        with _engine_errors(handle.name):
            info = await self._run(self._api.inspect_container, handle.id)
        return _state_from_inspect(info)

    async def list_owned(self, labels: Mapping[str, str]) -> list[Handle]:
        wanted = check_owner_labels(labels)
        with _engine_errors():
            rows = await self._run(
                self._api.containers,
                all=True,
                filters={"label": [f"{key}={value}" for key, value in wanted.items()]},
            )
        handles: list[Handle] = []
        for row in rows:
            try:
                with _engine_errors(str(row["Id"])):
                    info = await self._run(self._api.inspect_container, row["Id"])
            except ContainerGone:
                continue  # removed between the listing and the inspect
            handle = _handle_from_inspect(info)
            if all(handle.labels.get(key) == value for key, value in wanted.items()):
                handles.append(handle)
        handles.sort(key=lambda h: (h.started_at is None, h.started_at or datetime.min, h.name))
        return handles

    async def stats(self, handle: Handle) -> NetStats | None:
        with _engine_errors(handle.name):
            raw = await self._run(self._api.stats, handle.id, stream=False, one_shot=True)
        networks = raw.get("networks") if isinstance(raw, dict) else None
        if not networks:
            return None  # host network (or not running): no per-container counters
        rx = sum(int(iface.get("rx_bytes", 0)) for iface in networks.values())
        tx = sum(int(iface.get("tx_bytes", 0)) for iface in networks.values())
        return NetStats(rx_bytes=rx, tx_bytes=tx)

    # -- logs -----------------------------------------------------------------------------

    async def collect_logs(self, handle: Handle, stdout_path: Path, stderr_path: Path) -> None:
        with _engine_errors(handle.name):
            await self._run(self._write_log, handle.id, "stdout", Path(stdout_path))
            await self._run(self._write_log, handle.id, "stderr", Path(stderr_path))

    def _write_log(
        self, container_id: str, stream: Literal["stdout", "stderr"], path: Path
    ) -> None:
        chunks = self._api.logs(
            container_id,
            stdout=stream == "stdout",
            stderr=stream == "stderr",
            stream=True,
            follow=False,
        )
        with path.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)

    async def stream_logs(self, handle: Handle) -> AsyncIterator[LogChunk]:
        """Follow stdout and stderr on two cancellable engine streams, merged as they arrive."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[LogChunk | None] = asyncio.Queue()
        streams = []
        with _engine_errors(handle.name):
            for name in ("stdout", "stderr"):
                stream = await self._run(
                    self._api.logs,
                    handle.id,
                    stdout=name == "stdout",
                    stderr=name == "stderr",
                    stream=True,
                    follow=True,
                )
                streams.append((name, stream))
        with self._streams_lock:
            self._open_streams.update(stream for _, stream in streams)

        def pump(name: Literal["stdout", "stderr"], stream: Any) -> None:
            try:
                for data in stream:
                    loop.call_soon_threadsafe(queue.put_nowait, LogChunk(name, data))
            except Exception:  # closed under our feet, or the engine went away
                logger.debug("log stream %s of %s ended with an error", name, handle.name)
            finally:
                with contextlib.suppress(RuntimeError):  # the loop may be closed at shutdown
                    loop.call_soon_threadsafe(queue.put_nowait, None)

        for name, stream in streams:
            loop.run_in_executor(self._pool, pump, name, stream)
        try:
            open_count = len(streams)
            while open_count:
                item = await queue.get()
                if item is None:
                    open_count -= 1
                else:
                    yield item
        finally:
            for _, stream in streams:
                with contextlib.suppress(Exception):
                    stream.close()
            with self._streams_lock:
                self._open_streams.difference_update(stream for _, stream in streams)

    async def close(self) -> None:
        with self._streams_lock:
            streams, self._open_streams = list(self._open_streams), set()
        for stream in streams:
            with contextlib.suppress(Exception):
                stream.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            self._api.close()
