"""Dish status fields: their names, types and parsing from MQTT text or Python values.

Names and order follow starlink-grpc-core's status fields (also the columns of ``grpc.csv``).
Parsing is strict where the reference was not: ``"False"`` is False, a number that does not parse
is an error (the caller ignores that message) and ``""``/``None``/``nan`` mean unknown.
"""

from __future__ import annotations

import math

DISH_VARIABLES: dict[str, type] = {
    "uplink_throughput_bps": int,
    "downlink_throughput_bps": int,
    "pop_ping_latency_ms": float,
    "direction_azimuth": float,
    "direction_elevation": float,
    "currently_obstructed": bool,
    "fraction_obstructed": float,
}

# starlink-grpc-core's status fields, in its order (the columns of grpc.csv).
STATUS_FIELDS: dict[str, type] = {
    "id": str,
    "hardware_version": str,
    "software_version": str,
    "state": str,
    "uptime": int,
    "snr": float,
    "seconds_to_first_nonempty_slot": float,
    "pop_ping_drop_rate": float,
    "downlink_throughput_bps": int,
    "uplink_throughput_bps": int,
    "pop_ping_latency_ms": float,
    "alerts": int,
    "fraction_obstructed": float,
    "currently_obstructed": bool,
    "seconds_obstructed": float,
    "obstruction_duration": float,
    "obstruction_interval": float,
    "direction_azimuth": float,
    "direction_elevation": float,
    "is_snr_above_noise_floor": bool,
}

_UNKNOWN_TEXT = {"", "none", "null", "nan"}
_TRUE_TEXT = {"true", "1", "yes"}
_FALSE_TEXT = {"false", "0", "no"}


def parse_bool(value: object) -> bool | None:
    """``True``/``False`` (any case), 1/0, or a real bool; None for unknown; ValueError otherwise."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _UNKNOWN_TEXT:
        return None
    if text in _TRUE_TEXT:
        return True
    if text in _FALSE_TEXT:
        return False
    raise ValueError(f"{value!r} is not a boolean")


def coerce_field(field: str, value: object) -> object:
    """A status field's value (MQTT text or a Python value) in its proper type; None = unknown.

    Unknown field names keep their text. Raises ValueError when the value does not fit the type.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    kind = STATUS_FIELDS.get(field, str)
    if value is None or (isinstance(value, str) and value.strip().lower() in _UNKNOWN_TEXT):
        return None
    if kind is bool:
        return parse_bool(value)
    if kind is str:
        return str(value).strip()
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    number = float(value)  # type: ignore[arg-type]
    if math.isnan(number):
        return None
    if kind is int:
        if math.isinf(number):
            raise ValueError(f"{value!r} is not a finite number")
        return int(number)
    return number


def parse_topic(topic: str, prefix: str = "starlink") -> tuple[str, str | None] | None:
    """(dish id, field) of a status topic, field None for the JSON form; None if not ours."""
    parts = topic.split("/")
    if len(parts) not in (3, 4) or parts[0] != prefix or parts[1] != "dish_status" or not parts[2]:
        return None
    return parts[2], (parts[3] if len(parts) == 4 else None)
