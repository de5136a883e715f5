"""Bad input on every RPC: a clear refusal that names the field, and nothing changes.

Refusals on reference RPCs arrive inside the response under status OK (state=FAILED,
exists=false, ...), never as an error status and never UNKNOWN; the offending field also travels
in the `x-leoscope-field` trailer, and the message names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from leoscope.api import leotest_pb2 as pb
from tests.harness import RunningOrchestrator, job_request, postgres_schema_url
from tests.integration.conftest import postgres_available
from tests.integration.world import END, START, World, build_world
from tests.services import require


def sj(**fields: Any) -> pb.message_schedule_job:
    base = {"jobid": "new-job", "nodeid": "node-3", "start": START, "end": END}
    for key in list(base):
        if key in fields:
            base[key] = fields.pop(key)
    return job_request(base["jobid"], base["nodeid"], base["start"], base["end"], **fields)


def run(**fields: Any) -> pb.message_update_run:
    values = {
        "runid": "r-1",
        "jobid": "job-a",
        "nodeid": "node-1",
        "userid": "alice",
        "start_time": START,
        "end_time": START,
        "last_updated": START,
        "status": "EXECUTING",
    }
    values.update(fields)
    return pb.message_update_run(run=pb.run_instance(**values))


BIG = "x: " + "y" * (1024 * 1024 + 10)

# (caller, rpc, request, field named in the refusal)
CASES: list[tuple[str, str, Any, str]] = [
    ("admin", "register_user", pb.message_register_user(id="", name="n"), "id"),
    ("admin", "register_user", pb.message_register_user(id="a b;rm -rf /", name="n"), "id"),
    ("admin", "register_user", pb.message_register_user(id="ok", role=9), "role"),
    ("admin", "register_user", pb.message_register_user(id="ok", name="bad\x01name"), "name"),
    ("admin", "register_user", pb.message_register_user(id="ok", team="t" * 300), "team"),
    ("admin", "get_user", pb.message_get_user(userid=""), "userid"),
    ("admin", "modify_user", pb.message_modify_user(id="alice", role=7), "role"),
    ("admin", "modify_user", pb.message_modify_user(id="", role=1), "id"),
    ("admin", "delete_user", pb.message_delete_user(userid="$(reboot)"), "userid"),
    ("alice", "schedule_job", sj(jobid="bad id"), "id"),
    ("alice", "schedule_job", sj(jobid="x`id`"), "id"),
    ("alice", "schedule_job", sj(nodeid="ghost"), "nodeid"),
    ("alice", "schedule_job", sj(server="node-3"), "server"),
    ("alice", "schedule_job", sj(server="ghost"), "server"),
    ("alice", "schedule_job", sj(type=7), "type"),
    ("alice", "schedule_job", sj(type=pb.CRON, schedule=""), "schedule"),
    ("alice", "schedule_job", sj(type=pb.CRON, schedule="* * *"), "schedule"),
    ("alice", "schedule_job", sj(type=pb.CRON, schedule="61 * * * *"), "schedule"),
    ("alice", "schedule_job", sj(type=pb.CRON, schedule="* * * * * *"), "schedule"),
    ("alice", "schedule_job", sj(start="2031-13-01T00:00:00"), "start_date"),
    ("alice", "schedule_job", sj(start=""), "start_date"),
    ("alice", "schedule_job", sj(end="2031-03-01 10:00:00; reboot"), "end_date"),
    ("alice", "schedule_job", sj(end="2031-03-01T09:00:00"), "end_date"),
    ("alice", "schedule_job", sj(length_secs=0), "length_secs"),
    ("alice", "schedule_job", sj(length_secs=-5), "length_secs"),
    ("alice", "schedule_job", sj(config=""), "config"),
    ("alice", "schedule_job", sj(config="docker: [unclosed"), "config"),
    ("alice", "schedule_job", sj(config="just a string"), "config"),
    ("alice", "schedule_job", sj(config=BIG), "config"),
    (
        "alice",
        "schedule_job",
        sj(config="docker: {image: x}\nkernel: {vm.swappiness: 1}"),
        "config",
    ),
    (
        "alice",
        "schedule_job",
        sj(params=pb.job_params(mode="docker", deploy="'; rm -rf /'")),
        "params.deploy",
    ),
    ("alice", "schedule_job", sj(params=pb.job_params(mode="shell")), "params.mode"),
    (
        "alice",
        "schedule_job",
        sj(type=pb.CRON, schedule="0 * * * *", timezone="Mars/Olympus"),
        "timezone",
    ),
    ("alice", "schedule_job", sj(trigger="satelite_elevation > 40"), "trigger"),
    ("alice", "schedule_job", sj(trigger="pop_ping_latency_ms <"), "trigger"),
    ("alice", "schedule_job", sj(trigger_wait_secs=600), "trigger_wait_secs"),
    (
        "alice",
        "schedule_job",
        sj(start="2020-01-01T00:00:00", end="2020-01-01T01:00:00"),
        "start_date",
    ),
    (
        "alice",
        "schedule_job",
        sj(type=pb.CRON, schedule="* * * * *", length_secs=120),
        "length_secs",
    ),
    ("alice", "get_job_by_id", pb.message_get_job_by_id(jobid=""), "jobid"),
    ("admin", "get_jobs_by_userid", pb.message_get_jobs_by_userid(userid="a b"), "userid"),
    ("alice", "get_jobs_by_nodeid", pb.message_get_jobs_by_nodeid(nodeid=""), "nodeid"),
    (
        "alice",
        "reschedule_job_nearest",
        pb.message_reschedule_job(jobid="job-a", starttime="soon", endtime=END),
        "starttime",
    ),
    (
        "alice",
        "reschedule_job_nearest",
        pb.message_reschedule_job(jobid="job-a", starttime=START, endtime="2031-02-30T00:00:00"),
        "endtime",
    ),
    ("alice", "modify_job", pb.message_modify_job(jobid=""), "jobid"),
    ("alice", "modify_job", pb.message_modify_job(jobid="job-a", length_secs=0), "length_secs"),
    ("alice", "modify_job", pb.message_modify_job(jobid="job-a", start_date="nope"), "start_date"),
    ("alice", "modify_job", pb.message_modify_job(jobid="job-a", config="- a list"), "config"),
    ("alice", "delete_job_by_id", pb.message_delete_job_by_id(jobid=""), "jobid"),
    ("admin", "delete_jobs_by_nodeid", pb.message_delete_jobs_by_nodeid(nodeid=""), "nodeid"),
    ("node1", "update_run", pb.message_update_run(), "run"),
    ("node1", "update_run", run(runid=""), "run.runid"),
    ("node1", "update_run", run(status=""), "run.status"),
    ("node1", "update_run", run(start_time=""), "run.start_time"),
    ("node1", "update_run", run(end_time="10 o'clock"), "run.end_time"),
    ("node1", "update_run", run(last_updated="2031-03-01 25:00:00"), "run.last_updated"),
    (
        "alice",
        "get_runs",
        pb.message_get_runs(time_range=pb.message_time_range(start="x")),
        "time_range.start",
    ),
    ("alice", "get_runs", pb.message_get_runs(limit=-1), "limit"),
    (
        "alice",
        "get_scheduled_runs",
        pb.message_get_scheduled_runs(nodeid="node-1", start="x", end=END),
        "start",
    ),
    (
        "alice",
        "get_scheduled_runs",
        pb.message_get_scheduled_runs(nodeid="node-1", start=END, end=START),
        "end",
    ),
    (
        "alice",
        "find_free_slot",
        pb.message_find_free_slot(
            nodeids=["node-1"], length_secs=0, not_before=START, not_after=END
        ),
        "length_secs",
    ),
    (
        "alice",
        "find_free_slot",
        pb.message_find_free_slot(
            nodeids=["node-1"], length_secs=60, not_before=END, not_after=START
        ),
        "not_after",
    ),
    (
        "alice",
        "find_free_slot",
        pb.message_find_free_slot(
            nodeids=["ghost"], length_secs=60, not_before=START, not_after=END
        ),
        "nodeids",
    ),
    (
        "admin",
        "register_node",
        pb.message_register_node(node=pb._node(nodeid="n x", coords="1,2")),
        "nodeid",
    ),
    (
        "admin",
        "register_node",
        pb.message_register_node(node=pb._node(nodeid="nx", coords="abc")),
        "coords",
    ),
    (
        "admin",
        "register_node",
        pb.message_register_node(node=pb._node(nodeid="nx", coords="91,0")),
        "coords",
    ),
    (
        "admin",
        "register_node",
        pb.message_register_node(node=pb._node(nodeid="nx", coords="")),
        "coords",
    ),
    (
        "admin",
        "register_node",
        pb.message_register_node(node=pb._node(nodeid="nx", coords="1,2", min_elevation_deg=95)),
        "min_elevation_deg",
    ),
    (
        "admin",
        "register_node",
        pb.message_register_node(node=pb._node(nodeid="nx", coords="1,2", quiet_hours="evenings")),
        "quiet_hours",
    ),
    ("alice", "get_nodes", pb.message_get_nodes(active=True, activeThres=-5), "activeThres"),
    ("admin", "update_node", pb.message_update_node(nodeid="node-1", coords="1;2"), "coords"),
    (
        "admin",
        "update_node",
        pb.message_update_node(nodeid="node-1", public_ip="not-an-ip"),
        "public_ip",
    ),
    (
        "admin",
        "update_node",
        pb.message_update_node(nodeid="node-1", last_active="later"),
        "last_active",
    ),
    ("admin", "update_node", pb.message_update_node(nodeid=""), "nodeid"),
    ("admin", "delete_node", pb.message_delete_node(nodeid=""), "nodeid"),
    ("admin", "set_scavenger_status", pb.message_set_scavenger_status(nodeid=""), "nodeid"),
    ("admin", "get_scavenger_status", pb.message_get_scavenger_status(nodeid=""), "nodeid"),
    ("node1", "schedule_task", pb.message_schedule_task(), "task"),
    (
        "node1",
        "schedule_task",
        pb.message_schedule_task(
            task=pb._task(
                type=pb.SERVER_START, taskid="", runid="r", jobid="job-a", nodeid="node-2"
            )
        ),
        "task.taskid",
    ),
    (
        "node1",
        "schedule_task",
        pb.message_schedule_task(
            task=pb._task(
                type=pb.TYPE_UNUSED, taskid="t", runid="r", jobid="job-a", nodeid="node-2"
            )
        ),
        "task.type",
    ),
    (
        "node1",
        "schedule_task",
        pb.message_schedule_task(
            task=pb._task(
                type=pb.SERVER_START,
                taskid="t",
                runid="r",
                jobid="job-a",
                nodeid="node-2",
                ttl_secs=-1,
            )
        ),
        "task.ttl_secs",
    ),
    (
        "node1",
        "schedule_task",
        pb.message_schedule_task(
            task=pb._task(
                type=pb.SERVER_START, taskid="t", runid="r", jobid="nope", nodeid="node-2"
            )
        ),
        "task.jobid",
    ),
    ("node1", "get_tasks", pb.message_get_tasks(type=9), "type"),
    ("node2", "update_task", pb.message_update_task(taskid="t0", status=5), "status"),
    ("node2", "update_task", pb.message_update_task(taskid="", status=pb.TASK_COMPLETE), "taskid"),
    ("node1", "kernel_access", pb.message_kernel_access(userid=""), "userid"),
    ("node1", "report_heartbeat", pb.message_heartbeat(nodeid=""), "nodeid"),
    (
        "node1",
        "get_upload_url",
        pb.message_get_upload_url(runid="", sha256="0" * 64, size=1),
        "runid",
    ),
    ("node1", "get_upload_url", pb.message_get_upload_url(runid="r", size=1), "sha256"),
    (
        "node1",
        "get_upload_url",
        pb.message_get_upload_url(runid="r", sha256="xyz", size=1),
        "sha256",
    ),
    ("node1", "get_upload_url", pb.message_get_upload_url(runid="r", sha256="0" * 64), "size"),
    ("alice", "get_download_url", pb.message_get_download_url(runid="a b"), "runid"),
    (
        "admin",
        "update_global_config",
        pb.message_update_global_config(
            config=pb.settings(
                datastore=pb.datastore_settings(store=pb.artifact_store_settings(url="ftp://x"))
            )
        ),
        "datastore.store.url",
    ),
]

# RPCs whose request has nothing that can be malformed.
NO_INPUT = {"get_global_config", "get_users", "whoami"}


def _refused(rpc: str, resp: Any) -> bool:
    for name in ("state",):
        if hasattr(resp, name) and resp.DESCRIPTOR.fields_by_name.get(name):
            return resp.state == pb.FAILED
    for name in ("exists", "received", "rescheduled", "found"):
        if name in resp.DESCRIPTOR.fields_by_name:
            return not getattr(resp, name)
    return True  # list RPCs: empty answer, reason in the trailer


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    if request.param == "sqlite":
        orch = RunningOrchestrator(tmp_path_factory.mktemp("badinput"))
        cleanup = None
    else:
        require(postgres_available(), "PostgreSQL")
        cleanup = postgres_schema_url()
        orch = RunningOrchestrator(tmp_path_factory.mktemp("badinput"), cleanup.__enter__())
    w = build_world(orch)
    task = pb._task(
        type=pb.SERVER_START, taskid="t0", runid="r", jobid="job-a", nodeid="node-2", ttl_secs=600
    )
    assert w.node1.call("schedule_task", pb.message_schedule_task(task=task)).state == pb.SUCCESS
    yield w
    w.close()
    orch.stop()
    if cleanup is not None:
        cleanup.__exit__(None, None, None)


def test_every_rpc_with_input_has_a_bad_input_case() -> None:
    from leoscope.orchestrator.service import UNARY_RPCS

    covered = {rpc for _, rpc, _, _ in CASES}
    assert covered | NO_INPUT == set(UNARY_RPCS)


@pytest.mark.parametrize(
    ("who", "rpc", "request_msg", "field"),
    CASES,
    ids=[f"{c[1]}-{c[3]}-{i}" for i, c in enumerate(CASES)],
)
def test_bad_input_is_refused_naming_the_field(
    world: World, who: str, rpc: str, request_msg: Any, field: str
) -> None:
    before = world.orch.snapshot()
    caller = getattr(world, who)
    try:
        resp, trailers = caller.call_with_trailers(rpc, request_msg)
    except grpc.RpcError as exc:  # pragma: no cover - the assertion explains
        pytest.fail(
            f"{rpc} answered with status {exc.code()} ({exc.details()}) instead of a refusal"
        )
    assert _refused(rpc, resp), resp
    assert trailers.get("x-leoscope-field") == field, trailers
    assert field in trailers["x-leoscope-error"]
    message = getattr(resp, "message", None)
    if message:
        assert field in message or field.split(".")[-1] in message, message
    assert world.orch.snapshot() == before
