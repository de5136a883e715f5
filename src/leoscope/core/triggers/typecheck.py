"""Checking a trigger at schedule time: known variable names and static types.

`validate_trigger` is what the orchestrator calls before it accepts a job: the trigger must
parse, read only known variables, and use strings only where strings make sense.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from typing import Final

from ..errors import InvalidInput
from ..variables import ALL_VARIABLES, VARIABLE_TYPES
from .grammar import _FIELD, _where
from .syntax import (
    Abs,
    BinOp,
    BoolLit,
    Call,
    Compare,
    Expr,
    Neg,
    NumberLit,
    StringLit,
    VarRef,
    _children,
    unparse,
)
from .trigger import Trigger, parse_trigger


def validate_trigger(
    text: str | None,
    known_variables: Collection[str] = ALL_VARIABLES,
    variable_types: Mapping[str, type] | None = None,
) -> Trigger | None:
    """Parse a trigger and check its names and types, as the orchestrator does at schedule time.

    Rejects unknown variables (suggesting the closest known name) and type clashes: a string in
    arithmetic or in an ordering comparison, a string compared with a number, a string used as a
    condition. It does not evaluate anything, so a possible division by zero is not an error.
    `variable_types` defaults to the catalog's; a known name missing from it may be any type.
    """
    trigger = parse_trigger(text)
    if trigger is None:
        return None
    known = frozenset(known_variables)
    unknown = [n for n in trigger._names if n not in known]
    if unknown:
        raise InvalidInput(_FIELD, "; ".join(_unknown_variable(n, known) for n in unknown))
    types = VARIABLE_TYPES if variable_types is None else variable_types
    _TypeChecker(trigger.text, types).check_condition(trigger.tree)
    return trigger


def _unknown_variable(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
    return f"unknown variable {name!r}" + (f"; did you mean {close[0]!r}?" if close else "")


# ---------------------------------------------------------------------------------------------
# Static type checking

_NUMBER, _BOOL, _STRING, _ANY = "number", "Boolean", "string", "any"
_KIND_OF_TYPE: Final = {int: _NUMBER, float: _NUMBER, bool: _BOOL, str: _STRING}


class _TypeChecker:
    def __init__(self, text: str, types: Mapping[str, type]) -> None:
        self.text = text
        self.types = types

    def fail(self, node: Expr, problem: str) -> InvalidInput:
        return InvalidInput(_FIELD, f"{_where(self.text, node.at)}: {problem}")

    def check_condition(self, node: Expr) -> None:
        if self.kind(node) == _STRING:
            raise self.fail(node, f"{_what(node)} is a string, not a condition{_hint(node)}")

    def kind(self, node: Expr) -> str:
        if isinstance(node, NumberLit):
            return _NUMBER
        if isinstance(node, StringLit):
            return _STRING
        if isinstance(node, BoolLit):
            return _BOOL
        if isinstance(node, VarRef):
            return _KIND_OF_TYPE.get(self.types.get(node.name), _ANY)  # type: ignore[arg-type]
        if isinstance(node, Neg | Abs | Call | BinOp):
            for child in _children(node):
                if self.kind(child) == _STRING:
                    raise self.fail(
                        child,
                        f"{_what(child)} is a string; strings cannot be used in arithmetic",
                    )
            return _NUMBER
        if isinstance(node, Compare):
            return self.compare(node)
        for child in _children(node):  # Not, And, Or
            self.check_condition(child)
        return _BOOL

    def compare(self, node: Compare) -> str:
        left, right = self.kind(node.left), self.kind(node.right)
        if _STRING not in (left, right):
            return _BOOL
        if node.op not in ("==", "!="):
            raise self.fail(
                node, f"strings can only be compared with == or !=, not {node.op}: {unparse(node)}"
            )
        if _ANY not in (left, right) and left != right:
            raise self.fail(
                node, f"cannot compare a string with a {_other(left, right)}: {unparse(node)}"
            )
        return _BOOL


def _other(left: str, right: str) -> str:
    return right if left == _STRING else left


def _what(node: Expr) -> str:
    if isinstance(node, VarRef):
        return repr(node.name)
    return unparse(node)


def _hint(node: Expr) -> str:
    if isinstance(node, VarRef):
        return f" (compare it, e.g. {node.name} == 'Rain')"
    return ""
