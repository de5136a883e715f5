"""Blob names for run archives, in the reference's layout (wire contract section 6.7).

    <artifactPath>/<nodeid>/<jobid>/<YYYY>/<M>/<D>/<runid>.zip          client or unpaired run
    <artifactPath>/<nodeid>/<jobid>/<YYYY>/<M>/<D>/<runid>_server.zip   paired server side

Month and day are not zero-padded and come from the run's UTC start time. The server side uses
the client's node id and the client run's start date, which is exactly what a server run record
(`<runid>_server`, adopted nodeid and start_time) carries, so `blob_name_for_run` needs no flag.
Keeping the layout lets archives written by reference nodes and by ours sit side by side.
"""

from __future__ import annotations

from datetime import datetime

from leoscope.core.errors import InvalidInput
from leoscope.core.model import Run
from leoscope.core.timeutil import to_utc

from .base import check_blob_name

SERVER_SUFFIX = "_server"


def blob_name_for(
    artifact_path: str,
    *,
    nodeid: str,
    jobid: str,
    start_time: datetime,
    runid: str,
    server: bool = False,
) -> str:
    """The archive blob name for a run; `server=True` names the paired server's archive."""
    for field_name, value in (("nodeid", nodeid), ("jobid", jobid), ("runid", runid)):
        if not value or "/" in value or value in (".", ".."):
            raise InvalidInput(field_name, f"{value!r} cannot be used in a blob name")
    start = to_utc(start_time)
    leaf = f"{runid}{SERVER_SUFFIX}.zip" if server else f"{runid}.zip"
    relative = f"{nodeid}/{jobid}/{start.year}/{start.month}/{start.day}/{leaf}"
    prefix = artifact_path.strip("/")
    return check_blob_name(f"{prefix}/{relative}" if prefix else relative)


def blob_name_for_run(artifact_path: str, run: Run) -> str:
    """The archive blob name of a stored run (a server run's id already ends in `_server`)."""
    return blob_name_for(
        artifact_path,
        nodeid=run.nodeid,
        jobid=run.jobid,
        start_time=run.start_time,
        runid=run.runid,
    )
