"""The gradient of a slice travels as an IndexedGrad (index, values) and is added into place by
the backward driver: the numbers must be those of the zero-filled scatter it replaces, nothing
outside the driver may ever see one, and no array a VJP returned may be written into."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite import Tensor
from tinygrad_lite.gradcheck import gradcheck
from tinygrad_lite.indexed_grad import IndexedGrad, is_basic_index
from tinygrad_lite.testing import arrays

# -- the type on its own -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "index",
    [
        1,
        np.int64(2),
        slice(1, 3),
        (Ellipsis, 0),
        (None, slice(None), 1),
        (np.array([0, 2, 0]),),  # picks row 0 twice: both picks add
        (np.array([1, 1]), np.array([0, 0])),
        np.array([True, False, True]),
    ],
)
def test_dense_and_add_into_equal_numpys_scatter_add(index):
    values = np.arange(12.0).reshape(3, 4)[index] + 1.0
    want = np.zeros((3, 4))
    np.add.at(want, index, values)
    grad = IndexedGrad((3, 4), index, values)
    np.testing.assert_array_equal(grad.dense(), want)
    np.testing.assert_array_equal(np.asarray(grad), want)
    acc = np.ones((3, 4))
    grad.add_into(acc)
    np.testing.assert_array_equal(acc, want + 1)


def test_basic_indices_are_told_from_advanced_ones():
    assert is_basic_index((1, slice(None), None, Ellipsis, np.int32(0)))
    assert not is_basic_index(np.array([0, 0]))
    assert not is_basic_index((slice(None), [0, 1]))
    assert not is_basic_index(True)


# -- through the driver --------------------------------------------------------------------------


@st.composite
def basic_index(draw, shape):
    """An int or a slice on each leading axis, sometimes followed by None or Ellipsis."""
    items = []
    for n in shape[: draw(st.integers(1, len(shape)))]:
        if draw(st.booleans()):
            items.append(draw(st.integers(-n, n - 1)))
        else:
            start = draw(st.integers(0, n - 1))
            items.append(slice(start, draw(st.integers(start + 1, n))))
    if draw(st.booleans()):
        items.append(draw(st.sampled_from([None, Ellipsis])))
    return tuple(items)


@st.composite
def any_index(draw, shape):
    """A basic index, or an integer array on the first axis that may pick a row twice."""
    if draw(st.booleans()):
        return draw(basic_index(shape))
    rows = draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=4))
    return np.array(rows)


@settings(deadline=None)
@given(data=st.data())
def test_many_slices_of_one_tensor_match_finite_differences(data):
    # Several slices of the same tensor, some overlapping, some picking a row twice, plus
    # (sometimes) a use of the whole tensor: the driver adds the slices' values into place in
    # every order of arrival.
    shape = data.draw(st.sampled_from([(3,), (2, 3), (3, 2, 2)]))
    x = data.draw(arrays(shape))
    indices = data.draw(st.lists(any_index(shape), min_size=1, max_size=4))
    weights = [data.draw(arrays(np.empty(shape)[i].shape)) for i in indices]
    whole = data.draw(st.booleans())

    def fn(t):
        total = sum((t[i] * Tensor(w)).sum() for i, w in zip(indices, weights))
        return total + (t * t).sum() if whole else total

    assert gradcheck(fn, (Tensor(x, requires_grad=True),))


def test_slices_taken_at_every_step_give_the_scatter_sum():
    x = Tensor(np.arange(24.0).reshape(6, 2, 2), requires_grad=True)
    loss = sum((x[t] * (t + 1)).sum() for t in range(6)) + x[2:4].sum()
    loss.backward()
    want = np.repeat(np.arange(1.0, 7.0), 4).reshape(6, 2, 2)
    want[2:4] += 1
    np.testing.assert_array_equal(x.grad.data, want)


def test_a_sliced_tensor_is_written_out_once_not_once_per_slice(monkeypatch):
    # The point of IndexedGrad: T slices make one whole-sized array, not T of them.
    calls = []
    dense = IndexedGrad.dense

    def counted(self, dtype=None):
        calls.append(self.shape)
        return dense(self, dtype)

    monkeypatch.setattr(IndexedGrad, "dense", counted)
    x = Tensor(np.ones((50, 3)), requires_grad=True)
    sum(x[t].sum() for t in range(50)).backward()
    assert len(calls) == 1
    np.testing.assert_array_equal(x.grad.data, np.ones((50, 3)))


def test_a_gradient_shared_with_another_node_is_never_added_into():
    # add's VJP hands one array to both operands; the slice's gradient must then go into a
    # copy, or w (the other operand) would get x's slice gradient too.
    x = Tensor(np.zeros((2, 2)), requires_grad=True)
    w = Tensor(np.zeros((2, 2)), requires_grad=True)
    first = x[0]  # created first, so its gradient arrives after the add's
    loss = (x + w).sum() + first.sum() * 10
    loss.backward()
    np.testing.assert_array_equal(w.grad.data, np.ones((2, 2)))
    np.testing.assert_array_equal(x.grad.data, [[11.0, 11.0], [1.0, 1.0]])


def test_repeated_picks_are_summed_before_they_meet_a_large_gradient():
    # Found in review: np.add.at straight into an accumulator holding 1e16 rounded each pick
    # of 1.0 away. The picks are summed first, then added once, as the dense sum (and torch).
    x = Tensor(np.ones(1), requires_grad=True)
    rows = x[np.array([0, 0])]  # created first, so the large gradient arrives before it
    (rows.sum() + (x * 1e16).sum()).backward()
    assert x.grad.data[0] == 1e16 + 2.0
    acc = np.array([1e16])
    IndexedGrad((1,), np.array([0, 0]), np.ones(2)).add_into(acc)
    assert acc[0] == 1e16 + 2.0


def test_slices_of_two_dtypes_promote_as_a_plain_sum_would():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = x * 1  # an interior float32 node with float32 and float64 consumers
    loss = (y[0:2] * Tensor(np.full(2, 0.1, np.float64))).sum() + y[1:3].sum()
    loss.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, [0.1, 1.1, 1.0], rtol=1e-6)


def test_hooks_retain_grad_grad_and_events_only_ever_see_plain_arrays():
    x = Tensor(np.ones((3, 2)), requires_grad=True)
    y = x * 2
    y.retain_grad()
    seen = []
    y.register_hook(lambda g: seen.append(type(g.data)))
    loss = y[0].sum() + y[2].sum()
    events = tl.backward_events(loss)
    assert seen == [np.ndarray]
    assert type(y.grad.data) is np.ndarray
    for event in events:
        assert not any(isinstance(g, IndexedGrad) for g in event.parent_grads)
        assert not isinstance(event.grad, IndexedGrad)
    (gx,) = tl.grad(x[1].sum() * 3, x)
    assert type(gx.data) is np.ndarray
    np.testing.assert_array_equal(gx.data, [[0, 0], [3, 3], [0, 0]])


def test_create_graph_still_records_the_slices_gradient_as_scatter_add():
    x = Tensor(np.arange(3.0), requires_grad=True)
    (g,) = tl.grad((x[1] ** 3).sum(), x, create_graph=True)
    assert g.op == "scatter_add"
    (gg,) = tl.grad(g.sum(), x)
    np.testing.assert_array_equal(gg.data, [0.0, 6.0, 0.0])
