"""The variable catalog and the per-node VariableTable."""

from __future__ import annotations

import pickle
import threading
from pathlib import Path

import pytest

from leoscope.core.errors import InvalidInput
from leoscope.core.variables import (
    ALL_VARIABLES,
    BASE_VARIABLES,
    CATALOG,
    UNKNOWN,
    VARIABLE_TYPES,
    Source,
    VariableTable,
    base_name,
    catalog_markdown,
    clock_variables,
    coerce,
    derived_names,
)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "triggers.md"

# Wire contract section 7.6, in its order, with its types.
REFERENCE_VARIABLES = {
    "uplink_throughput_bps": int,
    "downlink_throughput_bps": int,
    "exp_tx_rate_bytes": int,
    "exp_rx_rate_bytes": int,
    "pop_ping_latency_ms": int,
    "direction_azimuth": float,
    "direction_elevation": float,
    "currently_obstructed": bool,
    "fraction_obstructed": float,
    "sat_dist_max": float,
    "sat_dist_min": float,
    "sat_dist_mean": float,
    "weather_id": int,
    "weather_main": str,
    "weather_desc": str,
    "weather_temp": float,
    "weather_pressure": int,
    "weather_humidity": int,
    "weather_temp_min": float,
    "weather_temp_max": float,
    "weather_temp_mean": float,
    "weather_clouds": int,
    "weather_rain1h": float,
    "weather_rain3h": float,
    "weather_snow1h": float,
    "weather_snow3h": float,
    "weather_visibility": int,
    "weather_speed": float,
    "weather_deg": int,
    "weather_gust": float,
}


# ---------------------------------------------------------------------------------------------
# Catalog


def test_catalog_has_the_reference_variables_then_ours() -> None:
    assert BASE_VARIABLES[:30] == tuple(REFERENCE_VARIABLES)
    assert {n: CATALOG[n].type for n in REFERENCE_VARIABLES} == REFERENCE_VARIABLES
    assert BASE_VARIABLES[30:] == ("satellite_elevation", "visible_satellites", "utc_hour")
    assert CATALOG["satellite_elevation"].type is float
    assert CATALOG["visible_satellites"].type is int
    assert CATALOG["utc_hour"].source is Source.CLOCK
    assert CATALOG["weather_temp"].unit == "K"
    assert CATALOG["sat_dist_min"].unit == "m"
    assert CATALOG["weather_main"].refresh_secs == 1800
    for var in CATALOG.values():
        assert var.type in (int, float, bool, str)
        assert var.refresh_secs > 0 and var.description


def test_derived_names_and_types() -> None:
    assert derived_names("weather_temp") == (
        "weather_temp_1",
        "weather_temp_2",
        "weather_temp_3",
        "weather_temp_4",
        "weather_temp_5",
        "weather_temp_avg",
    )
    assert len(ALL_VARIABLES) == 33 * 7
    assert {"pop_ping_latency_ms_1", "pop_ping_latency_ms_avg", "utc_hour_5"} <= ALL_VARIABLES
    assert "pop_ping_latency_ms_6" not in ALL_VARIABLES
    assert VARIABLE_TYPES["pop_ping_latency_ms_3"] is int
    assert VARIABLE_TYPES["pop_ping_latency_ms_avg"] is float
    assert VARIABLE_TYPES["currently_obstructed_avg"] is float
    assert VARIABLE_TYPES["weather_main_avg"] is str
    assert base_name("sat_dist_min_avg") == "sat_dist_min"
    assert base_name("sat_dist_min") == "sat_dist_min"
    with pytest.raises(InvalidInput, match="unknown variable 'sat_dist_min_9'"):
        base_name("sat_dist_min_9")


def test_docs_table_matches_the_catalog() -> None:
    text = DOCS.read_text()
    assert catalog_markdown() in text, (
        "docs/triggers.md is out of date; paste in the output of "
        "`.venv/bin/python -c 'from leoscope.core.variables import catalog_markdown as m; "
        "print(m())'`"
    )
    for name in BASE_VARIABLES:
        assert f"| `{name}` |" in text


# ---------------------------------------------------------------------------------------------
# UNKNOWN


def test_unknown_sentinel() -> None:
    assert repr(UNKNOWN) == "UNKNOWN"
    assert not UNKNOWN
    assert UNKNOWN != -1 and UNKNOWN is not None
    assert pickle.loads(pickle.dumps(UNKNOWN)) is UNKNOWN
    assert type(UNKNOWN)() is UNKNOWN


# ---------------------------------------------------------------------------------------------
# VariableTable


