"""The trigger language: a Boolean expression over a node's live telemetry.

A job may carry a trigger such as ``satellite_elevation > 40 & pop_ping_latency_ms < 50``. The
orchestrator checks it when the job is scheduled (`validate_trigger`); the node agent evaluates it
at each run's slot, and again every second for up to the job's `trigger_wait_secs`, and starts the
run only when it holds (`Trigger.evaluate`). docs/triggers.md is the user's guide; the variables
are listed and explained in `core/variables.py`.

The language is a superset of the reference's (wire contract section 7), with its bugs fixed:

* operators, lowest precedence first: ``|``/``or``; ``&``/``and``; ``!``/``not``; comparisons
  ``> >= < <= == === != !==`` (left-associative, so ``a > 1 > 0`` compares ``a > 1`` with 0);
  ``+ -``; ``* /``; unary minus (which keeps its sign);
* numbers: ``5``, ``0.5``, ``.5``, ``1e6``, ``1_000_000``; strings ``'Rain'`` or ``"Rain"``
  (no escapes); ``true``/``false``; ``|x|`` or ``abs(x)``, ``min(a, b, ...)``, ``max(...)``;
  ``//`` comments to the end of the line.

Semantics: comparisons yield Booleans; logical operators coerce their operands to Booleans
(non-zero numbers are true) and yield Booleans; a bare arithmetic expression holds when it is
non-zero. Booleans count as 0 and 1 in arithmetic. A variable with no data, a division by zero
or a type clash makes the part that contains it undefined; ``&``, ``|`` and ``!`` follow
three-valued (Kleene) logic, so ``x | y`` still holds when ``x`` holds and ``y`` is undefined.
An undefined trigger does not hold, and the decision's reason says why.

Expressions are parsed once with lark and compiled to nested closures, so evaluating a trigger
costs a few microseconds. Nothing is ever passed to Python's eval.

The package is split by responsibility: `syntax` (the tree and its canonical text), `grammar`
(parsing and syntax errors), `evaluate` (compiling a tree to closures), `explain` (the reason
text), `trigger` (`Trigger`, `Decision`, `parse_trigger`) and `typecheck` (`validate_trigger`).
Import the public names from here.
"""

from __future__ import annotations

from .grammar import MAX_TRIGGER_CHARS, MAX_TRIGGER_DEPTH
from .syntax import (
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
    unparse,
)
from .trigger import Decision, Trigger, parse_trigger
from .typecheck import validate_trigger

__all__ = [
    "MAX_TRIGGER_CHARS",
    "MAX_TRIGGER_DEPTH",
    "Abs",
    "And",
    "BinOp",
    "BoolLit",
    "Call",
    "Compare",
    "Decision",
    "Expr",
    "Neg",
    "Not",
    "NumberLit",
    "Or",
    "StringLit",
    "Trigger",
    "VarRef",
    "parse_trigger",
    "unparse",
    "validate_trigger",
]
