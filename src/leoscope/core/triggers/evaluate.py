"""Compiling a trigger tree to nested closures: the fast path that decides whether it holds.

A compiled trigger reads its variables from a mapping and returns its value, or raises one of
`_UNDEFINED` when a part has no value (no data, division by zero, a type clash); `&` and `|`
follow three-valued logic. It never builds reason text: see `explain`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, TypeAlias

from ..variables import UNKNOWN
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
    StringLit,
    VarRef,
)

# ---------------------------------------------------------------------------------------------
# Compiling to closures (the fast path)

Evaluator: TypeAlias = Callable[[Mapping[str, object]], object]


class _NoData(Exception):
    """A variable has no value yet."""


_UNDEFINED: Final = (_NoData, ArithmeticError, TypeError)
"""What makes (part of) an expression undefined: no data, division by zero, overflow, a type
clash such as a string where a number belongs."""


def _compile(node: Expr) -> Evaluator:
    if isinstance(node, NumberLit | StringLit | BoolLit):
        constant = node.value
        return lambda env: constant
    if isinstance(node, VarRef):
        name = node.name

        def read(env: Mapping[str, object]) -> object:
            value = env.get(name, UNKNOWN)
            if value is UNKNOWN or value is None:
                raise _NoData(name)
            return value

        return read
    if isinstance(node, Neg):
        inner = _compile(node.operand)
        return lambda env: -inner(env)  # type: ignore[operator]
    if isinstance(node, Abs):
        inner = _compile(node.operand)
        return lambda env: abs(inner(env))  # type: ignore[arg-type]
    if isinstance(node, Call):
        func, args = _FUNCTIONS[node.func], tuple(_compile(a) for a in node.args)
        return lambda env: func([a(env) for a in args])
    if isinstance(node, Not):
        inner = _compile(node.operand)
        return lambda env: not inner(env)
    left, right = _compile(node.left), _compile(node.right)
    if isinstance(node, BinOp | Compare):
        op = _ARITH[node.op] if isinstance(node, BinOp) else _COMPARE[node.op]
        return lambda env: op(left(env), right(env))
    if isinstance(node, And):

        def conjunction(env: Mapping[str, object]) -> bool:
            try:
                first = bool(left(env))
            except _UNDEFINED:
                if not right(env):  # false & undefined is false
                    return False
                raise
            return first and bool(right(env))

        return conjunction

    def disjunction(env: Mapping[str, object]) -> bool:
        try:
            first = bool(left(env))
        except _UNDEFINED:
            if right(env):  # true | undefined is true
                return True
            raise
        return first or bool(right(env))

    return disjunction
