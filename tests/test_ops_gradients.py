"""Every differentiable op's gradient agrees with central finite differences in float64.

Each Tensor op is a case below: a strategy draws its operands (and arguments such as an axis or
an index) away from kinks, and `gradcheck` compares the engine's Jacobian with the numeric one;
`gradgradcheck` does the same for the gradient itself, built with create_graph=True. Binary ops
are drawn with broadcasting operands. The gradient conventions at kinks (relu'(0), ties of
max/min) cannot be finite-differenced, so they are pinned exactly in their own tests, as are
numerical stability at |x| = 1e4, float32 staying float32, and the scalar `Value` ops.
"""

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tg
from tinygrad_lite import DTypeError, Tensor, Value
from tinygrad_lite.gradcheck import gradcheck, gradgradcheck
from tinygrad_lite.tensor import TensorBackend
from tinygrad_lite.testing import arrays, broadcastable_shapes, expression_graphs
from tinygrad_lite.value import maximum as value_maximum


def leaves(*arrays_):
    """float64 leaves that require grad, one per array."""
    return tuple(Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays_)


def shapes(min_dims=0, max_dims=3, max_side=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def one(array_strategy, params=None):
    """A case strategy with one operand and fixed (or drawn) arguments."""
    params = st.just({}) if params is None else params
    return st.tuples(params, array_strategy.map(lambda a: (a,)))


@st.composite
def axis_choices(draw, ndim):
    """None, an int (negative too) or a tuple of distinct axes of an ndim-axis array."""
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none" or ndim == 0:
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in chosen)


# ------------------------------------------------------------------------------------------
# Case strategies: each draws (params, arrays)
# ------------------------------------------------------------------------------------------


@st.composite
def binary_operands(draw, a_kwargs=None, b_kwargs=None):
    a_shape, b_shape = draw(broadcastable_shapes(2, max_side=3))
    a = draw(arrays(a_shape, **(a_kwargs or {})))
    b = draw(arrays(b_shape, **(b_kwargs or {})))
    return {}, (a, b)


@st.composite
def untied_operands(draw):
    """Broadcasting operands on interleaved grids (a on k/2 + 1/4, b on k/2), so |a - b| >=
    1/4 everywhere: maximum/minimum are never at their kink, yet either side can win."""
    _, (a, b) = draw(binary_operands())
    return {}, (np.round(a * 2) / 2 + 0.25, np.round(b * 2) / 2)


@st.composite
def where_operands(draw):
    c_shape, a_shape, b_shape = draw(broadcastable_shapes(3, max_side=3))
    cond = draw(hnp.arrays(np.bool_, c_shape))
    return {"cond": cond}, (draw(arrays(a_shape)), draw(arrays(b_shape)))


@st.composite
def scalar_operand(draw, x_kwargs=None, c=None):
    c = st.floats(-3, 3) if c is None else c
    return {"c": draw(c)}, (draw(arrays(shapes(), **(x_kwargs or {}))),)


@st.composite
def matmul_operands(draw, a_rank, b_rank):
    """Shapes for a @ b where a has a_rank axes and b has b_rank (3 means batched: the batch
    axes of both operands are drawn to broadcast against each other)."""
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    batch_a, batch_b = draw(broadcastable_shapes(2, min_dims=1, max_dims=2, max_side=2))
    a_shape = {1: (k,), 2: (n, k), 3: batch_a + (n, k)}[a_rank]
    b_shape = {1: (k,), 2: (k, m), 3: batch_b + (k, m)}[b_rank]
    return {}, (draw(arrays(a_shape)), draw(arrays(b_shape)))


@st.composite
def reduction_operand(draw, **array_kwargs):
    x = draw(arrays(shapes(min_dims=1), **array_kwargs))
    return {"axis": draw(axis_choices(x.ndim)), "keepdims": draw(st.booleans())}, (x,)


def reduced_count(params, arrays_) -> int:
    """How many elements each output of a reduction over params["axis"] summarizes."""
    x, axis = arrays_[0], params["axis"]
    axes = range(x.ndim) if axis is None else np.atleast_1d(axis) % x.ndim
    return int(np.prod([x.shape[a] for a in axes]))


@st.composite
def axis_operand(draw, **array_kwargs):
    x = draw(arrays(shapes(min_dims=1), **array_kwargs))
    return {"axis": draw(st.integers(-x.ndim, x.ndim - 1))}, (x,)


