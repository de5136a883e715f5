"""An unmodified reference client's view of our orchestrator.

The reference CLI, node scheduler/executor and web backend share one client wrapper. It dials a
TLS channel that trusts one PEM file and overrides the target name to `localhost`, attaches the
three credential headers through a call-credentials plugin, uses 5 s deadlines, and turns every
response into a dict with protobuf's JSON mapping (camelCase keys, defaults omitted), indexing keys
without fallbacks. `RefStyleClient` reproduces exactly that behaviour (our own code, written from
the wire contract), and the tests run every reference CLI action that reaches an RPC (reference
§2) plus a node's tick and executor sequence (wire contract §10), asserting the keys those
clients index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.json_format import MessageToDict, ParseDict

from leoscope.api import leotest_pb2 as pb
from leoscope.api import leotest_pb2_grpc as pb_grpc
from leoscope.orchestrator.certs import generate_self_signed
from tests.harness import EXPERIMENT_CONFIG, RunningOrchestrator


class _Credentials(grpc.AuthMetadataPlugin):
    def __init__(self, userid: str, token: str, jwt: str) -> None:
        self.values = (
            ("x-leotest-access-token", token),
            ("x-leotest-userid", userid),
            ("x-leotest-jwt-access-token", jwt),
        )

    def __call__(self, context: Any, callback: Any) -> None:
        callback(self.values, None)


class RefStyleClient:
    def __init__(
        self, port: int, cert: Path, userid: str = "admin", token: str = "", jwt: str = ""
    ) -> None:
        creds = grpc.composite_channel_credentials(
            grpc.ssl_channel_credentials(root_certificates=cert.read_bytes()),
            grpc.metadata_call_credentials(_Credentials(userid, token, jwt)),
        )
        self.channel = grpc.secure_channel(
            f"127.0.0.1:{port}", creds, options=[("grpc.ssl_target_name_override", "localhost")]
        )
        self.stub = pb_grpc.LeotestOrchestratorStub(self.channel)

    def __call__(self, rpc: str, **request: Any) -> dict[str, Any]:
        method = getattr(self.stub, rpc)
        input_type = (
            pb.DESCRIPTOR.services_by_name["LeotestOrchestrator"].methods_by_name[rpc].input_type
        )
        msg = ParseDict(request, getattr(pb, input_type.name)())
        return MessageToDict(method(msg, timeout=5))

    def close(self) -> None:
        self.channel.close()


def utcnow_str(delta: float = 0) -> str:
    """Python's str(datetime.utcnow()), as the reference node sends times."""
    return str(dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=delta))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningOrchestrator, Path]]:
    base = tmp_path_factory.mktemp("refclient")
    cert, key = generate_self_signed(base / "certs")
    orch = RunningOrchestrator(base / "orch", tls_cert=cert, tls_key=key)
    yield orch, cert
    orch.stop()


