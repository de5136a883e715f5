"""The trigger variables: what a node knows about its link, its sky and its weather.

A trigger (see `core/triggers/` and docs/triggers.md) reads named values from a per-node table.
This module is the single list of those names, and the table that holds their current values.

Base variables (`CATALOG`), grouped by where the value comes from:

* dish: Starlink dish status published by starlink-grpc-tools over MQTT
  (`starlink/dish_status/<terminal id>/<field>`), about every 2 s;
* traffic: bytes per second sent and received by the running experiment containers;
* satellites: geometry computed from public TLEs and the node's position;
* weather: OpenWeatherMap current weather in standard units (kelvin, m/s);
* clock: the UTC time of day, computed by the node from the time it evaluates at.

The first 30 are the reference's, with its names, types and units. LEOScope adds
`satellite_elevation`, `visible_satellites` and `utc_hour`.

Derived names: every base variable F also has F_1 .. F_5, its previous five values (newest first),
and F_avg, the mean of the real samples among F, F_1 .. F_5 (a float; for a Boolean that is the
fraction of samples that were true; for a string it is the most frequent value, ties going to
the newest). A name with no data is `UNKNOWN`, never -1: the reference's -1 placeholder was
indistinguishable from a real reading and polluted every average.

Nothing here reads a clock or does I/O: callers pass the time of each update in.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from .errors import InvalidInput

__all__ = [
    "ALL_VARIABLES",
    "BASE_VARIABLES",
    "CATALOG",
    "DEFAULT_MIN_ELEVATION_DEG",
    "HISTORY_DEPTH",
    "UNKNOWN",
    "VARIABLE_TYPES",
    "Source",
    "Variable",
    "VariableTable",
    "base_name",
    "catalog_markdown",
    "clock_variables",
    "coerce",
    "derived_names",
]


class _Unknown:
    """The value of a variable that has no data yet. Falsy, and equal only to itself."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()
"""Sentinel for "no data yet". Test with `value is UNKNOWN`."""

HISTORY_DEPTH: Final = 5
"""How many previous values each variable keeps (F_1 .. F_5)."""

DEFAULT_MIN_ELEVATION_DEG: Final = 25.0
"""Elevation above which a satellite counts towards `visible_satellites`, unless the node sets
its own minimum (`Node.min_elevation_deg`). Starlink dishes serve from about 25 degrees up."""


class Source(StrEnum):
    """Which node monitor produces a variable."""

    DISH = "dish"
    TRAFFIC = "traffic"
    SATELLITES = "satellites"
    WEATHER = "weather"
    CLOCK = "clock"


@dataclass(frozen=True, slots=True)
class Variable:
    """One base variable: its name, value type, unit, producer and nominal refresh period."""

    name: str
    type: type
    """int, float, bool or str."""
    unit: str
    source: Source
    refresh_secs: float
    """Nominal time between updates (the monitor may be slower when its source is)."""
    description: str


_DISH_SECS = 2.0
_TRAFFIC_SECS = 1.0
_SATELLITE_SECS = 2.0
_WEATHER_SECS = 1800.0
_CLOCK_SECS = 1.0


def _dish(name: str, type_: type, unit: str, description: str) -> Variable:
    return Variable(name, type_, unit, Source.DISH, _DISH_SECS, description)


def _weather(name: str, type_: type, unit: str, description: str) -> Variable:
    return Variable(name, type_, unit, Source.WEATHER, _WEATHER_SECS, description)


def _satellites(name: str, type_: type, unit: str, description: str) -> Variable:
    return Variable(name, type_, unit, Source.SATELLITES, _SATELLITE_SECS, description)


def _traffic(name: str, description: str) -> Variable:
    return Variable(name, int, "bytes/s", Source.TRAFFIC, _TRAFFIC_SECS, description)


