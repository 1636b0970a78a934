"""The public hypothesis strategies (tinygrad_lite.testing) draw what their docstrings promise:
bounded, kink-free arrays, shapes that broadcast, and finite, gradcheck-clean expression graphs.
"""

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from tinygrad_lite import Tensor
from tinygrad_lite.gradcheck import gradcheck
from tinygrad_lite.testing import (
    GRAPH_OPS,
    ExpressionGraph,
    Step,
    arrays,
    broadcastable_shapes,
    expression_graphs,
)

FIND = settings(max_examples=1000, derandomize=True, database=None)

# ------------------------------------------------------------------------------------------
# arrays
# ------------------------------------------------------------------------------------------


@st.composite
def array_requests(draw):
    """Keyword arguments for `arrays` that leave something to draw from."""
    lo = draw(st.floats(-10, 9, allow_nan=False))
    hi = draw(st.floats(lo + 1, 10))
    min_magnitude = draw(st.floats(0, 0.5))
    avoid = draw(st.lists(st.floats(-10, 10), max_size=3))
    return dict(min_value=lo, max_value=hi, min_magnitude=min_magnitude, avoid=avoid, margin=0.05)


@settings(deadline=None)
@given(st.data())
def test_arrays_stay_within_bounds_and_away_from_zero_and_avoided_points(data):
    request = data.draw(array_requests())
    a = data.draw(arrays((3, 2), **request))
    assert np.all(a >= request["min_value"]) and np.all(a <= request["max_value"])
    assert np.all(np.abs(a) >= request["min_magnitude"])
    for p in request["avoid"]:
        assert np.all(np.abs(a - p) >= request["margin"])


@settings(deadline=None)
@given(st.data(), st.sampled_from([np.float32, np.float64]))
def test_arrays_have_the_requested_shape_and_dtype(data, dtype):
    shape = data.draw(st.lists(st.integers(1, 3), max_size=3).map(tuple))
    a = data.draw(arrays(shape, dtype=dtype, min_value=-0.1, max_value=0.3, min_magnitude=0.01))
    assert a.shape == shape and a.dtype == dtype
    # float32 bounds are rounded inward, never outward
    assert np.all(a >= np.float32(-0.1)) and np.all(a <= np.float32(0.3))


@settings(deadline=None)
@given(arrays(st.just((3, 3)), min_gap=1e-3))
def test_arrays_with_min_gap_have_well_separated_elements(a):
    gaps = np.diff(np.sort(a, axis=None))
    assert np.all(gaps >= 1e-3)


@settings(deadline=None)
@given(arrays())
def test_arrays_default_to_small_finite_arrays_of_any_rank(a):
    assert a.dtype == np.float64 and a.ndim <= 3 and all(1 <= n <= 4 for n in a.shape)
    assert np.all(np.isfinite(a)) and np.all(np.abs(a) <= 3)


def test_arrays_draw_from_both_sides_of_an_excluded_zone():
    strategy = arrays((1,), min_value=-1, max_value=1, min_magnitude=0.5)
    assert find(strategy, lambda a: a[0] < 0, settings=FIND)[0] <= -0.5
    assert find(strategy, lambda a: a[0] > 0, settings=FIND)[0] >= 0.5


def test_arrays_reject_a_range_with_nothing_left():
    with pytest.raises(ValueError, match="nothing is left"):
        arrays((2,), min_value=-1, max_value=1, min_magnitude=2)


def test_arrays_reject_integer_dtypes():
    with pytest.raises(ValueError, match="float32 or float64"):
        arrays((2,), dtype=np.int64)


# ------------------------------------------------------------------------------------------
# broadcastable_shapes
# ------------------------------------------------------------------------------------------


@settings(deadline=None)
@given(st.data(), st.integers(1, 4))
def test_broadcastable_shapes_broadcast_together_within_bounds(data, num_shapes):
    shapes = data.draw(broadcastable_shapes(num_shapes, min_dims=1, max_dims=3, max_side=3))
    assert len(shapes) == num_shapes
    np.broadcast_shapes(*shapes)  # raises ValueError if numpy refuses them
    for shape in shapes:
        assert 1 <= len(shape) <= 3 and all(1 <= n <= 3 for n in shape)


