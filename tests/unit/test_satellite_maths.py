"""Satellite geometry and TLE parsing: pure functions, checked against skyfield's own loop."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from skyfield.api import EarthSatellite, load, wgs84

from leoscope.core.errors import InvalidInput
from leoscope.node.monitors.satellites import (
    MAX_RANGE_M,
    Constellation,
    Observer,
    constellation_summary,
    look_angles,
)
from leoscope.node.monitors.tle import TleEntry, parse_tle_text, tle_checksum
from tests.fakes.tle import overhead_tle, random_constellation, sub_satellite_point, tle_text

EPOCH = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
SEATTLE = Observer(47.6062, -122.3321, 56.0)

# A published ISS element set (a fact used to pin the checksum rule).
ISS_LINE1 = "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927"
ISS_LINE2 = "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537"


def entry(tle) -> TleEntry:  # type: ignore[no-untyped-def]
    return TleEntry(tle.name, tle.line1, tle.line2)


def test_checksum_matches_published_element_set() -> None:
    assert tle_checksum(ISS_LINE1) == 7
    assert tle_checksum(ISS_LINE2) == 7


def test_parser_keeps_valid_entries_and_skips_bad_ones(caplog: pytest.LogCaptureFixture) -> None:
    good = overhead_tle(10.0, 20.0, EPOCH, satnum=11, name="GOOD")
    unnamed = overhead_tle(-10.0, 40.0, EPOCH, satnum=12)
    corrupt_digit = "9" if good.line2[20] != "9" else "8"
    bad_checksum = good.line2[:20] + corrupt_digit + good.line2[21:]
    other = overhead_tle(0.0, 0.0, EPOCH, satnum=13)
    text = (
        f"GOOD\n{good.line1}\n{good.line2}\n"
        f"\n{unnamed.line1}\n{unnamed.line2}\n"  # two-line form, no name
        f"BROKEN\n{good.line1}\n{bad_checksum}\n"
        f"MIXED\n{good.line1}\n{other.line2}\n"  # catalogue numbers differ
        f"SHORT\n{good.line1[:60]}\n{good.line2}\n"
        f"0 NAMED\n{other.line1}\n{other.line2}\n"
    )
    with caplog.at_level("WARNING"):
        entries = parse_tle_text(text)
    assert [e.name for e in entries] == ["GOOD", "00012", "NAMED"]
    assert "checksum" in caplog.text
    assert "catalogue numbers" in caplog.text


def test_generated_tles_have_valid_checksums_and_land_overhead() -> None:
    tles = [
        overhead_tle(lat, lon, EPOCH, satnum=i + 1)
        for i, (lat, lon) in enumerate([(47.6, -122.3), (-33.9, 151.2), (0.0, 0.0)])
    ]
    assert len(parse_tle_text(tle_text(tles))) == 3
    for tle, (lat, lon) in zip(tles, [(47.6, -122.3), (-33.9, 151.2), (0.0, 0.0)], strict=True):
        got_lat, got_lon = sub_satellite_point(tle, EPOCH)
        assert got_lat == pytest.approx(lat, abs=0.01)
        assert got_lon == pytest.approx(lon, abs=0.01)


def test_vectorized_look_angles_match_skyfield_per_satellite() -> None:
    tles = random_constellation(300, EPOCH, seed=7)
    when = EPOCH + timedelta(minutes=37)
    elevation, ranges = Constellation([entry(t) for t in tles]).look_angles(
        SEATTLE, when.timestamp()
    )

    ts = load.timescale(builtin=True)
    t = ts.from_datetime(when)
    site = wgs84.latlon(SEATTLE.latitude_deg, SEATTLE.longitude_deg, elevation_m=SEATTLE.altitude_m)
    expected_elevation, expected_range = [], []
    for tle in tles:
        alt, _az, distance = (
            (EarthSatellite(tle.line1, tle.line2, tle.name, ts) - site).at(t).altaz()
        )
        expected_elevation.append(alt.degrees)
        expected_range.append(distance.m)
    np.testing.assert_allclose(elevation, expected_elevation, atol=1e-6)
    np.testing.assert_allclose(ranges, expected_range, rtol=1e-9)


def test_satellite_straight_above_is_at_90_degrees_and_one_opposite_is_below_horizon() -> None:
    above = overhead_tle(SEATTLE.latitude_deg, SEATTLE.longitude_deg, EPOCH, satnum=1)
    opposite = overhead_tle(-SEATTLE.latitude_deg, SEATTLE.longitude_deg + 180, EPOCH, satnum=2)
    elevation, ranges = Constellation([entry(above), entry(opposite)]).look_angles(
        SEATTLE, EPOCH.timestamp()
    )
    assert elevation[0] > 89.9
    assert ranges[0] == pytest.approx(550_000 - SEATTLE.altitude_m, rel=0.02)
    assert elevation[1] < -60

    summary = constellation_summary(elevation, ranges)
    assert summary["visible_satellites"] == 1
    assert summary["satellite_elevation"] == pytest.approx(elevation[0])
    assert summary["sat_dist_min"] == summary["sat_dist_max"] == pytest.approx(ranges[0])


def test_no_satellite_in_range_gives_unknown_distances() -> None:
    high = overhead_tle(
        SEATTLE.latitude_deg, SEATTLE.longitude_deg, EPOCH, satnum=3, altitude_km=2000
    )
    far = overhead_tle(0.0, 60.0, EPOCH, satnum=4)
    elevation, ranges = Constellation([entry(high), entry(far)]).look_angles(
        SEATTLE, EPOCH.timestamp()
    )
    summary = constellation_summary(elevation, ranges)
    assert summary["satellite_elevation"] > 89  # type: ignore[operator]
    assert summary["visible_satellites"] == 1
    assert summary["sat_dist_min"] is None
    assert summary["sat_dist_max"] is None
    assert summary["sat_dist_mean"] is None


def test_summary_of_arrays() -> None:
    elevation = np.array([80.0, 30.0, 24.9, -5.0, np.nan])
    ranges = np.array([560_000.0, 1_000_000.0, MAX_RANGE_M + 1, 3_000_000.0, 500_000.0])
    summary = constellation_summary(elevation, ranges, min_elevation_deg=25.0)
    assert summary == {
        "satellite_elevation": 80.0,
        "visible_satellites": 2,
        "sat_dist_min": 560_000.0,
        "sat_dist_max": 1_000_000.0,
        "sat_dist_mean": 780_000.0,
    }
    assert (
        constellation_summary(elevation, ranges, min_elevation_deg=10.0)["visible_satellites"] == 3
    )


def test_summary_of_nothing_is_unknown_not_a_crash() -> None:
    summary = constellation_summary(np.array([]), np.array([]))
    assert summary == {
        "satellite_elevation": None,
        "visible_satellites": 0,
        "sat_dist_min": None,
        "sat_dist_max": None,
        "sat_dist_mean": None,
    }
    assert Constellation([]).look_angles(SEATTLE, EPOCH.timestamp())[0].shape == (0,)


def test_summary_rejects_mismatched_arrays() -> None:
    with pytest.raises(InvalidInput) as err:
        constellation_summary(np.zeros(3), np.zeros(2))
    assert err.value.field == "range_m"


def test_look_angles_pure_geometry() -> None:
    # Site on the equator at longitude 0: north = z, east = y, up = x.
    to_horizon = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    site = np.array([6378.137, 0.0, 0.0])
    satellites = np.array(
        [[6928.137, 0.0, 0.0], [6378.137, 500.0, 0.0], [6378.137 + 100, 0.0, 100.0]]
    )
    elevation, ranges = look_angles(satellites, site, to_horizon)
    np.testing.assert_allclose(elevation, [90.0, 0.0, 45.0], atol=1e-9)
    np.testing.assert_allclose(ranges, [550_000.0, 500_000.0, math.sqrt(2) * 100_000.0])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"latitude_deg": 91.0, "longitude_deg": 0.0}, "latitude"),
        ({"latitude_deg": 0.0, "longitude_deg": -181.0}, "longitude"),
        ({"latitude_deg": 0.0, "longitude_deg": 0.0, "altitude_m": 1e7}, "altitude_m"),
    ],
)
def test_observer_rejects_impossible_positions(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        Observer(**kwargs)
    assert err.value.field == field