_ENTRIES: tuple[Variable, ...] = (
    _dish("uplink_throughput_bps", int, "bits/s", "Uplink throughput the dish reports."),
    _dish("downlink_throughput_bps", int, "bits/s", "Downlink throughput the dish reports."),
    _traffic("exp_tx_rate_bytes", "Bytes per second sent by the running experiment containers."),
    _traffic(
        "exp_rx_rate_bytes", "Bytes per second received by the running experiment containers."
    ),
    _dish(
        "pop_ping_latency_ms",
        int,
        "ms",
        "Round-trip time from the dish to the Starlink point of presence (truncated).",
    ),
    _dish("direction_azimuth", float, "degrees", "Azimuth the dish antenna points at."),
    _dish(
        "direction_elevation",
        float,
        "degrees",
        "Elevation the dish antenna points at (not a satellite's elevation).",
    ),
    _dish("currently_obstructed", bool, "", "Whether the dish is obstructed right now."),
    _dish(
        "fraction_obstructed",
        float,
        "fraction 0-1",
        "Fraction of the sky view the dish sees obstructed.",
    ),
    _satellites(
        "sat_dist_max",
        float,
        "m",
        "Largest slant range to a Starlink satellite within 1,089,686 m of the node.",
    ),
    _satellites(
        "sat_dist_min",
        float,
        "m",
        "Smallest slant range to a Starlink satellite within 1,089,686 m of the node.",
    ),
    _satellites(
        "sat_dist_mean",
        float,
        "m",
        "Mean slant range to the Starlink satellites within 1,089,686 m of the node.",
    ),
    _weather("weather_id", int, "OpenWeatherMap code", "Weather condition code (800 = clear sky)."),
    _weather("weather_main", str, "", "Weather condition group, e.g. 'Clouds', 'Rain'."),
    _weather("weather_desc", str, "", "Weather condition description, e.g. 'light rain'."),
    _weather("weather_temp", float, "K", "Air temperature."),
    _weather("weather_pressure", int, "hPa", "Atmospheric pressure at sea level."),
    _weather("weather_humidity", int, "%", "Relative humidity."),
    _weather("weather_temp_min", float, "K", "Lowest temperature currently observed nearby."),
    _weather("weather_temp_max", float, "K", "Highest temperature currently observed nearby."),
    _weather(
        "weather_temp_mean",
        float,
        "K",
        "Mean of weather_temp_min and weather_temp_max (never set by the reference).",
    ),
    _weather("weather_clouds", int, "%", "Cloud cover."),
    _weather("weather_rain1h", float, "mm", "Rain in the last hour."),
    _weather("weather_rain3h", float, "mm", "Rain in the last 3 hours."),
    _weather("weather_snow1h", float, "mm", "Snow in the last hour."),
    _weather("weather_snow3h", float, "mm", "Snow in the last 3 hours."),
    _weather("weather_visibility", int, "m", "Visibility."),
    _weather("weather_speed", float, "m/s", "Wind speed."),
    _weather("weather_deg", int, "degrees", "Wind direction."),
    _weather("weather_gust", float, "m/s", "Wind gust speed."),
    # LEOScope additions.
    _satellites(
        "satellite_elevation",
        float,
        "degrees",
        "Highest elevation of any tracked satellite as seen from the node "
        "(negative when none is above the horizon).",
    ),
    _satellites(
        "visible_satellites",
        int,
        "count",
        "Satellites above the node's minimum elevation (default 25 degrees).",
    ),
    Variable(
        "utc_hour",
        float,
        "hours",
        Source.CLOCK,
        _CLOCK_SECS,
        "UTC time of day in hours with a fraction, 0 <= utc_hour < 24 (13.5 is 13:30).",
    ),
)

CATALOG: Final[Mapping[str, Variable]] = MappingProxyType({v.name: v for v in _ENTRIES})
"""Every base variable by name, in documentation order."""

BASE_VARIABLES: Final[tuple[str, ...]] = tuple(CATALOG)

_HISTORY_SUFFIXES: Final = tuple(f"_{i}" for i in range(1, HISTORY_DEPTH + 1))
_AVG_SUFFIX: Final = "_avg"


def derived_names(base: str) -> tuple[str, ...]:
    """F_1 .. F_5 and F_avg for a base variable F."""
    return (*(base + s for s in _HISTORY_SUFFIXES), base + _AVG_SUFFIX)


def _average_type(type_: type) -> type:
    return str if type_ is str else float


