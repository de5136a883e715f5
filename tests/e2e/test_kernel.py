"""Kernel settings for privileged experiments: in the container's own network namespace only,
checked against the owner's role when scheduled and again when the run starts."""

from __future__ import annotations

import asyncio
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from leoscope.client import Client
from leoscope.core.errors import InvalidInput, NotFound
from leoscope.core.model import Role
from leoscope.node.kernel import MSG_NEEDS_NAMESPACE
from leoscope.node.records import RunPhase
from tests.fakes.waits import wait_until
from tests.images import docker_client, ensure_image_with_cmd

from .conftest import EXECUTOR_CONFIG, Node, next_second, wait_for_run

HOST_CCA = Path("/proc/sys/net/ipv4/tcp_congestion_control")
CCA_SCRIPT = (
    "cat /proc/sys/net/ipv4/tcp_congestion_control > /artifacts/cca.txt; "
    "trap 'exit 0' TERM; sleep 2"
)


def host_cca() -> str:
    return HOST_CCA.read_text().strip()


@pytest.fixture(scope="module")
def cca_image(docker_ready: None) -> str:
    return ensure_image_with_cmd(["sh", "-c", CCA_SCRIPT])


@pytest.fixture
def bridge_config(tmp_path: Path) -> Path:
    path = tmp_path / "executor-config-bridge.yaml"
    path.write_text(
        EXECUTOR_CONFIG.replace("    cpus: 0.5\n", "    network: bridge\n    cpus: 0.5\n")
    )
    return path


@pytest.fixture
def researcher(orchestrator, admin: Client) -> Client:
    """A user with USER_PRIV, the role kernel settings need."""
    registered = admin.register_user("priv", role=Role.USER_PRIV)
    client = Client(orchestrator.address, "priv", registered.token, insecure=True)
    yield client
    client.close()


def other_container_cca(image: str) -> str:
    client = docker_client()
    try:
        out = client.containers.run(
            image,
            ["cat", "/proc/sys/net/ipv4/tcp_congestion_control"],
            remove=True,
            network="bridge",
        )
        return out.decode().strip()
    finally:
        client.close()


def kernel_config(image: str, **settings: object) -> str:
    return yaml.safe_dump(
        {"docker": {"image": image, "execute": {"name": "cca"}}, "kernel": settings}
    )


async def test_the_setting_lives_in_the_container_only(
    researcher: Client,
    admin: Client,
    node: Node,
    make_agent,
    bridge_config: Path,
    cca_image: str,
    leftover_containers,
    tmp_path: Path,
) -> None:
    host_before = host_cca()
    wanted = "reno" if host_before != "reno" else "cubic"
    agent = await make_agent(executor_config=bridge_config).start()
    researcher.schedule_job(
        "tuned",
        node.id,
        length_secs=10,
        config=kernel_config(cca_image, tcp_congestion_control=wanted),
        at=next_second(1.0),
        overhead=False,
    )
    await wait_until(
        lambda: any(r.phase is RunPhase.RUNNING for r in agent.state.runs("tuned")), 15, "running"
    )
    # While the tuned container runs, the host and a fresh container keep the host default.
    assert host_cca() == host_before
    assert await asyncio.to_thread(other_container_cca, cca_image) == host_before

    run = await wait_for_run(admin, "tuned", ("COMPLETE", "FAILED"))
    assert run.status == "COMPLETE", run.status_message
    target = tmp_path / "tuned.zip"
    if run.blob_url.startswith("file://"):
        target = Path(run.blob_url.removeprefix("file://"))
    else:
        admin.download_run(run.runid, target)
    with zipfile.ZipFile(target) as zf:
        assert zf.read(f"{run.runid}/cca.txt").decode().strip() == wanted
    assert host_cca() == host_before


def test_requests_are_refused_at_schedule_time(
    orchestrator, admin: Client, researcher: Client, node: Node
) -> None:
    plain = admin.register_user("plain", role=Role.USER)
    user = Client(orchestrator.address, "plain", plain.token, insecure=True)
    try:
        with pytest.raises(InvalidInput, match="need the USER_PRIV role") as refused:
            user.schedule_job(
                "asks",
                node.id,
                length_secs=5,
                config=kernel_config("img", tcp_congestion_control="bbr"),
                at=next_second(60),
            )
        assert refused.value.field == "config"
    finally:
        user.close()
    with pytest.raises(InvalidInput, match="kernel setting 'vm.swappiness' is not allowed"):
        researcher.schedule_job(
            "swappy",
            node.id,
            length_secs=5,
            config=kernel_config("img", **{"vm.swappiness": 10}),
            at=next_second(60),
        )
    for jobid in ("asks", "swappy"):
        with pytest.raises(NotFound):
            admin.get_job(jobid)


async def test_the_agent_checks_the_owner_again_and_refuses_host_changes(
    researcher: Client, admin: Client, node: Node, make_agent
) -> None:
    """Process runtime: it shares the host network, which is exactly the refused case."""
    await make_agent(runtime="process").start()
    command = [sys.executable, "-c", "print('tuned')"]
    config = yaml.safe_dump(
        {"process": {"command": command}, "kernel": {"tcp_congestion_control": "reno"}}
    )
    at = next_second(2.0)
    researcher.schedule_job("demoted", node.id, length_secs=5, config=config, at=at, overhead=False)
    admin.update_user("priv", role=Role.USER)  # after scheduling: only the agent can notice
    demoted = await wait_for_run(admin, "demoted", ("COMPLETE", "FAILED"))
    assert demoted.status == "FAILED"
    assert demoted.status_message == (
        "kernel settings refused: userid=priv role=USER does not have access to kernel "
        "services (higher access level required)"
    )
    # Privileged again: allowed, but a host-network run would change the whole host, and this
    # node's operator did not allow that (allow_host_kernel_settings).
    admin.update_user("priv", role=Role.USER_PRIV)
    researcher.schedule_job(
        "hosted", node.id, length_secs=5, config=config, at=next_second(1.5), overhead=False
    )
    hosted = await wait_for_run(admin, "hosted", ("COMPLETE", "FAILED"))
    assert (hosted.status, hosted.status_message) == ("FAILED", MSG_NEEDS_NAMESPACE)
