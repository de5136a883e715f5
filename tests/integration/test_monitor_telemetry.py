"""Per-run telemetry files: rows at about 1 Hz, flushed on stop, no grpc.csv without a dish."""

from __future__ import annotations

import asyncio
import csv
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from paho.mqtt import publish

from leoscope.core.errors import InvalidInput
from leoscope.node.monitors.dish import DishMonitor
from leoscope.node.telemetry import (
    GRPC_COLUMNS,
    GRPC_CSV,
    SATELLITE_COLUMNS,
    SATELLITES_CSV,
    CsvTelemetryWriter,
    RunTelemetry,
)
from tests.fakes.waits import wait_until
from tests.services import MQTT_HOST, MQTT_PORT, port_open, require


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def stamp(row: dict[str, str]) -> float:
    return datetime.fromisoformat(row["datetimestamp_utc"].replace("Z", "+00:00")).timestamp()


async def test_rows_are_written_at_about_one_hertz_and_flushed_on_stop(tmp_path: Path) -> None:
    counter = iter(range(1000))

    def satellites() -> dict[str, object]:
        return {
            "satellite_elevation": 71.5,
            "visible_satellites": next(counter),
            "sat_dist_min": None,
        }

    telemetry = RunTelemetry(tmp_path, satellite_values=satellites)
    writer = telemetry.writers[0]
    started = time.monotonic()
    async with telemetry:
        await wait_until(lambda: writer.rows_written >= 3, within=6, what="three rows")
        elapsed = time.monotonic() - started
    # ticks are never closer than 1 s: three rows need at least ~2 s
    assert elapsed >= 1.9
    rows = read_rows(tmp_path / SATELLITES_CSV)
    assert len(rows) == writer.rows_written
    assert 3 <= len(rows) <= 2 + elapsed  # about 1 Hz, with slack for a slow machine
    assert list(rows[0]) == list(SATELLITE_COLUMNS)
    assert rows[0]["satellite_elevation"] == "71.5"
    assert rows[0]["sat_dist_min"] == ""  # unknown is an empty cell
    assert [row["visible_satellites"] for row in rows] == [str(i) for i in range(len(rows))]
    gaps = [stamp(b) - stamp(a) for a, b in zip(rows, rows[1:], strict=False)]
    assert all(gap >= 0.9 for gap in gaps), gaps
    assert not (tmp_path / GRPC_CSV).exists()


async def test_no_file_until_the_source_has_data(tmp_path: Path) -> None:
    current: dict[str, object] | None = None
    calls = 0

    def dish_values() -> dict[str, object] | None:
        nonlocal calls
        calls += 1
        return current

    path = tmp_path / "run" / GRPC_CSV
    writer = CsvTelemetryWriter(path, GRPC_COLUMNS, dish_values, interval_secs=0.05)
    async with writer:
        await wait_until(lambda: calls >= 3, what="three ticks without a source")
        assert not path.exists()
        assert writer.rows_written == 0
        current = {"currently_obstructed": False, "pop_ping_latency_ms": 30.5, "id": "ut-1"}
        await wait_until(lambda: writer.rows_written >= 2, what="two rows")
    rows = read_rows(path)
    assert len(rows) == writer.rows_written
    assert rows[0]["currently_obstructed"] == "False"
    assert rows[0]["pop_ping_latency_ms"] == "30.5"
    assert rows[0]["uplink_throughput_bps"] == ""
    assert path.read_text().splitlines()[0] == ",".join(GRPC_COLUMNS)


async def test_grpc_csv_from_live_dish_telemetry(tmp_path: Path) -> None:
    require(port_open(MQTT_HOST, MQTT_PORT), "Mosquitto")
    dish_id = f"ut-test-{uuid.uuid4().hex[:16]}"
    dish = DishMonitor(
        lambda values, at: None, mqtt_host=MQTT_HOST, mqtt_port=MQTT_PORT, dish_id=dish_id
    )
    async with dish:
        await wait_until(lambda: dish.connected, what="the MQTT subscription")
        telemetry = RunTelemetry(tmp_path, dish_values=dish.telemetry, interval_secs=0.1)
        async with telemetry:
            fields = {"id": dish_id, "pop_ping_latency_ms": "24.5", "currently_obstructed": "True"}
            messages = [
                (f"starlink/dish_status/{dish_id}/{k}", v, 0, False) for k, v in fields.items()
            ]
            await asyncio.to_thread(publish.multiple, messages, hostname=MQTT_HOST, port=MQTT_PORT)
            await wait_until(lambda: telemetry.writers[0].rows_written >= 2, what="rows")
    rows = read_rows(tmp_path / GRPC_CSV)
    assert rows[-1]["id"] == dish_id
    assert rows[-1]["pop_ping_latency_ms"] == "24.5"
    assert rows[-1]["currently_obstructed"] == "True"


def test_columns_must_start_with_the_timestamp(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        CsvTelemetryWriter(tmp_path / "x.csv", ["a"], dict)
    assert err.value.field == "columns"


def test_satellite_columns_match_the_monitor() -> None:
    from leoscope.node.monitors.satellites import SATELLITE_VARIABLES

    assert SATELLITE_COLUMNS[1:] == SATELLITE_VARIABLES
