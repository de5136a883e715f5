"""Every command and its main options against a real orchestrator (one per module).

Tables are checked for their stable columns, `-o json` for the full objects. Tests use their
own ids, so they share the orchestrator without interfering.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from leoscope.cli.main import app
from leoscope.client import Client, Role, Run, RunStatus
from leoscope.core.timeutil import iso_z, parse_time, utcnow
from leoscope.settings import read_config, save_profile
from tests.harness import EXPERIMENT_CONFIG, RunningOrchestrator


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@dataclass
class World:
    orch: RunningOrchestrator
    config: Path
    files: Path
    admin: Client
    user: str
    user_token: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("cli")
    orch = RunningOrchestrator(root / "orch")
    admin = Client(orch.address, "admin", orch.admin_token, insecure=True)
    alice = admin.register_user(uid("alice"), name="Alice", team="lab")
    config = root / "config.toml"
    common = {"host": orch.address, "insecure": True}
    save_profile("admin", {**common, "user": "admin", "token": orch.admin_token}, path=config)
    save_profile("user", {**common, "user": alice.user.id, "token": alice.token}, path=config)
    files = root / "files"
    files.mkdir()
    (files / "exp.yaml").write_text(EXPERIMENT_CONFIG)
    yield World(orch, config, files, admin, alice.user.id, alice.token)
    admin.close()
    orch.stop()


Cli = Callable[..., Result]


@pytest.fixture
def cli(world: World, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run `leoscope ARGS` with the user's profile (or the admin's, or none); `input` is stdin."""
    for key in list(os.environ):
        if key.startswith("LEOSCOPE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LEOSCOPE_CONFIG", str(world.config))
    monkeypatch.chdir(world.files)

    def run(
        *args: str,
        as_admin: bool = False,
        profile: str | None = "user",
        input: str | None = None,
        code: int = 0,
    ) -> Result:
        chosen = "admin" if as_admin else profile
        result = CliRunner().invoke(
            app, [*(["--profile", chosen] if chosen else []), *args], input=input
        )
        assert result.exit_code == code, f"leoscope {' '.join(args)}: {result.output}"
        return result

    return run


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def header(result: Result) -> list[str]:
    return result.stdout.splitlines()[0].split()


def new_node(world: World) -> str:
    nodeid = uid("node")
    world.admin.register_node(nodeid, coords="47.6,-122.3", location=uid("loc"))
    return nodeid


def in_hours(hours: float) -> str:
    moment = (utcnow() + timedelta(hours=hours)).replace(second=0, microsecond=0)
    return iso_z(moment)


# ---------------------------------------------------------------------------- users


def test_user_commands(cli: Cli, world: World) -> None:
    bob = uid("bob")
    registered = cli("user", "register", bob, "--name", "Bob", "--role", "USER_PRIV", as_admin=True)
    assert "access token: " in registered.stdout and "won't be shown again" in registered.stdout
    token = registered.stdout.split("access token: ", 1)[1].split()[0]
    assert len(token) == 64

    shown = as_json(cli("user", "show", bob, "-o", "json", as_admin=True))
    assert shown == {"id": bob, "name": "Bob", "role": "USER_PRIV", "team": ""}
    listed = cli("user", "list", as_admin=True)
    assert header(listed) == ["USER", "NAME", "ROLE", "TEAM"]
    assert any(line.split()[:3] == [bob, "Bob", "USER_PRIV"] for line in listed.stdout.splitlines())
    users = as_json(cli("user", "list", "-o", "json", as_admin=True))
    assert {"id": bob, "name": "Bob", "role": "USER_PRIV", "team": ""} in users

    updated = as_json(cli("user", "update", bob, "--team", "t2", "-o", "json", as_admin=True))
    assert updated["team"] == "t2" and updated["role"] == "USER_PRIV"
    cli("user", "delete", bob, as_admin=True)
    gone = cli("user", "show", bob, as_admin=True, code=1)
    assert "does not exist" in gone.stderr and "leoscope user list" in gone.stderr


def test_register_quiet_and_json_show_the_token_once(cli: Cli) -> None:
    quiet = cli("user", "register", uid("q"), "--quiet", as_admin=True)
    assert len(quiet.stdout.strip()) == 64 and quiet.stdout.count("\n") == 1
    carol = uid("carol")
    data = cli("user", "register", carol, "-o", "json", as_admin=True)
    document = as_json(data)
    assert document["user"]["id"] == carol and len(document["token"]) == 64
    assert "won't be shown again" in data.stderr  # notes stay off stdout in JSON mode
    assert document["token"] not in cli("user", "show", carol, as_admin=True).stdout


