"""In-place ops follow PyTorch's rules: under no_grad they change values and keep leaves leaves;
on a leaf that requires grad (recording on) they raise torch's error; on a result of ops they are
recorded, so the result stays differentiable; `+= -= *= /=` work in place; `p.data -= t` works.

Each rule is checked against torch where torch has it (skipped without torch)."""

import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn as nn
from tinygrad_lite import Tensor, no_grad
from tinygrad_lite.gradcheck import gradcheck
from tinygrad_lite.versioning import InplaceError

try:
    import torch
except ImportError:  # pragma: no cover - torch is in the test extra
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def t64(values, requires_grad=False):
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# -- values, in place -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda x: x.add_(2.0), [3.0, 0.0, 5.0]),
        (lambda x: x.add_(t64([1.0, 1.0, 1.0]), alpha=3), [4.0, 1.0, 6.0]),
        (lambda x: x.sub_(1.0), [0.0, -3.0, 2.0]),
        (lambda x: x.sub_(t64([1.0, 1.0, 1.0]), alpha=2), [-1.0, -4.0, 1.0]),
        (lambda x: x.mul_(t64([2.0, 3.0, 4.0])), [2.0, -6.0, 12.0]),
        (lambda x: x.div_(2.0), [0.5, -1.0, 1.5]),
        (lambda x: x.zero_(), [0.0, 0.0, 0.0]),
        (lambda x: x.fill_(7.0), [7.0, 7.0, 7.0]),
        (lambda x: x.fill_(t64(5.0)), [5.0, 5.0, 5.0]),
        (lambda x: x.copy_(t64([9.0, 8.0, 7.0])), [9.0, 8.0, 7.0]),
        (lambda x: x.copy_(t64([4.0])), [4.0, 4.0, 4.0]),
        (lambda x: x.clamp_(min=0.0), [1.0, 0.0, 3.0]),
        (lambda x: x.clamp_(-1.0, 2.0), [1.0, -1.0, 2.0]),
    ],
)
def test_in_place_op_changes_the_tensors_own_memory_and_returns_it(call, expected):
    x = t64([1.0, -2.0, 3.0])
    memory = x.data
    out = call(x)
    assert out is x
    assert x.data is memory
    assert x.tolist() == expected


@pytest.mark.parametrize(
    ("stmt", "expected"),
    [
        ("x += 1", [2.0, 3.0]),
        ("x -= 1", [0.0, 1.0]),
        ("x *= 3", [3.0, 6.0]),
        ("x /= 2", [0.5, 1.0]),
    ],
)
def test_augmented_assignment_keeps_the_same_tensor_object(stmt, expected):
    x = t64([1.0, 2.0])
    alias = x
    namespace = {"x": x}
    exec(stmt, namespace)  # noqa: S102 - a fixed statement from this test, no user input
    assert namespace["x"] is alias
    assert alias.tolist() == expected


def test_in_place_op_is_seen_through_an_alias():
    x = t64([1.0, 2.0])
    y = x
    y += 10
    assert x.tolist() == [11.0, 12.0]


def test_uniform_fills_in_place_within_bounds_and_follows_manual_seed():
    a = tl.zeros(1000, dtype=np.float64)
    tl.manual_seed(3)
    assert a.uniform_(-0.5, 0.5) is a
    first = a.tolist()
    assert -0.5 <= min(first) and max(first) < 0.5
    tl.manual_seed(3)
    assert tl.zeros(1000, dtype=np.float64).uniform_(-0.5, 0.5).tolist() == first


def test_normal_fills_in_place_with_the_asked_mean_and_std():
    tl.manual_seed(0)
    a = tl.zeros(20000, dtype=np.float64).normal_(mean=3.0, std=0.5)
    assert abs(float(a.data.mean()) - 3.0) < 0.02
    assert abs(float(a.data.std()) - 0.5) < 0.02


def test_uniform_accepts_torchs_from_and_to_keywords():
    a = tl.zeros(100, dtype=np.float64).uniform_(**{"from": 2.0, "to": 3.0})
    assert 2.0 <= a.data.min() and a.data.max() < 3.0


