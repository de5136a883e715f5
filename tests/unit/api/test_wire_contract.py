"""The proto stays a wire-compatible superset of the reference schema, and the committed stubs
match it.

REFERENCE below is the reference schema transcribed from the wire contract (§2, §3): every
message with its fields as (name, number, type, label). Our schema may add fields and messages,
never renumber or retype these.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from google.protobuf.descriptor import FieldDescriptor as FD

from leoscope.api import leotest_pb2 as pb

ROOT = Path(__file__).resolve().parents[3]

S, B, I32, ENUM, MSG = "string", "bool", "int32", "enum", "message"
OPT = "optional"

REFERENCE: dict[str, list[tuple]] = {
    "blob_settings": [("connectionString", 1, S), ("container", 2, S), ("artifactPath", 3, S)],
    "datastore_settings": [("blob", 1, MSG)],
    "weather_api_settings": [("apikey", 1, S)],
    "settings": [("datastore", 1, MSG), ("weather", 2, MSG)],
    "message_update_global_config": [("config", 1, MSG)],
    "message_update_global_config_response": [("state", 1, ENUM), ("message", 2, S)],
    "message_get_global_config": [],
    "message_get_global_config_response": [("config", 1, MSG)],
    "message_heartbeat": [("nodeid", 1, S)],
    "message_heartbeat_response": [("received", 1, B)],
    "message_register_user": [("id", 1, S), ("name", 2, S), ("role", 3, ENUM), ("team", 4, S)],
    "message_register_user_response": [("state", 1, ENUM), ("message", 2, S)],
    "message_get_user": [("userid", 1, S)],
    "message_get_user_response": [
        ("exists", 1, B),
        ("id", 2, S),
        ("name", 3, S),
        ("role", 4, ENUM),
        ("team", 5, S),
    ],
    "message_modify_user": [("id", 1, S), ("name", 2, S), ("role", 3, ENUM), ("team", 5, S)],
    "message_modify_user_response": [("state", 1, ENUM), ("message", 2, S)],
    "message_delete_user": [("userid", 1, S)],
    "message_delete_user_response": [("state", 1, ENUM), ("message", 2, S)],
    "job_params": [("mode", 1, S), ("deploy", 2, S), ("execute", 3, S), ("finish", 4, S)],
    "job_schedule_cron": [
        ("minute", 1, S),
        ("hour", 2, S),
        ("day_of_month", 3, S),
        ("month", 4, S),
        ("day_of_week", 5, S),
    ],
    "job": [
        ("id", 1, S),
        ("nodeid", 2, S),
        ("type", 3, ENUM),
        ("params", 4, MSG),
        ("schedule", 5, S),
        ("start_date", 6, S),
        ("end_date", 7, S),
        ("length_secs", 8, I32),
        ("overhead", 9, B),
        ("server", 10, S, OPT),
        ("trigger", 11, S, OPT),
        ("userid", 12, S),
        ("config", 13, S),
    ],
    "message_schedule_job": [
        ("id", 1, S),
        ("nodeid", 2, S),
        ("type", 3, ENUM),
        ("params", 4, MSG),
        ("schedule", 5, S),
        ("start_date", 6, S),
        ("end_date", 7, S),
        ("length_secs", 8, I32),
        ("overhead", 9, B),
        ("server", 10, S, OPT),
        ("trigger", 11, S, OPT),
        ("userid", 12, S),
        ("config", 13, S),
    ],
    "message_schedule_job_response": [("state", 1, ENUM), ("message", 2, S)],
    "message_get_job_by_id": [("jobid", 1, S)],
    "message_get_job_by_id_response": [
        ("exists", 1, B),
        ("id", 2, S),
        ("nodeid", 3, S),
        ("type", 4, ENUM),
        ("params", 5, MSG),
        ("schedule", 6, S),
        ("userid", 7, S),
        ("trigger", 8, S),
        ("config", 9, S),
        ("server", 10, S),
        ("overhead", 11, B),
        ("start_date", 12, S),
        ("end_date", 13, S),
    ],
    "message_get_jobs_by_userid": [("userid", 1, S)],
    "message_get_jobs_by_userid_response": [
        ("exists", 1, B),
        ("message", 2, S),
        ("jobs", 3, MSG, "repeated"),
    ],
    "message_get_jobs_by_nodeid": [("nodeid", 1, S)],
    "message_get_jobs_by_nodeid_response": [("exists", 1, B), ("jobs", 2, MSG, "repeated")],
    "message_reschedule_job": [("jobid", 1, S), ("starttime", 2, S), ("endtime", 3, S)],
    "message_reschedule_job_response": [("rescheduled", 1, B), ("message", 2, S)],
    "message_modify_job": [],
    "message_modify_job_response": [],
    "message_delete_job_by_id": [("jobid", 1, S)],
    "message_delete_job_by_id_response": [("exists", 1, B), ("message", 2, S)],
    "message_delete_jobs_by_nodeid": [("nodeid", 1, S)],
    "message_delete_jobs_by_nodeid_response": [("num_deleted", 1, I32), ("message", 2, S)],
    "run_instance": [
        ("runid", 1, S),
        ("jobid", 2, S),
        ("nodeid", 3, S),
        ("userid", 4, S),
        ("start_time", 5, S),
        ("end_time", 6, S),
        ("last_updated", 7, S),
        ("blob_url", 8, S),
        ("status", 9, S),
        ("status_message", 10, S),
    ],
    "message_update_run": [("run", 1, MSG)],
    "message_update_run_response": [("state", 1, ENUM), ("message", 2, S)],
    "message_time_range": [("start", 1, S), ("end", 2, S)],
    "message_get_runs": [
        ("runid", 1, S, OPT),
        ("jobid", 2, S, OPT),
        ("nodeid", 3, S, OPT),
        ("userid", 4, S, OPT),
        ("time_range", 5, MSG, OPT),
        ("limit", 6, I32, OPT),
    ],
    "message_get_runs_response": [("runs", 1, MSG, "repeated")],
    "run_event": [
        ("title", 1, S),
        ("id", 2, I32),
        ("start", 3, S),
        ("end", 4, S),
        ("type", 5, S),
        ("params", 6, MSG),
        ("schedule", 7, S),
        ("length", 8, I32),
        ("overhead", 9, B),
        ("trigger", 10, S),
        ("server", 11, S),
    ],
    "message_get_scheduled_runs": [("nodeid", 1, S), ("start", 2, S), ("end", 3, S)],
    "message_get_scheduled_runs_response": [
        ("state", 1, ENUM),
        ("message", 2, S),
        ("events", 3, MSG, "repeated"),
    ],
    "_node": [
        ("nodeid", 1, S),
        ("name", 2, S),
        ("description", 3, S),
        ("last_active", 4, S, OPT),
        ("coords", 5, S),
        ("location", 6, S),
        ("provider", 7, S),
        ("jobs", 8, S, OPT),
        ("scavenger_mode_active", 9, B),
        ("public_ip", 10, S),
    ],
    "message_register_node": [("node", 1, MSG)],
    "message_register_node_response": [("state", 1, ENUM), ("message", 2, S)],
    "message_update_node": [
        ("nodeid", 1, S),
        ("name", 2, S, OPT),
        ("description", 3, S, OPT),
        ("last_active", 4, S, OPT),
        ("coords", 5, S, OPT),
        ("location", 6, S, OPT),
        ("provider", 7, S, OPT),
        ("public_ip", 8, S, OPT),
    ],
    "message_update_node_response": [("state", 1, ENUM), ("message", 2, S)],
    "message_get_nodes": [
        ("nodeid", 1, S, OPT),
        ("location", 2, S, OPT),
        ("name", 3, S, OPT),
        ("provider", 4, S, OPT),
        ("active", 5, B, OPT),
        ("activeThres", 6, I32, OPT),
    ],
    "message_get_nodes_response": [("nodes", 1, MSG, "repeated")],
    "message_delete_node": [("nodeid", 1, S), ("deleteJobs", 2, B)],
    "message_delete_node_response": [("state", 1, ENUM), ("message", 2, S)],
    "message_get_scavenger_status": [("nodeid", 1, S)],
    "message_get_scavenger_status_response": [("found", 1, B), ("scavenger_mode_active", 2, B)],
    "message_set_scavenger_status": [("nodeid", 1, S), ("scavenger_mode_active", 2, B)],
    "message_set_scavenger_status_response": [("state", 1, ENUM), ("message", 2, S)],
    "_task": [
        ("type", 1, ENUM),
        ("taskid", 2, S),
        ("runid", 3, S),
        ("jobid", 4, S),
        ("nodeid", 5, S),
        ("status", 6, ENUM),
        ("ttl_secs", 7, I32),
    ],
    "message_schedule_task": [("task", 1, MSG)],
    "message_schedule_task_response": [("state", 1, ENUM), ("message", 2, S)],
    "message_get_tasks": [
        ("type", 1, ENUM, OPT),
        ("taskid", 2, S, OPT),
        ("runid", 3, S, OPT),
        ("jobid", 4, S, OPT),
        ("nodeid", 5, S, OPT),
        ("status", 6, ENUM, OPT),
    ],
    "message_get_tasks_response": [("tasks", 1, MSG, "repeated")],
    "message_update_task": [("taskid", 1, S), ("status", 2, ENUM)],
    "message_update_task_response": [("state", 1, ENUM), ("message", 2, S)],
    "message_kernel_access": [("userid", 1, S)],
    "message_kernel_access_response": [("state", 1, ENUM), ("message", 2, S)],
}

ENUMS = {
    "response_state": {"SUCCESS": 0, "FAILED": 1},
    "user_roles": {"ADMIN": 0, "USER": 1, "NODE": 2, "USER_PRIV": 3, "NODE_PRIV": 4},
    "job_type": {"CRON": 0, "ATQ": 1},
    "task_type": {"TYPE_UNUSED": 0, "SERVER_START": 1, "SERVER_STOP": 2},
    "task_status": {"STATUS_UNUSED": 0, "TASK_SCHEDULED": 1, "TASK_COMPLETE": 2},
}

RPCS = [
    ("report_heartbeat", "message_heartbeat", "message_heartbeat_response"),
    (
        "update_global_config",
        "message_update_global_config",
        "message_update_global_config_response",
    ),
    ("get_global_config", "message_get_global_config", "message_get_global_config_response"),
    ("register_user", "message_register_user", "message_register_user_response"),
    ("get_user", "message_get_user", "message_get_user_response"),
    ("modify_user", "message_modify_user", "message_modify_user_response"),
    ("delete_user", "message_delete_user", "message_delete_user_response"),
    ("schedule_job", "message_schedule_job", "message_schedule_job_response"),
    ("get_job_by_id", "message_get_job_by_id", "message_get_job_by_id_response"),
    ("get_jobs_by_userid", "message_get_jobs_by_userid", "message_get_jobs_by_userid_response"),
    ("get_jobs_by_nodeid", "message_get_jobs_by_nodeid", "message_get_jobs_by_nodeid_response"),
    ("reschedule_job_nearest", "message_reschedule_job", "message_reschedule_job_response"),
    ("modify_job", "message_modify_job", "message_modify_job_response"),
    ("delete_job_by_id", "message_delete_job_by_id", "message_delete_job_by_id_response"),
    (
        "delete_jobs_by_nodeid",
        "message_delete_jobs_by_nodeid",
        "message_delete_jobs_by_nodeid_response",
    ),
    ("update_run", "message_update_run", "message_update_run_response"),
    ("get_runs", "message_get_runs", "message_get_runs_response"),
    ("get_scheduled_runs", "message_get_scheduled_runs", "message_get_scheduled_runs_response"),
    ("register_node", "message_register_node", "message_register_node_response"),
    ("get_nodes", "message_get_nodes", "message_get_nodes_response"),
    ("update_node", "message_update_node", "message_update_node_response"),
    ("delete_node", "message_delete_node", "message_delete_node_response"),
    (
        "set_scavenger_status",
        "message_set_scavenger_status",
        "message_set_scavenger_status_response",
    ),
    (
        "get_scavenger_status",
        "message_get_scavenger_status",
        "message_get_scavenger_status_response",
    ),
    ("schedule_task", "message_schedule_task", "message_schedule_task_response"),
    ("get_tasks", "message_get_tasks", "message_get_tasks_response"),
    ("update_task", "message_update_task", "message_update_task_response"),
    ("kernel_access", "message_kernel_access", "message_kernel_access_response"),
]

TYPE_NAMES = {
    FD.TYPE_STRING: S,
    FD.TYPE_BOOL: B,
    FD.TYPE_INT32: I32,
    FD.TYPE_ENUM: ENUM,
    FD.TYPE_MESSAGE: MSG,
}


def test_package_and_service() -> None:
    assert pb.DESCRIPTOR.package == "unary"
    service = pb.DESCRIPTOR.services_by_name["LeotestOrchestrator"]
    assert service.full_name == "unary.LeotestOrchestrator"
    reference = [(m.name, m.input_type.name, m.output_type.name) for m in service.methods][
        : len(RPCS)
    ]
    assert reference == RPCS  # same names, same order, same messages
    for m in service.methods[: len(RPCS)]:
        assert not m.client_streaming and not m.server_streaming


def test_enums_exactly() -> None:
    for name, values in ENUMS.items():
        enum = pb.DESCRIPTOR.enum_types_by_name[name]
        assert {v.name: v.number for v in enum.values} == values


def test_reference_fields_kept() -> None:
    for name, fields in REFERENCE.items():
        message = pb.DESCRIPTOR.message_types_by_name[name]
        for spec in fields:
            fname, number, ftype = spec[:3]
            label = spec[3] if len(spec) > 3 else ""
            field = message.fields_by_name[fname]
            assert field.number == number, f"{name}.{fname}"
            assert TYPE_NAMES[field.type] == ftype, f"{name}.{fname}"
            assert field.is_repeated == (label == "repeated"), f"{name}.{fname}"
            if ftype != MSG and label != "repeated":
                assert field.has_presence == (label == OPT), f"{name}.{fname} presence"


def test_extensions_use_new_numbers_only() -> None:
    """Fields we added never reuse a number the reference declares in that message."""
    for name, fields in REFERENCE.items():
        message = pb.DESCRIPTOR.message_types_by_name[name]
        reference_names = {f[0] for f in fields}
        reference_numbers = {f[1] for f in fields}
        for field in message.fields:
            if field.name not in reference_names:
                assert field.number not in reference_numbers, f"{name}.{field.name}"
                assert field.number not in (4,) or name != "message_modify_user"


def test_committed_stubs_are_fresh(tmp_path: Path) -> None:
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "gen_proto.sh"), str(tmp_path)],
        check=True,
        env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
    )
    for generated in sorted(tmp_path.glob("leotest_pb2*")):
        committed = ROOT / "src" / "leoscope" / "api" / generated.name
        assert committed.read_text() == generated.read_text(), (
            f"{generated.name} is stale: run make proto"
        )
