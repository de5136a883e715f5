"""The records the agent keeps about jobs and runs (stored by state.py).

A run's local life is a sequence of phases; each phase is persisted before the work it names
starts, so that after a crash `reconcile` knows where to pick the run up:

    PENDING      claimed by the timer; gates are being consulted
    DEPLOYING    run directory and image being prepared
    STARTING     the container is being created and started
    RUNNING      the container runs (container_id known); budget enforced
    COLLECTING   the container ended (exit code and outcome recorded); logs being saved
    ARCHIVING    the run directory is being zipped
    DELIVERING   the archive is being handed to the artifact store
    UPLOAD_PENDING  delivery was handed over to someone else (issue 6's uploader)
    DONE         final status recorded; nothing left to do

`status` is the last status REPORTED (DEPLOYING, EXECUTING, ... COMPLETE), which is what the
orchestrator sees; `outcome_status` is the final status decided when the container ended and
reported once the archive is delivered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from leoscope.api import convert
from leoscope.api import leotest_pb2 as pb
from leoscope.core.model import FINAL_STATUSES, Job

SERVER_RUN_SUFFIX = "_server"
"""Run id suffix of the server side of a paired run (wire contract §6.8)."""


class RunPhase(StrEnum):
    PENDING = "pending"
    DEPLOYING = "deploying"
    STARTING = "starting"
    RUNNING = "running"
    COLLECTING = "collecting"
    ARCHIVING = "archiving"
    DELIVERING = "delivering"
    UPLOAD_PENDING = "upload_pending"
    DONE = "done"


@dataclass(frozen=True)
class StoredJob:
    """A job as this node knows it: the listed summary, and its detail (config) once fetched.

    `floor` is the timer's watermark: slots at or before it are never fired or marked missed.
    `first_seen` is when this node first listed the job, `learned_at` when it first listed
    the current definition (fingerprint).
    `role` is "client" for the job's own node and "server" where this node is only the paired
    server (those runs are started by tasks, not by the timer).
    """

    jobid: str
    summary: pb.job
    fingerprint: str
    role: str
    detail: pb.message_get_job_by_id_response | None
    detail_fingerprint: str | None
    first_seen: float
    learned_at: float
    floor: int

    @property
    def job(self) -> Job:
        """The core model of the job, with its config when the detail has been fetched."""
        job = convert.job_from_pb(self.summary)
        if self.detail is not None:
            job = job.with_changes(config=self.detail.config)
        return job

    @property
    def detail_is_current(self) -> bool:
        return self.detail is not None and self.detail_fingerprint == self.fingerprint


@dataclass(frozen=True)
class RunRecord:
    """One run of a job on this node, as persisted. Times are wall-clock epoch seconds."""

    runid: str
    jobid: str
    userid: str
    slot: int
    deadline: float
    start_time: float
    run_relpath: str
    job_blob: bytes
    detail_blob: bytes | None = None
    phase: RunPhase = RunPhase.PENDING
    status: str = ""
    status_message: str = ""
    seq: int = 0
    end_time: float | None = None
    container_id: str | None = None
    container_name: str | None = None
    started_at: float | None = None
    exit_code: int | None = None
    oom_killed: bool = False
    outcome_status: str | None = None
    outcome_message: str | None = None
    abort_status: str | None = None
    abort_reason: str | None = None
    archive_sha256: str | None = None
    archive_size: int | None = None
    blob_name: str | None = None
    blob_url: str = ""
    trigger_values: str | None = None
    created_at: float = 0.0

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def job_message(self) -> pb.job:
        return pb.job.FromString(self.job_blob)

    @property
    def detail(self) -> pb.message_get_job_by_id_response | None:
        if self.detail_blob is None:
            return None
        return pb.message_get_job_by_id_response.FromString(self.detail_blob)

    @property
    def job(self) -> Job:
        """The job as it was when the run was claimed (a later edit or delete does not matter)."""
        job = convert.job_from_pb(self.job_message)
        detail = self.detail
        return job.with_changes(config=detail.config) if detail is not None else job

    @property
    def is_server_side(self) -> bool:
        """The server side of a paired run (`<client runid>_server`, started by a task)."""
        return self.runid.endswith(SERVER_RUN_SUFFIX)

    @property
    def filed_nodeid(self) -> str | None:
        """For a server-side run, the CLIENT's node id: such a run is reported and archived
        under the client's node (wire contract §6.7), the first segment of its run directory.
        None for this node's own runs."""
        return self.run_relpath.split("/", 1)[0] if self.is_server_side else None

    def with_changes(self, **changes: object) -> RunRecord:
        return replace(self, **changes)  # type: ignore[arg-type]