@st.composite
def reshape_operand(draw):
    x = draw(arrays(shapes()))
    new_shape = list(draw(st.permutations(x.shape))) + [1] * draw(st.integers(0, 1))
    if new_shape and draw(st.booleans()):
        new_shape[draw(st.integers(0, len(new_shape) - 1))] = -1
    return {"shape": tuple(new_shape)}, (x,)


@st.composite
def transpose_operand(draw):
    x = draw(arrays(shapes(min_dims=1)))
    dims = st.integers(-x.ndim, x.ndim - 1)
    return {"dim0": draw(dims), "dim1": draw(dims)}, (x,)


@st.composite
def permute_operand(draw):
    x = draw(arrays(shapes()))
    return {"dims": tuple(draw(st.permutations(range(x.ndim))))}, (x,)


@st.composite
def squeeze_operand(draw):
    # sides of 1 or 2, so there are axes to squeeze
    x = draw(arrays(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=2)))
    dim = draw(st.one_of(st.none(), axis_choices(x.ndim)))
    return {"dim": dim}, (x,)


@st.composite
def unsqueeze_operand(draw):
    x = draw(arrays(shapes()))
    return {"dim": draw(st.integers(-x.ndim - 1, x.ndim))}, (x,)


@st.composite
def flatten_operand(draw):
    x = draw(arrays(shapes(min_dims=1)))
    start = draw(st.integers(0, x.ndim - 1))
    end = draw(st.integers(start, x.ndim - 1))
    # either spelling of an axis: from the front or from the back
    return {"start": start - x.ndim * draw(st.booleans()), "end": end - x.ndim}, (x,)


@st.composite
def expand_operand(draw):
    small, other = draw(broadcastable_shapes(2, max_side=3))
    target = list(np.broadcast_shapes(small, other))
    lead = len(target) - len(small)
    for i, n in enumerate(small):  # -1 keeps an axis as it is (PyTorch's spelling)
        if target[lead + i] == n and draw(st.booleans()):
            target[lead + i] = -1
    return {"sizes": tuple(target)}, (draw(arrays(small)),)


@st.composite
def basic_index_operand(draw):
    x = draw(arrays(shapes()))
    index = draw(hnp.basic_indices(x.shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True))
    return {"index": index}, (x,)


@st.composite
def repeated_index_operand(draw):
    """Integer-array indices with repeats: more picks than the axis has elements, so some
    element is picked twice and its gradient must be the sum of both (a scatter-add)."""
    x = draw(arrays(shapes(min_dims=1)))
    n = x.shape[0]
    picks = st.integers(-n, n - 1)
    index = np.array(draw(st.lists(picks, min_size=n + 1, max_size=n + 3)))
    form = draw(st.sampled_from(["alone", "then slice", "two arrays"]))
    if form == "then slice" and x.ndim >= 2:
        return {"index": (index, slice(1, None))}, (x,)
    if form == "two arrays" and x.ndim >= 2:
        # one pick along axis 1, broadcast against the repeated picks along axis 0
        m = x.shape[1]
        second = np.array([draw(st.integers(-m, m - 1))])
        return {"index": (index, second)}, (x,)
    return {"index": index}, (x,)


@st.composite
def mask_index_operand(draw):
    x = draw(arrays(shapes(min_dims=1)))
    lead = draw(st.integers(1, x.ndim))  # a mask over the leading axes (or all of them)
    mask = draw(hnp.arrays(np.bool_, x.shape[:lead]))
    return {"index": mask}, (x,)


@st.composite
def cat_operands(draw):
    base = list(draw(shapes(min_dims=1)))
    axis = draw(st.integers(-len(base), len(base) - 1))
    xs = []
    for _ in range(draw(st.integers(1, 3))):
        base[axis] = draw(st.integers(1, 3))
        xs.append(draw(arrays(tuple(base))))
    return {"dim": axis}, tuple(xs)


@st.composite
def stack_operands(draw):
    shape = draw(shapes(max_dims=2))
    xs = tuple(draw(arrays(shape)) for _ in range(draw(st.integers(1, 3))))
    return {"dim": draw(st.integers(-len(shape) - 1, len(shape)))}, xs


@st.composite
def split_operand(draw):
    x = draw(arrays(shapes(min_dims=1, max_side=4)))
    dim = draw(st.integers(-x.ndim, x.ndim - 1))
    n = x.shape[dim]
    if draw(st.booleans()):
        return {"dim": dim, "sections": draw(st.integers(1, n))}, (x,)
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    sections = [b - a for a, b in zip([0, *cuts], [*cuts, n])]
    return {"dim": dim, "sections": sections}, (x,)