def test_float32_tensor_stays_float32_when_a_float64_tensor_is_added_in_place():
    x = tl.zeros(3)
    x.add_(t64([1.0, 2.0, 3.0]))
    assert x.dtype == np.float32
    assert x.tolist() == [1.0, 2.0, 3.0]


# -- errors PyTorch raises (RuntimeError subclasses) -------------------------------------------


def test_integer_tensor_refuses_a_float_result_in_place():
    x = Tensor(np.zeros(3, dtype=np.int64))
    with pytest.raises(
        RuntimeError, match="result type Float can't be cast to the desired output type Long"
    ):
        x.add_(1.5)


def test_in_place_op_cannot_change_the_shape():
    x = tl.zeros(3)
    with pytest.raises(
        RuntimeError, match=r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"
    ):
        x.add_(tl.ones(2, 3))


@pytest.mark.parametrize("requires_grad", [False, True])
def test_operand_that_does_not_broadcast_is_a_runtime_error(requires_grad):
    x = t64([1.0, 2.0], requires_grad=requires_grad) * 1
    with pytest.raises(RuntimeError, match="do not broadcast"):
        x.add_(tl.ones(3))


def test_changing_a_view_of_a_result_in_place_while_recording_is_refused():
    """PyTorch rewrites the base's history; ours cannot, and the base would silently keep the
    gradient of its old values (x.grad would be [2, 2] instead of [6, 2])."""
    x = t64([1.0, 2.0], requires_grad=True)
    h = x * 2
    with pytest.raises(RuntimeError, match="view"):
        h[0:1].mul_(3)


def test_changing_a_view_under_no_grad_changes_the_base():
    x = t64([1.0, 2.0], requires_grad=True)
    h = x * 2
    with no_grad():
        h[0:1].mul_(3)
    assert h.tolist() == [6.0, 4.0]


def test_in_place_op_on_an_expanded_tensor_says_to_clone():
    x = tl.zeros(3).expand(2, 3)
    with pytest.raises(RuntimeError, match="clone"):
        x.add_(1)


def test_copy_from_a_source_that_does_not_broadcast_is_refused():
    with pytest.raises(RuntimeError, match="does not broadcast"):
        tl.zeros(3).copy_(tl.ones(2))


@needs_torch
def test_errors_are_runtime_errors_as_in_torch():
    with pytest.raises(RuntimeError):
        torch.zeros(3, dtype=torch.long).add_(1.5)
    with pytest.raises(InplaceError):
        Tensor(np.zeros(3, dtype=np.int64)).add_(1.5)
    assert issubclass(InplaceError, RuntimeError)


# -- the rules on leaves --------------------------------------------------------------------


LEAF_MESSAGE = "a leaf Variable that requires grad is being used in an in-place operation"


@pytest.mark.parametrize(
    "call",
    [
        lambda w: w.add_(1),
        lambda w: w.sub_(1),
        lambda w: w.mul_(2),
        lambda w: w.div_(2),
        lambda w: w.zero_(),
        lambda w: w.fill_(1),
        lambda w: w.copy_(tl.ones(2)),
        lambda w: w.clamp_(0, 1),
        lambda w: w.uniform_(),
        lambda w: w.normal_(),
        lambda w: w.__iadd__(1),
        lambda w: w.__isub__(1),
        lambda w: w.__imul__(2),
        lambda w: w.__itruediv__(2),
    ],
)
def test_leaf_that_requires_grad_refuses_in_place_ops_with_grad_on(call):
    w = tl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=LEAF_MESSAGE):
        call(w)
    assert w.tolist() == [1.0, 1.0]  # unchanged


@needs_torch
def test_torch_refuses_the_same_leaf_in_place_op_with_the_same_words():
    with pytest.raises(RuntimeError, match=LEAF_MESSAGE):
        torch.ones(2, requires_grad=True).add_(1)


