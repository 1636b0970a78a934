"""The fused Elman step `rnn_step` (ops `rnn_tanh` / `rnn_relu`, nn/rnn_cells.py): one node for
act([x_1, ..., x_k, h] @ w_t + b).

Its gradients are checked against central differences in float64 (first and second order, with
create_graph=True) for tanh and relu, one or two input parts, with and without a bias, and every
combination of operands that do or do not require grad; relu is checked away from its kink,
whose convention (relu'(0) = 0) is pinned exactly. The rest pins what the fusion is for: the
same numbers as the unfused ops, one node per time step, nothing computed that was not asked for.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
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
from tinygrad_lite.nn.rnn_cells import RNN_RELU, RNN_TANH, rnn_step
from tinygrad_lite.ops import NumpyBackend
from tinygrad_lite.tensor import TensorBackend

KINK_MARGIN = 1e-3  # relu pre-activations stay this far from 0 (finite differences use 1e-6)


def pre_activation(arrays_: list, parts: int, bias: bool) -> np.ndarray:
    """[x_1, ..., x_k, h] @ w_t + b in plain numpy."""
    pre = np.concatenate(arrays_[: parts + 1], axis=1) @ arrays_[parts + 1]
    return pre + arrays_[parts + 2] if bias else pre


@st.composite
def step_operands(draw, relu=None):
    """Operands of the step node (one block of the hidden size) and its activation."""
    relu = draw(st.booleans()) if relu is None else relu
    case = draw_step_operands(draw, 1)
    if relu:
        # Finite differences across the kink would measure neither side's derivative.
        pre = pre_activation(case["arrays"], case["parts"], case["bias"])
        assume(np.min(np.abs(pre)) >= KINK_MARGIN)
    return {"relu": relu, **case}


def step_fn(case: dict):
    """operands -> rnn_step(...), for gradcheck."""
    parts, bias, relu = case["parts"], case["bias"], case["relu"]

    def run(*ops):
        w_t = ops[parts + 1]
        return rnn_step(
            ops[:parts], ops[parts], w_t, ops[-1] if bias else None, relu, twin_of(case, w_t)
        )

    return run


def unfused_fn(case: dict):
    """operands -> act(cat([x..., h], 1) @ w_t + b), from the engine's primitive ops."""
    parts, bias, relu = case["parts"], case["bias"], case["relu"]

    def run(*ops):
        pre = cat(ops[: parts + 1], 1) @ ops[parts + 1]
        if bias:
            pre = pre + ops[-1]
        return pre.relu() if relu else pre.tanh()

    return run


# -- gradients against finite differences ----------------------------------------------------


@settings(deadline=None)
@given(case=step_operands())
def test_rnn_step_gradients_match_finite_differences(case):
    assert gradcheck(step_fn(case), leaves(case))


@settings(deadline=None)
@given(case=step_operands())
def test_rnn_step_second_derivatives_match_finite_differences(case):
    # Runs the VJP on recorded Tensor ops (create_graph=True); relu's second derivative is 0
    # away from the kink, but its gradient is still linear in w_t and the inputs.
    assert gradgradcheck(step_fn(case), leaves(case))


@settings(deadline=None)
@given(case=step_operands())
def test_rnn_step_equals_the_unfused_ops_forward_and_backward(case):
    assert_fused_equals_unfused(step_fn(case), unfused_fn(case), case)


# -- the VJP computes only what is asked for ---------------------------------------------------


@pytest.mark.parametrize("backend", [NumpyBackend, TensorBackend], ids=["numpy", "tensor"])
@settings(deadline=None, max_examples=30)
@given(case=step_operands())
def test_rnn_step_vjp_returns_a_gradient_exactly_where_needed(backend, case):
    ops = leaves(case)
    out = step_fn(case)(*ops)
    op = RNN_RELU if case["relu"] else RNN_TANH
    needs = tuple(case["flags"])
    if backend is NumpyBackend:
        inputs, g, kept = tuple(t.data for t in ops), np.ones(out.shape), out.data
    else:
        inputs, g, kept = ops, Tensor(np.ones(out.shape)), out
    w = twin_of(case, ops[case["parts"] + 1])
    grads = op.vjp(backend, g, kept, inputs, needs, case["parts"], w)
    assert len(grads) == len(ops)
    for grad, need, operand in zip(grads, needs, ops):
        assert (grad is not None) == need
        if need:
            assert grad.shape == operand.shape


# -- the relu convention at the kink, pinned exactly -------------------------------------------