@st.composite
def chunk_operand(draw):
    x = draw(arrays(shapes(min_dims=1, max_side=4)))
    return {"chunks": draw(st.integers(1, 4)), "dim": draw(st.integers(-x.ndim, x.ndim - 1))}, (x,)


@st.composite
def pad_operand(draw):
    x = draw(arrays(shapes(min_dims=1)))
    pairs = draw(st.integers(1, x.ndim))
    widths = tuple(draw(st.lists(st.integers(0, 2), min_size=2 * pairs, max_size=2 * pairs)))
    return {"pad": widths, "value": draw(st.floats(-2, 2))}, (x,)


# ------------------------------------------------------------------------------------------
# The case table: name -> (function of (params, *tensors), case strategy)
# ------------------------------------------------------------------------------------------

Case = tuple[Callable, st.SearchStrategy]
ANY = arrays(shapes())


def _matmul(p, a, b):
    return a @ b


CASES: dict[str, Case] = {
    # elementwise binary, broadcasting operands
    "add": (lambda p, a, b: a + b, binary_operands()),
    "sub": (lambda p, a, b: a - b, binary_operands()),
    "mul": (lambda p, a, b: a * b, binary_operands()),
    "div": (lambda p, a, b: a / b, binary_operands(b_kwargs={"min_magnitude": 0.5})),
    "pow (tensor exponent)": (
        lambda p, a, b: a**b,
        binary_operands({"min_value": 0.5, "max_value": 2.0}, {"min_value": -2, "max_value": 2}),
    ),
    "maximum": (lambda p, a, b: tg.maximum(a, b), untied_operands()),
    "minimum": (lambda p, a, b: tg.minimum(a, b), untied_operands()),
    "Tensor.maximum": (lambda p, a, b: a.maximum(b), untied_operands()),
    "where": (lambda p, a, b: tg.where(p["cond"], a, b), where_operands()),
    # a Python number on either side
    "tensor + number": (lambda p, x: x + p["c"], scalar_operand()),
    "number + tensor": (lambda p, x: p["c"] + x, scalar_operand()),
    "tensor - number": (lambda p, x: x - p["c"], scalar_operand()),
    "number - tensor": (lambda p, x: p["c"] - x, scalar_operand()),
    "tensor * number": (lambda p, x: x * p["c"], scalar_operand()),
    "number * tensor": (lambda p, x: p["c"] * x, scalar_operand()),
    "tensor / number": (
        lambda p, x: x / p["c"],
        scalar_operand(c=st.floats(0.5, 3) | st.floats(-3, -0.5)),
    ),
    "number / tensor": (lambda p, x: p["c"] / x, scalar_operand({"min_magnitude": 0.5})),
    "tensor ** integer": (
        lambda p, x: x ** p["c"],
        scalar_operand({"min_magnitude": 0.5}, st.sampled_from([-2, -1, 0, 1, 2, 3])),
    ),
    "tensor ** fraction (positive base)": (
        lambda p, x: x ** p["c"],
        scalar_operand({"min_value": 0.5}, st.floats(-2, 2)),
    ),
    "number ** tensor": (
        lambda p, x: p["c"] ** x,
        scalar_operand({"min_value": -2, "max_value": 2}, st.floats(0.5, 3)),
    ),
    # matmul
    "matmul 2-D @ 2-D": (_matmul, matmul_operands(2, 2)),
    "matmul batched, broadcast batch axes": (_matmul, matmul_operands(3, 3)),
    "matmul batched @ 2-D": (_matmul, matmul_operands(3, 2)),
    "matmul 1-D @ 2-D": (_matmul, matmul_operands(1, 2)),
    "matmul 2-D @ 1-D": (_matmul, matmul_operands(2, 1)),
    "matmul 1-D @ 1-D": (_matmul, matmul_operands(1, 1)),
    "matmul 1-D @ batched": (_matmul, matmul_operands(1, 3)),
    # elementwise unary
    "neg": (lambda p, x: -x, one(ANY)),
    "exp": (lambda p, x: x.exp(), one(ANY)),
    "log": (lambda p, x: x.log(), one(arrays(shapes(), min_value=0.1, max_value=5))),
    "sqrt": (lambda p, x: x.sqrt(), one(arrays(shapes(), min_value=0.1, max_value=5))),
    "tanh": (lambda p, x: x.tanh(), one(ANY)),
    "sigmoid": (lambda p, x: x.sigmoid(), one(arrays(shapes(), min_value=-6, max_value=6))),
    "relu": (lambda p, x: x.relu(), one(arrays(shapes(), avoid=[0.0]))),
    "abs": (lambda p, x: x.abs(), one(arrays(shapes(), avoid=[0.0]))),
    "sign": (lambda p, x: x.sign(), one(arrays(shapes(), avoid=[0.0]))),
    # relu's gradient as an op of (g, x), recorded under create_graph: linear in g, flat in x
    "relu_backward": (
        lambda p, g, x: TensorBackend.relu_backward(g, x),
        binary_operands(b_kwargs={"avoid": [0.0]}),
    ),
    "clip(min, max)": (lambda p, x: x.clip(-1, 1), one(arrays(shapes(), avoid=[-1.0, 1.0]))),
    "clip(min only)": (lambda p, x: x.clip(min=0.5), one(arrays(shapes(), avoid=[0.5]))),
    "clamp(max only)": (lambda p, x: x.clamp(max=-0.5), one(arrays(shapes(), avoid=[-0.5]))),
    # reductions
    "sum": (lambda p, x: x.sum(p["axis"], p["keepdims"]), reduction_operand()),
    "sum(dim=, keepdim=)": (
        lambda p, x: x.sum(dim=p["axis"], keepdim=p["keepdims"]),
        reduction_operand(),
    ),
    "mean": (lambda p, x: x.mean(p["axis"], p["keepdims"]), reduction_operand()),
    "max": (lambda p, x: x.amax(p["axis"], p["keepdims"]), reduction_operand(min_gap=1e-3)),
    "min": (lambda p, x: x.amin(p["axis"], p["keepdims"]), reduction_operand(min_gap=1e-3)),
    "var": (
        lambda p, x: x.var(p["axis"], p["keepdims"]),
        # n = 1 has no degrees of freedom: NaN, tested in test_errors.py
        reduction_operand().filter(lambda c: reduced_count(*c) >= 2),
    ),
    "var(correction=0)": (
        lambda p, x: x.var(p["axis"], p["keepdims"], correction=0),
        reduction_operand(),
    ),
    "std": (
        lambda p, x: x.std(p["axis"], p["keepdims"]),
        # away from std = 0, its kink: distinct values, at least two per reduced slice
        reduction_operand(min_gap=1e-2).filter(lambda c: reduced_count(*c) >= 2),
    ),
    "logsumexp": (lambda p, x: x.logsumexp(p["axis"], p["keepdims"]), reduction_operand()),
    "softmax": (lambda p, x: x.softmax(p["axis"]), axis_operand()),
    "log_softmax": (lambda p, x: x.log_softmax(p["axis"]), axis_operand()),
    # shapes
    "reshape": (lambda p, x: x.reshape(p["shape"]), reshape_operand()),
    "view": (lambda p, x: x.view(*p["shape"]), reshape_operand()),
    "transpose": (lambda p, x: x.transpose(p["dim0"], p["dim1"]), transpose_operand()),
    "T": (lambda p, x: x.T, one(ANY)),
    "permute": (lambda p, x: x.permute(*p["dims"]), permute_operand()),
    "squeeze": (lambda p, x: x.squeeze(p["dim"]), squeeze_operand()),
    "unsqueeze": (lambda p, x: x.unsqueeze(p["dim"]), unsqueeze_operand()),
    "flatten": (lambda p, x: x.flatten(p["start"], p["end"]), flatten_operand()),
    "expand": (lambda p, x: x.expand(*p["sizes"]), expand_operand()),
    # indexing
    "getitem slices, ints, None, Ellipsis": (lambda p, x: x[p["index"]], basic_index_operand()),
    "getitem integer arrays with repeats": (
        lambda p, x: x[p["index"]],
        repeated_index_operand(),
    ),
    "getitem boolean mask": (lambda p, x: x[p["index"]], mask_index_operand()),
    # joining and splitting
    "cat": (lambda p, *xs: tg.cat(xs, p["dim"]), cat_operands()),
    "stack": (lambda p, *xs: tg.stack(xs, p["dim"]), stack_operands()),
    "split": (lambda p, x: tuple(x.split(p["sections"], p["dim"])), split_operand()),
    "chunk": (lambda p, x: tuple(tg.chunk(x, p["chunks"], p["dim"])), chunk_operand()),
    "pad": (lambda p, x: tg.pad(x, p["pad"], p["value"]), pad_operand()),
    # copies and casts
    "clone": (lambda p, x: x.clone(), one(ANY)),
    # a reversed-axes view made C-ordered: a real copy whenever the array has 2+ axes > 1
    "contiguous": (lambda p, x: x.permute(*reversed(range(x.ndim))).contiguous(), one(ANY)),
}


