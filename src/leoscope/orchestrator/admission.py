"""The seam between the orchestrator and the scheduling engine (core.schedule/conflicts).

Admission runs inside the writing transaction that holds the nodes' locks, so the check and the
insert are atomic. The expensive parts are cached, and every cache key includes what it was
computed from, so a cache can never disagree with the database (even with several replicas):

* each job's run starts over the horizon, keyed by (job id, version, day);
* each node's merged interval index, keyed by (day, the set of (job id, version) on it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import Connection

from leoscope.core import schedule
from leoscope.core.conflicts import BusyIndex, BusyJob, find_conflicts, find_free_slot
from leoscope.core.errors import ConflictInfo
from leoscope.core.model import Job
from leoscope.core.quiet_hours import parse_quiet_hours
from leoscope.core.timeutil import from_epoch, iso_z, to_epoch

from .store import jobs as job_store
from .store import nodes as node_store

DAY = 86_400
EVENT_CAP = 10_000
SLOT_GRANULARITY_SECS = 60  # reference nodes start one-shot jobs with `at`: minute resolution
QUIET_LOOKAHEAD_DAYS = 30


class Admission:
    def __init__(
        self,
        horizon_days: int = schedule.DEFAULT_HORIZON_DAYS,
        max_occurrences: int = schedule.MAX_OCCURRENCES,
        event_cap: int = EVENT_CAP,
        cached_jobs: int = 20_000,
        cached_indexes: int = 256,
    ) -> None:
        self.horizon_days = horizon_days
        self.max_occurrences = max_occurrences
        self.event_cap = event_cap
        self._lock = threading.Lock()
        self._jobs: OrderedDict[tuple[str, int, int], BusyJob] = OrderedDict()
        self._indexes: OrderedDict[tuple[str, int, frozenset[tuple[str, int]]], BusyIndex] = (
            OrderedDict()
        )
        self._max_jobs = cached_jobs
        self._max_indexes = cached_indexes

    # ------------------------------------------------------------------ windows and caches
    def _window(self, anchor: datetime) -> tuple[int, int, int]:
        """(day, start, end) of a cached window: the horizon from the anchor's day, padded."""
        day = to_epoch(anchor) // DAY
        return day, (day - 1) * DAY, (day + self.horizon_days + 1) * DAY

    def _busy_job(self, job: Job, day: int, start: int, end: int) -> BusyJob:
        key = (job.id, job.version, day)
        with self._lock:
            hit = self._jobs.get(key)
            if hit is not None:
                self._jobs.move_to_end(key)
                return hit
        busy = BusyJob.from_job(job, start, end)
        with self._lock:
            self._jobs[key] = busy
            while len(self._jobs) > self._max_jobs:
                self._jobs.popitem(last=False)
        return busy

    def node_index(
        self,
        nodeid: str,
        identities: Iterable[tuple[str, int]],
        load: Callable[[list[str]], list[Job]],
        anchor: datetime,
    ) -> BusyIndex:
        """The merged busy calendar of the overhead jobs with these (id, version) identities on
        `nodeid`, over the horizon that starts on the anchor's day. `load(ids)` fetches the jobs
        themselves, which happens only when the index is not cached."""
        day, start, end = self._window(anchor)
        identities = frozenset(identities)
        key = (nodeid, day, identities)
        with self._lock:
            hit = self._indexes.get(key)
            if hit is not None:
                self._indexes.move_to_end(key)
                return hit
        jobs = load(sorted(jobid for jobid, _ in identities))
        index = BusyIndex([self._busy_job(j, day, start, end) for j in jobs], nodeid)
        with self._lock:
            self._indexes[key] = index
            while len(self._indexes) > self._max_indexes:
                self._indexes.popitem(last=False)
        return index

    def _calendars(
        self,
        conn: Connection,
        nodeids: Sequence[str],
        now: datetime,
        anchor: datetime,
        exclude: str | None,
    ) -> list[BusyIndex]:
        """The nodes' calendars, read in `conn` (the admission transaction, holding the locks).

        Only the live overhead jobs' identities are read on every call; whole jobs only when a
        node's index is not cached for exactly that set of (id, version).
        """
        per_node: dict[str, list[tuple[str, int]]] = {n: [] for n in nodeids}
        for jobid, version, nodeid, server in job_store.live_identities(conn, nodeids, now):
            if jobid == exclude:
                continue
            for n in (nodeid, server):
                if n in per_node:
                    per_node[n].append((jobid, version))

        def load(ids: list[str]) -> list[Job]:
            return job_store.by_ids(conn, ids)

        return [self.node_index(n, per_node[n], load, anchor) for n in sorted(per_node)]

    # ------------------------------------------------------------------ admission
    @staticmethod
    def anchor(job: Job, now: datetime) -> datetime:
        """Where a job's horizon starts: now, or its start date when that is later."""
        return max(now, job.start)

    def candidate_starts(self, job: Job, now: datetime) -> np.ndarray:
        """The job's runs within the horizon, including one already in progress at the anchor.

        Raises InvalidInput when the job has too many runs in the horizon or overlaps itself.
        """
        since = self.anchor(job, now) - timedelta(seconds=job.length_secs - 1)
        return schedule.admission_occurrences(
            job, since, horizon_days=self.horizon_days, max_occurrences=self.max_occurrences
        )

    def check(
        self, conn: Connection, job: Job, now: datetime, exclude: str | None = None
    ) -> tuple[list[ConflictInfo], dict[str, Job]]:
        """Conflicts of `job` with the overhead jobs on its nodes (none unless it is overhead)."""
        starts = self.candidate_starts(job, now)
        if not job.overhead or not len(starts):
            return [], {}
        indexes = self._calendars(conn, job.nodes, now, self.anchor(job, now), exclude)
        seen: dict[str, ConflictInfo] = {}
        for index in indexes:
            for conflict in find_conflicts(starts, job.length_secs, index):
                if conflict.jobid not in seen:
                    seen[conflict.jobid] = conflict
        conflicts = sorted(seen.values(), key=lambda c: (c.start, c.jobid))
        others = {j.id: j for j in job_store.by_ids(conn, list(seen))} if seen else {}
        return conflicts, others

    def next_runs(self, job: Job, now: datetime, count: int) -> list[datetime]:
        lo = to_epoch(self.anchor(job, now))
        hi = lo + self.horizon_days * DAY
        return [from_epoch(int(t)) for t in schedule.occurrences(job, lo, hi, limit=count)]

    def quiet_hour_warnings(self, conn: Connection, job: Job, now: datetime) -> list[str]:
        """Warn when overhead runs fall into a node's quiet hours (scavenger mode will stop them)."""
        if not job.overhead:
            return []
        warnings = []
        lo = max(to_epoch(now), to_epoch(job.start))
        hi = lo + QUIET_LOOKAHEAD_DAYS * DAY
        starts = schedule.occurrences(job, lo, hi)
        if not len(starts):
            return []
        for nodeid in job.nodes:
            node = node_store.get(conn, nodeid)
            windows = parse_quiet_hours(node.quiet_hours) if node is not None else ()
            if not windows:
                continue
            quiet = [
                BusyJob(
                    f"quiet-{n}",
                    schedule.expand_cron(w.cron, lo - w.length_secs, hi),
                    w.length_secs,
                )
                for n, w in enumerate(windows)
            ]
            clashes = find_conflicts(starts, job.length_secs, quiet)
            if clashes:
                first = min(c.start for c in clashes)
                warnings.append(
                    f"runs of this job fall into the quiet hours of node {nodeid} (first at "
                    f"{iso_z(from_epoch(first))}); scavenger mode will stop them"
                )
        return warnings

    # ------------------------------------------------------------------ slots and calendars
    def free_slot(
        self,
        conn: Connection,
        nodeids: Sequence[str],
        length_secs: int,
        not_before: datetime,
        not_after: datetime,
        *,
        now: datetime,
        exclude: str | None = None,
    ) -> datetime | None:
        """The earliest start in [not_before, not_after - length] free on every named node."""
        lo = to_epoch(not_before) + (1 if not_before.microsecond else 0)  # never before not_before
        hi = to_epoch(not_after)
        anchor = max(now, not_before)
        _, win_start, win_end = self._window(anchor)
        if lo >= win_start and hi <= win_end:
            calendars = self._calendars(conn, nodeids, now, anchor, exclude)
        else:  # outside the cached horizon: expand just this window
            live = job_store.on_nodes(conn, nodeids, active_at=not_before, overhead_only=True)
            calendars = [
                BusyIndex(
                    [BusyJob.from_job(j, lo, hi) for j in live if j.id != exclude and n in j.nodes]
                )
                for n in nodeids
            ]
        slot = find_free_slot(
            calendars, length_secs, lo, hi, granularity_secs=SLOT_GRANULARITY_SECS
        )
        return None if slot is None else from_epoch(slot)

    def calendar(
        self, jobs: Sequence[Job], start: datetime, end: datetime
    ) -> schedule.CalendarPage:
        """Planned runs overlapping [start, end] (inclusive), at most `event_cap` of them."""
        return schedule.calendar_runs(jobs, to_epoch(start), to_epoch(end) + 1, self.event_cap)
