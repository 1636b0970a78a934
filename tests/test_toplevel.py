"""`import tinygrad_lite as tl` gives what `import torch` gives: the subpackages without
further imports, and the module-level functions with torch's signatures and results."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import tinygrad_lite as tl

torch = pytest.importorskip("torch")

X = np.array([[0.5, -1.5, 2.0], [3.0, 0.25, -0.75]])


def pair(array=X, requires_grad=True):
    """The same float64 array as a tl.Tensor and a torch.Tensor."""
    ours = tl.tensor(array, dtype=np.float64, requires_grad=requires_grad)
    theirs = torch.tensor(array, dtype=torch.float64, requires_grad=requires_grad)
    return ours, theirs


def assert_same(ours, theirs):
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_subpackages_need_no_further_import():
    code = (
        "import tinygrad_lite as tl; "
        "tl.nn.Linear; tl.nn.functional.relu; tl.nn.utils.clip_grad_norm_; "
        "tl.nn.utils.clip_grad_value_; tl.optim.SGD; tl.optim.lr_scheduler.StepLR; "
        "tl.nn.micro.MLP"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_subpackages_load_on_first_use_not_at_import():
    code = "import sys, tinygrad_lite; print('tinygrad_lite.nn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tl.nope  # noqa: B018


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "relu", "abs"])
def test_unary_function_matches_torch_with_gradient(name):
    ours, theirs = pair()
    y, z = getattr(tl, name)(ours), getattr(torch, name)(theirs)
    assert_same(y, z)
    y.sum().backward()
    z.sum().backward()
    assert_same(ours.grad, theirs.grad)


@pytest.mark.parametrize("name", ["sqrt", "log"])
def test_unary_function_on_positive_input_matches_torch(name):
    ours, theirs = pair(np.abs(X) + 0.1)
    y, z = getattr(tl, name)(ours), getattr(torch, name)(theirs)
    assert_same(y, z)
    y.sum().backward()
    z.sum().backward()
    assert_same(ours.grad, theirs.grad)


def test_functions_reject_a_non_tensor_as_torch_does():
    with pytest.raises(TypeError, match=r"exp\(\): argument 'input' must be Tensor, not float"):
        tl.exp(1.0)


def test_matmul_matches_torch():
    a, ta = pair()
    b, tb = pair(X.T.copy())
    assert_same(tl.matmul(a, b), torch.matmul(ta, tb))


@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (1, True), ((0, 1), False)])
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_sum_and_mean_match_torch(name, dim, keepdim):
    ours, theirs = pair()
    if dim is None:
        y, z = getattr(tl, name)(ours), getattr(torch, name)(theirs)
    else:
        y, z = getattr(tl, name)(ours, dim, keepdim), getattr(torch, name)(theirs, dim, keepdim)
    assert_same(y, z)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_of_everything_match_torch(name):
    ours, theirs = pair()
    assert_same(getattr(tl, name)(ours), getattr(torch, name)(theirs))


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_over_a_dim_are_the_methods_results(name):
    ours, theirs = pair()
    got = getattr(tl, name)(ours, 1, keepdim=True)
    want = getattr(ours, name)(dim=1, keepdim=True)
    values = got[0] if isinstance(got, tuple) else got  # (values, indices) once Tensor has it
    want_values = want[0] if isinstance(want, tuple) else want
    assert_same(values, getattr(torch, name)(theirs, 1, keepdim=True).values)
    assert_same(values, torch.tensor(want_values.numpy()))


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_of_two_tensors_are_elementwise(name):
    a, ta = pair()
    b, tb = pair(X[::-1].copy())
    assert_same(getattr(tl, name)(a, b), getattr(torch, name)(ta, tb))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, -1])
def test_softmax_functions_match_torch(name, dim):
    ours, theirs = pair()
    y, z = getattr(tl, name)(ours, dim), getattr(torch, name)(theirs, dim)
    assert_same(y, z)
    (y * tl.tensor(X)).sum().backward()
    (z * torch.tensor(X)).sum().backward()
    assert_same(ours.grad, theirs.grad)


@pytest.mark.parametrize("lo, hi", [(-1.0, 1.0), (None, 0.5), (0.0, None)])
def test_clamp_matches_torch(lo, hi):
    ours, theirs = pair()
    y, z = tl.clamp(ours, min=lo, max=hi), torch.clamp(theirs, min=lo, max=hi)
    assert_same(y, z)
    y.sum().backward()
    z.sum().backward()
    assert_same(ours.grad, theirs.grad)


def test_clamp_without_bounds_is_an_error():
    with pytest.raises(ValueError, match="at least one of 'min' or 'max'"):
        tl.clamp(tl.tensor([1.0]))


@pytest.mark.parametrize(
    "b", [X, X + 1e-9, X + 1e-3, X[:1]], ids=["equal", "close", "far", "broadcast"]
)
def test_isclose_and_allclose_match_torch(b):
    a = tl.tensor(X, dtype=np.float64)
    ta = torch.tensor(X, dtype=torch.float64)
    tb = torch.tensor(b, dtype=torch.float64)
    assert tl.allclose(a, tl.tensor(b, dtype=np.float64)) == torch.allclose(ta, tb)
    got = tl.isclose(a, tl.tensor(b, dtype=np.float64)).numpy()
    np.testing.assert_array_equal(got, torch.isclose(ta, tb).numpy())


@pytest.mark.parametrize("b", [X, X + 1e-9, X[:1]], ids=["equal", "close", "other-shape"])
def test_equal_matches_torch(b):
    a, ta = tl.tensor(X), torch.tensor(X)
    assert tl.equal(a, tl.tensor(b)) == torch.equal(ta, torch.tensor(b))


def test_from_numpy_shares_memory_and_dtype_as_torch():
    a = np.arange(3, dtype=np.int32)
    ours, theirs = tl.from_numpy(a), torch.from_numpy(a)
    a[1] = 7
    assert ours.tolist() == theirs.tolist() == [0, 7, 2]
    assert ours.dtype == np.int32


def test_from_numpy_rejects_objects():
    with pytest.raises(TypeError, match="not supported"):
        tl.from_numpy(np.array(["a"], dtype=object))


def test_randint_has_torchs_two_signatures_and_dtype():
    tl.manual_seed(0)
    a = tl.randint(5, (1000,))
    b = tl.randint(3, 6, (2, 500))
    assert a.dtype == np.int64 == torch.randint(5, (3,)).numpy().dtype
    assert set(a.tolist()) == {0, 1, 2, 3, 4}
    assert b.shape == (2, 500) and set(b.numpy().ravel().tolist()) == {3, 4, 5}


def test_manual_seed_makes_sampling_reproducible():
    def draw():
        tl.manual_seed(123)
        return (
            tl.randint(100, (5,)).tolist(),
            tl.randperm(10).tolist(),
            tl.multinomial(tl.tensor([0.2, 0.3, 0.5]), 4, replacement=True).tolist(),
        )

    assert draw() == draw()


def test_randperm_is_a_permutation_as_torchs():
    perm = tl.randperm(50)
    assert perm.dtype == torch.randperm(50).numpy().dtype
    assert sorted(perm.tolist()) == list(range(50))


def test_multinomial_without_replacement_draws_distinct_indices_per_row():
    weights = tl.tensor([[1.0, 1.0, 1.0, 0.0], [0.0, 2.0, 1.0, 1.0]])
    out = tl.multinomial(weights, 3)
    assert out.shape == tuple(torch.multinomial(torch.tensor(weights.numpy()), 3).shape)
    for row, w in zip(out.tolist(), weights.tolist()):
        assert len(set(row)) == 3 and all(w[i] > 0 for i in row)


def test_multinomial_frequencies_follow_the_weights():
    tl.manual_seed(0)
    out = tl.multinomial(tl.tensor([1.0, 3.0]), 4000, replacement=True).numpy()
    assert abs(out.mean() - 0.75) < 0.03


def test_multinomial_rejects_too_many_samples_without_replacement():
    with pytest.raises(RuntimeError, match="without replacement"):
        tl.multinomial(tl.tensor([1.0, 0.0]), 2)


def test_inference_mode_records_nothing_as_no_grad():
    x = tl.tensor([1.0], requires_grad=True)
    with tl.inference_mode():
        y = x * 2
    with torch.inference_mode():
        z = torch.ones(1, requires_grad=True) * 2
    assert y.requires_grad == z.requires_grad == False  # noqa: E712


def test_inference_mode_decorates_with_or_without_parentheses():
    x = tl.tensor([1.0], requires_grad=True)

    @tl.inference_mode
    def f(t):
        return t * 2

    @tl.inference_mode()
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad


def test_inference_mode_false_leaves_recording_as_it_is():
    x = tl.tensor([1.0], requires_grad=True)
    with tl.inference_mode(False):
        assert (x * 2).requires_grad
    with tl.no_grad(), tl.inference_mode(False):
        assert not (x * 2).requires_grad