@pytest.mark.parametrize("name", CASES)
@settings(deadline=None)
@given(data=st.data())
def test_gradient_matches_finite_differences(name, data):
    fn, case = CASES[name]
    params, arrays_ = data.draw(case)
    assert gradcheck(lambda *xs: fn(params, *xs), leaves(*arrays_))


@pytest.mark.parametrize("name", CASES)
@settings(deadline=None)
@given(data=st.data())
def test_second_derivative_matches_finite_differences(name, data):
    fn, case = CASES[name]
    params, arrays_ = data.draw(case)
    # Every op, linear ones included: this runs each VJP rule through the create_graph path.
    # Ops with a kink (relu, abs, clip, max, maximum) are checked away from it, where their
    # second derivative is simply 0.
    assert gradgradcheck(lambda *xs: fn(params, *xs), leaves(*arrays_))


# -- casts: float32 in the middle of a float64 graph ----------------------------------------


@settings(deadline=None)
@given(arrays(shapes()))
def test_astype_float32_and_back_passes_the_gradient_through(x):
    # The function is linear, so a wide eps loses nothing to truncation and keeps float32
    # rounding (~1e-7 relative) out of the finite differences.
    (leaf,) = leaves(x)
    fn = lambda t: t.astype(np.float32).double() * 3.0
    assert gradcheck(fn, leaf, eps=1e-2, atol=1e-4)
    assert gradgradcheck(fn, leaf, eps=1e-2, atol=1e-4)


