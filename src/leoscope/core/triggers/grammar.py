"""Parsing trigger text: the lark grammar, the tree builder and the syntax error messages.

`_parse_tree` turns text into a `syntax` tree, or raises InvalidInput("trigger", ...) saying
where (line and column) and what was expected. It also enforces the size and nesting limits.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Collection
from typing import Final

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from ..errors import InvalidInput
from .syntax import (
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
    Pos,
    StringLit,
    VarRef,
)

MAX_TRIGGER_CHARS: Final = 4096
"""Longest trigger text accepted; real triggers are a line or two."""

MAX_TRIGGER_DEPTH: Final = 100
"""Deepest nesting accepted, so that no evaluation can exhaust the Python stack."""

_FIELD: Final = "trigger"

# ---------------------------------------------------------------------------------------------
# Parsing

_GRAMMAR: Final = r"""
?start: or_expr
?or_expr: and_expr
        | or_expr (VBAR | OR) and_expr -> or_
?and_expr: not_expr
         | and_expr (AMP | AND) not_expr -> and_
?not_expr: comparison
         | (BANG | NOT) not_expr -> not_
?comparison: sum
           | comparison CMP_OP sum -> compare
?sum: product
    | sum (PLUS | MINUS) product -> arith
?product: unary
        | product (STAR | SLASH) unary -> arith
?unary: atom
      | MINUS unary -> neg
?atom: NUMBER -> number
     | STRING -> string
     | NAME -> var
     | NAME _LPAR or_expr (_COMMA or_expr)* _RPAR -> call
     | _LPAR or_expr _RPAR
     | VBAR sum VBAR -> bars

VBAR: "|"
AMP: "&"
BANG: "!"
OR: "or"
AND: "and"
NOT: "not"
CMP_OP: "===" | "==" | "!==" | "!=" | ">=" | "<=" | ">" | "<"
PLUS: "+"
MINUS: "-"
STAR: "*"
SLASH: "/"
_LPAR: "("
_RPAR: ")"
_COMMA: ","
NAME: /(?!(?:and|or|not)(?![A-Za-z0-9_]))[A-Za-z_][A-Za-z0-9_]*/
NUMBER: /(?:\d(?:_?\d)*(?:\.\d(?:_?\d)*)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d+)?/
STRING: /'[^'\n]*'|"[^"\n]*"/
COMMENT: /\/\/[^\n]*/
%ignore COMMENT
%ignore /[ \t\r\n]+/
"""


@functools.cache
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", lexer="contextual", propagate_positions=True)


_COMPARE_SPELLINGS: Final = {"===": "==", "!==": "!="}
_BOOL_NAMES: Final = {"true": True, "True": True, "false": False, "False": False}


class _Builder:
    """Turns lark's parse tree into our syntax tree, checking what the grammar cannot."""

    def __init__(self, text: str) -> None:
        self.text = text

    def error(self, at: Pos, problem: str) -> InvalidInput:
        return InvalidInput(_FIELD, f"{_where(self.text, at)}: {problem}")

    def build(self, tree: Tree[Token]) -> Expr:
        at: Pos = (tree.meta.line, tree.meta.column)
        kids = [c for c in tree.children if isinstance(c, Tree)]
        tokens = [c for c in tree.children if isinstance(c, Token)]
        kind = tree.data
        if kind == "number":
            return NumberLit(self.number(tokens[0], at), at)
        if kind == "string":
            return StringLit(tokens[0][1:-1], at)
        if kind == "var":
            name = str(tokens[0])
            return BoolLit(_BOOL_NAMES[name], at) if name in _BOOL_NAMES else VarRef(name, at)
        if kind == "call":
            return self.call(str(tokens[0]), [self.build(k) for k in kids], at)
        if kind == "bars":
            return Abs(self.build(kids[0]), at)
        if kind == "neg":
            operand = self.build(kids[0])
            if isinstance(operand, NumberLit):
                return NumberLit(-operand.value, at)
            return Neg(operand, at)
        if kind == "not_":
            return Not(self.build(kids[0]), at)
        left, right = self.build(kids[0]), self.build(kids[1])
        if kind == "arith":
            return BinOp(str(tokens[0]), left, right, at)
        if kind == "compare":
            op = str(tokens[0])
            return Compare(_COMPARE_SPELLINGS.get(op, op), left, right, at)
        if kind == "and_":
            return And(left, right, at)
        if kind == "or_":
            return Or(left, right, at)
        raise AssertionError(f"unhandled grammar rule {kind}")  # pragma: no cover

    def number(self, token: Token, at: Pos) -> int | float:
        digits = token.replace("_", "")
        if any(c in digits for c in ".eE"):
            value = float(digits)
            if not math.isfinite(value):
                raise self.error(at, f"number {str(token)!r} is too large")
            return value
        return int(digits)

    def call(self, func: str, args: list[Expr], at: Pos) -> Expr:
        if func == "abs":
            if len(args) != 1:
                raise self.error(at, f"abs() takes one argument, got {len(args)}")
            return Abs(args[0], at)
        if func in _FUNCTIONS:
            if len(args) < 2:
                raise self.error(at, f"{func}() needs at least two arguments")
            return Call(func, tuple(args), at)
        raise self.error(at, f"unknown function {func!r}; the functions are abs, min and max")