def test_a_new_table_knows_nothing() -> None:
    table = VariableTable()
    snapshot = table.snapshot()
    assert set(snapshot) == ALL_VARIABLES
    assert all(v is UNKNOWN for v in snapshot.values())
    assert table.freshness("weather_temp") is None
    assert table.get("weather_temp_avg") is UNKNOWN


def test_update_shifts_history_and_averages_real_samples() -> None:
    table = VariableTable()
    table.update("pop_ping_latency_ms", 30, at=100.0)
    snap = table.snapshot()
    assert snap["pop_ping_latency_ms"] == 30
    assert snap["pop_ping_latency_ms_1"] is UNKNOWN
    assert snap["pop_ping_latency_ms_avg"] == 30.0  # not (30 - 5) / 6 as with -1 placeholders

    table.update("pop_ping_latency_ms", 45, at=102.0)
    snap = table.snapshot()
    assert (snap["pop_ping_latency_ms"], snap["pop_ping_latency_ms_1"]) == (45, 30)
    assert snap["pop_ping_latency_ms_avg"] == 37.5  # a float, not truncated
    assert table.freshness("pop_ping_latency_ms") == 102.0
    assert table.freshness("pop_ping_latency_ms_avg") == 102.0

    for i, value in enumerate([50, 60, 70, 80, 90]):
        table.update("pop_ping_latency_ms", value, at=104.0 + i)
    snap = table.snapshot()
    history = [
        snap["pop_ping_latency_ms"],
        *(snap[n] for n in derived_names("pop_ping_latency_ms")[:5]),
    ]
    assert history == [90, 80, 70, 60, 50, 45]  # 30 has dropped off
    assert snap["pop_ping_latency_ms_avg"] == pytest.approx((90 + 80 + 70 + 60 + 50 + 45) / 6)


def test_samples_without_data_are_left_out_of_the_average() -> None:
    table = VariableTable()
    table.update("sat_dist_min", 600_000.5, at=1.0)
    table.update("sat_dist_min", None, at=2.0)  # no satellite in range
    snap = table.snapshot()
    assert snap["sat_dist_min"] is UNKNOWN
    assert snap["sat_dist_min_1"] == 600_000.5
    assert snap["sat_dist_min_avg"] == 600_000.5
    assert table.freshness("sat_dist_min") == 2.0


def test_boolean_and_text_averages() -> None:
    table = VariableTable()
    for value in [True, False, False, True]:
        table.update("currently_obstructed", value, at=1.0)
    assert table.get("currently_obstructed_avg") == 0.5
    for value in ["Rain", "Clouds", "Rain", "Clear", "Clouds"]:
        table.update("weather_main", value, at=1.0)
    assert table.get("weather_main_avg") == "Clouds"  # Rain and Clouds tie; Clouds is newer
    table.update("weather_main", "Rain", at=2.0)
    assert table.get("weather_main_avg") == "Rain"


def test_update_many_is_all_or_nothing() -> None:
    table = VariableTable()
    table.update_many({"weather_temp": 280.5, "weather_humidity": 81}, at=10.0)
    assert table.get("weather_temp") == 280.5 and table.get("weather_humidity") == 81
    with pytest.raises(InvalidInput) as info:
        table.update_many({"weather_temp": 290.0, "weather_humidity": "damp"}, at=11.0)
    assert info.value.field == "weather_humidity"
    assert table.get("weather_temp") == 280.5
    assert table.freshness("weather_temp") == 10.0


