"""The run phases after the container's end: logs, archive, delivery, final status.

COLLECTING  report FINISHING; save container.stdout/.stderr; `after_exit` hooks
ARCHIVING   zip the run directory (archive.py), reusing an archive made before a restart
DELIVERING  report FINISHING; hand the archive to the delivery (seams.ArchiveDelivery),
            retried for a while; DeliveryPending -> UPLOAD_PENDING (someone else finishes)
finalize    remove the container; report the outcome with the archive's location; remove
            the local copies; DONE; `after_final` hooks
"""

from __future__ import annotations

import asyncio
import logging
import shutil

from leoscope.core.model import RunStatus
from leoscope.retry import Backoff, RetryPolicy

from . import outcome as msgs
from .archive import make_archive
from .records import RunPhase, RunRecord
from .run_base import RunMachine
from .rundir import CONTAINER_STDERR, CONTAINER_STDOUT
from .runtime.base import ExitInfo, RuntimeErrorBase
from .seams import Archive, Delivered, DeliveryPending, Outcome, RunContext

log = logging.getLogger("leoscope.node.executor")

DELIVERY_RETRY = RetryPolicy(first_wait_secs=1.0, max_wait_secs=15.0, give_up_after_secs=60.0)


class FinishPhases(RunMachine):
    async def _collecting(self, ctx: RunContext) -> None:
        runid = ctx.runid
        self._report(runid, RunStatus.FINISHING, msgs.MSG_COLLECTING)
        handle = await self._container_if_any(ctx)
        if handle is not None and ctx.run_dir.is_dir():
            try:
                await self.runtime.collect_logs(
                    handle, ctx.run_dir / CONTAINER_STDOUT, ctx.run_dir / CONTAINER_STDERR
                )
            except RuntimeErrorBase as exc:
                ctx.log.warning("could not save the container's output: %s", exc)
        record = ctx.record
        exit = None
        if record.exit_code is not None:
            exit = ExitInfo(record.exit_code, record.oom_killed)
        result = Outcome(
            record.outcome_status or RunStatus.FAILED, record.outcome_message or "", exit
        )
        for hook in self.hooks:
            try:
                await hook.after_exit(ctx, result)
            except Exception as exc:
                ctx.log.warning("%s.after_exit failed: %s", type(hook).__name__, exc)
        self._set(runid, phase=RunPhase.ARCHIVING)

    async def _archiving(self, ctx: RunContext) -> None:
        runid = ctx.runid
        if not ctx.run_dir.is_dir():  # ended before it had a directory (e.g. aborted at once)
            await self._finalize(ctx, None)
            return
        ctx.log.info("archiving the run directory")
        archive = await asyncio.to_thread(
            make_archive, ctx.run_dir, runid, self.paths.archive_path(runid)
        )
        self._set(
            runid,
            phase=RunPhase.DELIVERING,
            archive_sha256=archive.sha256,
            archive_size=archive.size,
        )

    async def _delivering(self, ctx: RunContext) -> None:
        runid = ctx.runid
        record = ctx.record
        path = self.paths.archive_path(runid)
        if not path.exists() or record.archive_sha256 is None or record.archive_size is None:
            self._set(runid, phase=RunPhase.ARCHIVING)
            return
        archive = Archive(path, record.archive_sha256, record.archive_size)
        self._report(runid, RunStatus.FINISHING, msgs.MSG_UPLOADING)
        backoff = Backoff(DELIVERY_RETRY)
        while True:
            try:
                delivered = await self.delivery.deliver(ctx, archive)
                break
            except DeliveryPending as exc:
                self._report(
                    runid, RunStatus.UPLOAD_PENDING, exc.message, phase=RunPhase.UPLOAD_PENDING
                )
                return
            except Exception as exc:
                wait = backoff.next_wait()
                if wait is None:
                    ctx.log.error("archive delivery failed: %s", exc)
                    await self._finalize(ctx, None, failure=f"archive delivery failed: {exc}")
                    return
                ctx.log.warning("archive delivery failed (%s); retrying in %.1fs", exc, wait)
                await asyncio.sleep(wait)
        await self._finalize(ctx, delivered)

    async def _finalize(
        self, ctx: RunContext, delivered: Delivered | None, *, failure: str | None = None
    ) -> RunRecord:
        """Remove the container, report the final status, clean up local copies."""
        runid = ctx.runid
        record = ctx.record
        handle = await self._container_if_any(ctx)
        if handle is not None:
            try:
                await self.runtime.remove(handle)
            except RuntimeErrorBase as exc:
                ctx.log.warning("could not remove the container: %s", exc)
        status = record.outcome_status or RunStatus.FAILED
        message = record.outcome_message or ""
        if failure is not None:
            status, message = RunStatus.FAILED, f"{message}; {failure}" if message else failure
        changes: dict[str, object] = {"phase": RunPhase.DONE}
        if delivered is not None:
            changes.update(
                blob_url=delivered.blob_url,
                archive_sha256=delivered.sha256,
                archive_size=delivered.size,
            )
            if delivered.blob_name:
                changes["blob_name"] = delivered.blob_name
        ctx.log.info("run finished: %s %s", status, message)
        final = self._report(runid, status, message, **changes)
        if delivered is not None:
            self.paths.archive_path(runid).unlink(missing_ok=True)
            if not self.keep_run_dirs:
                await asyncio.to_thread(shutil.rmtree, ctx.run_dir, True)
        await self._after_final(ctx)
        return final
