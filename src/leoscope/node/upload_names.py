"""Blob names of a run's archive and its partial snapshots, as the orchestrator will accept them.

The orchestrator names a run's archive in the reference layout,

    <artifactPath>/<nodeid>/<jobid>/<YYYY>/<M>/<D>/<runid>.zip

and signs other names for the run only as `<that name without .zip>.<suffix>.zip`. The part
after `<artifactPath>/` is exactly the run directory's relative path (paths.run_relpath, with
the client's node id for the server side of a paired run), so the node needs only the
`artifactPath` of the global config (nodes may read it), by default "jobs/".

    <stem>.partial-<n>.zip    the n-th snapshot of a running run (snapshots.py)
    <stem>.<sha256[:16]>.zip  the archive, when the reference name already holds other content
                              (a blob is never overwritten; upload.py)
"""

from __future__ import annotations

from leoscope.artifacts import check_blob_name

from .link import OrchestratorLink
from .records import RunRecord

DEFAULT_ARTIFACT_PATH = "jobs/"


class BlobNames:
    """Names for a run's blobs; learns (and caches) the orchestrator's artifactPath."""

    def __init__(self, link: OrchestratorLink) -> None:
        self.link = link
        self._prefix: str | None = None

    async def prefix(self) -> str:
        """The global config's artifactPath (without slashes). Raises LinkError."""
        if self._prefix is None:
            config = await self.link.global_config()
            path = config.datastore.blob.artifactPath if config is not None else ""
            self._prefix = (path or DEFAULT_ARTIFACT_PATH).strip("/")
        return self._prefix

    def forget(self) -> None:
        """The orchestrator refused a name: read the config again next time."""
        self._prefix = None

    async def stem(self, record: RunRecord) -> str:
        prefix = await self.prefix()
        relative = record.run_relpath.strip("/")
        return f"{prefix}/{relative}" if prefix else relative

    async def snapshot(self, record: RunRecord, number: int) -> str:
        return check_blob_name(f"{await self.stem(record)}.partial-{number}.zip")

    async def alternative(self, record: RunRecord, sha256: str) -> str:
        return check_blob_name(f"{await self.stem(record)}.{sha256[:16]}.zip")
