"""Reductions with indices and norms, as PyTorch's: `max`/`min` over a dim return the named
tuple (values, indices), `argmax`/`sort`/`argsort`/`topk` pick as torch does (first occurrence,
stable sorts), the values' gradient goes to the picked element (finite differences, float64),
and `amax`/`amin`/`max()` keep sharing the gradient among ties. Also the empty and 0-d cases
of issue 12, item 14.
"""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl
from tinygrad_lite import ShapeError, Tensor, return_types
from tinygrad_lite.gradcheck import gradcheck, gradgradcheck
from tinygrad_lite.testing import arrays


def shapes(min_dims=1):
    return hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=4)


@st.composite
def array_and_dim(draw, min_gap=0.0, min_dims=1):
    x = draw(arrays(shapes(min_dims), min_gap=min_gap))
    return x, draw(st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1))


def leaf(x):
    return Tensor(np.array(x, dtype=np.float64), requires_grad=True)


# -- the silent failure of issue 11 ----------------------------------------------------------


def test_max_over_dim_1_of_a_batch_of_two_gives_both_indices():
    out = Tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1]])
    _, pred = out.max(1)
    assert pred.tolist() == [1, 0]
    assert pred.dtype == np.int64


def test_max_over_a_dim_returns_a_named_tuple_of_values_and_indices():
    out = Tensor([[1.0, 5.0], [7.0, 2.0]]).max(dim=1)
    assert isinstance(out, return_types.max) and isinstance(out, tuple)
    values, indices = out
    assert values is out.values and indices is out.indices
    assert out.values.tolist() == [5.0, 7.0] and out.indices.tolist() == [1, 0]


def test_max_with_no_dim_returns_a_tensor():
    out = Tensor([[1.0, 5.0], [7.0, 2.0]]).max()
    assert isinstance(out, Tensor) and out.item() == 7.0


def test_max_with_a_tensor_is_the_elementwise_maximum():
    assert Tensor([1.0, 4.0]).max(Tensor([3.0, 2.0])).tolist() == [3.0, 4.0]


def test_max_over_several_dims_says_to_use_amax():
    with pytest.raises(TypeError, match="amax"):
        Tensor([[1.0]]).max(dim=(0, 1))


def test_max_over_an_empty_dim_raises_a_shape_error():
    with pytest.raises(ShapeError, match="size 0"):
        Tensor(np.zeros((2, 0))).max(1)


# -- against torch ----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["max", "min"])
@settings(deadline=None)
@given(case=array_and_dim(), keepdim=st.booleans())
def test_max_and_min_over_a_dim_match_torch_with_ties_to_the_first(which, case, keepdim):
    x, dim = case
    x = np.round(x)  # rounding makes ties likely: both pick the first occurrence
    ours = getattr(Tensor(x), which)(dim, keepdim)
    theirs = getattr(torch.from_numpy(x), which)(dim, keepdim)
    np.testing.assert_array_equal(ours.values.data, theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.data, theirs.indices.numpy())


@pytest.mark.parametrize("which", ["argmax", "argmin"])
@settings(deadline=None)
@given(case=array_and_dim(), keepdim=st.booleans(), flat=st.booleans())
def test_argmax_and_argmin_match_torch(which, case, keepdim, flat):
    x, dim = case
    x = np.round(x)
    dim = None if flat else dim
    ours = getattr(Tensor(x), which)(dim, keepdim)
    theirs = getattr(torch.from_numpy(x), which)(dim, keepdim)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.data, theirs.numpy())


@settings(deadline=None)
@given(case=array_and_dim(), descending=st.booleans())
def test_sort_and_argsort_match_torchs_stable_sort(case, descending):
    x, dim = case
    x = np.round(x)
    x.flat[0] = np.nan  # NaN sorts as the largest, as in torch
    values, indices = Tensor(x).sort(dim, descending)
    expected = torch.from_numpy(x).sort(dim=dim, descending=descending, stable=True)
    np.testing.assert_array_equal(values.data, expected.values.numpy())
    np.testing.assert_array_equal(indices.data, expected.indices.numpy())
    argsorted = Tensor(x).argsort(dim, descending)
    np.testing.assert_array_equal(argsorted.data, expected.indices.numpy())


