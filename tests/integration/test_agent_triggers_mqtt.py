"""Dish telemetry through the real Mosquitto broker into the agent's table, gate and MQTT results.

The agent's sensing part runs on its own here (no orchestrator: its link points at a closed port,
which it shrugs off); each test uses its own dish id and job ids, so tests can run in parallel.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt import publish
from paho.mqtt.enums import CallbackAPIVersion

from leoscope.api import leotest_pb2 as pb
from leoscope.core.timeutil import job_date, utcnow
from leoscope.node.clock import SYSTEM_CLOCK
from leoscope.node.link import OrchestratorLink, open_channel
from leoscope.node.seams import PROCEED, Skip
from leoscope.node.sensing import NodeSensing
from leoscope.node.settings import AgentSettings
from leoscope.node.state import LocalState
from leoscope.node.sync import fingerprint
from leoscope.node.trigger_publish import topic_for
from tests.fakes.http import closed_port_url
from tests.fakes.waits import wait_until
from tests.integration.test_agent_triggers_helpers import new_run
from tests.services import MQTT_HOST, MQTT_PORT, port_open, require

pytestmark = pytest.mark.mqtt

NODE = "node-gate"


@pytest.fixture(autouse=True)
def _broker() -> None:
    require(port_open(MQTT_HOST, MQTT_PORT), "Mosquitto")


@pytest.fixture
def state(tmp_path: Path) -> Iterator[LocalState]:
    opened = LocalState.open(tmp_path / "agent.sqlite3", NODE, time.time)
    yield opened
    opened.close()


def new_dish_id() -> str:
    return f"ut-agent-{uuid.uuid4().hex[:16]}"


async def send(dish_id: str, fields: dict[str, str]) -> None:
    messages = [(f"starlink/dish_status/{dish_id}/{k}", v, 0, False) for k, v in fields.items()]
    await asyncio.to_thread(publish.multiple, messages, hostname=MQTT_HOST, port=MQTT_PORT)


@pytest.fixture
async def sensing_for(tmp_path: Path, state: LocalState) -> AsyncIterator[Callable[..., Any]]:
    async with AsyncExitStack() as stack:
        closed = closed_port_url().removeprefix("http://")
        link = OrchestratorLink(open_channel(closed, insecure=True), NODE, "token")
        stack.push_async_callback(link.close)

        async def start(dish_id: str) -> NodeSensing:
            settings = AgentSettings(
                orchestrator=closed,
                node_id=NODE,
                token="token",
                data_dir=tmp_path / "agent",
                insecure=True,
                mqtt_broker=f"{MQTT_HOST}:{MQTT_PORT}",
                dish_id=dish_id,
            )
            sensing = NodeSensing(settings, SYSTEM_CLOCK)
            await sensing.start(
                stack, state=state, link=link, runtime_kind="process", busy=lambda: False
            )
            assert sensing.dish is not None
            await wait_until(lambda: sensing.dish.connected, what="the dish subscription")
            return sensing

        yield start


async def test_dish_telemetry_turns_a_trigger_true_within_two_seconds(
    sensing_for: Callable[..., Any], state: LocalState, tmp_path: Path
) -> None:
    dish_id = new_dish_id()
    sensing: NodeSensing = await sensing_for(dish_id)
    assert sensing.satellites is None and sensing.weather is None and sensing.traffic is None
    run = new_run(state, tmp_path / "runs", "pop_ping_latency_ms < 50 & !currently_obstructed")

    before = await sensing.gate.check(run)
    assert isinstance(before, Skip)
    assert "pop_ping_latency_ms is unknown (no data yet)" in before.message

    await send(dish_id, {"pop_ping_latency_ms": "81.5", "currently_obstructed": "False"})
    await wait_until(lambda: sensing.variables.get("pop_ping_latency_ms") == 81, within=2.0)
    still_false = await sensing.gate.check(run)
    assert isinstance(still_false, Skip)
    assert "pop_ping_latency_ms=81 < 50 is false" in still_false.message

    sent = time.monotonic()
    await send(dish_id, {"pop_ping_latency_ms": "27.6"})
    while (decision := await sensing.gate.check(run)) != PROCEED:
        assert time.monotonic() - sent < 2.0, f"still {decision}"
        await asyncio.sleep(0.02)
    assert run.record.trigger_values == "pop_ping_latency_ms=27, currently_obstructed=False"
    assert sensing.freshness()["dish"] is not None
    assert sensing.variables.freshness("pop_ping_latency_ms") is not None


class TopicRecorder:
    """A subscriber on the real broker that keeps every payload received on `topic`."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.payloads: list[str] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=0)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._message

    def _message(self, client: Any, userdata: Any, message: Any) -> None:
        with self._lock:
            self.payloads.append(message.payload.decode())

    def received(self) -> list[str]:
        with self._lock:
            return list(self.payloads)

    def __enter__(self) -> TopicRecorder:
        self.client.connect(MQTT_HOST, MQTT_PORT)
        self.client.loop_start()
        assert self.subscribed.wait(5), "no subscription"
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def store_job(state: LocalState, jobid: str, trigger: str) -> None:
    now = utcnow()
    msg = pb.job(
        id=jobid,
        nodeid=NODE,
        type=pb.ATQ,
        params=pb.job_params(mode="docker"),
        start_date=job_date(now),
        end_date=job_date(now.replace(year=now.year + 1)),
        length_secs=60,
        overhead=True,
        userid="alice",
        trigger=trigger,
    )
    state.put_job(msg, fingerprint(msg), "client", floor_if_new=0, floor_at_least=0)


async def test_results_are_published_on_leotest_triggers_at_most_once_a_second(
    sensing_for: Callable[..., Any], state: LocalState
) -> None:
    dish_id = new_dish_id()
    jobid = f"trig-{uuid.uuid4().hex[:8]}"
    other = f"trig-{uuid.uuid4().hex[:8]}"
    store_job(state, jobid, "pop_ping_latency_ms < 50")
    store_job(state, other, "pop_ping_latency_ms * 2")  # arithmetic only: a number
    sensing: NodeSensing = await sensing_for(dish_id)
    assert sensing.publisher is not None
    with TopicRecorder(topic_for(jobid)) as results, TopicRecorder(topic_for(other)) as numbers:
        await send(dish_id, {"pop_ping_latency_ms": "90"})
        await wait_until(lambda: "False" in results.received(), within=3.0, what="False")
        await send(dish_id, {"pop_ping_latency_ms": "20"})
        await wait_until(lambda: results.received()[-1:] == ["True"], within=3.0, what="True")
        await wait_until(lambda: "40" in numbers.received(), within=3.0, what="the number")

        # A burst of updates is coalesced: rounds of results are at least a second apart.
        before = len(numbers.received())
        started = time.monotonic()
        for value in range(30, 45):
            await send(dish_id, {"pop_ping_latency_ms": str(value)})
        await wait_until(lambda: numbers.received()[-1:] == ["88"], within=3.0, what="88")
        window = time.monotonic() - started
        rounds = len(numbers.received()) - before
        assert 1 <= rounds <= window + 2, (rounds, window)
        assert results.received()[-1] == "True"
