"""Triggers gate real runs: orchestrator + agent + Docker, telemetry from Mosquitto and fakes.

Dish telemetry is published to the real Mosquitto broker the way starlink-grpc-tools does it,
under a dish id unique to the test; satellites come from the fake CelesTrak server with one
satellite placed straight above the node at the time of the test.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from paho.mqtt import publish

from leoscope.client import Client, Run
from leoscope.core.variables import UNKNOWN
from leoscope.node.agent import Agent
from tests.fakes.http import LocalHttpServer
from tests.fakes.tle import TleServer, overhead_tle, tle_text
from tests.fakes.waits import wait_until
from tests.services import MQTT_HOST, MQTT_PORT, port_open, require

from .conftest import Node, experiment_config, next_second, wait_for_run

pytestmark = [pytest.mark.docker, pytest.mark.mqtt]

NODE_LAT, NODE_LON = 47.6, -122.3  # the e2e node fixture's registered coordinates


@pytest.fixture(autouse=True)
def _broker() -> None:
    require(port_open(MQTT_HOST, MQTT_PORT), "Mosquitto")


def new_dish_id() -> str:
    return f"ut-e2e-{uuid.uuid4().hex[:16]}"


async def send(dish_id: str, fields: dict[str, str]) -> None:
    messages = [(f"starlink/dish_status/{dish_id}/{k}", v, 0, False) for k, v in fields.items()]
    await asyncio.to_thread(publish.multiple, messages, hostname=MQTT_HOST, port=MQTT_PORT)


async def start_agent(make_agent, dish_id: str, **overrides: object) -> Agent:
    settings = {"mqtt_broker": f"{MQTT_HOST}:{MQTT_PORT}", "dish_id": dish_id, "tle_url": None}
    agent = await make_agent(**{**settings, **overrides}).start()
    await wait_until(lambda: agent.sensing.dish.connected, what="the dish subscription")
    return agent


async def latency_is(agent: Agent, dish_id: str, value: int) -> None:
    """Publish a PoP latency and wait until the agent's table has it."""
    await send(dish_id, {"pop_ping_latency_ms": str(value), "currently_obstructed": "False"})
    await wait_until(
        lambda: agent.sensing.variables.get("pop_ping_latency_ms") == value,
        within=2.0,
        what=f"pop_ping_latency_ms={value} in the table",
    )


def schedule(
    admin: Client,
    jobid: str,
    node: Node,
    at: datetime,
    image: str,
    trigger: str,
    *,
    wait_secs: int | None = None,
    length_secs: int = 6,
) -> None:
    admin.schedule_job(
        jobid,
        node.id,
        length_secs=length_secs,
        config=experiment_config(image),
        at=at,
        overhead=False,
        trigger=trigger,
        trigger_wait_secs=wait_secs,
    )


def archive_files(admin: Client, run: Run) -> dict[str, bytes]:
    """The run's archive members by name: through the orchestrator's download URL when the SDK
    has one (uploaded archives), else from the node's local store (`file://` URL)."""
    if run.blob_url.startswith("file://"):
        archive = zipfile.ZipFile(Path(run.blob_url.removeprefix("file://")))
    else:
        archive = admin.open_archive(run.runid)  # type: ignore[attr-defined]
    with archive as zf:
        return {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist() if not n.endswith("/")}


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


