"""Runs: queries for people, status reports for node software."""

from __future__ import annotations

from datetime import datetime

from leoscope.api import convert
from leoscope.api import leotest_pb2 as pb
from leoscope.core.errors import NotFound
from leoscope.core.model import Run
from leoscope.core.timeutil import iso_z

from ._base import Base
from ._errors import Subject


class RunsAPI(Base):
    def list_runs(
        self,
        *,
        job: str | None = None,
        node: str | None = None,
        user: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        runid: str | None = None,
    ) -> list[Run]:
        """Runs matching every given filter, newest first, at most `limit` (None: all).

        `since`/`until` bound the run's start time. Admins see every run, nodes the runs of
        their jobs, users their own.
        """
        request = pb.message_get_runs()
        for key, value in (
            ("runid", runid),
            ("jobid", job),
            ("nodeid", node),
            ("userid", user),
            ("status", status),
            ("limit", limit),
        ):
            if value is not None:
                setattr(request, key, value)
        if since is not None or until is not None:
            request.time_range.start = iso_z(since)
            request.time_range.end = iso_z(until)
        response = self._read("get_runs", request)
        return [convert.run_from_pb(r) for r in response.runs]

    def get_run(self, runid: str) -> Run:
        """One run. Raises NotFound (also when it is not yours to see)."""
        found = self.list_runs(runid=runid, limit=1)
        if not found:
            raise NotFound("run", runid, f"run {runid!r} not found")
        return found[0]

    def update_run(self, run: Run) -> None:
        """Report a run's state (node software: the job's node or server node).

        Give `run.seq` increasing numbers: a delivery with a lower number than the stored one
        is acknowledged and ignored, so retried reports never move a run backwards.
        """
        request = pb.message_update_run(run=convert.run_to_pb(run))
        self._write("update_run", request, Subject("run", run.runid))