def test_update_converts_and_checks_values() -> None:
    table = VariableTable()
    table.update("weather_pressure", 1013.7, at=1.0)
    assert table.get("weather_pressure") == 1013  # an int variable, truncated
    table.update("weather_temp", 280, at=1.0)
    assert table.get("weather_temp") == 280.0 and isinstance(table.get("weather_temp"), float)
    table.update("currently_obstructed", 0, at=1.0)
    assert table.get("currently_obstructed") is False
    table.update("currently_obstructed", "True", at=1.0)
    assert table.get("currently_obstructed") is True
    table.update("fraction_obstructed", float("nan"), at=1.0)
    assert table.get("fraction_obstructed") is UNKNOWN

    bad = [
        ("weather_main", 5, "expected text"),
        ("currently_obstructed", 2, "expected a Boolean"),
        ("weather_temp", True, "expected a number"),
        ("weather_temp", float("inf"), "expected a finite number"),
        ("weather_temp", [1], "expected a number"),
    ]
    for name, value, message in bad:
        with pytest.raises(InvalidInput, match=message) as info:
            table.update(name, value, at=1.0)
        assert info.value.field == name
    with pytest.raises(InvalidInput, match="derived from 'weather_temp'"):
        table.update("weather_temp_avg", 3.0, at=1.0)
    with pytest.raises(InvalidInput, match="unknown variable 'bogus'"):
        table.update("bogus", 3.0, at=1.0)
    with pytest.raises(InvalidInput, match="epoch seconds"):
        table.update("weather_temp", 3.0, at=float("nan"))
    with pytest.raises(InvalidInput, match="unknown variable 'bogus'"):
        table.freshness("bogus")
    with pytest.raises(InvalidInput, match="unknown variable 'bogus'"):
        table.get("bogus")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("False", False),  # the reference read this as True (Q7)
        ("false", False),
        ("FALSE", False),
        ("0", False),
        ("no", False),
        ("True", True),
        ("true", True),
        ("1", True),
        (" on \n", True),
        (b"False", False),
        ("", UNKNOWN),
        ("None", UNKNOWN),
    ],
)
def test_coerce_booleans(text: str | bytes, value: object) -> None:
    assert coerce("currently_obstructed", text) is value
    assert VariableTable.coerce("currently_obstructed", text) is value


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("uplink_throughput_bps", "95646.90625", 95646),
        ("pop_ping_latency_ms", "27.6", 27),
        ("direction_elevation", "27.6", 27.6),
        ("fraction_obstructed", "0", 0.0),
        ("weather_temp", "2.8e2", 280.0),
        ("weather_temp", "nan", UNKNOWN),
        ("weather_temp", "null", UNKNOWN),
        ("weather_main", "  Rain ", "Rain"),
        ("weather_desc", "", UNKNOWN),
    ],
)
def test_coerce_numbers_and_text(name: str, text: str, value: object) -> None:
    result = coerce(name, text)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("currently_obstructed", "maybe", "expected a Boolean"),
        ("currently_obstructed", "2", "expected a Boolean"),
        ("pop_ping_latency_ms", "fast", "expected a number"),
        ("pop_ping_latency_ms", "True", "expected a number"),
        ("pop_ping_latency_ms", "inf", "expected a finite number"),
        ("pop_ping_latency_ms", b"\xff\xfe", "not UTF-8"),
    ],
)
def test_coerce_rejects_junk(name: str, text: str | bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        coerce(name, text)
    assert info.value.field == name


def test_update_text() -> None:
    table = VariableTable()
    table.update_text("currently_obstructed", "False", at=5.0)
    assert table.get("currently_obstructed") is False
    with pytest.raises(InvalidInput):
        table.update_text("currently_obstructed", "perhaps", at=6.0)
    assert table.freshness("currently_obstructed") == 5.0


def test_concurrent_updates_stay_consistent() -> None:
    """Each snapshot must show every variable's history as one unbroken run of samples."""
    table = VariableTable()
    names = ["uplink_throughput_bps", "downlink_throughput_bps", "visible_satellites"]
    samples = 1500
    problems: list[str] = []
    done = threading.Event()

    def write(name: str) -> None:
        for i in range(1, samples + 1):
            table.update(name, i, at=float(i))

    def read() -> None:
        while not done.is_set():
            snap = table.snapshot()
            for name in names:
                current = snap[name]
                if current is UNKNOWN:
                    continue
                history = [current, *(snap[n] for n in derived_names(name)[:5])]
                expected = [current - k if current - k >= 1 else UNKNOWN for k in range(6)]
                if history != expected:
                    problems.append(f"{name}: {history}")
                real = [v for v in expected if v is not UNKNOWN]
                if snap[name + "_avg"] != pytest.approx(sum(real) / len(real)):
                    problems.append(f"{name}_avg: {snap[name + '_avg']} for {history}")

    writers = [threading.Thread(target=write, args=(n,)) for n in names]
    reader = threading.Thread(target=read)
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join(timeout=30)
    done.set()
    reader.join(timeout=30)
    assert not problems, problems[:5]
    final = table.snapshot()
    for name in names:
        assert final[name] == samples and final[name + "_5"] == samples - 5
        assert table.freshness(name) == float(samples)


def test_clock_variables() -> None:
    assert clock_variables(0.0) == {"utc_hour": 0.0}
    assert clock_variables(13.5 * 3600) == {"utc_hour": 13.5}
    assert clock_variables(86400 * 20000 + 23 * 3600 + 1800)["utc_hour"] == 23.5
    table = VariableTable()
    table.update_many(clock_variables(1_700_000_000.0), at=1_700_000_000.0)
    assert 0 <= table.get("utc_hour") < 24  # type: ignore[operator]
