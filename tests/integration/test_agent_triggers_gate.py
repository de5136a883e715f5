"""The trigger gate's decisions, against a real local state file and a real variable table."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from leoscope.core.variables import VariableTable
from leoscope.node.seams import PROCEED, RunContext, Skip, WaitAndRetry
from leoscope.node.state import LocalState
from leoscope.node.trigger_gate import TriggerCache, TriggerGate, format_values
from tests.integration.test_agent_triggers_helpers import SLOT, ManualClock, new_run

NODE = "node-gate"

RunFactory = Callable[..., RunContext]


@pytest.fixture
def state(tmp_path: Path) -> Iterator[LocalState]:
    opened = LocalState.open(tmp_path / "agent.sqlite3", NODE, ManualClock(SLOT).time)
    yield opened
    opened.close()


@pytest.fixture
def make_run(state: LocalState, tmp_path: Path) -> RunFactory:
    return functools.partial(new_run, state, tmp_path / "runs")


def gate_at(table: VariableTable, wall: float) -> TriggerGate:
    return TriggerGate(table, ManualClock(wall))


async def test_no_trigger_proceeds_and_records_nothing(make_run: RunFactory) -> None:
    run = make_run(None)
    assert await gate_at(VariableTable(), SLOT).check(run) == PROCEED
    assert run.record.trigger_values is None
    blank = make_run("  // only a comment\n")
    assert await gate_at(VariableTable(), SLOT).check(blank) == PROCEED


async def test_a_holding_trigger_proceeds_and_records_the_values_that_let_it_start(
    make_run: RunFactory,
) -> None:
    table = VariableTable()
    table.update_many({"satellite_elevation": 43.125, "pop_ping_latency_ms": 31}, at=SLOT)
    run = make_run("satellite_elevation > 40 & pop_ping_latency_ms < 50 & utc_hour >= 12")
    assert await gate_at(table, SLOT + 0.5).check(run) == PROCEED
    assert run.record.trigger_values == (
        "satellite_elevation=43.125, pop_ping_latency_ms=31, utc_hour=12.0001"
    )


async def test_a_false_trigger_without_wait_is_skipped_with_expression_and_values(
    make_run: RunFactory,
) -> None:
    table = VariableTable()
    table.update_many({"satellite_elevation": 31.2, "pop_ping_latency_ms": 30}, at=SLOT)
    run = make_run("satellite_elevation > 40 & pop_ping_latency_ms < 50")
    decision = await gate_at(table, SLOT).check(run)
    assert isinstance(decision, Skip)
    assert decision.status == "SKIPPED"
    assert decision.message == (
        "trigger not met: satellite_elevation=31.2 > 40 is false "
        "(trigger: satellite_elevation > 40 & pop_ping_latency_ms < 50; "
        "values: satellite_elevation=31.2, pop_ping_latency_ms=30)"
    )
    assert decision.trigger_values == "satellite_elevation=31.2, pop_ping_latency_ms=30"


async def test_a_variable_without_data_is_unknown_and_named_in_the_reason(
    make_run: RunFactory,
) -> None:
    run = make_run("weather_main == 'Clear' | visible_satellites >= 3")
    decision = await gate_at(VariableTable(), SLOT).check(run)
    assert isinstance(decision, Skip)
    assert "weather_main is unknown (no data yet)" in decision.message
    assert "visible_satellites is unknown (no data yet)" in decision.message
    assert decision.trigger_values == "weather_main=unknown, visible_satellites=unknown"


async def test_waits_every_second_within_trigger_wait_then_skips(make_run: RunFactory) -> None:
    table = VariableTable()
    table.update("currently_obstructed", True, at=SLOT)
    run = make_run("!currently_obstructed", wait_secs=30)

    first = await gate_at(table, SLOT).check(run)
    later = await gate_at(table, SLOT + 20).check(run)
    for decision in (first, later):
        assert isinstance(decision, WaitAndRetry)
        assert decision.retry_after_secs == 1.0
        assert decision.status == "WAITING"
        # A stable message, so WAITING is reported once; the values travel separately.
        assert decision.message == "waiting up to 30 s for the trigger: !currently_obstructed"
        assert decision.trigger_values == "currently_obstructed=True"
    near_end = await gate_at(table, SLOT + 29.75).check(run)
    assert isinstance(near_end, WaitAndRetry) and near_end.retry_after_secs == pytest.approx(0.25)

    over = await gate_at(table, SLOT + 30).check(run)
    assert isinstance(over, Skip) and over.status == "SKIPPED"
    assert over.message.startswith("trigger not met after waiting 30 s: currently_obstructed")

    table.update("currently_obstructed", False, at=SLOT + 31)
    assert await gate_at(table, SLOT + 31).check(run) == PROCEED


async def test_the_wait_never_outlasts_the_slot(make_run: RunFactory) -> None:
    table = VariableTable()
    table.update("pop_ping_latency_ms", 80, at=SLOT)
    run = make_run("pop_ping_latency_ms < 50", wait_secs=600, length_secs=10)
    waiting = await gate_at(table, SLOT + 9.5).check(run)
    assert isinstance(waiting, WaitAndRetry) and waiting.retry_after_secs == pytest.approx(0.5)
    ended = await gate_at(table, SLOT + 10).check(run)
    assert isinstance(ended, Skip)
    assert "pop_ping_latency_ms=80 < 50 is false" in ended.message


async def test_division_by_zero_is_false_with_a_reason(make_run: RunFactory) -> None:
    table = VariableTable()
    table.update_many({"pop_ping_latency_ms": 0}, at=SLOT)
    table.update_many({"pop_ping_latency_ms": 40}, at=SLOT + 1)
    run = make_run("100 / pop_ping_latency_ms_1 > 1")
    decision = await gate_at(table, SLOT + 1).check(run)
    assert isinstance(decision, Skip)
    assert "division by zero: pop_ping_latency_ms_1=0" in decision.message


async def test_a_trigger_the_node_cannot_parse_fails_the_run(make_run: RunFactory) -> None:
    run = make_run("satellite_elevation >")
    decision = await gate_at(VariableTable(), SLOT).check(run)
    assert isinstance(decision, Skip) and decision.status == "FAILED"
    assert decision.message.startswith("invalid trigger: at column 22: expected")


async def test_the_server_side_of_a_paired_run_is_not_gated(make_run: RunFactory) -> None:
    run = make_run("satellite_elevation > 40", nodeid="the-client-node")
    assert await gate_at(VariableTable(), SLOT).check(run) == PROCEED


def test_values_are_compact_and_bounded() -> None:
    assert format_values({"a": 1.0 / 3, "b": True, "c": "Rain", "d": None}) == (
        "a=0.333333, b=True, c='Rain', d=unknown"
    )
    long = format_values({f"v{i}": 123456.789 for i in range(200)})
    assert len(long) == 1000 and long.endswith("...")


def test_each_trigger_text_is_parsed_once() -> None:
    cache = TriggerCache(size=2)
    first = cache.get("visible_satellites > 3")
    assert cache.get("visible_satellites > 3") is first
    assert cache.get(None) is None and cache.get("") is None
    cache.get("utc_hour < 1")
    cache.get("utc_hour < 2")  # evicts the least recently used
    assert cache.get("visible_satellites > 3") is not first
