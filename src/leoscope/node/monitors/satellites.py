"""Satellites above the node, from public TLEs: elevation, visible count and slant ranges.

Variables produced (per evaluation, once a second by default):

``satellite_elevation``  float, degrees: the highest elevation of any tracked satellite
                         (negative when all are below the horizon; None with no TLEs).
``visible_satellites``   int: satellites at or above the node's minimum elevation (25° default).
``sat_dist_min``         float, metres: smallest slant range among satellites within
``sat_dist_max``         `MAX_RANGE_M` (1,089,686.42 m, the reference's limit), largest such
``sat_dist_mean``        range and their mean. All three are None when no satellite is in range.

Positions come from SGP4 over the whole constellation in one vectorized call
(`sgp4.api.SatrecArray`), rotated from TEME into the node's horizon frame with skyfield's frames.
The geometry is split into pure functions (`look_angles`, `constellation_summary`) so it can be
tested with data alone.

TLEs are fetched from a URL (CelesTrak's Starlink group by default), checked line by line
(`tle`: length, checksum, matching catalogue numbers; bad entries are skipped with a warning),
cached in a directory the agent passes, and refreshed every 12 hours. A restart without network uses the
cache; a failed download keeps the current set and retries with backoff.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import numpy as np
from sgp4.api import Satrec, SatrecArray, jday
from skyfield.api import load, wgs84
from skyfield.sgp4lib import TEME
from skyfield.timelib import Timescale

from leoscope.core.errors import InvalidInput

from ..tasks import cancel_and_wait
from .base import Backoff, Clock, PollingMonitor, SampleCallback, SourceError
from .tle import TleCache, TleEntry, fetch_tle_text, parse_tle_text

log = logging.getLogger(__name__)

DEFAULT_TLE_URL = "https://celestrak.org/NORAD/elements/gp.php?GROUP=starlink&FORMAT=tle"
TLE_REFRESH_SECS = 12 * 3600.0
MAX_RANGE_M = 1_089_686.42
DEFAULT_MIN_ELEVATION_DEG = 25.0

SATELLITE_VARIABLES = (
    "satellite_elevation",
    "visible_satellites",
    "sat_dist_min",
    "sat_dist_max",
    "sat_dist_mean",
)


# -- geometry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observer:
    """A node's registered position: geodetic degrees and metres above the WGS84 ellipsoid."""

    latitude_deg: float
    longitude_deg: float
    altitude_m: float = 0.0

    def __post_init__(self) -> None:
        if not (isinstance(self.latitude_deg, int | float) and -90 <= self.latitude_deg <= 90):
            raise InvalidInput(
                "latitude", f"must be between -90 and 90 degrees, got {self.latitude_deg!r}"
            )
        if not (isinstance(self.longitude_deg, int | float) and -180 <= self.longitude_deg <= 180):
            raise InvalidInput(
                "longitude", f"must be between -180 and 180 degrees, got {self.longitude_deg!r}"
            )
        if not (isinstance(self.altitude_m, int | float) and -1000 <= self.altitude_m <= 100_000):
            raise InvalidInput(
                "altitude_m", f"must be between -1000 and 100000 m, got {self.altitude_m!r}"
            )


@functools.cache
def _timescale() -> Timescale:
    """Skyfield's timescale from its bundled files (never downloads)."""
    return load.timescale(builtin=True)


