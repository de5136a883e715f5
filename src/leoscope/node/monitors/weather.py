"""Current weather at the node from OpenWeatherMap.

``GET <base_url>/data/2.5/weather?lat=<node lat>&lon=<node lon>&appid=<key>&units=standard``,
every 10 minutes by default, at the node's registered coordinates (the reference used placeholder
coordinates). Variables produced, in OpenWeatherMap's standard units:

=====================  ==================================  ================================
variable               reply field                         unit
=====================  ==================================  ================================
``weather_id``         ``weather[0].id``                   condition code (800 = clear)
``weather_main``       ``weather[0].main``                 text, e.g. ``Clouds``
``weather_desc``       ``weather[0].description``          text
``weather_temp``       ``main.temp``                       kelvin
``weather_pressure``   ``main.pressure``                   hPa
``weather_humidity``   ``main.humidity``                   %
``weather_temp_min``   ``main.temp_min``                   kelvin
``weather_temp_max``   ``main.temp_max``                   kelvin
``weather_temp_mean``  midpoint of temp_min and temp_max   kelvin (the reference never set it)
``weather_clouds``     ``clouds.all``                      % cloud cover
``weather_rain1h``     ``rain.1h``                         mm
``weather_rain3h``     ``rain.3h``                         mm
``weather_snow1h``     ``snow.1h``                         mm
``weather_snow3h``     ``snow.3h``                         mm
``weather_visibility`` ``visibility``                      metres
``weather_speed``      ``wind.speed``                      m/s
``weather_deg``        ``wind.deg``                        degrees
``weather_gust``       ``wind.gust``                       m/s
=====================  ==================================  ================================

As in the reference, a group missing from a reply (``rain`` is absent when it is dry) leaves its
variables unchanged, and a value missing inside a present group becomes None (unknown).

A rejected key (401), rate limiting (429, honouring ``Retry-After``), server errors (5xx) and
network errors back off and keep the last good reading. The last reading is cached on disk and
re-emitted (with its original time) when the monitor starts again at the same coordinates. The
API key travels only in the request; it is never logged or put into an error message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import aiohttp

from leoscope.core.errors import InvalidInput

from .base import Backoff, Clock, PollingMonitor, SampleCallback, SourceError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openweathermap.org"
WEATHER_PATH = "/data/2.5/weather"
DEFAULT_INTERVAL_SECS = 600.0
CACHE_FILE_NAME = "weather.json"

# group in the reply -> ((variable, key inside the group), ...)
_GROUPS: dict[str, tuple[tuple[str, str], ...]] = {
    "weather": (("weather_id", "id"), ("weather_main", "main"), ("weather_desc", "description")),
    "main": (
        ("weather_temp", "temp"),
        ("weather_pressure", "pressure"),
        ("weather_humidity", "humidity"),
        ("weather_temp_min", "temp_min"),
        ("weather_temp_max", "temp_max"),
    ),
    "clouds": (("weather_clouds", "all"),),
    "rain": (("weather_rain1h", "1h"), ("weather_rain3h", "3h")),
    "snow": (("weather_snow1h", "1h"), ("weather_snow3h", "3h")),
    "wind": (("weather_speed", "speed"), ("weather_deg", "deg"), ("weather_gust", "gust")),
}
_TEXT_VARIABLES = {"weather_main", "weather_desc"}

WEATHER_VARIABLES = (
    *(variable for group in _GROUPS.values() for variable, _key in group),
    "weather_temp_mean",
    "weather_visibility",
)

ApiKey = str | Callable[[], str | None]


def _number(value: object) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def weather_values(reply: Mapping[str, object]) -> dict[str, object]:
    """The weather variables present in one OpenWeatherMap current-weather reply."""
    values: dict[str, object] = {}
    for group_name, fields in _GROUPS.items():
        if group_name not in reply:
            continue
        group = reply[group_name]
        if group_name == "weather":  # a list of conditions; the first is the primary one
            group = group[0] if isinstance(group, list) and group else {}
        if not isinstance(group, Mapping):
            group = {}
        for variable, key in fields:
            raw = group.get(key)
            if variable in _TEXT_VARIABLES:
                values[variable] = raw if isinstance(raw, str) else None
            elif variable == "weather_id":
                values[variable] = int(raw) if _number(raw) is not None else None  # type: ignore[arg-type]
            else:
                values[variable] = _number(raw)
    if "main" in reply:
        low, high = values.get("weather_temp_min"), values.get("weather_temp_max")
        both = isinstance(low, int | float) and isinstance(high, int | float)
        values["weather_temp_mean"] = (low + high) / 2 if both else None  # type: ignore[operator]
    if "visibility" in reply:
        values["weather_visibility"] = _number(reply["visibility"])
    return values


def _check_coordinates(latitude_deg: float, longitude_deg: float) -> None:
    if not (isinstance(latitude_deg, int | float) and -90 <= latitude_deg <= 90):
        raise InvalidInput("latitude", f"must be between -90 and 90 degrees, got {latitude_deg!r}")
    if not (isinstance(longitude_deg, int | float) and -180 <= longitude_deg <= 180):
        raise InvalidInput(
            "longitude", f"must be between -180 and 180 degrees, got {longitude_deg!r}"
        )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except ValueError:
        return None


class WeatherMonitor(PollingMonitor):
    """Polls OpenWeatherMap for the node's coordinates and publishes `WEATHER_VARIABLES`.

    ``api_key`` is the key from the global config, or a zero-argument callable returning the
    current key (so a config change applies at the next poll). ``cache_dir`` holds the last
    good reading.
    """

    name = "weather"

    def __init__(
        self,
        on_sample: SampleCallback,
        *,
        latitude_deg: float,
        longitude_deg: float,
        api_key: ApiKey,
        cache_dir: str | os.PathLike[str],
        base_url: str = DEFAULT_BASE_URL,
        interval_secs: float = DEFAULT_INTERVAL_SECS,
        http_timeout_secs: float = 15.0,
        backoff: Backoff | None = None,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(
            on_sample,
            interval_secs=interval_secs,
            backoff=backoff or Backoff(initial_secs=30.0, max_secs=1800.0),
            clock=clock,
        )
        _check_coordinates(latitude_deg, longitude_deg)
        if not base_url.startswith(("http://", "https://")):
            raise InvalidInput("base_url", f"must be an http(s) URL, got {base_url!r}")
        self.latitude_deg = latitude_deg
        self.longitude_deg = longitude_deg
        self.url = base_url.rstrip("/") + WEATHER_PATH
        self._api_key = api_key
        self.cache_path = Path(cache_dir) / CACHE_FILE_NAME
        self._timeout = aiohttp.ClientTimeout(total=http_timeout_secs)
        self._http: aiohttp.ClientSession | None = None

    def _key(self) -> str:
        key = self._api_key() if callable(self._api_key) else self._api_key
        return (key or "").strip()

    def _redact(self, text: str) -> str:
        key = self._key()
        return text.replace(key, "***") if key else text

    # -- cache ---------------------------------------------------------------------------------

    def _load_cache(self) -> tuple[dict[str, object], float] | None:
        try:
            document = json.loads(self.cache_path.read_text(encoding="utf-8"))
            at = float(document["at"])
            values = dict(document["values"])
            same_place = (document["latitude"], document["longitude"]) == (
                self.latitude_deg,
                self.longitude_deg,
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("weather cache=%s unreadable, ignored: %s", self.cache_path, exc)
            return None
        if not same_place:
            return None
        return {k: v for k, v in values.items() if k in WEATHER_VARIABLES}, at

    def _save_cache(self, values: Mapping[str, object], at: float) -> None:
        document = {
            "at": at,
            "latitude": self.latitude_deg,
            "longitude": self.longitude_deg,
            "values": dict(values),
        }
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".weather-", dir=self.cache_path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle)
            os.replace(tmp, self.cache_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- polling -------------------------------------------------------------------------------

    async def _setup(self) -> None:
        self._http = aiohttp.ClientSession(timeout=self._timeout)
        cached = await asyncio.to_thread(self._load_cache)
        if cached is not None:
            values, at = cached
            self._emit(values, at)
            log.info("weather source=cache age=%.0fs", self._clock() - at)

    def _first_delay(self) -> float:
        """A cached reading younger than the interval postpones the first poll (saves quota)."""
        if self.freshness is None:
            return 0.0
        return max(
            0.0, min(self.interval_secs, self.freshness + self.interval_secs - self._clock())
        )

    def _describe_error(self, exc: Exception) -> str:
        return self._redact(super()._describe_error(exc))

    async def fetch(self) -> dict[str, object]:
        """One request; the reply's variables, or SourceError naming what went wrong."""
        key = self._key()
        if not key:
            raise SourceError("no OpenWeatherMap API key configured")
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        params = {
            "lat": str(self.latitude_deg),
            "lon": str(self.longitude_deg),
            "appid": key,
            "units": "standard",
        }
        try:
            async with self._http.get(self.url, params=params) as response:
                status = response.status
                body = await response.text(errors="replace")
                retry_after = _retry_after(response.headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SourceError(
                self._redact(f"request failed: {type(exc).__name__}: {exc}")
            ) from None
        try:
            reply = json.loads(body)
        except ValueError:
            reply = None
        if status != 200:
            message = reply.get("message") if isinstance(reply, dict) else None
            problem = {401: "API key rejected", 429: "rate limited"}.get(status, "request failed")
            detail = f": {message}" if message else ""
            raise SourceError(self._redact(f"{problem} (HTTP {status}){detail}"), retry_after)
        if not isinstance(reply, dict):
            raise SourceError("reply is not a JSON object")
        return weather_values(reply)

    async def _poll(self) -> None:
        values = await self.fetch()
        at = self._clock()
        try:  # cache first: a reading that was emitted is always one a restart can reload
            await asyncio.to_thread(self._save_cache, {**self.values, **values}, at)
        except OSError as exc:
            log.warning("weather cache=%s not written: %s", self.cache_path, exc)
        self._emit(values, at)

    async def _close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
