"""The uploader's pure parts: sizes and settings, what a failure means, the durable queue and
the outbox's answer to a report, snapshots of a run directory, the spool's measure."""

from __future__ import annotations

import os
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from leoscope.artifacts import (
    BlobConflict,
    ChecksumMismatch,
    SignedUrlExpired,
    TransferFailed,
    TransferUnavailable,
)
from leoscope.core.errors import InvalidInput
from leoscope.core.timeutil import to_epoch
from leoscope.node.link import LinkDown, Refused
from leoscope.node.records import RunRecord
from leoscope.node.settings import DEFAULT_SPOOL_BUDGET, resolve_settings
from leoscope.node.sizes import format_size, parse_size, parse_size_or_off
from leoscope.node.snapshots import manifest, sync_interval, write_snapshot
from leoscope.node.spool import disk_usage
from leoscope.node.upload_errors import (
    ORCHESTRATOR_UNREACHABLE,
    RUN_UNKNOWN,
    STORE_UNREACHABLE,
    SignRefused,
    classify,
)
from leoscope.node.upload_queue import Stage, UploadEntry, UploadQueue

from .helpers import NODE, FakeClock, job_msg, open_state

T0 = datetime(2030, 1, 1, tzinfo=UTC)
RUNID = "c" * 32


# ---------------------------------------------------------------- sizes and settings


@pytest.mark.parametrize(
    ("text", "size"),
    [("4096", 4096), ("10G", 10 * 1024**3), ("1.5MiB", 1572864), ("500 mb", 500 * 1024**2)],
)
def test_sizes_as_operators_write_them(text: str, size: int) -> None:
    assert parse_size("spool_budget", text) == size


