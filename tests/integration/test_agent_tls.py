"""The agent over TLS: it trusts the deployment's certificate given with --tls-ca."""

from __future__ import annotations

import asyncio
from pathlib import Path

from leoscope.client import Client
from leoscope.node.agent import Agent
from leoscope.node.settings import resolve_settings
from leoscope.orchestrator.certs import generate_self_signed
from tests.fakes.waits import wait_until
from tests.harness import RunningOrchestrator


async def test_agent_connects_over_tls_with_the_deployment_certificate(tmp_path: Path) -> None:
    cert, key = generate_self_signed(tmp_path / "certs")
    orch = RunningOrchestrator(tmp_path / "orch", tls_cert=cert, tls_key=key)
    try:
        client = Client(f"localhost:{orch.port}", "admin", orch.admin_token, tls_ca=cert)
        token = client.register_node("tls-node", coords="1,2").token
        client.close()
        settings = resolve_settings(
            {
                "orchestrator": f"127.0.0.1:{orch.port}",  # dialled by address, checked as localhost
                "node_id": "tls-node",
                "token": token,
                "data_dir": str(tmp_path / "agent"),
                "tls_ca": str(cert),
                "tls_server_name": "localhost",
                "runtime": "process",
                "public_ip_url": "off",
            },
            env={},
        )
        assert settings.insecure is False
        agent = Agent(settings)
        task = asyncio.create_task(agent.run())
        await asyncio.wait_for(agent.ready.wait(), 20)
        await wait_until(lambda: agent.syncer.syncs >= 1, 5, "a sync over TLS")
        assert agent.syncer.reachable is True
        agent.stop()
        await asyncio.wait_for(task, 20)
    finally:
        orch.stop()
