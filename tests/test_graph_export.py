"""`export_graph`, the neutral description of a graph that the visualiser reads: stable
increasing ids, ordered edges, node kinds, shapes and dtypes, scopes, value and gradient
summaries, non-finite flags, for Values and Tensors alike, and no recursion on deep graphs."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor, Value
from tinygrad_lite.graph import SMALL, Graph, export_graph, summarize


def leaf(array, requires_grad: bool = True, name: str | None = None) -> Tensor:
    return Tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad, name=name)


# --------------------------------------------------------------------------------------------
# Ids and order
# --------------------------------------------------------------------------------------------


def test_node_ids_increase_in_topological_order():
    a = Value(1.0)
    b = a * 2
    c = b + a
    ids = [n.id for n in export_graph(c).nodes]
    assert ids == sorted(ids)
    assert ids[-1] == c._id


def test_every_edge_goes_from_an_earlier_node_to_a_later_one():
    x = leaf([1.0, 2.0])
    graph = export_graph(((x * 3).tanh() * x).sum())
    position = {n.id: i for i, n in enumerate(graph.nodes)}
    assert all(position[e.src] < position[e.dst] for e in graph.edges)


def test_exporting_twice_gives_the_same_graph():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    assert export_graph(y) == export_graph(y)


def test_ids_are_unchanged_by_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    before = [n.id for n in export_graph(y).nodes]
    y.backward()
    assert [n.id for n in export_graph(y).nodes] == before


def test_node_ids_are_the_engine_ids():
    a = Value(1.0, label="a")
    graph = export_graph(a + 1)
    assert graph.node(a._id).label == "a"


def test_outputs_lists_the_exported_roots():
    x = leaf([1.0])
    y, z = x * 2, x + 1
    graph = export_graph(y, z)
    assert graph.outputs == (y._id, z._id)


def test_several_outputs_share_their_common_nodes_once():
    x = leaf([1.0])
    hidden = x * 2
    graph = export_graph(hidden + 1, hidden - 1)
    ids = [n.id for n in graph.nodes]
    assert len(ids) == len(set(ids))
    assert hidden._id in ids


# --------------------------------------------------------------------------------------------
# Ordered edges
# --------------------------------------------------------------------------------------------


def test_a_times_a_has_two_edges_with_index_0_and_1():
    a = Value(3.0)
    y = a * a
    graph = export_graph(y)
    edges = sorted((e.src, e.dst, e.index) for e in graph.edges)
    assert edges == [(a._id, y._id, 0), (a._id, y._id, 1)]


def test_edges_keep_operand_order():
    a, b = leaf([1.0]), leaf([2.0])
    y = b - a
    assert export_graph(y).parents(y._id) == [b._id, a._id]


def test_edge_indexes_count_the_operands_of_cat():
    a, b, c = leaf([1.0]), leaf([2.0]), leaf([3.0])
    y = tl.cat([a, b, c])
    graph = export_graph(y)
    assert graph.parents(y._id) == [a._id, b._id, c._id]
    assert sorted(e.index for e in graph.edges if e.dst == y._id) == [0, 1, 2]


# --------------------------------------------------------------------------------------------
# Node descriptions
# --------------------------------------------------------------------------------------------


def test_kinds_are_parameter_constant_and_op():
    w = leaf([1.0, 2.0])
    c = leaf([3.0, 4.0], requires_grad=False)
    y = w * c
    graph = export_graph(y)
    assert graph.node(w._id).kind == "parameter"
    assert graph.node(c._id).kind == "constant"
    assert graph.node(y._id).kind == "op"


def test_a_python_number_in_an_expression_is_a_constant_node():
    a = Value(2.0)
    y = a * 5
    (kinds,) = [n.kind for n in export_graph(y).nodes if n.value.numbers == (5.0,)]
    assert kinds == "constant"


def test_op_nodes_carry_the_op_name():
    x = leaf([[1.0, 2.0]])
    y = (x @ x.T).sum()
    assert [n.op for n in export_graph(y).nodes if n.kind == "op"] == ["permute", "matmul", "sum"]


def test_tensor_nodes_carry_shape_and_dtype():
    x = leaf(np.ones((2, 3)))
    info = export_graph(x.sum(1)).node(x._id)
    assert info.shape == (2, 3)
    assert info.dtype == "float64"
    assert not info.is_scalar


def test_result_shape_and_dtype_follow_the_op():
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    y = x.sum(1)
    info = export_graph(y).node(y._id)
    assert (info.shape, info.dtype) == ((2,), "float32")


def test_value_nodes_are_scalars_with_an_empty_shape():
    a = Value(1.0)
    info = export_graph(a * 2).node(a._id)
    assert info.is_scalar
    assert info.shape == ()
    assert info.dtype == "float"


def test_labels_come_from_value_labels_and_tensor_names():
    a = Value(1.0, label="a")
    w = leaf([1.0], name="weight")
    assert export_graph(a * 2).node(a._id).label == "a"
    assert export_graph(w * 2).node(w._id).label == "weight"


def test_requires_grad_is_exported():
    c = leaf([1.0], requires_grad=False)
    w = leaf([1.0])
    graph = export_graph(w * c)
    assert graph.node(w._id).requires_grad
    assert not graph.node(c._id).requires_grad


def test_scope_is_exported():
    x = leaf([1.0])
    with tl.scope("lstm"), tl.scope("t=0"):
        y = x * 2
    graph = export_graph(y)
    assert graph.node(y._id).scope == "lstm/t=0"
    assert graph.scopes == ["lstm/t=0"]


def test_exported_nodes_are_frozen():
    info = export_graph(Value(1.0) * 2).nodes[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.op = "changed"


# --------------------------------------------------------------------------------------------
# Value and gradient summaries
# --------------------------------------------------------------------------------------------


def test_small_tensors_carry_all_their_numbers():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    assert export_graph(x * 1).node(x._id).value.numbers == (1.0, 2.0, 3.0, 4.0)


def test_exactly_sixteen_elements_still_carry_numbers():
    x = leaf(np.arange(float(SMALL)))
    assert SMALL == 16
    assert export_graph(x * 1).node(x._id).value.numbers == tuple(range(16))


def test_large_tensors_carry_statistics_instead_of_numbers():
    data = np.arange(17.0) - 3.0
    x = leaf(data)
    summary = export_graph(x * 1).node(x._id).value
    assert summary.numbers is None
    assert summary.shape == (17,)
    assert (summary.min, summary.max) == (-3.0, 13.0)
    assert summary.mean == pytest.approx(data.mean())
    assert summary.norm == pytest.approx(np.linalg.norm(data))


def test_value_summary_of_a_scalar():
    summary = export_graph(Value(-2.5) * 1).nodes[0].value
    assert summary.numbers == (-2.5,)
    assert summary.norm == 2.5


def test_grad_is_none_before_backward():
    x = leaf([1.0, 2.0])
    graph = export_graph((x * x).sum())
    assert all(n.grad is None for n in graph.nodes)


def test_grad_is_set_after_backward_on_leaves_and_intermediates():
    x = leaf([1.0, 2.0])
    hidden = x * x
    y = hidden.sum()
    y.backward()
    graph = export_graph(y)
    assert graph.node(x._id).grad.numbers == (2.0, 4.0)
    assert graph.node(hidden._id).grad.numbers == (1.0, 1.0)
    assert graph.node(y._id).grad.numbers == (1.0,)


def test_value_grad_is_set_after_backward():
    a = Value(3.0)
    y = a * a
    assert export_graph(y).node(a._id).grad is None
    y.backward()
    assert export_graph(y).node(a._id).grad.numbers == (6.0,)


def test_constants_get_no_grad_summary():
    c = leaf([2.0], requires_grad=False)
    w = leaf([1.0])
    y = (w * c).sum()
    y.backward()
    assert export_graph(y).node(c._id).grad is None


def test_nonfinite_flag_marks_inf_and_nan_values():
    x = leaf([0.0, -1.0])
    y = x.log()  # -inf and NaN
    graph = export_graph(y)
    assert not graph.node(x._id).value.nonfinite
    assert graph.node(y._id).value.nonfinite


def test_an_infinite_leaf_is_flagged():
    x = leaf([1.0, np.inf])
    assert export_graph(x.sum()).node(x._id).value.nonfinite


def test_statistics_skip_nonfinite_elements():
    summary = summarize(np.array([1.0, np.nan, 3.0]))
    assert summary.nonfinite
    assert (summary.min, summary.max, summary.mean) == (1.0, 3.0, 2.0)


def test_finite_values_are_not_flagged():
    assert not summarize(np.array([1.0, -2.0])).nonfinite


def test_nonfinite_gradients_are_flagged():
    x = leaf([0.0, 4.0])
    y = x.sqrt().sum()
    y.backward()  # d sqrt / dx at 0 is inf
    assert export_graph(y).node(x._id).grad.nonfinite


def test_all_nonfinite_summary_has_nan_statistics():
    summary = summarize(np.array([np.inf]))
    assert summary.nonfinite
    assert math.isnan(summary.mean)


# --------------------------------------------------------------------------------------------
# Depth and isolation
# --------------------------------------------------------------------------------------------


def test_export_of_a_deep_value_chain_does_not_recurse():
    x = Value(1.0)
    out = x
    for _ in range(20_000):
        out = -out
    graph = export_graph(out)
    assert len(graph.nodes) == 20_001
    assert len(graph.edges) == 20_000


def test_export_of_a_deep_tensor_chain_does_not_recurse():
    x = leaf([1.0])
    out = x
    for _ in range(5_000):
        out = -out
    assert len(export_graph(out).nodes) == 5_001


def test_export_does_not_change_the_gradients_backward_computes():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    export_graph(y)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


def test_export_returns_a_graph_of_plain_python_data():
    graph = export_graph(leaf([1.0, 2.0]).sum())
    assert isinstance(graph, Graph)
    for node in graph.nodes:
        assert all(isinstance(v, float) for v in node.value.numbers)
        assert isinstance(node.value.norm, float)
