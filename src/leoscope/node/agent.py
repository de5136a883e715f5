"""The node agent: composes the parts, starts them in order, stops them in reverse.

    settings.py   what the operator configured          paths.py   the data directory
    state.py      local SQLite (jobs, runs, outbox)     link.py    the orchestrator connection
    sync.py       polling + watch_node -> local jobs    timer.py   slots -> claimed runs
    executor.py   one state machine per run             spec.py    job -> ContainerSpec
    outbox.py     run updates, in order, until acked    reconcile.py  adopt after a restart
    seams.py      gates, hooks, archive delivery (extension points for later issues)

Start order: data directory, state, link, runtime; the node's identity is checked (a fresh
data directory waits until the orchestrator confirms the node, so a wrong token or an
unregistered node ends the agent with `AgentStartupError`; a data directory that has been
confirmed before starts from its local schedule at once and checks in the background, so a
node rebooting while its link is down still runs its experiments); then the outbox, the
executor, reconcile (adopt containers, resume runs), sync (polling and, with our
orchestrator, the watch stream), and, once the first sync has succeeded or failed (at most
FIRST_SYNC_WAIT_SECS), the timer.

Every part registers its own cleanup on one AsyncExitStack, so stopping unwinds in reverse:
sync and timer stop, the executor lets go of its runs (containers keep running and are adopted
at the next start), the outbox gets a bounded, shielded last chance to deliver, then the
runtime, the link and the state file close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Sequence
from contextlib import AsyncExitStack
from typing import Any

from leoscope.core.errors import InvalidInput
from leoscope.core.experiment import ExecutorConfig, parse_executor_config
from leoscope.retry import Backoff, RetryPolicy

from .clock import SYSTEM_CLOCK, Clock
from .control import ControlError, ControlPathTooLong, ControlServer
from .delivery import LocalStoreDelivery
from .executor import Executor
from .kernel import HostSysctls, KernelSettingsHook
from .link import CredentialsRejected, LinkDown, OrchestratorLink, Refused, open_channel
from .outbox import Outbox
from .pairing import Pairing
from .paths import AgentPaths
from .publicip import PublicIpReporter
from .reconcile import reconcile
from .runtime.base import Runtime, RuntimeErrorBase
from .scavenger import Scavenger
from .seams import ArchiveDelivery, Gate, RunHook
from .sensing import NodeSensing
from .settings import AgentSettings
from .snapshots import SnapshotHook
from .spool import Spool, SpoolGate
from .state import LocalState
from .sync import Syncer
from .tasks import cancel_and_wait
from .telemetry_hook import TelemetryHook
from .timer import Timer
from .upload import Uploader

log = logging.getLogger(__name__)

VERIFIED_KEY = "verified_node"
FINAL_FLUSH_SECS = 2.0
FIRST_SYNC_WAIT_SECS = 3.0
TASK_STOP_SECS = 10.0
VERIFY_RETRY = RetryPolicy(first_wait_secs=0.5, max_wait_secs=15.0, give_up_after_secs=None)


class AgentStartupError(Exception):
    """The agent cannot run with this configuration; the message says what to fix."""


def load_executor_config(settings: AgentSettings) -> tuple[ExecutorConfig, str]:
    if settings.executor_config is None:
        return parse_executor_config(""), ""
    path = settings.executor_config
    try:
        text = path.read_text()
    except OSError as exc:
        raise AgentStartupError(
            f"cannot read executor config {path}: {exc.strerror or exc}"
        ) from None
    try:
        return parse_executor_config(text), text
    except InvalidInput as exc:
        raise AgentStartupError(f"executor config {path}: {exc}") from None


def make_runtime(settings: AgentSettings, paths: AgentPaths) -> Runtime:
    if settings.runtime == "process":
        from .runtime.process import ProcessRuntime

        log.warning(
            "runtime=process: experiments run as plain processes of this user, without "
            "isolation or resource limits"
        )
        return ProcessRuntime(paths.process_state)
    try:
        from .runtime.docker import DockerRuntime

        return DockerRuntime()
    except (RuntimeErrorBase, ImportError) as exc:
        raise AgentStartupError(
            f"the Docker engine is not reachable ({exc}); start Docker or use --runtime process"
        ) from None


class Agent:
    """One node agent. `await agent.run()` until `agent.stop()` (or a fatal error)."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        runtime: Runtime | None = None,
        clock: Clock = SYSTEM_CLOCK,
        gates: Sequence[Gate] = (),
        hooks: Sequence[RunHook] = (),
        delivery: ArchiveDelivery | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.paths = AgentPaths(settings.data_dir)
        self.gates = list(gates)
        self.hooks = list(hooks)
        # Trigger variables, monitors, the trigger gate and per-run telemetry (issue 7).
        self.sensing = NodeSensing(settings, clock)
        self.telemetry_hook = TelemetryHook(self.sensing)
        self.ready = asyncio.Event()
        self._runtime = runtime
        self._delivery = delivery
        self._stopping = asyncio.Event()
        self._fatal: BaseException | None = None
        # Set while running, for tests, benchmarks and `leoscope up`.
        self.state: LocalState | None = None
        self.link: OrchestratorLink | None = None
        self.runtime: Runtime | None = None
        self.outbox: Outbox | None = None
        self.executor: Executor | None = None
        self.timer: Timer | None = None
        self.syncer: Syncer | None = None
        self.scavenger: Scavenger | None = None
        self.pairing: Pairing | None = None
        self.spool: Spool | None = None
        self.uploader: Uploader | None = None

    def stop(self) -> None:
        self._stopping.set()

    def _fail(self, exc: BaseException) -> None:
        if self._fatal is None:
            self._fatal = exc
        self._stopping.set()

    async def run(self) -> None:
        """Run until `stop()`. Raises AgentStartupError for configuration problems."""
        async with AsyncExitStack() as stack:
            await self._start(stack)
            self.ready.set()
            log.info("agent ready node=%s", self.settings.node_id)
            await self._stopping.wait()
            log.info("agent stopping")
        if self._fatal is not None:
            raise self._fatal

    # ------------------------------------------------------------------------ start-up

    async def _start(self, stack: AsyncExitStack) -> None:
        s = self.settings
        self.paths.ensure()
        executor_config, executor_config_text = load_executor_config(s)
        state = LocalState.open(self.paths.state_db, s.node_id, self.clock.time)
        stack.callback(state.close)
        self.state = state
        channel = open_channel(
            s.orchestrator, tls_ca=s.tls_ca, tls_server_name=s.tls_server_name, insecure=s.insecure
        )
        link = OrchestratorLink(channel, s.node_id, s.token)
        stack.push_async_callback(link.close)
        self.link = link
        runtime = self._runtime or make_runtime(s, self.paths)
        if self._runtime is None:
            stack.push_async_callback(runtime.close)
        self.runtime = runtime

        if state.get_value(VERIFIED_KEY) == s.node_id:
            self._spawn(stack, self._verify(), "verify")
        else:
            await self._verify()

        outbox = Outbox(state, link)
        self.outbox = outbox
        self._spawn(stack, outbox.run(), "outbox")
        stack.push_async_callback(self._final_flush)  # unwinds before the outbox task stops

        # Results (issue 6): uploads through signed URLs (the default delivery), the spool
        # budget gate, partial snapshots.
        spool = Spool(self.paths, s.spool_budget)
        uploader: Uploader | None = None
        delivery: ArchiveDelivery
        hooks_for_results: list[RunHook] = []
        if self._delivery is not None:
            delivery = self._delivery
        else:
            fallback = LocalStoreDelivery(s.artifact_root, s.artifact_path)
            uploader = Uploader(
                state=state,
                link=link,
                paths=self.paths,
                clock=self.clock,
                fallback=fallback,
                keep_uploaded=s.keep_uploaded,
            )
            stack.callback(uploader.close)
            snapshots = SnapshotHook(uploader, runtime)
            stack.push_async_callback(snapshots.close)
            delivery, hooks_for_results = uploader, [snapshots]
        self.spool, self.uploader = spool, uploader

        # Scavenger mode, paired runs, kernel settings (issue 8); bound to the executor below.
        scavenger = Scavenger(
            state=state, link=link, clock=self.clock, reschedule_secs=s.scavenger_reschedule_secs
        )
        pairing = Pairing(state=state, link=link, clock=self.clock, wait_share=s.server_wait_share)
        kernel = KernelSettingsHook(
            link=link, executor_config=executor_config, host=HostSysctls(state)
        )
        self.scavenger, self.pairing = scavenger, pairing
        executor = Executor(
            state=state,
            link=link,
            runtime=runtime,
            paths=self.paths,
            clock=self.clock,
            delivery=delivery,
            executor_config=executor_config,
            executor_config_text=executor_config_text,
            # gate order: spool full -> scavenger -> (extra gates) -> trigger (last)
            gates=[SpoolGate(spool), scavenger.gate, *self.gates, self.sensing.gate],
            hooks=[
                pairing.server_hook,
                kernel,
                pairing.client_hook,
                scavenger.hook,
                *self.hooks,
                *hooks_for_results,
                self.telemetry_hook,
            ],
            keep_run_dirs=s.keep_run_dirs,
        )
        self.executor = executor
        # Unwinds after the executor has let go of its runs, so no run can open a telemetry
        # writer once they are all closed.
        stack.push_async_callback(self.telemetry_hook.close_all)
        stack.push_async_callback(executor.shutdown)
        scavenger.bind(executor)
        pairing.bind(executor)
        stack.push_async_callback(pairing.close)
        await self.sensing.start(
            stack,
            state=state,
            link=link,
            runtime_kind=runtime.kind,
            busy=lambda: bool(executor.active_runs()),
        )
        await reconcile(
            state=state,
            runtime=runtime,
            executor=executor,
            clock=self.clock,
            grace_secs=s.missed_grace,
        )
        if uploader is not None:  # after reconcile, which leaves parked uploads to it
            uploader.attach(executor, outbox)
            self._spawn(stack, uploader.run(), "uploader")
        self._spawn(stack, spool.watch(s.interval, s.node_id), "spool", fatal=False)

        timer = Timer(state, self.clock, executor.launch, grace_secs=s.missed_grace)
        self.timer = timer

        public_ip = None
        if s.public_ip_url:
            public_ip = PublicIpReporter(
                s.public_ip_url, link, state, interval=s.public_ip_interval
            )
        syncer = Syncer(
            state=state,
            link=link,
            clock=self.clock,
            on_jobs_changed=timer.jobs_changed,
            on_job_deleted=executor.abort_job,
            on_reachable=outbox.kick,
            interval=s.interval,
            grace_secs=s.missed_grace,
            public_ip=public_ip,
        )
        self.syncer = syncer
        syncer.notice_listeners.append(self.sensing.notice)
        syncer.notice_listeners += [scavenger.notice, pairing.notice]
        syncer.scavenger_handler = scavenger.orchestrator_flag
        syncer.task_listeners.append(pairing.tasks_synced)
        control = ControlServer(s.control_socket_path, scavenger.control_handlers())
        try:
            await control.start()
        except ControlPathTooLong as exc:
            log.warning("no local control socket: %s", exc)
        except ControlError as exc:
            raise AgentStartupError(str(exc)) from None
        stack.push_async_callback(control.close)
        self._spawn(stack, scavenger.run(), "scavenger")
        self._spawn(stack, syncer.run_polling(), "sync")
        if s.watch:
            self._spawn(stack, syncer.run_watch(), "watch", fatal=False)
        # One sync first (bounded): a job deleted while the agent was down should not fire
        # from the stale local copy. Unreachable orchestrator: the sync fails fast, and the
        # timer runs from the local schedule.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FIRST_SYNC_WAIT_SECS):
                await syncer.first_attempt.wait()
        self._spawn(stack, timer.run(), "timer")

    async def _verify(self) -> None:
        """Confirm the node and its token with the orchestrator; retry while it is unreachable."""
        assert self.link is not None and self.state is not None
        node_id = self.settings.node_id
        backoff = Backoff(VERIFY_RETRY)
        while True:
            try:
                node = await self.link.own_node()
                break
            except CredentialsRejected:
                raise AgentStartupError(
                    f"the orchestrator rejected the credentials of node {node_id!r}: the node is "
                    "not registered or its token is wrong"
                ) from None
            except Refused as exc:
                raise AgentStartupError(
                    f"the orchestrator refused node {node_id!r}: {exc}"
                ) from None
            except LinkDown as exc:
                delay = backoff.next_wait() or VERIFY_RETRY.max_wait_secs
                if backoff.attempts == 2:
                    log.warning(
                        "cannot reach the orchestrator at %s to confirm node %s (%s); retrying",
                        self.settings.orchestrator,
                        node_id,
                        exc,
                    )
                await asyncio.sleep(delay)
        if node is None:
            raise AgentStartupError(
                f"node {node_id!r} is not registered at the orchestrator "
                "(register it with `leoscope node register`)"
            )
        self.state.set_value(VERIFIED_KEY, node_id)
        log.info("node %s confirmed by the orchestrator", node_id)

    def _spawn(
        self,
        stack: AsyncExitStack,
        coro: Coroutine[Any, Any, None],
        name: str,
        *,
        fatal: bool = True,
    ) -> asyncio.Task[None]:
        """Run a part as a task; it is cancelled (and awaited, bounded) when the stack unwinds.

        A part that crashes stops the agent with that error (unless `fatal=False`: logged).
        """
        task = asyncio.create_task(coro, name=f"agent-{name}")

        def done(t: asyncio.Task[None]) -> None:
            if t.cancelled():
                return
            exc = t.exception()
            if exc is None:
                return
            if isinstance(exc, AgentStartupError) or fatal:
                log.error("agent part %s failed: %s", name, exc, exc_info=exc)
                self._fail(exc)
            else:
                log.warning("agent part %s stopped: %s", name, exc)

        task.add_done_callback(done)

        stack.push_async_callback(cancel_and_wait, task, timeout=TASK_STOP_SECS)
        return task

    async def _final_flush(self) -> None:
        """Give pending run updates a last, bounded chance, protected from cancellation."""
        if self.outbox is None or not self.state or not self.state.outbox_size():
            return
        with contextlib.suppress(Exception):
            delivered = await asyncio.shield(self.outbox.flush(FINAL_FLUSH_SECS))
            if not delivered:
                log.info(
                    "%d run update(s) stay in the outbox for the next start",
                    self.state.outbox_size(),
                )
