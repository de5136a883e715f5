"""The default archive delivery: into a local-directory artifact store on this host.

The archive is stored under the reference's blob layout (artifacts/layout.py):

    <artifact_path>/<nodeid>/<jobid>/<YYYY>/<M>/<D>/<runid>.zip

in `artifacts.local.LocalStore` (the embedded default store), which records the SHA-256 with
the blob and refuses to overwrite it with other content; storing the same archive again (a
retry after a crash) is a no-op. The run reports `blob_url` (the blob's `file://` URL) and the
archive's SHA-256 and size, but no `blob_name`: that field names a blob in the orchestrator's
own store, which checks it before accepting COMPLETE. When `root` is the directory of an
orchestrator's embedded local store on the same host (as `leoscope up` arranges), the archive
sits exactly where that orchestrator looks for it (`<artifactPath>` "jobs"), so it can serve it.

Remote stores and resumable uploads (issue 6) replace this object behind the
`ArchiveDelivery` seam (see seams.py); the local archive is removed only after a delivery
succeeded.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from leoscope.artifacts.layout import blob_name_for
from leoscope.artifacts.local import Grant, LocalStore

from .seams import Archive, Delivered, RunContext

log = logging.getLogger(__name__)

_CHUNK = 1024 * 1024


class LocalStoreDelivery:
    """`ArchiveDelivery` into a `LocalStore` rooted at `root`."""

    def __init__(self, root: Path, artifact_path: str = "jobs") -> None:
        self.store = LocalStore(root)
        self.artifact_path = artifact_path

    def blob_name(self, run: RunContext) -> str:
        return blob_name_for(
            self.artifact_path,
            nodeid=run.record.filed_nodeid or run.node_id,  # a server side: the client's
            jobid=run.job.id,
            start_time=run.start_time,
            runid=run.runid,
        )

    async def deliver(self, run: RunContext, archive: Archive) -> Delivered:
        return await self.store_archive(self.blob_name(run), run.runid, archive)

    async def store_archive(self, name: str, runid: str, archive: Archive) -> Delivered:
        """Store `archive` as blob `name` (again: a no-op). Also the uploader's fallback when
        the orchestrator has no artifact store (upload.py)."""
        await asyncio.to_thread(self._put, name, archive)
        url = self.store.blob_path(name).resolve().as_uri()
        log.info("run=%s archive stored blob=%s size=%d", runid, name, archive.size)
        return Delivered(blob_url=url, blob_name=None, sha256=archive.sha256, size=archive.size)

    def _put(self, name: str, archive: Archive) -> None:
        grant = Grant("w", name, 0, archive.size, archive.sha256, None)
        upload = self.store.open_whole(grant)
        try:
            with archive.path.open("rb") as source:
                while chunk := source.read(_CHUNK):
                    upload.write(chunk)
            upload.finish()
        finally:
            upload.discard()  # drops the temporary copy when the blob was already stored