@settings(deadline=None)
@given(arrays(shapes(), dtype=np.float32))
def test_cast_gradient_comes_back_in_the_input_dtype(x):
    leaf = Tensor(x, requires_grad=True)
    w = np.arange(x.size, dtype=np.float64).reshape(x.shape)
    (leaf.double() * w).sum().backward()
    assert leaf.grad.dtype == np.float32
    np.testing.assert_array_equal(leaf.grad.data, w.astype(np.float32))


# -- scatter-add, pinned exactly ------------------------------------------------------------


@settings(deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=8))
def test_getitem_gradient_counts_every_pick_of_an_element(picks):
    x = Tensor(np.zeros(4), requires_grad=True)
    x[np.array(picks)].sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.bincount(picks, minlength=4))


# ------------------------------------------------------------------------------------------
# Conventions at kinks, pinned exactly (finite differences cannot see them)
# ------------------------------------------------------------------------------------------


@settings(deadline=None)
@given(arrays(shapes(), min_value=-2, max_value=2).map(lambda a: np.round(a)))
def test_relu_gradient_is_zero_at_zero_and_one_above(x):
    leaf = Tensor(x, requires_grad=True)
    leaf.relu().sum().backward()
    np.testing.assert_array_equal(leaf.grad.data, (x > 0).astype(np.float64))


@settings(deadline=None)
@given(arrays(shapes(), min_value=-2, max_value=2).map(lambda a: np.round(a)))
def test_abs_gradient_is_the_sign_and_zero_at_zero(x):
    leaf = Tensor(x, requires_grad=True)
    leaf.abs().sum().backward()
    np.testing.assert_array_equal(leaf.grad.data, np.sign(x))


