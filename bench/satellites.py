"""Satellite geometry speed: one node against a 10,000-satellite constellation.

Each evaluation computes every satellite's elevation and slant range from one node and reduces
them to the trigger variables (`SatelliteMonitor.evaluate`'s work): one vectorized SGP4 call over
the whole set, then array maths. The baseline, measured in the same run, is the per-satellite
skyfield loop (``(satellite - site).at(t).altaz()``) timed on a subset and scaled per satellite
to the full constellation. Targets: under 50 ms per evaluation and at least 20x the loop.

    .venv/bin/python bench/satellites.py [--quick] [--satellites N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the TLE generator in tests/

from skyfield.api import EarthSatellite, load, wgs84

from leoscope.node.monitors.satellites import (
    Constellation,
    Observer,
    constellation_summary,
)
from leoscope.node.monitors.tle import parse_tle_text
from tests.fakes.tle import random_constellation, tle_text

EPOCH = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
NODE = Observer(47.6062, -122.3321, 56.0)
TARGET_MS = 50.0
TARGET_RATIO = 20.0


def time_vectorized(constellation: Constellation, evaluations: int) -> float:
    """Median milliseconds per evaluation (positions, look angles and summary)."""
    durations = []
    for i in range(evaluations):
        at = (EPOCH + timedelta(seconds=7 * i)).timestamp()
        start = time.perf_counter()
        elevation, ranges = constellation.look_angles(NODE, at)
        constellation_summary(elevation, ranges)
        durations.append(time.perf_counter() - start)
    return statistics.median(durations) * 1000.0


def time_loop_per_satellite(tles: list, evaluations: int) -> float:  # type: ignore[type-arg]
    """Best milliseconds per satellite of skyfield's one-satellite-at-a-time evaluation."""
    ts = load.timescale(builtin=True)
    site = wgs84.latlon(NODE.latitude_deg, NODE.longitude_deg, elevation_m=NODE.altitude_m)
    satellites = [EarthSatellite(t.line1, t.line2, t.name, ts) for t in tles]
    best = float("inf")
    for i in range(evaluations):
        t = ts.from_datetime(EPOCH + timedelta(seconds=7 * i))
        start = time.perf_counter()
        for satellite in satellites:
            alt, _az, distance = (satellite - site).at(t).altaz()
            _ = (alt.degrees, distance.m)
        best = min(best, (time.perf_counter() - start) / len(satellites))
    return best * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (a few seconds)")
    parser.add_argument("--satellites", type=int, default=10_000)
    args = parser.parse_args()
    evaluations, loop_subset, loop_repeats = (10, 100, 1) if args.quick else (60, 400, 3)

    tles = random_constellation(args.satellites, EPOCH, seed=42)
    start = time.perf_counter()
    constellation = Constellation(parse_tle_text(tle_text(tles)))
    load_ms = (time.perf_counter() - start) * 1000.0
    assert len(constellation) == args.satellites

    vectorized_ms = time_vectorized(constellation, evaluations)
    loop_ms = time_loop_per_satellite(tles[:loop_subset], loop_repeats) * args.satellites
    ratio = loop_ms / vectorized_ms
    print(
        json.dumps(
            {
                "bench": "satellites.look_angles",
                "metric": f"evaluation_ms_{args.satellites}_satellites",
                "value": round(vectorized_ms, 2),
                "unit": "ms/evaluation",
                "baseline": round(loop_ms, 1),
                "ratio": round(ratio, 1),
                "target": f"< {TARGET_MS:g} ms and >= {TARGET_RATIO:g}x the per-satellite skyfield loop",
                "met": vectorized_ms < TARGET_MS and ratio >= TARGET_RATIO,
            }
        ),
        flush=True,
    )
    print(
        json.dumps(
            {
                "bench": "satellites.load_tles",
                "metric": f"parse_and_build_ms_{args.satellites}_satellites",
                "value": round(load_ms, 1),
                "unit": "ms (once per TLE refresh)",
                "baseline": None,
                "ratio": None,
                "target": "informational",
                "met": True,
            }
        )
    )


if __name__ == "__main__":
    main()