async def test_a_holding_trigger_runs_with_its_values_and_telemetry_in_the_archive(
    admin: Client, node: Node, make_agent, writer_image: str, leftover_containers
) -> None:
    now = datetime.now(UTC)
    tles = TleServer(tle_text([overhead_tle(NODE_LAT, NODE_LON, now + timedelta(seconds=8))]))
    dish_id = new_dish_id()
    async with LocalHttpServer(tles.app) as server:
        agent = await start_agent(make_agent, dish_id, tle_url=tles.url(server.url))
        await wait_until(
            lambda: agent.sensing.variables.get("satellite_elevation") is not UNKNOWN,
            within=10.0,
            what="the satellite summary",
        )
        await latency_is(agent, dish_id, 31)

        schedule(
            admin,
            "holds",
            node,
            next_second(1.5),
            writer_image,
            "satellite_elevation > 40 & pop_ping_latency_ms < 50",
        )
        run = await wait_for_run(admin, "holds", ("COMPLETE", "FAILED", "SKIPPED"))

    assert run.status == "COMPLETE", run.status_message
    shown = dict(part.split("=") for part in run.trigger_values.split(", "))
    assert list(shown) == ["satellite_elevation", "pop_ping_latency_ms"]
    assert float(shown["satellite_elevation"]) > 40
    assert shown["pop_ping_latency_ms"] == "31"

    files = archive_files(admin, run)
    assert files["result.txt"] == b"result-42\n", "the experiment itself ran"
    dish_rows = csv_rows(files["grpc.csv"])
    assert dish_rows and dish_rows[0]["pop_ping_latency_ms"] == "31.0"
    assert dish_rows[0]["currently_obstructed"] == "False"
    assert dish_rows[0]["datetimestamp_utc"].endswith("Z")
    satellite_rows = csv_rows(files["satellites.csv"])
    assert satellite_rows and float(satellite_rows[0]["satellite_elevation"]) > 40
    assert satellite_rows[0]["visible_satellites"] == "1"


async def test_a_trigger_that_never_holds_is_skipped_with_the_values(
    admin: Client, node: Node, make_agent, writer_image: str, leftover_containers
) -> None:
    dish_id = new_dish_id()
    agent = await start_agent(make_agent, dish_id)
    await latency_is(agent, dish_id, 90)
    seen: list[str] = []
    agent.executor.listeners.append(lambda record: seen.append(record.status))

    schedule(
        admin,
        "never",
        node,
        next_second(1.5),
        writer_image,
        "pop_ping_latency_ms < 50 & !currently_obstructed",
        wait_secs=2,
    )
    run = await wait_for_run(admin, "never", ("SKIPPED", "COMPLETE", "FAILED"))

    assert run.status == "SKIPPED"
    assert run.status_message == (
        "trigger not met after waiting 2 s: pop_ping_latency_ms=90 < 50 is false "
        "(trigger: pop_ping_latency_ms < 50 & !currently_obstructed; "
        "values: pop_ping_latency_ms=90, currently_obstructed=False)"
    )
    assert run.trigger_values == "pop_ping_latency_ms=90, currently_obstructed=False"
    assert seen == ["WAITING", "SKIPPED"], "nothing was deployed"


async def test_a_run_waiting_for_its_trigger_starts_when_telemetry_changes(
    admin: Client, node: Node, make_agent, writer_image: str, leftover_containers
) -> None:
    dish_id = new_dish_id()
    agent = await start_agent(make_agent, dish_id)
    await latency_is(agent, dish_id, 120)
    slot = next_second(1.5)
    schedule(
        admin,
        "waits",
        node,
        slot,
        writer_image,
        "pop_ping_latency_ms < 50",
        wait_secs=20,
        length_secs=25,
    )
    waiting = await wait_for_run(admin, "waits", ("WAITING",))
    assert waiting.status_message == "waiting up to 20 s for the trigger: pop_ping_latency_ms < 50"
    assert waiting.trigger_values == "pop_ping_latency_ms=120"

    changed_at = datetime.now(UTC)
    await latency_is(agent, dish_id, 24)  # mid-wait: the link got better
    run = await wait_for_run(admin, "waits", ("COMPLETE", "FAILED", "SKIPPED"), within=30)

    assert run.status == "COMPLETE", run.status_message
    assert run.trigger_values == "pop_ping_latency_ms=24"
    (local,) = agent.state.runs("waits")
    assert local.started_at is not None
    started = datetime.fromtimestamp(local.started_at, UTC)
    assert started >= changed_at, "it started after the change"
    assert (started - slot).total_seconds() < 20, "it did not wait out the whole budget"