@settings(deadline=None)
@given(arrays(shapes(), min_value=-2, max_value=2).map(lambda a: np.round(a * 2) / 2))
def test_clip_passes_the_gradient_at_its_bounds(x):
    leaf = Tensor(x, requires_grad=True)
    leaf.clip(-1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(leaf.grad.data, ((x >= -1) & (x <= 1)).astype(np.float64))


def sum_to_shape(g, shape):
    """Sum a broadcast gradient back to `shape` (numpy only, independent of the engine)."""
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


@pytest.mark.parametrize("op", [tg.maximum, tg.minimum])
@settings(deadline=None)
@given(st.data())
def test_maximum_and_minimum_split_the_gradient_evenly_at_ties(op, data):
    _, (a, b) = data.draw(binary_operands())
    a, b = np.round(a), np.round(b)  # integers: ties are frequent
    ta, tb = leaves(a, b)
    op(ta, tb).sum().backward()
    a_wins = np.greater(a, b) if op is tg.maximum else np.less(a, b)
    share_a = np.where(a == b, 0.5, a_wins.astype(np.float64))
    np.testing.assert_array_equal(ta.grad.data, sum_to_shape(share_a, a.shape))
    np.testing.assert_array_equal(tb.grad.data, sum_to_shape(1 - share_a, b.shape))


@pytest.mark.parametrize("reduce", ["max", "min"])
@settings(deadline=None)
@given(st.data())
def test_amax_and_amin_reductions_split_the_gradient_evenly_among_ties(reduce, data):
    x = np.round(data.draw(arrays(shapes(min_dims=1))))  # rounding makes ties likely
    axis = data.draw(axis_choices(x.ndim))
    leaf = Tensor(x, requires_grad=True)
    getattr(leaf, "a" + reduce)(axis).sum().backward()
    norm_axis = None if axis is None else tuple(np.atleast_1d(axis) % x.ndim)
    extreme = getattr(np, reduce)(x, axis=norm_axis, keepdims=True)
    winners = (x == extreme).astype(np.float64)
    np.testing.assert_allclose(leaf.grad.data, winners / winners.sum(norm_axis, keepdims=True))


def test_pow_gradient_at_zero_to_the_zero_is_zero():
    # 0 * 0**-1 would be NaN; PyTorch defines the limit as 0, for a number or tensor exponent
    x = Tensor(np.array([0.0, 2.0]), requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    x, b = leaves([0.0, 2.0], [0.0, 0.0])
    (x**b).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    np.testing.assert_allclose(b.grad.data, [0.0, np.log(2.0)])


@pytest.mark.parametrize("exponent", [0, "tensor"])
def test_pow_second_derivative_at_zero_to_the_zero_is_zero_not_nan(exponent):
    # x**0 is flat: every derivative is 0, also at x = 0 where 0**-1 and 0**-2 are inf
    x = Tensor(np.array([0.0, 2.0]), requires_grad=True)
    b = Tensor(np.zeros(2)) if exponent == "tensor" else exponent
    (g,) = tg.grad((x**b).sum(), x, create_graph=True)
    (gg,) = tg.grad(g.sum(), x, allow_unused=True)
    np.testing.assert_array_equal(g.data, [0.0, 0.0])
    assert gg is None or np.array_equal(gg.data, [0.0, 0.0])


def test_pow_mixed_second_derivative_at_a_zero_exponent_is_the_true_one():
    # d/db (b a**(b-1)) = a**(b-1) (1 + b log a): 1/a at b = 0. PyTorch 2.13 returns 0 there
    # (its pow_backward masks exponent == 0 as a constant); we keep the derivative of the
    # formula, which is what finite differences measure (`gradgradcheck` below).
    a, b = leaves([0.5, 2.0, 4.0], [0.0, 0.0, 0.0])
    (ga,) = tg.grad((a**b).sum(), a, create_graph=True)
    (gab,) = tg.grad(ga.sum(), b)
    np.testing.assert_allclose(gab.data, [2.0, 0.5, 0.25])
    assert gradgradcheck(lambda x, y: x**y, leaves([0.5, 2.0, 4.0], [0.0, 0.0, 0.0]))


@pytest.mark.parametrize("exponent, expected", [(0, 0.0), (0.5, math.inf), (1, 1.0), (2, 0.0)])
def test_value_pow_gradient_at_a_zero_base_follows_pytorch(exponent, expected):
    x = Value(0.0)
    (x**exponent).backward()
    assert x.grad == expected


# ------------------------------------------------------------------------------------------
# Numerical stability far from 0
# ------------------------------------------------------------------------------------------

HUGE = st.one_of(st.sampled_from([-1e4, 1e4]), st.floats(-1e4, 1e4))


@pytest.mark.parametrize(
    "name, fn",
    [
        ("softmax", lambda x: x.softmax(-1)),
        ("log_softmax", lambda x: x.log_softmax(-1)),
        ("logsumexp", lambda x: x.logsumexp(-1, keepdims=True)),
        ("sigmoid", lambda x: x.sigmoid()),
    ],
)
@settings(deadline=None)
@given(x=hnp.arrays(np.float64, shapes(min_dims=1, max_side=4), elements=HUGE))
def test_ops_stay_finite_with_finite_gradients_at_magnitude_1e4(name, fn, x):
    leaf = Tensor(x, requires_grad=True)
    out = fn(leaf)
    w = np.linspace(-1, 1, out.numel()).reshape(out.shape)
    (out * w).sum().backward()
    assert np.all(np.isfinite(out.data)), name
    assert np.all(np.isfinite(leaf.grad.data)), name


def test_softmax_and_friends_at_magnitude_1e4_give_the_exact_limits():
    x = Tensor(np.array([[-1e4, 0.0, 1e4]]), requires_grad=True)
    np.testing.assert_allclose(x.softmax(-1).data, [[0.0, 0.0, 1.0]])
    np.testing.assert_allclose(x.log_softmax(-1).data, [[-2e4, -1e4, 0.0]])
    np.testing.assert_allclose(x.logsumexp(-1).data, [1e4])
    np.testing.assert_allclose(x.sigmoid().data, [[0.0, 0.5, 1.0]])
    x.log_softmax(-1).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[1.0, 1.0, -2.0]])


