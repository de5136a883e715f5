"""The SDK against a real orchestrator: every method, its return types and its typed errors.

One SQLite orchestrator serves the whole module; tests use their own ids so they don't
interfere. `test_round_trip_on_each_store` repeats the core flow on PostgreSQL too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import leoscope.client as sdk
from leoscope.client import (
    AsyncClient,
    AuthenticationError,
    Calendar,
    Client,
    Conflict,
    FreeSlot,
    GlobalConfig,
    InvalidArgument,
    InvalidInput,
    Job,
    JobType,
    LeoscopeError,
    Node,
    NotFound,
    PermissionDenied,
    Role,
    Run,
    RunStatus,
    ScheduledJob,
    Task,
    TaskStatus,
    TaskType,
    User,
    dump_global_config,
    load_global_config,
)
from leoscope.core.timeutil import utcnow
from tests.harness import EXPERIMENT_CONFIG, RunningOrchestrator

EXPECTED_EXPORTS = [
    "AsyncClient",
    "AuthenticationError",
    "BlobSettings",
    "Calendar",
    "CalendarEvent",
    "Client",
    "Conflict",
    "ConflictInfo",
    "FreeSlot",
    "GlobalConfig",
    "InvalidArgument",
    "InvalidInput",
    "Job",
    "JobParams",
    "JobType",
    "KernelAccess",
    "LeoscopeError",
    "Node",
    "NotFound",
    "PermissionDenied",
    "RegisteredNode",
    "RegisteredUser",
    "Role",
    "Run",
    "RunStatus",
    "ScheduledJob",
    "ServerError",
    "StoreSettings",
    "Task",
    "TaskStatus",
    "TaskType",
    "Unavailable",
    "User",
    "dump_global_config",
    "load_global_config",
]


def test_public_surface_is_pinned() -> None:
    assert sdk.__all__ == EXPECTED_EXPORTS
    assert sorted(sdk.__all__) == sdk.__all__
    public = sorted(n for n in dir(sdk) if not n.startswith("_") and n != "annotations")
    assert public == EXPECTED_EXPORTS


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def hour_from_now(hours: float = 1.0) -> datetime:
    return (utcnow() + timedelta(hours=hours)).replace(second=0, microsecond=0)


@pytest.fixture(scope="module")
def orch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOrchestrator]:
    o = RunningOrchestrator(tmp_path_factory.mktemp("orch"))
    yield o
    o.stop()


@pytest.fixture(scope="module")
def admin(orch: RunningOrchestrator) -> Iterator[Client]:
    with Client(orch.address, "admin", orch.admin_token, insecure=True) as client:
        yield client


def new_user(orch: RunningOrchestrator, admin: Client, role: Role = Role.USER) -> Client:
    registered = admin.register_user(uid("user"), name="Test User", role=role, team="lab")
    return Client(orch.address, registered.user.id, registered.token, insecure=True)


def new_node(admin: Client, orch: RunningOrchestrator) -> tuple[str, Client]:
    nodeid = uid("node")
    registered = admin.register_node(nodeid, coords="47.6,-122.3", location="lab")
    return nodeid, Client(orch.address, nodeid, registered.token, insecure=True)


# ---------------------------------------------------------------------------- users


def test_users_register_get_list_update_delete(orch: RunningOrchestrator, admin: Client) -> None:
    userid = uid("bob")
    registered = admin.register_user(userid, name="Bob", role=Role.USER_PRIV, team="t1")
    assert registered.user == User(userid, "Bob", Role.USER_PRIV, "t1")
    assert len(registered.token) == 64
    assert registered.token not in repr(registered)

    assert admin.get_user(userid) == registered.user
    assert registered.user in admin.list_users()
    updated = admin.update_user(userid, team="t2")
    assert updated == User(userid, "Bob", Role.USER_PRIV, "t2")
    assert admin.get_user(userid) == updated

    bob = Client(orch.address, userid, registered.token, insecure=True)
    assert bob.whoami() == updated
    assert bob.get_user(userid) == updated

    admin.delete_user(userid)
    with pytest.raises(NotFound) as caught:
        admin.get_user(userid)
    assert (caught.value.kind, caught.value.id) == ("user", userid)
    with pytest.raises(AuthenticationError):
        bob.whoami()


def test_user_errors_are_typed(orch: RunningOrchestrator, admin: Client) -> None:
    user = new_user(orch, admin)
    with pytest.raises(Conflict):
        admin.register_user(user.user)
    with pytest.raises(InvalidInput) as caught:
        admin.register_user("has space")
    assert caught.value.field == "id"
    assert InvalidArgument is InvalidInput
    with pytest.raises(PermissionDenied, match="permission denied"):
        user.register_user(uid("x"))
    with pytest.raises(PermissionDenied):
        user.get_user("admin")
    with pytest.raises(PermissionDenied):
        user.list_users()
    with pytest.raises(NotFound):
        admin.delete_user(uid("ghost"))


def test_bad_token_raises_authentication_error(orch: RunningOrchestrator) -> None:
    with Client(orch.address, "admin", "not-the-token", insecure=True) as client:
        with pytest.raises(AuthenticationError, match="Invalid token"):
            client.whoami()
        with pytest.raises(AuthenticationError):
            client.list_jobs()  # a read (retried only on UNAVAILABLE, so it fails at once)


def test_kernel_access(orch: RunningOrchestrator, admin: Client) -> None:
    plain = new_user(orch, admin)
    priv = new_user(orch, admin, Role.USER_PRIV)
    granted = admin.kernel_access(priv.user)
    assert granted.granted and "has access" in granted.message
    denied = admin.kernel_access(plain.user)
    assert not denied.granted and "does not have access" in denied.message
    assert not admin.kernel_access(uid("ghost")).granted
    with pytest.raises(PermissionDenied):
        plain.kernel_access(plain.user)


# ---------------------------------------------------------------------------- nodes


def test_nodes(orch: RunningOrchestrator, admin: Client) -> None:
    nodeid = uid("node")
    registered = admin.register_node(
        nodeid, coords="10.5,20.25", name="N", location=uid("loc"), provider="oneweb"
    )
    assert registered.node.nodeid == nodeid and len(registered.token) == 64
    node = admin.get_node(nodeid)
    assert isinstance(node, Node)
    assert (node.coords, node.provider, node.last_active) == ("10.5,20.25", "oneweb", None)
    assert [n.nodeid for n in admin.list_nodes(location=node.location)] == [nodeid]
    assert admin.list_nodes(location=node.location, provider="starlink") == []
    assert admin.list_nodes(location=node.location, active=True) == []

    admin.update_node(nodeid, public_ip="192.0.2.7", name="Renamed")
    assert (admin.get_node(nodeid).public_ip, admin.get_node(nodeid).name) == (
        "192.0.2.7",
        "Renamed",
    )
    with pytest.raises(InvalidInput) as caught:
        admin.update_node(nodeid, public_ip="not-an-ip")
    assert caught.value.field == "public_ip"

    node_client = Client(orch.address, nodeid, registered.token, insecure=True)
    assert node_client.heartbeat(nodeid) is True
    assert admin.list_nodes(location=node.location, active=True)[0].last_active is not None
    assert node_client.heartbeat("someone-else") is False

    assert admin.get_scavenger(nodeid) is False
    node_client.set_scavenger(nodeid, True)
    assert node_client.get_scavenger(nodeid) is True
    assert admin.get_node(nodeid).scavenger_mode_active

    with pytest.raises(Conflict):
        admin.register_node(nodeid, coords="1,1")
    with pytest.raises(InvalidInput) as caught:
        admin.register_node(uid("n"), coords="200,1")
    assert caught.value.field == "coords"

    admin.delete_node(nodeid)
    with pytest.raises(NotFound) as missing:
        admin.get_node(nodeid)
    assert missing.value.kind == "node"
    with pytest.raises(NotFound):
        admin.get_scavenger(nodeid)
    with pytest.raises(NotFound):
        admin.delete_node(nodeid)


def test_scavenger_status_is_private(orch: RunningOrchestrator, admin: Client) -> None:
    nodeid, _ = new_node(admin, orch)
    user = new_user(orch, admin)
    with pytest.raises(PermissionDenied):
        user.get_scavenger(nodeid)
    with pytest.raises(PermissionDenied):
        user.set_scavenger(nodeid, True)
    assert user.get_node(nodeid).scavenger_mode_active is False


# ---------------------------------------------------------------------------- jobs


def test_schedule_one_shot_dry_run_then_real(orch: RunningOrchestrator, admin: Client) -> None:
    nodeid, _ = new_node(admin, orch)
    user = new_user(orch, admin)
    at = hour_from_now()
    jobid = uid("job")
    dry = user.schedule_job(
        jobid, nodeid, at=at, length_secs=300, config=EXPERIMENT_CONFIG, dry_run=True
    )
    assert isinstance(dry, ScheduledJob) and dry.dry_run and dry.next_runs == (at,)
    with pytest.raises(NotFound):
        user.get_job(jobid)  # a dry run stores nothing

    done = user.schedule_job(jobid, nodeid, at=at, length_secs=300, config=EXPERIMENT_CONFIG)
    assert not done.dry_run and done.next_runs == (at,)
    job = user.get_job(jobid)
    assert isinstance(job, Job)
    assert (job.type, job.start, job.length_secs, job.userid) == (
        JobType.ATQ,
        at,
        300,
        user.user,
    )
    assert job.end == at + timedelta(seconds=300) + timedelta(days=1)
    assert job.config == EXPERIMENT_CONFIG
    assert [j.id for j in user.list_jobs()] == [jobid]
    assert user.list_jobs()[0].config == ""  # lists never carry configs


def test_conflict_carries_jobs_and_times(orch: RunningOrchestrator, admin: Client) -> None:
    nodeid, _ = new_node(admin, orch)
    user = new_user(orch, admin)
    at = hour_from_now(2)
    first = uid("first")
    user.schedule_job(first, nodeid, at=at, length_secs=600, config=EXPERIMENT_CONFIG)
    with pytest.raises(Conflict) as caught:
        user.schedule_job(
            uid("second"),
            nodeid,
            at=at + timedelta(minutes=5),
            length_secs=600,
            config=EXPERIMENT_CONFIG,
            dry_run=True,
        )
    (conflict,) = caught.value.conflicts
    assert (conflict.jobid, conflict.nodeid) == (first, nodeid)
    overlap_start = at + timedelta(minutes=5)
    assert conflict.start == int(overlap_start.timestamp())
    assert first in str(caught.value) and nodeid in str(caught.value)
    # A lightweight (non-overhead) job never conflicts.
    user.schedule_job(
        uid("light"), nodeid, at=at, length_secs=60, config=EXPERIMENT_CONFIG, overhead=False
    )
    with pytest.raises(Conflict, match="exists"):
        user.schedule_job(first, nodeid, at=at + timedelta(hours=5), length_secs=60, config="x: 1")


def test_schedule_validation_names_the_field(orch: RunningOrchestrator, admin: Client) -> None:
    nodeid, _ = new_node(admin, orch)
    user = new_user(orch, admin)
    cases = [
        ({"at": hour_from_now(), "config": "docker: [unclosed"}, "config"),
        ({"at": hour_from_now(), "config": EXPERIMENT_CONFIG, "trigger": "bogus >>"}, "trigger"),
        ({"cron": "61 * * * *", "end": hour_from_now(48), "config": EXPERIMENT_CONFIG}, "schedule"),
        ({"at": hour_from_now(-3), "config": EXPERIMENT_CONFIG}, "start_date"),
        ({"at": hour_from_now(), "config": EXPERIMENT_CONFIG, "server": uid("ghost")}, "server"),
    ]
    for kwargs, field in cases:
        with pytest.raises(InvalidInput) as caught:
            user.schedule_job(uid("bad"), nodeid, length_secs=60, **kwargs)  # type: ignore[arg-type]
        assert caught.value.field == field, (kwargs, caught.value)
    # Local checks, before anything is sent.
    with pytest.raises(InvalidInput, match="either"):
        user.schedule_job("x", nodeid, length_secs=60, config=EXPERIMENT_CONFIG)
    with pytest.raises(InvalidInput) as caught:
        user.schedule_job("x", nodeid, cron="0 * * * *", length_secs=60, config=EXPERIMENT_CONFIG)
    assert caught.value.field == "end"


def test_cron_job_calendar_free_slot_modify_reschedule_delete(
    orch: RunningOrchestrator, admin: Client
) -> None:
    nodeid, _ = new_node(admin, orch)
    user = new_user(orch, admin)
    day = (utcnow() + timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    hourly = uid("hourly")
    user.schedule_job(
        hourly,
        nodeid,
        cron="0 * * * *",
        start=day,
        end=day + timedelta(days=1),
        length_secs=600,
        config=EXPERIMENT_CONFIG,
    )
    calendar = user.calendar(nodeid, day, day + timedelta(hours=3))
    assert isinstance(calendar, Calendar) and not calendar.truncated
    assert [e.start for e in calendar.events] == [day + timedelta(hours=h) for h in range(4)]
    assert all(e.jobid == hourly and e.type is JobType.CRON for e in calendar.events)
    assert calendar.events[0].end == day + timedelta(minutes=10)

    (slot,) = user.find_free_slot(
        [nodeid], length_secs=1800, not_before=day, not_after=day + timedelta(hours=3)
    )
    assert isinstance(slot, FreeSlot) and slot.found
    assert slot.start == day + timedelta(minutes=10)
    assert slot.end == day + timedelta(minutes=40)
    (none,) = user.find_free_slot(
        [nodeid], length_secs=3590, not_before=day, not_after=day + timedelta(hours=3)
    )
    assert not none.found and none.start is None

    user.modify_job(hourly, length_secs=1200)
    assert user.get_job(hourly).length_secs == 1200
    with pytest.raises(InvalidInput):
        user.modify_job(hourly)
    with pytest.raises(InvalidInput) as caught:
        user.reschedule_job(hourly)
    assert caught.value.field == "jobid"  # only one-shot jobs move

    once = uid("once")
    user.schedule_job(
        once,
        nodeid,
        at=day + timedelta(minutes=30),
        end=day + timedelta(hours=6),
        length_secs=600,
        config=EXPERIMENT_CONFIG,
    )
    moved = user.reschedule_job(once, not_before=day + timedelta(hours=2, minutes=1))
    assert moved == day + timedelta(hours=2, minutes=20)  # after the 02:00 run (20 min long)
    assert user.get_job(once).start == moved
    with pytest.raises(Conflict, match="empty slot not found"):
        user.reschedule_job(
            once, not_before=day + timedelta(minutes=5), not_after=day + timedelta(minutes=25)
        )

    other = new_user(orch, admin)
    with pytest.raises(PermissionDenied):
        other.delete_job(once)
    with pytest.raises(PermissionDenied):
        other.modify_job(once, length_secs=60)
    user.delete_job(once)
    with pytest.raises(NotFound):
        user.delete_job(once)
    with pytest.raises(PermissionDenied):
        user.delete_jobs_on_node(nodeid)
    assert admin.delete_jobs_on_node(nodeid) == 1
    assert admin.list_jobs(node=nodeid) == []


def test_list_jobs_by_user_and_node(orch: RunningOrchestrator, admin: Client) -> None:
    nodeid, _ = new_node(admin, orch)
    alice, bob = new_user(orch, admin), new_user(orch, admin)
    a_job, b_job = uid("a"), uid("b")
    alice.schedule_job(a_job, nodeid, at=hour_from_now(3), length_secs=60, config=EXPERIMENT_CONFIG)
    bob.schedule_job(b_job, nodeid, at=hour_from_now(4), length_secs=60, config=EXPERIMENT_CONFIG)
    assert [j.id for j in alice.list_jobs()] == [a_job]
    assert sorted(j.id for j in admin.list_jobs(node=nodeid)) == sorted([a_job, b_job])
    assert [j.id for j in admin.list_jobs(node=nodeid, user=bob.user)] == [b_job]
    assert [j.id for j in admin.list_jobs(user=alice.user)] == [a_job]
    all_ids = {j.id for j in admin.list_jobs()}
    assert {a_job, b_job} <= all_ids
    with pytest.raises(PermissionDenied):
        alice.list_jobs(user=bob.user)


# ---------------------------------------------------------------------------- runs and tasks


def test_runs_reported_by_a_node_and_queried(orch: RunningOrchestrator, admin: Client) -> None:
    nodeid, node = new_node(admin, orch)
    user = new_user(orch, admin)
    jobid = uid("job")
    user.schedule_job(jobid, nodeid, at=hour_from_now(5), length_secs=60, config=EXPERIMENT_CONFIG)
    base = utcnow().replace(microsecond=0)
    runs = [
        Run(
            runid=uid("run"),
            jobid=jobid,
            nodeid=nodeid,
            userid="",
            start_time=base - timedelta(hours=i),
            end_time=base - timedelta(hours=i) + timedelta(minutes=1),
            last_updated=base,
            status=status,
            status_message="ok",
            seq=1,
        )
        for i, status in enumerate((RunStatus.COMPLETE, RunStatus.FAILED, RunStatus.COMPLETE))
    ]
    for run in runs:
        node.update_run(run)
    listed = user.list_runs(job=jobid)
    assert [r.runid for r in listed] == [r.runid for r in runs]  # newest first
    assert all(r.userid == user.user for r in listed)  # the owner comes from the job
    assert [r.runid for r in user.list_runs(job=jobid, status="FAILED")] == [runs[1].runid]
    assert len(user.list_runs(job=jobid, limit=2)) == 2
    recent = user.list_runs(job=jobid, since=base - timedelta(minutes=90))
    assert [r.runid for r in recent] == [runs[0].runid, runs[1].runid]
    assert user.get_run(runs[2].runid).start_time == runs[2].start_time
    with pytest.raises(NotFound):
        user.get_run(uid("ghost"))
    assert new_user(orch, admin).list_runs(job=jobid) == []  # others see nothing

    node.update_run(replace(runs[0], status=RunStatus.EXECUTING, seq=0))  # stale: ignored
    assert user.get_run(runs[0].runid).status == RunStatus.COMPLETE
    with pytest.raises(InvalidInput) as caught:
        user.list_runs(since=base, until=base - timedelta(hours=1))
    assert caught.value.field == "time_range.end"
    with pytest.raises(PermissionDenied):
        user.update_run(runs[0])


def test_tasks_between_paired_nodes(orch: RunningOrchestrator, admin: Client) -> None:
    client_id, client_node = new_node(admin, orch)
    server_id, server_node = new_node(admin, orch)
    user = new_user(orch, admin)
    jobid = uid("paired")
    user.schedule_job(
        jobid,
        client_id,
        at=hour_from_now(6),
        length_secs=60,
        config=EXPERIMENT_CONFIG,
        server=server_id,
    )
    task = Task(
        taskid=uid("task"),
        type=TaskType.SERVER_START,
        runid="r1",
        jobid=jobid,
        nodeid=server_id,
        status=TaskStatus.TASK_SCHEDULED,
        ttl_secs=300,
    )
    client_node.schedule_task(task)
    (seen,) = server_node.list_tasks(nodeid=server_id)
    assert (seen.taskid, seen.type, seen.status) == (
        task.taskid,
        TaskType.SERVER_START,
        TaskStatus.TASK_SCHEDULED,
    )
    server_node.update_task(task.taskid, TaskStatus.TASK_COMPLETE)
    assert server_node.list_tasks(taskid=task.taskid)[0].status is TaskStatus.TASK_COMPLETE
    with pytest.raises(NotFound):
        server_node.update_task(uid("ghost"), TaskStatus.TASK_COMPLETE)
    with pytest.raises(InvalidInput):
        client_node.schedule_task(replace(task, taskid=uid("t"), nodeid=client_id))


# ---------------------------------------------------------------------------- config


def test_global_config_round_trip_and_masking(orch: RunningOrchestrator, admin: Client) -> None:
    document = {
        "datastore": {
            "blob": {
                "connectionString": "AccountKey=s3cr3t",
                "container": "c",
                "artifactPath": "j/",
            }
        },
        "weather": {"apikey": "owm-key"},
    }
    config = load_global_config(document)
    assert isinstance(config, GlobalConfig) and config.weather_apikey == "owm-key"
    assert dump_global_config(config) == document
    admin.set_global_config(config)
    assert admin.get_global_config() == config
    user = new_user(orch, admin)
    masked = user.get_global_config()
    assert masked.blob is not None and masked.blob.connection_string == "********"
    assert masked.blob.container == "c"
    with pytest.raises(PermissionDenied):
        user.set_global_config(config)
    with pytest.raises(InvalidInput, match="nosuchkey") as caught:
        load_global_config({"weather": {"nosuchkey": 1}})
    assert caught.value.field == "config"


# ---------------------------------------------------------------------------- settings


def test_client_from_profile_uses_the_config_file(
    orch: RunningOrchestrator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leoscope.settings import save_profile

    for key in ("LEOSCOPE_HOST", "LEOSCOPE_USER", "LEOSCOPE_TOKEN", "LEOSCOPE_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("LEOSCOPE_CONFIG", str(tmp_path / "config.toml"))
    save_profile(
        "lab", {"host": orch.address, "user": "admin", "token": orch.admin_token, "insecure": True}
    )
    with Client.from_profile() as client:
        assert client.whoami().id == "admin"
    with Client.from_profile("lab", token="wrong") as client, pytest.raises(AuthenticationError):
        client.whoami()


async def test_async_client_is_the_same_client_awaited(orch: RunningOrchestrator) -> None:
    async with AsyncClient(orch.address, "admin", orch.admin_token, insecure=True) as client:
        me, nodes = await asyncio.gather(client.whoami(), client.list_nodes())
        assert me.id == "admin" and isinstance(nodes, list)
        with pytest.raises(NotFound):
            await client.get_job("no-such-job")
        with pytest.raises(AttributeError):
            client.no_such_method  # noqa: B018


def test_errors_share_one_base(orch: RunningOrchestrator) -> None:
    with Client(orch.address, "admin", "bad", insecure=True) as client:
        with pytest.raises(LeoscopeError):
            client.get_node("x")


@pytest.mark.postgres
def test_round_trip_on_each_store(orchestrator: RunningOrchestrator) -> None:
    """The main flow once more on SQLite and PostgreSQL (the `orchestrator` fixture)."""
    with Client(orchestrator.address, "admin", orchestrator.admin_token, insecure=True) as admin:
        nodeid, _ = new_node(admin, orchestrator)
        user = new_user(orchestrator, admin)
        at = hour_from_now()
        user.schedule_job("j1", nodeid, at=at, length_secs=120, config=EXPERIMENT_CONFIG)
        with pytest.raises(Conflict) as caught:
            user.schedule_job("j2", nodeid, at=at, length_secs=120, config=EXPERIMENT_CONFIG)
        assert caught.value.conflicts[0].jobid == "j1"
        assert [e.jobid for e in user.calendar(nodeid, at, at + timedelta(hours=1)).events] == [
            "j1"
        ]
        user.close()
