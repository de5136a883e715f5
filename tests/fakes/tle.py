"""Generated, checksum-valid TLEs and a local server that hands them out like CelesTrak.

`overhead_tle` builds a near-circular orbit whose sub-satellite point is a chosen place at a
chosen epoch: latitude fixes the argument of latitude (for a given inclination), longitude fixes
the ascending node; a few corrections measured with skyfield remove the geodetic/perturbation
error. `random_constellation` spreads satellites over Starlink-like shells for benchmarks.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from skyfield.api import EarthSatellite, load, wgs84

EARTH_RADIUS_KM = 6378.137
MU_KM3_S2 = 398600.4418

_ts = load.timescale(builtin=True)


@dataclass(frozen=True)
class GeneratedTle:
    name: str
    line1: str
    line2: str

    def text(self) -> str:
        return f"{self.name}\n{self.line1}\n{self.line2}\n"


def checksum(line: str) -> int:
    total = sum(int(c) if c.isdigit() else 1 if c == "-" else 0 for c in line[:68])
    return total % 10


def mean_motion_rev_per_day(altitude_km: float) -> float:
    semi_major_km = EARTH_RADIUS_KM + altitude_km
    return math.sqrt(MU_KM3_S2 / semi_major_km**3) * 86400.0 / (2 * math.pi)


def format_tle(
    *,
    satnum: int,
    name: str,
    epoch: datetime,
    inclination_deg: float,
    raan_deg: float,
    mean_anomaly_deg: float,
    mean_motion: float,
    eccentricity: float = 0.0001,
    arg_perigee_deg: float = 0.0,
) -> GeneratedTle:
    """Lay out the two TLE lines column by column and append their checksums."""
    epoch = epoch.astimezone(UTC)
    start_of_year = datetime(epoch.year, 1, 1, tzinfo=UTC)
    day_of_year = 1 + (epoch - start_of_year).total_seconds() / 86400.0
    line1 = (
        f"1 {satnum:05d}U 24001A   {epoch.year % 100:02d}{day_of_year:012.8f} "
        f" .00000000  00000-0  00000-0 0  999"
    )
    ecc_digits = f"{eccentricity:.7f}"[2:]
    line2 = (
        f"2 {satnum:05d} {inclination_deg % 180:8.4f} {raan_deg % 360:8.4f} {ecc_digits} "
        f"{arg_perigee_deg % 360:8.4f} {mean_anomaly_deg % 360:8.4f} {mean_motion:11.8f}    1"
    )
    assert len(line1) == 68 and len(line2) == 68, (line1, line2)
    return GeneratedTle(name, line1 + str(checksum(line1)), line2 + str(checksum(line2)))


def _orbit_over(
    latitude_deg: float, longitude_deg: float, gmst_deg: float, inclination_deg: float
) -> tuple[float, float]:
    """(RAAN, mean anomaly) in degrees putting a circular orbit over a geocentric lat/lon."""
    inc = math.radians(inclination_deg)
    lat = math.radians(latitude_deg)
    arg_latitude = math.asin(max(-1.0, min(1.0, math.sin(lat) / math.sin(inc))))
    right_ascension_offset = math.atan2(
        math.cos(inc) * math.sin(arg_latitude), math.cos(arg_latitude)
    )
    raan = gmst_deg + longitude_deg - math.degrees(right_ascension_offset)
    return raan % 360, math.degrees(arg_latitude) % 360


def overhead_tle(
    latitude_deg: float,
    longitude_deg: float,
    epoch: datetime,
    *,
    satnum: int = 1,
    name: str | None = None,
    altitude_km: float = 550.0,
    inclination_deg: float = 53.0,
) -> GeneratedTle:
    """A TLE whose sub-satellite point is (latitude, longitude) at ``epoch`` (to ~0.01°)."""
    inclination_deg = max(inclination_deg, abs(latitude_deg) + 1.0)
    name = name or f"OVERHEAD-{satnum}"
    t = _ts.from_datetime(epoch.astimezone(UTC))
    gmst_deg = t.gmst * 15.0
    mean_motion = mean_motion_rev_per_day(altitude_km)
    aim_lat, aim_lon = latitude_deg, longitude_deg
    tle = None
    for _ in range(6):
        raan, anomaly = _orbit_over(aim_lat, aim_lon, gmst_deg, inclination_deg)
        tle = format_tle(
            satnum=satnum,
            name=name,
            epoch=epoch,
            inclination_deg=inclination_deg,
            raan_deg=raan,
            mean_anomaly_deg=anomaly,
            mean_motion=mean_motion,
        )
        lat, lon = sub_satellite_point(tle, epoch)
        error_lat = latitude_deg - lat
        error_lon = (longitude_deg - lon + 180) % 360 - 180
        if abs(error_lat) < 1e-3 and abs(error_lon) < 1e-3:
            break
        aim_lat += error_lat
        aim_lon += error_lon
    assert tle is not None
    return tle


def sub_satellite_point(tle: GeneratedTle, when: datetime) -> tuple[float, float]:
    satellite = EarthSatellite(tle.line1, tle.line2, tle.name, _ts)
    lat, lon = wgs84.latlon_of(satellite.at(_ts.from_datetime(when.astimezone(UTC))))
    return lat.degrees, lon.degrees


def random_constellation(count: int, epoch: datetime, *, seed: int = 1) -> list[GeneratedTle]:
    """``count`` satellites on Starlink-like shells with random planes and phases."""
    rng = random.Random(seed)
    shells = ((550.0, 53.0), (540.0, 53.2), (570.0, 70.0), (560.0, 97.6), (530.0, 43.0))
    tles = []
    for index in range(count):
        altitude_km, inclination_deg = shells[index % len(shells)]
        tles.append(
            format_tle(
                satnum=index + 1,
                name=f"SYNTH-{index + 1}",
                epoch=epoch,
                inclination_deg=inclination_deg,
                raan_deg=rng.uniform(0, 360),
                mean_anomaly_deg=rng.uniform(0, 360),
                mean_motion=mean_motion_rev_per_day(altitude_km),
            )
        )
    return tles


def tle_text(tles: Iterable[GeneratedTle]) -> str:
    return "".join(tle.text() for tle in tles)


class TleServer:
    """An aiohttp app answering ``GET /NORAD/elements/gp.php`` with the current TLE text.

    ``status`` other than 200 makes it answer with that status; ``requests`` counts the calls.
    """

    PATH = "/NORAD/elements/gp.php"

    def __init__(self, text: str) -> None:
        self.text = text
        self.status = 200
        self.requests = 0
        self.app = web.Application()
        self.app.router.add_get(self.PATH, self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.status != 200:
            return web.Response(status=self.status, text="unavailable")
        return web.Response(text=self.text, content_type="text/plain")

    def url(self, base: str) -> str:
        return f"{base}{self.PATH}?GROUP=starlink&FORMAT=tle"
