"""The dish monitor against the real Mosquitto broker, fed like starlink-grpc-tools feeds it."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from paho.mqtt import publish

from leoscope.node.monitors.base import Backoff
from leoscope.node.monitors.dish import DISH_VARIABLES, DishMonitor
from tests.fakes.http import closed_port_url
from tests.fakes.tcpproxy import TcpProxy
from tests.fakes.waits import Samples, wait_until
from tests.services import MQTT_HOST, MQTT_PORT, port_open, require

pytestmark = pytest.mark.mqtt

TELEMETRY = {
    "uplink_throughput_bps": "95646.90625",
    "downlink_throughput_bps": "1203114.5",
    "pop_ping_latency_ms": "27.6",
    "direction_azimuth": "-12.25",
    "direction_elevation": "63.5",
    "currently_obstructed": "False",
    "fraction_obstructed": "0.0125",
}


def new_dish_id() -> str:
    return f"ut-test-{uuid.uuid4().hex[:16]}"


async def send(dish_id: str, fields: dict[str, str], port: int = MQTT_PORT) -> None:
    messages = [(f"starlink/dish_status/{dish_id}/{k}", v, 0, False) for k, v in fields.items()]
    await asyncio.to_thread(publish.multiple, messages, hostname=MQTT_HOST, port=port)


def dish_monitor(samples: Samples, dish_id: str, **kwargs: object) -> DishMonitor:
    options: dict[str, object] = {
        "mqtt_host": MQTT_HOST,
        "mqtt_port": MQTT_PORT,
        "dish_id": dish_id,
    }
    options.update(kwargs)
    return DishMonitor(samples, **options)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _broker() -> None:
    require(port_open(MQTT_HOST, MQTT_PORT), "Mosquitto")


async def test_telemetry_arrives_within_two_seconds_with_proper_types() -> None:
    dish_id = new_dish_id()
    samples = Samples()
    async with dish_monitor(samples, dish_id) as monitor:
        await wait_until(lambda: monitor.connected, what="the MQTT subscription")
        sent = time.monotonic()
        await send(dish_id, {**TELEMETRY, "id": dish_id, "software_version": "2024.05.0.mr12345"})
        await wait_until(
            lambda: all(samples.seen(name) for name in DISH_VARIABLES), within=2.0, what="all seven"
        )
        assert time.monotonic() - sent < 2.0
    assert samples.latest("uplink_throughput_bps") == 95646
    assert type(samples.latest("uplink_throughput_bps")) is int
    assert samples.latest("downlink_throughput_bps") == 1203114
    assert samples.latest("pop_ping_latency_ms") == pytest.approx(27.6)
    assert samples.latest("direction_azimuth") == -12.25
    assert samples.latest("direction_elevation") == 63.5
    assert samples.latest("currently_obstructed") is False
    assert samples.latest("fraction_obstructed") == 0.0125
    assert not any("id" in values or "software_version" in values for values, _ in samples.calls)
    assert monitor.dish_id == dish_id
    assert monitor.firmware_version == "2024.05.0.mr12345"
    assert monitor.status["software_version"] == "2024.05.0.mr12345"
    assert monitor.telemetry() is not None


async def test_true_is_true_and_bad_payloads_are_ignored() -> None:
    dish_id = new_dish_id()
    samples = Samples()
    async with dish_monitor(samples, dish_id) as monitor:
        await wait_until(lambda: monitor.connected, what="the MQTT subscription")
        await send(dish_id, {"currently_obstructed": "True", "pop_ping_latency_ms": "31.5"})
        await wait_until(lambda: samples.seen("pop_ping_latency_ms"), within=2.0, what="a sample")
        await send(dish_id, {"pop_ping_latency_ms": "fast", "currently_obstructed": "maybe"})
        await send(dish_id, {"fraction_obstructed": "nan"})
        await wait_until(lambda: samples.seen("fraction_obstructed"), within=2.0, what="the nan")
    assert samples.latest("currently_obstructed") is True
    assert samples.latest("pop_ping_latency_ms") == 31.5
    assert samples.latest("fraction_obstructed") is None
    assert monitor.values["pop_ping_latency_ms"] == 31.5


async def test_only_the_configured_dish_is_heard() -> None:
    mine, other = new_dish_id(), new_dish_id()
    samples = Samples()
    async with dish_monitor(samples, mine) as monitor:
        await wait_until(lambda: monitor.connected, what="the MQTT subscription")
        await send(other, {"pop_ping_latency_ms": "99.0"})
        await send(mine, {"pop_ping_latency_ms": "20.0"})
        await wait_until(lambda: samples.seen("pop_ping_latency_ms"), within=2.0, what="a sample")
    assert [v for values, _ in samples.calls for v in values.values()] == [20.0]
    assert monitor.dish_id == mine


async def test_json_status_messages_are_understood() -> None:
    dish_id = new_dish_id()
    samples = Samples()
    async with dish_monitor(samples, dish_id) as monitor:
        await wait_until(lambda: monitor.connected, what="the MQTT subscription")
        document = {"id": dish_id, "pop_ping_latency_ms": 33.25, "currently_obstructed": False}
        await asyncio.to_thread(
            publish.single,
            f"starlink/dish_status/{dish_id}",
            json.dumps(document),
            hostname=MQTT_HOST,
            port=MQTT_PORT,
        )
        await wait_until(lambda: samples.seen("pop_ping_latency_ms"), within=2.0, what="a sample")
    assert samples.calls[-1][0] == {"pop_ping_latency_ms": 33.25, "currently_obstructed": False}


async def test_reconnects_after_the_connection_drops() -> None:
    dish_id = new_dish_id()
    samples = Samples()
    async with TcpProxy(MQTT_HOST, MQTT_PORT) as proxy:
        monitor = dish_monitor(
            samples, dish_id, mqtt_port=proxy.port, backoff=Backoff(0.05, 0.2), keepalive_secs=5
        )
        async with monitor:
            await wait_until(lambda: monitor.connected, what="the first subscription")
            await proxy.cut()
            await wait_until(lambda: monitor.last_error is not None, what="the lost connection")
            assert "connection lost" in monitor.last_error  # type: ignore[operator]
            await wait_until(lambda: monitor.connected and proxy.accepted >= 2, what="a reconnect")
            await send(dish_id, {"direction_elevation": "70.5"})
            await wait_until(
                lambda: samples.seen("direction_elevation"), within=2.0, what="a sample"
            )
    assert monitor.last_error is None
    assert samples.latest("direction_elevation") == 70.5


async def test_an_unreachable_broker_backs_off_and_keeps_trying() -> None:
    port = int(closed_port_url().rsplit(":", 1)[1])
    samples = Samples()
    monitor = dish_monitor(samples, new_dish_id(), mqtt_port=port, backoff=Backoff(0.05, 0.2))
    async with monitor:
        await wait_until(lambda: monitor.consecutive_errors >= 3, what="repeated failures")
        assert monitor.running and not monitor.connected
    assert "MQTT" in (monitor.last_error or "")
    assert samples.calls == []


async def test_grpc_fallback_reports_an_unreachable_dish_and_mqtt_still_works() -> None:
    dish_id = new_dish_id()
    samples = Samples()
    dish_address = closed_port_url().removeprefix("http://")
    monitor = dish_monitor(
        samples, dish_id, grpc_target=dish_address, grpc_backoff=Backoff(0.05, 0.1)
    )
    async with monitor:
        await wait_until(lambda: monitor.grpc_error is not None, what="the gRPC probe")
        assert "not reachable" in (monitor.grpc_error or "")
        await wait_until(lambda: monitor.connected, what="the MQTT subscription")
        await send(dish_id, {"pop_ping_latency_ms": "25.0"})
        await wait_until(lambda: samples.seen("pop_ping_latency_ms"), within=2.0, what="a sample")
