"""grpcurl-style discovery works (health and reflection), and secrets never reach the logs."""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from leoscope.api import leotest_pb2 as pb
from tests.harness import RunningOrchestrator, job_request


def test_health_and_reflection(tmp_path: Path) -> None:
    orch = RunningOrchestrator(tmp_path)
    try:
        with grpc.insecure_channel(orch.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for service in ("", "unary.LeotestOrchestrator"):
                status = health.Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=5
                ).status
                assert status == health_pb2.HealthCheckResponse.SERVING
            reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            reply = next(reflect.ServerReflectionInfo(iter([request]), timeout=5))
            names = {s.name for s in reply.list_services_response.service}
            assert "unary.LeotestOrchestrator" in names
            symbol = reflection_pb2.ServerReflectionRequest(
                file_containing_symbol="unary.LeotestOrchestrator"
            )
            files = next(reflect.ServerReflectionInfo(iter([symbol]), timeout=5))
            assert files.file_descriptor_response.file_descriptor_proto
    finally:
        orch.stop()


def test_tokens_never_reach_the_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    orch = RunningOrchestrator(tmp_path, jwt_secret="s" * 40)
    try:
        admin = orch.admin()
        node_token = admin.register_node("node-1")
        user_token = admin.register_user("alice")
        alice = orch.caller("alice", user_token)
        alice.call(
            "schedule_job", job_request("j", "node-1", "2031-01-01T10:00:00", "2031-01-01T11:00:00")
        )
        with pytest.raises(grpc.RpcError):
            orch.caller("alice", "wrong-token-value").call("whoami", pb.message_whoami())
        with pytest.raises(grpc.RpcError):
            orch.caller("admin", "", "not.a.valid-jwt").call("whoami", pb.message_whoami())
        orch.caller("node-1", node_token).call(
            "report_heartbeat", pb.message_heartbeat(nodeid="node-1")
        )
    finally:
        orch.stop()
    text = caplog.text
    assert text  # the server did log (so the check below means something)
    for secret in (
        orch.admin_token,
        node_token,
        user_token,
        "wrong-token-value",
        "not.a.valid-jwt",
        "s" * 40,
    ):
        assert secret not in text
