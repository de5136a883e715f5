"""Every RPC's happy path and failure cases, on SQLite and on PostgreSQL, over real gRPC."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf.json_format import MessageToDict

from leoscope.api import leotest_pb2 as pb
from tests.harness import EXPERIMENT_CONFIG, RunningOrchestrator, job_request
from tests.integration.world import END, START, World, build_world


@pytest.fixture
def world(orchestrator: RunningOrchestrator) -> Iterator[World]:
    w = build_world(orchestrator)
    yield w
    w.close()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met before the deadline")


# ---------------------------------------------------------------------------- users


def test_register_user_issues_a_random_token_shown_once(world: World) -> None:
    resp = world.admin.call(
        "register_user", pb.message_register_user(id="carol", name="C", role=pb.USER, team="t")
    )
    assert resp.state == pb.SUCCESS
    assert re.fullmatch(r"user registered access_token=[0-9a-f]{64}", resp.message)
    token = resp.message.split("access_token=")[1]
    carol = world.orch.caller("carol", token)
    assert carol.call("whoami", pb.message_whoami()).userid == "carol"
    snapshot = repr(world.orch.snapshot())
    assert token not in snapshot  # stored hashed only
    again = world.admin.call(
        "register_user", pb.message_register_user(id="carol2", name="C", role=pb.USER, team="t")
    )
    assert again.message.split("access_token=")[1] != token


def test_register_user_duplicate_and_bad_role(world: World) -> None:
    dup = world.admin.call(
        "register_user", pb.message_register_user(id="alice", name="x", role=pb.USER)
    )
    assert (dup.state, dup.message) == (pb.FAILED, "user with given id already exists")
    bad = world.admin.call("register_user", pb.message_register_user(id="zed", role=9))
    assert bad.state == pb.FAILED and "role" in bad.message


def test_get_user_found_and_missing(world: World) -> None:
    found = world.admin.call("get_user", pb.message_get_user(userid="alice"))
    assert (found.exists, found.id, found.role) == (True, "alice", pb.USER)
    missing = world.admin.call("get_user", pb.message_get_user(userid="nobody"))
    assert MessageToDict(missing) == {"role": "USER"}  # exists=false, empty strings


def test_modify_user_keeps_tokens(world: World) -> None:
    resp = world.admin.call(
        "modify_user",
        pb.message_modify_user(id="alice", name="Alice", role=pb.USER_PRIV, team="lab"),
    )
    assert (resp.state, resp.message) == (pb.SUCCESS, "user updated")
    me = world.alice.call("whoami", pb.message_whoami())  # the token still works
    assert (me.name, me.role, me.team) == ("Alice", pb.USER_PRIV, "lab")
    missing = world.admin.call(
        "modify_user", pb.message_modify_user(id="nobody", name="x", role=pb.USER)
    )
    assert (missing.state, missing.message) == (pb.FAILED, "user with given id does not exist")


def test_delete_user_revokes_the_token(world: World) -> None:
    resp = world.admin.call("delete_user", pb.message_delete_user(userid="bob"))
    assert (resp.state, resp.message) == (pb.SUCCESS, "user deleted")
    with pytest.raises(grpc.RpcError) as info:
        world.bob.call("whoami", pb.message_whoami())
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    again = world.admin.call("delete_user", pb.message_delete_user(userid="bob"))
    assert (again.state, again.message) == (pb.FAILED, "user with given id does not exist")
    node_user = world.admin.call("delete_user", pb.message_delete_user(userid="node-1"))
    assert node_user.state == pb.FAILED and "delete_node" in node_user.message


def test_admin_cannot_delete_the_bootstrap_admin(world: World) -> None:
    resp = world.admin.call("delete_user", pb.message_delete_user(userid="admin"))
    assert resp.state == pb.FAILED and "cannot be deleted" in resp.message
    assert world.admin.call("whoami", pb.message_whoami()).userid == "admin"


def test_slots_are_never_in_the_past(world: World) -> None:
    past = "2020-01-01T00:00:00"
    future = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S")
    slots = world.bob.call(
        "find_free_slot",
        pb.message_find_free_slot(
            nodeids=["node-3"], length_secs=60, not_before=past, not_after=future
        ),
    ).slots
    assert slots[0].found and slots[0].start > "2026"
    moved = world.alice.call(
        "reschedule_job_nearest",
        pb.message_reschedule_job(jobid="job-a", starttime=past, endtime=END),
    )
    assert moved.rescheduled and moved.next_slot > "2026"


def test_get_users_lists_everyone(world: World) -> None:
    ids = [u.id for u in world.admin.call("get_users", pb.message_get_users()).users]
    assert {"admin", "alice", "bob", "node-1"} <= set(ids)
    assert ids == sorted(ids)


# ---------------------------------------------------------------------------- nodes


def test_register_node_defaults_and_token(world: World) -> None:
    resp = world.admin.call(
        "register_node",
        pb.message_register_node(
            node=pb._node(nodeid="n9", name="N", coords="10.5,-20.25", location="x")
        ),
    )
    assert re.fullmatch(r"node successfully registered access_token=[0-9a-f]{64}", resp.message)
    node = world.admin.call("get_nodes", pb.message_get_nodes(nodeid="n9")).nodes[0]
    assert (node.description, node.provider, node.last_active) == (
        "Leopard Node",
        "starlink",
        "2020-01-01 00:00:00",
    )
    me = world.orch.caller("n9", resp.message.split("access_token=")[1]).call(
        "whoami", pb.message_whoami()
    )
    assert (me.userid, me.role, me.team) == ("n9", pb.NODE, "Leopard Node")


def test_register_node_refusals(world: World) -> None:
    dup = world.admin.call(
        "register_node", pb.message_register_node(node=pb._node(nodeid="node-1", coords="1,2"))
    )
    assert (dup.state, dup.message) == (pb.FAILED, "node with the given id exists")
    clash = world.admin.call(
        "register_node", pb.message_register_node(node=pb._node(nodeid="alice", coords="1,2"))
    )
    assert clash.state == pb.FAILED and "user with the given id exists" in clash.message
    ignored = world.admin.call(
        "register_node",
        pb.message_register_node(
            node=pb._node(
                nodeid="n10",
                coords="1,2",
                last_active="2024-01-01",
                jobs="x",
                scavenger_mode_active=True,
                public_ip="1.2.3.4",
            )
        ),
    )
    assert ignored.state == pb.SUCCESS  # output-only fields are ignored, not a crash
    node = world.admin.call("get_nodes", pb.message_get_nodes(nodeid="n10")).nodes[0]
    assert (node.scavenger_mode_active, node.public_ip) == (False, "")


def test_get_nodes_filters_and_jobs_summary(world: World) -> None:
    world.admin.call(
        "update_node", pb.message_update_node(nodeid="node-2", location="paris", provider="oneweb")
    )
    assert [
        n.nodeid for n in world.bob.call("get_nodes", pb.message_get_nodes(location="paris")).nodes
    ] == ["node-2"]
    assert [
        n.nodeid for n in world.bob.call("get_nodes", pb.message_get_nodes(provider="oneweb")).nodes
    ] == ["node-2"]
    assert world.bob.call("get_nodes", pb.message_get_nodes(active=True)).nodes == []
    world.node1.call("report_heartbeat", pb.message_heartbeat(nodeid="node-1"))
    assert [
        n.nodeid
        for n in world.bob.call(
            "get_nodes", pb.message_get_nodes(active=True, activeThres=60)
        ).nodes
    ] == ["node-1"]
    node1 = world.bob.call("get_nodes", pb.message_get_nodes(nodeid="node-1")).nodes[0]
    assert node1.jobs == (
        f"<jobid=job-a userid=alice type=atq start={START} end={END} length=60 schedule= "
        "overhead=True server=node-2 trigger=None>"
    )
    # the server node lists the job too
    assert (
        "jobid=job-a"
        in world.bob.call("get_nodes", pb.message_get_nodes(nodeid="node-2")).nodes[0].jobs
    )


def test_update_node_changes_present_fields_only(world: World) -> None:
    resp = world.node1.call(
        "update_node", pb.message_update_node(nodeid="node-1", public_ip="203.0.113.7")
    )
    assert (resp.state, resp.message) == (pb.SUCCESS, "updated node successfully")
    node = world.admin.call("get_nodes", pb.message_get_nodes(nodeid="node-1")).nodes[0]
    assert (node.public_ip, node.coords, node.location) == ("203.0.113.7", "47.6,-122.3", "lab")
    stamp = world.admin.call(
        "update_node", pb.message_update_node(nodeid="node-1", last_active="2031-01-01 10:00:00.5")
    )
    assert stamp.state == pb.SUCCESS
    node = world.admin.call("get_nodes", pb.message_get_nodes(nodeid="node-1")).nodes[0]
    assert (node.last_active, node.coords) == ("2031-01-01 10:00:00.500000", "47.6,-122.3")
    missing = world.admin.call("update_node", pb.message_update_node(nodeid="ghost", name="x"))
    assert (missing.state, missing.message) == (pb.FAILED, "node with given id does not exist")


def test_delete_node_with_and_without_jobs(world: World) -> None:
    resp = world.admin.call("delete_node", pb.message_delete_node(nodeid="node-2"))
    assert (resp.state, resp.message) == (pb.SUCCESS, "node deleted")
    with pytest.raises(grpc.RpcError):
        world.node2.call("whoami", pb.message_whoami())
    assert world.admin.call("get_job_by_id", pb.message_get_job_by_id(jobid="job-a")).exists
    resp = world.admin.call("delete_node", pb.message_delete_node(nodeid="node-1", deleteJobs=True))
    assert resp.state == pb.SUCCESS
    assert not world.admin.call("get_job_by_id", pb.message_get_job_by_id(jobid="job-a")).exists
    missing = world.admin.call("delete_node", pb.message_delete_node(nodeid="alice"))
    assert (missing.state, missing.message) == (pb.FAILED, "node with given id does not exist")
    assert world.admin.call("get_user", pb.message_get_user(userid="alice")).exists  # never a human


def test_heartbeat(world: World) -> None:
    assert world.node1.call("report_heartbeat", pb.message_heartbeat(nodeid="node-1")).received
    assert not world.node1.call("report_heartbeat", pb.message_heartbeat(nodeid="node-2")).received
    assert not world.admin.call("report_heartbeat", pb.message_heartbeat(nodeid="ghost")).received
    node = world.admin.call("get_nodes", pb.message_get_nodes(nodeid="node-1")).nodes[0]
    assert node.last_active.startswith("20") and not node.last_active.startswith("2020-01-01")


def test_a_node_tick_answered_from_caches_opens_no_connection(world: World) -> None:
    """The poll path runs on the event loop: once warm, it must not touch the database."""
    tick = [
        ("report_heartbeat", pb.message_heartbeat(nodeid="node-1")),
        ("update_node", pb.message_update_node(nodeid="node-1", public_ip="")),
        ("get_jobs_by_nodeid", pb.message_get_jobs_by_nodeid(nodeid="node-1")),
        ("get_tasks", pb.message_get_tasks(nodeid="node-1")),
        ("get_scavenger_status", pb.message_get_scavenger_status(nodeid="node-1")),
    ]
    for rpc, request in tick:  # warm the caches
        world.node1.call(rpc, request)
    checkouts: list[str] = []

    def count(*_: object) -> None:
        if threading.current_thread().name != "liveness":  # the batched heartbeat writer
            checkouts.append(threading.current_thread().name)

    engine = world.orch.server.store.engine
    sa.event.listen(engine, "checkout", count)
    try:
        for rpc, request in tick * 3:
            world.node1.call(rpc, request)
    finally:
        sa.event.remove(engine, "checkout", count)
    assert checkouts == []


def test_scavenger_flag_round_trip(world: World) -> None:
    off = world.node1.call("get_scavenger_status", pb.message_get_scavenger_status(nodeid="node-1"))
    assert MessageToDict(off) == {
        "nodeExists": True
    }  # found=false when off (reference nodes crash otherwise)
    resp = world.node1.call(
        "set_scavenger_status",
        pb.message_set_scavenger_status(nodeid="node-1", scavenger_mode_active=True),
    )
    assert resp.message == "updated scavenger_mode_status successfully"
    on = world.node1.call("get_scavenger_status", pb.message_get_scavenger_status(nodeid="node-1"))
    assert (on.found, on.scavenger_mode_active) == (True, True)
    missing = world.admin.call(
        "set_scavenger_status",
        pb.message_set_scavenger_status(nodeid="ghost", scavenger_mode_active=True),
    )
    assert (missing.state, missing.message) == (pb.FAILED, "node with given id does not exist")
    assert not world.admin.call(
        "get_scavenger_status", pb.message_get_scavenger_status(nodeid="")
    ).found


# ---------------------------------------------------------------------------- global config


def test_global_config(world: World) -> None:
    with pytest.raises(grpc.RpcError) as info:
        world.admin.call("get_global_config", pb.message_get_global_config())
    assert (info.value.code(), info.value.details()) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "global config not set",
    )
    blob = pb.blob_settings(
        connectionString="AccountKey=k", container="leotest", artifactPath="jobs/"
    )
    full = pb.settings(
        datastore=pb.datastore_settings(blob=blob), weather=pb.weather_api_settings(apikey="w")
    )
    assert (
        world.admin.call(
            "update_global_config", pb.message_update_global_config(config=full)
        ).message
        == "config updated"
    )
    # Only present groups are replaced: sending weather alone keeps the datastore.
    world.admin.call(
        "update_global_config",
        pb.message_update_global_config(
            config=pb.settings(weather=pb.weather_api_settings(apikey="w2"))
        ),
    )
    got = world.node1.call("get_global_config", pb.message_get_global_config()).config
    assert (got.datastore.blob.connectionString, got.weather.apikey) == ("AccountKey=k", "w2")
    masked = world.alice.call("get_global_config", pb.message_get_global_config()).config
    assert (
        masked.datastore.blob.connectionString,
        masked.weather.apikey,
        masked.datastore.blob.container,
    ) == ("********", "********", "leotest")


# ---------------------------------------------------------------------------- jobs


def test_schedule_cron_and_atq(world: World) -> None:
    cron = job_request(
        "cron-1",
        "node-3",
        "2031-03-01 00:00:00+02:00",
        "2031-03-02T00:00:00Z",
        type=pb.CRON,
        schedule="*/10  * * * *",
    )
    resp = world.alice.call("schedule_job", cron)
    assert (resp.state, resp.message) == (pb.SUCCESS, "job successfully scheduled")
    assert list(resp.next_runs)[:2] == ["2031-02-28T22:00:00Z", "2031-02-28T22:10:00Z"]
    job = world.alice.call("get_job_by_id", pb.message_get_job_by_id(jobid="cron-1"))
    # dates normalised for reference nodes: naive UTC, 'T', no offset; cron single-spaced
    assert (job.start_date, job.end_date, job.schedule, job.length_secs) == (
        "2031-02-28T22:00:00",
        "2031-03-02T00:00:00",
        "*/10 * * * *",
        60,
    )
    assert job.config == EXPERIMENT_CONFIG


def test_schedule_duplicate_id_is_reported_before_conflicts(world: World) -> None:
    again = world.alice.call(
        "schedule_job", job_request("job-a", "node-1", START, END, server="node-2")
    )
    assert (again.state, again.message) == (pb.FAILED, "job with the given id exists")


def test_conflict_message_and_boundaries(world: World) -> None:
    clash = world.bob.call("schedule_job", job_request("b1", "node-1", "2031-03-01T10:00:30", END))
    assert clash.state == pb.FAILED
    assert clash.message == (
        f"schedule conflict:<0, jobid=job-a, cron='', start={START}, end={END},"
        "conflict_start=2031-03-01 10:00:30, conflict_end=2031-03-01 10:01:00>"
    )
    assert [c.jobid for c in clash.conflicts] == ["job-a"]
    # touching runs do not conflict (half-open intervals)
    touch = world.bob.call("schedule_job", job_request("b2", "node-1", "2031-03-01T10:01:00", END))
    assert touch.state == pb.SUCCESS, touch.message
    before = world.bob.call("schedule_job", job_request("b3", "node-1", "2031-03-01T09:59:00", END))
    assert before.state == pb.SUCCESS, before.message
    # the server node is occupied too
    on_server = world.bob.call(
        "schedule_job", job_request("b4", "node-2", "2031-03-01T10:00:10", END)
    )
    assert on_server.state == pb.FAILED and "jobid=job-a" in on_server.message
    # non-overhead jobs never conflict
    light = world.bob.call("schedule_job", job_request("b5", "node-1", START, END, overhead=False))
    assert light.state == pb.SUCCESS
    # a cron job clashing with the one-shot job
    cron = world.bob.call(
        "schedule_job",
        job_request(
            "b6",
            "node-1",
            "2031-03-01T00:00:00",
            "2031-03-02T00:00:00",
            type=pb.CRON,
            schedule="0 10 * * *",
            length_secs=30,
        ),
    )
    assert cron.state == pb.FAILED and "jobid=job-a" in cron.message


def test_dry_run_stores_nothing(world: World) -> None:
    before = world.orch.snapshot()
    resp = world.bob.call("schedule_job", job_request("dry", "node-3", START, END, dry_run=True))
    assert resp.state == pb.SUCCESS and resp.next_runs == ["2031-03-01T10:00:00Z"]
    assert world.orch.snapshot() == before


def test_job_listings(world: World) -> None:
    world.bob.call(
        "schedule_job",
        job_request(
            "b-old",
            "node-3",
            "2020-01-01T00:00:00",
            "2020-01-02T00:00:00",
            type=pb.CRON,
            schedule="0 * * * *",
        ),
    )
    by_user = world.bob.call("get_jobs_by_userid", pb.message_get_jobs_by_userid(userid=""))
    assert [j.id for j in by_user.jobs] == ["b-old"]  # history stays queryable
    assert (
        world.bob.call("get_jobs_by_nodeid", pb.message_get_jobs_by_nodeid(nodeid="node-3")).jobs
        == []
    )  # expired: not for nodes
    all_jobs = world.admin.call("get_jobs_by_userid", pb.message_get_jobs_by_userid(userid=""))
    assert {j.id for j in all_jobs.jobs} == {"job-a", "b-old"} and all(
        not j.config for j in all_jobs.jobs
    )
    on_server = world.node2.call(
        "get_jobs_by_nodeid", pb.message_get_jobs_by_nodeid(nodeid="node-2")
    )
    as_dict = MessageToDict(on_server.jobs[0])
    for key in ("id", "nodeid", "userid", "startDate", "endDate", "lengthSecs", "params"):
        assert key in as_dict
    assert as_dict["server"] == "node-2"
    denied = world.bob.call("get_jobs_by_userid", pb.message_get_jobs_by_userid(userid="alice"))
    assert (denied.exists, denied.message) == (False, "permission denied: userid=bob and role=USER")


def test_get_job_by_id_missing(world: World) -> None:
    assert (
        MessageToDict(world.admin.call("get_job_by_id", pb.message_get_job_by_id(jobid="nope")))
        == {}
    )


def test_reschedule_nearest(world: World) -> None:
    world.bob.call(
        "schedule_job",
        job_request(
            "blocker", "node-2", "2031-03-01T10:30:00", "2031-03-01T11:30:00", length_secs=600
        ),
    )
    resp = world.node1.call(
        "reschedule_job_nearest",
        pb.message_reschedule_job(
            jobid="job-a", starttime="2031-03-01 10:29:00.123456", endtime=END
        ),
    )
    # Whole minutes from the start time on: 10:30 is free on node-1, but the server node-2 is
    # busy 10:30-10:40, so the earliest slot is 10:40.
    assert (
        resp.rescheduled
        and resp.message == "updated job schedule successfully; next_slot=2031-03-01 10:40:00"
    )
    job = world.alice.call("get_job_by_id", pb.message_get_job_by_id(jobid="job-a"))
    assert (job.start_date, job.end_date) == ("2031-03-01T10:40:00", END)  # end_date kept
    none = world.alice.call(
        "reschedule_job_nearest",
        pb.message_reschedule_job(
            jobid="job-a", starttime="2031-03-01T10:30:00", endtime="2031-03-01T10:40:30"
        ),
    )
    assert (none.rescheduled, none.message) == (
        False,
        "empty slot not found with the given constraints:start_time=2031-03-01T10:30:00 end_time=2031-03-01T10:40:30",
    )
    world.alice.call(
        "schedule_job", job_request("cr", "node-3", START, END, type=pb.CRON, schedule="0 * * * *")
    )
    not_atq = world.alice.call(
        "reschedule_job_nearest",
        pb.message_reschedule_job(jobid="cr", starttime=START, endtime=END),
    )
    assert (not_atq.rescheduled, not_atq.message) == (
        False,
        "only jobs of type 'atq' can be rescheduled.",
    )
    unknown = world.alice.call(
        "reschedule_job_nearest",
        pb.message_reschedule_job(jobid="zz", starttime=START, endtime=END),
    )
    assert (unknown.rescheduled, unknown.message) == (False, "job with the given id not found.")


def test_modify_job_all_or_nothing(world: World) -> None:
    world.bob.call("schedule_job", job_request("b1", "node-1", "2031-03-01T11:00:00", END))
    before = world.orch.snapshot()
    clash = world.alice.call(
        "modify_job", pb.message_modify_job(jobid="job-a", start_date="2031-03-01T11:00:30")
    )
    assert (
        clash.state == pb.FAILED
        and "schedule conflict:" in clash.message
        and clash.conflicts[0].jobid == "b1"
    )
    assert world.orch.snapshot() == before
    ok = world.alice.call(
        "modify_job", pb.message_modify_job(jobid="job-a", length_secs=120, trigger="utc_hour >= 3")
    )
    assert ok.state == pb.SUCCESS, ok.message
    job = world.alice.call("get_job_by_id", pb.message_get_job_by_id(jobid="job-a"))
    assert (job.length_secs, job.trigger, job.start_date) == (120, "utc_hour >= 3", START)
    empty = world.alice.call("modify_job", pb.message_modify_job())
    assert empty.state == pb.FAILED


def test_delete_job_messages(world: World) -> None:
    denied = world.bob.call("delete_job_by_id", pb.message_delete_job_by_id(jobid="job-a"))
    assert (denied.exists, denied.message) == (True, "permission denied: userid=bob and role=USER")
    missing_user = world.bob.call("delete_job_by_id", pb.message_delete_job_by_id(jobid="zz"))
    assert (missing_user.exists, missing_user.message) == (
        False,
        "job with jobid=zz does not exist",
    )
    missing_admin = world.admin.call("delete_job_by_id", pb.message_delete_job_by_id(jobid="zz"))
    assert (missing_admin.exists, missing_admin.message) == (
        False,
        "job with given jobid does not exist",
    )
    ok = world.alice.call("delete_job_by_id", pb.message_delete_job_by_id(jobid="job-a"))
    assert (ok.exists, ok.message) == (True, "deleted job successfully")


def test_delete_jobs_by_nodeid_keeps_server_role_jobs(world: World) -> None:
    world.bob.call(
        "schedule_job", job_request("b1", "node-2", "2031-04-01T10:00:00", "2031-04-01T11:00:00")
    )
    resp = world.admin.call(
        "delete_jobs_by_nodeid", pb.message_delete_jobs_by_nodeid(nodeid="node-2")
    )
    assert (resp.num_deleted, resp.message) == (1, "deleted records successfully")
    assert world.admin.call("get_job_by_id", pb.message_get_job_by_id(jobid="job-a")).exists


# ---------------------------------------------------------------------------- runs


def _run(
    runid: str, status: str, *, seq: int | None = None, start: str = "2031-03-01 10:00:00.250000"
) -> pb.message_update_run:
    run = pb.run_instance(
        runid=runid,
        jobid="job-a",
        nodeid="node-1",
        userid="forged",
        start_time=start,
        end_time=start,
        last_updated=start,
        status=status,
        status_message=f"{status} now",
    )
    if seq is not None:
        run.seq = seq
    return pb.message_update_run(run=run)


def test_update_run_upserts_and_keeps_order(world: World) -> None:
    assert (
        world.node1.call("update_run", _run("r1", "EXECUTING", seq=1)).message
        == "updated run successfully"
    )
    assert world.node1.call("update_run", _run("r1", "COMPLETE", seq=3)).state == pb.SUCCESS
    late = world.node1.call("update_run", _run("r1", "FINISHING", seq=2))  # a late retry
    assert late.state == pb.SUCCESS
    run = world.alice.call("get_runs", pb.message_get_runs(runid="r1")).runs[0]
    assert (run.status, run.userid, run.start_time) == (
        "COMPLETE",
        "alice",
        "2031-03-01 10:00:00.250000",
    )
    bad = world.node1.call("update_run", _run("r2", "EXECUTING", start="yesterday-ish"))
    assert bad.state == pb.FAILED and "run.start_time" in bad.message
    node = world.admin.call("get_nodes", pb.message_get_nodes(nodeid="node-1")).nodes[0]
    assert not node.last_active.startswith("2020-01-01")  # a run update marks the node active


def test_get_runs_filters_order_and_limit(world: World) -> None:
    for i in range(5):
        world.node1.call(
            "update_run",
            _run(f"r{i}", "COMPLETE" if i % 2 else "FAILED", start=f"2031-03-01 10:0{i}:00"),
        )
    runs = world.alice.call("get_runs", pb.message_get_runs()).runs
    assert [r.runid for r in runs] == ["r4", "r3", "r2", "r1", "r0"]  # newest first
    assert [r.runid for r in world.alice.call("get_runs", pb.message_get_runs(limit=2)).runs] == [
        "r4",
        "r3",
    ]
    window = pb.message_time_range(start="2031-03-01T10:01:00", end="2031-03-01 10:03:00")
    assert [
        r.runid for r in world.alice.call("get_runs", pb.message_get_runs(time_range=window)).runs
    ] == ["r3", "r2", "r1"]
    assert [
        r.runid for r in world.alice.call("get_runs", pb.message_get_runs(status="FAILED")).runs
    ] == ["r4", "r2", "r0"]
    resp, trailers = world.alice.call_with_trailers(
        "get_runs", pb.message_get_runs(time_range=pb.message_time_range(start="garbage"))
    )
    assert resp.runs == [] and "time_range.start" in trailers["x-leoscope-error"]


# ---------------------------------------------------------------------------- calendar


def test_scheduled_runs(world: World) -> None:
    world.bob.call(
        "schedule_job",
        job_request(
            "c1",
            "node-1",
            "2031-03-01T00:00:00",
            "2031-03-01T12:00:00",
            type=pb.CRON,
            schedule="0 * * * *",
            length_secs=30,
            overhead=False,
        ),
    )
    resp = world.bob.call(
        "get_scheduled_runs",
        pb.message_get_scheduled_runs(
            nodeid="node-1", start="2031-03-01T08:00:00", end="2031-03-01T10:00:00"
        ),
    )
    assert resp.message == "success"
    got = [(e.title, e.start, e.end, e.type, e.id) for e in resp.events]
    assert got == [
        ("c1", "2031-03-01 08:00:00", "2031-03-01 08:00:30", "cron", 0),
        ("c1", "2031-03-01 09:00:00", "2031-03-01 09:00:30", "cron", 1),
        ("c1", "2031-03-01 10:00:00", "2031-03-01 10:00:30", "cron", 2),
        ("job-a", "2031-03-01 10:00:00", "2031-03-01 10:01:00", "atq", 3),
    ]
    bad = world.bob.call(
        "get_scheduled_runs", pb.message_get_scheduled_runs(nodeid="node-1", start=END, end=START)
    )
    assert (
        bad.state == pb.FAILED
        and bad.message.endswith("error: end must be greater than start")
        and not bad.events
    )


def test_scheduled_runs_are_capped(world: World) -> None:
    world.bob.call(
        "schedule_job",
        job_request(
            "dense",
            "node-3",
            "2031-03-01T00:00:00",
            "2031-03-10T00:00:00",
            type=pb.CRON,
            schedule="* * * * *",
            length_secs=1,
            overhead=False,
        ),
    )
    resp = world.bob.call(
        "get_scheduled_runs",
        pb.message_get_scheduled_runs(
            nodeid="node-3", start="2031-03-01T00:00:00", end="2031-03-10T00:00:00"
        ),
    )
    assert (
        resp.state == pb.SUCCESS
        and resp.truncated
        and len(resp.events) == 10_000
        and "cap" in resp.message
    )


def test_find_free_slot(world: World) -> None:
    resp = world.bob.call(
        "find_free_slot",
        pb.message_find_free_slot(
            nodeids=["node-1", "node-3"],
            length_secs=60,
            not_before="2031-03-01T10:00:00",
            not_after=END,
        ),
    )
    assert [(s.nodeid, s.found, s.start) for s in resp.slots] == [
        ("node-1", True, "2031-03-01T10:01:00Z"),
        ("node-3", True, "2031-03-01T10:00:00Z"),
    ]
    by_location = world.bob.call(
        "find_free_slot",
        pb.message_find_free_slot(location="lab", length_secs=60, not_before=START, not_after=END),
    )
    assert {s.nodeid for s in by_location.slots} == {"node-1", "node-2", "node-3"}
    bad = world.bob.call(
        "find_free_slot",
        pb.message_find_free_slot(
            nodeids=["node-1"], length_secs=0, not_before=START, not_after=END
        ),
    )
    assert bad.state == pb.FAILED and bad.field == "length_secs"


# ---------------------------------------------------------------------------- tasks


def _task(taskid: str, ttl: int = 0, type: int = pb.SERVER_START) -> pb.message_schedule_task:
    return pb.message_schedule_task(
        task=pb._task(
            type=type,
            taskid=taskid,
            runid="r1",
            jobid="job-a",
            nodeid="node-2",
            ttl_secs=ttl,
            status=pb.TASK_COMPLETE,
        )
    )


def test_tasks(world: World) -> None:
    assert world.node1.call("schedule_task", _task("t1")).message == "task successfully scheduled"
    dup = world.node1.call("schedule_task", _task("t1"))
    assert (dup.state, dup.message) == (pb.FAILED, "task with the given id exists")
    wrong_node = world.node1.call(
        "schedule_task",
        pb.message_schedule_task(
            task=pb._task(
                type=pb.SERVER_START, taskid="t9", runid="r", jobid="job-a", nodeid="node-3"
            )
        ),
    )
    assert wrong_node.state == pb.FAILED and "server node" in wrong_node.message
    task = world.node2.call("get_tasks", pb.message_get_tasks(nodeid="node-2")).tasks[0]
    assert (task.status, task.ttl_secs) == (pb.TASK_SCHEDULED, 300)  # status forced, ttl 0 -> 300
    assert MessageToDict(task).keys() >= {"type", "taskid", "runid", "jobid", "nodeid", "ttlSecs"}
    assert (
        world.node2.call(
            "update_task", pb.message_update_task(taskid="t1", status=pb.TASK_COMPLETE)
        ).message
        == "updated task successfully"
    )
    assert [
        t.taskid
        for t in world.node1.call(
            "get_tasks", pb.message_get_tasks(taskid="t1", status=pb.TASK_COMPLETE)
        ).tasks
    ] == ["t1"]
    assert world.node1.call("get_tasks", pb.message_get_tasks(type=pb.SERVER_STOP)).tasks == []
    missing = world.node2.call(
        "update_task", pb.message_update_task(taskid="zz", status=pb.TASK_COMPLETE)
    )
    assert (missing.state, missing.message) == (pb.FAILED, "task with given id does not exist")


def test_tasks_expire_after_their_ttl(world: World) -> None:
    world.node1.call("schedule_task", _task("short", ttl=1))
    assert world.node2.call("get_tasks", pb.message_get_tasks(taskid="short")).tasks
    wait_for(
        lambda: not world.node2.call("get_tasks", pb.message_get_tasks(taskid="short")).tasks,
        timeout=5,
    )


# ---------------------------------------------------------------------------- kernel


def test_kernel_access_strings(world: World) -> None:
    granted = world.node1.call("kernel_access", pb.message_kernel_access(userid="priv"))
    assert (granted.state, granted.message) == (
        pb.SUCCESS,
        "userid=priv role=USER_PRIV has access to kernel services",
    )
    refused = world.node1.call("kernel_access", pb.message_kernel_access(userid="alice"))
    assert (refused.state, refused.message) == (
        pb.FAILED,
        "userid=alice role=USER does not have access to kernel services (higher access level required)",
    )
    unknown = world.node1.call("kernel_access", pb.message_kernel_access(userid="ghost"))
    assert (unknown.state, unknown.message) == (pb.FAILED, "userid=ghost does not exist")


def test_quiet_hours_warn_at_schedule_time(world: World) -> None:
    ok = world.admin.call(
        "update_node", pb.message_update_node(nodeid="node-3", quiet_hours="0 18 * * *@120")
    )
    assert ok.state == pb.SUCCESS, ok.message
    inside = world.bob.call(
        "schedule_job",
        job_request("evening", "node-3", "2031-03-01T19:00:00", "2031-03-01T20:00:00"),
    )
    assert inside.state == pb.SUCCESS
    assert inside.warnings and "quiet hours of node node-3" in inside.warnings[0]
    outside = world.bob.call(
        "schedule_job",
        job_request("morning", "node-3", "2031-03-01T09:00:00", "2031-03-01T10:00:00"),
    )
    assert outside.state == pb.SUCCESS and list(outside.warnings) == []
    light = world.bob.call(
        "schedule_job",
        job_request(
            "light", "node-3", "2031-03-01T19:30:00", "2031-03-01T20:00:00", overhead=False
        ),
    )
    assert list(light.warnings) == []  # scavenger mode never stops non-overhead jobs
