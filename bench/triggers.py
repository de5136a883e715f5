"""Trigger evaluation speed: compiled closures against re-parsing on every evaluation.

The reference node re-parses every active trigger on every telemetry update. LEOScope parses a
trigger once and evaluates the compiled closures. For a few realistic triggers this prints the
evaluations per second of the compiled trigger (just the decision, and the decision with its
reason) against a baseline measured in the same run: parse + compile + evaluate each time.
The last line times the node agent's whole check (`TriggerGate`): a snapshot of its variable
table plus the clock variables, the evaluation and the recorded values, against the reference's
way (re-parse, then evaluate on the same table).

    .venv/bin/python bench/triggers.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from leoscope.core.triggers import Trigger, parse_trigger
from leoscope.core.variables import VariableTable, clock_variables
from leoscope.node.trigger_gate import current_values, format_values

EXPRESSIONS = {
    "elevation_and_latency": "satellite_elevation > 40 & pop_ping_latency_ms < 50",
    "reference_throughput": (
        "(uplink_throughput_bps - exp_tx_rate_bytes*8 > 100000) & "
        "(downlink_throughput_bps - exp_rx_rate_bytes*8 > 40000)"
    ),
    "reference_latency_jump": (
        "|pop_ping_latency_ms_1 - pop_ping_latency_ms| / pop_ping_latency_ms_1 * 100 > 60"
    ),
    "weather_and_night": (
        "weather_main != 'Rain' and visible_satellites >= 3 "
        "and utc_hour >= 1.5 and utc_hour < 4 // quiet hours"
    ),
    "smoothed": "abs(pop_ping_latency_ms - pop_ping_latency_ms_avg) < 10 "
    "| max(uplink_throughput_bps, downlink_throughput_bps) > 5e6",
}

TARGETS = {"evaluate": 20.0, "evaluate_with_reason": 5.0, "agent_check": 10.0}
"""Minimum speed-up over re-parsing. The reason is extra work the baseline does not do (the
reference has no reasons), so its target is lower."""


def live_table() -> VariableTable:
    """A table that has seen a few minutes of plausible telemetry."""
    table = VariableTable()
    at = 1_700_000_000.0
    for i in range(6):
        table.update_many(
            {
                "uplink_throughput_bps": 180_000 + 1000 * i,
                "downlink_throughput_bps": 2_400_000 - 5000 * i,
                "exp_tx_rate_bytes": 9_000,
                "exp_rx_rate_bytes": 120_000,
                "pop_ping_latency_ms": 38 + i,
                "currently_obstructed": False,
                "satellite_elevation": 52.5 - i,
                "visible_satellites": 7,
                "weather_main": "Clouds",
                **clock_variables(at + 2 * i),
            },
            at=at + 2 * i,
        )
    return table


def live_values() -> dict[str, object]:
    """A full snapshot of `live_table()`."""
    return live_table().snapshot()


def rate(action: Callable[[], object], seconds: float, repeats: int) -> float:
    """Best calls-per-second over `repeats` runs of about `seconds` each."""
    best = 0.0
    for _ in range(repeats):
        calls, batch = 0, 64
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for _ in range(batch):
                action()
            calls += batch
        best = max(best, calls / elapsed)
    return best


def line(name: str, metric: str, value: float, baseline: float) -> str:
    ratio, target = value / baseline, TARGETS[metric]
    return json.dumps(
        {
            "bench": f"triggers.{name}",
            "metric": metric,
            "value": round(value),
            "unit": "evaluations/s",
            "baseline": round(baseline),
            "ratio": round(ratio, 1),
            "target": f">= {target:g}x the re-parse baseline",
            "met": ratio >= target,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (a few seconds)")
    args = parser.parse_args()
    seconds, repeats = (0.1, 1) if args.quick else (0.6, 3)
    values = live_values()

    for name, text in EXPRESSIONS.items():
        trigger = parse_trigger(text)
        assert isinstance(trigger, Trigger)

        def reparse(text: str = text) -> bool:
            fresh = parse_trigger(text)
            assert fresh is not None
            return fresh.evaluate(values).holds

        def decide(trigger: Trigger = trigger) -> bool:
            return trigger.evaluate(values).holds

        def explain(trigger: Trigger = trigger) -> str:
            return trigger.evaluate(values).reason

        assert reparse() == decide()
        baseline = rate(reparse, seconds, repeats)
        print(line(name, "evaluate", rate(decide, seconds, repeats), baseline), flush=True)
        print(line(name, "evaluate_with_reason", rate(explain, seconds, repeats), baseline))

    table, at = live_table(), 1_700_000_012.0
    text = EXPRESSIONS["elevation_and_latency"]
    trigger = parse_trigger(text)
    assert isinstance(trigger, Trigger)

    def agent_check() -> str:
        return format_values(trigger.evaluate(current_values(table, at)).values)

    def reference_check() -> bool:
        fresh = parse_trigger(text)
        assert fresh is not None
        return fresh.evaluate(current_values(table, at)).holds

    baseline = rate(reference_check, seconds, repeats)
    print(
        line("elevation_and_latency", "agent_check", rate(agent_check, seconds, repeats), baseline)
    )


if __name__ == "__main__":
    main()
