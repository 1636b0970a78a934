"""Shape and size as PyTorch's (`size()` is the shape, `numel()` the count), the small methods
users type from memory (`t`, `mm`, `matmul`, `pow`, `unbind`, `repeat`, `masked_fill`, `clone`,
`item`), Python protocols (`len`, iteration, `format`, `weakref`) and torch's repr.
"""

import weakref

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl
from tinygrad_lite import DTypeError, ShapeError, Tensor
from tinygrad_lite.gradcheck import gradcheck, gradgradcheck
from tinygrad_lite.nn import Parameter
from tinygrad_lite.testing import arrays


def leaf(x):
    return Tensor(np.array(x, dtype=np.float64), requires_grad=True)


def test_size_is_the_shape_and_numel_the_element_count():
    x = tl.zeros(2, 3)
    assert x.size() == (2, 3) == tuple(torch.zeros(2, 3).size())
    assert x.size(0) == 2 and x.size(-1) == 3
    assert x.numel() == 6 and x.dim() == 2


def test_size_of_a_dim_out_of_range_is_a_shape_error():
    with pytest.raises(ShapeError, match="out of range"):
        tl.zeros(2).size(1)


def test_t_transposes_a_matrix_and_refuses_three_dims():
    assert Tensor([[1.0, 2.0]]).t().shape == (2, 1)
    assert Tensor([1.0, 2.0]).t().shape == (2,)
    with pytest.raises(ShapeError, match="<= 2 dimensions"):
        tl.zeros(2, 2, 2).t()


def test_mm_and_matmul_match_the_operator():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(3, 2)
    expected = a @ b
    assert np.array_equal(Tensor(a).mm(Tensor(b)).data, expected)
    assert np.array_equal(Tensor(a).matmul(b).data, expected)
    with pytest.raises(ShapeError, match="matrices"):
        tl.zeros(2, 2, 2).mm(tl.zeros(2, 2))


def test_pow_is_the_power_operator():
    x = leaf([1.0, 2.0])
    x.pow(3).sum().backward()
    assert x.grad.tolist() == [3.0, 12.0]
    assert Tensor([2.0]).pow(Tensor([3.0])).tolist() == [8.0]


def test_unbind_gives_the_slices_along_a_dim_as_a_tuple():
    pieces = Tensor([[1.0, 2.0], [3.0, 4.0]]).unbind(1)
    assert isinstance(pieces, tuple) and [p.tolist() for p in pieces] == [[1.0, 3.0], [2.0, 4.0]]


@settings(deadline=None)
@given(x=arrays(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)), data=st.data())
def test_repeat_matches_torch_and_finite_differences(x, data):
    lead = data.draw(st.integers(0, 1))
    sizes = tuple(
        data.draw(st.lists(st.integers(1, 3), min_size=x.ndim + lead, max_size=x.ndim + lead))
    )
    if not sizes:
        sizes = (2,)
    np.testing.assert_array_equal(
        Tensor(x).repeat(*sizes).data, torch.from_numpy(x).repeat(*sizes).numpy()
    )
    assert gradcheck(lambda t: t.repeat(*sizes), (leaf(x),))
    assert gradgradcheck(lambda t: t.repeat(sizes), (leaf(x),))


def test_repeat_with_fewer_sizes_than_dims_is_a_shape_error():
    with pytest.raises(ShapeError, match="at least one per dim"):
        tl.zeros(2, 2).repeat(2)


@settings(deadline=None)
@given(x=arrays(hnp.array_shapes(max_dims=2, max_side=3)), data=st.data())
def test_masked_fill_matches_torch_and_finite_differences(x, data):
    mask = data.draw(hnp.arrays(np.bool_, x.shape))
    expected = torch.from_numpy(x).masked_fill(torch.from_numpy(mask), -1.5).numpy()
    np.testing.assert_array_equal(Tensor(x).masked_fill(Tensor(mask), -1.5).data, expected)
    assert gradcheck(lambda t: t.masked_fill(mask, -1.5), (leaf(x),))


def test_masked_fill_needs_a_boolean_mask_as_torch():
    with pytest.raises(DTypeError, match="boolean"):
        Tensor([1.0, 2.0]).masked_fill(Tensor([1, 0]), 0.0)


def test_clone_copies_and_passes_the_gradient():
    x = leaf([1.0, 2.0])
    y = x.clone()
    assert y.data is not x.data and y.tolist() == [1.0, 2.0]
    (y * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_item_of_one_element_and_error_otherwise():
    assert Tensor([[2.5]]).item() == 2.5
    with pytest.raises(ValueError, match="one element"):
        Tensor([1.0, 2.0]).item()


def test_a_one_element_tensor_formats_as_its_number():
    loss = Tensor(0.123456)
    assert f"{loss:.4f}" == "0.1235" and f"{Tensor([3]):d}" == "3"


def test_a_format_spec_on_a_many_element_tensor_is_a_type_error_as_torch():
    assert f"{Tensor([1.0, 2.0])}" == "tensor([1., 2.])"
    with pytest.raises(TypeError, match="one-element"):
        f"{Tensor([1.0, 2.0]):.2f}"


def test_len_and_iteration_walk_the_first_dim():
    x = Tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert len(x) == 3 and [row.tolist() for row in x] == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    with pytest.raises(TypeError, match="0-d"):
        len(Tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(Tensor(1.0)).__next__()


def test_a_tensor_can_be_held_by_a_weak_reference():
    x = Tensor([1.0])
    ref = weakref.ref(x)
    assert ref() is x
    del x
    assert ref() is None
    p = Parameter([1.0])
    ref = weakref.ref(p)
    assert ref() is p
    del p
    assert ref() is None


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: Tensor([1.0, 2.0]), lambda: torch.tensor([1.0, 2.0])),
        (lambda: Tensor([1.5, -2.25]), lambda: torch.tensor([1.5, -2.25])),
        (lambda: Tensor([1, 2]), lambda: torch.tensor([1, 2])),
        (lambda: Tensor([True, False]), lambda: torch.tensor([True, False])),
        (lambda: Tensor(3.25), lambda: torch.tensor(3.25)),
        (lambda: Tensor([1e10, 1.0]), lambda: torch.tensor([1e10, 1.0])),
        (lambda: Tensor([[1.5, 2.0], [3.0, 4.0]]), lambda: torch.tensor([[1.5, 2.0], [3.0, 4.0]])),
        (
            lambda: Tensor([1.0], requires_grad=True),
            lambda: torch.tensor([1.0], requires_grad=True),
        ),
        (lambda: tl.zeros(2, 0), lambda: torch.zeros(2, 0)),
        (lambda: Tensor([float("nan"), 1.5]), lambda: torch.tensor([float("nan"), 1.5])),
    ],
)
def test_repr_prints_as_torch(ours, theirs):
    assert repr(ours()) == repr(theirs())


def test_repr_names_a_dtype_other_than_the_default():
    assert repr(Tensor([1.0], dtype=np.float64)) == "tensor([1.], dtype=float64)"
    assert repr(Tensor([1], dtype=np.int32)) == "tensor([1], dtype=int32)"


def test_repr_of_a_recorded_result_shows_grad_fn_when_the_tensor_has_one():
    y = leaf([1.0]) * 2
    text = repr(y)
    grad_fn = getattr(y, "grad_fn", None)
    if grad_fn is None:  # before the grad_fn family: what it requires is shown
        assert text == "tensor([2.], dtype=float64, requires_grad=True)"
    else:
        assert text == f"tensor([2.], dtype=float64, grad_fn=<{grad_fn.name()}>)"
