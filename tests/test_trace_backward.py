"""trace_backward: the engine's backward events written down, for the BPTT viewers."""

import numpy as np
import pytest

from tinygrad_lite import Tensor, Value, manual_seed, nn
from tinygrad_lite.errors import GraphFreedError
from tinygrad_lite.graph import trace_backward


def _lstm_loss(seed=0):
    manual_seed(seed)
    rng = np.random.default_rng(seed)
    lstm = nn.LSTM(3, 4).double()
    x = Tensor(rng.standard_normal((5, 2, 3)), requires_grad=True)
    out, _ = lstm(x)
    return lstm, x, (out * out).sum()


def _leaf_sums(trace):
    sums = {}
    for event in trace.events:
        for sent in event.sent:
            if not trace.graph.node(sent.edge.src).kind == "op":
                sums[sent.edge.src] = sums.get(sent.edge.src, 0) + sent.array
    return sums


def test_sent_gradients_of_each_leaf_add_up_to_its_grad():
    lstm, x, loss = _lstm_loss()
    trace = trace_backward(loss, keep_arrays=True)
    sums = _leaf_sums(trace)
    for leaf in [x, *lstm.parameters()]:
        np.testing.assert_allclose(sums[leaf._id], leaf.grad.data, rtol=1e-12, atol=1e-12)
    assert trace.accumulated


def test_acts_as_backward_once():
    _, x, loss = _lstm_loss()
    trace_backward(loss)
    reference_lstm, reference_x, reference_loss = _lstm_loss()
    reference_loss.backward()
    np.testing.assert_allclose(x.grad.data, reference_x.grad.data)


def test_replay_after_retained_backward_does_not_add_again():
    _, x, loss = _lstm_loss()
    loss.backward(retain_graph=True)
    before = x.grad.data.copy()
    trace = trace_backward(loss, keep_arrays=True)
    assert not trace.accumulated
    np.testing.assert_array_equal(x.grad.data, before)
    np.testing.assert_allclose(_leaf_sums(trace)[x._id], before, rtol=1e-12)


def test_one_event_per_op_node_in_driver_order():
    a = Value(2.0)
    b = a * a + a
    trace = trace_backward(b)
    assert [trace.graph.node(e.node).op for e in trace.events] == ["+", "*"]
    assert [e.index for e in trace.events] == [0, 1]


def test_interior_gradients_are_kept_in_the_export_despite_the_limit():
    from tinygrad_lite import set_interior_grad_limit

    previous = set_interior_grad_limit(0)
    try:
        x = Tensor(np.ones(3), requires_grad=True)
        h = x * 2
        trace = trace_backward((h * h).sum())
    finally:
        set_interior_grad_limit(previous)
    assert trace.graph.node(h._id).grad.norm == pytest.approx(np.linalg.norm(4 * np.ones(3)))


def test_freed_graph_raises_a_clear_error():
    _, _, loss = _lstm_loss()
    loss.backward()
    with pytest.raises(GraphFreedError, match="retain_graph=True"):
        trace_backward(loss)