def test_reference_cli_actions(env: tuple[RunningOrchestrator, Path]) -> None:
    orch, cert = env
    admin = RefStyleClient(orch.port, cert, "admin", orch.admin_token)
    # config --action=update --path=global_config.json ; config --action=get
    config = {
        "datastore": {
            "blob": {
                "connectionString": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k",
                "container": "leotest",
                "artifactPath": "jobs/",
            }
        },
        "weather": {"apikey": "owm-key"},
    }
    assert admin("update_global_config", config=config) == {"message": "config updated"}
    assert admin("get_global_config")["config"] == config
    # user --action=register/get/modify/delete (role upper-cased into the enum)
    reply = admin("register_user", id="u1", name="User One", role="USER", team="lab")
    assert "state" not in reply and reply["message"].startswith("user registered access_token=")
    token = reply["message"].split("access_token=")[1]
    assert admin("get_user", userid="u1") == {
        "exists": True,
        "id": "u1",
        "name": "User One",
        "role": "USER",
        "team": "lab",
    }
    assert admin("modify_user", id="u1", name="U", role="USER_PRIV", team="x") == {
        "message": "user updated"
    }
    # node --action=register/get/update ; scavenger-set/unset
    reply = admin(
        "register_node",
        node={
            "nodeid": "n1",
            "name": "N1",
            "description": "Leopard Node",
            "coords": "47.6,-122.3",
            "location": "seattle",
            "provider": "starlink",
        },
    )
    assert reply["message"].startswith("node successfully registered access_token=")
    node_token = reply["message"].split("access_token=")[1]
    nodes = admin("get_nodes", nodeid="n1", active=False, activeThres=600)["nodes"]
    assert {"nodeid", "description", "location", "coords", "lastActive", "provider"} <= nodes[
        0
    ].keys()
    assert admin("update_node", nodeid="n1", location="redmond") == {
        "message": "updated node successfully"
    }
    assert admin("set_scavenger_status", nodeid="n1", scavenger_mode_active=True)[
        "message"
    ].startswith("updated")
    assert admin("set_scavenger_status", nodeid="n1", scavenger_mode_active=False)[
        "message"
    ].startswith("updated")
    # job --action=schedule (as user u1), get by id / node / user, run get, get-scheduled
    user = RefStyleClient(orch.port, cert, "u1", token)
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    end = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    params = {
        "mode": "docker",
        "deploy": "params_deploy",
        "execute": "params_execute",
        "finish": "params_finish",
    }
    reply = user(
        "schedule_job",
        id="cli-job",
        nodeid="n1",
        type="CRON",
        params=params,
        schedule="*/30 * * * *",
        start_date=start,
        end_date=end,
        length_secs=60,
        overhead=True,
        userid="u1",
        config=EXPERIMENT_CONFIG,
    )
    assert reply.get("state") != "FAILED", reply
    assert reply["message"] == "job successfully scheduled"
    job = user("get_job_by_id", jobid="cli-job")
    assert (
        job["config"] == EXPERIMENT_CONFIG and "T" in job["startDate"] and " " not in job["endDate"]
    )
    assert user("get_jobs_by_nodeid", nodeid="n1")["jobs"][0]["id"] == "cli-job"
    assert user("get_jobs_by_userid", userid="u1")["jobs"][0]["lengthSecs"] == 60
    assert user("get_runs", limit=3) == {}
    events = user("get_scheduled_runs", nodeid="n1", start=start, end=end)["events"]
    assert events[0]["type"] == "cron" and events[0]["title"] == "cli-job"
    # services --name kernel --action verify (run by a node)
    node = RefStyleClient(orch.port, cert, "n1", node_token)
    assert (
        node("kernel_access", userid="u1")["message"]
        == "userid=u1 role=USER_PRIV has access to kernel services"
    )
    # job --action=delete (by id, then by node), user delete, node delete
    assert user("delete_job_by_id", jobid="cli-job") == {
        "exists": True,
        "message": "deleted job successfully",
    }
    assert admin("delete_jobs_by_nodeid", nodeid="n1") == {
        "message": "deleted records successfully"
    }
    assert admin("delete_user", userid="u1") == {"message": "user deleted"}
    assert admin("delete_node", nodeid="n1", deleteJobs=True) == {"message": "node deleted"}
    for c in (admin, user, node):
        c.close()