def test_rnn_relu_gradient_is_zero_where_the_pre_activation_is_zero():
    # pre = [1, 1] @ [[1, -1], [-1, 1]] + [0, 0.5] = [0, 0.5]: unit 0 sits exactly at the kink.
    x = Tensor(np.array([[1.0]]), requires_grad=True)
    h = Tensor(np.array([[1.0, 0.0]]), requires_grad=True)
    w_t = Tensor(np.array([[1.0, -1.0], [-1.0, 1.0], [0.0, 0.0]]), requires_grad=True)
    b = Tensor(np.array([0.0, 0.5]), requires_grad=True)
    out = rnn_step((x,), h, w_t, b, relu=True)
    np.testing.assert_array_equal(out.data, [[0.0, 0.5]])
    out.sum().backward()
    np.testing.assert_array_equal(b.grad.data, [0.0, 1.0])  # relu'(0) = 0, as PyTorch
    np.testing.assert_array_equal(w_t.grad.data, [[0.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    # only unit 1 passes a gradient: w_t[0, 1] = -1 (unit 0's w_t[0, 0] = 1 is masked out)
    np.testing.assert_array_equal(x.grad.data, [[-1.0]])


def test_rnn_tanh_stays_finite_for_huge_pre_activations():
    x = Tensor(np.array([[1e4, -1e4]]), requires_grad=True)
    h = Tensor(np.zeros((1, 1)))
    out = rnn_step((x,), h, Tensor(np.array([[1.0], [0.0], [0.0]])), None, relu=False)
    out.sum().backward()
    np.testing.assert_array_equal(out.data, [[1.0]])
    np.testing.assert_array_equal(x.grad.data, [[0.0, 0.0]])


# -- dtypes, recording, shapes -----------------------------------------------------------------


@pytest.mark.parametrize("relu", [False, True])
def test_rnn_step_keeps_float32_in_value_and_gradients(relu):
    rng = np.random.default_rng(0)
    f32 = np.float32
    x = Tensor(rng.standard_normal((2, 3)).astype(f32), requires_grad=True)
    h = Tensor(rng.standard_normal((2, 4)).astype(f32), requires_grad=True)
    w_t = Tensor(rng.standard_normal((7, 4)).astype(f32), requires_grad=True)
    b = Tensor(rng.standard_normal(4).astype(f32), requires_grad=True)
    out = rnn_step((x,), h, w_t, b, relu)
    out.sum().backward()
    assert out.dtype == np.float32
    assert {t.grad.dtype for t in (x, h, w_t, b)} == {np.dtype(np.float32)}


def test_rnn_step_records_one_node_whose_parents_are_its_operands():
    x1, x2 = Tensor(np.ones((2, 1))), Tensor(np.ones((2, 2)), requires_grad=True)
    h = Tensor(np.zeros((2, 3)))
    w_t = Tensor(np.zeros((6, 3)), requires_grad=True)
    b = Tensor(np.zeros(3), requires_grad=True)
    out = rnn_step((x1, x2), h, w_t, b, relu=False)
    graph = export_graph(out)
    assert [n.op for n in graph.nodes if n.kind == "op"] == ["rnn_tanh"]
    assert [(e.src, e.index) for e in graph.edges] == [
        (t._id, i) for i, t in enumerate((x1, x2, h, w_t, b))
    ]


def test_rnn_step_records_nothing_when_no_operand_requires_grad():
    out = rnn_step(
        (Tensor(np.ones((1, 1))),), Tensor(np.ones((1, 1))), Tensor(np.ones((2, 1))), None, False
    )
    assert out.op == "" and not out.requires_grad
    np.testing.assert_allclose(out.data, np.tanh([[2.0]]))


@pytest.mark.parametrize(
    ("x_shapes", "h_shape", "w_shape", "b_shape", "shown"),
    [
        ([(2, 3)], (4,), (7, 4), None, r"h \(4,\)"),  # unbatched hidden state
        ([(3,)], (2, 4), (7, 4), None, r"input parts \(3,\)"),  # unbatched input
        ([(2, 3)], (5, 4), (7, 4), None, r"input parts \(2, 3\), h \(5, 4\)"),  # batches differ
        ([(2, 3), (2, 2)], (2, 4), (7, 4), None, r"w_t \(7, 4\)"),  # w_t misses a part's rows
        ([(2, 3)], (2, 4), (7, 4), (3,), r"b \(3,\)"),
        ([], (2, 4), (4, 4), None, "input parts none"),
    ],
)
def test_rnn_step_rejects_mismatched_shapes_naming_every_operand(
    x_shapes, h_shape, w_shape, b_shape, shown
):
    b = None if b_shape is None else Tensor(np.zeros(b_shape))
    with pytest.raises(ShapeError, match=rf"rnn_step: expected .*{shown}"):
        rnn_step(
            tuple(Tensor(np.zeros(s)) for s in x_shapes),
            Tensor(np.zeros(h_shape)),
            Tensor(np.zeros(w_shape)),
            b,
            relu=False,
        )


# -- what the layers record: one node per time step --------------------------------------------


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_layer_records_one_node_per_step_and_direction(nonlinearity):
    tg.manual_seed(0)
    seq, batch, size, hidden = 3, 2, 3, 4
    rnn = nn.RNN(size, hidden, num_layers=2, nonlinearity=nonlinearity, bidirectional=True)
    out, h_n = rnn(tg.randn(seq, batch, size))
    graph = export_graph(out, h_n)
    parents = {}
    for edge in graph.edges:
        parents[edge.dst] = parents.get(edge.dst, 0) + 1
    for k in range(2):
        for direction in ("", "_reverse"):
            for t in range(seq):
                step = [n for n in graph.nodes if n.scope == f"rnn/l{k}{direction}/t={t}"]
                assert [n.op for n in step] == [f"rnn_{nonlinearity}"]
                # x, h, w_t, b; the second layer reads both directions below as two parts
                assert parents[step[0].id] == (4 if k == 0 else 5)
    assert not any(n.scope.startswith("rnn/l0/t=0/") for n in graph.nodes)  # no sub-scopes


def test_rnn_cell_records_one_node_batched_and_unbatched():
    tg.manual_seed(0)
    cell = nn.RNNCell(3, 4, nonlinearity="relu")
    batched = cell(tg.randn(2, 3))
    assert batched.op == "rnn_relu" and batched.shape == (2, 4)
    unbatched = cell(tg.randn(3))
    assert unbatched.shape == (4,)
    ops = [n.op for n in export_graph(unbatched).nodes if n.kind == "op"]
    # the per-call weights (cat([W_ih, W_hh], 1).T, b_ih + b_hh), the step, the batch axis removed
    assert ops == ["cat", "permute", "+", "rnn_relu", "reshape"]