class Constellation:
    """A set of satellites propagated together with one vectorized SGP4 call."""

    def __init__(self, entries: Sequence[TleEntry]) -> None:
        self.entries = list(entries)
        self.names = [entry.name for entry in self.entries]
        satrecs = [Satrec.twoline2rv(entry.line1, entry.line2) for entry in self.entries]
        self._array = SatrecArray(satrecs) if satrecs else None

    def __len__(self) -> int:
        return len(self.entries)

    def teme_positions_km(self, at: float) -> np.ndarray:
        """TEME positions (N×3 km) at epoch seconds ``at``; NaN rows where SGP4 failed (decayed)."""
        if self._array is None:
            return np.empty((0, 3))
        moment = datetime.fromtimestamp(at, UTC)
        jd, fraction = jday(
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second + moment.microsecond / 1e6,
        )
        errors, positions, _velocities = self._array.sgp4(np.array([jd]), np.array([fraction]))
        positions = positions[:, 0, :]
        positions[errors[:, 0] != 0] = np.nan
        return positions

    def look_angles(self, observer: Observer, at: float) -> tuple[np.ndarray, np.ndarray]:
        """Elevation (degrees) and slant range (metres) of every satellite from ``observer``."""
        teme_km = self.teme_positions_km(at)
        t = _timescale().from_datetime(datetime.fromtimestamp(at, UTC))
        site = wgs84.latlon(
            observer.latitude_deg, observer.longitude_deg, elevation_m=observer.altitude_m
        )
        gcrs_to_teme = TEME.rotation_at(t)
        gcrs_to_horizon = site.rotation_at(t)
        site_teme_km = gcrs_to_teme @ site.at(t).position.km
        teme_to_horizon = gcrs_to_horizon @ gcrs_to_teme.T
        return look_angles(teme_km, site_teme_km, teme_to_horizon)


