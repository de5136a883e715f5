"""The weather monitor against a local OpenWeatherMap stand-in."""

from __future__ import annotations

import json
import time
from itertools import pairwise
from pathlib import Path

import pytest

from leoscope.core.errors import InvalidInput
from leoscope.node.monitors.base import Backoff
from leoscope.node.monitors.weather import CACHE_FILE_NAME, WEATHER_VARIABLES, WeatherMonitor
from tests.fakes.http import LocalHttpServer, closed_port_url
from tests.fakes.owm import FakeOpenWeatherMap, sample_reply
from tests.fakes.waits import Samples, wait_until

KEY = "0123456789abcdef0123456789abcdef"
LAT, LON = 47.6062, -122.3321


def weather_monitor(
    samples: Samples, base_url: str, cache_dir: Path, **kwargs: object
) -> WeatherMonitor:
    options: dict[str, object] = {
        "latitude_deg": LAT,
        "longitude_deg": LON,
        "api_key": KEY,
        "cache_dir": cache_dir,
        "base_url": base_url,
        "interval_secs": 0.1,
        "backoff": Backoff(0.1, 0.4),
    }
    options.update(kwargs)
    return WeatherMonitor(samples, **options)  # type: ignore[arg-type]


async def test_polls_the_node_coordinates_with_the_key_and_maps_the_reply(tmp_path: Path) -> None:
    owm = FakeOpenWeatherMap(KEY, reply=sample_reply(LAT, LON))
    samples = Samples()
    async with LocalHttpServer(owm.app) as server:
        async with weather_monitor(samples, server.url, tmp_path) as monitor:
            await wait_until(lambda: samples.calls, what="a weather sample")
    query = owm.requests[0].query
    assert query == {"lat": str(LAT), "lon": str(LON), "appid": KEY, "units": "standard"}
    values = samples.calls[0][0]
    assert values == {
        "weather_id": 500,
        "weather_main": "Rain",
        "weather_desc": "light rain",
        "weather_temp": 284.2,
        "weather_pressure": 1012,
        "weather_humidity": 81,
        "weather_temp_min": 282.1,
        "weather_temp_max": 286.3,
        "weather_temp_mean": pytest.approx(284.2),
        "weather_clouds": 75,
        "weather_rain1h": 0.42,
        "weather_rain3h": None,  # the group is present, the value is not
        "weather_visibility": 9000,
        "weather_speed": 4.6,
        "weather_deg": 220,
        "weather_gust": 8.2,
    }
    assert "weather_snow1h" not in values  # no snow group: left unchanged
    assert monitor.freshness is not None and monitor.last_error is None


async def test_a_missing_group_leaves_its_variables_unchanged(tmp_path: Path) -> None:
    owm = FakeOpenWeatherMap(KEY, reply=sample_reply(LAT, LON))
    samples = Samples()
    async with LocalHttpServer(owm.app) as server:
        async with weather_monitor(samples, server.url, tmp_path) as monitor:
            await wait_until(lambda: samples.calls, what="a first sample")
            dry = sample_reply(LAT, LON)
            del dry["rain"]
            dry["wind"] = {"speed": 1.5}
            owm.reply = dry
            await wait_until(lambda: samples.latest("weather_speed") == 1.5, what="the dry reply")
    last = samples.calls[-1][0]
    assert "weather_rain1h" not in last
    assert last["weather_deg"] is None and last["weather_gust"] is None
    assert monitor.values["weather_rain1h"] == 0.42


