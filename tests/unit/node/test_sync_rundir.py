"""What the agent accepts from the orchestrator, and what it writes for the experiment."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leoscope.api import leotest_pb2 as pb
from leoscope.core.errors import InvalidInput
from leoscope.node.rundir import executor_config_copy, prepare_run_dir
from leoscope.node.sync import check_listed_job, fingerprint

from .helpers import job_msg

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def good() -> pb.job:
    return job_msg("j1", T0, T0 + timedelta(hours=1), cron="*/5 * * * *")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "x$(touch /tmp/p)"}, "id"),
        ({"id": ".."}, "id"),
        ({"userid": ""}, "userid"),
        ({"start_date": "2030-01-01T00:00:00;rm -rf /"}, "start_date"),
        ({"end_date": "2029-01-01T00:00:00"}, "end_date"),
        ({"length_secs": 0}, "length_secs"),
        ({"schedule": "* * * *"}, "schedule"),
        ({"server": "a b"}, "server"),
    ],
)
def test_unsafe_or_broken_jobs_are_refused(change: dict, field: str) -> None:
    msg = good()
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(InvalidInput) as info:
        check_listed_job(msg)
    assert info.value.field == field


def test_fingerprint_follows_every_listed_field() -> None:
    assert fingerprint(good()) == fingerprint(good())
    changed = good()
    changed.length_secs = 31
    assert fingerprint(changed) != fingerprint(good())


def test_run_dir_files(tmp_path: Path) -> None:
    detail = pb.message_get_job_by_id_response(
        exists=True, id="j1", nodeid="n1", userid="alice", config="docker: {image: x}\n",
        start_date="2030-01-01T00:00:00", end_date="2030-01-01T01:00:00", overhead=True,
    )  # fmt: skip
    run_dir = tmp_path / "run"
    prepare_run_dir(
        run_dir,
        config_text=detail.config,
        summary=good(),
        detail=detail,
        executor_config_text="docker:\n  auth: {username: u, password: hunter2}\n",
    )
    assert (run_dir / "experiment-config.yaml").read_text() == detail.config
    args = json.loads((run_dir / "experiment-args.json").read_text())
    assert args["id"] == "j1" and args["startDate"] == "2030-01-01T00:00:00"
    assert "config" not in args and "type" not in args  # CRON is the default: omitted
    assert "hunter2" not in (run_dir / "executor-config.yaml").read_text()
    assert (run_dir / "executor.stdout").exists() and (run_dir / "executor.stderr").exists()


def test_executor_config_without_secrets_is_copied_verbatim() -> None:
    text = "# my node\ndocker:\n  execute: {network: leotest-net}\n"
    assert executor_config_copy(text) == text
