"""Losses: values on hand-worked cases, reductions, PyTorch's mean conventions (weights,
ignore_index, label smoothing), stability for logits of 1e4, input checks, and gradients against
finite differences (float64, hypothesis-drawn inputs)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_lite import DTypeError, ShapeError, Tensor, nn
from tinygrad_lite.gradcheck import gradcheck, gradgradcheck
from tinygrad_lite.nn import functional as F


def _t(a, requires_grad=False):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


# -- values -----------------------------------------------------------------------------------


def test_mse_loss_reductions():
    x, y = _t([1.0, 2.0, 3.0]), _t([1.0, 0.0, 6.0])
    assert F.mse_loss(x, y, reduction="none").tolist() == [0.0, 4.0, 9.0]
    assert F.mse_loss(x, y, reduction="sum").item() == 13.0
    assert F.mse_loss(x, y).item() == pytest.approx(13.0 / 3)


def test_l1_loss_is_mean_absolute_error():
    assert F.l1_loss(_t([1.0, -2.0]), _t([0.0, 2.0])).item() == 2.5


def test_cross_entropy_of_uniform_logits_is_log_of_class_count():
    loss = F.cross_entropy(_t(np.zeros((3, 5))), Tensor(np.array([0, 2, 4])))
    assert loss.item() == pytest.approx(math.log(5))


def test_cross_entropy_mean_with_weight_divides_by_the_target_weights():
    x = _t(np.zeros((2, 2)))
    target = Tensor(np.array([0, 1]))
    weight = _t([1.0, 3.0])
    # each sample loses log 2; weighted sum 4 log 2 over weight sum 4
    assert F.cross_entropy(x, target, weight=weight).item() == pytest.approx(math.log(2))
    expected = 4 * math.log(2)
    assert F.cross_entropy(x, target, weight, reduction="sum").item() == pytest.approx(expected)


def test_cross_entropy_ignore_index_drops_targets_from_sum_and_count():
    x = _t([[0.0, 10.0], [3.0, 0.0]])
    full = F.cross_entropy(x[1:], Tensor(np.array([0])))
    ignored = F.cross_entropy(x, Tensor(np.array([-100, 0])))
    assert ignored.item() == pytest.approx(full.item())


def test_cross_entropy_with_every_target_ignored_is_nan_as_in_pytorch():
    loss = F.cross_entropy(_t(np.zeros((2, 3))), Tensor(np.array([-100, -100])))
    assert math.isnan(loss.item())


def test_cross_entropy_probability_targets_equal_index_targets_for_one_hot():
    rng = np.random.default_rng(0)
    x = _t(rng.standard_normal((4, 3)))
    idx = np.array([0, 2, 1, 1])
    probs = _t(np.eye(3)[idx])
    assert F.cross_entropy(x, probs).item() == pytest.approx(F.cross_entropy(x, Tensor(idx)).item())


def test_label_smoothing_mixes_in_the_uniform_distribution():
    rng = np.random.default_rng(1)
    x = _t(rng.standard_normal((4, 3)))
    idx = np.array([0, 2, 1, 1])
    smoothed = 0.9 * np.eye(3)[idx] + 0.1 / 3
    assert F.cross_entropy(x, Tensor(idx), label_smoothing=0.1).item() == pytest.approx(
        F.cross_entropy(x, _t(smoothed)).item()
    )


def test_nll_loss_picks_the_negated_log_probability_of_the_target():
    logp = _t([[-0.5, -1.0], [-2.0, -0.25]])
    assert F.nll_loss(logp, Tensor(np.array([1, 0])), reduction="none").tolist() == [1.0, 2.0]


def test_binary_cross_entropy_matches_the_formula():
    p, y = 0.8, 0.25
    expected = -(y * math.log(p) + (1 - y) * math.log(1 - p))
    assert F.binary_cross_entropy(_t([p]), _t([y])).item() == pytest.approx(expected)


def test_binary_cross_entropy_of_certain_wrong_prediction_is_floored_at_100():
    assert F.binary_cross_entropy(_t([0.0]), _t([1.0])).item() == 100.0


def test_bce_with_logits_equals_bce_of_sigmoid():
    x, y = _t([-2.0, 0.5, 3.0]), _t([0.0, 1.0, 0.3])
    expected = F.binary_cross_entropy(x.sigmoid(), y).item()
    assert F.binary_cross_entropy_with_logits(x, y).item() == pytest.approx(expected)


def test_bce_with_logits_pos_weight_scales_the_positive_term():
    x, y = _t([0.7]), _t([1.0])
    plain = F.binary_cross_entropy_with_logits(x, y).item()
    assert F.binary_cross_entropy_with_logits(x, y, pos_weight=_t([3.0])).item() == (
        pytest.approx(3 * plain)
    )


# -- stability ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_exact_and_finite_for_logits_of_1e4(dtype):
    x = Tensor(np.array([[1e4, -1e4, 0.0]], dtype), requires_grad=True)
    loss = F.cross_entropy(x, Tensor(np.array([2])))
    loss.backward()
    assert loss.item() == pytest.approx(1e4)
    assert np.allclose(x.grad.data, [[1.0, 0.0, -1.0]])
    assert loss.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_exact_and_finite_for_logits_of_1e4(dtype):
    x = Tensor(np.array([1e4, -1e4, 1e4, -1e4], dtype), requires_grad=True)
    y = Tensor(np.array([1.0, 0.0, 0.0, 1.0], dtype))
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    loss.sum().backward()
    assert loss.tolist() == [0.0, 0.0, 1e4, 1e4]
    assert x.grad.tolist() == [0.0, 0.0, 1.0, -1.0]


def test_log_softmax_layer_is_finite_for_logits_of_1e4():
    out = nn.LogSoftmax(dim=1)(_t([[1e4, 0.0, -1e4]]))
    assert np.all(np.isfinite(out.data)) and out.data[0, 0] == 0.0


# -- input checks --------------------------------------------------------------------------------


def test_mse_loss_refuses_to_broadcast_mismatched_shapes():
    with pytest.raises(ShapeError, match=r"mse_loss.*\(3, 1\).*\(3,\).*reshape"):
        F.mse_loss(_t(np.zeros((3, 1))), _t(np.zeros(3)))


def test_cross_entropy_target_shape_mismatch_names_expected_shape():
    with pytest.raises(ShapeError, match=r"cross_entropy.*target of shape \(4,\)"):
        F.cross_entropy(_t(np.zeros((4, 3))), Tensor(np.array([0, 1])))


def test_cross_entropy_out_of_range_class_is_an_index_error():
    with pytest.raises(IndexError, match=r"\[0, 3\)"):
        F.cross_entropy(_t(np.zeros((2, 3))), Tensor(np.array([0, 3])))


def test_nll_loss_float_targets_are_a_dtype_error():
    with pytest.raises(DTypeError, match="integers"):
        F.nll_loss(_t(np.zeros((2, 3))), _t([0.0, 1.0]))


def test_binary_cross_entropy_rejects_values_outside_0_1_and_suggests_logits():
    with pytest.raises(ValueError, match="with_logits"):
        F.binary_cross_entropy(_t([1.5]), _t([1.0]))


def test_unknown_reduction_is_rejected():
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


def test_loss_modules_register_weight_as_a_buffer_like_pytorch():
    loss = nn.CrossEntropyLoss(weight=_t([1.0, 2.0]))
    assert list(loss.state_dict()) == ["weight"]
    assert loss.num_parameters() == 0


# -- gradients against finite differences -------------------------------------------------------


def _draw(seed, shape, scale=1.0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape) * scale, requires_grad=True)


reductions = st.sampled_from(["mean", "sum", "none"])


@settings(deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 4), reduction=reductions)
def test_regression_loss_gradients_match_finite_differences(seed, n, reduction):
    x, y = _draw(seed, (n, 3)), _draw(seed + 1, (n, 3))
    assert gradcheck(lambda a, b: F.mse_loss(a, b, reduction=reduction), (x, y))
    # keep |x - y| away from the kink of abs
    y_far = Tensor(x.data + np.where(y.data >= 0, 1, -1) * (0.1 + np.abs(y.data)))
    assert gradcheck(lambda a: F.l1_loss(a, y_far, reduction=reduction), x)


@settings(deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(1, 4),
    reduction=reductions,
    use_weight=st.booleans(),
    use_pos_weight=st.booleans(),
)
def test_bce_gradients_match_finite_differences(seed, n, reduction, use_weight, use_pos_weight):
    rng = np.random.default_rng(seed)
    x = _draw(seed, (n, 3), scale=3.0)
    y = Tensor(rng.uniform(0, 1, (n, 3)), requires_grad=True)
    w = Tensor(rng.uniform(0.5, 2, 3)) if use_weight else None
    pw = Tensor(rng.uniform(0.5, 2, 3)) if use_pos_weight else None
    assert gradcheck(
        lambda a, b: F.binary_cross_entropy_with_logits(
            a, b, w, reduction=reduction, pos_weight=pw
        ),
        (x, y),
    )
    p = Tensor(rng.uniform(0.05, 0.95, (n, 3)), requires_grad=True)
    assert gradcheck(lambda a, b: F.binary_cross_entropy(a, b, w, reduction=reduction), (p, y))


@settings(deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(1, 4),
    extra=st.sampled_from([(), (2,)]),
    reduction=reductions,
    smoothing=st.sampled_from([0.0, 0.25]),
    use_weight=st.booleans(),
    ignore=st.booleans(),
)
def test_cross_entropy_index_target_gradients_match_finite_differences(
    seed, n, extra, reduction, smoothing, use_weight, ignore
):
    rng = np.random.default_rng(seed)
    x = _draw(seed, (n, 4) + extra, scale=2.0)
    target = rng.integers(0, 4, (n,) + extra)
    if ignore:
        target.flat[0] = -100
        target.flat[-1] = max(target.flat[-1], 0)  # at least one target kept when n*extra > 1
    if ignore and target.size == 1:
        target.flat[0] = 1
    w = Tensor(rng.uniform(0.5, 2, 4)) if use_weight else None
    assert gradcheck(
        lambda a: F.cross_entropy(
            a, Tensor(target), w, reduction=reduction, label_smoothing=smoothing
        ),
        x,
    )


@settings(deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 4), reduction=reductions)
def test_cross_entropy_probability_target_gradients_match_finite_differences(seed, n, reduction):
    rng = np.random.default_rng(seed)
    x = _draw(seed, (n, 3), scale=2.0)
    probs = Tensor(rng.dirichlet(np.ones(3), n), requires_grad=True)
    assert gradcheck(lambda a, p: F.cross_entropy(a, p, reduction=reduction), (x, probs))


@settings(deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 4), reduction=reductions)
def test_nll_loss_gradients_match_finite_differences(seed, n, reduction):
    rng = np.random.default_rng(seed)
    x = _draw(seed, (n, 3))
    target = Tensor(rng.integers(0, 3, n))
    w = Tensor(rng.uniform(0.5, 2, 3))
    assert gradcheck(lambda a: F.nll_loss(a, target, w, reduction=reduction), x)


def test_cross_entropy_second_derivatives_match_finite_differences():
    x = _draw(0, (3, 4))
    target = Tensor(np.array([0, 3, 1]))
    assert gradgradcheck(lambda a: F.cross_entropy(a, target, label_smoothing=0.1), x)


def test_bce_with_logits_gradient_at_a_zero_logit_is_sigmoid_minus_target():
    x = _t([0.0, 0.0], requires_grad=True)
    F.binary_cross_entropy_with_logits(x, _t([0.0, 1.0]), reduction="sum").backward()
    assert x.grad.tolist() == [0.5, -0.5]


def test_cross_entropy_float_class_indices_are_a_dtype_error_suggesting_int64():
    with pytest.raises(DTypeError, match=r"class indices.*astype\(int64\)"):
        F.cross_entropy(_t(np.zeros((2, 3))), _t([0.0, 1.0]))
