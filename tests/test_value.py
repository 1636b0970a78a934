"""`Value`, the scalar face of the graph: micrograd's surface (operators, reflected operators,
number and Value exponents, exp log tanh sigmoid relu sqrt abs, maximum), ordered parents,
stable ids, op names and labels. Every differentiable op is checked against central finite
differences in float64 with hypothesis, and a whole expression against micrograd itself."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite import DTypeError, Value
from tinygrad_lite.value import maximum

EPS = 1e-6


def numeric_derivative(f, x: float) -> float:
    """Central difference of a float -> float function."""
    return (f(x + EPS) - f(x - EPS)) / (2 * EPS)


def assert_matches_finite_differences(analytic: float, numeric: float) -> None:
    assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-6)


def grad_of(op, x: float) -> float:
    """d op(x) / dx computed by the engine."""
    v = Value(x)
    op(v).backward()
    return v.grad


def value_of(op, x: float) -> float:
    return op(Value(x)).data


moderate = st.floats(-3.0, 3.0, allow_nan=False)
positive = st.floats(0.1, 5.0, allow_nan=False)
away_from_zero = moderate.filter(lambda x: abs(x) > 1e-3)

UNARY = {
    "exp": (lambda v: v.exp(), moderate),
    "log": (lambda v: v.log(), positive),
    "tanh": (lambda v: v.tanh(), moderate),
    "sigmoid": (lambda v: v.sigmoid(), moderate),
    "relu": (lambda v: v.relu(), away_from_zero),
    "sqrt": (lambda v: v.sqrt(), positive),
    "abs": (lambda v: v.abs(), away_from_zero),
    "neg": (lambda v: -v, moderate),
    "square": (lambda v: v**2, moderate),
    "cube": (lambda v: v**3, moderate),
    "reciprocal": (lambda v: 1 / v, positive),
    "half_power": (lambda v: v**0.5, positive),
    "exp_base_2": (lambda v: 2**v, moderate),
    "radd": (lambda v: 3 + v, moderate),
    "rsub": (lambda v: 3 - v, moderate),
    "rmul": (lambda v: 3 * v, moderate),
}


# --------------------------------------------------------------------------------------------
# Gradients against central finite differences (hypothesis, float64)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradient_matches_finite_differences(name):
    op, xs = UNARY[name]

    @settings(deadline=None)
    @given(xs)
    def check(x):
        expected = numeric_derivative(lambda t: value_of(op, t), x)
        assert_matches_finite_differences(grad_of(op, x), expected)

    check()


BINARY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a**b,
    "maximum": maximum,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(deadline=None)
@given(a=positive, b=positive)
def test_binary_gradients_match_finite_differences(name, a, b):
    op = BINARY[name]
    assume(name != "maximum" or abs(a - b) > 1e-3)  # a kink; the tie rule has its own test
    va, vb = Value(a), Value(b)
    op(va, vb).backward()

    def plain(x, y):
        return op(Value(x), Value(y)).data

    assert_matches_finite_differences(va.grad, numeric_derivative(lambda t: plain(t, b), a))
    assert_matches_finite_differences(vb.grad, numeric_derivative(lambda t: plain(a, t), b))


@settings(deadline=None)
@given(x=moderate, y=positive)
def test_composite_expression_gradient_matches_finite_differences(x, y):
    def f(a, b):
        return ((a * b).tanh() + (a - b).sigmoid() * b.log() - (a**2 + 1).sqrt() / b).exp()

    def plain(a, b):
        return f(Value(a), Value(b)).data

    va, vb = Value(x), Value(y)
    f(va, vb).backward()
    assert_matches_finite_differences(va.grad, numeric_derivative(lambda t: plain(t, y), x))
    assert_matches_finite_differences(vb.grad, numeric_derivative(lambda t: plain(x, t), y))


# --------------------------------------------------------------------------------------------
# Forward values
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        (lambda v: v + 2, 5.0),
        (lambda v: 2 + v, 5.0),
        (lambda v: v - 2, 1.0),
        (lambda v: 2 - v, -1.0),
        (lambda v: v * 2, 6.0),
        (lambda v: 2 * v, 6.0),
        (lambda v: v / 2, 1.5),
        (lambda v: 6 / v, 2.0),
        (lambda v: v**2, 9.0),
        (lambda v: 2**v, 8.0),
        (lambda v: v ** Value(2.0), 9.0),
        (lambda v: -v, -3.0),
        (lambda v: abs(-v), 3.0),
    ],
)
def test_operators_compute_the_right_value(op, expected):
    assert op(Value(3.0)).data == expected


def test_unary_functions_match_the_math_module():
    x = 0.7
    assert Value(x).exp().data == pytest.approx(math.exp(x))
    assert Value(x).log().data == pytest.approx(math.log(x))
    assert Value(x).tanh().data == pytest.approx(math.tanh(x))
    assert Value(x).sigmoid().data == pytest.approx(1 / (1 + math.exp(-x)))
    assert Value(x).sqrt().data == pytest.approx(math.sqrt(x))


def test_sigmoid_does_not_overflow_for_large_negative_inputs():
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(1000.0).sigmoid().data == 1.0


def test_exp_overflow_gives_inf_not_an_exception():
    assert Value(1000.0).exp().data == math.inf


def test_division_by_zero_gives_inf_not_an_exception():
    assert (Value(1.0) / 0).data == math.inf


def test_value_accepts_ints_and_stores_floats():
    assert Value(3).data == 3.0
    assert isinstance(Value(3).data, float)


# --------------------------------------------------------------------------------------------
# Gradient conventions at kinks (PyTorch's)
# --------------------------------------------------------------------------------------------


def test_relu_gradient_at_zero_is_zero():
    assert grad_of(lambda v: v.relu(), 0.0) == 0.0


def test_abs_gradient_at_zero_is_zero():
    assert grad_of(lambda v: v.abs(), 0.0) == 0.0


def test_maximum_tie_splits_the_gradient_evenly():
    a, b = Value(2.0), Value(2.0)
    maximum(a, b).backward()
    assert (a.grad, b.grad) == (0.5, 0.5)


def test_maximum_sends_the_whole_gradient_to_the_larger_side():
    a, b = Value(1.0), Value(4.0)
    maximum(a, b).backward()
    assert (a.grad, b.grad) == (0.0, 1.0)


def test_package_maximum_dispatches_to_values():
    a = Value(5.0)
    out = tl.maximum(a, 2.0)
    assert isinstance(out, Value)
    assert out.data == 5.0


def test_pow_gradient_with_respect_to_the_exponent_at_zero_base_is_zero():
    base, exponent = Value(0.0), Value(2.0)
    (base**exponent).backward()
    assert exponent.grad == 0.0
    assert base.grad == 0.0


def test_value_exponent_receives_a_log_gradient():
    base, exponent = Value(2.0), Value(3.0)
    (base**exponent).backward()
    assert base.grad == pytest.approx(3.0 * 2.0**2)
    assert exponent.grad == pytest.approx(8.0 * math.log(2.0))


# --------------------------------------------------------------------------------------------
# Against micrograd
# --------------------------------------------------------------------------------------------


def test_gradients_agree_with_micrograd_on_a_small_network():
    mg = pytest.importorskip("micrograd.engine")

    def neuron(V, xs, ws, b):
        total = b
        for x, w in zip(xs, ws):
            total = total + x * w
        return total.relu()

    def run(V):
        xs = [V(1.5), V(-2.0), V(0.5)]
        ws = [V(0.3), V(-0.8), V(1.1)]
        b = V(0.25)
        h = neuron(V, xs, ws, b)
        out = (h * h + 2 * h - h / 3) ** 2
        out.backward()
        return out.data, [w.grad for w in ws] + [x.grad for x in xs] + [b.grad]

    ours, theirs = run(Value), run(mg.Value)
    assert ours[0] == pytest.approx(theirs[0], rel=1e-12)
    assert ours[1] == pytest.approx(theirs[1], rel=1e-12)


# --------------------------------------------------------------------------------------------
# Graph structure: ordered parents, ids, op names, labels
# --------------------------------------------------------------------------------------------


def test_parents_are_ordered_operands():
    a, b = Value(1.0), Value(2.0)
    assert (a - b)._parents == (a, b)
    assert (b - a)._parents == (b, a)


def test_a_times_a_has_the_same_parent_twice():
    a = Value(3.0)
    assert (a * a)._parents == (a, a)


def test_a_times_a_gets_the_gradient_from_both_edges():
    a = Value(3.0)
    (a * a).backward()
    assert a.grad == 6.0


def test_a_python_number_becomes_a_constant_parent_that_does_not_require_grad():
    a = Value(3.0)
    left, constant = (a * 2)._parents
    assert left is a
    assert not constant.requires_grad
    assert constant.data == 2.0


def test_reflected_operator_keeps_the_number_on_the_left():
    a = Value(3.0)
    constant, right = (10 - a)._parents
    assert right is a
    assert constant.data == 10.0


def test_ids_increase_with_creation_order():
    a = Value(1.0)
    b = Value(2.0)
    c = a + b
    assert a._id < b._id < c._id


def test_ids_do_not_change_during_backward():
    a = Value(1.0)
    c = a * 2
    before = (a._id, c._id)
    c.backward()
    assert (a._id, c._id) == before


@pytest.mark.parametrize(
    ("op", "name"),
    [
        (lambda a, b: a + b, "+"),
        (lambda a, b: a - b, "-"),
        (lambda a, b: a * b, "*"),
        (lambda a, b: a / b, "/"),
        (lambda a, b: a**b, "**"),
        (lambda a, b: -a, "neg"),
        (lambda a, b: a.exp(), "exp"),
        (lambda a, b: a.log(), "log"),
        (lambda a, b: a.tanh(), "tanh"),
        (lambda a, b: a.sigmoid(), "sigmoid"),
        (lambda a, b: a.relu(), "relu"),
        (lambda a, b: a.sqrt(), "sqrt"),
        (lambda a, b: abs(a), "abs"),
        (lambda a, b: maximum(a, b), "maximum"),
    ],
)
def test_op_names(op, name):
    assert op(Value(2.0), Value(3.0)).op == name


def test_leaf_has_an_empty_op_and_is_a_leaf():
    a = Value(1.0)
    assert a.op == ""
    assert a.is_leaf
    assert not (a + 1).is_leaf


def test_label_appears_in_repr():
    assert repr(Value(2.0, label="w")) == "Value(data=2.0, grad=0.0, label='w')"


def test_item_and_float_give_the_data():
    a = Value(2.5)
    assert a.item() == 2.5
    assert float(a) == 2.5


def test_values_are_hashable_by_identity():
    a, b = Value(1.0), Value(1.0)
    assert len({a, b, a}) == 2


def test_intermediate_values_keep_their_gradient_like_micrograd():
    a = Value(2.0)
    hidden = a * 3
    (hidden * hidden).backward()
    assert hidden.grad == 12.0


def test_zero_grad_resets_to_zero():
    a = Value(2.0)
    (a * a).backward()
    a.zero_grad()
    assert a.grad == 0.0


def test_value_rejects_a_string():
    with pytest.raises(DTypeError, match=r"Value.__init__.*str"):
        Value("3.0")


def test_value_rejects_a_bool():
    with pytest.raises(DTypeError, match="bool"):
        Value(True)


def test_value_operator_rejects_a_string_naming_the_operator():
    with pytest.raises(DTypeError, match=r"Value.__mul__.*str"):
        Value(1.0) * "2"


def test_detach_stops_the_gradient_and_keeps_the_data():
    x = Value(3.0, label="x")
    d = x.detach()
    assert (d.data, d.label, d.requires_grad, d.is_leaf) == (3.0, "x", False, True)
    y = d * x + x * x  # d is a constant: dy/dx = d + 2x = 9, not 2d + 2x = 12
    y.backward()
    assert x.grad == 9.0
    assert d.grad == 0.0