def test_parameter_update_under_no_grad_changes_values_and_stays_a_leaf():
    w = nn.Parameter(np.array([1.0, 2.0]))
    same = w
    with no_grad():
        w -= 0.5
        w.mul_(2)
    assert w is same
    assert w.tolist() == [1.0, 3.0]
    assert w.is_leaf and w.requires_grad and w.grad_fn is None


def test_manual_sgd_loop_under_no_grad_trains():
    """The loop from the issue: `-=` used to rebind p to a new tensor, so the model never
    changed and the loss stayed the same forever."""
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    params = list(model.parameters())
    x = tl.randn(32, 3)
    y = (x.sum(1, keepdims=True) * 0.5).tanh()
    losses = []
    for _ in range(30):
        loss = ((model(x) - y) ** 2).mean()
        losses.append(loss.item())
        for p in params:
            p.grad = None
        loss.backward()
        with no_grad():
            for p in model.parameters():
                p -= 0.2 * p.grad
    assert losses[-1] < 0.5 * losses[0]
    assert all(p is q for p, q in zip(params, model.parameters()))
    assert all(p.is_leaf for p in params)


def test_data_minus_equals_a_tensor_updates_the_parameter_in_place():
    """`p.data -= lr * p.grad` raised TypeError: numpy refused a Tensor on the right."""
    w = nn.Parameter(np.array([1.0, 2.0]))
    memory = w.data
    (w * w).sum().backward()
    w.data -= 0.25 * w.grad
    assert w.data is memory
    assert w.tolist() == [0.5, 1.0]


def test_array_times_tensor_still_gives_a_tensor():
    out = np.array([1.0, 2.0]) * t64([3.0, 4.0], requires_grad=True)
    assert isinstance(out, Tensor) and out.requires_grad
    assert out.tolist() == [3.0, 8.0]


def test_array_compared_with_a_tensor_gives_a_boolean_tensor():
    out = np.array([1.0, 5.0]) < t64([3.0, 4.0])
    assert isinstance(out, Tensor)
    assert out.tolist() == [True, False]


def test_other_numpy_functions_on_a_tensor_are_still_refused():
    with pytest.raises(TypeError):
        np.exp(t64([1.0]))


def test_leaf_that_does_not_require_grad_is_changed_in_place_with_grad_on():
    x = t64([1.0, 2.0])
    x.mul_(3)
    assert x.tolist() == [3.0, 6.0] and x.is_leaf and x.grad_fn is None


# -- recorded in-place ops on results of ops ----------------------------------------------------


def test_in_place_add_on_a_result_is_recorded_and_stays_differentiable():
    x = t64([1.0, 2.0], requires_grad=True)
    h = x * 3
    h += 1
    assert h.grad_fn.name() == "AddBackward0"
    assert h.grad_fn.next_functions[0][0].name() == "MulBackward0"
    h.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_in_place_mul_on_a_result_uses_the_old_value_for_the_other_gradient():
    x = t64([1.0, 2.0], requires_grad=True)
    y = t64([5.0, 7.0], requires_grad=True)
    h = x * 2
    h.mul_(y)
    h.sum().backward()
    assert h.tolist() == [10.0, 28.0]
    assert y.grad.tolist() == [2.0, 4.0]  # the value of h before the mul
    assert x.grad.tolist() == [10.0, 14.0]


def test_plain_tensor_meeting_a_tensor_that_requires_grad_in_place_gets_a_history():
    acc = tl.zeros(2, dtype=np.float64)
    w = t64([1.0, 2.0], requires_grad=True)
    acc.add_(w * w)
    assert not acc.is_leaf and acc.requires_grad and acc.grad_fn.name() == "AddBackward0"
    acc.sum().backward()
    assert w.grad.tolist() == [2.0, 4.0]


def test_running_loss_sum_with_plus_equals_backpropagates_every_term():
    w = t64([1.0, 2.0], requires_grad=True)
    total = 0
    for k in (1.0, 2.0, 3.0):
        total += (w * k).sum()
    total.backward()
    assert w.grad.tolist() == [6.0, 6.0]


