"""`Value` follows the recording switches as `Tensor` does (issue 12, item 2): inside
`no_grad()` an op records nothing, and its result is a leaf that does not require grad."""

from __future__ import annotations

import pytest

from tinygrad_lite import Tensor, Value, enable_grad, grad, no_grad, set_grad_enabled
from tinygrad_lite.value import maximum


def test_op_under_no_grad_records_nothing():
    v = Value(3.0)
    with no_grad():
        w = v * v
    assert w.data == 9.0
    assert (w.requires_grad, w.op, w.is_leaf, w._prev) == (False, "", True, set())


def test_value_and_tensor_agree_under_no_grad():
    v, t = Value(3.0), Tensor(3.0, requires_grad=True)
    with no_grad():
        w, u = v * v, t * t
    assert (w.requires_grad, w.is_leaf) == (u.requires_grad, u.is_leaf)


@pytest.mark.parametrize(
    "op",
    [
        lambda v: v + 1,
        lambda v: 2 - v,
        lambda v: v / 2,
        lambda v: v**2,
        lambda v: -v,
        lambda v: v.exp(),
        lambda v: v.log(),
        lambda v: v.tanh(),
        lambda v: v.sigmoid(),
        lambda v: v.relu(),
        lambda v: v.sqrt(),
        lambda v: v.abs(),
        lambda v: v.sign(),
        lambda v: maximum(v, 1.0),
    ],
)
def test_every_op_respects_no_grad(op):
    with no_grad():
        out = op(Value(2.0))
    assert not out.requires_grad and out.is_leaf


def test_no_grad_result_is_a_constant_for_later_backward():
    v = Value(3.0)
    with no_grad():
        c = v * v  # 9, treated as a number from here on
    y = c * v
    y.backward()
    assert v.grad == 9.0  # not 27: no gradient flows through c
    assert c.grad == 0.0  # it does not require grad, so backward leaves it alone


def test_enable_grad_inside_no_grad_records_again():
    v = Value(3.0)
    with no_grad():
        with enable_grad():
            w = v * v
    w.backward()
    assert (w.op, v.grad) == ("*", 6.0)


def test_set_grad_enabled_false_stops_recording():
    v = Value(3.0)
    with set_grad_enabled(False):
        w = v + v
    assert not w.requires_grad


def test_no_grad_as_a_decorator():
    @no_grad()
    def evaluate(v):
        return v.tanh() * 2

    assert not evaluate(Value(0.5)).requires_grad


def test_recording_resumes_after_no_grad():
    v = Value(3.0)
    with no_grad():
        pass
    w = v * v
    assert w.requires_grad and w.op == "*"


def test_create_graph_still_records_the_gradient_graph():
    x = Value(2.0)
    (dx,) = grad(x**3, x, create_graph=True)
    (d2x,) = grad(dx, x)
    assert (dx.data, d2x.data) == (12.0, 12.0)
