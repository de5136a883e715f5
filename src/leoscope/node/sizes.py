"""Byte sizes as operators write them ("10G", "500MiB", "off") and as people read them.

Suffixes K, M, G and T count in powers of 1024 (disks and budgets are thought of that way);
"B", "iB" after them are accepted and ignored; a bare number is bytes.
"""

from __future__ import annotations

import re
from typing import Any

from leoscope.core.errors import InvalidInput

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$")
_FACTOR = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_OFF = ("off", "none", "unlimited", "no")


def parse_size(key: str, value: Any) -> int:
    """A positive number of bytes from `value` ("10G", "1.5GiB", 4096); InvalidInput if not."""
    if isinstance(value, bool):
        raise InvalidInput(key, f"{value!r} is not a size (e.g. 10G, 500M)")
    if isinstance(value, int | float):
        number, unit = float(value), ""
    else:
        match = _SIZE.match(str(value).strip().lower())
        if match is None:
            raise InvalidInput(key, f"{value!r} is not a size (e.g. 10G, 500M, 4096)")
        number, unit = float(match.group(1)), match.group(2)
    size = int(number * _FACTOR[unit])
    if size <= 0:
        raise InvalidInput(key, f"must be more than 0 bytes (got {value!r})")
    return size


def parse_size_or_off(key: str, value: Any) -> int | None:
    """Like `parse_size`, but "off" (or "none", "unlimited") means no limit: None."""
    if isinstance(value, str) and value.strip().lower() in _OFF:
        return None
    return parse_size(key, value)


def format_size(size: float) -> str:
    """'512 B', '1.5 KiB', '52.4 MiB', '10.0 GiB'."""
    if size < 1024:
        return f"{int(size)} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        size /= 1024
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}"
    raise AssertionError("unreachable")