@pytest.mark.parametrize("op", ["zero_", "fill_", "uniform_", "normal_"])
def test_overwriting_a_result_in_place_gives_its_history_a_zero_gradient(op):
    x = t64([1.0, 2.0], requires_grad=True)
    h = x * 2
    getattr(h, op)(*([3.0] if op == "fill_" else []))
    assert h.requires_grad and not h.is_leaf
    (h + x).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_copy_into_a_result_sends_the_gradient_to_the_source():
    x = t64([1.0, 2.0], requires_grad=True)
    src = t64([4.0], requires_grad=True)
    h = x * 2
    h.copy_(src)
    assert h.tolist() == [4.0, 4.0]
    (h * t64([1.0, 10.0])).sum().backward()
    assert src.grad.tolist() == [11.0]
    assert x.grad.tolist() == [0.0, 0.0]


def test_clamp_in_place_on_a_result_passes_the_gradient_inside_the_bounds():
    x = t64([-2.0, 0.5, 2.0], requires_grad=True)
    h = x * 1
    h.clamp_(-1.0, 1.0)
    h.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


def test_recorded_in_place_ops_pass_gradcheck():
    def f(a, b):
        h = a * 1.5
        h.add_(b, alpha=2)
        h.mul_(b)
        h.div_(a + 3)
        h.sub_(a)
        h.clamp_(-5, 5)
        return h

    rng = np.random.default_rng(0)
    a = Tensor(rng.uniform(0.5, 1.5, (3,)), requires_grad=True)
    b = Tensor(rng.uniform(0.5, 1.5, (3,)), requires_grad=True)
    assert gradcheck(f, (a, b))


def test_copy_in_place_passes_gradcheck_through_broadcasting():
    def f(a, b):
        h = a * 2
        h.copy_(b)
        return h * a

    rng = np.random.default_rng(1)
    a = Tensor(rng.normal(size=(2, 3)), requires_grad=True)
    b = Tensor(rng.normal(size=(3,)), requires_grad=True)
    assert gradcheck(f, (a, b))


def test_hooks_registered_before_an_in_place_op_see_the_old_value_gradient():
    x = t64([1.0, 2.0], requires_grad=True)
    h = x * 1
    seen = []
    h.register_hook(lambda g: seen.append(g.tolist()))
    h.mul_(3)
    h.sum().backward()
    assert seen == [[3.0, 3.0]]


@needs_torch
def test_recorded_in_place_ops_match_torch_in_float64():
    rng = np.random.default_rng(2)
    a0, b0 = rng.uniform(0.5, 1.5, (2, 3)), rng.uniform(0.5, 1.5, (3,))

    def program(m, a, b):
        h = a * 1.5
        h += b
        h.mul_(b)
        h -= 1
        h /= a + 2
        h.clamp_(min=-0.2)
        return (h * h).sum()

    ta = torch.tensor(a0, requires_grad=True)
    tb = torch.tensor(b0, requires_grad=True)
    program(torch, ta, tb).backward()
    a = Tensor(a0, requires_grad=True)
    b = Tensor(b0, requires_grad=True)
    out = program(tl, a, b)
    out.backward()
    np.testing.assert_allclose(a.grad.data, ta.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad.data, tb.grad.numpy(), rtol=1e-12, atol=1e-12)


# -- is_leaf, requires_grad_, detach_ -----------------------------------------------------------


def test_detach_in_place_makes_a_leaf_that_does_not_require_grad():
    x = t64([1.0], requires_grad=True)
    y = x * 2
    assert y.detach_() is y
    assert y.is_leaf and not y.requires_grad and y.grad_fn is None


def test_requires_grad_in_place_returns_the_tensor():
    x = t64([1.0])
    assert x.requires_grad_() is x and x.requires_grad


def test_requires_grad_false_on_a_result_is_a_runtime_error_as_in_torch():
    y = t64([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError):
        y.requires_grad_(False)
