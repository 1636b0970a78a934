"""The safe expression language (viz.expr): what it accepts, what it refuses and how it says so.

Every refusal is an ExprError whose message is one line naming the column and the offending
text; nothing a refused expression names is ever run. The parser is fuzzed with arbitrary text
and with grammar-shaped strings: it returns a result or raises ExprError, never anything else.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tg
import viz.expr
from tinygrad_lite import Tensor, Value
from tinygrad_lite.graph import export_graph
from viz.expr import (
    MAX_DEPTH,
    MAX_ELEMENTS,
    MAX_LENGTH,
    ExprError,
    ExprWarning,
    evaluate,
    make_leaves,
    parse_assignment,
    parse_expression,
    parse_value,
)


def scalars(**values: float) -> dict[str, Value]:
    return {name: Value(v, label=name) for name, v in values.items()}


def tensors(**arrays) -> dict[str, Tensor]:
    return {
        name: Tensor(np.asarray(a, dtype=np.float64), requires_grad=True, name=name)
        for name, a in arrays.items()
    }


def refusal(source: str, variables=None) -> ExprError:
    with pytest.raises(ExprError) as info:
        evaluate(source, scalars(x=3.0, y=1.0) if variables is None else variables)
    return info.value


# -- accepted expressions -----------------------------------------------------------------


def test_scalar_expression_builds_a_graph_with_the_right_value_and_gradients():
    env = scalars(x=3.0, b=1.0)
    y = evaluate("sqrt(x**2 + b)", env)
    y.backward()
    assert y.data == pytest.approx(math.sqrt(10))
    assert env["x"].grad == pytest.approx(3 / math.sqrt(10))
    assert env["b"].grad == pytest.approx(0.5 / math.sqrt(10))


def test_tensor_expression_matches_numpy():
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)
    h = evaluate("relu(X @ W + b)", tensors(X=x, W=w, b=b))
    np.testing.assert_allclose(h.data, np.maximum(x @ w + b, 0))


def test_max_of_zero_and_an_expression_is_drawn_as_one_relu_node():
    env = tensors(X=[[1.0, -2.0]], W=[[1.0], [1.0]])
    for source in ("max(0, X @ W)", "max(X @ W, 0)", "max(0.0, X @ W)"):
        assert evaluate(source, env).op == "relu"


def test_max_of_two_expressions_is_the_elementwise_maximum():
    env = tensors(a=[1.0, 5.0], b=[3.0, 2.0])
    out = evaluate("max(a, b)", env)
    assert out.op == "maximum"
    assert out.data.tolist() == [3.0, 5.0]


def test_min_of_scalars_has_the_gradient_of_the_smaller_one():
    env = scalars(x=2.0, y=5.0)
    out = evaluate("min(x, y)", env)
    out.backward()
    assert out.data == 2.0
    assert (env["x"].grad, env["y"].grad) == (1.0, 0.0)


def test_reductions_take_an_integer_axis():
    env = tensors(X=[[1.0, 2.0], [3.0, 4.0]])
    assert evaluate("sum(X, 0)", env).data.tolist() == [4.0, 6.0]
    assert evaluate("mean(X, -1)", env).data.tolist() == [1.5, 3.5]
    np.testing.assert_allclose(evaluate("sum(softmax(X, 1), 1)", env).data, [1.0, 1.0])


def test_sum_of_a_scalar_is_the_scalar_itself():
    env = scalars(x=3.0)
    assert evaluate("sum(x)", env) is env["x"]


def test_unary_plus_and_minus_and_operator_precedence():
    env = scalars(x=3.0)
    assert evaluate("-x**2 + +x", env).data == -6.0
    assert evaluate("2 * (x - 1) / 4", env).data == 1.0


def test_surrounding_spaces_are_ignored():
    assert evaluate("  -x ", scalars(x=2.0)).data == -2.0
    assert parse_value(" 3 ") == 3.0


def test_an_expression_of_numbers_only_is_a_plain_float():
    assert evaluate("sqrt(16) + 2**3", {}) == 12.0


def test_a_negative_number_to_a_fractional_power_is_nan_not_complex():
    assert math.isnan(evaluate("(-8)**(1/3)", {}))


def test_functions_of_plain_numbers_record_nothing():
    assert evaluate("exp(0) + tanh(0)", {}) == 1.0


# -- refused expressions ------------------------------------------------------------------

REFUSED = [
    ("__import__('os').system('touch PWNED')", "attribute access"),
    ("open('x', 'w')", "unknown function 'open'"),
    ("x.__class__", "attribute access"),
    ("x[0]", "indexing"),
    ("lambda: x", "lambda"),
    ("[x for x in y]", "comprehensions"),
    ("(x for x in y)", "generator expressions"),
    ("x if y else 1", "conditional expressions"),
    ("x < y", "comparisons"),
    ("x and y", "'and'/'or'"),
    ("not x", "'not'"),
    ("~x", "'~'"),
    ("x // y", "'//'"),
    ("x % y", "'%'"),
    ("f'{x}'", "f-strings"),
    ("(z := x)", "':='"),
    ("'text'", "strings"),
    ("b'bytes'", "strings"),
    ("True", "not a number"),
    ("None", "not a number"),
    ("1j", "complex"),
    ("sqrt(*x)", "'*' unpacking"),
    ("sqrt(x=1)", "keyword arguments"),
    ("{1: x}", "dicts"),
    ("{x}", "sets"),
    ("[x, y]", "lists"),
    ("(x, y)", "tuples"),
    ("__x", "names starting with '_'"),
    ("__builtins__", "names starting with '_'"),
    ("sqrt", "is a function"),
    ("sqrt(x, y)", "takes 1 argument"),
    ("sum(x, y)", "axis of sum() must be an integer"),
    ("eval('1')", "unknown function 'eval'"),
    ("z + 1", "undefined name 'z'"),
    ("x @ y", "@ needs two tensors"),
    ("softmax(x)", "needs a tensor"),
    ("1 / 0", "division by zero"),
    ("9**9**9", "too large"),
    ("x +", "syntax error"),
]


@pytest.mark.parametrize(("source", "reason"), REFUSED)
def test_refused_expression_raises_a_one_line_expr_error(source, reason):
    err = refusal(source)
    assert reason in str(err)
    assert "\n" not in str(err)


@pytest.mark.parametrize("source", [s for s, _ in REFUSED if s not in ("x +",)])
def test_refusal_names_the_column_of_the_offending_part(source):
    err = refusal(source)
    assert err.column is not None and 1 <= err.column <= len(source)
    assert f"at column {err.column}" in str(err)
    assert err.snippet and source[err.column - 1 :].startswith(err.snippet)


def test_caret_underlines_the_offending_part():
    err = refusal("x + y.real")
    assert err.caret() == "x + y.real\n    ^^^^^^"


def test_columns_count_characters_not_utf8_bytes():
    # 'é' is two bytes in UTF-8; ast's offsets count bytes, the message counts characters.
    err = refusal("sum(é, x.y)", {"é": Value(1.0), "x": Value(1.0)})
    assert err.column == 8 and err.snippet == "x.y"


def test_non_ascii_names_are_refused():
    assert "ASCII" in str(refusal("é + 1"))


def test_refused_expressions_have_no_side_effects(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for source in (
        "__import__('os').system('touch PWNED')",
        "open('created.txt', 'w')",
        "exec(\"open('created.txt', 'w')\")",
        "[open('created.txt', 'w') for _ in x]",
    ):
        with pytest.raises(ExprError):
            evaluate(source, scalars(x=1.0))
    assert os.listdir(tmp_path) == []


def test_huge_exponent_is_refused_quickly():
    err = refusal("x ** 9**9**9")
    assert "too large" in str(err)
    assert err.snippet == "9**9**9"


def test_too_long_expression_is_refused():
    err = refusal("x+" * MAX_LENGTH + "x")
    assert "limit is" in str(err)


def test_too_deeply_nested_expression_is_refused():
    err = refusal("-" * (MAX_DEPTH + 5) + "x")
    assert f"more than {MAX_DEPTH} levels" in str(err)


def test_many_nested_parentheses_are_refused_not_crashing():
    assert "syntax error" in str(refusal("(" * 300 + "x" + ")" * 300))


def test_control_characters_are_refused_and_escaped_in_the_message():
    err = refusal("x\n+ y")
    assert "one line" in str(err)
    assert "\n" not in str(err)


def test_shape_mismatch_names_both_shapes_and_the_operator():
    err = refusal("X + W", tensors(X=np.ones((4, 3)), W=np.ones((3, 2))))
    assert "(4, 3)" in str(err) and "(3, 2)" in str(err)
    assert err.snippet == "X + W"


def test_broadcast_to_more_than_the_element_limit_is_refused():
    side = int(math.isqrt(MAX_ELEMENTS)) + 1
    env = tensors(a=np.ones((side, 1)), b=np.ones((1, side)))
    assert "limit is" in str(refusal("a * b", env))


def test_undefined_name_error_lists_the_defined_names():
    err = refusal("x + zeta")
    assert "undefined name 'zeta'" in str(err)
    assert "defined: x, y" in str(err)
    assert err.snippet == "zeta"


def test_integer_variables_are_floats_so_huge_powers_overflow_instead_of_hanging():
    assert "too large" in str(refusal("n**n**n", {"n": 9}))


def test_variables_must_be_values_tensors_or_numbers():
    assert "is a list" in str(refusal("v + 1", {"v": [1, 2]}))


def test_parse_expression_returns_the_tree_of_an_allowed_expression():
    assert parse_expression("relu(X @ W + b)").body.func.id == "relu"


# -- --set values ---------------------------------------------------------------------------


def test_set_value_number_and_negative_number():
    assert parse_value("3") == 3.0
    assert parse_value("-0.5") == -0.5
    assert parse_value("1e-3") == 0.001


def test_set_value_literal_lists_become_float64_arrays():
    array = parse_value("[[1, 2], [3, -4]]")
    assert array.dtype == np.float64 and array.tolist() == [[1, 2], [3, -4]]


def test_set_value_ragged_list_is_refused():
    with pytest.raises(ExprError, match="not rectangular"):
        parse_value("[1, [2, 3]]", "x")


def test_set_value_constructors_have_the_given_shapes():
    assert parse_value("randn(4, 3)").shape == (4, 3)
    assert parse_value("zeros(3)").tolist() == [0.0, 0.0, 0.0]
    assert parse_value("ones(2, 2)").tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert parse_value("full((2, 3), 0.5)").tolist() == [[0.5] * 3] * 2
    assert parse_value("arange(1, 4)").tolist() == [1.0, 2.0, 3.0]
    assert parse_value("eye(2)").tolist() == [[1.0, 0.0], [0.0, 1.0]]
    rand = parse_value("rand(50)")
    assert rand.min() >= 0 and rand.max() < 1


def test_set_value_randn_follows_manual_seed():
    tg.manual_seed(7)
    first = parse_value("randn(3)")
    tg.manual_seed(7)
    assert parse_value("randn(3)").tolist() == first.tolist()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("randn(-1)", "non-negative integers"),
        ("randn(2.5)", "non-negative integers"),
        ("zeros(100000, 100000)", "limit is"),
        ("arange(0, 1, 0)", "must not be 0"),
        ("y", "cannot use the name 'y'"),
        ("sqrt(4)", "unknown function 'sqrt'"),
        ("[1, 2] + [3]", "numbers only"),
        ("(1, 2)", "tuples"),
        ("__import__('os')", "names starting with '_'"),
        ("", "empty"),
    ],
)
def test_set_value_refusals_name_the_variable(text, reason):
    with pytest.raises(ExprError) as info:
        parse_value(text, "w")
    assert reason in str(info.value)
    if text:
        assert str(info.value).startswith("--set w")


def test_set_value_loads_an_npy_file(tmp_path):
    path = tmp_path / "weights.npy"
    np.save(path, np.arange(6, dtype=np.int32).reshape(2, 3))
    loaded = parse_value(f"@{path}", "W")
    assert loaded.dtype == np.float64 and loaded.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_set_value_missing_npy_file_is_one_line(tmp_path):
    with pytest.raises(ExprError) as info:
        parse_value(f"@{tmp_path / 'nope.npy'}", "W")
    assert "no such file" in str(info.value) and "\n" not in str(info.value)


def test_set_value_npy_holding_python_objects_is_never_unpickled(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ExprError, match="never unpickled"):
        parse_value(f"@{path}", "W")


def test_set_value_npz_archive_is_refused(tmp_path):
    path = tmp_path / "many.npz"
    np.savez(path, a=np.ones(2), b=np.zeros(2))
    with pytest.raises(ExprError, match="several arrays"):
        parse_value(f"@{path}", "W")


def test_parse_assignment_strips_spaces():
    assert parse_assignment(" x = [1, 2] ") == ("x", "[1, 2]")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("x", "NAME=VALUE"),
        ("1x=3", "not a valid name"),
        ("lambda=3", "keyword"),
        ("_x=3", "'_'"),
        ("sqrt=3", "function name"),
        ("x=", "empty"),
    ],
)
def test_parse_assignment_refusals(text, reason):
    with pytest.raises(ExprError, match=reason):
        parse_assignment(text)


def test_make_leaves_gives_labelled_values_when_all_are_scalars():
    leaves = make_leaves(["x=3", "b=1"])
    assert all(isinstance(v, Value) and v.requires_grad for v in leaves.values())
    assert [v.label for v in leaves.values()] == ["x", "b"]


def test_make_leaves_turns_scalars_into_0d_float64_tensors_when_any_value_is_a_tensor():
    leaves = make_leaves(["X=randn(4, 3)", "c=2"])
    assert {name: (t.shape, t.dtype) for name, t in leaves.items()} == {
        "X": ((4, 3), np.float64),
        "c": ((), np.float64),
    }
    assert all(t.requires_grad and t.name == name for name, t in leaves.items())


def test_make_leaves_refuses_a_name_set_twice():
    with pytest.raises(ExprError, match="set twice"):
        make_leaves(["x=1", "x=2"])


# -- fuzzing ------------------------------------------------------------------------------

# Pieces the language allows, and pieces it refuses; the grammar mixes them on request.
ALLOWED_ATOMS = ["x", "y", "X", "W", "b", "0", "1", "2.5", "9", "1e308"]
REFUSED_ATOMS = ["z", "_x", "'s'", "True", "x.real"]
ALLOWED_FUNCTIONS = [
    "sqrt", "exp", "log", "tanh", "sigmoid", "relu", "abs", "max", "min", "maximum",
    "minimum", "sum", "mean", "softmax", "log_softmax", "logsumexp", "transpose",
]  # fmt: skip
REFUSED_FUNCTIONS = ["open", "__import__", "x.real", "eval", "print"]
ALLOWED_OPERATORS = ["+", "-", "*", "/", "**", "@"]
REFUSED_OPERATORS = ["//", "%", "<", " and ", ".", ","]


def _expressions(allowed_only: bool = False):
    """Strings shaped like expressions: operators, unary signs, parentheses, calls, and (unless
    `allowed_only`) refused atoms, operators, functions and subscripts mixed in."""

    def pick(allowed: list[str], refused: list[str]):
        return st.sampled_from(allowed if allowed_only else allowed + refused)

    atoms = pick(ALLOWED_ATOMS, REFUSED_ATOMS)
    functions = pick(ALLOWED_FUNCTIONS, REFUSED_FUNCTIONS)
    operators = pick(ALLOWED_OPERATORS, REFUSED_OPERATORS)
    signs = pick(["-", "+"], ["~", "not "])

    def extend(inner):
        forms = [
            st.tuples(inner, operators, inner).map("".join),
            st.tuples(signs, inner).map("".join),
            inner.map(lambda s: f"({s})"),
            st.tuples(functions, st.lists(inner, min_size=1, max_size=2)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"
            ),
        ]
        if not allowed_only:
            forms.append(inner.map(lambda s: f"{s}[0]"))
        return st.one_of(*forms)

    return st.recursive(atoms, extend, max_leaves=12)


def _check_outcome(source: str, variables) -> None:
    try:
        result = evaluate(source, variables)
    except ExprError as err:
        assert "\n" not in str(err)
        return
    assert isinstance(result, (float, Value, Tensor))


FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Random expressions take log and sqrt of negatives: those warnings are results, not failures.
QUIET = pytest.mark.filterwarnings("ignore::viz.expr.ExprWarning")


@QUIET
@FUZZ
@given(st.text(max_size=60))
def test_fuzz_arbitrary_text_gives_a_result_or_an_expr_error(source):
    _check_outcome(source, scalars(x=3.0, y=-1.0))


@QUIET
@FUZZ
@given(_expressions())
def test_fuzz_grammar_shaped_strings_with_refused_parts_give_a_result_or_an_expr_error(source):
    env = tensors(x=3.0, y=[1.0, -2.0], X=np.ones((2, 3)), W=np.ones((3, 2)), b=[0.5, -0.5])
    _check_outcome(source, env)


@QUIET
@FUZZ
@given(_expressions(allowed_only=True))
def test_fuzz_allowed_grammar_on_scalars_gives_a_result_or_an_expr_error(source):
    _check_outcome(source, scalars(x=3.0, y=-1.0, X=0.5, W=2.0, b=0.0))


@QUIET
@FUZZ
@given(_expressions(allowed_only=True))
def test_fuzz_allowed_grammar_on_tensors_gives_a_result_or_an_expr_error(source):
    env = tensors(x=3.0, y=[1.0, -2.0], X=np.ones((2, 3)), W=np.ones((3, 2)), b=[0.5, -0.5])
    _check_outcome(source, env)


@QUIET
@FUZZ
@given(st.one_of(st.text(max_size=40), _expressions()).filter(lambda s: not s.startswith("@")))
def test_fuzz_set_values_give_an_array_a_number_or_an_expr_error(text):
    # (`@path` reads a file, tested above; fuzzing it would probe the file system.)
    try:
        value = parse_value(text, "v")
    except ExprError as err:
        assert "\n" not in str(err)
        return
    assert isinstance(value, (float, np.ndarray))


# -- budgets and warnings (see also tests/test_cli_budgets.py) -----------------------------


def test_caret_is_refused_with_a_hint_for_powers():
    err = refusal("x^2")
    assert "'^' is not allowed" in str(err) and "x**2" in str(err)


def test_matmul_size_includes_the_batch_axes_of_both_operands(monkeypatch):
    monkeypatch.setattr(viz.expr, "MAX_ELEMENTS", 100)
    err = refusal("A @ B", tensors(A=np.ones((10, 1)), B=np.ones((20, 1, 5))))
    assert "(20, 10, 5)" in str(err)


def test_matmul_shape_error_names_the_axes_and_the_transpose_function():
    err = refusal("A @ B", tensors(A=np.ones((3, 4)), B=np.ones((3, 4))))
    assert "(4)" in str(err) and "(3)" in str(err) and "transpose(X)" in str(err)
    assert ".T " not in str(err) and "(.T)" not in str(err)


def test_op_count_is_capped_before_anything_runs(monkeypatch):
    monkeypatch.setattr(viz.expr, "MAX_OPS", 3)
    with pytest.raises(ExprError, match="4 operations"):
        parse_expression("x + x + x + x + x")


def test_total_elements_are_bounded_over_all_nodes(monkeypatch):
    monkeypatch.setattr(viz.expr, "MAX_TOTAL_ELEMENTS", 25)
    env = tensors(X=np.ones(10))
    evaluate("X * X", env)  # 10 (leaf) + 10 = 20
    assert "limit over all nodes is 25" in str(refusal("X * X * X", env))


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("log(x)", "log() of a negative number is NaN (x has a value below 0)"),
        ("sqrt(x)", "sqrt() of a negative number is NaN"),
        ("x ** 0.5", "a negative number to a fractional power is NaN"),
        ("log(x + 1)", "log(0) is -Inf"),
    ],
)
def test_results_outside_a_functions_domain_warn_with_the_column(source, text):
    with pytest.warns(ExprWarning) as caught:
        evaluate(source, scalars(x=-1.0))
    assert len(caught) == 1
    assert text in str(caught[0].message) and "at column 1" in str(caught[0].message)


def test_results_inside_the_domain_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate("log(x) + sqrt(x) + x ** 0.5 + x ** -2", scalars(x=2.0))
        evaluate("(-x) ** 2", scalars(x=2.0))


@given(
    hnp.mutually_broadcastable_shapes(
        signature="(m?,n),(n,p?)->(m?,p?)", max_dims=4, min_side=1, max_side=3
    )
)
def test_matmul_size_check_predicts_numpys_result_shape(shapes):
    a, b = shapes.input_shapes
    result, _, _ = viz.expr._matmul_shapes(a, b)
    assert result == np.matmul(np.ones(a), np.ones(b)).shape


@QUIET
@FUZZ
@given(_expressions(allowed_only=True))
def test_fuzz_no_node_exceeds_the_limits_the_checks_enforce(source):
    # Small limits, and operands that multiply up quickly: whatever the expression, if it
    # evaluates, every node of its graph is within the per-node limit and all of them
    # together within the total (plus one element per node for the engine's own scalar
    # constants, e.g. the divisor inside mean).
    env = tensors(x=3.0, y=np.ones((4, 1)), X=np.ones((1, 4)), W=np.ones((4, 4)), b=np.ones(4))
    limits = {"MAX_ELEMENTS": 16, "MAX_TOTAL_ELEMENTS": 60}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in limits.items():
            patch.setattr(viz.expr, name, value)
        try:
            result = evaluate(source, env)
        except ExprError:
            return
    if not isinstance(result, Tensor):
        return
    sizes = [math.prod(node.shape) for node in export_graph(result).nodes]
    assert max(sizes) <= limits["MAX_ELEMENTS"]
    assert sum(sizes) <= limits["MAX_TOTAL_ELEMENTS"] + len(sizes)