def test_users_may_not_administer(cli: Cli) -> None:
    refused = cli("user", "register", uid("x"), code=1)
    assert refused.stderr.startswith("error: permission denied")
    assert refused.stderr.count("\n") == 1


# ---------------------------------------------------------------------------- nodes


def test_node_commands(cli: Cli, world: World) -> None:
    nodeid, location = uid("lab"), uid("loc")
    registered = cli(
        "node", "register", nodeid, "--coords", "10.5,20.25", "--location", location,
        "--provider", "oneweb", "--name", "Lab", "-o", "json", as_admin=True,
    )  # fmt: skip
    document = as_json(registered)
    assert document["node"]["nodeid"] == nodeid and len(document["token"]) == 64
    assert "won't be shown again" in registered.stderr
    assert list(document["node"]) == [
        "nodeid", "name", "description", "location", "provider", "coords", "public_ip",
        "last_active", "scavenger_mode_active", "altitude_m", "min_elevation_deg", "quiet_hours",
    ]  # fmt: skip

    listed = cli("node", "list", "--location", location)
    assert header(listed) == ["NODE", "NAME", "LOCATION", "PROVIDER", "COORDS", "LAST", "SEEN", "SCAVENGER"]  # fmt: skip
    assert listed.stdout.splitlines()[2].split() == [
        nodeid, "Lab", location, "oneweb", "10.5,20.25", "-", "no",
    ]  # fmt: skip
    assert as_json(cli("node", "list", "--location", location, "--provider", "starlink", "-o", "json")) == []  # fmt: skip
    assert cli("node", "list", "--location", location, "--active").stdout.strip() == "No nodes."

    updated = as_json(
        cli("node", "update", nodeid, "--public-ip", "192.0.2.9", "--quiet-hours", "0 18 * * *@60",
            "-o", "json", as_admin=True)
    )  # fmt: skip
    assert updated["public_ip"] == "192.0.2.9" and updated["quiet_hours"] == "0 18 * * *@60"
    bad = cli("node", "update", nodeid, "--public-ip", "nope", as_admin=True, code=1)
    assert "public_ip (--public-ip)" in bad.stderr
    shown = cli("node", "show", nodeid)
    assert "public IP            192.0.2.9" in shown.stdout

    cli("node", "delete", nodeid, "--with-jobs", as_admin=True)
    assert "does not exist" in cli("node", "show", nodeid, code=1).stderr


def test_scavenger_mode(cli: Cli, world: World) -> None:
    nodeid = new_node(world)
    assert cli("node", "scavenger", "status", nodeid).stdout.strip() == "scavenger mode is off"
    assert "on for node" in cli("node", "scavenger", "on", nodeid, as_admin=True).stdout
    status = as_json(cli("node", "scavenger", "status", nodeid, "-o", "json"))
    assert status == {"nodeid": nodeid, "scavenger_mode_active": True}
    assert "permission denied" in cli("node", "scavenger", "off", nodeid, code=1).stderr
    cli("node", "scavenger", "off", nodeid, as_admin=True)
    assert as_json(cli("node", "show", nodeid, "-o", "json"))["scavenger_mode_active"] is False


# ---------------------------------------------------------------------------- jobs


def test_schedule_one_shot(cli: Cli, world: World) -> None:
    nodeid = new_node(world)
    at = in_hours(3)
    dry = as_json(
        cli("job", "schedule", "--id", "once", "--node", nodeid, "--at", at, "--length", "5m",
            "--config", "exp.yaml", "--dry-run", "-o", "json")
    )  # fmt: skip
    assert dry == {
        "jobid": "once",
        "dry_run": True,
        "message": "dry run: job is valid and fits the calendar",
        "next_runs": [at],
        "warnings": [],
    }
    assert as_json(cli("job", "list", "--node", nodeid, "-o", "json")) == []

    done = cli("job", "schedule", "--node", nodeid, "--at", at, "--length", "90s", "-c", "exp.yaml")
    note = done.stdout.splitlines()[0]
    assert note.startswith("No --id given: the job id is ")
    jobid = note.rsplit(" ", 1)[1]
    assert jobid.startswith(nodeid + "-")
    assert f"Job {jobid} scheduled on {nodeid}." in done.stdout
    assert f"  {at} (in 2h" in done.stdout  # shown with the relative form

    job = as_json(cli("job", "show", jobid, "-o", "json"))
    assert job["config"] == EXPERIMENT_CONFIG
    assert (job["type"], job["start"], job["length_secs"], job["userid"]) == (
        "atq",
        at,
        90,
        world.user,
    )
    assert parse_time(job["end"]) == parse_time(at) + timedelta(seconds=90, days=1)


