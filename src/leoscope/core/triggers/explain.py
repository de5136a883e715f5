"""Why a trigger holds or not: the reason text of a `Decision`, worked out only when read.

It re-evaluates the parts of a tree to find the ones that decided its value and words them with
the values they read, e.g. "satellite_elevation=31.2 > 40 is false", or says why a part is
undefined ("pop_ping_latency_ms is unknown (no data yet)", "division by zero: ...").
"""

from __future__ import annotations

from collections.abc import Mapping

from ..variables import UNKNOWN
from .evaluate import _UNDEFINED, Evaluator, _compile
from .syntax import (
    _ARITH,
    _COMPARE,
    _FUNCTIONS,
    Abs,
    And,
    BinOp,
    BoolLit,
    Call,
    Compare,
    Expr,
    Neg,
    Not,
    NumberLit,
    Or,
    StringLit,
    VarRef,
    _children,
    _quote,
    _variables_in,
    unparse,
)

# ---------------------------------------------------------------------------------------------
# Explaining a decision (the slow path, run only when someone reads `Decision.reason`)


class _Undefined(Exception):
    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def _show(value: object) -> str:
    if value is UNKNOWN or value is None:
        return "unknown"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, str):
        return _quote(value)
    return str(value)


def _is_simple(node: Expr) -> bool:
    return isinstance(node, VarRef | NumberLit | StringLit | BoolLit)


def _truth_word(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "non-zero" if value else "zero"


def _dedupe(clauses: list[str]) -> list[str]:
    return list(dict.fromkeys(clauses))


class _Explainer:
    """Works out which parts of a trigger decided its value, and words them with their values.

    One per trigger, made on the first explanation; it caches each part's text, variables and
    compiled closure, so later explanations only evaluate and format.
    """

    def __init__(self) -> None:
        self._text: dict[int, str] = {}
        self._names: dict[int, tuple[str, ...]] = {}
        self._fast: dict[int, Evaluator] = {}

    def text(self, node: Expr) -> str:
        key = id(node)
        if key not in self._text:
            self._text[key] = unparse(node)
        return self._text[key]

    def named_values(self, node: Expr, values: Mapping[str, object]) -> str:
        key = id(node)
        if key not in self._names:
            self._names[key] = tuple(_variables_in(node))
        return ", ".join(f"{n}={_show(values.get(n))}" for n in self._names[key])

    def value(self, node: Expr, values: Mapping[str, object]) -> object:
        """The value of a part, or _Undefined with the reasons it has none."""
        key = id(node)
        if key not in self._fast:
            self._fast[key] = _compile(node)
        try:
            return self._fast[key](values)
        except _UNDEFINED:
            return self.diagnose(node, values)  # raises _Undefined with the reasons

    def diagnose(self, node: Expr, values: Mapping[str, object]) -> object:
        """Evaluate like the compiled closures, but raise _Undefined with readable reasons."""
        if isinstance(node, NumberLit | StringLit | BoolLit):
            return node.value
        if isinstance(node, VarRef):
            value = values.get(node.name, UNKNOWN)
            if value is UNKNOWN or value is None:
                raise _Undefined([f"{node.name} is unknown (no data yet)"])
            return value
        if isinstance(node, Not | And | Or):
            outcome, clauses = self.outcome(node, values)
            if outcome is UNKNOWN:
                raise _Undefined(clauses)
            return outcome
        operands: list[object] = []
        reasons: list[str] = []
        for child in _children(node):  # every operand, to report every unknown at once
            try:
                operands.append(self.diagnose(child, values))
            except _Undefined as exc:
                reasons.extend(exc.reasons)
        if reasons:
            raise _Undefined(_dedupe(reasons))
        try:
            if isinstance(node, Neg):
                return -operands[0]  # type: ignore[operator]
            if isinstance(node, Abs):
                return abs(operands[0])  # type: ignore[arg-type]
            if isinstance(node, Call):
                return _FUNCTIONS[node.func](operands)
            op = _ARITH[node.op] if isinstance(node, BinOp) else _COMPARE[node.op]
            return op(*operands)
        except ZeroDivisionError:
            assert isinstance(node, BinOp)
            raise _Undefined([f"division by zero: {self.zero(node.right, values)}"]) from None
        except _UNDEFINED as exc:
            raise _Undefined([f"cannot compute {self.text(node)}: {exc}"]) from None

    def zero(self, divisor: Expr, values: Mapping[str, object]) -> str:
        if isinstance(divisor, VarRef):
            return f"{divisor.name}={_show(values.get(divisor.name))}"
        if isinstance(divisor, NumberLit | BoolLit):
            return f"dividing by {self.text(divisor)}"
        named = self.named_values(divisor, values)
        return f"{self.text(divisor)} is 0" + (f" with {named}" if named else "")

    def side(self, node: Expr, value: object) -> str:
        return f"{node.name}={_show(value)}" if isinstance(node, VarRef) else self.text(node)

    def condition(self, node: Expr, values: Mapping[str, object], value: object) -> str:
        """One clause saying what a non-logical part evaluated to, with the values it read."""
        truth = _truth_word(value)
        if isinstance(node, Compare):
            left, right = self.value(node.left, values), self.value(node.right, values)
            if _is_simple(node.left) and _is_simple(node.right):
                return f"{self.side(node.left, left)} {node.op} {self.side(node.right, right)} is {truth}"
            named = self.named_values(node, values)
            detail = f"{_show(left)} {node.op} {_show(right)}" + (f" with {named}" if named else "")
            return f"{self.text(node)} is {truth} ({detail})"
        if isinstance(node, VarRef):
            shown = node.name if isinstance(value, bool) else f"{node.name}={_show(value)}"
            return f"{shown} is {truth}"
        if _is_simple(node):
            return f"{self.text(node)} is {truth}"
        named = self.named_values(node, values)
        return f"{self.text(node)} = {_show(value)} ({truth})" + (f" with {named}" if named else "")

    def outcome(self, node: Expr, values: Mapping[str, object]) -> tuple[object, list[str]]:
        """The value of `node` (UNKNOWN when undefined) and the clauses that decided it."""
        if isinstance(node, Not):
            inner, clauses = self.outcome(node.operand, values)
            return (UNKNOWN if inner is UNKNOWN else not inner), clauses
        if isinstance(node, And | Or):
            decisive = isinstance(node, Or)  # the operand truth that settles the result
            parts = [self.outcome(node.left, values), self.outcome(node.right, values)]
            settled = [c for v, c in parts if v is not UNKNOWN and bool(v) is decisive]
            if settled:
                return decisive, _dedupe([c for cs in settled for c in cs])
            undefined = [c for v, c in parts if v is UNKNOWN]
            if undefined:
                return UNKNOWN, _dedupe([c for cs in undefined for c in cs])
            return (not decisive), _dedupe([c for _, cs in parts for c in cs])
        try:
            value = self.value(node, values)
        except _Undefined as exc:
            return UNKNOWN, exc.reasons
        return value, [self.condition(node, values, value)]

    def reason(self, tree: Expr, values: Mapping[str, object]) -> str:
        return "; ".join(self.outcome(tree, values)[1])
