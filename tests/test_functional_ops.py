"""The activations and losses of `nn.functional`'s second batch, checked like every op of the
table: gradients and second derivatives against central finite differences in float64 (drawn
by hypothesis, broadcasting where the function broadcasts, away from kinks), the gradient
conventions at kinks pinned exactly, the tails exact, and PyTorch's argument checks.
Values and gradients against torch itself are in test_functional_torch_oracle.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_lite import DTypeError, ShapeError, Tensor, nn
from tinygrad_lite.gradcheck import gradcheck, gradgradcheck
from tinygrad_lite.nn import functional as F
from tinygrad_lite.testing import arrays, broadcastable_shapes


def leaves(*arrays_):
    return tuple(Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays_)


def vec(*values, dtype=np.float64, requires_grad=True) -> Tensor:
    return Tensor(np.array(values, dtype=dtype), requires_grad=requires_grad)


def grad_of(fn, x: Tensor) -> list:
    fn(x).sum().backward()
    return x.grad.data.tolist()


@st.composite
def one_array(draw, **kwargs):
    return {}, (draw(arrays(draw(st.sampled_from([(), (3,), (2, 3)])), **kwargs)),)


@st.composite
def with_param(draw, name, values, avoid_of=None):
    """({name: value}, (x,)), x kept `margin` away from the kinks `avoid_of(value)`."""
    value = draw(st.sampled_from(values))
    avoid = avoid_of(value) if avoid_of else None
    shape = draw(st.sampled_from([(), (3,), (2, 3)]))
    return {name: value}, (draw(arrays(shape, avoid=avoid, margin=0.05)),)


@st.composite
def softplus_case(draw):
    beta, threshold = draw(st.sampled_from([(1.0, 20.0), (2.0, 1.0), (0.5, 1.0), (1.0, 0.0)]))
    shape = draw(st.sampled_from([(), (3,), (2, 3)]))
    x = draw(arrays(shape, avoid=[threshold / beta], margin=0.05))
    return {"beta": beta, "threshold": threshold}, (x,)


@st.composite
def regression_pair(draw, kink=None):
    """(input, target) of one shape, their difference kept away from +-kink."""
    shape = draw(st.sampled_from([(3,), (2, 3)]))
    x = draw(arrays(shape))
    d = draw(arrays(shape, avoid=None if kink is None else [-kink, 0.0, kink], margin=0.05))
    return {}, (x, x - d)


@st.composite
def cosine_pair(draw):
    a_shape, b_shape = draw(broadcastable_shapes(2, min_dims=1, max_side=3))
    a = draw(arrays(a_shape, min_magnitude=0.3))
    b = draw(arrays(b_shape, min_magnitude=0.3))
    ndim = max(len(a_shape), len(b_shape))
    return {"dim": draw(st.integers(-ndim, ndim - 1))}, (a, b)


CASES = {
    "gelu": (lambda p, x: F.gelu(x), one_array()),
    "gelu tanh": (lambda p, x: F.gelu(x, approximate="tanh"), one_array()),
    "leaky_relu": (
        lambda p, x: F.leaky_relu(x, p["slope"]),
        with_param("slope", [0.01, 0.2, -0.5, 2.0], lambda s: [0.0]),
    ),
    "elu": (
        lambda p, x: F.elu(x, p["alpha"]),
        with_param("alpha", [1.0, 0.5, 2.0], lambda a: [0.0]),
    ),
    "silu": (lambda p, x: F.silu(x), one_array()),
    "softplus": (lambda p, x: F.softplus(x, p["beta"], p["threshold"]), softplus_case()),
    "logsigmoid": (lambda p, x: F.logsigmoid(x), one_array()),
    "hardtanh": (
        lambda p, x: F.hardtanh(x, -p["bound"], p["bound"]),
        with_param("bound", [0.5, 1.0, 2.0], lambda b: [-b, b]),
    ),
    "relu6": (lambda p, x: F.relu6(x * 3), with_param("c", [0], lambda c: [0.0, 2.0])),
    "smooth_l1_loss": (lambda p, x, y: F.smooth_l1_loss(x, y, beta=0.5), regression_pair(0.5)),
    "huber_loss": (lambda p, x, y: F.huber_loss(x, y, delta=0.5), regression_pair(0.5)),
    "mse_loss weighted": (
        lambda p, x, y: F.mse_loss(
            x, y, weight=Tensor(np.linspace(0.5, 2.0, x.data.size).reshape(x.shape))
        ),
        regression_pair(),
    ),
    "cosine_similarity": (lambda p, a, b: F.cosine_similarity(a, b, p["dim"]), cosine_pair()),
}


@pytest.mark.parametrize("name", CASES)
@settings(deadline=None, max_examples=40)
@given(data=st.data())
def test_gradient_matches_finite_differences(name, data):
    fn, case = CASES[name]
    params, arrays_ = data.draw(case)
    assert gradcheck(lambda *xs: fn(params, *xs), leaves(*arrays_))


@pytest.mark.parametrize("name", CASES)
@settings(deadline=None, max_examples=25)
@given(data=st.data())
def test_second_derivative_matches_finite_differences(name, data):
    fn, case = CASES[name]
    params, arrays_ = data.draw(case)
    assert gradgradcheck(lambda *xs: fn(params, *xs), leaves(*arrays_))


# -- gradients at the kinks: PyTorch's conventions --------------------------------------------


def test_leaky_relu_gradient_at_zero_is_the_negative_slope():
    assert grad_of(lambda x: F.leaky_relu(x, 0.25), vec(0.0, -1.0, 1.0)) == [0.25, 0.25, 1.0]


def test_elu_gradient_at_zero_is_alpha():
    assert grad_of(lambda x: F.elu(x, 2.0), vec(0.0, 1.0)) == [2.0, 1.0]


def test_hardtanh_blocks_the_gradient_at_its_bounds():
    assert grad_of(lambda x: F.hardtanh(x), vec(-1.0, 1.0, 0.5, 3.0)) == [0.0, 0.0, 1.0, 0.0]


def test_softplus_is_x_itself_past_the_threshold_with_gradient_one():
    x = vec(30.0, 10.0)
    y = F.softplus(x, beta=1.0, threshold=20.0)
    y.sum().backward()
    assert y.data[0] == 30.0
    assert x.grad.data[0] == 1.0 and x.grad.data[1] == pytest.approx(1 / (1 + math.exp(-10)))


def test_smooth_l1_loss_with_beta_zero_is_the_l1_loss():
    x, y = vec(1.0, -2.0), vec(0.0, 2.0, requires_grad=False)
    assert F.smooth_l1_loss(x, y, beta=0.0).item() == F.l1_loss(x, y).item() == 2.5


# -- the tails are exact ---------------------------------------------------------------------


def test_gelu_left_tail_keeps_its_digits():
    # x Phi(x) at -10 is -7.6e-23: computed as 0.5 x (1 + erf(x / sqrt 2)) it is 0.
    exact = -10 * 0.5 * math.erfc(10 / math.sqrt(2))
    assert F.gelu(vec(-10.0)).data[0] == pytest.approx(exact, rel=1e-12, abs=0)


def test_softplus_left_tail_is_exp_x_not_zero():
    assert F.softplus(vec(-40.0)).data[0] == pytest.approx(math.exp(-40), rel=1e-14, abs=0)


def test_logsigmoid_of_large_negative_logits_is_the_logit():
    x = vec(-800.0, 800.0)
    y = F.logsigmoid(x)
    y.sum().backward()
    assert y.data.tolist() == [-800.0, 0.0]
    assert x.grad.data.tolist() == [1.0, 0.0]


def test_silu_and_gelu_do_not_overflow_at_large_magnitude():
    x = vec(-1e4, 1e4)
    for fn in (F.silu, F.gelu, lambda t: F.gelu(t, approximate="tanh"), F.elu, F.softplus):
        x.grad = None
        y = fn(x)
        y.sum().backward()
        assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad.data))


def test_activations_keep_float32():
    x = vec(-1.0, 0.5, dtype=np.float32)
    for fn in (F.gelu, F.silu, F.elu, F.softplus, F.leaky_relu, F.hardtanh, F.logsigmoid):
        x.grad = None
        y = fn(x)
        y.sum().backward()
        assert y.dtype == np.float32 and x.grad.dtype == np.float32, fn.__name__


# -- errors as PyTorch's ---------------------------------------------------------------------


def test_gelu_rejects_an_unknown_approximation_with_a_runtime_error():
    with pytest.raises(RuntimeError, match="approximate must be 'none' or 'tanh'"):
        F.gelu(vec(1.0), approximate="erf")


def test_hardtanh_rejects_min_above_max():
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(vec(1.0), 2.0, 1.0)


def test_smooth_l1_loss_rejects_a_negative_beta_with_a_runtime_error():
    with pytest.raises(RuntimeError, match="beta must be >= 0"):
        F.smooth_l1_loss(vec(1.0), vec(1.0), beta=-1.0)


def test_huber_loss_rejects_a_non_positive_delta_with_a_runtime_error():
    with pytest.raises(RuntimeError, match="delta must be positive"):
        F.huber_loss(vec(1.0), vec(1.0), delta=0.0)


def test_activations_reject_integer_inputs_naming_the_fix():
    with pytest.raises(DTypeError, match=r"gelu: expected a floating point input.*\.float\(\)"):
        F.gelu(Tensor(np.array([1, 2])))


def test_cosine_similarity_rejects_shapes_that_do_not_broadcast():
    with pytest.raises(ShapeError, match=r"\(3, 4\) and \(2, 4\) do not broadcast"):
        F.cosine_similarity(Tensor(np.ones((3, 4))), Tensor(np.ones((2, 4))))


def test_a_reduction_name_in_size_averages_place_is_a_type_error_naming_the_fix():
    # PyTorch's third positional argument is size_average: mse_loss(x, y, "sum") would
    # silently mean reduction="mean" there.
    with pytest.raises(TypeError, match="pass reduction= .*by keyword"):
        F.mse_loss(vec(1.0), vec(2.0), "sum")


def test_size_average_false_means_sum_with_pytorchs_warning():
    with pytest.warns(UserWarning, match="reduction='sum'"):
        loss = F.mse_loss(vec(1.0, 2.0), vec(0.0, 0.0), size_average=False)
    assert loss.item() == 5.0


def test_embedding_max_norm_rescales_the_used_rows_in_place():
    weight = Tensor(np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]]), requires_grad=True)
    out = F.embedding(Tensor(np.array([0, 1])), weight, max_norm=1.0)
    np.testing.assert_allclose(np.linalg.norm(weight.data, axis=1), [1.0, 0.5, 10.0], rtol=1e-6)
    np.testing.assert_allclose(out.data, weight.data[:2])


# -- module forms ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module, text",
    [
        (nn.GELU(), "GELU(approximate='none')"),
        (nn.LeakyReLU(0.2, inplace=True), "LeakyReLU(negative_slope=0.2, inplace=True)"),
        (nn.ELU(), "ELU(alpha=1.0)"),
        (nn.SiLU(), "SiLU()"),
        (nn.Softplus(), "Softplus(beta=1.0, threshold=20.0)"),
        (nn.Hardtanh(), "Hardtanh(min_val=-1.0, max_val=1.0)"),
        (nn.ReLU6(), "ReLU6()"),
        (nn.LogSigmoid(), "LogSigmoid()"),
    ],
)
def test_module_forms_print_as_pytorchs(module, text):
    assert repr(module) == text


def test_module_forms_compute_their_functions():
    x = vec(-1.5, 0.3, 2.0)
    pairs = [
        (nn.GELU("tanh"), F.gelu(x, approximate="tanh")),
        (nn.LeakyReLU(0.3), F.leaky_relu(x, 0.3)),
        (nn.ELU(0.7), F.elu(x, 0.7)),
        (nn.SiLU(), F.silu(x)),
        (nn.Softplus(2.0, 1.0), F.softplus(x, 2.0, 1.0)),
        (nn.Hardtanh(-1.0, 0.5), F.hardtanh(x, -1.0, 0.5)),
        (nn.ReLU6(), F.relu6(x)),
        (nn.LogSigmoid(), F.logsigmoid(x)),
    ]
    for module, expected in pairs:
        assert module(x).data.tolist() == expected.data.tolist(), repr(module)
    assert nn.CosineSimilarity(dim=0)(x, x).item() == pytest.approx(1.0)
    assert nn.SmoothL1Loss(beta=0.5)(x, x * 0).item() == F.smooth_l1_loss(x, x * 0, beta=0.5).item()
    assert nn.HuberLoss(delta=0.5)(x, x * 0).item() == F.huber_loss(x, x * 0, delta=0.5).item()