# ------------------------------------------------------------------------------------------
# dtypes
# ------------------------------------------------------------------------------------------


@settings(deadline=None)
@given(expression_graphs(dtype=np.float32, n_inputs=2))
def test_float32_graphs_stay_float32_values_and_gradients(graph):
    xs = graph.make_inputs()
    out = graph.fn(*xs)
    assert out.dtype == np.float32, graph.description
    out.sum().backward()
    for x in xs:
        assert x.grad.dtype == np.float32, graph.description


SCALAR_FORMS = {
    "x + 1.5": lambda x: x + 1.5,
    "2 - x": lambda x: 2 - x,
    "x * 2.5": lambda x: x * 2.5,
    "3 / x": lambda x: 3 / x,
    "x / 3.0": lambda x: x / 3.0,
    "x ** 2": lambda x: x**2,
    "x ** 0.5": lambda x: x**0.5,
    "2.0 ** x": lambda x: 2.0**x,
    "maximum(x, 0.5)": lambda x: tg.maximum(x, 0.5),
    "minimum(0.5, x)": lambda x: tg.minimum(0.5, x),
    "where(c, x, 0.0)": lambda x: tg.where(x.data > 1, x, 0.0),
    "clip(0.0, 2.0)": lambda x: x.clip(0.0, 2.0),
    "np.float64(2) * x": lambda x: np.float64(2.0) * x,
}


@pytest.mark.parametrize("form", SCALAR_FORMS)
def test_python_and_numpy_scalars_do_not_upcast_float32(form):
    x = Tensor([0.5, 1.5, 2.5], requires_grad=True)
    out = SCALAR_FORMS[form](x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


def test_one_hot_is_not_differentiable():
    encoded = tg.one_hot(Tensor(np.array([0, 2, 1])), 3)
    assert encoded.dtype == np.int64 and not encoded.requires_grad and encoded.is_leaf
    with pytest.raises(DTypeError, match="floating point"):
        encoded.requires_grad_()


# ------------------------------------------------------------------------------------------
# Value: the scalar face, against finite differences in Python floats
# ------------------------------------------------------------------------------------------

H = 1e-6


def numeric_partials(f, xs):
    """Central differences of the float function `f` at the point `xs`."""
    out = []
    for i in range(len(xs)):
        up = list(xs)
        down = list(xs)
        up[i] += H
        down[i] -= H
        out.append((f(*up) - f(*down)) / (2 * H))
    return out


def value_partials(f, xs):
    vs = [Value(x) for x in xs]
    f(*vs).backward()
    return [v.grad for v in vs]


def as_float(f):
    return lambda *xs: f(*(Value(x) for x in xs)).data


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-5)


FLOATS = st.floats(-3, 3)
AWAY_FROM_0 = st.floats(0.5, 3) | st.floats(-3, -0.5)
POSITIVE = st.floats(0.1, 3)
NOT_0 = st.floats(0.01, 3) | st.floats(-3, -0.01)

VALUE_CASES = {
    "Value + Value": (lambda a, b: a + b, (FLOATS, FLOATS)),
    "Value - Value": (lambda a, b: a - b, (FLOATS, FLOATS)),
    "Value * Value": (lambda a, b: a * b, (FLOATS, FLOATS)),
    "Value / Value": (lambda a, b: a / b, (FLOATS, AWAY_FROM_0)),
    "Value ** Value": (lambda a, b: a**b, (POSITIVE, FLOATS)),
    "Value ** integer": (lambda a: a**3 + a**-2, (AWAY_FROM_0,)),
    "Value ** fraction": (lambda a: a**1.5, (POSITIVE,)),
    "number ** Value": (lambda a: 2.5**a, (FLOATS,)),
    "number + - * / Value": (lambda a: (2 + a) * (3 - a) + 2.5 * a + 1 / (a * a + 1), (FLOATS,)),
    "Value + - * / number": (lambda a: ((a + 2) - 3) * 1.5 / 4, (FLOATS,)),
    "neg": (lambda a: -a, (FLOATS,)),
    "exp": (lambda a: a.exp(), (FLOATS,)),
    "log": (lambda a: a.log(), (POSITIVE,)),
    "tanh": (lambda a: a.tanh(), (FLOATS,)),
    "sigmoid": (lambda a: a.sigmoid(), (FLOATS,)),
    "relu": (lambda a: a.relu(), (NOT_0,)),
    "sqrt": (lambda a: a.sqrt(), (POSITIVE,)),
    "abs": (lambda a: abs(a), (NOT_0,)),
    "sign": (lambda a: a.sign() * a, (NOT_0,)),
    "maximum(Value, Value)": (
        lambda a, b: value_maximum(a, b),
        (st.integers(-3, 3).map(float), st.integers(-3, 3).map(lambda k: k + 0.5)),
    ),
    "maximum(Value, number)": (
        lambda a: value_maximum(a, 0.25),
        (NOT_0.filter(lambda a: abs(a - 0.25) > 1e-2),),
    ),
}