def _build_types() -> dict[str, type]:
    types: dict[str, type] = {}
    for var in CATALOG.values():
        types[var.name] = var.type
        for suffix in _HISTORY_SUFFIXES:
            types[var.name + suffix] = var.type
        types[var.name + _AVG_SUFFIX] = _average_type(var.type)
    return types


VARIABLE_TYPES: Final[Mapping[str, type]] = MappingProxyType(_build_types())
"""The value type of every valid name (base and derived)."""

ALL_VARIABLES: Final[frozenset[str]] = frozenset(VARIABLE_TYPES)
"""Every name a trigger may read."""

_BASE_OF: Final[Mapping[str, str]] = MappingProxyType(
    {name: base for base in BASE_VARIABLES for name in (base, *derived_names(base))}
)


def base_name(name: str) -> str:
    """The base variable a (possibly derived) name belongs to; InvalidInput for unknown names."""
    try:
        return _BASE_OF[name]
    except KeyError:
        raise InvalidInput("variable", f"unknown variable {name!r}") from None


# ---------------------------------------------------------------------------------------------
# Values


_TRUE_TEXTS: Final = frozenset({"true", "1", "yes", "on", "1.0"})
_FALSE_TEXTS: Final = frozenset({"false", "0", "no", "off", "0.0"})
_NO_DATA_TEXTS: Final = frozenset({"", "none", "null", "nan"})


def coerce(name: str, text: str | bytes) -> object:
    """Turn a text payload (an MQTT message) into a value of variable `name`'s type.

    "True"/"False" (any case), "1"/"0", "yes"/"no" and "on"/"off" are Booleans: the reference
    converted "False" with truthiness and so always read True. Numbers are parsed as numbers (an
    int variable truncates a fractional reading, as the reference did). "", "None", "null" and
    "nan" mean no data and give UNKNOWN. Anything else raises InvalidInput naming the variable.
    """
    var = _base_variable(name)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(name, "payload is not UTF-8 text") from None
    stripped = text.strip()
    if var.type is str:
        return stripped if stripped else UNKNOWN
    lowered = stripped.lower()
    if lowered in _NO_DATA_TEXTS:
        return UNKNOWN
    if var.type is bool:
        if lowered in _TRUE_TEXTS:
            return True
        if lowered in _FALSE_TEXTS:
            return False
        raise InvalidInput(name, f"expected a Boolean (True/False or 1/0), got {text!r}")
    try:
        number = float(stripped)
    except ValueError:
        raise InvalidInput(name, f"expected a number, got {text!r}") from None
    return _check_number(var, number)


def _check_number(var: Variable, number: float) -> object:
    if math.isnan(number):
        return UNKNOWN
    if math.isinf(number):
        raise InvalidInput(var.name, f"expected a finite number, got {number!r}")
    return int(number) if var.type is int else float(number)


