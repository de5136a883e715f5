"""The agent's extension points: gates, run hooks and archive delivery.

The run state machine (executor.py) never needs editing to add a policy. Three seams:

1. **Gates** (`Gate`), an ordered list consulted before a run deploys, and again after every
   wait. Each returns one decision:

       PROCEED                       go on to the next gate (all proceed: the run deploys)
       Skip(status, message)         do not run; report `status` (final) with `message`.
                                     E.g. SKIPPED "trigger false", TERMINATED "job run
                                     terminated: scavenger mode is active.", RESCHEDULED ...
       WaitAndRetry(secs, message)   not yet; report `status` (default WAITING) once with
                                     `message`, sleep `secs` (interrupted early if the run is
                                     aborted), then consult ALL gates again from the first.

   The executor bounds waiting by the run's slot: once `slot + length_secs` passes while a gate
   still says wait, the run ends SKIPPED ("<gate> kept the run waiting until its slot ended").
   Intended users: trigger gating with `trigger_wait_secs` (issue 7: WaitAndRetry while the
   trigger is false and the wait budget lasts, then Skip SKIPPED; both decisions carry the
   `trigger_values` run field), the scavenger start gate (issue 8: Skip TERMINATED for
   overhead cron runs, or reschedule and Skip RESCHEDULED).

2. **Run hooks** (`RunHook`), an ordered list; every method has a no-op default:

       before_start(run, spec) -> spec   after the image is pulled, just before the container
                                         starts; return a changed ContainerSpec (e.g. sysctls
                                         for kernel settings, LEOTEST_SERVERIP for a paired
                                         client, extra labels). May `run.report(DEPLOYING, ...)`
                                         while it waits (pairing: SERVER_START and wait). An
                                         exception fails the run with its message; raise
                                         EndRun(message, status) to choose both verbatim.
       after_exit(run, outcome)          once the container has ended (or never started), before
                                         the archive is taken: files written into `run.run_dir`
                                         here are archived (e.g. SERVER_STOP, telemetry close).
       after_final(run, status, message) after the final status is recorded (cleanup).

3. **Archive delivery** (`ArchiveDelivery`), one object: `deliver(run, archive)` puts the zip
   somewhere and returns `Delivered(blob_url, blob_name, sha256, size)`; the executor then
   removes the container and reports the final status with those fields. The default
   (delivery.py) puts it into a local-directory artifact store on the node. Resumable uploads (issue 6) replace it: raise
   `DeliveryPending(message)` to take the archive over; the executor reports UPLOAD_PENDING
   and parks the run in phase UPLOAD_PENDING (it stays in the state, survives restarts), and
   the uploader later calls `Executor.complete_delivery(runid, delivered)` (or
   `fail_delivery`) to report the final status it recorded when the container ended.

Also for later issues: `Executor.abort_run(runid, status, message)` stops a running run with
any final status (scavenger kill path: ABORTED "Job aborted: scavenger mode is active."),
`Executor.launch(record)` starts a run that the timer did not claim (server side of a paired
run), and `LocalState.tasks()` / `get_value("scavenger_mode_active")` hold what sync fetched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from leoscope.core.experiment import ExecutorConfig
from leoscope.core.model import Job, RunStatus
from leoscope.core.timeutil import from_epoch

from .records import RunRecord

if TYPE_CHECKING:
    from .link import OrchestratorLink
    from .rundir import RunLog
    from .runtime.base import ContainerSpec, ExitInfo
    from .state import LocalState


# ---------------------------------------------------------------------------- gate decisions


@dataclass(frozen=True)
class Proceed:
    """The gate has no objection."""


@dataclass(frozen=True)
class Skip:
    """Do not run; report `status` (a final status) with `message` (and `trigger_values`)."""

    status: str
    message: str
    trigger_values: str | None = None


@dataclass(frozen=True)
class WaitAndRetry:
    """Not yet: report `status` with `message` once per change of message (with
    `trigger_values`, the run field), and consult the gates again in `retry_after_secs`."""

    retry_after_secs: float
    message: str
    status: str = RunStatus.WAITING
    trigger_values: str | None = None


GateDecision = Proceed | Skip | WaitAndRetry
PROCEED = Proceed()


# ---------------------------------------------------------------------------- the run context


Reporter = Callable[[str, str, "str | None"], Awaitable[None]]


@dataclass
class RunContext:
    """What gates, hooks and deliveries may know about one run, and how they report on it.

    `job` is the job as it was when the run was claimed (config included). `deadline` is when
    the run's slot ends (slot + length_secs): the container is stopped then.
    """

    runid: str
    job: Job
    node_id: str
    slot: datetime
    deadline: datetime
    run_dir: Path
    executor_config: ExecutorConfig
    state: LocalState
    link: OrchestratorLink
    log: RunLog
    _record: Callable[[], RunRecord] = field(repr=False)
    _report: Reporter = field(repr=False)

    @property
    def record(self) -> RunRecord:
        """The run's current persisted record."""
        return self._record()

    @property
    def start_time(self) -> datetime:
        return from_epoch(self.record.start_time)

    async def report(self, status: str, message: str, *, trigger_values: str | None = None) -> None:
        """Record and report a (non-final) status such as DEPLOYING or WAITING now."""
        await self._report(status, message, trigger_values)


# ---------------------------------------------------------------------------- gates and hooks


class Gate(Protocol):
    """Consulted before a run deploys; see the module docstring."""

    name: str

    async def check(self, run: RunContext) -> GateDecision: ...


@dataclass(frozen=True)
class Outcome:
    """How a run ended, decided when its container ended (or could not start).

    `status`/`message` are what will be reported once the archive is delivered. `exit` is
    None when no container ran. `stopped_by_agent` is True when the agent stopped it (time
    budget, abort).
    """

    status: str
    message: str
    exit: ExitInfo | None = None
    stopped_by_agent: bool = False


class EndRun(Exception):
    """Raised by a `before_start` hook to end the run before its container starts, reporting
    `status` (a final status, FAILED by default) with `message` verbatim; e.g. FAILED "server
    node did not start". Any other exception fails the run as "<Hook> failed: <error>"."""

    def __init__(self, message: str, status: str = RunStatus.FAILED) -> None:
        self.message = message
        self.status = status
        super().__init__(message)


class RunHook:
    """Subclass and override what you need; every method's default does nothing."""

    async def before_start(self, run: RunContext, spec: ContainerSpec) -> ContainerSpec:
        return spec

    async def after_exit(self, run: RunContext, outcome: Outcome) -> None:
        return None

    async def after_final(self, run: RunContext, status: str, message: str) -> None:
        return None


# ---------------------------------------------------------------------------- delivery


@dataclass(frozen=True)
class Archive:
    """A run's zip (single top-level folder `<runid>/`), its SHA-256 and size in bytes."""

    path: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class Delivered:
    """Where an archive ended up: reported as blob_url, blob_name, archive_sha256/_size.

    `blob_name` is the archive's name in the ORCHESTRATOR's artifact store, or None when the
    archive is stored elsewhere (e.g. a directory on the node): an orchestrator that has a
    store checks a reported name, size and checksum before it accepts COMPLETE.
    """

    blob_url: str
    blob_name: str | None
    sha256: str
    size: int


class DeliveryPending(Exception):
    """Raised by a delivery that took the archive over and will finish later (UPLOAD_PENDING)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class ArchiveDelivery(Protocol):
    """Puts a run's archive where users can fetch it; see the module docstring."""

    async def deliver(self, run: RunContext, archive: Archive) -> Delivered: ...
