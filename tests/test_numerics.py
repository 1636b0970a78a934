"""Numerical accuracy where logits are far from 0: log_softmax, cross_entropy, logsumexp's
gradient and binary_cross_entropy_with_logits, in float32 and float64, against torch (where
torch is exact) or the exact value (where it is not).

The mistake these pin: computing x - logsumexp(x) subtracts two numbers rounded at the
magnitude of the max, so in float32 two logits of 1e4 gave a cross entropy of 0.693359 (not
log 2 = 0.693147) and at 1e7 a loss of 1.0."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_lite import Tensor, grad
from tinygrad_lite.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = [(np.float32, torch.float32), (np.float64, torch.float64)]
MAGNITUDES = [1e4, 1e7]
ULPS = 4  # agreement with torch, in units in the last place of the dtype


def tolerance(dtype) -> float:
    return ULPS * float(np.finfo(dtype).eps)


def ours(values, dtype) -> Tensor:
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


def theirs(values, dtype):
    return torch.tensor(values, dtype=dtype, requires_grad=True)


@pytest.mark.parametrize("magnitude", MAGNITUDES)
@pytest.mark.parametrize("dtype, torch_dtype", DTYPES)
def test_cross_entropy_of_two_equal_large_logits_is_log_2_with_gradient_a_half(
    dtype, torch_dtype, magnitude
):
    logits = [[magnitude, magnitude]]
    x, tx = ours(logits, dtype), theirs(logits, torch_dtype)
    loss = F.cross_entropy(x, Tensor(np.array([0])))
    tloss = TF.cross_entropy(tx, torch.tensor([0]))
    loss.backward()
    tloss.backward()
    assert loss.item() == pytest.approx(math.log(2), rel=tolerance(dtype))
    assert loss.item() == pytest.approx(tloss.item(), rel=tolerance(dtype))
    np.testing.assert_allclose(x.grad.data, [[-0.5, 0.5]], rtol=tolerance(dtype))
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=tolerance(dtype))


@pytest.mark.parametrize("magnitude", MAGNITUDES)
@pytest.mark.parametrize("dtype, torch_dtype", DTYPES)
def test_log_softmax_of_large_logits_matches_torch_values_and_gradients(
    dtype, torch_dtype, magnitude
):
    logits = [[magnitude, magnitude - 1.0, magnitude - 3.0], [-magnitude, -magnitude, 0.0]]
    upstream = np.array([[1.0, -2.0, 0.5], [0.25, 1.0, -1.0]])
    x, tx = ours(logits, dtype), theirs(logits, torch_dtype)
    y, ty = F.log_softmax(x, dim=1), TF.log_softmax(tx, dim=1)
    (y * Tensor(upstream.astype(dtype))).sum().backward()
    (ty * torch.tensor(upstream, dtype=torch_dtype)).sum().backward()
    atol = tolerance(dtype)  # the values are O(1) (or exactly 0 / -magnitude)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=tolerance(dtype), atol=atol)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=tolerance(dtype), atol=atol)


@pytest.mark.parametrize("magnitude", MAGNITUDES)
@pytest.mark.parametrize("dtype, torch_dtype", DTYPES)
def test_cross_entropy_of_large_batched_logits_matches_torch(dtype, torch_dtype, magnitude):
    rng = np.random.default_rng(0)
    logits = magnitude + rng.standard_normal((4, 5))
    target = np.array([0, 3, 4, 1])
    x, tx = ours(logits, dtype), theirs(logits.astype(dtype), torch_dtype)
    loss = F.cross_entropy(x, Tensor(target), label_smoothing=0.1)
    tloss = TF.cross_entropy(tx, torch.tensor(target), label_smoothing=0.1)
    loss.backward()
    tloss.backward()
    # float32 rounds the logits themselves to ulp(1e7) = 1: compare at the data's precision.
    assert loss.item() == pytest.approx(tloss.item(), rel=50 * tolerance(dtype))
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), atol=50 * tolerance(dtype))


@pytest.mark.parametrize("magnitude", MAGNITUDES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_gradient_of_large_equal_inputs_is_exactly_a_half(dtype, magnitude):
    # The gradient is softmax(x). Formed as exp(x - logsumexp(x)) it inherits the rounding of
    # logsumexp at the max's magnitude: 0.49989 at 1e4 and 0.3679 at 1e7 in float32 (what
    # torch 2.13 returns there, so the reference is the exact value, not torch).
    x = ours([magnitude, magnitude], dtype)
    x.logsumexp(0).backward()
    np.testing.assert_allclose(x.grad.data, [0.5, 0.5], rtol=tolerance(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_second_derivative_stays_exact_at_large_inputs(dtype):
    # d^2/dx0^2 logsumexp = s0 (1 - s0) = 1/4 for two equal inputs.
    x = ours([1e4, 1e4], dtype)
    (g,) = grad(x.logsumexp(0), x, create_graph=True)
    g[0].backward()
    np.testing.assert_allclose(x.grad.data, [0.25, -0.25], rtol=tolerance(dtype))


@pytest.mark.parametrize(
    "logit, target",
    [(40.0, 1.0), (-40.0, 0.0), (30.0, 1.0), (-30.0, 0.0)],
)
def test_bce_with_logits_of_a_confident_right_answer_is_its_tiny_true_loss(logit, target):
    # The loss is log1p(exp(-|x|)) = 4.25e-18 at |x| = 40; (1 - y) x + softplus(-x) rounds it
    # to 0 on one side (x - x) and log(1 + exp(-40)) on the other.
    x = ours([logit], np.float64)
    loss = F.binary_cross_entropy_with_logits(x, Tensor(np.array([target])))
    loss.backward()
    exact = math.log1p(math.exp(-abs(logit)))
    assert loss.item() == pytest.approx(exact, rel=1e-14, abs=0)
    # d/dx = sigmoid(x) - y: -sigmoid(-40) for y = 1, sigmoid(-40) for y = 0.
    expected_grad = math.exp(-abs(logit)) / (1 + math.exp(-abs(logit)))
    expected_grad = -expected_grad if target == 1.0 else expected_grad
    assert x.grad.data[0] == pytest.approx(expected_grad, rel=1e-14, abs=0)


@pytest.mark.parametrize("dtype, torch_dtype", DTYPES)
def test_bce_with_logits_matches_torch_with_soft_targets_and_pos_weight(dtype, torch_dtype):
    logits = [[-1e4, -20.0, -1.5, 0.0], [0.5, 3.0, 25.0, 1e4]]
    targets = [[0.0, 0.3, 1.0, 0.5], [1.0, 0.0, 0.7, 1.0]]
    pos_weight = [2.0, 0.5, 1.0, 3.0]
    x, tx = ours(logits, dtype), theirs(logits, torch_dtype)
    loss = F.binary_cross_entropy_with_logits(
        x, Tensor(np.array(targets, dtype=dtype)), pos_weight=Tensor(np.array(pos_weight))
    )
    tloss = TF.binary_cross_entropy_with_logits(
        tx,
        torch.tensor(targets, dtype=torch_dtype),
        pos_weight=torch.tensor(pos_weight, dtype=torch_dtype),
    )
    loss.backward()
    tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=tolerance(dtype))
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=tolerance(dtype), atol=1e-30)


def test_softmax_of_large_float32_logits_is_exact():
    y = F.softmax(ours([1e7, 1e7], np.float32), dim=0)
    assert y.data.tolist() == [0.5, 0.5]
