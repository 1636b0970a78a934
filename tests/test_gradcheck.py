"""`gradcheck` and `gradgradcheck` as a user feature: they pass on correct functions and, on a
wrong gradient, fail loudly with a message naming the input, the element and both values.

Wrong gradients are made two ways a user could: a hook that scales a gradient, and a custom op
whose vector-Jacobian product is deliberately broken."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_lite import Tensor
from tinygrad_lite import ops as O
from tinygrad_lite.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygrad_lite.tensor import _apply


def leaf(array, requires_grad: bool = True) -> Tensor:
    return Tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def reported_values(message: str) -> tuple[float, float]:
    """The (analytic, numeric) pair a GradcheckError message reports."""
    found = re.search(r"analytic (\S+) vs numeric (\S+)", message)
    assert found, message
    return float(found.group(1)), float(found.group(2))


def matrix() -> Tensor:
    return leaf([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


# A square op whose VJP is wrong at exactly one element, (1, 2), where it is 3x too large.
# Ops built with `Op(...)` directly stay out of the package's op table.
_BAD_INDEX = (1, 2)


def _square_vjp_wrong_at_one_element(xp, g, out, inputs, needs):
    scale = np.ones(np.shape(xp.raw(inputs[0])))
    scale[_BAD_INDEX] = 3.0
    return (g * 2 * inputs[0] * scale,)


BAD_SQUARE = O.Op("bad_square", np.square, _square_vjp_wrong_at_one_element)


def bad_square(x: Tensor) -> Tensor:
    return _apply(BAD_SQUARE, (x,))


# A square op with a correct first derivative whose own derivative is lost: the VJP reads x as
# a raw constant, so under create_graph the gradient does not depend on x (second derivative 0
# instead of 2).
FLAT_SQUARE = O.Op(
    "flat_square", np.square, lambda xp, g, out, inputs, needs: (g * 2 * xp.raw(inputs[0]),)
)


def flat_square(x: Tensor) -> Tensor:
    return _apply(FLAT_SQUARE, (x,))


def doubled_by_a_hook(x: Tensor) -> Tensor:
    """x * x whose gradient a hook doubles on the way back (wrong on purpose)."""
    hidden = x * x
    if hidden.requires_grad:  # the numeric pass runs under no_grad, where hooks cannot attach
        hidden.register_hook(lambda g: g * 2)
    return hidden.sum()


# --------------------------------------------------------------------------------------------
# Correct functions pass
# --------------------------------------------------------------------------------------------


def test_gradcheck_passes_on_an_elementwise_function():
    assert gradcheck(lambda t: (t.tanh() * t.exp()).sum(), matrix())


def test_gradcheck_passes_on_a_non_scalar_output():
    assert gradcheck(lambda t: t.sigmoid() * t, matrix())


def test_gradcheck_passes_with_several_inputs_and_broadcasting():
    a = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    b = leaf([0.5, -0.5, 2.0])
    assert gradcheck(lambda x, y: x * y + y / (x + 10), (a, b))


def test_gradcheck_passes_on_matmul():
    assert gradcheck(lambda a, b: a @ b, (matrix(), leaf(np.arange(6.0).reshape(3, 2))))


def test_gradcheck_passes_on_several_outputs():
    assert gradcheck(lambda t: (t.sum(0), (t * t).mean()), matrix())


def test_gradcheck_skips_inputs_that_do_not_require_grad():
    fixed = leaf([1.0, 2.0, 3.0], requires_grad=False)
    assert gradcheck(lambda t, c: t * c, (matrix(), fixed))


def test_gradcheck_passes_on_a_hook_that_only_observes():
    def observed(x):
        hidden = x * x
        if hidden.requires_grad:
            hidden.register_hook(lambda g: None)
        return hidden

    assert gradcheck(observed, matrix())


@settings(deadline=None, max_examples=25)
@given(
    st.lists(st.floats(-2.0, 2.0, allow_nan=False), min_size=1, max_size=4),
    st.booleans(),
)
def test_gradcheck_passes_on_random_inputs_to_a_smooth_function(values, fast):
    x = leaf(values)
    assert gradcheck(lambda t: (t.tanh() * t + (t * t + 1).log()).sum(), x, fast_mode=fast)


def test_gradcheck_leaves_grad_and_data_of_inputs_untouched():
    x = matrix()
    before = x.data.copy()
    gradcheck(lambda t: (t * t).sum(), x)
    assert x.grad is None
    np.testing.assert_array_equal(x.data, before)


def test_gradcheck_defaults_are_pytorchs():
    defaults = {
        name: p.default
        for name, p in inspect.signature(gradcheck).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    assert (defaults["eps"], defaults["atol"], defaults["rtol"]) == (1e-6, 1e-5, 1e-3)
    assert defaults["raise_exception"] is True


# --------------------------------------------------------------------------------------------
# Wrong gradients fail, naming input, element and values
# --------------------------------------------------------------------------------------------


def test_gradcheck_fails_on_a_broken_vjp_naming_input_element_and_values():
    x = matrix()
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: bad_square(t).sum(), x)
    message = str(info.value)
    value = x.data[_BAD_INDEX]
    assert "input 0" in message
    assert "element index (1, 2)" in message
    assert reported_values(message) == pytest.approx((3 * 2 * value, 2 * value), rel=1e-6)


def test_gradcheck_fails_on_a_gradient_scaling_hook():
    x = matrix()
    with pytest.raises(GradcheckError) as info:
        gradcheck(doubled_by_a_hook, x)
    message = str(info.value)
    assert "element index (0, 0)" in message
    assert reported_values(message) == pytest.approx((2 * 2 * x.data[0, 0], 2 * x.data[0, 0]))


def test_gradcheck_names_the_second_input_when_only_it_is_wrong():
    a, b = leaf([1.0, 2.0]), leaf(np.ones((2, 3)))
    with pytest.raises(GradcheckError, match="input 1 at element index"):
        gradcheck(lambda x, y: x.sum() + bad_square(y).sum(), (a, b))


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(GradcheckError, AssertionError)


def test_gradcheck_without_raise_exception_returns_false():
    assert gradcheck(lambda t: bad_square(t).sum(), matrix(), raise_exception=False) is False


def test_fast_mode_passes_on_a_correct_function():
    assert gradcheck(lambda t: (t.tanh() * t).sum(0), matrix(), fast_mode=True)


def test_fast_mode_fails_and_still_names_the_element():
    with pytest.raises(GradcheckError, match=r"input 0 at element index \(1, 2\)"):
        gradcheck(lambda t: bad_square(t).sum(), matrix(), fast_mode=True)


def test_fast_mode_without_raise_exception_returns_false():
    result = gradcheck(doubled_by_a_hook, matrix(), fast_mode=True, raise_exception=False)
    assert result is False


def test_float32_inputs_warn_that_float64_is_needed():
    x = Tensor([0.5, 1.0], requires_grad=True)  # float32
    with pytest.warns(UserWarning, match=r"input 0 is float32.*float64"):
        gradcheck(lambda t: t * 2, x, atol=1e-2, rtol=1e-2, eps=1e-3)


def test_gradcheck_without_differentiable_inputs_raises():
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda t: t * 2, leaf([1.0], requires_grad=False))


def test_gradcheck_of_a_function_returning_a_number_raises():
    with pytest.raises(TypeError, match="must return a Tensor"):
        gradcheck(lambda t: 3.0, leaf([1.0]))


# --------------------------------------------------------------------------------------------
# gradgradcheck
# --------------------------------------------------------------------------------------------


def test_gradgradcheck_passes_on_a_smooth_function():
    assert gradgradcheck(lambda t: (t.tanh() * t.exp()).sum(), matrix())


def test_gradgradcheck_passes_on_a_function_of_two_inputs():
    assert gradgradcheck(lambda a, b: (a * b).sigmoid(), (leaf([0.3, -0.2]), leaf([1.5, 0.7])))


def test_gradgradcheck_passes_with_given_grad_outputs():
    assert gradgradcheck(lambda t: t**3, leaf([0.5, 2.0]), grad_outputs=np.array([1.0, -2.0]))


def test_gradgradcheck_passes_on_a_linear_function_whose_second_derivative_is_zero():
    assert gradgradcheck(lambda t: t * 3 + 1, leaf([0.5, 2.0]))


def test_first_derivative_of_flat_square_is_right():
    assert gradcheck(lambda t: flat_square(t).sum(), leaf([0.5, 2.0]))


def test_gradgradcheck_fails_when_the_gradient_is_not_differentiated():
    with pytest.raises(GradcheckError, match="input 0 at element index"):
        gradgradcheck(lambda t: flat_square(t).sum(), leaf([0.5, 2.0]))


def test_gradgradcheck_without_raise_exception_returns_false():
    assert not gradgradcheck(
        lambda t: flat_square(t).sum(), leaf([0.5, 2.0]), raise_exception=False
    )


def test_gradgradcheck_fast_mode_fails_the_same_way():
    with pytest.raises(GradcheckError, match="element index"):
        gradgradcheck(lambda t: flat_square(t).sum(), leaf([0.5, 2.0]), fast_mode=True)


def test_gradgradcheck_catches_a_vjp_that_is_wrong_only_under_create_graph(monkeypatch):
    # Self-consistent but wrong: on the Tensor backend this tanh VJP is twice the truth, so
    # the recorded first derivative and its own second derivative agree with each other.
    right = O.TANH.vjp

    def wrong_when_recorded(xp, g, out, inputs, needs):
        if xp is O.NumpyBackend:
            return right(xp, g, out, inputs, needs)
        return (2 * right(xp, g, out, inputs, needs)[0],)

    monkeypatch.setattr(O.TANH, "vjp", wrong_when_recorded)
    x = Tensor(np.array([0.3, -0.7]), requires_grad=True)
    with pytest.raises(GradcheckError, match="create_graph=True differs from the plain"):
        gradgradcheck(lambda t: t.tanh(), x)
    assert gradgradcheck(lambda t: t.tanh(), x, raise_exception=False) is False