@settings(deadline=None)
@given(case=array_and_dim(min_gap=1e-3), largest=st.booleans(), data=st.data())
def test_topk_matches_torch_on_distinct_values(case, largest, data):
    x, dim = case
    k = data.draw(st.integers(0, x.shape[dim]))
    ours = Tensor(x).topk(k, dim, largest)
    theirs = torch.from_numpy(x).topk(k, dim, largest)
    assert isinstance(ours, return_types.topk)
    np.testing.assert_array_equal(ours.values.data, theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.data, theirs.indices.numpy())


def test_topk_with_k_larger_than_the_dim_raises_a_runtime_error_as_torch():
    with pytest.raises(RuntimeError, match="out of range"):
        Tensor([1.0, 2.0]).topk(3)


def test_max_over_a_dim_sends_the_gradient_to_the_first_maximum_only_as_torch():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    ours = leaf(x)
    ours.max(1).values.sum().backward()
    theirs = torch.tensor(x, requires_grad=True)
    theirs.max(1).values.sum().backward()
    np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())


def test_amax_and_the_full_max_share_the_gradient_among_ties():
    for reduce in (lambda t: t.amax(), lambda t: t.max(), lambda t: t.amax(dim=(0, 1))):
        x = leaf([[1.0, 3.0], [3.0, 2.0]])
        reduce(x).backward()
        assert x.grad.tolist() == [[0.0, 0.5], [0.5, 0.0]]


def test_indices_are_not_differentiable():
    out = leaf([[1.0, 2.0]]).max(1)
    assert out.values.requires_grad and not out.indices.requires_grad
    assert not leaf([1.0, 2.0]).argsort().requires_grad


# -- gradients against finite differences (float64) ------------------------------------------


@settings(deadline=None)
@given(
    case=array_and_dim(min_gap=1e-3), keepdim=st.booleans(), which=st.sampled_from(["max", "min"])
)
def test_max_and_min_values_over_a_dim_match_finite_differences(case, keepdim, which):
    x, dim = case
    assert gradcheck(lambda t: getattr(t, which)(dim, keepdim).values, (leaf(x),))
    assert gradgradcheck(lambda t: getattr(t, which)(dim, keepdim).values, (leaf(x),))


@settings(deadline=None)
@given(case=array_and_dim(min_gap=1e-3), descending=st.booleans())
def test_sorted_values_match_finite_differences(case, descending):
    x, dim = case
    assert gradcheck(lambda t: t.sort(dim, descending).values, (leaf(x),))


@settings(deadline=None)
@given(case=array_and_dim(min_gap=1e-3), data=st.data())
def test_topk_values_match_finite_differences(case, data):
    x, dim = case
    k = data.draw(st.integers(1, x.shape[dim]))
    assert gradcheck(lambda t: t.topk(k, dim).values, (leaf(x),))
    assert gradgradcheck(lambda t: t.topk(k, dim).values, (leaf(x),))


@settings(deadline=None)
@given(case=array_and_dim(), data=st.data())
def test_gather_matches_finite_differences_and_torch(case, data):
    x, dim = case
    shape = list(x.shape)
    shape[dim] = data.draw(st.integers(1, 4))
    index = data.draw(hnp.arrays(np.int64, tuple(shape), elements=st.integers(0, x.shape[dim] - 1)))
    assert gradcheck(lambda t: t.gather(dim, index), (leaf(x),))
    ours = leaf(x)
    ours.gather(dim, index).sum().backward()
    theirs = torch.tensor(x, requires_grad=True)
    torch.gather(theirs, dim, torch.from_numpy(index)).sum().backward()
    np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())