def _where(text: str, at: Pos) -> str:
    line, column = at or (1, 1)
    return f"at line {line}, column {column}" if "\n" in text else f"at column {column}"


def _end_of(text: str) -> Pos:
    return (text.count("\n") + 1, len(text) - (text.rfind("\n") + 1) + 1)


def _describe_expected(accepted: set[str]) -> str:
    if accepted & {"NAME", "NUMBER"}:
        return "a number, a variable or '('"
    parts = []
    operators = {"PLUS", "MINUS", "STAR", "SLASH", "CMP_OP", "AMP", "AND", "OR"}
    if accepted & operators:
        parts.append("an operator")
    if "VBAR" in accepted and "OR" not in accepted:
        parts.append("'|' to close the absolute value")
    if "_RPAR" in accepted:
        parts.append("')'")
    if "_COMMA" in accepted:
        parts.append("','")
    if not parts:
        return "the end of the trigger"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _accepted(exc: UnexpectedInput, fallback: Collection[str]) -> set[str]:
    parser = getattr(exc, "interactive_parser", None)
    try:
        return set(parser.accepts()) if parser is not None else set(fallback)
    except Exception:  # the exact set is a nicety; the lexer's guess will do
        return set(fallback)


def _syntax_error(text: str, exc: UnexpectedInput) -> InvalidInput:
    if isinstance(exc, UnexpectedCharacters):
        at: Pos = (exc.line, exc.column)
        expected = _describe_expected(_accepted(exc, exc.allowed))
        problem = f"unexpected character {exc.char!r}; expected {expected}"
        if exc.char == "=":
            problem += " (write '==' to compare)"
        elif exc.char in "'\"":
            problem = f"unterminated string: it must end with {exc.char} on the same line"
    elif isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type == "$END":
            at, got = _end_of(text), "the end of the trigger"
        else:
            at, got = (token.line, token.column), repr(str(token))
        problem = f"expected {_describe_expected(_accepted(exc, exc.expected))}; got {got}"
    else:  # pragma: no cover - LALR raises only the two above
        at, problem = (exc.line, exc.column), str(exc)
    if "&&" in text or "||" in text:
        problem += " (write '&' or 'and' for AND, '|' or 'or' for OR)"
    return InvalidInput(_FIELD, f"{_where(text, at)}: {problem}")


def _depth(tree: Tree[Token]) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tree))
    return deepest


def _parse_tree(text: str) -> Expr:
    if len(text) > MAX_TRIGGER_CHARS:
        raise InvalidInput(
            _FIELD, f"is {len(text)} characters long; the limit is {MAX_TRIGGER_CHARS}"
        )
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    if _depth(tree) > MAX_TRIGGER_DEPTH:
        raise InvalidInput(_FIELD, f"is nested too deeply (limit {MAX_TRIGGER_DEPTH} levels)")
    return _Builder(text).build(tree)
