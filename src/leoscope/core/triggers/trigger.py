"""The public trigger objects: `Trigger` (parsed and compiled), `Decision`, `parse_trigger`.

A `Trigger` ties the parts together: `grammar` parses its text, `evaluate` compiles its tree
once, and `explain` words the reason of a `Decision` on demand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..errors import InvalidInput
from ..variables import UNKNOWN
from .evaluate import _UNDEFINED, _compile
from .explain import _Explainer
from .grammar import _FIELD, _parse_tree
from .syntax import Expr, _variables_in, unparse

# ---------------------------------------------------------------------------------------------
# Public API


class Decision:
    """Whether a trigger holds for one set of values, and why.

    `holds` is the answer. `values` holds the value of every variable the trigger reads (UNKNOWN
    where there is no data). `value` is the raw result (a Boolean, or a number for a bare
    arithmetic expression; UNKNOWN when undefined). `reason` names the deciding parts with their
    values, e.g. "satellite_elevation=31.2 > 40 is false"; it is worked out on first access, so
    evaluating stays cheap when nobody reads it.
    """

    __slots__ = ("_explain", "_reason", "holds", "value", "values")

    def __init__(
        self, holds: bool, reason: str, values: dict[str, object], value: object = UNKNOWN
    ) -> None:
        self.holds = holds
        self.values = values
        self.value = value
        self._reason: str | None = reason
        self._explain: Callable[[], str] | None = None

    @classmethod
    def _lazy(
        cls, holds: bool, values: dict[str, object], value: object, explain: Callable[[], str]
    ) -> Decision:
        decision = cls(holds, "", values, value)
        decision._reason, decision._explain = None, explain
        return decision

    @property
    def reason(self) -> str:
        if self._reason is None:
            assert self._explain is not None
            self._reason, self._explain = self._explain(), None
        return self._reason

    @property
    def undefined(self) -> bool:
        """True when the result could not be computed (no data yet, division by zero)."""
        return self.value is UNKNOWN

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decision):
            return NotImplemented
        return (self.holds, self.reason, self.values, self.value) == (
            other.holds,
            other.reason,
            other.values,
            other.value,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Decision(holds={self.holds}, reason={self.reason!r}, values={self.values!r})"


class Trigger:
    """A parsed, compiled trigger. Build one with `parse_trigger` or `validate_trigger`."""

    __slots__ = ("_evaluate", "_explainer", "_names", "text", "tree", "variables")

    def __init__(self, text: str, tree: Expr) -> None:
        self.text = text
        """The text as submitted."""
        self.tree = tree
        self._names = tuple(_variables_in(tree))
        self.variables: frozenset[str] = frozenset(self._names)
        """Every variable name the trigger reads."""
        self._evaluate = _compile(tree)
        self._explainer: _Explainer | None = None

    @property
    def canonical(self) -> str:
        """The trigger re-printed with minimal parentheses and `& | !` operators."""
        return unparse(self.tree)

    def _values_of(self, values: Mapping[str, object]) -> dict[str, object]:
        out: dict[str, object] = {}
        for name in self._names:
            value = values.get(name, UNKNOWN)
            out[name] = UNKNOWN if value is None else value
        return out

    def evaluate(self, values: Mapping[str, object]) -> Decision:
        """Decide whether the trigger holds for `values` (e.g. `VariableTable.snapshot()`).

        A variable missing from `values`, or UNKNOWN, has no data yet. Never raises for bad
        data: an undefined result simply does not hold, and the reason says why.
        """
        seen = self._values_of(values)
        try:
            value = self._evaluate(seen)
        except _UNDEFINED:
            value = UNKNOWN
        return Decision._lazy(
            value is not UNKNOWN and bool(value), seen, value, lambda: self._reason(seen)
        )

    def _reason(self, values: Mapping[str, object]) -> str:
        if self._explainer is None:
            self._explainer = _Explainer()
        return self._explainer.reason(self.tree, values)

    def reference_result(self, values: Mapping[str, object]) -> str:
        """The text the reference publishes on MQTT `leotest/triggers/<jobid>`.

        "True" or "False"; a number for an arithmetic-only expression; "None" when undefined.
        """
        try:
            value = self._evaluate(values)
        except _UNDEFINED:
            return "None"
        return str(value)

    def __repr__(self) -> str:
        return f"Trigger({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Trigger) and self.tree == other.tree

    def __hash__(self) -> int:
        return hash(self.tree)


def parse_trigger(text: str | None) -> Trigger | None:
    """Parse a trigger; None or blank text (comments count as blank) means "no trigger".

    Raises InvalidInput("trigger", ...) with the line and column and what was expected. Checks
    syntax only: see `validate_trigger` for names and types.
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidInput(_FIELD, f"expected text, got {type(text).__name__}")
    stripped = "\n".join(line.split("//", 1)[0] for line in text.splitlines())
    if not stripped.strip():
        return None
    return Trigger(text, _parse_tree(text))
