"""Paired client/server runs: a job with `server` set runs on its node AND its server node.

The wire protocol is the reference's (wire contract §6.8), so either side may be a reference
node:

client (this job's node), the `PairedClientHook`, just before its container starts:
    report DEPLOYING "Preparing environment for job execution: setting up server node."
    schedule_task(SERVER_START, taskid = uuid4 hex, runid, jobid, nodeid = server,
                  ttl_secs = length_secs)
    wait for the task's TASK_COMPLETE: woken by the watch stream's "tasks" notices, and
        polling get_tasks(taskid) every POLL_SECS as a fallback (a reference orchestrator has no
        stream). The wait is bounded by `wait_share` of the run's length, and it is spent from
        the run's own budget: the container is still stopped at slot + length_secs.
    -> start with LEOTEST_SERVERIP = the server node's public_ip (get_nodes) and
       LEOTEST_SERVER_NODEID = the server, or both "None" when the IP is unknown; or, if the
       server never came up, end FAILED "server node did not start".
    after the container: FINISHING "Performing post-execution tasks: stopping server" and
    schedule_task(SERVER_STOP) without waiting (also when the server was late: it stops then).

server (the job's `server` node), `ServerSide`, for each task of this node synced from the
orchestrator (each "tasks" notice syncs at once; else the poll finds it):
    SERVER_START: run `<client runid>_server` is created and launched through the executor
        (Executor.launch) as any run is: gates, run directory, archive, delivery. It adopts the
        client run's node id, owner and start time (get_runs), so it is reported and archived
        under the client's node: `<client node>/<job>/<Y>/<M>/<D>/<runid>_server.zip`. Its
        budget is the task's ttl_secs from now, so it stops by itself if the client vanished.
        Its config is the job's with the `server:` section merged over it (server_config), e.g.
        a different image, command or published ports; without one the same image runs, with
        LEOTEST_SERVER=1. Once its container runs (EXECUTING), the task is marked TASK_COMPLETE.
    SERVER_STOP: the server run is stopped (COMPLETE) and the task marked TASK_COMPLETE.

Published ports come from `docker.execute.ports` of the (merged) config, on a named network
only. Both sides key everything on state, so a task seen twice is acted on once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import uuid
from collections.abc import Coroutine
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import yaml

from leoscope.api import leotest_pb2 as pb
from leoscope.core.errors import InvalidInput
from leoscope.core.model import RunStatus, TaskStatus, TaskType
from leoscope.core.timeutil import from_epoch, parse_time, to_utc

from .clock import Clock
from .link import LinkDown, LinkError, OrchestratorLink
from .paths import run_relpath
from .records import SERVER_RUN_SUFFIX, RunPhase, RunRecord
from .runtime.base import ContainerSpec
from .seams import EndRun, Outcome, RunContext, RunHook
from .state import LocalState
from .tasks import cancel_and_wait

if TYPE_CHECKING:
    from .executor import Executor

log = logging.getLogger(__name__)

MSG_SETTING_UP_SERVER = "Preparing environment for job execution: setting up server node."
MSG_STOPPING_SERVER = "Performing post-execution tasks: stopping server"
MSG_SERVER_DID_NOT_START = "server node did not start"
MSG_STOPPED_BY_CLIENT = "Done executing the job (stopped by the client: SERVER_STOP)."
MSG_STOPPED_BEFORE_START = "the client released the server (SERVER_STOP) before it started"
POLL_SECS = 2.0
STOP_TASK_TTL_SECS = 300
CLIENT_RUN_LOOKUPS = 3
CLIENT_RUN_RETRY_SECS = 0.3
COMPLETE_RETRIES = 3
STOP_WAIT_EXTRA_SECS = 15.0
MAX_REMEMBERED_STOPS = 1000


def server_config(config_text: str) -> str:
    """The server side's experiment config: the job's, with its `server:` section merged over
    it (mappings merge key by key, anything else is replaced). Unchanged without one."""
    try:
        data = yaml.safe_load(config_text)
    except yaml.YAMLError:
        return config_text  # the executor reports the invalid config
    if not isinstance(data, dict) or not isinstance(data.get("server"), dict):
        return config_text
    merged = _merge(data, data["server"])
    return yaml.safe_dump(merged, sort_keys=False)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def server_runid(client_runid: str) -> str:
    return f"{client_runid}{SERVER_RUN_SUFFIX}"


class Pairing:
    """Both sides of pairing for one agent; `bind(executor)` before use (see the docstring)."""

    def __init__(
        self,
        *,
        state: LocalState,
        link: OrchestratorLink,
        clock: Clock,
        wait_share: float = 0.3,
        poll_secs: float = POLL_SECS,
    ) -> None:
        self.state = state
        self.link = link
        self.clock = clock
        self.wait_share = wait_share
        self.poll_secs = poll_secs
        self.executor: Executor | None = None
        self.client_hook = PairedClientHook(self)
        self.server_hook = ServerSideHook(self)
        self._waiters: set[asyncio.Event] = set()
        self._handling: set[str] = set()
        self._start_tasks: dict[str, str] = {}  # server runid -> its SERVER_START taskid
        self._stopped: dict[str, None] = {}  # client runids released before their start
        self._background: set[asyncio.Task[Any]] = set()

    def bind(self, executor: Executor) -> None:
        self.executor = executor
        executor.listeners.append(self._reported)

    async def close(self) -> None:
        await cancel_and_wait(*self._background)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------------ sync's feeds

    def notice(self, kind: str) -> None:
        """A watch notice: on "tasks", clients waiting for their server look again at once."""
        if kind == "tasks":
            for event in self._waiters:
                event.set()

    def tasks_synced(self, tasks: list[pb._task]) -> None:
        """The node's tasks as just synced: act on those not complete yet."""
        for task in tasks:
            if task.nodeid != self.state.node_id or task.status == TaskStatus.TASK_COMPLETE:
                continue
            if task.taskid in self._handling:
                continue
            self._handling.add(task.taskid)
            self._spawn(self._handle(task))

    # ------------------------------------------------------------------------ client side

    async def request_server(self, run: RunContext, server: str) -> dict[str, str]:
        """SERVER_START and wait; the environment for the client. Raises EndRun."""
        await run.report(RunStatus.DEPLOYING, MSG_SETTING_UP_SERVER)
        job = run.job
        now = self.clock.time()
        budget = min(self.wait_share * job.length_secs, run.record.deadline - now)
        task = pb._task(
            type=TaskType.SERVER_START,
            taskid=uuid.uuid4().hex,
            runid=run.runid,
            jobid=job.id,
            nodeid=server,
            status=TaskStatus.TASK_SCHEDULED,
            ttl_secs=job.length_secs,
        )
        try:
            await self.link.schedule_task(task)
        except LinkError as exc:
            run.log.error("SERVER_START for node %s could not be sent: %s", server, exc)
            raise EndRun(MSG_SERVER_DID_NOT_START) from None
        run.log.info(
            "SERVER_START %s sent to node %s; waiting up to %.1f s", task.taskid, server, budget
        )
        started = await self._wait_for_task(run, task.taskid, budget)
        if started is None:
            return {}  # aborted meanwhile: the executor ends the run
        if not started:
            run.log.error("server node %s did not start within %.1f s", server, budget)
            raise EndRun(MSG_SERVER_DID_NOT_START)
        address = ""
        try:
            node = await self.link.node(server)
            address = node.public_ip if node is not None else ""
        except LinkError as exc:
            run.log.warning("server node %s's address unknown: %s", server, exc)
        run.log.info("server node %s up; LEOTEST_SERVERIP=%s", server, address or "None")
        return {
            "LEOTEST_SERVER": "0",
            "LEOTEST_SERVERIP": address or "None",
            "LEOTEST_SERVER_NODEID": server if address else "None",
        }

    async def _wait_for_task(self, run: RunContext, taskid: str, budget: float) -> bool | None:
        """True once the task is complete, False when `budget` ran out, None if aborted."""
        wake = asyncio.Event()
        self._waiters.add(wake)
        give_up = self.clock.monotonic() + budget
        try:
            while True:
                wake.clear()  # before asking: a notice during the call is not lost
                try:
                    task = await self.link.task(taskid)
                    if task is not None and task.status == TaskStatus.TASK_COMPLETE:
                        return True
                except LinkError as exc:
                    log.debug("run=%s task %s not read: %s", run.runid, taskid, exc)
                if run.record.abort_status is not None:
                    return None
                remaining = give_up - self.clock.monotonic()
                if remaining <= 0:
                    return False
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(self.poll_secs, remaining)):
                        await wake.wait()
        finally:
            self._waiters.discard(wake)

    async def release_server(self, run: RunContext, server: str) -> None:
        """SERVER_STOP, without waiting for it."""
        await run.report(RunStatus.FINISHING, MSG_STOPPING_SERVER)
        task = pb._task(
            type=TaskType.SERVER_STOP,
            taskid=uuid.uuid4().hex,
            runid=run.runid,
            jobid=run.job.id,
            nodeid=server,
            status=TaskStatus.TASK_SCHEDULED,
            ttl_secs=STOP_TASK_TTL_SECS,
        )
        try:
            await self.link.schedule_task(task)
            run.log.info("SERVER_STOP %s sent to node %s", task.taskid, server)
        except LinkError as exc:
            run.log.warning("SERVER_STOP not sent (%s); the server stops at its TTL", exc)

    # ------------------------------------------------------------------------ server side

    async def _handle(self, task: pb._task) -> None:
        try:
            if task.type == TaskType.SERVER_START:
                await self._start_server(task)
            elif task.type == TaskType.SERVER_STOP:
                await self._stop_server(task)
        except Exception:
            log.exception("task %s (%s) failed", task.taskid, TaskType(task.type).name)
        finally:
            self._handling.discard(task.taskid)

    async def _start_server(self, task: pb._task) -> None:
        sid = server_runid(task.runid)
        self._start_tasks[sid] = task.taskid
        record = self.state.get_run(sid)
        if record is not None:
            if record.phase is RunPhase.RUNNING and record.status == RunStatus.EXECUTING:
                await self._complete(task.taskid)  # an earlier acknowledgement was lost
            return
        if task.runid in self._stopped:
            log.info("task %s: run %s was released before it started", task.taskid, task.runid)
            await self._complete(task.taskid)
            return
        record = await self._create_server_run(task, sid)
        if record is not None and self.executor is not None:
            log.info(
                "run=%s server side of job %s starting (task %s)", sid, task.jobid, task.taskid
            )
            self.executor.launch(record)

    async def _create_server_run(self, task: pb._task, sid: str) -> RunRecord | None:
        stored = self.state.job(task.jobid)
        if stored is None or stored.role != "server":
            log.warning(
                "task %s: job %s is not known here as a job this node serves; ignored",
                task.taskid,
                task.jobid,
            )
            return None
        summary = stored.summary
        detail = stored.detail
        if detail is None:
            try:
                detail = await self.link.job_detail(task.jobid)
            except LinkError as exc:
                log.info("task %s: job config not fetched yet (%s); retried", task.taskid, exc)
                return None
        client = await self._client_run(task.runid)
        now = self.clock.time()
        client_node, start = summary.nodeid, now
        if client is not None:
            client_node = client.nodeid or client_node
            with contextlib.suppress(InvalidInput):
                start = to_utc(parse_time(client.start_time, "start_time")).timestamp()
        else:
            log.info(
                "task %s: client run %s not visible yet; using the job's", task.taskid, task.runid
            )
        if detail is not None:
            detail = pb.message_get_job_by_id_response.FromString(detail.SerializeToString())
            detail.config = server_config(detail.config)
        ttl = task.ttl_secs if task.ttl_secs > 0 else STOP_TASK_TTL_SECS
        base = RunRecord(
            runid=sid,
            jobid=task.jobid,
            userid=summary.userid,
            slot=int(now),
            deadline=now + ttl,
            start_time=start,
            run_relpath=str(run_relpath(client_node, task.jobid, from_epoch(start), sid)),
            job_blob=summary.SerializeToString(),
            detail_blob=detail.SerializeToString() if detail is not None else None,
        )
        for bump in range(3):  # (job, slot) is unique; two server runs in one second are rare
            try:
                return self.state.create_run(replace(base, slot=base.slot + bump))
            except sqlite3.IntegrityError:
                if self.state.get_run(sid) is not None:
                    return None  # created meanwhile
        return None

    async def _client_run(self, runid: str) -> pb.run_instance | None:
        """The client's run as the orchestrator has it (its DEPLOYING report may be in flight)."""
        for attempt in range(CLIENT_RUN_LOOKUPS):
            try:
                run = await self.link.run(runid)
            except LinkError as exc:
                log.debug("client run %s not read: %s", runid, exc)
                run = None
            if run is not None:
                return run
            if attempt + 1 < CLIENT_RUN_LOOKUPS:
                await asyncio.sleep(CLIENT_RUN_RETRY_SECS)
        return None

    async def _stop_server(self, task: pb._task) -> None:
        sid = server_runid(task.runid)
        record = self.state.get_run(sid)
        if record is None:
            self._stopped[task.runid] = None
            while len(self._stopped) > MAX_REMEMBERED_STOPS:
                self._stopped.pop(next(iter(self._stopped)))
        elif record.phase not in (RunPhase.DONE, RunPhase.UPLOAD_PENDING) and self.executor:
            if record.phase is RunPhase.RUNNING:
                status, message = RunStatus.COMPLETE, MSG_STOPPED_BY_CLIENT
            else:
                status, message = RunStatus.ABORTED, MSG_STOPPED_BEFORE_START
            if await self.executor.abort_run(sid, status, message):
                log.info("run=%s stopping: SERVER_STOP %s", sid, task.taskid)
            await self._until_container_ended(sid)
        await self._complete(task.taskid)

    async def _until_container_ended(self, sid: str) -> None:
        grace = self.executor.policy.stop_grace_secs if self.executor else 10.0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace + STOP_WAIT_EXTRA_SECS):
                while True:
                    record = self.state.get_run(sid)
                    if record is None or record.outcome_status is not None:
                        return
                    await asyncio.sleep(0.1)

    def _reported(self, record: RunRecord) -> None:
        """Executor listener: a server run's EXECUTING completes its SERVER_START task."""
        if not record.is_server_side or record.status != RunStatus.EXECUTING:
            return
        taskid = self._start_tasks.get(record.runid)
        if taskid is None:
            client_runid = record.runid.removesuffix(SERVER_RUN_SUFFIX)
            for task in self.state.tasks():
                if task.type == TaskType.SERVER_START and task.runid == client_runid:
                    taskid = task.taskid
        if taskid is not None:
            self._spawn(self._complete(taskid))

    async def _complete(self, taskid: str) -> None:
        for attempt in range(COMPLETE_RETRIES):
            try:
                await self.link.update_task(taskid, TaskStatus.TASK_COMPLETE)
                log.info("task %s complete", taskid)
                return
            except LinkDown as exc:
                if attempt + 1 == COMPLETE_RETRIES:
                    log.warning(
                        "task %s not marked complete (%s); retried at the next sync", taskid, exc
                    )
                    return
                await asyncio.sleep(0.5 * (attempt + 1))
            except LinkError as exc:
                log.warning("task %s not marked complete: %s", taskid, exc)
                return


