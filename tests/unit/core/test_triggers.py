"""The trigger language: parsing, printing, precedence, evaluation, validation, error texts."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from leoscope.core import triggers
from leoscope.core.errors import InvalidInput
from leoscope.core.triggers import (
    MAX_TRIGGER_CHARS,
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
    parse_trigger,
    unparse,
    validate_trigger,
)
from leoscope.core.triggers.explain import _Explainer
from leoscope.core.variables import UNKNOWN

DOCS = Path(__file__).resolve().parents[3] / "docs" / "triggers.md"

REFERENCE_EXAMPLE_1 = (
    "(uplink_throughput_bps - exp_tx_rate_bytes*8 > 100000) & "
    "(downlink_throughput_bps - exp_rx_rate_bytes*8 > 40000)"
)
REFERENCE_EXAMPLE_2 = (
    "|pop_ping_latency_ms_1 - pop_ping_latency_ms| / pop_ping_latency_ms_1 * 100 > 60"
)


def tree(text: str) -> Expr:
    trigger = parse_trigger(text)
    assert trigger is not None
    return trigger.tree


def problem(text: str, **kwargs: object) -> str:
    with pytest.raises(InvalidInput) as info:
        validate_trigger(text, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == "trigger"
    return info.value.problem


# ---------------------------------------------------------------------------------------------
# Random well-typed trees

NUMERIC_VARS = ("a", "b", "c")
FLAG_VAR = "flag"
TEXT_VAR = "w"

finite_floats = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)
number_literals = st.one_of(st.integers(-1000, 1000), finite_floats).map(NumberLit)


def numeric_trees(conditions: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    leaves = st.one_of(number_literals, st.sampled_from(NUMERIC_VARS).map(VarRef))

    def extend(inner: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        return st.one_of(
            st.builds(BinOp, st.sampled_from("+-*/"), inner, inner),
            inner.filter(lambda n: not isinstance(n, NumberLit)).map(Neg),
            inner.map(Abs),
            st.builds(
                Call, st.sampled_from(["min", "max"]), st.lists(inner, min_size=2, max_size=3)
            ).map(lambda c: Call(c.func, tuple(c.args))),
        )

    return st.recursive(leaves, extend, max_leaves=8)


def condition_trees() -> st.SearchStrategy[Expr]:
    simple_numbers = numeric_trees(st.nothing())
    leaves = st.one_of(
        st.builds(
            Compare, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), *[simple_numbers] * 2
        ),
        st.just(VarRef(FLAG_VAR)),
        st.booleans().map(BoolLit),
        st.builds(
            Compare,
            st.sampled_from(["==", "!="]),
            st.just(VarRef(TEXT_VAR)),
            st.sampled_from(["Rain", "Clouds", "light rain"]).map(StringLit),
        ),
    )

    def extend(inner: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        numbers_with_conditions = st.one_of(simple_numbers, inner)
        return st.one_of(
            inner.map(Not),
            st.builds(And, inner, inner),
            st.builds(Or, inner, inner),
            # Chained comparisons and Booleans inside arithmetic: legal, and good at finding
            # precedence mistakes.
            st.builds(Compare, st.sampled_from(["<", ">", "=="]), inner, simple_numbers),
            st.builds(BinOp, st.sampled_from("+*"), numbers_with_conditions, inner),
        )

    return st.recursive(leaves, extend, max_leaves=10)


any_trees = st.one_of(condition_trees(), numeric_trees(st.nothing()))

environments = st.fixed_dictionaries(
    {
        "a": st.one_of(st.integers(-5, 5), finite_floats),
        "b": st.one_of(st.integers(-5, 5), finite_floats),
        "c": st.integers(-3, 3),
        FLAG_VAR: st.booleans(),
        TEXT_VAR: st.sampled_from(["Rain", "Clear"]),
    }
)


# A printer written for the test: Python's own precedence, keyword operators, and random choices
# of our alternative spellings (& and, | or, ! not, |x| abs(x), === ==) for the LEOScope text.
PY_LEVEL = {Or: 1, And: 2, Not: 3, Compare: 4}


def py_level(node: Expr) -> int:
    if type(node) in PY_LEVEL:
        return PY_LEVEL[type(node)]
    if isinstance(node, BinOp):
        return 5 if node.op in "+-" else 6
    if isinstance(node, Neg) or (isinstance(node, NumberLit) and node.value < 0):
        return 7
    return 8


def print_both(node: Expr, rnd: random.Random, value_position: bool = False) -> tuple[str, str]:
    """(python_text, leoscope_text) for the same tree."""

    def sub(child: Expr, at_least: int, value: bool = False) -> tuple[str, str]:
        py, ours = print_both(child, rnd, value)
        if py_level(child) < at_least:
            return f"({py})", f"({ours})"
        return py, ours

    if isinstance(node, NumberLit):
        text = repr(node.value)
        return text, text
    if isinstance(node, StringLit):
        return repr(node.value), rnd.choice([f"'{node.value}'", f'"{node.value}"'])
    if isinstance(node, BoolLit):
        return repr(node.value), rnd.choice([repr(node.value), repr(node.value).lower()])
    if isinstance(node, VarRef):
        return node.name, node.name
    if isinstance(node, Neg):
        py, ours = sub(node.operand, 7, True)
        return f"-{py}", f"-{ours}"
    if isinstance(node, Abs):
        py, ours = print_both(node.operand, rnd, True)
        if rnd.random() < 0.5:
            return f"abs({py})", f"abs({ours})"
        return f"abs({py})", (f"|({ours})|" if py_level(node.operand) < 5 else f"|{ours}|")
    if isinstance(node, Call):
        parts = [print_both(a, rnd, True) for a in node.args]
        return (
            f"{node.func}({', '.join(p for p, _ in parts)})",
            f"{node.func}({', '.join(o for _, o in parts)})",
        )
    if isinstance(node, BinOp):
        level = py_level(node)
        (lp, lo), (rp, ro) = sub(node.left, level, True), sub(node.right, level + 1, True)
        return f"{lp} {node.op} {rp}", f"{lo} {node.op} {ro}"
    if isinstance(node, Compare):
        # Python chains `a < b < c`; ours reads it as `(a < b) < c`. Parenthesise for Python.
        (lp, lo) = (
            sub(node.left, 5, True) if isinstance(node.left, Compare) else sub(node.left, 4, True)
        )
        rp, ro = sub(node.right, 5, True)
        ours_op = {"==": rnd.choice(["==", "==="]), "!=": rnd.choice(["!=", "!=="])}.get(
            node.op, node.op
        )
        if isinstance(node.left, Compare) and rnd.random() < 0.5:
            lo = lo[1:-1]  # our grammar needs no parentheses for a chain
        return f"{lp} {node.op} {rp}", f"{lo} {ours_op} {ro}"
    if isinstance(node, Not):
        py, ours = sub(node.operand, 3)
        return f"not {py}", rnd.choice([f"!{ours}", f"not {ours}"])
    symbol, word, level = ("&", "and", 2) if isinstance(node, And) else ("|", "or", 1)
    (lp, lo), (rp, ro) = sub(node.left, level), sub(node.right, level + 1)
    py = f"{lp} {word} {rp}"
    if value_position:  # Python's and/or return an operand; ours return a Boolean
        py = f"bool({py})"
    return py, f"{lo} {rnd.choice([symbol, word])} {ro}"


def python_oracle(py_text: str, env: dict[str, object]) -> object:
    namespace = {"__builtins__": {}, "abs": abs, "min": min, "max": max, "bool": bool}
    return eval(py_text, namespace, dict(env))  # test-only oracle; the product never evals


def same_number(x: object, y: object) -> bool:
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    return x == y and type(x) is type(y)


# ---------------------------------------------------------------------------------------------
# Properties


@given(any_trees)
def test_printed_tree_parses_back_to_the_same_tree(expr: Expr) -> None:
    text = unparse(expr)
    assert tree(text) == expr
    assert unparse(tree(text)) == text


@given(any_trees, environments, st.randoms(use_true_random=False))
def test_precedence_and_values_agree_with_python(
    expr: Expr, env: dict[str, object], rnd: random.Random
) -> None:
    py_text, our_text = print_both(expr, rnd)
    try:
        expected = python_oracle(py_text, env)
    except (ArithmeticError, TypeError):
        assume(False)
        return
    trigger = parse_trigger(our_text)
    assert trigger is not None
    decision = trigger.evaluate(env)
    assert not decision.undefined, (our_text, decision.reason)
    assert decision.holds == bool(expected), (py_text, our_text)
    if isinstance(expr, And | Or | Not | Compare | BoolLit):
        assert isinstance(decision.value, bool)  # never an operand value (Q4)
    else:
        assert same_number(decision.value, expected), (py_text, our_text)
        assert trigger.reference_result(env) == str(expected)


partial_environments = environments.flatmap(
    lambda env: st.fixed_dictionaries(
        {k: st.sampled_from([v, UNKNOWN, None, 0]) for k, v in env.items()}
    )
)


@given(any_trees, partial_environments)
def test_the_explanation_agrees_with_the_fast_path(expr: Expr, env: dict[str, object]) -> None:
    trigger = triggers.Trigger(unparse(expr), expr)
    decision = trigger.evaluate(env)
    explained_value, clauses = _Explainer().outcome(expr, decision.values)
    assert (explained_value is UNKNOWN) == decision.undefined
    if not decision.undefined:
        assert bool(explained_value) == decision.holds
    assert decision.reason == "; ".join(clauses)
    assert decision.reason
    assert set(decision.values) == trigger.variables
    expected = "None" if decision.undefined else str(decision.value)
    assert trigger.reference_result(env) == expected


@given(st.text(max_size=40))
def test_arbitrary_text_either_parses_or_raises_invalid_input(text: str) -> None:
    try:
        trigger = parse_trigger(text)
    except InvalidInput as exc:
        assert exc.field == "trigger"
        return
    if trigger is not None:
        assert tree(trigger.canonical) == trigger.tree


# ---------------------------------------------------------------------------------------------
# Grammar and precedence


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!a > 1", Not(Compare(">", VarRef("a"), NumberLit(1)))),
        (
            "a > 1 & b < 2 | c > 3",
            Or(
                And(
                    Compare(">", VarRef("a"), NumberLit(1)), Compare("<", VarRef("b"), NumberLit(2))
                ),
                Compare(">", VarRef("c"), NumberLit(3)),
            ),
        ),
        ("a > 1 > 0", Compare(">", Compare(">", VarRef("a"), NumberLit(1)), NumberLit(0))),
        ("|a - b| > 3", Compare(">", Abs(BinOp("-", VarRef("a"), VarRef("b"))), NumberLit(3))),
        ("a - b - c", BinOp("-", BinOp("-", VarRef("a"), VarRef("b")), VarRef("c"))),
        ("a / b * c", BinOp("*", BinOp("/", VarRef("a"), VarRef("b")), VarRef("c"))),
        ("a + b * c", BinOp("+", VarRef("a"), BinOp("*", VarRef("b"), VarRef("c")))),
        ("-a * b", BinOp("*", Neg(VarRef("a")), VarRef("b"))),
        ("a == -1", Compare("==", VarRef("a"), NumberLit(-1))),
        ("a === 1", Compare("==", VarRef("a"), NumberLit(1))),
        ("a !== 1", Compare("!=", VarRef("a"), NumberLit(1))),
        ("a and not b or c", Or(And(VarRef("a"), Not(VarRef("b"))), VarRef("c"))),
        ("android | order", Or(VarRef("android"), VarRef("order"))),
        (
            "||a| - |b|| > 1",
            Compare(">", Abs(BinOp("-", Abs(VarRef("a")), Abs(VarRef("b")))), NumberLit(1)),
        ),
        ("abs(a - b) > 3", Compare(">", Abs(BinOp("-", VarRef("a"), VarRef("b"))), NumberLit(3))),
        (
            "min(a, b + 1, 3)",
            Call("min", (VarRef("a"), BinOp("+", VarRef("b"), NumberLit(1)), NumberLit(3))),
        ),
        ("a + (b > 1)", BinOp("+", VarRef("a"), Compare(">", VarRef("b"), NumberLit(1)))),
        ("w == 'Rain'", Compare("==", VarRef("w"), StringLit("Rain"))),
        ('w != "it\'s"', Compare("!=", VarRef("w"), StringLit("it's"))),
        ("flag == false", Compare("==", VarRef("flag"), BoolLit(False))),
        ("True", BoolLit(True)),
        ("a > 1 // only when a is large\n", Compare(">", VarRef("a"), NumberLit(1))),
        ("a >\n  // a comment line\n  1", Compare(">", VarRef("a"), NumberLit(1))),
    ],
)
def test_grammar(text: str, expected: Expr) -> None:
    assert tree(text) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.5", 0.5),
        (".5", 0.5),
        ("1e6", 1e6),
        ("2.5E-3", 2.5e-3),
        ("1_000_000", 1_000_000),
        ("-5", -5),
        ("- 5", -5),
        ("--5", 5),
        ("-0.25", -0.25),
        ("007", 7),
    ],
)
def test_number_literals(text: str, value: float) -> None:
    literal = tree(text)
    assert isinstance(literal, NumberLit)
    assert literal.value == value and type(literal.value) is type(value)


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t", "// just a comment", "  // a\n// b\n"])
def test_empty_trigger_means_no_trigger(text: str | None) -> None:
    assert parse_trigger(text) is None
    assert validate_trigger(text) is None


def test_text_variables_and_canonical_form() -> None:
    trigger = parse_trigger(REFERENCE_EXAMPLE_2)
    assert trigger is not None
    assert trigger.text == REFERENCE_EXAMPLE_2
    assert trigger.variables == frozenset({"pop_ping_latency_ms", "pop_ping_latency_ms_1"})
    assert trigger.canonical == (
        "abs(pop_ping_latency_ms_1 - pop_ping_latency_ms) / pop_ping_latency_ms_1 * 100 > 60"
    )
    assert parse_trigger("a>1") == parse_trigger(" a  >  1 ")
    assert hash(parse_trigger("a>1")) == hash(parse_trigger("(a > 1)"))


# ---------------------------------------------------------------------------------------------
# Evaluation


def test_reference_example_expressions() -> None:
    first = validate_trigger(REFERENCE_EXAMPLE_1)
    second = validate_trigger(REFERENCE_EXAMPLE_2)
    assert first is not None and second is not None
    busy = {
        "uplink_throughput_bps": 300_000,
        "exp_tx_rate_bytes": 10_000,
        "downlink_throughput_bps": 2_000_000,
        "exp_rx_rate_bytes": 50_000,
    }
    assert first.evaluate(busy).holds  # 220000 > 100000 and 1600000 > 40000
    assert first.reference_result(busy) == "True"
    quiet = dict(busy, exp_tx_rate_bytes=30_000)  # 300000 - 240000 = 60000
    decision = first.evaluate(quiet)
    assert not decision.holds
    assert decision.reason == (
        "uplink_throughput_bps - exp_tx_rate_bytes * 8 > 100000 is false "
        "(60000 > 100000 with uplink_throughput_bps=300000, exp_tx_rate_bytes=30000)"
    )

    jump = {"pop_ping_latency_ms_1": 40, "pop_ping_latency_ms": 70}  # 75 % change
    assert second.evaluate(jump).holds
    assert second.reference_result(jump) == "True"
    steady = {"pop_ping_latency_ms_1": 40, "pop_ping_latency_ms": 44}  # 10 %
    assert not second.evaluate(steady).holds
    assert second.reference_result(steady) == "False"


def test_false_and_true_reasons_show_values() -> None:
    trigger = validate_trigger("satellite_elevation > 40")
    assert trigger is not None
    low = trigger.evaluate({"satellite_elevation": 31.2})
    assert (low.holds, low.reason) == (False, "satellite_elevation=31.2 > 40 is false")
    high = trigger.evaluate({"satellite_elevation": 45.5})
    assert (high.holds, high.reason) == (True, "satellite_elevation=45.5 > 40 is true")
    assert high.values == {"satellite_elevation": 45.5}

    both = validate_trigger("satellite_elevation > 40 & pop_ping_latency_ms < 50")
    assert both is not None
    values = {"satellite_elevation": 45.5, "pop_ping_latency_ms": 30}
    assert both.evaluate(values).reason == (
        "satellite_elevation=45.5 > 40 is true; pop_ping_latency_ms=30 < 50 is true"
    )
    slow = both.evaluate(dict(values, pop_ping_latency_ms=80))
    assert slow.reason == "pop_ping_latency_ms=80 < 50 is false"  # only the deciding part

    either = validate_trigger("visible_satellites >= 3 or weather_main == 'Clear'")
    assert either is not None
    decision = either.evaluate({"visible_satellites": 1, "weather_main": "Rain"})
    assert decision.reason == (
        "visible_satellites=1 >= 3 is false; weather_main='Rain' == 'Clear' is false"
    )


def test_unknown_variables_make_the_trigger_not_hold() -> None:
    trigger = validate_trigger("satellite_elevation > 40")
    assert trigger is not None
    for values in ({}, {"satellite_elevation": UNKNOWN}, {"satellite_elevation": None}):
        decision = trigger.evaluate(values)
        assert not decision.holds and decision.undefined
        assert decision.reason == "satellite_elevation is unknown (no data yet)"
        assert decision.values == {"satellite_elevation": UNKNOWN}
        assert trigger.reference_result(values) == "None"

    sum_of_two = parse_trigger("a + b > 1")
    assert sum_of_two is not None
    assert sum_of_two.evaluate({}).reason == (
        "a is unknown (no data yet); b is unknown (no data yet)"
    )


def test_three_valued_logic_with_unknowns() -> None:
    either = parse_trigger("a > 1 | b > 1")
    both = parse_trigger("a > 1 & b > 1")
    assert either is not None and both is not None
    assert either.evaluate({"a": 5}).holds  # true | unknown is true
    assert either.evaluate({"b": 5}).holds
    assert either.evaluate({"a": 0}).reason == "b is unknown (no data yet)"
    assert not both.evaluate({"a": 0}).undefined  # false & unknown is false
    assert both.evaluate({"a": 0}).reason == "a=0 > 1 is false"
    assert both.evaluate({"a": 5}).reason == "b is unknown (no data yet)"
    negated = parse_trigger("!(a > 1)")
    assert negated is not None
    assert negated.evaluate({}).undefined


def test_division_by_zero_does_not_hold() -> None:
    trigger = parse_trigger("a / b > 1")
    assert trigger is not None
    decision = trigger.evaluate({"a": 3, "b": 0})
    assert not decision.holds and decision.undefined
    assert decision.reason == "division by zero: b=0"
    assert trigger.reference_result({"a": 3, "b": 0}) == "None"
    compound = parse_trigger("a / (b - c) > 1")
    assert compound is not None
    assert compound.evaluate({"a": 1, "b": 2, "c": 2}).reason == (
        "division by zero: b - c is 0 with b=2, c=2"
    )
    literal = parse_trigger("a / 0 > 1 | b")
    assert literal is not None
    assert literal.evaluate({"a": 1, "b": True}).holds  # the other side holds
    assert literal.evaluate({"a": 1, "b": False}).reason == "division by zero: dividing by 0"


def test_arithmetic_semantics() -> None:
    cases = {
        "-5": ("-5", True),  # the sign is kept (Q1)
        "a == -1": ("True", True),
        "3 | 4": ("True", True),  # Booleans, not operand values (Q4)
        "0 & 4": ("False", False),
        "a + 1": ("0", False),  # a bare number holds when non-zero
        "5 / 2": ("2.5", True),
        "6 / 3": ("2.0", True),
        "abs(a) * 2": ("2", True),
        "max(a, 2, 0.5)": ("2", True),
        "min(a, 2)": ("-1", True),
        "true + true": ("2", True),
        "!0": ("True", True),
    }
    for text, (published, holds) in cases.items():
        trigger = parse_trigger(text)
        assert trigger is not None
        assert trigger.reference_result({"a": -1}) == published, text
        assert trigger.evaluate({"a": -1}).holds is holds, text


def test_strings_compare_with_equality() -> None:
    trigger = validate_trigger("weather_main != 'Rain' and weather_desc == \"clear sky\"")
    assert trigger is not None
    assert trigger.evaluate({"weather_main": "Clear", "weather_desc": "clear sky"}).holds
    rainy = trigger.evaluate({"weather_main": "Rain", "weather_desc": "light rain"})
    assert rainy.reason == (
        "weather_main='Rain' != 'Rain' is false; weather_desc='light rain' == 'clear sky' is false"
    )


def test_runtime_type_clash_is_undefined_not_an_exception() -> None:
    trigger = parse_trigger("w > 5")  # validate_trigger would reject this for a text variable
    assert trigger is not None
    decision = trigger.evaluate({"w": "Rain"})
    assert not decision.holds and decision.undefined
    assert decision.reason.startswith("cannot compute w > 5: ")


def test_decision_reason_is_computed_once_and_on_demand() -> None:
    trigger = parse_trigger("a > 1")
    assert trigger is not None
    decision = trigger.evaluate({"a": 3})
    assert decision._reason is None  # nothing spent on the reason yet
    assert decision.reason == "a=3 > 1 is true"
    assert decision._reason == "a=3 > 1 is true"
    made = triggers.Decision(False, "no trigger data", {})
    assert made.reason == "no trigger data"
    assert made == triggers.Decision(False, "no trigger data", {})


def test_evaluate_reads_values_without_eval() -> None:
    with pytest.raises(InvalidInput, match="unknown function '__import__'"):
        parse_trigger("__import__('os') > 0")
    trigger = parse_trigger("a > 1")
    assert trigger is not None
    assert not trigger.evaluate({"a": "__import__('os')"}).holds


# ---------------------------------------------------------------------------------------------
# Syntax errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "satellite_elevation >> 40",
            "at column 22: expected a number, a variable or '('; got '>'",
        ),
        ("a >", "at column 4: expected a number, a variable or '('; got the end of the trigger"),
        (
            "a = 5",
            "at column 3: unexpected character '='; expected an operator (write '==' to compare)",
        ),
        ("(a > 3", "at column 7: expected an operator or ')'; got the end of the trigger"),
        ("a b", "at column 3: expected an operator; got 'b'"),
        (
            "|a > b|",
            "at column 4: expected an operator or '|' to close the absolute value; got '>'",
        ),
        ("and a", "at column 1: expected a number, a variable or '('; got 'and'"),
        ("min(a,)", "at column 7: expected a number, a variable or '('; got ')'"),
        ("a > 0.5.", "at column 8: unexpected character '.'; expected an operator"),
        ("a ; b", "at column 3: unexpected character ';'; expected an operator"),
        ("w == 'Rain", "at column 6: unterminated string: it must end with ' on the same line"),
        (
            "a\n  > = 3",
            "at line 2, column 5: unexpected character '='; expected a number, a variable or '(' (write '==' to compare)",
        ),
        ("foo(1) > 2", "at column 1: unknown function 'foo'; the functions are abs, min and max"),
        ("min(1) > 2", "at column 1: min() needs at least two arguments"),
        ("a > abs(1, 2)", "at column 5: abs() takes one argument, got 2"),
        ("a > 1e999", "at column 5: number '1e999' is too large"),
    ],
)
def test_syntax_errors_point_at_the_column(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_trigger(text)
    assert info.value.field == "trigger"
    assert info.value.problem == message
    assert str(info.value) == f"invalid trigger: {message}"


def test_c_style_operators_get_a_hint() -> None:
    with pytest.raises(InvalidInput, match=r"write '&' or 'and' for AND"):
        parse_trigger("a > 1 && b > 1")
    with pytest.raises(InvalidInput, match=r"write '&' or 'and' for AND, '\|' or 'or' for OR"):
        parse_trigger("a > 1 || b > 1")


def test_oversized_and_overdeep_triggers_are_rejected_cleanly() -> None:
    with pytest.raises(InvalidInput, match="characters long; the limit is"):
        parse_trigger("a > 1 | " * (MAX_TRIGGER_CHARS // 8) + "a > 1")
    for too_deep in ["-" * 300 + "a", "!" * 300 + "a", "abs(" * 300 + "a" + ")" * 300]:
        with pytest.raises(InvalidInput, match="nested too deeply"):
            parse_trigger(too_deep)
    # Redundant parentheses add no depth (the parser is iterative), so they are harmless.
    parenthesised = parse_trigger("(" * 500 + "a" + ")" * 500 + " > 1")
    assert parenthesised is not None and parenthesised.evaluate({"a": 2}).holds
    fine = parse_trigger("-" * 60 + "a")
    assert fine is not None and fine.evaluate({"a": 2}).value == 2


# ---------------------------------------------------------------------------------------------
# Validation (names and types)


def test_unknown_variable_with_suggestion() -> None:
    assert problem("pop_ping_latncy_ms < 50") == (
        "unknown variable 'pop_ping_latncy_ms'; did you mean 'pop_ping_latency_ms'?"
    )
    assert problem("satelite_elevation > 3 & xyzzy > 1") == (
        "unknown variable 'satelite_elevation'; did you mean 'satellite_elevation'?; "
        "unknown variable 'xyzzy'"
    )
    assert problem("speed > 1", known_variables={"a", "b"}) == "unknown variable 'speed'"


def test_derived_and_new_variables_are_known() -> None:
    for text in [
        "pop_ping_latency_ms_avg < 40 & pop_ping_latency_ms_5 > 0",
        "currently_obstructed_avg < 0.1",
        "weather_main_avg == 'Clear'",
        "satellite_elevation >= 40 & visible_satellites > 2 & utc_hour < 6.5",
        "!currently_obstructed",
    ]:
        assert validate_trigger(text) is not None, text
    assert validate_trigger("a > 1", known_variables={"a"}) is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "weather_main + 1 > 2",
            "at column 1: 'weather_main' is a string; strings cannot be used in arithmetic",
        ),
        ("1 > -'Rain'", "at column 6: 'Rain' is a string; strings cannot be used in arithmetic"),
        (
            "weather_main < 'x'",
            "at column 1: strings can only be compared with == or !=, not <: weather_main < 'x'",
        ),
        (
            "weather_main == 5",
            "at column 1: cannot compare a string with a number: weather_main == 5",
        ),
        (
            "weather_desc != currently_obstructed",
            "at column 1: cannot compare a string with a Boolean: weather_desc != currently_obstructed",
        ),
        (
            "weather_main",
            "at column 1: 'weather_main' is a string, not a condition (compare it, e.g. weather_main == 'Rain')",
        ),
        (
            "a > 1 & !weather_main",
            "at column 10: 'weather_main' is a string, not a condition (compare it, e.g. weather_main == 'Rain')",
        ),
        (
            "min(weather_main, 1) > 0",
            "at column 5: 'weather_main' is a string; strings cannot be used in arithmetic",
        ),
    ],
)
def test_type_errors(text: str, message: str) -> None:
    assert (
        problem(text, known_variables={"a", "weather_main", "weather_desc", "currently_obstructed"})
        == message
    )


def test_type_checks_accept_sensible_mixes() -> None:
    for text in [
        "weather_main == weather_desc",
        "currently_obstructed == false",
        "currently_obstructed + 1 > 1",  # Booleans count as 0 and 1
        "weather_main_avg != 'Rain'",
    ]:
        assert validate_trigger(text) is not None, text
    untyped = {"x", "y"}
    assert validate_trigger("x == 'Rain' & y > 3", known_variables=untyped) is not None


def test_possible_division_by_zero_is_not_rejected() -> None:
    # The reference validated by evaluating with every variable at -1 and rejected these (Q3).
    assert validate_trigger("1 / (pop_ping_latency_ms + 1) > 0") is not None
    assert validate_trigger(REFERENCE_EXAMPLE_2) is not None


# ---------------------------------------------------------------------------------------------
# The documentation


def test_every_example_in_the_docs_validates() -> None:
    blocks = re.findall(r"```trigger\n(.*?)```", DOCS.read_text(), flags=re.S)
    assert len(blocks) >= 8
    for block in blocks:
        assert validate_trigger(block) is not None, block
    text = DOCS.read_text()
    assert REFERENCE_EXAMPLE_1 in text and REFERENCE_EXAMPLE_2 in text
