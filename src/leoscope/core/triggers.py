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
"""

from __future__ import annotations

import difflib
import functools
import math
import operator
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from .errors import InvalidInput
from .variables import ALL_VARIABLES, UNKNOWN, VARIABLE_TYPES

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

MAX_TRIGGER_CHARS: Final = 4096
"""Longest trigger text accepted; real triggers are a line or two."""

MAX_TRIGGER_DEPTH: Final = 100
"""Deepest nesting accepted, so that no evaluation can exhaust the Python stack."""

_FIELD: Final = "trigger"

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
