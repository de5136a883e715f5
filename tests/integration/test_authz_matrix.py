"""Every RPC x every kind of caller, checked against an expectation table written here.

The table below is deliberately independent of orchestrator/auth.py: it is the rule set of the
issue (and of wire contract §4.2) written out by hand. A change to the rules that doesn't match
it fails here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from leoscope.api import leotest_pb2 as pb
from leoscope.orchestrator.auth import RULES
from leoscope.orchestrator.service import UNARY_RPCS
from tests.harness import RunningOrchestrator, job_request
from tests.integration.world import END, START, World, build_world

PRINCIPALS = ("admin", "alice", "bob", "priv", "node1", "node2", "node3", "nodepriv")
ALL = set(PRINCIPALS)
ADMIN = {"admin"}
EXPERIMENTERS = {"admin", "alice", "bob", "priv"}
NODES = {"node1", "node2", "node3", "nodepriv"}


def _state(resp: Any) -> str:
    if resp.state == pb.SUCCESS:
        return "ok"
    assert resp.message.startswith("permission denied: userid="), resp.message
    return "denied"


def _bool(field: str) -> Callable[[Any], str]:
    return lambda resp: "ok" if getattr(resp, field) else "denied"


def _count(field: str) -> Callable[[Any], Any]:
    return lambda resp: len(getattr(resp, field))


# rpc -> (request factory(who), classifier(response), expectation)
# An expectation is a set of principals that are allowed, or a dict of principal -> value.
Case = tuple[Callable[[str], Any], Callable[[Any], Any], Any]

CASES: dict[str, Case] = {
    "report_heartbeat": (
        lambda w: pb.message_heartbeat(nodeid="node-1"),
        _bool("received"),
        {"node1"},
    ),
    "update_global_config": (
        lambda w: pb.message_update_global_config(
            config=pb.settings(weather=pb.weather_api_settings(apikey=f"k-{w}"))
        ),
        _state,
        ADMIN,
    ),
    "get_global_config": (
        lambda w: pb.message_get_global_config(),
        lambda r: "full" if r.config.weather.apikey == "secret-key" else "masked",
        {p: ("full" if p in ADMIN | NODES else "masked") for p in PRINCIPALS},
    ),
    "register_user": (
        lambda w: pb.message_register_user(id=f"new-{w}", name="n", role=pb.USER),
        _state,
        ADMIN,
    ),
    "get_user": (
        lambda w: pb.message_get_user(userid="alice"),
        _bool("exists"),
        {"admin", "alice"},
    ),
    "modify_user": (
        lambda w: pb.message_modify_user(id="bob", name="Bob", role=pb.USER, team="x"),
        _state,
        ADMIN,
    ),
    "delete_user": (lambda w: pb.message_delete_user(userid=f"victim-{w}"), _state, ADMIN),
    "get_users": (lambda w: pb.message_get_users(), lambda r: "ok", ADMIN),
    "whoami": (lambda w: pb.message_whoami(), lambda r: "ok", ALL),
    "schedule_job": (
        lambda w: job_request(
            f"j-{w}",
            "node-3",
            f"2031-04-0{1 + PRINCIPALS.index(w)}T10:00:00",
            f"2031-04-0{1 + PRINCIPALS.index(w)}T11:00:00",
        ),
        _state,
        EXPERIMENTERS,
    ),
    "get_job_by_id": (
        lambda w: pb.message_get_job_by_id(jobid="job-a"),
        lambda r: "ok" if r.exists and r.config else "denied",
        {"admin", "alice", "node1", "node2"},
    ),
    "get_jobs_by_userid": (
        lambda w: pb.message_get_jobs_by_userid(userid="alice"),
        lambda r: "ok" if r.exists else "denied",
        {"admin", "alice"},
    ),
    "get_jobs_by_nodeid": (
        lambda w: pb.message_get_jobs_by_nodeid(nodeid="node-1"),
        lambda r: "ok" if r.exists and not r.jobs[0].config else "denied",
        ALL,
    ),
    "reschedule_job_nearest": (
        lambda w: pb.message_reschedule_job(jobid="job-a", starttime=START, endtime=END),
        lambda r: (
            "ok" if r.rescheduled else ("denied" if "permission denied" in r.message else r.message)
        ),
        {"admin", "alice", "node1", "node2"},
    ),
    "modify_job": (
        lambda w: pb.message_modify_job(jobid="job-a", trigger="utc_hour >= 0"),
        _state,
        {"admin", "alice"},
    ),
    "delete_job_by_id": (
        lambda w: pb.message_delete_job_by_id(jobid=f"d-{w}"),
        lambda r: (
            "denied" if "permission denied" in r.message else ("ok" if r.exists else r.message)
        ),
        {"admin", "alice"},
    ),
    "delete_jobs_by_nodeid": (
        lambda w: pb.message_delete_jobs_by_nodeid(nodeid="node-3"),
        lambda r: "denied" if "permission denied" in r.message else "ok",
        ADMIN,
    ),
    "update_run": (
        lambda w: pb.message_update_run(
            run=pb.run_instance(
                runid=f"run-{w}",
                jobid="job-a",
                nodeid="node-1",
                userid="alice",
                start_time=START,
                end_time=START,
                last_updated=START,
                status="EXECUTING",
            )
        ),
        _state,
        {"admin", "node1", "node2"},
    ),
    "get_runs": (
        lambda w: pb.message_get_runs(),
        _count("runs"),
        {
            "admin": 2,
            "alice": 1,
            "bob": 1,
            "priv": 0,
            "node1": 1,
            "node2": 1,
            "node3": 1,
            "nodepriv": 0,
        },
    ),
    "get_scheduled_runs": (
        lambda w: pb.message_get_scheduled_runs(nodeid="node-1", start=START, end=END),
        lambda r: "ok" if r.state == pb.SUCCESS and r.events else "denied",
        ALL,
    ),
    "find_free_slot": (
        lambda w: pb.message_find_free_slot(
            nodeids=["node-1"], length_secs=60, not_before=START, not_after=END
        ),
        lambda r: "ok" if r.slots and r.slots[0].found else "denied",
        ALL,
    ),
    "register_node": (
        lambda w: pb.message_register_node(
            node=pb._node(nodeid=f"n-{w}", coords="1,2", location="x")
        ),
        _state,
        ADMIN,
    ),
    "get_nodes": (lambda w: pb.message_get_nodes(), lambda r: "ok" if r.nodes else "denied", ALL),
    "update_node": (
        lambda w: pb.message_update_node(nodeid="node-1", location="elsewhere"),
        _state,
        {"admin", "node1"},
    ),
    "delete_node": (lambda w: pb.message_delete_node(nodeid=f"dn-{w}"), _state, ADMIN),
    "set_scavenger_status": (
        lambda w: pb.message_set_scavenger_status(nodeid="node-1", scavenger_mode_active=True),
        _state,
        {"admin", "node1"},
    ),
    "get_scavenger_status": (
        lambda w: pb.message_get_scavenger_status(nodeid="node-1"),
        lambda r: "ok" if r.node_exists else "denied",
        {"admin", "node1"},
    ),
    "schedule_task": (
        lambda w: pb.message_schedule_task(
            task=pb._task(
                type=pb.SERVER_START,
                taskid=f"t-{w}",
                runid="r1",
                jobid="job-a",
                nodeid="node-2",
                ttl_secs=60,
            )
        ),
        _state,
        {"admin", "node1"},
    ),
    "get_tasks": (
        lambda w: pb.message_get_tasks(),
        _count("tasks"),
        {
            "admin": 1,
            "alice": 0,
            "bob": 0,
            "priv": 0,
            "node1": 1,
            "node2": 1,
            "node3": 0,
            "nodepriv": 0,
        },
    ),
    "update_task": (
        lambda w: pb.message_update_task(taskid="t0", status=pb.TASK_COMPLETE),
        _state,
        {"admin", "node2"},
    ),
    "kernel_access": (
        lambda w: pb.message_kernel_access(userid="priv"),
        _state,
        {"admin", "node1", "node2", "node3", "nodepriv"},
    ),
}

# Artifact URL RPCs are covered by the artifact tests (they need a configured store).
NOT_IN_MATRIX = {"get_upload_url", "get_download_url"}


def test_matrix_covers_every_rpc() -> None:
    assert set(CASES) | NOT_IN_MATRIX == set(UNARY_RPCS)
    assert set(RULES) >= set(UNARY_RPCS) | {"watch_node"}


def _prepare(world: World) -> None:
    admin = world.admin
    ok = admin.call(
        "update_global_config",
        pb.message_update_global_config(
            config=pb.settings(
                datastore=pb.datastore_settings(
                    blob=pb.blob_settings(
                        connectionString="cs", container="c", artifactPath="jobs/"
                    )
                ),
                weather=pb.weather_api_settings(apikey="secret-key"),
            )
        ),
    )
    assert ok.state == pb.SUCCESS
    bob_job = world.bob.call(
        "schedule_job", job_request("job-b", "node-3", "2031-05-01T10:00:00", "2031-05-01T11:00:00")
    )
    assert bob_job.state == pb.SUCCESS, bob_job.message
    for who in PRINCIPALS:
        admin.register_user(f"victim-{who}")
        admin.register_node(f"dn-{who}")
        resp = world.alice.call(
            "schedule_job",
            job_request(
                f"d-{who}",
                "node-3",
                f"2031-06-0{1 + PRINCIPALS.index(who)}T10:00:00",
                f"2031-06-0{1 + PRINCIPALS.index(who)}T11:00:00",
                overhead=False,
            ),
        )
        assert resp.state == pb.SUCCESS, resp.message
    for caller, runid, jobid, nodeid in (
        (world.node1, "r-a", "job-a", "node-1"),
        (world.node3, "r-b", "job-b", "node-3"),
    ):
        run = pb.run_instance(
            runid=runid,
            jobid=jobid,
            nodeid=nodeid,
            userid="x",
            start_time=START,
            end_time=START,
            last_updated=START,
            status="EXECUTING",
        )
        assert caller.call("update_run", pb.message_update_run(run=run)).state == pb.SUCCESS
    task = pb._task(
        type=pb.SERVER_START, taskid="t0", runid="r-a", jobid="job-a", nodeid="node-2", ttl_secs=300
    )
    assert (
        world.node1.call("schedule_task", pb.message_schedule_task(task=task)).state == pb.SUCCESS
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    orch = RunningOrchestrator(tmp_path_factory.mktemp("matrix"))
    w = build_world(orch)
    _prepare(w)
    yield w
    w.close()
    orch.stop()


def _outcome(world: World, who: str, rpc: str) -> Any:
    make, classify, _ = CASES[rpc]
    caller = getattr(world, who)
    try:
        resp = caller.call(rpc, make(who))
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.PERMISSION_DENIED:
            return "denied"
        raise
    return classify(resp)


# Read-only RPCs first and state-changing ones last, in a fixed order, so that one row's
# effect cannot change another's outcome (delete_jobs_by_nodeid runs after schedule_job...).
ORDER = sorted(CASES, key=lambda r: (r in ("delete_jobs_by_nodeid", "update_task"), r))


@pytest.mark.parametrize("rpc", ORDER)
def test_rpc_authorization(world: World, rpc: str) -> None:
    expected = CASES[rpc][2]
    got = {who: _outcome(world, who, rpc) for who in PRINCIPALS}
    if isinstance(expected, dict):
        want = expected
    else:
        want = {who: ("ok" if who in expected else "denied") for who in PRINCIPALS}
    assert got == want


@pytest.mark.parametrize("rpc", sorted(CASES))
@pytest.mark.parametrize("who", ["bad_token", "no_token"])
def test_unauthenticated_callers_are_refused(world: World, rpc: str, who: str) -> None:
    caller = getattr(world, who)
    with pytest.raises(grpc.RpcError) as info:
        caller.call(rpc, CASES[rpc][0]("admin"))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert info.value.details() == "Invalid token"


@pytest.mark.parametrize("who", PRINCIPALS)
def test_watch_node_is_for_the_node_itself(world: World, who: str) -> None:
    caller = getattr(world, who)
    stream = caller.stub.watch_node(
        pb.message_watch_node(nodeid="node-1"), metadata=caller.metadata, timeout=5
    )
    try:
        first = next(stream)
        got = "ok" if first.kind == "hello" else first.kind
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.PERMISSION_DENIED
        got = "denied"
    finally:
        stream.cancel()
    assert got == ("ok" if who in ("admin", "node1") else "denied")