def test_broadcastable_shapes_include_size_one_axes_that_stretch():
    def stretched(shapes):
        a, b = shapes
        return len(a) == len(b) and any(m == 1 and n > 1 for m, n in zip(a, b))

    find(broadcastable_shapes(2), stretched, settings=FIND)


def test_broadcastable_shapes_include_missing_leading_axes():
    find(broadcastable_shapes(2, min_dims=1), lambda s: len(s[0]) < len(s[1]), settings=FIND)


def test_broadcastable_shapes_reject_a_bad_side_range():
    with pytest.raises(ValueError, match="min_side"):
        broadcastable_shapes(2, min_side=0)


# ------------------------------------------------------------------------------------------
# expression_graphs
# ------------------------------------------------------------------------------------------


def graph_depth(graph: ExpressionGraph) -> int:
    heights = [0] * len(graph.inputs)
    for step in graph.steps:
        heights.append(1 + max(heights[i] for i in step.args))
    return heights[-1]


@settings(deadline=None)
@given(expression_graphs())
def test_expression_graphs_evaluate_to_finite_values(graph):
    out = graph.fn(*graph.make_inputs())
    assert out.dtype == np.float64
    assert np.all(np.isfinite(out.data))
    np.broadcast_shapes(out.shape, *(x.shape for x in graph.inputs))


@settings(deadline=None)
@given(expression_graphs())
def test_expression_graphs_pass_gradcheck(graph):
    assert gradcheck(graph.fn, graph.make_inputs())


@settings(deadline=None)
@given(expression_graphs(n_inputs=3))
def test_expression_graphs_use_every_input(graph):
    used = {i for step in graph.steps for i in step.args}
    assert used >= {0, 1, 2}
    for i in range(3):
        assert f"x{i}" in graph.description


@settings(deadline=None)
@given(expression_graphs(ops=["+", "*", "neg", "tanh", "sigmoid"], n_inputs=1, min_depth=2))
def test_expression_graphs_depth_lies_between_min_and_max_depth(graph):
    assert 2 <= graph_depth(graph) <= 3


@settings(deadline=None)
@given(expression_graphs(ops=["*", "exp", "sum"]))
def test_expression_graphs_use_only_the_requested_ops(graph):
    assert set(graph.ops) <= {"*", "exp", "sum", "+"}  # "+" adds inputs left unused


@settings(deadline=None)
@given(expression_graphs(dtype=np.float32))
def test_expression_graphs_of_float32_inputs_evaluate_in_float32(graph):
    assert all(x.dtype == np.float32 for x in graph.inputs)
    assert graph.fn(*graph.make_inputs()).dtype == np.float32


@settings(deadline=None)
@given(expression_graphs())
def test_expression_graphs_every_step_takes_earlier_values(graph):
    for k, step in enumerate(graph.steps):
        assert step.op in GRAPH_OPS
        assert len(step.args) == GRAPH_OPS[step.op].arity
        assert all(0 <= i < len(graph.inputs) + k for i in step.args)


def test_expression_graphs_reuse_an_intermediate_result():
    def fans_out(graph):
        n = len(graph.inputs)
        uses = [i for step in graph.steps for i in step.args if i >= n]
        return len(uses) > len(set(uses))

    find(expression_graphs(), fans_out, settings=FIND)


def test_expression_graphs_reach_their_max_depth():
    find(expression_graphs(max_depth=4), lambda g: graph_depth(g) >= 4, settings=FIND)


def test_expression_graphs_reject_unknown_ops():
    with pytest.raises(ValueError, match="unknown ops"):
        expression_graphs(ops=["sin"])


def test_expression_graph_replays_with_another_op_table():
    graph = ExpressionGraph(
        inputs=(np.array([1.0, 2.0]), np.array([3.0, 4.0])),
        steps=(Step("*", (0, 1)), Step("neg", (2,))),
        description="-(x0 * x1)",
    )
    numpy_ops = {"*": np.multiply, "neg": np.negative}
    assert graph.replay(numpy_ops, *graph.inputs).tolist() == [-3.0, -8.0]
    assert graph.fn(*(Tensor(x) for x in graph.inputs)).tolist() == [-3.0, -8.0]
    assert "-(x0 * x1)" in repr(graph)
