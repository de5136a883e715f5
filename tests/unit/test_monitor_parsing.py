"""Pure parsing of monitor inputs: dish payloads and topics, OpenWeatherMap replies."""

from __future__ import annotations

import pytest

from leoscope.node.monitors.base import Backoff
from leoscope.node.monitors.dish_fields import coerce_field, parse_bool, parse_topic
from leoscope.node.monitors.traffic import CounterSample, combined_rates, network_totals
from leoscope.node.monitors.weather import WEATHER_VARIABLES, weather_values
from tests.fakes.owm import sample_reply


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("True", True),
        ("False", False),
        ("true", True),
        ("0", False),
        ("1", True),
        ("", None),
        ("None", None),
    ],
)
def test_booleans_are_parsed_not_truthiness(text: str, expected: bool | None) -> None:
    assert parse_bool(text) is expected


def test_a_non_boolean_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_bool("maybe")


@pytest.mark.parametrize(
    ("field", "payload", "expected"),
    [
        ("uplink_throughput_bps", b"95646.90625", 95646),
        ("downlink_throughput_bps", "1e6", 1_000_000),
        ("pop_ping_latency_ms", b"27.6", 27.6),
        ("currently_obstructed", b"False", False),
        ("fraction_obstructed", b"nan", None),
        ("direction_azimuth", b"", None),
        ("software_version", b"2024.05.0.mr1", "2024.05.0.mr1"),
        ("some_new_field", b"x", "x"),
        ("currently_obstructed", False, False),
        ("uplink_throughput_bps", 12.9, 12),
    ],
)
def test_dish_fields_get_their_types(field: str, payload: object, expected: object) -> None:
    value = coerce_field(field, payload)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("field", "payload"), [("pop_ping_latency_ms", b"fast"), ("uptime", b"inf")]
)
def test_bad_dish_numbers_are_errors(field: str, payload: bytes) -> None:
    with pytest.raises(ValueError):
        coerce_field(field, payload)


def test_topics() -> None:
    assert parse_topic("starlink/dish_status/ut1/pop_ping_latency_ms") == (
        "ut1",
        "pop_ping_latency_ms",
    )
    assert parse_topic("starlink/dish_status/ut1") == ("ut1", None)
    assert parse_topic("starlink/dish_history/ut1/x") is None
    assert parse_topic("other/dish_status/ut1/x") is None


def test_weather_reply_maps_every_variable() -> None:
    reply = sample_reply(1.0, 2.0)
    reply["snow"] = {"3h": 2.5}
    values = weather_values(reply)
    assert set(values) == set(WEATHER_VARIABLES)
    assert values["weather_snow1h"] is None and values["weather_snow3h"] == 2.5
    assert values["weather_temp_mean"] == pytest.approx((282.1 + 286.3) / 2)


def test_weather_groups_absent_or_malformed() -> None:
    assert weather_values({"cod": 200}) == {}
    values = weather_values({"weather": [], "main": {"temp": "warm"}, "visibility": None})
    assert values["weather_id"] is None and values["weather_main"] is None
    assert values["weather_temp"] is None
    assert values["weather_temp_mean"] is None
    assert values["weather_visibility"] is None


def test_backoff_grows_with_jitter_and_resets() -> None:
    backoff = Backoff(1.0, 8.0)
    delays = [backoff.next_delay() for _ in range(6)]
    ceilings = [1, 2, 4, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert delays == sorted(delays[:3]) + delays[3:]
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_network_totals_sum_interfaces_and_spot_host_networking() -> None:
    stats = {
        "networks": {
            "eth0": {"rx_bytes": 100, "tx_bytes": 10},
            "eth1": {"rx_bytes": 5, "tx_bytes": 1},
        }
    }
    assert network_totals(stats) == (105, 11)
    assert network_totals({"read": "2024-06-01T00:00:00Z"}) is None
    assert network_totals({"networks": {}}) is None


def test_combined_rates_skip_new_containers_and_rebase_restarted_ones() -> None:
    before = {"a": CounterSample(1_000, 500, 10.0), "b": CounterSample(9_000, 9_000, 10.0)}
    after = {
        "a": CounterSample(3_000, 1_500, 12.0),  # +2000 rx, +1000 tx over 2 s
        "b": CounterSample(100, 100, 12.0),  # counters went backwards: restarted
        "c": CounterSample(50_000, 50_000, 12.0),  # first seen: no rate yet
    }
    assert combined_rates(before, after) == (1_000, 500)
    assert combined_rates({}, after) == (0, 0)
