"""The default archive delivery: upload to the orchestrator's artifact store, durably.

    executor (DELIVERING) --deliver()--> Uploader: spool copy + queue row, then DeliveryPending
                                         (the run reports UPLOAD_PENDING and is parked)
    Uploader.run() task  --> get_upload_url (signed URLs, re-signed on expiry, upload id to
                             resume) --> upload_file (parts, checkpoint, resume) -->
                             Executor.complete_delivery: the run's own final status
                             (COMPLETE, or e.g. FAILED "experiment failed: exit code 3") with
                             blob_name, archive_sha256, archive_size
    outbox               --> the orchestrator accepts COMPLETE only if its store holds that
                             blob with that size and checksum

`deliver` writes the queue row (upload_queue.py, in the agent's SQLite file) and hard-links
the archive into `<data-dir>/uploads/` before it returns, so from then on nothing can lose
the archive: the executor's copy goes with the final report, the spool copy only once the
orchestrator has ACCEPTED that report (and `keep_uploaded` seconds later, if set).

While an upload cannot proceed, the run shows UPLOAD_PENDING with the reason ("upload pending:
artifact store unreachable (...)"), and the uploader retries with jittered backoff
(retry.py; 1 s doubling to 60 s, forever). Retrying never duplicates or corrupts anything:
the blob name is fixed by the run, the store keeps staged parts across attempts, agent
restarts and store restarts (upload_file resumes them; the S3 upload id is in a checkpoint
file), and a committed blob is never overwritten. What a failure means is decided in
upload_errors.py: transient (wait), conflict (the name holds other content: upload to
`<stem>.<sha256[:16]>.zip` instead), unsupported, permanent (the run ends FAILED saying why;
the archive stays on the node).

A COMPLETE the orchestrator refuses (it could not verify the archive: the blob is missing,
differs, or its store was unreachable) comes back through the outbox's `refused_listeners`:
the run goes back to UPLOAD_PENDING ("the orchestrator could not verify the archive (...);
uploading again"), the archive is uploaded (or found already stored) and COMPLETE reported
again; after MAX_VERIFY_REFUSALS such refusals the run ends FAILED and the archive is kept.

An orchestrator without get_upload_url (the reference) answers UNIMPLEMENTED: the archive then
goes into the node's local directory store (delivery.py) and the run reports its `file://`
blob_url, as before; the agent logs this once.

This module hands over and uploads; reporting the outcome and settling each archive by the
orchestrator's answer is upload_reports.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from leoscope.artifacts import RetryPolicy as TransferPolicy
from leoscope.artifacts import UploadResult, file_digest, resume_upload_id, upload_file
from leoscope.artifacts.base import redact_url
from leoscope.core.model import RunStatus
from leoscope.retry import Backoff, RetryPolicy

from .clock import Clock
from .delivery import LocalStoreDelivery
from .link import LinkError, OrchestratorLink
from .paths import AgentPaths
from .records import RunPhase, RunRecord
from .seams import Archive, Delivered, DeliveryPending, RunContext
from .sizes import format_size
from .spool import UPLOADS_DIR
from .state import LocalState, OutboxRow
from .upload_errors import Problem, classify
from .upload_names import BlobNames
from .upload_queue import Stage, UploadEntry, UploadQueue
from .upload_reports import UploadReports
from .upload_signer import TransferStopped, UploadSigner, in_daemon_thread, stoppable_progress

if TYPE_CHECKING:
    from .executor import Executor
    from .outbox import Outbox

log = logging.getLogger(__name__)

RETRY = RetryPolicy(first_wait_secs=1.0, max_wait_secs=60.0, give_up_after_secs=None)
"""Waits between attempts of one archive while its upload cannot proceed."""
TRANSFER_POLICY = TransferPolicy(max_elapsed_secs=20.0)
"""How long one attempt rides out an unreachable store before the run shows UPLOAD_PENDING
with the reason (the attempt's staged parts stay for the next one)."""
SNAPSHOT_POLICY = TransferPolicy(max_elapsed_secs=10.0)
HOUSEKEEPING_SECS = 30.0
KEEP_RESULTS = 64


class Uploader(UploadReports):
    """`ArchiveDelivery` that hands archives to the durable upload queue, and the task
    (`run`) that uploads them. `attach` it to the executor and outbox before `run`."""

    def __init__(
        self,
        *,
        state: LocalState,
        link: OrchestratorLink,
        paths: AgentPaths,
        clock: Clock,
        fallback: LocalStoreDelivery,
        keep_uploaded: float = 0.0,
    ) -> None:
        self.state = state
        self.link = link
        self.paths = paths
        self.clock = clock
        self.fallback = fallback
        self.keep_uploaded = keep_uploaded
        self.spool_dir = paths.data_dir / UPLOADS_DIR
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.queue = UploadQueue.open(paths.state_db, clock.time)
        self.names = BlobNames(link)
        self.executor: Executor | None = None
        self.progress: dict[str, tuple[int, int]] = {}
        """runid -> (bytes done, total) of the upload under way (written by its thread)."""
        self.progress_listeners: list[Callable[[str, int, int], None]] = []
        """Called FROM THE TRANSFER THREAD with (runid, done, total) as parts complete."""
        self.results: dict[str, UploadResult] = {}
        """runid -> what the upload of its archive did (the last KEEP_RESULTS uploads)."""
        self._wake = asyncio.Event()
        self._stop = threading.Event()
        self._retry_at: dict[str, float] = {}
        self._backoffs: dict[str, Backoff] = {}
        self._fallback_logged = False
        self._closed = False
        self._shown: dict[str, str] = {}
        self._awaiting_orchestrator: set[str] = set()

    # ------------------------------------------------------------------------ wiring

    def attach(self, executor: Executor, outbox: Outbox) -> None:
        self.executor = executor
        outbox.acked_listeners.append(self._report_answered)
        outbox.refused_listeners.append(lambda row, reason: self._report_answered(row))

    def close(self) -> None:
        """Abandon any transfer under way (resumed at the next start) and close the queue."""
        self._stop.set()
        self._closed = True
        self.queue.close()

    def _report_answered(self, row: OutboxRow) -> None:
        if self._closed:  # the outbox's last flush at shutdown: settled at the next start
            return
        if self._awaiting_orchestrator:  # it answers again: retry those uploads now
            now = self.clock.monotonic()
            for runid in self._awaiting_orchestrator:
                self._retry_at[runid] = min(self._retry_at.get(runid, now), now)
            self._awaiting_orchestrator.clear()
            self._wake.set()
        entry = self.queue.get(row.runid)
        if entry is not None and entry.stage is Stage.REPORTED and entry.report_seq == row.seq:
            self._wake.set()

    # ------------------------------------------------------------------------ the delivery

    async def deliver(self, run: RunContext, archive: Archive) -> Delivered:
        """Queue the archive (durably) and take the run over: always raises DeliveryPending."""
        runid = run.runid
        copy = await asyncio.to_thread(self._spool_copy, archive.path, runid)
        existing = self.queue.get(runid)
        same = existing is not None and existing.sha256 == archive.sha256
        entry = UploadEntry(runid, str(copy), archive.sha256, archive.size)
        if existing is None:
            self.queue.add(entry)
        else:
            self.queue.update(
                runid,
                path=entry.path,
                sha256=archive.sha256,
                size=archive.size,
                stage=Stage.PENDING,
                blob_name=existing.blob_name if same else None,
                report_seq=None,
                refusals=0,
            )
        self._retry_at.pop(runid, None)
        self._wake.set()
        raise DeliveryPending(f"upload pending: queued for upload ({format_size(archive.size)})")

    def _spool_copy(self, source: Path, runid: str) -> Path:
        """`uploads/<runid>.zip`: a hard link to the archive (a copy where links fail)."""
        target = self.spool_dir / source.name
        if target.exists() and os.path.samefile(source, target):
            return target
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
        fd = os.open(self.spool_dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        log.info("run=%s archive handed to the uploader (%s)", runid, target)
        return target

    # ------------------------------------------------------------------------ the task

    async def run(self) -> None:
        assert self.executor is not None, "attach() the uploader before running it"
        self._adopt_parked_runs()
        waiting = self.queue.entries(Stage.PENDING)
        if waiting:
            log.info("uploader: %d archive(s) waiting for upload", len(waiting))
        try:
            while True:
                self._wake.clear()
                self._settle_all()
                due = self._next_due()
                if due is not None:
                    entry, record = due
                    try:
                        await self._attempt(entry, record)
                    except TransferStopped:
                        return  # the agent is stopping; the upload resumes at the next start
                    except Exception as exc:  # never let one archive stop the uploader
                        log.exception("run=%s upload attempt failed unexpectedly", entry.runid)
                        self._retry_later(entry.runid, classify(exc))
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._idle_secs()):
                        await self._wake.wait()
        except asyncio.CancelledError:
            self._stop.set()
            raise

    def _adopt_parked_runs(self) -> None:
        """Runs parked in UPLOAD_PENDING without a queue row (handed over by an older agent,
        or the row was lost): queue their archive again if it is still there."""
        for record in self.state.unfinished_runs():
            if record.phase is not RunPhase.UPLOAD_PENDING or self.queue.get(record.runid):
                continue
            archive = self.paths.archive_path(record.runid)
            if archive.exists() and record.archive_sha256 and record.archive_size:
                copy = self._spool_copy(archive, record.runid)
                self.queue.add(
                    UploadEntry(record.runid, str(copy), record.archive_sha256, record.archive_size)
                )
            else:
                log.error("run=%s is waiting for an upload but its archive is gone", record.runid)

    def _next_due(self) -> tuple[UploadEntry, RunRecord] | None:
        now = self.clock.monotonic()
        for entry in self.queue.entries(Stage.PENDING):
            if self._retry_at.get(entry.runid, 0.0) > now:
                continue
            record = self.state.get_run(entry.runid)
            if record is not None and record.phase is RunPhase.UPLOAD_PENDING:
                return entry, record
        return None

    def _idle_secs(self) -> float:
        now = self.clock.monotonic()
        waits = [HOUSEKEEPING_SECS]
        waits += [at - now for at in self._retry_at.values() if at > now]
        wall = self.clock.time()
        waits += [e.keep_until - wall for e in self.queue.entries(Stage.KEPT) if e.keep_until]
        return max(0.05, min(waits))

    # ------------------------------------------------------------------------ one attempt

    async def _attempt(self, entry: UploadEntry, record: RunRecord) -> None:
        runid = entry.runid
        try:
            delivered = await self._transfer(entry)
        except (asyncio.CancelledError, TransferStopped):
            raise
        except Exception as exc:
            await self._handle(entry, record, classify(exc))
            return
        self._forget_retries(runid)
        await self._report_delivered(entry, delivered)

    async def _transfer(self, entry: UploadEntry) -> Delivered:
        runid = entry.runid
        path = entry.archive
        if not path.exists() and self.paths.archive_path(runid).exists():
            path = await asyncio.to_thread(self._spool_copy, self.paths.archive_path(runid), runid)
        checkpoint = self.spool_dir / f"{runid}.upload.json"
        signer = UploadSigner(
            asyncio.get_running_loop(),
            self.link,
            runid=runid,
            sha256=entry.sha256,
            size=entry.size,
            blob_name=entry.blob_name,
        )

        def tell(done: int, total: int) -> None:
            self.progress[runid] = (done, total)
            for listener in self.progress_listeners:
                listener(runid, done, total)

        progress = stoppable_progress(self._stop, listener=tell)

        def work() -> UploadResult:
            return upload_file(
                signer, path, checkpoint_path=checkpoint, progress=progress, policy=TRANSFER_POLICY
            )

        if resume_upload_id(checkpoint, path):
            log.info("run=%s resuming the upload of its archive", runid)
        try:
            result = await in_daemon_thread(work, f"upload-{runid[:8]}")
        finally:
            self.progress.pop(runid, None)
        self.results[runid] = result
        while len(self.results) > KEEP_RESULTS:
            self.results.pop(next(iter(self.results)))
        assert signer.last is not None
        log.info(
            "run=%s archive uploaded blob=%s size=%d sent=%d reused=%d",
            runid,
            result.blob_name,
            result.size,
            result.bytes_sent,
            result.bytes_reused,
        )
        return Delivered(
            blob_url=redact_url(signer.last.url),
            blob_name=result.blob_name,
            sha256=result.sha256,
            size=result.size,
        )

    async def _handle(self, entry: UploadEntry, record: RunRecord, problem: Problem) -> None:
        runid = entry.runid
        if problem.kind == "unsupported":
            await self._fall_back(entry, record)
            return
        if problem.kind == "conflict" and entry.blob_name is None:
            try:
                name = await self.names.alternative(record, entry.sha256)
            except LinkError as exc:
                self._retry_later(runid, classify(exc), record)
                return
            log.warning("run=%s %s; uploading as %s instead", runid, problem.reason, name)
            self.queue.update(runid, blob_name=name)
            self._wake.set()
            return
        if problem.kind != "transient":
            if "blob name" in problem.headline:
                self.names.forget()
            await self._give_up(entry, record, problem.reason)
            return
        self._retry_later(runid, problem, record)

    def _schedule_retry(self, runid: str) -> float:
        """The next attempt after the run's backoff (RETRY); returns the wait in seconds."""
        backoff = self._backoffs.setdefault(runid, Backoff(RETRY))
        wait = backoff.next_wait() or RETRY.max_wait_secs
        self._retry_at[runid] = self.clock.monotonic() + wait
        return wait

    def _retry_later(self, runid: str, problem: Problem, record: RunRecord | None = None) -> None:
        """Try again after a backoff; show the run UPLOAD_PENDING with the reason (once per
        kind of problem: not every retry is news)."""
        wait = self._schedule_retry(runid)
        entry = self.queue.get(runid)
        if entry is not None:
            self.queue.update(runid, attempts=entry.attempts + 1, last_error=problem.reason)
        log.warning(
            "run=%s upload waiting: %s; next attempt in %.1f s", runid, problem.reason, wait
        )
        if not problem.worth_reporting:
            self._awaiting_orchestrator.add(runid)
            return
        if record is not None and self._shown.get(runid) != problem.headline:
            self._shown[runid] = problem.headline
            self._report(runid, RunStatus.UPLOAD_PENDING, f"upload pending: {problem.reason}")

    async def _fall_back(self, entry: UploadEntry, record: RunRecord) -> None:
        """A reference orchestrator: keep the archive in the node's local store, as it does."""
        assert self.executor is not None
        if not self._fallback_logged:
            log.warning(
                "the orchestrator has no artifact store (no get_upload_url: a reference "
                "orchestrator?); run archives stay in this node's local store %s",
                self.fallback.store.root,
            )
            self._fallback_logged = True
        prefix = self.fallback.artifact_path.strip("/")
        name = f"{prefix}/{record.run_relpath}.zip" if prefix else f"{record.run_relpath}.zip"
        archive = Archive(entry.archive, entry.sha256, entry.size)
        delivered = await self.fallback.store_archive(name, entry.runid, archive)
        if entry.report_seq is None:
            await self.executor.complete_delivery(entry.runid, delivered)
        else:
            self._report_final_again(record, delivered)
        self._drop(entry)  # the local store holds its own copy

    # ------------------------------------------------------------------------ snapshots

    async def upload_snapshot(self, record: RunRecord, path: Path, number: int) -> str:
        """Upload a partial snapshot of a running run as blob `<stem>.partial-<number>.zip`.

        One attempt (best effort); raises what the attempt raised (see upload_errors.classify).
        """
        name = await self.names.snapshot(record, number)
        sha256, size = await asyncio.to_thread(file_digest, path)
        signer = UploadSigner(
            asyncio.get_running_loop(),
            self.link,
            runid=record.runid,
            sha256=sha256,
            size=size,
            blob_name=name,
        )
        abandoned = threading.Event()
        progress = stoppable_progress(abandoned, self._stop)

        def work() -> UploadResult:
            return upload_file(signer, path, progress=progress, policy=SNAPSHOT_POLICY)

        try:
            result = await in_daemon_thread(work, f"snapshot-{record.runid[:8]}")
        except asyncio.CancelledError:
            abandoned.set()  # the run moved on: stop sending this snapshot
            raise
        return result.blob_name
