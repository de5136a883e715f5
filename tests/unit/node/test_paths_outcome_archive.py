"""Run paths, outcome messages and the archive format."""

from __future__ import annotations

import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leoscope.core.errors import InvalidInput
from leoscope.node.archive import make_archive
from leoscope.node.outcome import outcome_of_exit
from leoscope.node.paths import check_segment, run_relpath
from leoscope.node.runtime.base import EXIT_CODE_UNKNOWN, ExitInfo

RUNID = "f" * 32


def test_run_path_is_the_reference_layout() -> None:
    path = run_relpath("node-1", "exp-1", datetime(2024, 5, 7, 23, 59, tzinfo=UTC), RUNID)
    assert str(path) == f"node-1/exp-1/2024/5/7/{RUNID}"


@pytest.mark.parametrize("bad", ["..", ".", "a/b", "", "$(id)", "a b", "x;rm", "`id`", "é"])
def test_unsafe_ids_never_become_path_segments(bad: str) -> None:
    with pytest.raises(InvalidInput):
        check_segment("jobid", bad)


def test_run_ids_are_uuid_hex() -> None:
    with pytest.raises(InvalidInput):
        run_relpath("n", "j", datetime(2024, 1, 1, tzinfo=UTC), "../../etc")


@pytest.mark.parametrize(
    ("exit", "stopped", "status", "message"),
    [
        (ExitInfo(0), False, "COMPLETE", "Done executing the job."),
        (ExitInfo(3), False, "FAILED", "experiment failed: exit code 3"),
        (ExitInfo(137), False, "FAILED", "experiment failed: killed by signal 9 (exit code 137)"),
        (ExitInfo(137, oom_killed=True), False, "FAILED", "experiment failed: out of memory"),
        (
            ExitInfo(143),
            True,
            "COMPLETE",
            "Done executing the job (stopped at the end of its slot).",
        ),
        (
            ExitInfo(EXIT_CODE_UNKNOWN, error="gone"),
            False,
            "FAILED",
            "experiment failed: exit status unknown: gone",
        ),
    ],
)
def test_outcomes(exit: ExitInfo, stopped: bool, status: str, message: str) -> None:
    result = outcome_of_exit(exit, stopped_by_agent=stopped)
    assert result.status == status
    assert result.message.startswith(message)


def test_archive_has_one_top_folder_and_never_follows_links(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "sub").mkdir(parents=True)
    (run_dir / "a.txt").write_text("a")
    (run_dir / "sub" / "b.csv").write_text("b")
    (run_dir / ".leoscope-process.json").write_text("{}")
    secret = tmp_path / "secret"
    secret.write_text("agent secrets")
    os.symlink(secret, run_dir / "link")
    os.symlink(tmp_path, run_dir / "dirlink")
    target = tmp_path / "archives" / f"{RUNID}.zip"
    archive = make_archive(run_dir, RUNID, target)
    assert archive.size == target.stat().st_size and len(archive.sha256) == 64
    with zipfile.ZipFile(target) as zf:
        names = set(zf.namelist())
        assert names == {
            f"{RUNID}/",
            f"{RUNID}/a.txt",
            f"{RUNID}/sub/b.csv",
            f"{RUNID}/link",
            f"{RUNID}/dirlink",
        }
        assert zf.read(f"{RUNID}/link") == str(secret).encode(), "stored as a link, not followed"
    again = make_archive(run_dir, RUNID, target)
    assert again == archive, "an existing archive is reused (same bytes on redelivery)"
