"""A small populated testbed: the principals of the authorization matrix."""

from __future__ import annotations

from dataclasses import dataclass

from leoscope.api import leotest_pb2 as pb
from tests.harness import Caller, RunningOrchestrator

START = "2031-03-01T10:00:00"
END = "2031-03-01T12:00:00"


@dataclass
class World:
    orch: RunningOrchestrator
    admin: Caller
    alice: Caller  # USER, owns job "job-a"
    bob: Caller  # USER, owns nothing
    priv: Caller  # USER_PRIV
    node1: Caller  # NODE, runs job-a (client side)
    node2: Caller  # NODE, server side of job-a
    node3: Caller  # NODE, unrelated
    nodepriv: Caller  # NODE_PRIV principal
    bad_token: Caller
    no_token: Caller

    def close(self) -> None:
        for c in (
            self.admin,
            self.alice,
            self.bob,
            self.priv,
            self.node1,
            self.node2,
            self.node3,
            self.nodepriv,
            self.bad_token,
            self.no_token,
        ):
            c.close()


def build_world(orch: RunningOrchestrator, with_job: bool = True) -> World:
    admin = orch.admin()
    tokens = {
        "alice": admin.register_user("alice"),
        "bob": admin.register_user("bob"),
        "priv": admin.register_user("priv", role=pb.USER_PRIV),
        "node-1": admin.register_node("node-1"),
        "node-2": admin.register_node("node-2"),
        "node-3": admin.register_node("node-3"),
        "nodepriv": admin.register_user("nodepriv", role=pb.NODE_PRIV),
    }
    world = World(
        orch=orch,
        admin=admin,
        alice=orch.caller("alice", tokens["alice"]),
        bob=orch.caller("bob", tokens["bob"]),
        priv=orch.caller("priv", tokens["priv"]),
        node1=orch.caller("node-1", tokens["node-1"]),
        node2=orch.caller("node-2", tokens["node-2"]),
        node3=orch.caller("node-3", tokens["node-3"]),
        nodepriv=orch.caller("nodepriv", tokens["nodepriv"]),
        bad_token=orch.caller("alice", "0" * 64),
        no_token=orch.caller("", ""),
    )
    if with_job:
        from tests.harness import job_request

        resp = world.alice.call(
            "schedule_job", job_request("job-a", "node-1", START, END, server="node-2")
        )
        assert resp.state == pb.SUCCESS, resp.message
    return world