def test_schedule_cron_with_options_and_yaml(cli: Cli, world: World) -> None:
    nodeid = new_node(world)
    jobid = uid("cron")
    result = cli(
        "job", "schedule", "--id", jobid, "--node", nodeid, "--cron", "*/30 * * * *",
        "--start", "tomorrow 00:00", "--end", "tomorrow 06:00", "--length", "10m",
        "--timezone", "Europe/Paris", "--trigger", "satellite_elevation > 30",
        "--trigger-wait", "1m", "--no-overhead", "-o", "yaml", "--config", "exp.yaml",
    )  # fmt: skip
    assert yaml.safe_load(result.stdout)["jobid"] == jobid
    job = as_json(cli("job", "show", jobid, "-o", "json"))
    assert (job["schedule"], job["timezone"], job["overhead"]) == ("*/30 * * * *", "Europe/Paris", False)  # fmt: skip
    assert (job["trigger"], job["trigger_wait_secs"]) == ("satellite_elevation > 30", 60)

    table = cli("job", "list", "--node", nodeid)
    assert header(table) == ["JOB", "OWNER", "NODE", "TYPE", "CRON", "START", "END", "LENGTH", "OVERHEAD"]  # fmt: skip
    row = table.stdout.splitlines()[2]
    assert row.split()[:4] == [jobid, world.user, nodeid, "cron"]
    assert "*/30 * * * *" in row and row.split()[-2:] == ["10m", "no"]


def test_conflict_names_the_job_and_the_time(cli: Cli, world: World) -> None:
    nodeid = new_node(world)
    at = in_hours(5)
    first = uid("first")
    cli(
        "job",
        "schedule",
        "--id",
        first,
        "--node",
        nodeid,
        "--at",
        at,
        "-l",
        "10m",
        "-c",
        "exp.yaml",
    )
    clash = cli(
        "job", "schedule", "--id", uid("second"), "--node", nodeid, "--at", at, "-l", "5m",
        "-c", "exp.yaml", "--dry-run", code=1,
    )  # fmt: skip
    (line,) = clash.stderr.strip().splitlines()
    end = iso_z(parse_time(at) + timedelta(minutes=5))
    assert f"job {first} on {nodeid} at {at}..{end}" in line
    assert f"leoscope node free-slot {nodeid}" in line
    duplicate = cli("job", "schedule", "--id", first, "--node", nodeid, "--at", in_hours(30),
                    "-l", "1m", "-c", "exp.yaml", code=1)  # fmt: skip
    assert "exists" in duplicate.stderr


def test_server_side_validation_points_at_the_flag(cli: Cli, world: World) -> None:
    nodeid = new_node(world)
    base = ["job", "schedule", "--node", nodeid, "-l", "1m", "-c", "exp.yaml", "--dry-run"]
    ghost = cli(*base, "--at", "+1h", "--server", uid("ghost"), code=1)
    assert "invalid server (--server)" in ghost.stderr
    past = cli(*base, "--at", "-2h", code=1)
    assert "invalid start_date (--at/--start)" in past.stderr
    cron = cli(*base, "--cron", "61 * * * *", "--end", "+1d", code=1)
    assert "(--cron)" in cron.stderr
    trigger = cli(*base, "--at", "+1h", "--trigger", "satelite_elevation > 3", code=1)
    assert "(--trigger)" in trigger.stderr


