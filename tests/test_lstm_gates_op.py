"""The fused LSTM gates node of `lstm_step` (op `lstm_gates`, nn/rnn_cells.py): one node for
sigmoid / tanh / sigmoid / sigmoid on the blocks i, f, g, o of [x_1, ..., x_k, h] @ w_t + b.

Its gradients are checked against central differences in float64 (first and second order, with
create_graph=True) for one or two input parts, with and without a bias, and every combination of
operands that do or do not require grad. The rest pins what the fusion is for: the same numbers
as the unfused ops, three nodes per LSTM time step, nothing computed that was not asked for.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from recurrent_step_cases import (
    assert_fused_equals_unfused,
    draw_step_operands,
    leaves,
    twin_of,
)

import tinygrad_lite as tg
from tinygrad_lite import ShapeError, Tensor, cat, nn
from tinygrad_lite.gradcheck import gradcheck, gradgradcheck
from tinygrad_lite.graph import export_graph
from tinygrad_lite.nn.rnn_cells import LSTM_GATES, lstm_gates, lstm_step
from tinygrad_lite.ops import NumpyBackend
from tinygrad_lite.tensor import TensorBackend, _apply
from tinygrad_lite.testing import arrays


@st.composite
def gate_operands(draw):
    """Operands of the gates node: four blocks (i, f, g, o) of the hidden size."""
    return draw_step_operands(draw, 4)


def fused_fn(case: dict):
    """operands -> the fused `lstm_gates` node, as `lstm_step` records it."""
    parts = case["parts"]

    def run(*ops):
        return _apply(LSTM_GATES, ops, (parts, twin_of(case, ops[parts + 1])))

    return run


def unfused_fn(case: dict):
    """operands -> the gate activations from the engine's primitive ops: cat, matmul, +, slices,
    sigmoid and tanh."""
    parts, bias = case["parts"], case["bias"]

    def run(*ops):
        pre = cat(ops[: parts + 1], 1) @ ops[parts + 1]
        if bias:
            pre = pre + ops[-1]
        n = pre.shape[1] // 4
        return cat(
            (pre[:, : 2 * n].sigmoid(), pre[:, 2 * n : 3 * n].tanh(), pre[:, 3 * n :].sigmoid()), 1
        )

    return run


# -- gradients against finite differences ----------------------------------------------------


@settings(deadline=None)
@given(case=gate_operands())
def test_lstm_gates_node_gradients_match_finite_differences(case):
    assert gradcheck(fused_fn(case), leaves(case))


@settings(deadline=None)
@given(case=gate_operands())
def test_lstm_gates_node_second_derivatives_match_finite_differences(case):
    # Runs the VJP on recorded Tensor ops (create_graph=True).
    assert gradgradcheck(fused_fn(case), leaves(case))


@settings(deadline=None)
@given(case=gate_operands())
def test_lstm_gates_node_equals_the_unfused_ops_forward_and_backward(case):
    assert_fused_equals_unfused(fused_fn(case), unfused_fn(case), case)


@settings(deadline=None, max_examples=30)
@given(case=gate_operands())
def test_lstm_gates_node_equals_the_activation_only_op_on_the_matmul(case):
    # The public `lstm_gates(pre, bias)` and the fused node share their activation code.
    parts, bias = case["parts"], case["bias"]
    ops = leaves(case)
    pre = cat(ops[: parts + 1], 1) @ ops[parts + 1]
    separate = lstm_gates(pre, ops[-1] if bias else None)
    np.testing.assert_allclose(fused_fn(case)(*ops).data, separate.data, rtol=1e-13, atol=1e-15)


@settings(deadline=None, max_examples=30)
@given(case=gate_operands(), data=st.data())
def test_lstm_step_gradients_are_the_same_with_create_graph(case, data):
    # gradgradcheck differentiates the create_graph gradient but takes it as given, and the
    # VJPs of the three LSTM nodes have a separate numpy fast path: the two must agree.
    batch, hidden = case["arrays"][case["parts"]].shape
    c0 = data.draw(arrays((batch, hidden)))
    parts, bias = case["parts"], case["bias"]
    grads = []
    for create_graph in (False, True):
        ops = leaves(case)
        c = Tensor(c0, requires_grad=True)
        w_t = ops[parts + 1]
        b = ops[-1] if bias else None
        # the fast path reads w (when drawn), the recorded one w_t: they must agree too
        h2, c2 = lstm_step(ops[:parts], ops[parts], c, w_t, b, twin_of(case, w_t))
        weights = np.arange(2 * h2.numel(), dtype=np.float64).reshape(2, *h2.shape) - 2.5
        (h2 * Tensor(weights[0]) + c2 * Tensor(weights[1])).sum().backward(
            create_graph=create_graph
        )
        grads.append([t.grad.data for t in (*ops, c) if t.requires_grad])
    for plain, recorded in zip(*grads):
        np.testing.assert_allclose(recorded, plain, rtol=1e-12, atol=1e-12)


# -- the VJP computes only what is asked for ---------------------------------------------------


@pytest.mark.parametrize("backend", [NumpyBackend, TensorBackend], ids=["numpy", "tensor"])
@settings(deadline=None, max_examples=30)
@given(case=gate_operands())
def test_lstm_gates_vjp_returns_a_gradient_exactly_where_needed(backend, case):
    ops = leaves(case)
    out = fused_fn(case)(*ops)
    needs = tuple(case["flags"])
    if backend is NumpyBackend:
        inputs, g, kept = tuple(t.data for t in ops), np.ones(out.shape), out.data
    else:
        inputs, g, kept = ops, Tensor(np.ones(out.shape)), out
    w = twin_of(case, ops[case["parts"] + 1])
    grads = LSTM_GATES.vjp(backend, g, kept, inputs, needs, case["parts"], w)
    assert len(grads) == len(ops)
    for grad, need, operand in zip(grads, needs, ops):
        assert (grad is not None) == need
        if need:
            assert grad.shape == operand.shape


# -- values, dtypes, recording, shapes ---------------------------------------------------------


def test_lstm_gates_node_is_sigmoid_on_i_f_o_and_tanh_on_g_of_the_affine_map():
    rng = np.random.default_rng(0)
    x, h = rng.standard_normal((2, 3)), rng.standard_normal((2, 2))
    w_t, b = rng.standard_normal((5, 8)) * 3, rng.standard_normal(8)
    out = _apply(LSTM_GATES, (Tensor(x), Tensor(h), Tensor(w_t), Tensor(b)), (1, None)).data
    pre = np.concatenate([x, h], 1) @ w_t + b
    sigmoid = 1 / (1 + np.exp(-pre))
    np.testing.assert_allclose(out[:, :4], sigmoid[:, :4], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out[:, 4:6], np.tanh(pre[:, 4:6]), rtol=1e-12)
    np.testing.assert_allclose(out[:, 6:], sigmoid[:, 6:], rtol=1e-12, atol=1e-15)


def test_lstm_gates_node_stays_finite_for_huge_pre_activations():
    x = Tensor(np.array([[1e4]]), requires_grad=True)
    w_t = Tensor(np.array([[-1.0, 1.0, -1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]), requires_grad=True)
    out = _apply(LSTM_GATES, (x, Tensor(np.zeros((1, 1))), w_t), (1, None))
    out.sum().backward()
    assert out.tolist() == [[0.0, 1.0, -1.0, 1.0]]
    np.testing.assert_array_equal(x.grad.data, [[0.0]])
    np.testing.assert_array_equal(w_t.grad.data, np.zeros((2, 4)))


def test_lstm_step_keeps_float32_in_value_and_gradients():
    rng = np.random.default_rng(0)
    f32 = np.float32

    def leaf(*shape):
        return Tensor(rng.standard_normal(shape).astype(f32), requires_grad=True)

    x, h, c, w_t, b = leaf(2, 3), leaf(2, 4), leaf(2, 4), leaf(7, 16), leaf(16)
    h2, c2 = lstm_step((x,), h, c, w_t, b)
    (h2.sum() + c2.sum()).backward()
    assert h2.dtype == c2.dtype == np.float32
    assert {t.grad.dtype for t in (x, h, c, w_t, b)} == {np.dtype(np.float32)}


def test_lstm_step_records_three_nodes_whose_gates_parents_are_its_operands():
    x1, x2 = Tensor(np.ones((2, 1))), Tensor(np.ones((2, 2)), requires_grad=True)
    h, c = Tensor(np.zeros((2, 3))), Tensor(np.zeros((2, 3)))
    w_t = Tensor(np.zeros((6, 12)), requires_grad=True)
    b = Tensor(np.zeros(12), requires_grad=True)
    with tg.scope("step"):
        h2, c2 = lstm_step((x1, x2), h, c, w_t, b)
    graph = export_graph(h2)
    ops = {n.op: n for n in graph.nodes if n.kind == "op"}
    assert sorted(ops) == ["lstm_cell_state", "lstm_gates", "lstm_hidden"]
    gates = ops["lstm_gates"]
    assert gates.scope == "step/gates" and gates.shape == (2, 12)
    assert ops["lstm_cell_state"].scope == ops["lstm_hidden"].scope == "step"
    into_gates = [(e.src, e.index) for e in graph.edges if e.dst == gates.id]
    assert into_gates == [(t._id, i) for i, t in enumerate((x1, x2, h, w_t, b))]


def test_lstm_step_records_nothing_when_no_operand_requires_grad():
    ones = Tensor(np.ones((1, 1)))
    h2, c2 = lstm_step((ones,), ones, ones, Tensor(np.zeros((2, 4))), None)
    assert h2.op == c2.op == "" and not h2.requires_grad
    np.testing.assert_allclose(c2.data, [[0.5]])  # f = 0.5 keeps half the cell, g = 0


@pytest.mark.parametrize(
    ("x_shapes", "h_shape", "w_shape", "b_shape", "shown"),
    [
        ([(2, 3)], (4,), (7, 16), None, r"h \(4,\)"),  # unbatched hidden state
        ([(2, 3)], (5, 4), (7, 16), None, r"input parts \(2, 3\), h \(5, 4\)"),  # batches differ
        ([(2, 3)], (2, 4), (7, 4), None, r"w_t \(7, 4\)"),  # one gate's width, not four
        ([(2, 3), (2, 2)], (2, 4), (7, 16), None, r"w_t \(7, 16\)"),  # misses a part's rows
        ([(2, 3)], (2, 4), (7, 16), (4,), r"b \(4,\)"),
        ([], (2, 4), (4, 16), None, "input parts none"),
    ],
)
def test_lstm_step_rejects_mismatched_shapes_naming_every_operand(
    x_shapes, h_shape, w_shape, b_shape, shown
):
    b = None if b_shape is None else Tensor(np.zeros(b_shape))
    with pytest.raises(ShapeError, match=rf"lstm_step: expected .*4 \* hidden.*{shown}"):
        lstm_step(
            tuple(Tensor(np.zeros(s)) for s in x_shapes),
            Tensor(np.zeros(h_shape)),
            Tensor(np.zeros(h_shape)),
            Tensor(np.zeros(w_shape)),
            b,
        )


def test_lstm_step_rejects_a_w_that_is_not_w_t_transposed():
    x, h = Tensor(np.zeros((2, 3))), Tensor(np.zeros((2, 4)))
    with pytest.raises(ShapeError, match=r"w_t \(7, 16\), w \(7, 16\)"):
        lstm_step((x,), h, h, Tensor(np.zeros((7, 16))), None, np.zeros((7, 16)))


# -- what the layers record: three nodes per time step -----------------------------------------


def test_lstm_layer_records_three_nodes_per_step_and_direction():
    tg.manual_seed(0)
    seq, batch, size, hidden = 3, 2, 3, 4
    lstm = nn.LSTM(size, hidden, num_layers=2, bidirectional=True)
    out, (h_n, c_n) = lstm(tg.randn(seq, batch, size))
    graph = export_graph(out, h_n, c_n)
    parents: dict = {}
    for edge in graph.edges:
        parents.setdefault(edge.dst, []).append(edge.src)
    for k in range(2):
        for direction in ("", "_reverse"):
            for t in range(seq):
                where = f"lstm/l{k}{direction}/t={t}"
                step = [n for n in graph.nodes if n.scope.startswith(where)]
                assert [(n.op, n.scope) for n in step] == [
                    ("lstm_gates", f"{where}/gates"),
                    ("lstm_cell_state", where),
                    ("lstm_hidden", where),
                ]
                gates, cell, hidden_state = step
                # x, h, w_t, b; the second layer reads both directions below as two parts
                assert len(parents[gates.id]) == (4 if k == 0 else 5)
                assert parents[cell.id][0] == parents[hidden_state.id][0] == gates.id
                assert parents[hidden_state.id][1] == cell.id


def test_lstm_cell_records_three_nodes_after_its_weights():
    tg.manual_seed(0)
    cell = nn.LSTMCell(3, 4)
    h, c = cell(tg.randn(2, 3))
    ops = [n.op for n in export_graph(h, c).nodes if n.kind == "op"]
    # the per-call weights (cat([W_ih, W_hh], 1).T, b_ih + b_hh), then the step
    assert ops == ["cat", "permute", "+", "lstm_gates", "lstm_cell_state", "lstm_hidden"]
