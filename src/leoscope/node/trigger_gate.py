"""The trigger gate: a run starts only while its job's trigger holds (issue 7).

At a run's slot, and again after every wait, the gate evaluates the job's trigger against the
node's live variables (`core.variables.VariableTable`, plus the clock variables for the moment
of the check) and decides:

    no trigger                     PROCEED
    holds                          PROCEED; the values that let it start are stored on the run
                                   (`trigger_values`, sent with its DEPLOYING report)
    does not hold, wait left       WaitAndRetry(1 s) with a stable message ("waiting up to 30 s
                                   for the trigger: ..."), so WAITING is reported once; the
                                   values of each check travel in `trigger_values`
    does not hold, no wait left    Skip(SKIPPED, "trigger not met: <reason> (trigger: <text>;
                                   values: <every variable it reads>)")
    cannot be parsed on the node   Skip(FAILED, "invalid trigger: ...") (the orchestrator
                                   validates at schedule time; this only guards old data)

The server side of a paired run is never gated here: its client node evaluates the trigger.

The wait budget is the job's `trigger_wait_secs` (none: no wait), counted from the run's slot
and never past the slot's end, so a run checked late (after a restart) only waits what is left.
The gate keeps no state between checks: a restarted agent gates a resumed run the same way.
A variable with no data is unknown, so a trigger reading it does not hold and the reason names
it (`satellite_elevation is unknown (no data yet)`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping

from leoscope.core.errors import InvalidInput
from leoscope.core.model import RunStatus
from leoscope.core.triggers import Trigger, parse_trigger
from leoscope.core.variables import UNKNOWN, VariableTable, clock_variables

from .clock import Clock
from .seams import PROCEED, GateDecision, RunContext, Skip, WaitAndRetry

log = logging.getLogger(__name__)

RETRY_SECS = 1.0
"""How often a false trigger is evaluated again while the run may still wait."""
MAX_VALUES_CHARS = 1000
"""`trigger_values` is a summary for people; a trigger reading dozens of names is cut here."""


def format_value(value: object) -> str:
    """One value as a person reads it: 43.1, 31, True, 'Rain', unknown."""
    if value is UNKNOWN or value is None:
        return "unknown"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def format_values(values: Mapping[str, object]) -> str:
    """`satellite_elevation=43.1, pop_ping_latency_ms=31` (the run's `trigger_values`)."""
    text = ", ".join(f"{name}={format_value(value)}" for name, value in values.items())
    if len(text) > MAX_VALUES_CHARS:
        text = text[: MAX_VALUES_CHARS - 3] + "..."
    return text


class TriggerCache:
    """Parsed triggers by text, so each is parsed once however often it is evaluated.

    `get` returns None for "no trigger" and raises InvalidInput for a trigger that does not
    parse (the error is cached too).
    """

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._items: OrderedDict[str, Trigger | None | InvalidInput] = OrderedDict()

    def get(self, text: str | None) -> Trigger | None:
        if text is None or not text.strip():
            return None
        item = self._items.get(text)
        if item is None and text not in self._items:
            try:
                item = parse_trigger(text)
            except InvalidInput as exc:
                item = exc
            self._items[text] = item
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(text)
        if isinstance(item, InvalidInput):
            raise item
        return item


def current_values(table: VariableTable, at: float) -> dict[str, object]:
    """Every variable's value for a check at epoch second `at` (the table plus the clock)."""
    values = table.snapshot()
    values.update(clock_variables(at))
    return values


class TriggerGate:
    """The `Gate` for job triggers; see the module docstring. Append it after the other gates."""

    name = "trigger"

    def __init__(
        self,
        variables: VariableTable,
        clock: Clock,
        *,
        retry_secs: float = RETRY_SECS,
        cache: TriggerCache | None = None,
    ) -> None:
        self.variables = variables
        self.clock = clock
        self.retry_secs = retry_secs
        self.cache = cache or TriggerCache()

    async def check(self, run: RunContext) -> GateDecision:
        record = run.record
        job = record.job
        try:
            trigger = self.cache.get(job.trigger)
        except InvalidInput as exc:
            return Skip(RunStatus.FAILED, f"invalid trigger: {exc.problem}")
        if trigger is None or job.nodeid != run.node_id:
            return PROCEED  # no trigger, or the server side of a paired run: the client decides
        now = self.clock.time()
        decision = trigger.evaluate(current_values(self.variables, now))
        shown = format_values(decision.values)
        if decision.holds:
            run.state.update_run(run.runid, trigger_values=shown)  # sent with the next report
            log.info("run=%s job=%s trigger holds: %s", run.runid, job.id, shown)
            return PROCEED
        wait_secs = max(0, job.trigger_wait_secs or 0)
        wait_until = min(record.slot + wait_secs, record.deadline)
        if now < wait_until:
            return WaitAndRetry(
                min(self.retry_secs, wait_until - now),
                f"waiting up to {wait_secs} s for the trigger: {trigger.canonical}",
                trigger_values=shown,
            )
        waited = f" after waiting {wait_secs} s" if wait_secs else ""
        message = (
            f"trigger not met{waited}: {decision.reason} "
            f"(trigger: {trigger.canonical}; values: {shown})"
        )
        log.info("run=%s job=%s %s", run.runid, job.id, message)
        return Skip(RunStatus.SKIPPED, message, trigger_values=shown)