def test_job_list_filters(cli: Cli, world: World) -> None:
    nodeid = new_node(world)
    mine = uid("mine")
    cli("job", "schedule", "--id", mine, "--node", nodeid, "--at", in_hours(7), "-l", "1m", "-c", "exp.yaml")  # fmt: skip
    theirs = uid("theirs")
    cli("job", "schedule", "--id", theirs, "--node", nodeid, "--at", in_hours(8), "-l", "1m", "-c", "exp.yaml", as_admin=True)  # fmt: skip
    ids = lambda result: [j["id"] for j in as_json(result)]  # noqa: E731
    assert mine in ids(cli("job", "list", "-o", "json"))
    assert theirs not in ids(cli("job", "list", "--mine", "-o", "json"))
    assert sorted(ids(cli("job", "list", "--node", nodeid, "-o", "json"))) == sorted([mine, theirs])
    assert ids(cli("job", "list", "--node", nodeid, "--user", "admin", "-o", "json")) == [theirs]
    by_admin = ids(cli("job", "list", "--user", world.user, "-o", "json", as_admin=True))
    assert by_admin == ids(cli("job", "list", "--mine", "-o", "json"))
    assert {mine, theirs} <= set(ids(cli("job", "list", "-o", "json", as_admin=True)))
    assert cli("job", "list", "--node", uid("empty")).stdout.strip() == "No jobs."
    assert "permission denied" in cli("job", "list", "--user", "admin", code=1).stderr


def test_reschedule_modify_and_delete(cli: Cli, world: World) -> None:
    nodeid = new_node(world)
    base = parse_time(in_hours(24))
    once, blocker = uid("once"), uid("blocker")
    cli("job", "schedule", "--id", blocker, "--node", nodeid, "--at", iso_z(base), "-l", "1h", "-c", "exp.yaml")  # fmt: skip
    cli("job", "schedule", "--id", once, "--node", nodeid, "--at", iso_z(base + timedelta(hours=3)),
        "-l", "30m", "--end", iso_z(base + timedelta(hours=6)), "-c", "exp.yaml")  # fmt: skip
    moved = as_json(cli("job", "reschedule", once, "--from", iso_z(base), "-o", "json"))
    assert moved == {"jobid": once, "start": iso_z(base + timedelta(hours=1))}
    text = cli("job", "reschedule", once, "--from", iso_z(base + timedelta(hours=2))).stdout
    assert f"Job {once} now starts at {iso_z(base + timedelta(hours=2))} (in " in text
    never_past = cli("job", "reschedule", once, "--from", "-3h", "-o", "json")
    assert "--from is in the past" in never_past.stderr
    assert parse_time(as_json(never_past)["start"]) >= utcnow() - timedelta(minutes=1)
    nowhere = cli("job", "reschedule", once, "--from", iso_z(base), "--to",
                  iso_z(base + timedelta(minutes=70)), code=1)  # fmt: skip
    assert "empty slot not found" in nowhere.stderr

    modified = as_json(cli("job", "modify", once, "--length", "45m", "--trigger", "", "-o", "json"))
    assert modified["length_secs"] == 2700 and modified["trigger"] is None
    clash = cli("job", "modify", once, "--at", iso_z(base + timedelta(minutes=30)), code=1)
    assert f"job {blocker} on {nodeid}" in clash.stderr

    cli("job", "delete", once)
    assert "not found" in cli("job", "show", once, code=1).stderr
    refused = cli("job", "delete", "--node", nodeid, input="n\n", as_admin=True, code=2)
    assert "nothing was deleted" in refused.stderr
    assert "Delete every job on node" in refused.stdout
    confirmed = cli("job", "delete", "--node", nodeid, input="y\n", as_admin=True)
    assert f"deleted 1 job on node {nodeid}" in confirmed.stdout
    assert "deleted 0 jobs" in cli("job", "delete", "--node", nodeid, "--yes", as_admin=True).stdout


# ---------------------------------------------------------------------------- calendar, slots


