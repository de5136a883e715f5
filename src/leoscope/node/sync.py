"""Keeping the local schedule in step with the orchestrator: polling plus a watch stream.

Every `interval` seconds (10 s by default) one sync: heartbeat, the node's jobs (and, for a
new or changed job, its config via get_job_by_id, fetched once per job version), its tasks
and its scavenger flag (stored for pairing and scavenger mode), and the public IP when due.
Failures are transient by design: the agent keeps running from its local state, and the next
sync simply tries again. The first sync that succeeds after failures kicks the outbox.

With our orchestrator the agent also holds `watch_node` open. Any notice ("jobs", "tasks",
"scavenger", "node", "resync", and the "hello" after every reconnect) triggers a sync at
once, so a scheduled job reaches the node within milliseconds; a "jobs" notice naming a job
also forces its config to be fetched again (modify_job may change only the config, which the
job list does not show). If the stream breaks it is reopened with jittered backoff while
polling carries on; a stream silent for WATCH_IDLE_SECS (the server pings every 30 s) counts
as broken. An orchestrator without watch_node (the reference) answers UNIMPLEMENTED: the agent
then only polls.

Job versions are told apart by a fingerprint of the listed job (a hash of its deterministic
protobuf encoding). A job that disappears from the list is either expired (its end date is
past: its runs finish normally) or deleted (its future runs are dropped and its running
container is stopped: ABORTED "job deleted"). Listed jobs are validated before they are stored:
a job with an unsafe id, unparseable dates or a bad cron is ignored (and logged), never run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import timedelta

import grpc

from leoscope.api import convert
from leoscope.api import leotest_pb2 as pb
from leoscope.core.errors import InvalidInput
from leoscope.core.model import JobType
from leoscope.core.schedule import validate_cron
from leoscope.core.timeutil import from_epoch
from leoscope.retry import Backoff, RetryPolicy

from .clock import Clock
from .link import CredentialsRejected, LinkDown, LinkError, OrchestratorLink, Refused
from .paths import check_segment
from .publicip import PublicIpReporter
from .state import LocalState

log = logging.getLogger(__name__)

WATCH_IDLE_SECS = 95.0
WATCH_RETRY = RetryPolicy(first_wait_secs=0.5, max_wait_secs=30.0, give_up_after_secs=None)
EXPIRY_SLACK = timedelta(seconds=30)
"""A job that vanishes within this long of its end date expired (clock skew), not deleted."""
DETAIL_FETCH_CONCURRENCY = 4
SCAVENGER_KEY = "scavenger_mode_active"


def fingerprint(job: pb.job) -> str:
    return hashlib.sha256(job.SerializeToString(deterministic=True)).hexdigest()


def check_listed_job(job: pb.job) -> None:
    """Refuse a listed job the agent must not act on; raises InvalidInput naming the field."""
    check_segment("id", job.id)
    check_segment("nodeid", job.nodeid)
    check_segment("userid", job.userid)
    if job.HasField("server") and job.server:
        check_segment("server", job.server)
    if job.type not in (JobType.CRON, JobType.ATQ):
        raise InvalidInput("type", f"{job.type} is not CRON (0) or ATQ (1)")
    if job.length_secs <= 0:
        raise InvalidInput("length_secs", "must be greater than 0")
    parsed = convert.job_from_pb(job)  # parses both dates
    if parsed.end <= parsed.start:
        raise InvalidInput("end_date", "is not after start_date")
    if job.type == JobType.CRON:
        validate_cron(job.schedule)


class Syncer:
    """Polls and watches; see the module docstring."""

    def __init__(
        self,
        *,
        state: LocalState,
        link: OrchestratorLink,
        clock: Clock,
        on_jobs_changed: Callable[[], None],
        on_job_deleted: Callable[[str], Awaitable[object]],
        on_reachable: Callable[[], None],
        interval: float = 10.0,
        grace_secs: float = 60.0,
        public_ip: PublicIpReporter | None = None,
    ) -> None:
        self.state = state
        self.link = link
        self.clock = clock
        self.on_jobs_changed = on_jobs_changed
        self.on_job_deleted = on_job_deleted
        self.on_reachable = on_reachable
        self.interval = interval
        self.grace_secs = grace_secs
        self.public_ip = public_ip
        self.reachable: bool | None = None
        self.watch_state = "off"  # off | connecting | open | unsupported
        self.syncs = 0
        self.first_sync = asyncio.Event()
        self.first_attempt = asyncio.Event()
        """Set once the first sync has succeeded or failed (the agent starts its timer then)."""
        self._trigger = asyncio.Event()
        self._forced: set[str] = set()
        self._details_missing = True
        self._ignored: dict[str, str] = {}
        self.notice_listeners: list[Callable[[str], None]] = []
        """Called with the kind of every watch notice ("node", "hello", ...) before it syncs."""
        self.scavenger_handler: Callable[[bool], None] | None = None
        """Decides what the orchestrator's scavenger flag means (scavenger.py); None: store it."""
        self.task_listeners: list[Callable[[list[pb._task]], None]] = []
        """Called with the node's tasks after every sync that fetched them (pairing.py)."""
        self._scavenger_notices = 0

    def request_sync(self, jobid: str = "") -> None:
        if jobid:
            self._forced.add(jobid)
        self._trigger.set()

    # ------------------------------------------------------------------------ polling

    async def run_polling(self) -> None:
        while True:
            self._trigger.clear()
            try:
                await self.sync_once()
            finally:
                self.first_attempt.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._trigger.wait()

    async def sync_once(self) -> bool:
        """One full sync. True when the orchestrator answered."""
        try:
            try:
                await self.link.heartbeat()
            except Refused as exc:  # liveness only: never let it keep the jobs from syncing
                log.debug("heartbeat refused: %s", exc)
            listed = await self.link.jobs()
        except (LinkDown, CredentialsRejected, Refused) as exc:
            self._unreachable(exc)
            return False
        self._reached()
        await self._apply_jobs(listed)
        await self._sync_tasks_and_flags()
        if self.public_ip is not None:
            await self.public_ip.maybe_report(self.clock.monotonic())
        self.syncs += 1
        self.first_sync.set()
        return True

    def _unreachable(self, exc: LinkError) -> None:
        if self.reachable is not False:
            level = logging.ERROR if isinstance(exc, CredentialsRejected) else logging.WARNING
            log.log(level, "orchestrator unreachable, running from the local schedule: %s", exc)
        self.reachable = False

    def _reached(self) -> None:
        if self.reachable is False:
            log.info("orchestrator reachable again")
        if self.reachable is not True:
            self.on_reachable()
        self.reachable = True

    async def _apply_jobs(self, listed: list[pb.job]) -> None:
        now = self.clock.time()
        floor_from_now = math.ceil(now - self.grace_secs) - 1
        known = self.state.job_index()
        seen: set[str] = set()
        changed = False
        for message in listed:
            role = "client" if message.nodeid == self.state.node_id else "server"
            listed_fp = fingerprint(message)
            if known.get(message.id) == (listed_fp, role):
                seen.add(message.id)  # unchanged (and validated when it was stored)
                continue
            try:
                check_listed_job(message)
            except InvalidInput as exc:
                if self._ignored.get(message.id) != str(exc):
                    log.warning("job %r ignored: %s", message.id[:130], exc)
                    self._ignored[message.id] = str(exc)
                continue
            seen.add(message.id)
            result = self.state.put_job(
                message,
                listed_fp,
                role,
                floor_if_new=0 if message.type == JobType.ATQ else floor_from_now,
                floor_at_least=floor_from_now,
            )
            log.info("job=%s %s (role %s)", message.id, result, role)
            changed = self._details_missing = True
        for jobid in set(known) - seen:
            stored = self.state.job(jobid)
            if stored is None:
                continue
            changed = True
            self.state.remove_job(jobid)
            expired = convert.job_from_pb(stored.summary).end <= from_epoch(now) + EXPIRY_SLACK
            if expired:
                log.info("job=%s ended (end date passed)", jobid)
            else:
                log.info("job=%s deleted at the orchestrator: no further runs", jobid)
                await self.on_job_deleted(jobid)
        if changed:
            self.on_jobs_changed()
        if (self._details_missing or self._forced) and await self._fetch_details():
            self.on_jobs_changed()

    async def _fetch_details(self) -> bool:
        forced, self._forced = self._forced, set()
        wanted = [j for j in self.state.jobs() if not j.detail_is_current or j.jobid in forced]
        if not wanted:
            self._details_missing = False
            return False
        limit = asyncio.Semaphore(DETAIL_FETCH_CONCURRENCY)

        async def fetch(jobid: str, fp: str) -> bool:
            async with limit:
                try:
                    detail = await self.link.job_detail(jobid)
                except LinkError as exc:
                    log.info("job=%s config not fetched yet: %s", jobid, exc)
                    if jobid in forced:
                        self._forced.add(jobid)
                    return False
            if detail is None:
                return False  # deleted meanwhile: the next sync drops it
            self.state.set_job_detail(jobid, detail, fp)
            return True

        results = await asyncio.gather(*(fetch(j.jobid, j.fingerprint) for j in wanted))
        self._details_missing = not all(results)
        return any(results)

    async def _sync_tasks_and_flags(self) -> None:
        try:
            tasks = await self.link.tasks()
        except LinkError as exc:
            log.debug("tasks not synced: %s", exc)
        else:
            self.state.replace_tasks(tasks)
            for listener in self.task_listeners:
                listener(tasks)
        notices = self._scavenger_notices
        try:
            active = await self.link.scavenger_mode()
        except LinkError as exc:
            log.debug("scavenger flag not synced: %s", exc)
            return
        if notices == self._scavenger_notices:  # else a notice that arrived meanwhile is newer
            self._set_scavenger(active)

    def _set_scavenger(self, active: bool) -> None:
        if self.scavenger_handler is not None:
            self.scavenger_handler(active)
            return
        if self.state.get_value(SCAVENGER_KEY, False) != active:
            self.state.set_value(SCAVENGER_KEY, active)
            log.info("scavenger mode %s", "ACTIVE" if active else "off")

    # ------------------------------------------------------------------------ watching

    async def run_watch(self) -> None:
        """Hold watch_node open; every notice triggers a sync. Returns if unsupported."""
        backoff = Backoff(WATCH_RETRY)
        while True:
            self.watch_state = "connecting"
            stream = self.link.watch()
            try:
                while True:
                    async with asyncio.timeout(WATCH_IDLE_SECS):
                        event = await anext(stream)
                    for listener in self.notice_listeners:
                        listener(event.kind)
                    if event.kind == "hello":
                        if self.watch_state != "open":
                            log.info("watching the orchestrator for changes")
                        self.watch_state = "open"
                        backoff = Backoff(WATCH_RETRY)
                        self.request_sync()
                    elif event.kind == "scavenger":
                        self._scavenger_notices += 1
                        self._set_scavenger(event.scavenger_mode_active)
                        self.request_sync()
                    elif event.kind != "ping":
                        self.request_sync(event.jobid if event.kind == "jobs" else "")
            except Refused as exc:
                if exc.code == grpc.StatusCode.UNIMPLEMENTED:
                    log.info(
                        "the orchestrator has no watch_node; polling every %g s", self.interval
                    )
                    self.watch_state = "unsupported"
                    return
                log.warning("watch refused: %s", exc)
            except (LinkDown, CredentialsRejected) as exc:
                if self.watch_state == "open":
                    log.info("watch stream broken (%s); polling until it is back", exc)
            except TimeoutError:
                log.info("watch stream silent for %g s; reconnecting", WATCH_IDLE_SECS)
            finally:
                await stream.aclose()
            self.watch_state = "connecting"
            wait = backoff.next_wait() or WATCH_RETRY.max_wait_secs
            await asyncio.sleep(wait)
