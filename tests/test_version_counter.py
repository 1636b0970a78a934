"""The version counter: backward refuses a value that was changed in place after an op saved it
(an optimizer step, `.data -= t`, `x.add_()`), as PyTorch's "modified by an inplace operation",
instead of silently differentiating the new values. Values an op did not save may change, as in
PyTorch; optimizer steps between iterations keep working."""

import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn as nn
from tinygrad_lite import Tensor, no_grad, optim
from tinygrad_lite.versioning import VersionError, version_of

try:
    import torch
except ImportError:  # pragma: no cover - torch is in the test extra
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

MODIFIED = (
    "one of the variables needed for gradient computation has been modified by an inplace operation"
)

OPTIMIZERS = [
    lambda ps: optim.SGD(ps, lr=0.1),
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: optim.Adam(ps, lr=0.01),
    lambda ps: optim.AdamW(ps, lr=0.01),
    lambda ps: optim.Adagrad(ps, lr=0.1),
    lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5),
    lambda ps: optim.Adadelta(ps),
]
OPTIMIZER_IDS = ["SGD", "SGD-nesterov", "Adam", "AdamW", "Adagrad", "RMSprop", "Adadelta"]


def param(values, name=None):
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True, name=name)


def test_the_error_is_a_runtime_error():
    assert issubclass(VersionError, RuntimeError)


@pytest.mark.parametrize("make", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_optimizer_step_between_forward_and_backward_is_caught(make):
    w = param([1.0, 2.0], name="w")
    loss = (w**2).sum()
    loss.backward(retain_graph=True)
    make([w]).step()
    with pytest.raises(VersionError, match=MODIFIED):
        loss.backward()


@needs_torch
def test_torch_also_refuses_a_saved_parameter_changed_by_a_step():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = (w**2).sum()
    loss.backward(retain_graph=True)
    torch.optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


@pytest.mark.parametrize("make", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_optimizer_steps_between_iterations_keep_working(make):
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    opt = make(list(model.parameters()))
    x = tl.randn(8, 2)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses))


def test_step_does_not_matter_where_the_parameter_was_not_saved():
    """x @ W with x a constant saves only x (W's value is not needed for W's gradient), so
    PyTorch lets W change before backward, and so do we."""
    x = Tensor(np.ones((2, 3)))
    w = param(np.ones((3, 1)))
    loss = (x @ w).sum()
    with no_grad():
        w -= 1.0
    loss.backward()
    assert w.grad.tolist() == [[2.0], [2.0], [2.0]]


@needs_torch
def test_torch_lets_an_unsaved_operand_change_before_backward():
    x = torch.ones(2, 3)
    w = torch.ones(3, 1, requires_grad=True)
    loss = (x @ w).sum()
    with torch.no_grad():
        w -= 1.0
    loss.backward()
    assert w.grad.tolist() == [[2.0], [2.0], [2.0]]


def test_add_in_place_on_a_saved_input_names_the_op_and_the_tensor():
    w = param([1.0, 2.0], name="w")
    x = param([3.0, 4.0], name="x")
    y = (w * x).sum()
    with no_grad():
        x.add_(1)
    with pytest.raises(VersionError) as info:
        y.backward()
    message = str(info.value)
    assert MODIFIED in message
    assert "op '*'" in message and "MulBackward0" in message
    assert "'x'" in message and "add_" in message and "version 1" in message


def test_data_minus_equals_on_a_saved_parameter_is_caught():
    w = param([1.0, 2.0], name="w")
    y = (w**2).sum()
    w.data -= 0.1 * Tensor(np.ones(2))
    with pytest.raises(VersionError, match="x.data -="):
        y.backward()


def test_changing_the_saved_output_of_exp_is_caught_as_output_0():
    x = param([1.0, 2.0])
    y = x.exp()
    with no_grad():
        y.mul_(2)
    with pytest.raises(VersionError, match="output 0 of op 'exp'"):
        y.sum().backward()


@needs_torch
def test_torch_refuses_the_changed_output_of_exp_too():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    with torch.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()


def test_a_change_through_a_view_or_a_detached_alias_is_caught():
    w = param([1.0, 2.0, 3.0])
    y = (w**2).sum()
    w.detach()[1:].zero_()
    with pytest.raises(VersionError, match=MODIFIED):
        y.backward()


def test_changing_a_value_no_op_saved_is_allowed():
    x = param([1.0, 2.0])
    h = x + 1  # add saves nothing
    y = (h * 3).sum()  # mul by a constant saves the constant, not h
    with no_grad():
        x.mul_(10)
    y.backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_in_place_under_no_grad_on_a_result_keeps_its_history():
    x = param([1.0, 2.0])
    y = x * 2  # mul saves x and the constant, not y
    with no_grad():
        y.add_(100)
    assert y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_an_op_that_used_a_tensor_before_it_was_changed_with_grad_on_is_refused():
    """Our graph is made of tensors: an op recorded before `h.mul_()` points at h, which now
    holds the new value. Rather than send it a wrong gradient, backward refuses and says why."""
    x = param([1.0, 2.0])
    h = x * 2
    z = h.exp()
    h.mul_(3)
    with pytest.raises(VersionError, match="out-of-place"):
        (z.sum() + h.sum()).backward()


def test_backward_after_the_in_place_op_was_recorded_works():
    x = param([1.0, 2.0])
    h = x.exp()
    h.mul_(3)  # recorded: exp's saved output is kept in the hidden old node
    h.sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 * np.exp([1.0, 2.0]))


def test_version_counts_writes_and_is_shared_by_views_and_detach():
    x = Tensor(np.zeros(3))
    with no_grad():
        x.add_(1)
        x.mul_(2)
    assert x._version == 2
    assert x.detach()._version == 2
    assert x[0:2]._version == 2


@needs_torch
def test_torch_counts_versions_the_same_way():
    x = torch.zeros(3, requires_grad=True)
    with torch.no_grad():
        x.add_(1)
        x.mul_(2)
    assert (x._version, x.detach()._version, x[0:2]._version) == (2, 2, 2)


def test_optimizer_step_bumps_every_parameter_version():
    w = param([1.0])
    (w * w).sum().backward()
    before = version_of(w)
    optim.Adam([w], lr=0.1).step()
    assert version_of(w) == before + 1


def test_clip_grad_value_changes_the_gradient_in_place_and_bumps_its_version():
    w = param([0.0, 0.0])
    w.grad = Tensor(np.array([3.0, -0.5]))
    memory = w.grad.data
    optim.clip_grad_value_([w], 1.0)
    assert w.grad.data is memory and w.grad._version == 1


def test_clip_grad_norm_scales_the_gradient_in_place_and_bumps_its_version():
    w = param([0.0, 0.0])
    w.grad = Tensor(np.array([3.0, 4.0]))
    memory = w.grad.data
    optim.clip_grad_norm_([w], 1.0)
    assert w.grad.data is memory and w.grad._version == 1
    np.testing.assert_allclose(w.grad.data, [0.6, 0.8], rtol=1e-5)


def test_re_initialising_a_saved_weight_is_caught():
    w = param(np.ones((2, 2)))
    y = (w**2).sum()
    nn.init.zeros_(w)
    with pytest.raises(VersionError, match="nn.init"):
        y.backward()