class PairedClientHook(RunHook):
    """The client side: SERVER_START and wait before the container, SERVER_STOP after it."""

    def __init__(self, pairing: Pairing) -> None:
        self.pairing = pairing

    async def before_start(self, run: RunContext, spec: ContainerSpec) -> ContainerSpec:
        server = run.job.server
        if not server or run.record.is_server_side:
            return spec
        env = await self.pairing.request_server(run, server)
        return replace(spec, env={**spec.env, **env}) if env else spec

    async def after_exit(self, run: RunContext, outcome: Outcome) -> None:
        server = run.job.server
        if server and not run.record.is_server_side:
            await self.pairing.release_server(run, server)


class ServerSideHook(RunHook):
    """The server side's container: LEOTEST_SERVER=1 and the reference's server labels."""

    def __init__(self, pairing: Pairing) -> None:
        self.pairing = pairing

    async def before_start(self, run: RunContext, spec: ContainerSpec) -> ContainerSpec:
        record = run.record
        if not record.is_server_side:
            return spec
        client_node = record.filed_nodeid or run.node_id
        env = {**spec.env, "LEOTEST_SERVER": "1", "LEOTEST_NODEID": client_node}
        labels = {
            **spec.labels,
            "runid": record.runid.removesuffix(SERVER_RUN_SUFFIX),
            "start_date": "",
            "end_date": "",
            "type": "",
            "overhead": "true",
            "server": "true",
        }
        return replace(spec, env=env, labels=labels)
