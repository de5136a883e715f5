"""The traffic monitor against the real Docker engine and busybox containers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from leoscope.node.monitors.base import Backoff
from leoscope.node.monitors.traffic import TrafficMonitor, labelled_containers
from tests.fakes.waits import Samples, wait_until
from tests.services import docker_available, require

pytestmark = pytest.mark.docker

PING_GATEWAY = "ping -c 300 -i 0.05 -s 1000 $(ip route | awk '/default/ {print $3}')"


@pytest.fixture
def docker_client() -> Iterator[object]:
    require(docker_available(), "Docker")
    import docker

    client = docker.from_env(timeout=30)
    yield client
    client.close()


@pytest.fixture
def test_label() -> str:
    return f"org.leoscope.test.traffic={uuid.uuid4().hex[:12]}"


@pytest.fixture
def run_container(docker_client, test_label):  # type: ignore[no-untyped-def]
    from tests.images import ensure_busybox_image

    image = ensure_busybox_image()
    key, _, value = test_label.partition("=")
    started = []

    def run(command: str, **options: object):  # type: ignore[no-untyped-def]
        container = docker_client.containers.run(
            image,
            ["sh", "-c", command],
            detach=True,
            labels={"leotest": "true", key: value},
            **options,
        )
        started.append(container)
        return container

    yield run
    for container in started:
        container.remove(force=True)
    leftovers = docker_client.containers.list(all=True, filters={"label": test_label})
    assert leftovers == []


async def test_a_pinging_container_shows_nonzero_rates(
    docker_client, test_label, run_container
) -> None:  # type: ignore[no-untyped-def]
    run_container(PING_GATEWAY)
    samples = Samples()
    monitor = TrafficMonitor(
        samples,
        list_containers=labelled_containers(docker_client, test_label),
        interval_secs=0.5,
        backoff=Backoff(0.1, 0.5),
    )
    async with monitor:
        await wait_until(
            lambda: any((v.get("exp_tx_rate_bytes") or 0) > 1000 for v, _ in samples.calls),
            within=8,
            what="a non-zero transmit rate",
        )
    assert any((v.get("exp_rx_rate_bytes") or 0) > 1000 for v, _ in samples.calls)
    assert all(isinstance(v["exp_tx_rate_bytes"], int) for v, _ in samples.calls)
    assert monitor.unmeasured == set()


async def test_no_containers_means_zero_rates(docker_client, test_label) -> None:  # type: ignore[no-untyped-def]
    samples = Samples()
    monitor = TrafficMonitor(
        samples, list_containers=labelled_containers(docker_client, test_label), interval_secs=0.1
    )
    async with monitor:
        await wait_until(lambda: samples.calls, what="a sample")
    assert samples.calls[0][0] == {"exp_rx_rate_bytes": 0, "exp_tx_rate_bytes": 0}


async def test_host_network_containers_make_the_rates_unknown(
    docker_client, test_label, run_container
) -> None:  # type: ignore[no-untyped-def]
    container = run_container("sleep 30", network_mode="host")
    samples = Samples()
    monitor = TrafficMonitor(
        samples, list_containers=labelled_containers(docker_client, test_label), interval_secs=0.2
    )
    async with monitor:
        await wait_until(lambda: samples.calls, within=8, what="a sample")
    assert samples.calls[0][0] == {"exp_rx_rate_bytes": None, "exp_tx_rate_bytes": None}
    assert monitor.unmeasured == {container.id}


async def test_an_unreachable_engine_backs_off(test_label) -> None:  # type: ignore[no-untyped-def]
    def broken() -> list[object]:
        raise ConnectionError("engine unreachable")

    samples = Samples()
    monitor = TrafficMonitor(
        samples, list_containers=broken, interval_secs=0.05, backoff=Backoff(0.05, 0.1)
    )
    async with monitor:
        await wait_until(lambda: monitor.consecutive_errors >= 2, what="repeated errors")
        assert monitor.running
    assert "engine unreachable" in (monitor.last_error or "")
    assert samples.calls == []