@pytest.mark.parametrize("status", [401, 429, 500, 503])
async def test_error_answers_back_off_and_keep_the_last_good_reading(
    tmp_path: Path, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    owm = FakeOpenWeatherMap(KEY, reply=sample_reply(LAT, LON))
    samples = Samples()
    caplog.set_level("DEBUG")
    async with LocalHttpServer(owm.app) as server:
        async with weather_monitor(samples, server.url, tmp_path, interval_secs=0.02) as monitor:
            await wait_until(lambda: samples.calls, what="a first sample")
            owm.status = status
            failing_from = len(owm.requests)
            await wait_until(lambda: monitor.consecutive_errors >= 1, what="a failed poll")
            good, freshness = monitor.values, monitor.freshness  # a poll may have been in flight
            await wait_until(lambda: monitor.consecutive_errors >= 3, what="three failed polls")
            assert monitor.values == good
            assert monitor.freshness == freshness
            assert f"HTTP {status}" in (monitor.last_error or "")
            if status == 401:
                assert "Invalid API key" in (monitor.last_error or "")
            # backing off: delays of 0.05-0.1 s, then 0.1-0.2 s, never the 0.02 s poll rhythm
            failing = owm.requests[failing_from:]
            gaps = [later.at - earlier.at for earlier, later in pairwise(failing)]
            assert gaps[0] >= 0.05 and gaps[1] >= 0.1, gaps
            sample_count = len(samples.calls)
            owm.status = 200
            await wait_until(lambda: monitor.consecutive_errors == 0, within=3, what="recovery")
            await wait_until(
                lambda: len(samples.calls) > sample_count, what="a sample after recovery"
            )
            assert monitor.last_error is None
    assert KEY not in caplog.text


async def test_rate_limit_honours_retry_after(tmp_path: Path) -> None:
    owm = FakeOpenWeatherMap(KEY, status=429, retry_after="1")
    samples = Samples()
    async with LocalHttpServer(owm.app) as server:
        async with weather_monitor(samples, server.url, tmp_path) as monitor:
            await wait_until(lambda: monitor.consecutive_errors >= 1, what="the first 429")
            started = time.monotonic()
            await wait_until(lambda: len(owm.requests) >= 2, within=3, what="the retry")
    assert time.monotonic() - started > 0.5  # the 1 s hint, not the 0.05-0.1 s backoff
    assert "rate limited" in (monitor.last_error or "")
    assert samples.calls == []


async def test_network_errors_back_off_and_name_no_key(tmp_path: Path) -> None:
    samples = Samples()
    async with weather_monitor(samples, closed_port_url(), tmp_path) as monitor:
        await wait_until(lambda: monitor.consecutive_errors >= 2, what="failed polls")
        assert monitor.running
    assert "request failed" in (monitor.last_error or "")
    assert KEY not in (monitor.last_error or "")
    assert samples.calls == []


async def test_missing_key_is_reported_and_a_later_key_is_used(tmp_path: Path) -> None:
    owm = FakeOpenWeatherMap(KEY)
    samples = Samples()
    current: dict[str, str | None] = {"key": None}
    async with LocalHttpServer(owm.app) as server:
        monitor = weather_monitor(samples, server.url, tmp_path, api_key=lambda: current["key"])
        async with monitor:
            await wait_until(lambda: monitor.consecutive_errors >= 1, what="the missing-key error")
            assert "no OpenWeatherMap API key" in (monitor.last_error or "")
            assert owm.requests == []
            current["key"] = KEY
            await wait_until(lambda: samples.calls, what="a sample with the new key")


async def test_the_last_reading_is_cached_and_reloaded_at_start(tmp_path: Path) -> None:
    owm = FakeOpenWeatherMap(KEY, reply=sample_reply(LAT, LON))
    first = Samples()
    async with LocalHttpServer(owm.app) as server:
        async with weather_monitor(first, server.url, tmp_path) as monitor:
            await wait_until(lambda: first.calls, what="a first sample")
            taken_at = monitor.freshness
    cached = json.loads((tmp_path / CACHE_FILE_NAME).read_text())
    assert KEY not in json.dumps(cached)

    second = Samples()
    async with weather_monitor(second, closed_port_url(), tmp_path) as offline:
        await wait_until(lambda: second.calls, what="the cached reading")
        await wait_until(lambda: offline.consecutive_errors >= 1, what="the failed poll")
    values, at = second.calls[0]
    assert set(values) == set(WEATHER_VARIABLES) - {"weather_snow1h", "weather_snow3h"}
    assert values["weather_temp"] == 284.2
    assert at == taken_at
    assert offline.freshness == taken_at
    assert len(second.calls) == 1


async def test_a_fresh_cache_postpones_the_first_poll(tmp_path: Path) -> None:
    owm = FakeOpenWeatherMap(KEY, reply=sample_reply(LAT, LON))
    async with LocalHttpServer(owm.app) as server:
        async with weather_monitor(Samples(), server.url, tmp_path, interval_secs=60.0) as monitor:
            await wait_until(lambda: monitor.freshness is not None, what="a first reading")
        samples = Samples()
        async with weather_monitor(samples, server.url, tmp_path, interval_secs=60.0):
            await wait_until(lambda: samples.calls, what="the cached reading")
    assert len(owm.requests) == 1


def test_rejects_impossible_coordinates(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        weather_monitor(Samples(), "http://127.0.0.1:1", tmp_path, latitude_deg=123.0)
    assert err.value.field == "latitude"
