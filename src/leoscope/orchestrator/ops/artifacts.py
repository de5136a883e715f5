"""Signed URLs for run archives: uploads for the node that ran the run, downloads for the
job's owner and admins. Nobody but the orchestrator holds the store's credentials."""

from __future__ import annotations

from leoscope.artifacts import SignedUrl, UploadRequest, blob_name_for_run
from leoscope.core.errors import InvalidInput, NotFound, PermissionDenied
from leoscope.core.model import Job, Run
from leoscope.core.validation import check_id

from ..store import jobs as job_store
from ..store import runs as run_store
from .context import Ctx


def _run_and_job(ctx: Ctx, runid: str) -> tuple[Run, Job | None]:
    check_id("runid", runid)
    with ctx.read() as conn:
        run = run_store.get(conn, runid)
        job = job_store.get(conn, run.jobid) if run else None
    if run is None:
        raise NotFound("run", runid, f"run {runid} not found")
    return run, job


def upload_url(ctx: Ctx, request: UploadRequest) -> SignedUrl:
    run, job = _run_and_job(ctx, request.runid)
    if job is not None:
        ctx.require("get_upload_url", job=job)
    elif not (ctx.principal.is_node and ctx.principal.userid == run.nodeid):
        raise PermissionDenied(ctx.principal.denial())
    with ctx.read() as conn:
        store, prefix = ctx.services.artifacts.current(conn)
    name = blob_name_for_run(prefix, run)
    if request.blob_name and request.blob_name != name:
        # Partial snapshots live beside the archive: <...>/<runid>.<anything>.zip
        stem = name.removesuffix(".zip")
        if not (
            request.blob_name.startswith(stem + ".") and "/" not in request.blob_name[len(stem) :]
        ):
            raise InvalidInput("blob_name", f"must be {name} or {stem}.<suffix> for this run")
        name = request.blob_name
    return store.sign_upload(
        name, size=request.size, sha256=request.sha256, upload_id=request.upload_id
    )


def download_url(ctx: Ctx, runid: str) -> SignedUrl:
    run, job = _run_and_job(ctx, runid)
    if job is not None:
        ctx.require("get_download_url", job=job)
    elif not (ctx.principal.is_admin or ctx.principal.userid == run.userid):
        raise PermissionDenied(ctx.principal.denial())
    with ctx.read() as conn:
        store, prefix = ctx.services.artifacts.current(conn)
    name = run.blob_name or blob_name_for_run(prefix, run)
    return store.sign_download(name)


def verify_archive(ctx: Ctx, run: Run) -> None:
    """A run is COMPLETE only once its archive is stored with the reported size and checksum."""
    if not (run.blob_name and run.archive_sha256 and run.archive_size is not None):
        return
    with ctx.read() as conn:
        store, _ = ctx.services.artifacts.current(conn)
    store.verify(run.blob_name, size=run.archive_size, sha256=run.archive_sha256)
