"""The agent's monitor settings, and the traffic monitor's idle behaviour (no Docker calls)."""

from __future__ import annotations

from pathlib import Path

import pytest

from leoscope.api import leotest_pb2 as pb
from leoscope.core.errors import InvalidInput
from leoscope.node.experiment_traffic import ExperimentTrafficMonitor
from leoscope.node.sensing import NodeSensing
from leoscope.node.settings import DEFAULT_TLE_URL, DEFAULT_WEATHER_URL, resolve_settings
from leoscope.node.state import LocalState
from leoscope.node.sync import fingerprint
from tests.fakes.waits import Samples, wait_until
from tests.integration.test_agent_triggers_helpers import SLOT, ManualClock

BASE = {"orchestrator": "127.0.0.1:50051", "node_id": "n1", "data_dir": "/tmp/agent-x"}
TOKEN = {"LEOSCOPE_NODE_TOKEN": "t"}


def test_defaults_leave_dish_and_mqtt_off_and_point_at_the_public_sources() -> None:
    settings = resolve_settings(BASE, env=TOKEN)
    assert settings.tle_url == DEFAULT_TLE_URL
    assert "celestrak.org" in DEFAULT_TLE_URL and "GROUP=starlink" in DEFAULT_TLE_URL
    assert settings.tle_cache_root == Path("/tmp/agent-x/tle")
    assert settings.satellite_interval == 1.0
    assert settings.min_elevation is None  # the node's registered value, else 25
    assert settings.weather_url == DEFAULT_WEATHER_URL
    assert settings.weather_interval == 600.0
    assert settings.mqtt_broker is None
    assert settings.dish_id == "+"
    assert settings.dish_grpc is None
    assert settings.traffic_monitor is True


def test_environment_and_config_file_configure_the_monitors(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('weather_interval = 1200\ndish_id = "ut01000000-00000000-001fdb33"\n')
    env = {
        **TOKEN,
        "LEOSCOPE_TLE_URL": "off",
        "LEOSCOPE_TLE_CACHE_DIR": str(tmp_path / "tles"),
        "LEOSCOPE_MIN_ELEVATION": "35",
        "LEOSCOPE_WEATHER_URL": "http://127.0.0.1:8080",
        "LEOSCOPE_MQTT_BROKER": "mqtt.local:1883",
        "LEOSCOPE_DISH_GRPC": "192.168.100.1:9200",
        "LEOSCOPE_TRAFFIC_MONITOR": "false",
    }
    settings = resolve_settings(BASE, env=env, config_file=config)
    assert settings.tle_url is None
    assert settings.tle_cache_root == tmp_path / "tles"
    assert settings.min_elevation == 35.0
    assert settings.weather_url == "http://127.0.0.1:8080"
    assert settings.weather_interval == 1200.0
    assert settings.mqtt_broker == "mqtt.local:1883"
    assert settings.dish_id == "ut01000000-00000000-001fdb33"
    assert settings.dish_grpc == "192.168.100.1:9200"
    assert settings.traffic_monitor is False
    off = resolve_settings(
        BASE, env={**TOKEN, "LEOSCOPE_DISH_ID": "off", "LEOSCOPE_WEATHER_URL": "off"}
    )
    assert off.dish_id is None and off.weather_url is None


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"LEOSCOPE_TLE_URL": "celestrak.org/starlink"}, "tle_url"),
        ({"LEOSCOPE_SATELLITE_INTERVAL": "0"}, "satellite_interval"),
        ({"LEOSCOPE_MIN_ELEVATION": "95"}, "min_elevation"),
        ({"LEOSCOPE_MIN_ELEVATION": "high"}, "min_elevation"),
        ({"LEOSCOPE_WEATHER_INTERVAL": "0.5"}, "weather_interval"),
        ({"LEOSCOPE_MQTT_BROKER": "mosquitto"}, "mqtt_broker"),
        ({"LEOSCOPE_DISH_ID": "ut/1"}, "dish_id"),
        ({"LEOSCOPE_DISH_ID": "ut+1"}, "dish_id"),
        ({"LEOSCOPE_DISH_GRPC": "192.168.100.1"}, "dish_grpc"),
        ({"LEOSCOPE_TRAFFIC_MONITOR": "sometimes"}, "traffic_monitor"),
    ],
)
def test_bad_monitor_settings_name_the_setting(env: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        resolve_settings(BASE, env={**TOKEN, **env})
    assert info.value.field == field


async def test_the_traffic_monitor_asks_docker_only_while_a_run_is_under_way() -> None:
    calls: list[int] = []
    busy = False

    def list_containers() -> list[object]:
        calls.append(1)
        return []

    samples = Samples()
    monitor = ExperimentTrafficMonitor(
        samples, list_containers=list_containers, busy=lambda: busy, interval_secs=0.02
    )
    async with monitor:
        await wait_until(lambda: samples.calls, what="the idle reading")
        first_fresh = monitor.freshness
        await wait_until(lambda: monitor.freshness != first_fresh, what="fresh while idle")
        assert calls == [], "no Docker call while the node is idle"
        assert samples.calls == [({"exp_rx_rate_bytes": 0, "exp_tx_rate_bytes": 0}, first_fresh)]

        busy = True
        await wait_until(lambda: len(calls) >= 2, what="sampling while a run is under way")
        busy = False
        idle_again = len(samples.calls)
        await wait_until(lambda: len(samples.calls) > idle_again, what="the idle reading again")
        assert samples.calls[-1][0] == {"exp_rx_rate_bytes": 0, "exp_tx_rate_bytes": 0}
        asked = len(calls)
        settled = monitor.freshness
        await wait_until(lambda: monitor.freshness != settled, what="another idle tick")
        assert len(calls) == asked


def test_the_published_triggers_follow_the_local_jobs(tmp_path: Path) -> None:
    """Asked once a second; cached, yet a changed, new or removed job shows at the next ask."""
    settings = resolve_settings({**BASE, "data_dir": str(tmp_path)}, env=TOKEN)
    clock = ManualClock(SLOT)
    sensing = NodeSensing(settings, clock)
    state = LocalState.open(tmp_path / "agent.sqlite3", "n1", clock.time)
    sensing._state = state

    def put(jobid: str, trigger: str, nodeid: str = "n1") -> None:
        msg = pb.job(id=jobid, nodeid=nodeid, trigger=trigger, length_secs=60)
        state.put_job(
            msg,
            fingerprint(msg),
            "client" if nodeid == "n1" else "server",
            floor_if_new=0,
            floor_at_least=0,
        )

    try:
        put("j1", "satellite_elevation > 40")
        put("j2", "")
        put("j3", "utc_hour > 1", nodeid="other")  # the server side: its client decides
        assert sensing._active_triggers() == [("j1", "satellite_elevation > 40")]
        put("j1", "satellite_elevation > 50")
        put("j4", "utc_hour < 3")
        assert sensing._active_triggers() == [
            ("j1", "satellite_elevation > 50"),
            ("j4", "utc_hour < 3"),
        ]
        state.remove_job("j1")
        assert sensing._active_triggers() == [("j4", "utc_hour < 3")]
    finally:
        state.close()