@pytest.mark.parametrize("text", ["", "ten", "-5", "0", "5X", "1e9"])
def test_a_bad_size_names_the_setting(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_size("spool_budget", text)
    assert caught.value.field == "spool_budget"


def test_off_means_no_budget_and_sizes_print_for_people() -> None:
    assert parse_size_or_off("spool_budget", "off") is None
    assert [format_size(n) for n in (512, 1536, 100_000, 10 * 1024**3)] == [
        "512 B",
        "1.5 KiB",
        "97.7 KiB",
        "10.0 GiB",
    ]


def test_results_settings_resolve_from_the_environment() -> None:
    required = {"orchestrator": "o:1", "node_id": "n", "token": "t", "data_dir": "/d"}
    default = resolve_settings(required, env={})
    assert (default.spool_budget, default.keep_uploaded) == (DEFAULT_SPOOL_BUDGET, 0.0)
    env = {"LEOSCOPE_SPOOL_BUDGET": "500M", "LEOSCOPE_KEEP_UPLOADED": "3600"}
    chosen = resolve_settings(required, env=env)
    assert (chosen.spool_budget, chosen.keep_uploaded) == (500 * 1024**2, 3600.0)
    assert resolve_settings(required, env={"LEOSCOPE_SPOOL_BUDGET": "off"}).spool_budget is None
    with pytest.raises(InvalidInput) as caught:
        resolve_settings(required, env={"LEOSCOPE_KEEP_UPLOADED": "-1"})
    assert caught.value.field == "keep_uploaded"


# ---------------------------------------------------------------- what a failure means


@pytest.mark.parametrize(
    ("error", "kind", "headline"),
    [
        (SignRefused("permission denied: userid=n3 and role=NODE"), "permanent", None),
        (SignRefused("artifact 'x' already exists with different content"), "conflict", None),
        (SignRefused("Azure Blob Storage is unreachable: refused"), "transient", STORE_UNREACHABLE),
        (SignRefused("S3 endpoint failed: 503"), "transient", STORE_UNREACHABLE),
        (SignRefused("run abc not found"), "transient", RUN_UNKNOWN),
        (LinkDown("get_upload_url: UNAVAILABLE"), "transient", ORCHESTRATOR_UNREACHABLE),
        (Refused("x", grpc.StatusCode.UNIMPLEMENTED), "unsupported", None),
        (TransferUnavailable("stage block 1 failed"), "transient", STORE_UNREACHABLE),
        (SignedUrlExpired("expired"), "transient", None),
        (TransferFailed("HTTP 400"), "transient", None),
        (BlobConflict("x"), "conflict", None),
        (ChecksumMismatch("sha256", "a", "b"), "permanent", None),
        (FileNotFoundError("gone"), "permanent", None),
        (RuntimeError("surprise"), "transient", None),
    ],
)
def test_each_failure_has_a_meaning(error: BaseException, kind: str, headline: str | None) -> None:
    problem = classify(error)
    assert problem.kind == kind
    if headline is not None:
        assert problem.headline == headline
    assert str(error) in problem.reason or problem.kind == "unsupported"


def test_only_the_orchestrator_can_clear_some_problems_so_they_are_not_reported() -> None:
    assert not classify(LinkDown("down")).worth_reporting
    assert not classify(SignRefused("run abc not found")).worth_reporting
    assert classify(TransferUnavailable("down")).worth_reporting


# ---------------------------------------------------------------- the queue


def run_record() -> RunRecord:
    msg = job_msg("j1", T0, T0 + timedelta(hours=1))
    slot = to_epoch(T0)
    return RunRecord(
        runid=RUNID,
        jobid="j1",
        userid="alice",
        slot=slot,
        deadline=slot + 30.0,
        start_time=slot,
        run_relpath=f"{NODE}/j1/2030/1/1/{RUNID}",
        job_blob=msg.SerializeToString(),
    )


def test_the_queue_keeps_one_row_per_run_and_reads_the_outbox_answer(tmp_path: Path) -> None:
    clock = FakeClock(to_epoch(T0))
    state = open_state(tmp_path, clock)
    queue = UploadQueue.open(tmp_path / "agent.sqlite3", clock.time)
    first = queue.add(UploadEntry(RUNID, "/a.zip", "a" * 64, 10))
    again = queue.add(UploadEntry(RUNID, "/b.zip", "b" * 64, 20))
    assert again == first and first.stage is Stage.PENDING and first.created_at == clock.time()
    assert queue.update(RUNID, stage=Stage.REPORTED, report_seq=2).stage is Stage.REPORTED
    assert queue.entries(Stage.PENDING) == [] and len(queue.entries()) == 1

    state.create_run(run_record())
    state.update_run(RUNID, status="UPLOAD_PENDING", message="queued")
    state.update_run(RUNID, status="COMPLETE", message="done")
    assert queue.report_fate(RUNID, 2) == "queued"
    row = state.next_outbox()
    state.ack(row.id)  # seq 1
    row = state.next_outbox()
    state.reject(row.id, "update_run: artifact 'x' not found")
    assert queue.report_fate(RUNID, 2) == "refused:update_run: artifact 'x' not found"
    state._conn.execute("DELETE FROM outbox")
    assert queue.report_fate(RUNID, 2) == "accepted"
    queue.remove(RUNID)
    assert queue.get(RUNID) is None
    queue.close()
    state.close()


# ---------------------------------------------------------------- snapshots and the spool


def test_a_snapshot_holds_the_run_directory_and_the_output_so_far(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "sub").mkdir(parents=True)
    (run_dir / "result.txt").write_text("1\n")
    (run_dir / "sub" / "deep.bin").write_bytes(b"\x00" * 10)
    (run_dir / ".leoscope-process.json").write_text("{}")  # the runtime's, not the experiment's
    (run_dir / "container.stdout").write_text("stale")  # the process runtime writes here
    (run_dir / "link").symlink_to("/etc/passwd")  # never followed
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "out").write_text("fresh output\n")
    extra = {"container.stdout": logs / "out"}
    target = tmp_path / "snap.zip"
    write_snapshot(run_dir, RUNID, extra, target)
    with zipfile.ZipFile(target) as zf:
        names = sorted(zf.namelist())
        assert names == sorted(
            [
                f"{RUNID}/",
                f"{RUNID}/result.txt",
                f"{RUNID}/sub/deep.bin",
                f"{RUNID}/container.stdout",
            ]
        )
        assert zf.read(f"{RUNID}/container.stdout") == b"fresh output\n"
    before = manifest(run_dir, extra)
    assert manifest(run_dir, extra) == before, "unchanged: no new snapshot"
    with open(run_dir / "result.txt", "a") as f:
        f.write("2\n")
    assert manifest(run_dir, extra) != before


def test_the_sync_interval_comes_from_the_experiment_config() -> None:
    assert sync_interval("docker: {image: x}\nartifacts: {sync_interval: 30}\n") == 30
    assert sync_interval("docker: {image: x}\n") is None
    assert sync_interval("not: [valid") is None


def test_the_spool_counts_a_hard_linked_archive_once(tmp_path: Path) -> None:
    (tmp_path / "archives").mkdir()
    (tmp_path / "uploads").mkdir()
    (tmp_path / "archives" / "a.zip").write_bytes(b"x" * 1000)
    os.link(tmp_path / "archives" / "a.zip", tmp_path / "uploads" / "a.zip")
    (tmp_path / "uploads" / "b.zip").write_bytes(b"y" * 10)
    roots = (tmp_path / "runs", tmp_path / "archives", tmp_path / "uploads")
    assert disk_usage(roots) == 1010
