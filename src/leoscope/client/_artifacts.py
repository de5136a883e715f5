"""Run archives: signed URLs from the orchestrator, and verified, resumable downloads.

Nobody but the orchestrator holds the artifact store's credentials: the SDK asks for a
short-lived URL for one run's archive (`download_url`: the job's owner and admins) and moves
the bytes with it (`download_run`), re-asking when the URL expires.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path

from leoscope.api import leotest_pb2 as pb
from leoscope.artifacts import DownloadResult, SignedUrl, download_file, signed_url_from_response

from ._base import Base
from ._errors import Subject
from ._remote_zip import RangeReader, RemoteArchive


class ArtifactsAPI(Base):
    def download_url(self, runid: str) -> SignedUrl:
        """A signed URL for the run's archive (while it runs: its newest partial snapshot).

        Raises NotFound when the run or its archive does not exist (yet), PermissionDenied
        for a run of someone else's job.
        """
        request = pb.message_get_download_url(runid=runid)
        response = self._read("get_download_url", request, Subject("run", runid))
        return signed_url_from_response(response)

    def upload_url(
        self,
        runid: str,
        *,
        sha256: str,
        size: int,
        blob_name: str | None = None,
        upload_id: str | None = None,
    ) -> SignedUrl:
        """A signed upload URL for a run's archive (node software: the node that ran it).

        `blob_name` defaults to the reference layout; `upload_id` resumes an S3 upload.
        """
        request = pb.message_get_upload_url(runid=runid, sha256=sha256, size=size)
        if blob_name:
            request.blob_name = blob_name
        if upload_id:
            request.upload_id = upload_id
        response = self._write("get_upload_url", request, Subject("run", runid))
        return signed_url_from_response(response)

    def download_run(
        self,
        runid: str,
        dest: str | os.PathLike[str],
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> DownloadResult:
        """Download the run's archive to `dest` (a file path, or a directory: `<runid>.zip`).

        Verifies the SHA-256 the store recorded, resumes a partial `<file>.part`, fetches a
        corrupt copy again, and skips the download when the file is already there intact.
        Raises as `download_url`, ChecksumMismatch when no fetch gives the right bytes, and
        Unavailable (TransferUnavailable) when the store stays unreachable.
        """
        target = Path(dest)
        if target.is_dir():
            target = target / f"{runid}.zip"
        return download_file(lambda _upload_id: self.download_url(runid), target, progress=progress)

    def open_archive(self, runid: str) -> zipfile.ZipFile:
        """The run's archive (while it runs: its newest snapshot) as a read-only ZipFile.

        Read in place with HTTP Range requests: listing it, or reading a few members, does
        not fetch the rest. Members are checked against their CRC-32 as they are read; use
        `download_run` for a copy verified against the whole archive's SHA-256. Close it
        (or use `with`).
        """
        signed = self.download_url(runid)
        return RemoteArchive(RangeReader(signed, lambda: self.download_url(runid)))
