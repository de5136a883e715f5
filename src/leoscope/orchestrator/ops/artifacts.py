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
    if request.blob_name:
        name = own_blob_name(run, request.blob_name, prefix=prefix)
    else:
        name = blob_name_for_run(prefix, run)
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


def own_blob_name(
    run: Run, name: str, *, prefix: str | None = None, field: str = "blob_name"
) -> str:
    """`name` when it is the run's archive or a partial snapshot beside it (`<runid>.<suffix>`),
    under the artifact path `prefix` (any artifact path when None: it may have changed since
    the upload); raises InvalidInput otherwise."""
    own = blob_name_for_run(prefix or "", run)
    own_dir, _, own_leaf = own.rpartition("/")
    directory, _, leaf = name.rpartition("/")
    in_place = directory == own_dir or (prefix is None and directory.endswith("/" + own_dir))
    stem = own_leaf.removesuffix(".zip")
    if not (in_place and (leaf == own_leaf or leaf.startswith(stem + "."))):
        shown = own if prefix is not None else f"<artifactPath>/{own}"
        raise InvalidInput(
            field, f"must be {shown} or {shown.removesuffix('.zip')}.<suffix> for this run"
        )
    return name
