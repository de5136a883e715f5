"""The trigger syntax tree: its node classes, the operators' meaning, and its canonical text.

Every other part of the trigger language works on these frozen nodes: `grammar` builds them,
`evaluate` compiles them, `explain` words them, `typecheck` checks them, and `unparse` prints
them back with only the parentheses they need.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, TypeAlias

# ---------------------------------------------------------------------------------------------
# Syntax tree. `at` is the (line, column) where the node starts, 1-based; it is left out of
# equality so that trees from different texts compare by meaning.

Pos: TypeAlias = tuple[int, int] | None


@dataclass(frozen=True, slots=True)
class NumberLit:
    value: int | float
    at: Pos = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class StringLit:
    value: str
    at: Pos = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class BoolLit:
    value: bool
    at: Pos = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class VarRef:
    name: str
    at: Pos = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    at: Pos = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Abs:
    operand: Expr
    at: Pos = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Call:
    """min(...) or max(...), with at least two arguments."""

    func: str
    args: tuple[Expr, ...]
    at: Pos = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str  # + - * /
    left: Expr
    right: Expr
    at: Pos = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # < <= > >= == != (=== and !== are read as == and !=)
    left: Expr
    right: Expr
    at: Pos = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    at: Pos = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class And:
    left: Expr
    right: Expr
    at: Pos = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Or:
    left: Expr
    right: Expr
    at: Pos = field(default=None, compare=False, repr=False)


Expr: TypeAlias = (
    NumberLit | StringLit | BoolLit | VarRef | Neg | Abs | Call | BinOp | Compare | Not | And | Or
)

_ARITH: Final[Mapping[str, Callable[[object, object], object]]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}
_COMPARE: Final[Mapping[str, Callable[[object, object], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_FUNCTIONS: Final[Mapping[str, Callable[..., object]]] = {"min": min, "max": max}


def _children(node: Expr) -> tuple[Expr, ...]:
    if isinstance(node, Neg | Abs | Not):
        return (node.operand,)
    if isinstance(node, BinOp | Compare | And | Or):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    return ()


def _walk(node: Expr) -> Iterator[Expr]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(_children(current)))


def _variables_in(node: Expr) -> list[str]:
    """Variable names in order of first appearance."""
    return list(dict.fromkeys(n.name for n in _walk(node) if isinstance(n, VarRef)))


# ---------------------------------------------------------------------------------------------
# Printing


def _level(node: Expr) -> int:
    """Binding strength, as in the grammar: 1 is `|`, 8 is an atom."""
    if isinstance(node, Or):
        return 1
    if isinstance(node, And):
        return 2
    if isinstance(node, Not):
        return 3
    if isinstance(node, Compare):
        return 4
    if isinstance(node, BinOp):
        return 5 if node.op in "+-" else 6
    if isinstance(node, Neg) or (isinstance(node, NumberLit) and node.value < 0):
        return 7
    return 8


def _format_number(value: int | float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _quote(text: str) -> str:
    return f'"{text}"' if "'" in text else f"'{text}'"


def unparse(node: Expr) -> str:
    """Canonical text of a tree, with only the parentheses it needs; parses back to it."""

    def wrap(child: Expr, at_least: int) -> str:
        text = unparse(child)
        return f"({text})" if _level(child) < at_least else text

    if isinstance(node, NumberLit):
        return _format_number(node.value)
    if isinstance(node, StringLit):
        return _quote(node.value)
    if isinstance(node, BoolLit):
        return "true" if node.value else "false"
    if isinstance(node, VarRef):
        return node.name
    if isinstance(node, Neg):
        return "-" + wrap(node.operand, 7)
    if isinstance(node, Abs):
        return f"abs({unparse(node.operand)})"
    if isinstance(node, Call):
        return f"{node.func}({', '.join(unparse(a) for a in node.args)})"
    if isinstance(node, BinOp | Compare):
        level = _level(node)
        right_level = level + 1 if isinstance(node, BinOp) else 5
        return f"{wrap(node.left, level)} {node.op} {wrap(node.right, right_level)}"
    if isinstance(node, Not):
        return "!" + wrap(node.operand, 3)
    if isinstance(node, And):
        return f"{wrap(node.left, 2)} & {wrap(node.right, 3)}"
    return f"{wrap(node.left, 1)} | {wrap(node.right, 2)}"
