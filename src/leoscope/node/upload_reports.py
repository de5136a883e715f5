"""After an upload: the run's final report, and what the orchestrator's answer to it means.

`UploadReports` is the second half of the uploader (upload.py): it reports the run's final
status with the stored archive (through `Executor.complete_delivery` the first time, by itself
when a refused COMPLETE is reported again), and settles each queue entry by what became of that
report in the outbox:

    accepted   the archive is stored and verified: delete the node's copy, or keep it
               `keep_uploaded` seconds (stage KEPT) and delete it then
    refused    a COMPLETE the orchestrator could not verify: back to UPLOAD_PENDING and upload
               again (at most MAX_VERIFY_REFUSALS times, then FAILED, the archive kept)
    queued     not answered yet (the outbox retries; its listeners wake the uploader)

The answer is read from the outbox table itself (upload_queue.report_fate), so a crash between
the answer and this bookkeeping loses nothing: the next start settles every entry again.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from leoscope.core.model import RunStatus
from leoscope.retry import Backoff

from .clock import Clock
from .records import RunPhase, RunRecord
from .seams import Delivered
from .state import LocalState
from .upload_queue import Stage, UploadEntry, UploadQueue

if TYPE_CHECKING:
    from .executor import Executor

log = logging.getLogger("leoscope.node.upload")

MAX_VERIFY_REFUSALS = 5


class UploadReports:
    """Reporting and settling (see the module docstring); upload.Uploader is the whole."""

    state: LocalState
    queue: UploadQueue
    clock: Clock
    executor: Executor | None
    keep_uploaded: float
    spool_dir: Path
    _retry_at: dict[str, float]
    _backoffs: dict[str, Backoff]
    _shown: dict[str, str]
    _awaiting_orchestrator: set[str]

    def _schedule_retry(self, runid: str) -> float:
        raise NotImplementedError

    def _report(self, runid: str, status: str, message: str, **changes: object) -> RunRecord:
        record = self.state.update_run(runid, status=status, message=message, **changes)
        log.info("run=%s job=%s status=%s %s", runid, record.jobid, status, record.status_message)
        assert self.executor is not None
        for listener in self.executor.listeners:
            listener(record)
        return record

    def _report_final_again(self, record: RunRecord, delivered: Delivered | None) -> RunRecord:
        """The run's final status once more (after a refused COMPLETE), with the archive."""
        changes: dict[str, object] = {"phase": RunPhase.DONE}
        if delivered is not None:
            changes.update(
                blob_url=delivered.blob_url,
                blob_name=delivered.blob_name,
                archive_sha256=delivered.sha256,
                archive_size=delivered.size,
            )
        status = record.outcome_status or RunStatus.FAILED
        return self._report(record.runid, status, record.outcome_message or "", **changes)

    async def _report_delivered(self, entry: UploadEntry, delivered: Delivered) -> None:
        assert self.executor is not None
        runid = entry.runid
        if entry.report_seq is None:
            final = await self.executor.complete_delivery(runid, delivered)
        else:
            record = self.state.get_run(runid)
            if record is None:
                raise KeyError(f"run {runid} vanished from the local state")
            final = self._report_final_again(record, delivered)
        entry = self.queue.update(
            runid,
            stage=Stage.REPORTED,
            report_seq=final.seq,
            blob_name=delivered.blob_name,
            last_error=None,
        )
        self._settle(entry)  # the outbox may have had its answer already

    async def _give_up(self, entry: UploadEntry, record: RunRecord, reason: str) -> None:
        assert self.executor is not None
        runid = entry.runid
        log.error(
            "run=%s archive upload failed for good: %s; the archive stays on this node at %s",
            runid,
            reason,
            entry.path,
        )
        message = f"archive upload failed: {reason}"
        if entry.report_seq is None:
            await self.executor.fail_delivery(runid, message)
        else:
            self._report(
                runid,
                RunStatus.FAILED,
                f"{record.outcome_message}; {message}" if record.outcome_message else message,
                phase=RunPhase.DONE,
            )
        self.queue.update(runid, stage=Stage.FAILED, last_error=reason)
        self._forget_retries(runid)

    # ------------------------------------------------------------------------ after the report

    def _settle_all(self) -> None:
        for entry in self.queue.entries(Stage.PENDING, Stage.REPORTED, Stage.KEPT):
            self._settle(entry)

    def _settle(self, entry: UploadEntry) -> None:
        """Move an entry on according to its run and the outbox's answer to its report."""
        runid = entry.runid
        if entry.stage is Stage.KEPT:
            if entry.keep_until is not None and entry.keep_until <= self.clock.time():
                self._drop(entry)
            return
        record = self.state.get_run(runid)
        if record is None:
            return
        if entry.stage is Stage.PENDING:
            if record.phase is RunPhase.DONE:  # reported before a crash could note it here
                if record.blob_url:
                    self._settle(
                        self.queue.update(runid, stage=Stage.REPORTED, report_seq=record.seq)
                    )
                else:
                    self.queue.update(runid, stage=Stage.FAILED)
            return
        assert entry.report_seq is not None
        if record.phase is RunPhase.UPLOAD_PENDING and record.seq > entry.report_seq:
            self.queue.update(runid, stage=Stage.PENDING)  # a re-upload was under way
            return
        fate = self.queue.report_fate(runid, entry.report_seq)
        if fate == "accepted":
            self._release(entry)
        elif fate.startswith("refused:"):
            self._refused(entry, record, fate.removeprefix("refused:").removeprefix("update_run: "))

    def _refused(self, entry: UploadEntry, record: RunRecord, reason: str) -> None:
        runid = entry.runid
        refusals = entry.refusals + 1
        if record.status != RunStatus.COMPLETE:
            log.error("run=%s final report %s refused: %s", runid, record.status, reason)
            self.queue.update(runid, stage=Stage.FAILED, refusals=refusals, last_error=reason)
            return
        if refusals > MAX_VERIFY_REFUSALS:
            message = f"the orchestrator would not accept the uploaded archive: {reason}"
            log.error("run=%s %s; the archive stays on this node at %s", runid, message, entry.path)
            self._report(runid, RunStatus.FAILED, message, phase=RunPhase.DONE)
            self.queue.update(runid, stage=Stage.FAILED, refusals=refusals, last_error=reason)
            return
        log.warning("run=%s COMPLETE refused (%s); uploading the archive again", runid, reason)
        self._report(
            runid,
            RunStatus.UPLOAD_PENDING,
            f"upload pending: the orchestrator could not verify the archive ({reason}); "
            "uploading again",
            phase=RunPhase.UPLOAD_PENDING,
        )
        self.queue.update(runid, stage=Stage.PENDING, refusals=refusals, last_error=reason)
        self._shown[runid] = "the orchestrator could not verify the archive"
        self._schedule_retry(runid)

    def _release(self, entry: UploadEntry) -> None:
        """The orchestrator accepted the run's report: keep the copy a while, or delete it."""
        if self.keep_uploaded > 0:
            keep_until = self.clock.time() + self.keep_uploaded
            self.queue.update(entry.runid, stage=Stage.KEPT, keep_until=keep_until)
            log.info(
                "run=%s archive uploaded and accepted; kept until %.0f", entry.runid, keep_until
            )
            return
        log.info("run=%s archive uploaded and accepted; spool copy deleted", entry.runid)
        self._drop(entry)

    def _drop(self, entry: UploadEntry) -> None:
        entry.archive.unlink(missing_ok=True)
        (self.spool_dir / f"{entry.runid}.upload.json").unlink(missing_ok=True)
        self.queue.remove(entry.runid)
        self._forget_retries(entry.runid)

    def _forget_retries(self, runid: str) -> None:
        self._retry_at.pop(runid, None)
        self._backoffs.pop(runid, None)
        self._shown.pop(runid, None)
        self._awaiting_orchestrator.discard(runid)