def test_reference_node_tick_and_executor(env: tuple[RunningOrchestrator, Path]) -> None:
    orch, cert = env
    admin = RefStyleClient(orch.port, cert, "admin", orch.admin_token)
    admin(
        "update_global_config",
        config={
            "datastore": {
                "blob": {"connectionString": "cs", "container": "c", "artifactPath": "jobs/"}
            },
            "weather": {"apikey": "k"},
        },
    )
    tokens = {}
    for nodeid in ("client-node", "server-node"):
        reply = admin(
            "register_node",
            node={"nodeid": nodeid, "name": nodeid, "coords": "1.5,2.5", "location": "x"},
        )
        tokens[nodeid] = reply["message"].split("access_token=")[1]
    utoken = admin("register_user", id="exp", name="E", role="USER", team="t")["message"].split(
        "access_token="
    )[1]
    user = RefStyleClient(orch.port, cert, "exp", utoken)
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    end = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S")
    user(
        "schedule_job",
        id="paired",
        nodeid="client-node",
        type="ATQ",
        params={"mode": "docker", "deploy": "-", "execute": "-", "finish": "-"},
        start_date=start,
        end_date=end,
        length_secs=120,
        overhead=True,
        server="server-node",
        config=EXPERIMENT_CONFIG,
    )
    node = RefStyleClient(orch.port, cert, "client-node", tokens["client-node"])
    server = RefStyleClient(orch.port, cert, "server-node", tokens["server-node"])
    # start-up: global config (weather key) and its own record (coords)
    assert node("get_global_config")["config"]["weather"]["apikey"] == "k"
    lat, lon = node("get_nodes", nodeid="client-node")["nodes"][0]["coords"].split(",")
    # a tick
    assert node("report_heartbeat", nodeid="client-node") == {"received": True}
    assert (
        node("update_node", nodeid="client-node", public_ip="198.51.100.4")["message"]
        == "updated node successfully"
    )
    jobs = node("get_jobs_by_nodeid", nodeid="client-node")["jobs"]
    for key in ("id", "nodeid", "userid", "startDate", "endDate", "lengthSecs", "params"):
        assert key in jobs[0]
    assert (
        jobs[0]["type"] == "ATQ"
        and " " not in jobs[0]["startDate"]
        and "+" not in jobs[0]["startDate"]
    )
    assert node("get_tasks", nodeid="client-node") == {}
    assert node("get_scavenger_status", nodeid="client-node").get("found") is None  # absent = false
    # the executor of a paired run
    runid = "0f3c" + "0" * 28
    node("get_global_config")
    node("get_nodes", nodeid="server-node")
    job = node("get_job_by_id", jobid="paired")
    assert job["config"] and job["server"] == "server-node"
    t0 = utcnow_str()

    def report(
        status: str, message: str, who: RefStyleClient = node, rid: str = runid, **extra: Any
    ) -> None:
        reply = who(
            "update_run",
            run={
                "runid": rid,
                "jobid": "paired",
                "nodeid": "client-node",
                "userid": "exp",
                "start_time": t0,
                "end_time": t0,
                "last_updated": utcnow_str(),
                "blob_url": extra.get("blob_url", ""),
                "status": status,
                "status_message": message,
            },
        )
        assert reply == {"message": "updated run successfully"}, reply

    report("DEPLOYING", "Preparing environment for job execution: setting up server node.")
    assert (
        node(
            "schedule_task",
            task={
                "type": "SERVER_START",
                "taskid": "a" * 32,
                "runid": runid,
                "jobid": "paired",
                "nodeid": "server-node",
                "ttl_secs": 120,
            },
        )["message"]
        == "task successfully scheduled"
    )
    # the server node's tick sees the task, adopts the client run, reports <runid>_server
    task = server("get_tasks", nodeid="server-node")["tasks"][0]
    assert {"type", "taskid", "runid", "jobid", "nodeid", "ttlSecs"} <= task.keys() and task[
        "type"
    ] == "SERVER_START"
    client_run = server("get_runs", runid=runid)["runs"][0]
    assert {"startTime", "nodeid", "userid"} <= client_run.keys()
    report("EXECUTING", "Executing job.", who=server, rid=f"{runid}_server")
    assert (
        server("update_task", taskid="a" * 32, status="TASK_COMPLETE")["message"]
        == "updated task successfully"
    )
    assert node("get_tasks", taskid="a" * 32)["tasks"][0]["status"] == "TASK_COMPLETE"
    report("EXECUTING", "Executing job.")
    for step in ("stopping server", "removing routes.", "uploading artifacts."):
        report("FINISHING", f"Performing post-execution tasks: {step}")
    report(
        "FINISHING",
        "Performing post-execution tasks: Clearing artifacts from local storage.",
        blob_url="https://x/y.zip?sas",
    )
    report("COMPLETE", "Done executing the job.", blob_url="https://x/y.zip?sas")
    runs = user("get_runs", jobid="paired")["runs"]
    assert {r["runid"] for r in runs} == {runid, f"{runid}_server"}
    for r in runs:
        for key in (
            "runid",
            "jobid",
            "nodeid",
            "userid",
            "startTime",
            "endTime",
            "lastUpdated",
            "status",
            "statusMessage",
        ):
            assert key in r
    # scavenger at the start gate: reschedule the one-shot job 30 minutes ahead, end kept
    moved = node(
        "reschedule_job_nearest",
        jobid="paired",
        starttime=utcnow_str(1800),
        endtime=jobs[0]["endDate"],
    )
    assert moved["rescheduled"] is True and moved["message"].startswith(
        "updated job schedule successfully; next_slot="
    )
    after = node("get_jobs_by_nodeid", nodeid="client-node")["jobs"][0]
    assert after["endDate"] == end and " " not in after["startDate"]
    assert float(lat) == 1.5 and float(lon) == 2.5
    for c in (admin, user, node, server):
        c.close()
