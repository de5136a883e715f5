"""The printer, the row builders (the JSON contract) and the calendar timeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from leoscope.cli.output import Column, Printer
from leoscope.cli.rows import (
    JOB_COLUMNS,
    config_document,
    flatten,
    job_row,
    node_row,
    run_row,
    user_row,
)
from leoscope.cli.timeline import BUSY, FREE, timeline
from leoscope.client import BlobSettings, GlobalConfig, Job, JobType, Node, Role, Run, User

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
JOB = Job(
    id="ping",
    nodeid="lab",
    type=JobType.ATQ,
    start=NOW + timedelta(hours=2),
    end=NOW + timedelta(days=1),
    length_secs=300,
    userid="alice",
    config="docker:\n  image: x\n",
)


def test_job_row_keys_are_the_json_contract() -> None:
    assert list(job_row(JOB)) == [
        "id",
        "nodeid",
        "userid",
        "type",
        "schedule",
        "timezone",
        "start",
        "end",
        "length_secs",
        "overhead",
        "server",
        "trigger",
        "trigger_wait_secs",
    ]
    row = job_row(JOB, with_config=True)
    assert row["config"] == JOB.config and row["type"] == "atq"
    assert row["start"] == "2026-11-29T12:00:00Z"


def test_other_rows_keys() -> None:
    assert list(user_row(User("a", "A", Role.USER_PRIV, "t"))) == ["id", "name", "role", "team"]
    assert user_row(User("a", role=Role.USER_PRIV))["role"] == "USER_PRIV"
    node = node_row(Node("n", coords="1,2"))
    assert node["last_active"] is None and node["scavenger_mode_active"] is False
    assert list(node)[:3] == ["nodeid", "name", "description"]
    run = Run("r", "j", "n", "u", NOW, NOW + timedelta(minutes=1), NOW, "COMPLETE")
    assert run_row(run)["end_time"] == "2026-11-29T10:01:00Z"
    assert "blob_url" in run_row(run) and "seq" in run_row(run)


def test_config_is_masked_unless_revealed() -> None:
    config = GlobalConfig(blob=BlobSettings("AccountKey=x", "c", "jobs/"), weather_apikey="k")
    masked = config_document(config, reveal=False)
    assert masked["datastore"]["blob"]["connectionString"] == "********"
    assert masked["weather"]["apikey"] == "********"
    assert masked["datastore"]["blob"]["container"] == "c"
    assert config_document(config, reveal=True)["weather"]["apikey"] == "k"
    assert flatten(masked)["datastore.blob.artifactPath"] == "jobs/"


def test_json_prints_full_rows(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [job_row(JOB)]
    Printer("json", NOW).rows(rows, JOB_COLUMNS, "No jobs.")
    assert json.loads(capsys.readouterr().out) == rows
    Printer("json", NOW).rows([], JOB_COLUMNS, "No jobs.")
    assert json.loads(capsys.readouterr().out) == []


def test_yaml_prints_full_rows(capsys: pytest.CaptureFixture[str]) -> None:
    row = job_row(JOB, with_config=True)
    Printer("yaml", NOW).item(row)
    assert yaml.safe_load(capsys.readouterr().out) == row


def test_table_has_stable_columns_and_readable_cells(capsys: pytest.CaptureFixture[str]) -> None:
    Printer("table", NOW).rows([job_row(JOB)], JOB_COLUMNS, "No jobs.")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [c.header for c in JOB_COLUMNS]
    cells = lines[2].split()
    assert cells[:4] == ["ping", "alice", "lab", "atq"]
    assert "2026-11-29T12:00:00Z (in 2h)" in lines[2]
    assert cells[-2:] == ["5m", "yes"]
    assert "\x1b[" not in "".join(lines)  # no colour off a terminal


def test_table_never_wraps_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    long = {"a": "x" * 300, "b": "y"}
    Printer("table", NOW).rows([long], [Column("a", "A"), Column("b", "B")], "")
    assert len(capsys.readouterr().out.splitlines()) == 3  # header, rule, one row


def test_notes_go_to_stderr_in_structured_modes(capsys: pytest.CaptureFixture[str]) -> None:
    Printer("json", NOW).note("hello")
    captured = capsys.readouterr()
    assert captured.out == "" and "hello" in captured.err
    Printer("table", NOW).note("hello")
    assert "hello" in capsys.readouterr().out
    Printer("table", NOW).rows([], JOB_COLUMNS, "No jobs.")
    assert capsys.readouterr().out.strip() == "No jobs."


def test_item_table_shows_multiline_values(capsys: pytest.CaptureFixture[str]) -> None:
    Printer("table", NOW).item({"config": "a: 1\nb: 2\n", "empty": None})
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["config", "a:", "1"] and out[1].split() == ["b:", "2"]
    assert out[2].split() == ["empty", "-"]


def test_timeline_marks_every_overlapped_cell() -> None:
    start = 0
    lines = timeline([("a", [(0, 60)]), ("bb", [(590, 610), (1140, 1200)])], start, 1200, 20)
    axis, a, bb = lines
    assert axis.startswith("UTC")
    assert a == "a    " + BUSY + FREE * 19
    # 590..610 touches cells 9 and 10 (60 s each); 1140..1200 is the last cell.
    assert bb == "bb   " + FREE * 9 + BUSY * 2 + FREE * 8 + BUSY


def test_timeline_clips_and_ignores_outside_runs() -> None:
    lines = timeline([("j", [(-100, 30), (1200, 1300), (2000, 3000)])], 0, 1200, 10)
    assert lines[1] == "j    " + BUSY + FREE * 9
    assert timeline([], 10, 10) == []
