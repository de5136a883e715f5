"""The agent's satellite and weather monitors, configured from the orchestrator, feeding triggers.

The node's coordinates come from its registered record and the weather key from the global
config, both read by the agent from the orchestrator; CelesTrak and OpenWeatherMap are the local
fakes. These agents use the process runtime: no run is needed to check the variables.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leoscope.client import Client
from leoscope.core.model import GlobalConfig
from leoscope.core.triggers import parse_trigger
from leoscope.core.variables import UNKNOWN
from leoscope.node.agent import Agent
from leoscope.node.trigger_gate import current_values
from tests.fakes.http import LocalHttpServer
from tests.fakes.owm import FakeOpenWeatherMap, sample_reply
from tests.fakes.tle import TleServer, overhead_tle, tle_text
from tests.fakes.waits import wait_until

from .conftest import Node

NODE_LAT, NODE_LON = 47.6, -122.3  # the e2e node fixture's registered coordinates
OWM_KEY = "0123456789abcdef0123456789abcdef"


def holds(agent: Agent, text: str) -> bool:
    trigger = parse_trigger(text)
    assert trigger is not None
    return trigger.evaluate(current_values(agent.sensing.variables, agent.clock.time())).holds


async def test_a_satellite_overhead_holds_and_cached_tles_survive_a_restart_offline(
    node: Node, make_agent
) -> None:
    overhead = overhead_tle(NODE_LAT, NODE_LON, datetime.now(UTC) + timedelta(seconds=10))
    tles = TleServer(tle_text([overhead]))
    async with LocalHttpServer(tles.app) as server:
        url = tles.url(server.url)
        runner = make_agent(runtime="process", tle_url=url, satellite_interval=0.2)
        agent = await runner.start()
        await wait_until(
            lambda: holds(agent, "satellite_elevation > 40 & visible_satellites == 1"),
            within=10.0,
            what="the satellite overhead",
        )
        assert tles.requests == 1
        satellites = agent.sensing.satellites
        assert satellites is not None
        assert (satellites.observer.latitude_deg, satellites.observer.longitude_deg) == (
            NODE_LAT,
            NODE_LON,
        )
        assert satellites.min_elevation_deg == 25.0  # the node registered none
        assert agent.sensing.freshness()["satellites"] is not None
        fetched_at = satellites.tle_fetched_at
        await runner.stop()
    # The TLE server is gone ("network off"): the cache in the data directory carries on.
    agent = await runner.start()
    await wait_until(
        lambda: holds(agent, "satellite_elevation > 40"),
        within=10.0,
        what="the satellite overhead from the cached TLEs",
    )
    assert agent.sensing.satellites is not None
    assert agent.sensing.satellites.tle_fetched_at == fetched_at, "the cached set, not a download"
    assert tles.requests == 1


async def test_weather_uses_the_global_config_key_and_keeps_the_last_reading_on_errors(
    admin: Client, node: Node, make_agent
) -> None:
    owm = FakeOpenWeatherMap(OWM_KEY, reply=sample_reply(NODE_LAT, NODE_LON))
    admin.set_global_config(GlobalConfig(weather_apikey=OWM_KEY))
    async with LocalHttpServer(owm.app) as server:
        agent = await make_agent(
            runtime="process", tle_url=None, weather_url=server.url, weather_interval=1
        ).start()
        await wait_until(
            lambda: holds(agent, "weather_main == 'Rain' & weather_rain1h > 0.4"),
            within=5.0,
            what="the weather reading",
        )
        query = owm.requests[0].query
        assert (query["appid"], query["lat"], query["lon"]) == (OWM_KEY, "47.6", "-122.3")
        weather = agent.sensing.weather
        assert weather is not None
        fresh_at = weather.freshness

        # The service fails: the last good reading stays, and so does its freshness.
        owm.status = 502
        asked = len(owm.requests)
        await wait_until(lambda: weather.last_error is not None, within=5.0, what="an error")
        assert len(owm.requests) > asked
        assert "HTTP 502" in weather.last_error
        assert agent.sensing.variables.get("weather_main") == "Rain"
        assert agent.sensing.variables.get("weather_temp") == 284.2
        assert weather.freshness == fresh_at
        assert OWM_KEY not in weather.last_error


async def test_a_changed_node_record_moves_the_monitors(
    admin: Client, node: Node, make_agent
) -> None:
    owm = FakeOpenWeatherMap(OWM_KEY)
    admin.set_global_config(GlobalConfig(weather_apikey=OWM_KEY))
    async with LocalHttpServer(owm.app) as server:
        agent = await make_agent(
            runtime="process", tle_url=None, weather_url=server.url, weather_interval=1
        ).start()
        await wait_until(lambda: owm.requests, within=5.0, what="a first weather request")
        admin.update_node(node.id, coords="-33.8688,151.2093", min_elevation_deg=35.0)
        await wait_until(
            lambda: agent.sensing.site is not None and agent.sensing.site.latitude_deg < 0,
            within=5.0,
            what="the new position (watch notice 'node')",
        )
        assert agent.sensing.site.min_elevation_deg == 35.0
        await wait_until(
            lambda: owm.requests[-1].query["lat"] == "-33.8688",
            within=5.0,
            what="a weather request at the new coordinates",
        )
        assert owm.requests[-1].query["lon"] == "151.2093"
    assert agent.sensing.variables.get("weather_id") is not UNKNOWN