def _normalize(var: Variable, value: object) -> object:
    """Check a value handed to `update` and convert it to the variable's type."""
    if value is None or value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, str | bytes):
        return coerce(var.name, value)
    if var.type is str:
        raise InvalidInput(var.name, f"expected text, got {type(value).__name__}")
    if var.type is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        raise InvalidInput(var.name, f"expected a Boolean, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(var.name, f"expected a number, got {value!r}")
    if isinstance(value, int):
        return value if var.type is int else float(value)
    return _check_number(var, value)


def _base_variable(name: str) -> Variable:
    var = CATALOG.get(name)
    if var is not None:
        return var
    if name in _BASE_OF:
        raise InvalidInput(
            name, f"is derived from {_BASE_OF[name]!r}; update {_BASE_OF[name]!r} instead"
        )
    raise InvalidInput("variable", f"unknown variable {name!r}")


def _average(samples: list[object], type_: type) -> object:
    real = [s for s in samples if s is not UNKNOWN]
    if not real:
        return UNKNOWN
    if type_ is str:
        counts = Counter(real)
        best = max(counts.values())
        return next(s for s in real if counts[s] == best)  # newest among the most frequent
    return math.fsum(float(s) for s in real) / len(real)  # type: ignore[arg-type]


def clock_variables(at: float) -> dict[str, object]:
    """The clock-sourced variables at epoch second `at` (UTC; POSIX time has no leap seconds)."""
    return {"utc_hour": (at % 86400.0) / 3600.0}


class VariableTable:
    """The live values of every trigger variable on one node. Thread-safe.

    Monitors call `update` from their own threads or tasks; the trigger evaluator takes a
    `snapshot` and evaluates against it, so one evaluation sees one consistent set of values.
    """

    def __init__(self, catalog: Mapping[str, Variable] = CATALOG) -> None:
        self._catalog = catalog
        self._lock = threading.Lock()
        self._history: dict[str, list[object]] = {
            name: [UNKNOWN] * (HISTORY_DEPTH + 1) for name in catalog
        }
        self._updated_at: dict[str, float] = {}
        self._values: dict[str, object] = {}
        for name in catalog:
            self._values[name] = UNKNOWN
            for derived in derived_names(name):
                self._values[derived] = UNKNOWN

    def _variable(self, name: str) -> Variable:
        var = self._catalog.get(name)
        return var if var is not None else _base_variable(name)

    def update(self, name: str, value: object, at: float) -> None:
        """Record a new sample of base variable `name` taken at epoch second `at`.

        The previous values shift down (F_1 <- F, ..., F_5 <- F_4) and F_avg is recomputed.
        None or UNKNOWN records a sample with no data. Raises InvalidInput for an unknown or
        derived name or a value of the wrong type.
        """
        self.update_many({name: value}, at)

    def update_many(self, values: Mapping[str, object], at: float) -> None:
        """Record several samples taken together (one weather reply, one satellite pass).

        All values are checked before any is stored, so a bad one changes nothing.
        """
        if not isinstance(at, int | float) or not math.isfinite(at):
            raise InvalidInput("at", f"expected epoch seconds, got {at!r}")
        checked = [(self._variable(n), _normalize(self._variable(n), v)) for n, v in values.items()]
        with self._lock:
            for var, value in checked:
                self._store(var, value, float(at))

    def update_text(self, name: str, text: str | bytes, at: float) -> None:
        """`update` with a text payload, converted by `coerce`."""
        self.update(name, coerce(name, text), at)

    def _store(self, var: Variable, value: object, at: float) -> None:
        history = self._history[var.name]
        history.insert(0, value)
        del history[HISTORY_DEPTH + 1 :]
        names = (var.name, *derived_names(var.name)[:HISTORY_DEPTH])
        for n, v in zip(names, history, strict=True):
            self._values[n] = v
        self._values[var.name + _AVG_SUFFIX] = _average(history, var.type)
        self._updated_at[var.name] = at

    @staticmethod
    def coerce(name: str, text: str | bytes) -> object:
        """See the module-level `coerce`."""
        return coerce(name, text)

    def get(self, name: str) -> object:
        """The current value of any valid name (UNKNOWN when there is no data)."""
        with self._lock:
            try:
                return self._values[name]
            except KeyError:
                raise InvalidInput("variable", f"unknown variable {name!r}") from None

    def snapshot(self) -> dict[str, object]:
        """A copy of every name's value, UNKNOWN where there is no data."""
        with self._lock:
            return dict(self._values)

    def freshness(self, name: str) -> float | None:
        """Epoch second of the last update of `name` (or of its base variable), None if never."""
        base = base_name(name) if name not in self._catalog else name
        if base not in self._catalog:
            raise InvalidInput("variable", f"unknown variable {name!r}")
        with self._lock:
            return self._updated_at.get(base)


# ---------------------------------------------------------------------------------------------
# Documentation


def _format_period(secs: float) -> str:
    if secs >= 60 and secs % 60 == 0:
        return f"{secs / 60:g} min"
    return f"{secs:g} s"


def catalog_markdown() -> str:
    """The Markdown table of base variables that docs/triggers.md embeds (a test keeps it equal)."""
    lines = [
        "| Variable | Type | Unit | Source | Refresh | Description |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for var in CATALOG.values():
        lines.append(
            f"| `{var.name}` | {var.type.__name__} | {var.unit or '-'} | {var.source.value} "
            f"| {_format_period(var.refresh_secs)} | {var.description} |"
        )
    return "\n".join(lines) + "\n"