@pytest.mark.parametrize("name", VALUE_CASES)
@settings(deadline=None)
@given(data=st.data())
def test_value_gradient_matches_finite_differences(name, data):
    f, domains = VALUE_CASES[name]
    xs = [data.draw(d) for d in domains]
    analytic = value_partials(f, xs)
    numeric = numeric_partials(as_float(f), xs)
    assert all(close(a, n) for a, n in zip(analytic, numeric)), (xs, analytic, numeric)


@pytest.mark.parametrize("name", VALUE_CASES)
@settings(deadline=None)
@given(data=st.data())
def test_value_second_derivative_with_create_graph_matches_finite_differences(name, data):
    f, domains = VALUE_CASES[name]
    xs = [data.draw(d) for d in domains]
    vs = [Value(x) for x in xs]
    first = tg.grad(f(*vs), vs, create_graph=True)
    for i, d_i in enumerate(first):
        assert close(d_i.data, value_partials(f, xs)[i])
        if not d_i.requires_grad:  # a constant first derivative: the second is 0
            continue
        second = tg.grad(d_i, vs, allow_unused=True)
        numeric = numeric_partials(lambda *ys, i=i: value_partials(f, ys)[i], xs)
        for s, n in zip(second, numeric):
            assert close(0.0 if s is None else s.data, n), (xs, i, second, numeric)


@pytest.mark.parametrize(
    "name, f, x, expected",
    [
        ("relu at 0", lambda a: a.relu(), 0.0, 0.0),
        ("abs at 0", lambda a: abs(a), 0.0, 0.0),
        ("maximum at a tie", lambda a: value_maximum(a, 0.0), 0.0, 0.5),
    ],
)
def test_value_kink_conventions(name, f, x, expected):
    v = Value(x)
    f(v).backward()
    assert v.grad == expected


# -- an infinite upstream gradient stays infinite (PyTorch's result, not inf - inf = NaN) -----


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda x: x.tanh().sqrt(), np.inf),  # d sqrt(u) at u = tanh(0) = 0 is +inf
        (lambda x: 1 / (x.sigmoid() - 0.5), -np.inf),  # d (1/u) at u = 0 is -inf
    ],
    ids=["tanh", "sigmoid"],
)
def test_an_infinite_upstream_gradient_stays_infinite(make, expected):
    x = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        make(x).sum().backward()
    assert x.grad.data[0] == expected
    assert np.isfinite(x.grad.data[1])


def test_sigmoid_gradient_keeps_its_relative_precision_near_saturation():
    # The derivative is read from the float32 output s. s (1 - s) is then exact to rounding,
    # where s - s^2 cancels as s -> 1 (relative error up to 1e-4 here): compare with s (1 - s)
    # of the very same s, computed in float64.
    x32 = Tensor(np.array([5.0, 7.0, 9.0, 12.0], dtype=np.float32), requires_grad=True)
    y = x32.sigmoid()
    y.sum().backward()
    s = y.data.astype(np.float64)
    np.testing.assert_allclose(x32.grad.data, s * (1 - s), rtol=3e-7)


def test_relu_passes_nan_and_its_gradient_and_blocks_it_at_zero_as_pytorch():
    # PyTorch's threshold rule: blocked where x <= 0, passed elsewhere (NaN > 0 is false, but
    # NaN <= 0 is false too, so NaN passes). The fused nn.RNN relu step follows the same rule.
    x = Tensor(np.array([np.nan, -1.0, 0.0, 2.0]), requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.0, 0.0, 1.0])
    s = Tensor(np.array(np.nan), requires_grad=True)  # 0-d
    s.relu().backward()
    assert s.grad.item() == 1.0
    v = Value(math.nan)  # the scalar face follows the same rule
    y = v.relu()
    y.backward()
    assert math.isnan(y.data) and v.grad == 1.0