@pytest.mark.parametrize("p", [2, "fro", 3, 1.5])
@settings(deadline=None)
@given(x=arrays(shapes(), min_magnitude=0.1), dim_seed=st.integers(0, 2), keepdim=st.booleans())
def test_norm_matches_finite_differences_and_torch(p, x, dim_seed, keepdim):
    dim = None if dim_seed == 2 else dim_seed % x.ndim
    assert gradcheck(lambda t: t.norm(p, dim, keepdim), (leaf(x),))
    assert gradgradcheck(lambda t: t.norm(p, dim, keepdim), (leaf(x),))
    ours = leaf(x)
    ours.norm(p, dim, keepdim).sum().backward()
    theirs = torch.tensor(x, requires_grad=True)
    torch.norm(theirs, p, dim, keepdim).sum().backward()
    np.testing.assert_allclose(
        ours.norm(p, dim, keepdim).data,
        torch.norm(theirs, p, dim, keepdim).detach().numpy(),
        rtol=1e-12,
    )
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("p", [1, float("inf"), float("-inf"), 0])
def test_norm_special_orders_match_torch(p):
    x = np.array([[3.0, -4.0, 0.0], [1.0, -1.0, 2.0]])
    for dim in (None, 0, 1):
        expected = torch.linalg.vector_norm(torch.from_numpy(x), p, dim).numpy()
        np.testing.assert_allclose(Tensor(x).norm(p, dim).data, expected)


def test_norm_gradient_at_a_zero_vector_is_zero_as_torch():
    x = leaf([[0.0, 0.0], [3.0, 4.0]])
    x.norm(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[0.0, 0.0], [0.6, 0.8]])


# -- issue 12 item 14: empty and 0-d tensors ---------------------------------------------------


def test_mean_of_an_empty_tensor_is_nan_and_warns():
    with pytest.warns(UserWarning, match="empty"):
        out = Tensor(np.zeros(0)).mean()
    assert np.isnan(out.item())
    assert np.isnan(torch.tensor([]).mean().item())


def test_mean_over_an_empty_dim_is_nan_per_row_as_torch():
    with pytest.warns(UserWarning):
        out = Tensor(np.zeros((3, 0))).mean(1)
    assert out.shape == (3,) and np.all(np.isnan(out.data))


def test_mean_of_an_empty_tensor_has_an_empty_gradient():
    x = Tensor(np.zeros((2, 0)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x.mean().backward()
    assert x.grad.shape == (2, 0)


@pytest.mark.parametrize("dim", [0, -1])
def test_reductions_of_a_0d_tensor_over_dim_0_or_minus_1_work_as_torch(dim):
    x = np.array(2.5)
    t = torch.from_numpy(x)
    for name in ("sum", "mean", "amax", "logsumexp", "softmax", "log_softmax"):
        ours = getattr(Tensor(x), name)(dim)
        theirs = getattr(t, name)(dim)
        assert ours.shape == ()
        np.testing.assert_allclose(ours.data, theirs.numpy())
    values, indices = Tensor(x).max(dim)
    assert values.item() == 2.5 and indices.item() == 0
    assert Tensor(x).argmax(dim).item() == 0


def test_softmax_of_a_0d_tensor_has_gradient_zero_as_torch():
    x = leaf(1.5)
    x.softmax(-1).backward()
    assert x.grad.item() == 0.0


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize(("shape", "dim"), [((0,), 0), ((3, 0), 1), ((0, 3), 1), ((0, 3), 0)])
def test_softmax_of_an_empty_tensor_is_empty_as_torch(name, shape, dim):
    x = Tensor(np.zeros(shape), requires_grad=True)
    t = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    ours, theirs = getattr(x, name)(dim), getattr(t, name)(dim)
    assert ours.shape == tuple(theirs.shape) == shape
    ours.sum().backward()
    theirs.sum().backward()
    assert x.grad.shape == tuple(t.grad.shape)


def test_an_error_that_is_not_about_broadcasting_gets_no_broadcasting_hint():
    from tinygrad_lite import ops
    from tinygrad_lite.tensor_ops._core import _shape_error

    numpy_says = ValueError("zero-size array to reduction operation maximum which has no identity")
    err = _shape_error(ops.SOFTMAX, [np.zeros(0)], (0,), numpy_says)
    assert "no identity" in str(err) and "reshape" not in str(err)
    mismatch = ValueError("operands could not be broadcast together with shapes (3,) (4,)")
    err = _shape_error(ops.ADD, [np.zeros(3), np.zeros(4)], (), mismatch)
    assert "equal or 1 in each trailing axis" in str(err)


def test_a_0d_tensor_still_refuses_dim_1():
    with pytest.raises(ShapeError, match="out of range"):
        Tensor(1.0).sum(1)


def test_return_types_repr_names_its_fields():
    text = repr(tl.Tensor([1.0, 3.0]).max(0))
    assert text.startswith("tinygrad_lite.return_types.max(") and "indices=" in text