def test_calendar_table_timeline_and_json(cli: Cli, world: World) -> None:
    nodeid = new_node(world)
    day = (utcnow() + timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    hourly = uid("hourly")
    cli("job", "schedule", "--id", hourly, "--node", nodeid, "--cron", "0 */2 * * *",
        "--start", iso_z(day), "--end", iso_z(day + timedelta(days=1)), "-l", "30m", "-c", "exp.yaml")  # fmt: skip
    window = ["--from", iso_z(day), "--to", iso_z(day + timedelta(hours=6))]
    table = cli("node", "calendar", nodeid, *window, "--width", "24")
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["START", "END", "JOB", "TYPE", "LENGTH", "OVERHEAD"]
    assert len([line for line in lines if hourly in line and "cron" in line]) == 4  # 0,2,4,6 h
    lane = next(line for line in lines if line.startswith(hourly + " "))
    assert lane.split()[1] == "██······██······██······"  # 30 of every 120 minutes
    assert any(line.startswith("UTC") and "00:00" in line for line in lines)

    document = as_json(cli("node", "calendar", nodeid, *window, "-o", "json"))
    assert (document["nodeid"], document["truncated"]) == (nodeid, False)
    assert document["from"] == iso_z(day)
    assert [e["start"] for e in document["events"]] == [
        iso_z(day + timedelta(hours=h)) for h in (0, 2, 4, 6)
    ]
    assert document["events"][0] == {
        "jobid": hourly,
        "nodeid": nodeid,
        "start": iso_z(day),
        "end": iso_z(day + timedelta(minutes=30)),
        "type": "cron",
        "length_secs": 1800,
        "overhead": True,
        "schedule": "0 */2 * * *",
        "trigger": None,
        "server": None,
    }
    empty = cli("node", "calendar", nodeid, "--from", iso_z(day - timedelta(hours=3)), "--to",
                iso_z(day - timedelta(hours=1)))  # fmt: skip
    assert empty.stdout.strip() == f"No runs planned on {nodeid} in this window."

    slots = cli("node", "free-slot", nodeid, "--length", "1h", *window)
    assert header(slots) == ["NODE", "FOUND", "START", "END"]
    slot = as_json(cli("node", "free-slot", nodeid, "--length", "1h", *window, "-o", "json"))
    assert slot == [
        {
            "nodeid": nodeid,
            "found": True,
            "start": iso_z(day + timedelta(minutes=30)),
            "end": iso_z(day + timedelta(minutes=90)),
        }
    ]
    none = as_json(cli("node", "free-slot", nodeid, "-l", "2h", *window, "-o", "json"))
    assert none == [{"nodeid": nodeid, "found": False, "start": None, "end": None}]
    location = as_json(cli("node", "show", nodeid, "-o", "json"))["location"]
    by_place = as_json(cli("node", "free-slot", "--location", location, "-l", "1h", *window, "-o", "json"))  # fmt: skip
    assert by_place == slot


# ---------------------------------------------------------------------------- runs


def test_run_list_and_show(cli: Cli, world: World) -> None:
    nodeid = uid("runner")
    token = world.admin.register_node(nodeid, coords="1,1").token
    jobid = uid("job")
    cli("job", "schedule", "--id", jobid, "--node", nodeid, "--at", in_hours(9), "-l", "1m", "-c", "exp.yaml")  # fmt: skip
    now = utcnow().replace(microsecond=0)
    runids = [uid("run") for _ in range(3)]
    with Client(world.orch.address, nodeid, token, insecure=True) as node:
        for i, (runid, status) in enumerate(zip(runids, ("COMPLETE", "FAILED", "COMPLETE"), strict=True)):  # fmt: skip
            start = now - timedelta(hours=i + 1)
            node.update_run(
                Run(runid, jobid, nodeid, "", start, start + timedelta(minutes=1), now,
                    RunStatus(status), status_message=f"exit {i}", seq=1)
            )  # fmt: skip
    table = cli("run", "list", "--job", jobid)
    assert header(table) == ["RUN", "JOB", "NODE", "STATUS", "STARTED", "ENDED", "MESSAGE"]
    assert [line.split()[0] for line in table.stdout.splitlines()[2:5]] == runids
    failed = as_json(cli("run", "list", "--job", jobid, "--status", "failed", "-o", "json"))
    assert [r["runid"] for r in failed] == [runids[1]] and failed[0]["userid"] == world.user
    recent = as_json(cli("run", "list", "--job", jobid, "--since", "-90m", "-o", "json"))
    assert [r["runid"] for r in recent] == runids[:1]
    limited = cli("run", "list", "--job", jobid, "--limit", "2")
    assert "(the newest 2; --limit 0 lists all)" in limited.stdout
    shown = as_json(cli("run", "show", runids[2], "-o", "json"))
    assert (shown["status"], shown["status_message"], shown["nodeid"]) == ("COMPLETE", "exit 2", nodeid)  # fmt: skip
    assert "status          COMPLETE" in cli("run", "show", runids[2]).stdout
    assert "not found" in cli("run", "show", uid("ghost"), code=1).stderr


# ---------------------------------------------------------------------------- config, kernel


def test_config_set_and_show(cli: Cli, world: World) -> None:
    document = {
        "datastore": {
            "blob": {
                "connectionString": "AccountKey=s3cr3t",
                "container": "c",
                "artifactPath": "jobs/",
            }
        },  # fmt: skip
        "weather": {"apikey": "w-key"},
    }
    (world.files / "global.json").write_text(json.dumps(document))
    assert "global config updated (datastore, weather)" in cli("config", "set", "global.json", as_admin=True).stdout  # fmt: skip
    shown = cli("config", "show", as_admin=True).stdout
    assert "s3cr3t" not in shown and "datastore.blob.connectionString  ********" in shown
    revealed = as_json(cli("config", "show", "--reveal", "-o", "json", as_admin=True))
    assert revealed == document  # the shape `config set` reads
    assert as_json(cli("config", "show", "--reveal", "-o", "json"))["weather"]["apikey"] == "********"  # fmt: skip
    assert "permission denied" in cli("config", "set", "global.json", code=1).stderr

    (world.files / "bad.json").write_text("{not json")
    assert "not valid JSON" in cli("config", "set", "bad.json", as_admin=True, code=2).stderr
    (world.files / "typo.json").write_text('{"weather": {"apiky": "x"}}')
    assert "apiky" in cli("config", "set", "typo.json", as_admin=True, code=2).stderr


def test_kernel_check(cli: Cli, world: World) -> None:
    priv = uid("priv")
    world.admin.register_user(priv, role=Role.USER_PRIV)
    granted = cli("kernel", "check", priv, as_admin=True)
    assert granted.stdout.startswith("granted: ")
    denied = as_json(cli("kernel", "check", world.user, "-o", "json", as_admin=True, code=1))
    assert denied["granted"] is False and "does not have access" in denied["message"]
    assert "permission denied" in cli("kernel", "check", priv, code=1).stderr


# ---------------------------------------------------------------------------- account, settings


def test_whoami_version_and_output_settings(cli: Cli, world: World, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    me = as_json(cli("whoami", "-o", "json"))
    assert me == {
        "id": world.user,
        "name": "Alice",
        "role": "USER",
        "team": "lab",
        "host": world.orch.address,
        "profile": "user",
    }
    assert world.user_token not in cli("whoami").stdout
    assert set(as_json(cli("version", "-o", "json"))) == {"leoscope", "python", "grpcio"}
    monkeypatch.setenv("LEOSCOPE_OUTPUT", "json")
    assert as_json(cli("whoami"))["id"] == world.user  # env sets the format...
    assert cli("-o", "table", "whoami").stdout.startswith("id ")  # ...a flag beats it
    assert cli("whoami", "-o", "yaml").stdout.startswith("id: ")


def test_flags_beat_the_profile(cli: Cli, world: World) -> None:
    wrong = cli("--token", "not-the-token", "whoami", code=1)
    assert "did not accept the credentials" in wrong.stderr and "not-the-token" not in wrong.output
    other = cli("--user", "admin", "--token", world.orch.admin_token, "whoami", "-o", "json")
    assert as_json(other)["id"] == "admin"


def test_login_writes_a_profile(cli: Cli, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("LEOSCOPE_CONFIG", str(tmp_path / "fresh.toml"))
    out = cli("login", "--host", world.orch.address, "--insecure", "--user", world.user,
              "--token-stdin", "--profile", "lab", input=world.user_token + "\n", profile=None)  # fmt: skip
    assert f"Logged in to {world.orch.address} as {world.user} (USER)." in out.stdout
    assert world.user_token not in out.output
    config = read_config(tmp_path / "fresh.toml")
    assert config.current == "lab"
    assert config.profiles["lab"] == {
        "host": world.orch.address,
        "user": world.user,
        "token": world.user_token,
        "insecure": True,
    }
    assert (tmp_path / "fresh.toml").stat().st_mode & 0o777 == 0o600
    profiles = as_json(cli("profile", "list", "-o", "json", profile=None))
    assert profiles == [{"name": "lab", "host": world.orch.address, "user": world.user, "current": True}]  # fmt: skip
    shown = cli("profile", "show", "-o", "json", profile=None)
    settings = {s["setting"]: s for s in as_json(shown)["settings"]}
    assert settings["token"] == {"setting": "token", "value": "********", "source": "profile"}
    assert world.user_token not in shown.output

    bad = cli("login", "--host", world.orch.address, "--insecure", "--user", world.user,
              "--token", "wrong", "--profile", "bad", profile=None, code=1)  # fmt: skip
    assert "did not accept" in bad.stderr
    assert "bad" not in read_config(tmp_path / "fresh.toml").profiles  # nothing saved
    assert cli("profile", "use", "ghost", profile=None, code=2).stderr.startswith(
        "error: there is no profile"
    )
    cli("profile", "delete", "lab", profile=None)
    assert read_config(tmp_path / "fresh.toml").profiles == {}