def look_angles(
    satellites_km: np.ndarray, site_km: np.ndarray, to_horizon: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Elevation (degrees) and range (metres) of N satellites seen from a site.

    ``satellites_km`` (N×3) and ``site_km`` (3,) share one Earth-centred frame; ``to_horizon``
    (3×3) rotates that frame into the site's north/east/up axes (the third row is "up").
    """
    offsets = np.asarray(satellites_km, dtype=float) - np.asarray(site_km, dtype=float)
    local = offsets @ np.asarray(to_horizon, dtype=float).T
    horizontal = np.hypot(local[:, 0], local[:, 1])
    elevation_deg = np.degrees(np.arctan2(local[:, 2], horizontal))
    range_m = np.linalg.norm(offsets, axis=1) * 1000.0
    return elevation_deg, range_m


def constellation_summary(
    elevation_deg: np.ndarray,
    range_m: np.ndarray,
    *,
    min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
    max_range_m: float = MAX_RANGE_M,
) -> dict[str, object]:
    """The satellite trigger variables from per-satellite elevations and ranges.

    NaN entries (satellites SGP4 could not propagate) are ignored. With no satellites the
    elevation is None and the count 0; with none within ``max_range_m`` the three distances are
    None (unknown), never a sentinel.
    """
    elevation = np.asarray(elevation_deg, dtype=float)
    ranges = np.asarray(range_m, dtype=float)
    if elevation.shape != ranges.shape:
        raise InvalidInput(
            "range_m", f"shape {ranges.shape} differs from elevation {elevation.shape}"
        )
    valid = ~(np.isnan(elevation) | np.isnan(ranges))
    elevation, ranges = elevation[valid], ranges[valid]
    in_range = ranges[ranges <= max_range_m]
    return {
        "satellite_elevation": float(elevation.max()) if elevation.size else None,
        "visible_satellites": int(np.count_nonzero(elevation >= min_elevation_deg)),
        "sat_dist_min": float(in_range.min()) if in_range.size else None,
        "sat_dist_max": float(in_range.max()) if in_range.size else None,
        "sat_dist_mean": float(in_range.mean()) if in_range.size else None,
    }


# -- the monitor -------------------------------------------------------------------------------


class SatelliteMonitor(PollingMonitor):
    """Publishes `SATELLITE_VARIABLES` for one node every ``interval_secs``.

    ``observer`` is the node's registered position; ``cache_dir`` is where the TLE cache lives.
    Evaluation and TLE refresh fail independently: a download error keeps the current set (and
    retries with ``tle_backoff``); evaluation with no TLE set at all records an error and emits
    nothing. ``clock`` gives the moment satellites are evaluated at (and the samples' ``at``);
    the TLE set's age is always judged on the real wall clock.
    """

    name = "satellites"

    def __init__(
        self,
        on_sample: SampleCallback,
        *,
        observer: Observer,
        cache_dir: str | os.PathLike[str],
        tle_url: str = DEFAULT_TLE_URL,
        interval_secs: float = 1.0,
        tle_refresh_secs: float = TLE_REFRESH_SECS,
        min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
        max_range_m: float = MAX_RANGE_M,
        http_timeout_secs: float = 30.0,
        backoff: Backoff | None = None,
        tle_backoff: Backoff | None = None,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(on_sample, interval_secs=interval_secs, backoff=backoff, clock=clock)
        if not -90 <= min_elevation_deg <= 90:
            raise InvalidInput(
                "min_elevation_deg", f"must be between -90 and 90, got {min_elevation_deg!r}"
            )
        if not max_range_m > 0:
            raise InvalidInput("max_range_m", f"must be positive, got {max_range_m!r}")
        if not tle_refresh_secs > 0:
            raise InvalidInput("tle_refresh_secs", f"must be positive, got {tle_refresh_secs!r}")
        if not tle_url.startswith(("http://", "https://")):
            raise InvalidInput("tle_url", f"must be an http(s) URL, got {tle_url!r}")
        self.observer = observer
        self.tle_url = tle_url
        self.tle_refresh_secs = tle_refresh_secs
        self.min_elevation_deg = min_elevation_deg
        self.max_range_m = max_range_m
        self.cache = TleCache(cache_dir)
        self.tle_backoff = tle_backoff or Backoff(initial_secs=60.0, max_secs=3600.0)
        self.constellation = Constellation([])
        self.tle_fetched_at: float | None = None
        """Wall-clock time the current TLE set was downloaded (from the cache after a restart)."""
        self.tle_error: str | None = None
        self._http_timeout = aiohttp.ClientTimeout(total=http_timeout_secs)
        self._http: aiohttp.ClientSession | None = None
        self._refresher: asyncio.Task[None] | None = None

    async def _setup(self) -> None:
        self._http = aiohttp.ClientSession(timeout=self._http_timeout)
        cached = await asyncio.to_thread(self.cache.load)
        if cached is not None:
            text, fetched_at = cached
            entries = await asyncio.to_thread(parse_tle_text, text)
            if entries:
                self._use(entries, fetched_at)
                log.info("tle source=cache satellites=%d fetched_at=%.0f", len(entries), fetched_at)
        self._refresher = asyncio.create_task(self._refresh_loop(), name="monitor:satellites:tle")

    def _use(self, entries: Sequence[TleEntry], fetched_at: float) -> None:
        self.constellation = Constellation(entries)
        self.tle_fetched_at = fetched_at

    async def refresh_tles(self) -> int:
        """Download the TLE set now, cache it and start using it; returns the satellite count."""
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._http_timeout)
        text, entries = await fetch_tle_text(self._http, self.tle_url)
        fetched_at = time.time()  # real wall time: the cache's age is judged against it
        await asyncio.to_thread(self.cache.save, text, fetched_at)
        self._use(entries, fetched_at)
        self.tle_error = None
        self.tle_backoff.reset()
        log.info("tle source=download satellites=%d", len(entries))
        return len(entries)

    async def _refresh_loop(self) -> None:
        while True:
            age = None if self.tle_fetched_at is None else time.time() - self.tle_fetched_at
            if age is not None and age < self.tle_refresh_secs:
                await asyncio.sleep(self.tle_refresh_secs - age)
                continue
            try:
                await self.refresh_tles()
            except Exception as exc:
                self.tle_error = str(exc)
                delay = self.tle_backoff.next_delay()
                log.warning(
                    "tle refresh failed: %s; keeping satellites=%d retry_in=%.0fs",
                    exc,
                    len(self.constellation),
                    delay,
                )
                await asyncio.sleep(delay)

    def evaluate(self, at: float) -> dict[str, object]:
        """The satellite variables at epoch seconds ``at`` for the current TLE set."""
        elevation, ranges = self.constellation.look_angles(self.observer, at)
        return constellation_summary(
            elevation,
            ranges,
            min_elevation_deg=self.min_elevation_deg,
            max_range_m=self.max_range_m,
        )

    async def _poll(self) -> None:
        if not len(self.constellation):
            raise SourceError(f"no TLE data yet ({self.tle_error or 'download pending'})")
        at = self._clock()
        self._emit(self.evaluate(at), at)

    async def _close(self) -> None:
        refresher, self._refresher = self._refresher, None
        await cancel_and_wait(refresher)
        if self._http is not None:
            await self._http.close()
            self._http = None
