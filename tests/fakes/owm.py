"""A local stand-in for OpenWeatherMap's current-weather endpoint (``/data/2.5/weather``).

It answers like the real service: a JSON reply in standard units for a known key, and OWM's JSON
error bodies for a bad key (401), too many requests (429) and server trouble (5xx).
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field

from aiohttp import web

INVALID_KEY_BODY = {
    "cod": 401,
    "message": "Invalid API key. Please see https://openweathermap.org/faq#error401 for more info.",
}
RATE_LIMITED_BODY = {
    "cod": 429,
    "message": "Your account is temporary blocked due to exceeding of requests limitation of your subscription type.",
}


def sample_reply(lat: float, lon: float) -> dict[str, object]:
    """A typical reply for light rain, in OpenWeatherMap's layout (standard units)."""
    return {
        "coord": {"lon": lon, "lat": lat},
        "weather": [{"id": 500, "main": "Rain", "description": "light rain", "icon": "10d"}],
        "base": "stations",
        "main": {
            "temp": 284.2,
            "feels_like": 283.4,
            "temp_min": 282.1,
            "temp_max": 286.3,
            "pressure": 1012,
            "humidity": 81,
            "sea_level": 1012,
            "grnd_level": 1001,
        },
        "visibility": 9000,
        "wind": {"speed": 4.6, "deg": 220, "gust": 8.2},
        "rain": {"1h": 0.42},
        "clouds": {"all": 75},
        "dt": 1717243200,
        "sys": {
            "type": 2,
            "id": 2000000,
            "country": "US",
            "sunrise": 1717229000,
            "sunset": 1717285000,
        },
        "timezone": -25200,
        "id": 5809844,
        "name": "Seattle",
        "cod": 200,
    }


@dataclass
class OwmRequest:
    at: float
    query: dict[str, str]


@dataclass
class FakeOpenWeatherMap:
    """Serves ``reply`` to requests carrying ``api_key``; ``status`` forces an error answer."""

    api_key: str
    reply: dict[str, object] = field(default_factory=lambda: sample_reply(47.6, -122.3))
    status: int = 200
    retry_after: str | None = None
    requests: list[OwmRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = web.Application()
        self.app.router.add_get("/data/2.5/weather", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(OwmRequest(time.monotonic(), dict(request.query)))
        if self.status == 429:
            headers = {"Retry-After": self.retry_after} if self.retry_after else None
            return web.json_response(RATE_LIMITED_BODY, status=429, headers=headers)
        if self.status >= 500:
            return web.Response(status=self.status, text="<html><body>Bad Gateway</body></html>")
        if request.query.get("appid") != self.api_key or self.status == 401:
            return web.json_response(INVALID_KEY_BODY, status=401)
        if "lat" not in request.query or "lon" not in request.query:
            return web.json_response({"cod": "400", "message": "Nothing to geocode"}, status=400)
        return web.Response(
            text=json.dumps(copy.deepcopy(self.reply)), content_type="application/json"
        )
