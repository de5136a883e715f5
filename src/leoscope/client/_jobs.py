"""Jobs: scheduling (with dry runs), lookup, changes, deletion, calendars and free slots."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from leoscope.api import convert
from leoscope.api import leotest_pb2 as pb
from leoscope.core.errors import InvalidInput
from leoscope.core.model import Job, JobParams, JobType
from leoscope.core.timeutil import iso_z, parse_time, to_utc, utcnow

from ._base import Base
from ._convert import event_from_pb, slot_from_pb
from ._errors import Subject
from ._results import Calendar, FreeSlot, ScheduledJob

ONE_SHOT_SLACK = timedelta(days=1)
"""A one-shot job's default end: this long after its run would end, so it can be rescheduled."""

# Reference nodes expect non-empty legacy params (they pass them on a command line).
LEGACY_PARAMS = JobParams("docker", "params_deploy", "params_execute", "params_finish")


class JobsAPI(Base):
    def schedule_job(
        self,
        jobid: str,
        nodeid: str,
        *,
        length_secs: int,
        config: str,
        at: datetime | None = None,
        cron: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        timezone: str | None = None,
        trigger: str | None = None,
        trigger_wait_secs: int | None = None,
        server: str | None = None,
        overhead: bool = True,
        dry_run: bool = False,
    ) -> ScheduledJob:
        """Schedule a job: one run `at` a time, or runs on a 5-field `cron` expression.

        A one-shot job ends (may be rescheduled until) `end`, by default a day after its run
        would end. A cron job runs from `start` (default now) until `end` (required), in UTC
        unless `timezone` names an IANA zone. `config` is the experiment config (YAML text).
        `overhead=False` marks a lightweight job that never conflicts. With `dry_run=True` the
        orchestrator validates and checks conflicts but stores nothing.

        Raises Conflict (with `.conflicts`: job ids and times), InvalidInput (with `.field`),
        PermissionDenied.
        """
        if (at is None) == (cron is None):
            raise InvalidInput("schedule", "give either at= (one run) or cron= (recurring runs)")
        if at is not None:
            if start is not None:
                raise InvalidInput("start", "a one-shot job starts at `at`; do not give start")
            job_type, first = JobType.ATQ, to_utc(at)
            last = end or first + timedelta(seconds=max(length_secs, 0)) + ONE_SHOT_SLACK
        else:
            if end is None:
                raise InvalidInput("end", "is required for a cron job")
            job_type, first, last = JobType.CRON, to_utc(start or utcnow()), end
        request = pb.message_schedule_job(
            id=jobid,
            nodeid=nodeid,
            type=pb.job_type.Value(job_type.name),
            params=convert.params_to_pb(LEGACY_PARAMS),
            schedule=cron or "",
            start_date=iso_z(first),
            end_date=iso_z(last),
            length_secs=length_secs,
            overhead=overhead,
            userid=self._transport.user,
            config=config,
            dry_run=dry_run,
        )
        optional = {
            "server": server,
            "trigger": trigger,
            "timezone": timezone,
            "trigger_wait_secs": trigger_wait_secs,
        }
        for key, value in optional.items():
            if value is not None:
                setattr(request, key, value)
        response = self._write("schedule_job", request, Subject("job", jobid))
        return ScheduledJob(
            jobid=jobid,
            dry_run=dry_run,
            message=response.message,
            next_runs=tuple(parse_time(t, "next_runs") for t in response.next_runs),
            warnings=tuple(response.warnings),
        )

    def get_job(self, jobid: str) -> Job:
        """A job, including its experiment config (owner, admins and its nodes). NotFound."""
        response = self._read(
            "get_job_by_id", pb.message_get_job_by_id(jobid=jobid), Subject("job", jobid)
        )
        return convert.job_detail_from_pb(response)

    def list_jobs(
        self, *, user: str | None = None, node: str | None = None, include_expired: bool = False
    ) -> list[Job]:
        """Jobs, without their configs.

        With `node`: the jobs on that node (also as server node), optionally those whose end
        has passed; `user` then narrows them. Otherwise the jobs of `user`: admins may name
        anyone, or omit it to list every job; other callers see their own.
        """
        if node is not None:
            request = pb.message_get_jobs_by_nodeid(nodeid=node, include_expired=include_expired)
            response = self._read("get_jobs_by_nodeid", request, Subject("node", node))
            jobs = [convert.job_from_pb(j) for j in response.jobs]
            return [j for j in jobs if user is None or j.userid == user]
        request = pb.message_get_jobs_by_userid(userid=user or "")
        response = self._read("get_jobs_by_userid", request, Subject("user", user or ""))
        return [convert.job_from_pb(j) for j in response.jobs]

    def delete_job(self, jobid: str) -> None:
        """Delete a job (owner or admins). Raises NotFound, PermissionDenied."""
        self._write(
            "delete_job_by_id", pb.message_delete_job_by_id(jobid=jobid), Subject("job", jobid)
        )

    def delete_jobs_on_node(self, nodeid: str) -> int:
        """Delete every job on a node (admins only); returns how many were deleted."""
        response = self._write(
            "delete_jobs_by_nodeid",
            pb.message_delete_jobs_by_nodeid(nodeid=nodeid),
            Subject("node", nodeid),
        )
        return int(response.num_deleted)

    def reschedule_job(
        self, jobid: str, *, not_before: datetime | None = None, not_after: datetime | None = None
    ) -> datetime:
        """Move a one-shot job to the earliest free slot in [not_before, not_after]; returns
        its new start. Defaults: from now until the job's end date.

        Raises Conflict when there is no free slot, InvalidInput for a cron job, NotFound.
        """
        first = to_utc(not_before) if not_before is not None else utcnow()
        last = not_after if not_after is not None else self.get_job(jobid).end
        request = pb.message_reschedule_job(
            jobid=jobid, starttime=iso_z(first), endtime=iso_z(last)
        )
        response = self._write("reschedule_job_nearest", request, Subject("job", jobid))
        return parse_time(response.next_slot, "next_slot")

    def modify_job(
        self,
        jobid: str,
        *,
        cron: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        length_secs: int | None = None,
        trigger: str | None = None,
        config: str | None = None,
        timezone: str | None = None,
        overhead: bool | None = None,
        trigger_wait_secs: int | None = None,
    ) -> None:
        """Change the given fields of a job, atomically and through the same checks as
        `schedule_job` (owner or admins). `trigger=""` removes the trigger.

        Raises Conflict (with `.conflicts`), InvalidInput, NotFound, PermissionDenied.
        """
        request = pb.message_modify_job(jobid=jobid)
        changes = {
            "schedule": cron,
            "start_date": iso_z(start) if start is not None else None,
            "end_date": iso_z(end) if end is not None else None,
            "length_secs": length_secs,
            "trigger": trigger,
            "config": config,
            "timezone": timezone,
            "overhead": overhead,
            "trigger_wait_secs": trigger_wait_secs,
        }
        if all(v is None for v in changes.values()):
            raise InvalidInput("jobid", "no field to change was given")
        for key, value in changes.items():
            if value is not None:
                setattr(request, key, value)
        self._write("modify_job", request, Subject("job", jobid))

    def calendar(self, nodeid: str, start: datetime, end: datetime) -> Calendar:
        """The node's planned runs overlapping [start, end] (all its jobs, overhead or not)."""
        request = pb.message_get_scheduled_runs(nodeid=nodeid, start=iso_z(start), end=iso_z(end))
        response = self._read("get_scheduled_runs", request, Subject("node", nodeid))
        return Calendar(
            nodeid=nodeid,
            start=to_utc(start),
            end=to_utc(end),
            events=tuple(event_from_pb(e) for e in response.events),
            truncated=bool(response.truncated),
        )

    def find_free_slot(
        self,
        nodeids: Sequence[str] = (),
        *,
        length_secs: int,
        not_before: datetime,
        not_after: datetime,
        location: str | None = None,
        provider: str | None = None,
    ) -> list[FreeSlot]:
        """The earliest free slot of `length_secs` per node, between the two times.

        Name the nodes, or give a location and/or provider to search all nodes there.
        """
        request = pb.message_find_free_slot(
            nodeids=list(nodeids),
            length_secs=length_secs,
            not_before=iso_z(not_before),
            not_after=iso_z(not_after),
        )
        if location is not None:
            request.location = location
        if provider is not None:
            request.provider = provider
        response = self._read("find_free_slot", request)
        return [slot_from_pb(s) for s in response.slots]
