"""The satellite monitor against a local CelesTrak stand-in serving generated TLEs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from leoscope.node.monitors.base import Backoff
from leoscope.node.monitors.satellites import Observer, SatelliteMonitor
from leoscope.node.monitors.tle import CACHE_FILE_NAME
from tests.fakes.http import LocalHttpServer, closed_port_url
from tests.fakes.tle import TleServer, overhead_tle, tle_text
from tests.fakes.waits import Samples, wait_until

EPOCH = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
NODE = Observer(47.6062, -122.3321, 56.0)


def fast_monitor(samples: Samples, url: str, cache_dir: Path, **kwargs: object) -> SatelliteMonitor:
    options: dict[str, object] = {
        "observer": NODE,
        "cache_dir": cache_dir,
        "tle_url": url,
        "interval_secs": 0.05,
        "backoff": Backoff(0.05, 0.2),
        "tle_backoff": Backoff(0.05, 0.2),
        "clock": lambda: EPOCH.timestamp(),
    }
    options.update(kwargs)
    return SatelliteMonitor(samples, **options)  # type: ignore[arg-type]


def overhead_and_opposite() -> str:
    above = overhead_tle(NODE.latitude_deg, NODE.longitude_deg, EPOCH, satnum=1, name="ABOVE")
    opposite = overhead_tle(
        -NODE.latitude_deg, NODE.longitude_deg + 180, EPOCH, satnum=2, name="OPPOSITE"
    )
    return tle_text([above, opposite])


async def test_satellite_overhead_is_seen_at_90_degrees(tmp_path: Path) -> None:
    fake = TleServer(overhead_and_opposite())
    samples = Samples()
    async with LocalHttpServer(fake.app) as server:
        async with fast_monitor(samples, fake.url(server.url), tmp_path) as monitor:
            await wait_until(lambda: samples.seen("satellite_elevation"), what="a satellite sample")
    values, at = samples.calls[-1]
    assert at == EPOCH.timestamp()
    assert values["satellite_elevation"] > 89.9  # type: ignore[operator]
    assert values["visible_satellites"] == 1
    assert values["sat_dist_min"] == pytest.approx(550_000, rel=0.02)
    assert values["sat_dist_min"] == values["sat_dist_max"] == values["sat_dist_mean"]
    assert monitor.freshness == EPOCH.timestamp()
    assert fake.requests == 1
    assert (tmp_path / CACHE_FILE_NAME).exists()


async def test_no_satellite_in_range_gives_unknown_distances(tmp_path: Path) -> None:
    far = overhead_tle(-NODE.latitude_deg, NODE.longitude_deg + 180, EPOCH, satnum=5)
    fake = TleServer(tle_text([far]))
    samples = Samples()
    async with LocalHttpServer(fake.app) as server:
        async with fast_monitor(samples, fake.url(server.url), tmp_path) as monitor:
            await wait_until(lambda: len(samples.calls) >= 3, what="three satellite samples")
            assert monitor.running and monitor.last_error is None
    values = samples.calls[-1][0]
    assert values["satellite_elevation"] < 0  # type: ignore[operator]
    assert values["visible_satellites"] == 0
    assert values["sat_dist_min"] is None
    assert values["sat_dist_max"] is None
    assert values["sat_dist_mean"] is None


async def test_cached_tles_survive_a_restart_with_the_network_off(tmp_path: Path) -> None:
    fake = TleServer(overhead_and_opposite())
    first = Samples()
    async with LocalHttpServer(fake.app) as server:
        async with fast_monitor(first, fake.url(server.url), tmp_path) as monitor:
            await wait_until(lambda: first.seen("satellite_elevation"), what="a first sample")
            fetched_at = monitor.tle_fetched_at

    second = Samples()
    offline = fast_monitor(second, closed_port_url() + "/gp.php", tmp_path, tle_refresh_secs=0.01)
    async with offline:
        await wait_until(lambda: second.seen("satellite_elevation"), what="a sample from the cache")
        await wait_until(lambda: offline.tle_error is not None, what="the failed refresh")
        assert len(offline.constellation) == 2
        assert offline.tle_fetched_at == fetched_at
        assert offline.last_error is None
    assert second.calls[-1][0] == first.calls[-1][0]


async def test_tles_are_refreshed_and_bad_answers_keep_the_current_set(tmp_path: Path) -> None:
    above = overhead_tle(NODE.latitude_deg, NODE.longitude_deg, EPOCH, satnum=1)
    opposite = overhead_tle(-NODE.latitude_deg, NODE.longitude_deg + 180, EPOCH, satnum=2)
    fake = TleServer(tle_text([opposite]))
    samples = Samples()
    async with LocalHttpServer(fake.app) as server:
        monitor = fast_monitor(samples, fake.url(server.url), tmp_path, tle_refresh_secs=0.2)
        async with monitor:
            await wait_until(lambda: samples.seen("visible_satellites"), what="a first sample")
            assert samples.latest("visible_satellites") == 0
            fake.status = 503
            await wait_until(lambda: monitor.tle_error is not None, what="a failed refresh")
            assert len(monitor.constellation) == 1
            assert monitor.last_error is None  # evaluation goes on with the current set
            fake.status = 200
            fake.text = tle_text([above, opposite])
            await wait_until(
                lambda: samples.latest("visible_satellites") == 1, what="the refreshed set"
            )
            assert monitor.tle_error is None
    assert fake.requests >= 3


async def test_without_any_tles_the_monitor_reports_an_error_and_keeps_running(
    tmp_path: Path,
) -> None:
    samples = Samples()
    async with fast_monitor(samples, closed_port_url() + "/gp.php", tmp_path) as monitor:
        await wait_until(lambda: monitor.consecutive_errors >= 2, what="repeated errors")
        assert monitor.running
        assert "no TLE data" in (monitor.last_error or "")
    assert samples.calls == []
    assert monitor.freshness is None
