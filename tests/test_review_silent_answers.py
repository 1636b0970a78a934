"""Regression tests for silent wrong answers found in review, each against PyTorch."""

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor, nn
from tinygrad_lite.nn import functional as F

torch = pytest.importorskip("torch")


def _both(program):
    """Run `program(m)` with torch and with tinygrad_lite; return both results as lists."""
    ours = program(tl)
    theirs = program(torch)
    return ours, theirs


def _grads_after(m, body):
    a = m.tensor([1.0, 2.0], dtype=m.float64, requires_grad=True)
    b = a * 1.0
    out = body(b)
    out.sum().backward()
    return [
        out.detach().numpy().tolist() if hasattr(out, "numpy") else out.tolist(),
        a.grad.numpy().tolist() if hasattr(a.grad, "numpy") else a.grad.tolist(),
    ]


@pytest.mark.parametrize(
    "body",
    [
        lambda b: b.add_(b),
        lambda b: b.reshape(b.shape).add_(b),
        lambda b: b.sub_(b),
        lambda b: b.add_(b.reshape(b.shape)),
    ],
    ids=["add_ self", "reshape add_ self", "sub_ self", "add_ reshaped self"],
)
def test_an_in_place_op_whose_operand_is_the_tensor_itself_gets_the_right_gradient(body):
    ours = _grads_after(tl, body)
    theirs = _grads_after(torch, body)
    np.testing.assert_allclose(ours[0], theirs[0])
    np.testing.assert_allclose(ours[1], theirs[1])


def test_self_multiplication_in_place_gives_the_derivative_of_the_square():
    a = Tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    b = a * 1.0
    b *= b  # torch refuses this (it saved b); ours records the square of the old value
    b.sum().backward()
    assert a.grad.tolist() == [2.0, 4.0]


def test_accumulating_into_a_zero_tensor_then_doubling_it():
    def program(m):
        w = m.tensor([1.0, 2.0], dtype=m.float64, requires_grad=True)
        z = m.zeros(2, dtype=m.float64)
        z += w
        z += z
        z.sum().backward()
        return w.grad.tolist()

    ours, theirs = _both(program)
    assert ours == theirs == [2.0, 2.0]


@pytest.mark.parametrize(
    "name, call",
    [
        ("relu", lambda m, x: m.nn.functional.relu(x, inplace=True)),
        ("leaky_relu", lambda m, x: m.nn.functional.leaky_relu(x, 0.1, inplace=True)),
        ("elu", lambda m, x: m.nn.functional.elu(x, inplace=True)),
        ("silu", lambda m, x: m.nn.functional.silu(x, inplace=True)),
        ("hardtanh", lambda m, x: m.nn.functional.hardtanh(x, inplace=True)),
        ("relu6", lambda m, x: m.nn.functional.relu6(x, inplace=True)),
        ("nn.ReLU", lambda m, x: m.nn.ReLU(inplace=True)(x)),
        ("nn.LeakyReLU", lambda m, x: m.nn.LeakyReLU(0.2, inplace=True)(x)),
    ],
)
def test_inplace_true_writes_the_result_into_the_input(name, call):
    def program(m):
        x = m.tensor([-1.5, 0.5, 7.0], dtype=m.float64)
        out = call(m, x)
        return x.tolist(), out is x

    ours, theirs = _both(program)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    assert ours[1] and theirs[1]


def test_inplace_activation_on_a_result_of_ops_backpropagates_as_torch():
    def program(m):
        w = m.tensor([-1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)
        h = w * 2.0
        m.nn.functional.leaky_relu(h, 0.1, inplace=True)
        (h * h).sum().backward()
        return w.grad.tolist()

    ours, theirs = _both(program)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_inplace_activation_on_a_leaf_that_requires_grad_raises_as_torch():
    x = Tensor([1.0, -1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        F.relu(x, inplace=True)


def test_inplace_dropout_scales_the_input():
    tl.manual_seed(0)
    x = tl.ones(1000, dtype=tl.float64)
    out = F.dropout(x, 0.5, training=True, inplace=True)
    assert out is x
    assert set(np.unique(x.data).tolist()) <= {0.0, 2.0}


def test_masked_fill_keeps_an_integer_tensors_dtype():
    def program(m):
        x = m.tensor([1, 2, 3])
        out = x.masked_fill(x > 1, 0.5)
        return str(out.dtype).replace("torch.", ""), out.tolist()

    ours, theirs = _both(program)
    assert ours == theirs == ("int64", [1, 0, 0])


def test_dropout_module_takes_inplace_and_prints_it_as_torch():
    assert repr(nn.Dropout(0.3)) == repr(torch.nn.Dropout(0.3))
    assert repr(nn.ReLU(inplace=True)) == repr(torch.nn.ReLU(inplace=True))


@pytest.mark.parametrize(
    "call",
    [
        lambda: tl.ones(2, 3) @ tl.ones(2, 3),
        lambda: tl.ones(2, 3, 4).t(),
        lambda: nn.Linear(3, 2)(tl.ones(2, 3, dtype=tl.float64)),
    ],
    ids=["matmul shapes", "t() on 3-D", "Linear dtype"],
)
def test_shape_and_dtype_errors_are_runtime_errors_as_in_torch(call):
    with pytest.raises(RuntimeError):
        call()
