"""Behaviour of the recurrent cells and unrolled layers (nn/rnn_cells.py, nn/recurrent.py):
gradients against finite differences in float64, the scope of every time step, layouts
(batch_first, unbatched), dropout, parameter names and counts, and the errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tg
from tinygrad_lite import DTypeError, ShapeError, Tensor, nn, scope
from tinygrad_lite.gradcheck import gradcheck, gradgradcheck
from tinygrad_lite.graph import export_graph
from tinygrad_lite.nn.rnn_cells import lstm_cell_state, lstm_gates, lstm_hidden
from tinygrad_lite.testing import arrays

BATCH, INPUT, HIDDEN, SEQ = 2, 3, 4, 3
FEW = settings(max_examples=8, deadline=None)

seeds = st.integers(0, 2**16)


def _array(rng, *shape) -> Tensor:
    return Tensor(rng.standard_normal(shape), requires_grad=True)


def _double(module: nn.Module, seed: int) -> nn.Module:
    tg.manual_seed(seed)
    return module.double()


# -- the two fused LSTM nodes: first and second derivatives -----------------------------------

gate_shapes = st.tuples(st.integers(1, 3), st.integers(1, 3)).map(lambda s: (s[0], 4 * s[1]))


@settings(max_examples=15, deadline=None)
@given(pre=arrays(gate_shapes))
def test_lstm_gates_gradients_match_finite_differences(pre):
    x = Tensor(pre, requires_grad=True)
    assert gradcheck(lstm_gates, x)
    assert gradgradcheck(lstm_gates, x)


@settings(max_examples=15, deadline=None)
@given(pre=arrays(gate_shapes), data=st.data())
def test_lstm_gates_with_bias_gradients_match_finite_differences(pre, data):
    bias = data.draw(arrays((pre.shape[-1],)))
    x, b = Tensor(pre, requires_grad=True), Tensor(bias, requires_grad=True)
    assert gradcheck(lstm_gates, (x, b))
    assert gradgradcheck(lstm_gates, (x, b))


def test_lstm_gates_are_sigmoid_on_i_f_o_and_tanh_on_g():
    pre = np.random.default_rng(0).standard_normal((2, 8)) * 5
    out = lstm_gates(Tensor(pre)).data
    sigmoid = 1 / (1 + np.exp(-pre))
    np.testing.assert_allclose(out[:, :4], sigmoid[:, :4], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out[:, 4:6], np.tanh(pre[:, 4:6]), rtol=1e-12)
    np.testing.assert_allclose(out[:, 6:], sigmoid[:, 6:], rtol=1e-12, atol=1e-15)


def test_lstm_gates_stay_finite_for_huge_pre_activations():
    out = lstm_gates(Tensor(np.array([[-1e4, 1e4, -1e4, 1e4]]))).data
    assert out.tolist() == [[0.0, 1.0, -1.0, 1.0]]


def test_lstm_gates_reject_a_width_that_is_not_four_blocks():
    with pytest.raises(ShapeError, match=r"lstm_gates: .*four equal gate blocks.*\(2, 6\)"):
        lstm_gates(Tensor(np.zeros((2, 6))))


@pytest.mark.parametrize("node", [lstm_cell_state, lstm_hidden])
@settings(max_examples=15, deadline=None)
@given(act=arrays(gate_shapes, min_value=0.05, max_value=0.95), data=st.data())
def test_lstm_state_nodes_gradients_match_finite_differences(node, act, data):
    # (gate activations, c) -> c' or h': both read their gates from blocks of `act`
    c = data.draw(arrays((act.shape[0], act.shape[1] // 4)))
    a, c = Tensor(act, requires_grad=True), Tensor(c, requires_grad=True)
    assert gradcheck(node, (a, c))
    assert gradgradcheck(node, (a, c))


def test_lstm_hidden_is_output_gate_times_tanh_of_the_cell():
    act = np.random.default_rng(3).random((3, 8))
    c = np.random.default_rng(4).standard_normal((3, 2))
    out = lstm_hidden(Tensor(act), Tensor(c)).data
    np.testing.assert_allclose(out, act[:, 6:] * np.tanh(c), rtol=1e-14)


def test_lstm_step_records_three_nodes():
    # the join, the matmul and the bias live inside `lstm_gates` (tests/test_lstm_gates_op.py)
    tg.manual_seed(0)
    lstm = nn.LSTM(INPUT, HIDDEN)
    out, _ = lstm(tg.randn(SEQ, BATCH, INPUT))
    ops = sorted(n.op for n in export_graph(out).nodes if n.scope.startswith("lstm/l0/t=1"))
    assert ops == ["lstm_cell_state", "lstm_gates", "lstm_hidden"]


@pytest.mark.parametrize("layer_cls", [nn.RNN, nn.LSTM])
def test_unrolled_steps_get_both_weight_layouts_c_ordered(layer_cls):
    # Each step multiplies by w_t forward and by its transpose backward; numpy's matmul is
    # fastest with a C-ordered right operand, so the layer makes both once per call.
    tg.manual_seed(0)
    layer = layer_cls(INPUT, HIDDEN)
    out, _ = layer(tg.randn(SEQ, BATCH, INPUT))
    steps = [n for n in _nodes(out) if n.op in ("rnn_tanh", "lstm_gates")]
    assert len(steps) == SEQ
    for node in steps:
        w_t, w = node._parents[2], node._ctx[1]
        assert w_t.data.flags.c_contiguous and w.flags.c_contiguous
        np.testing.assert_array_equal(w, w_t.data.T)
    assert steps[0]._ctx[1] is steps[-1]._ctx[1]  # made once per call, not per step


def _nodes(root) -> list:
    """Every node reachable from `root`, walked without recursion."""
    seen, stack, found = {id(root)}, [root], []
    while stack:
        node = stack.pop()
        found.append(node)
        for parent in node._parents:
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return found


def test_lstm_cell_state_is_forget_times_cell_plus_input_times_candidate():
    act = np.random.default_rng(1).random((3, 8))
    c = np.random.default_rng(2).standard_normal((3, 2))
    i, f, g = act[:, :2], act[:, 2:4], act[:, 4:6]
    out = lstm_cell_state(Tensor(act), Tensor(c)).data
    np.testing.assert_allclose(out, f * c + i * g, rtol=1e-14)


def test_lstm_cell_state_rejects_mismatched_shapes():
    with pytest.raises(ShapeError, match=r"lstm_cell_state: .*\(2, 8\).*\(2, 3\)"):
        lstm_cell_state(Tensor(np.zeros((2, 8))), Tensor(np.zeros((2, 3))))


@FEW
@given(seed=seeds)
def test_lstm_layer_second_derivatives_match_finite_differences(seed):
    tg.manual_seed(seed)
    layer = nn.LSTM(2, 2).double()
    x = _array(np.random.default_rng(seed), 2, 1, 2)
    assert gradgradcheck(lambda x: layer(x)[0], x)


# -- gradcheck: cells --------------------------------------------------------------------------


@FEW
@given(seed=seeds, nonlinearity=st.sampled_from(["tanh", "relu"]))
def test_rnn_cell_gradients_match_finite_differences(seed, nonlinearity):
    tg.manual_seed(seed)
    cell = nn.RNNCell(INPUT, HIDDEN, nonlinearity=nonlinearity).double()
    rng = np.random.default_rng(seed)
    x, h = _array(rng, BATCH, INPUT), _array(rng, BATCH, HIDDEN)
    params = tuple(cell.parameters())
    assert gradcheck(lambda x, h, *_: cell(x, h), (x, h, *params))


@FEW
@given(seed=seeds)
def test_lstm_cell_gradients_match_finite_differences(seed):
    tg.manual_seed(seed)
    cell = nn.LSTMCell(INPUT, HIDDEN).double()
    rng = np.random.default_rng(seed)
    x, h, c = _array(rng, BATCH, INPUT), _array(rng, BATCH, HIDDEN), _array(rng, BATCH, HIDDEN)
    params = tuple(cell.parameters())
    assert gradcheck(lambda x, h, c, *_: cell(x, (h, c)), (x, h, c, *params))


@FEW
@given(seed=seeds)
def test_gru_cell_gradients_match_finite_differences(seed):
    tg.manual_seed(seed)
    cell = nn.GRUCell(INPUT, HIDDEN).double()
    rng = np.random.default_rng(seed)
    x, h = _array(rng, BATCH, INPUT), _array(rng, BATCH, HIDDEN)
    params = tuple(cell.parameters())
    assert gradcheck(lambda x, h, *_: cell(x, h), (x, h, *params))


@FEW
@given(seed=seeds, activation=st.sampled_from(["identity", "tanh", "sigmoid"]))
def test_jordan_cell_gradients_match_finite_differences(seed, activation):
    tg.manual_seed(seed)
    cell = nn.JordanRNNCell(INPUT, HIDDEN, 2, output_activation=activation).double()
    rng = np.random.default_rng(seed)
    x, y_prev = _array(rng, BATCH, INPUT), _array(rng, BATCH, 2)
    params = tuple(cell.parameters())
    assert gradcheck(lambda x, y, *_: cell(x, y), (x, y_prev, *params))


# -- gradcheck: unrolled layers (two layers, both directions, initial states) ----------------


layer_configs = st.fixed_dictionaries(
    {
        "seq": st.integers(1, 3),
        "batch": st.integers(1, 2),
        "input_size": st.integers(1, 3),
        "hidden_size": st.integers(1, 4),
        "batch_first": st.booleans(),
        "unbatched": st.booleans(),
    }
)


def _layer_gradcheck(cls, config: dict, seed: int, **kwargs) -> bool:
    """gradcheck (fast mode) of a two-layer bidirectional layer w.r.t. the input, the initial
    state(s) and every parameter, at sizes and a layout drawn by hypothesis."""
    tg.manual_seed(seed)
    size, hidden = config["input_size"], config["hidden_size"]
    layer = cls(size, hidden, num_layers=2, bidirectional=True, **kwargs)
    layer.batch_first = config["batch_first"]
    layer.double()
    rng = np.random.default_rng(seed)
    seq, batch = config["seq"], config["batch"]
    if config["unbatched"]:
        x, state_shape = _array(rng, seq, size), (4, hidden)
    elif config["batch_first"]:
        x, state_shape = _array(rng, batch, seq, size), (4, batch, hidden)
    else:
        x, state_shape = _array(rng, seq, batch, size), (4, batch, hidden)
    states = [_array(rng, *state_shape) for _ in range(2 if cls is nn.LSTM else 1)]
    n_states = len(states)

    def run(x, *rest):
        given = rest[:n_states]
        out, final = layer(x, tuple(given) if cls is nn.LSTM else given[0])
        return (out, *final) if cls is nn.LSTM else (out, final)

    return gradcheck(run, (x, *states, *layer.parameters()), fast_mode=True, seed=seed)


@FEW
@given(seed=seeds, config=layer_configs, nonlinearity=st.sampled_from(["tanh", "relu"]))
def test_two_layer_bidirectional_rnn_gradients_match_finite_differences(seed, config, nonlinearity):
    assert _layer_gradcheck(nn.RNN, config, seed, nonlinearity=nonlinearity)


@FEW
@given(seed=seeds, config=layer_configs)
def test_two_layer_bidirectional_lstm_gradients_match_finite_differences(seed, config):
    assert _layer_gradcheck(nn.LSTM, config, seed)


@FEW
@given(seed=seeds, config=layer_configs)
def test_two_layer_bidirectional_gru_gradients_match_finite_differences(seed, config):
    assert _layer_gradcheck(nn.GRU, config, seed)


STACK = {"num_layers": 2, "bidirectional": True}


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_stacked_bidirectional_gradients_match_finite_differences_element_by_element(cls):
    # Full Jacobian check (every element of every input), on a random weighting of all the
    # results so one backward row covers them; the hypothesis tests above use fast_mode.
    tg.manual_seed(7)
    layer = cls(INPUT, HIDDEN, **STACK).double()
    rng = np.random.default_rng(7)
    x, h0, c0 = _array(rng, SEQ, BATCH, INPUT), _array(rng, 4, BATCH, HIDDEN), None
    inputs = (x, h0)
    if cls is nn.LSTM:
        c0 = _array(rng, 4, BATCH, HIDDEN)
        inputs = (x, h0, c0)
    w_out = Tensor(rng.standard_normal((SEQ, BATCH, 2 * HIDDEN)))
    w_final = Tensor(rng.standard_normal((4, BATCH, HIDDEN)))

    def run(x, h0, *rest):
        if cls is nn.LSTM:
            out, (h_n, c_n) = layer(x, (h0, rest[0]))
            return (out * w_out).sum() + (h_n * w_final).sum() + (c_n * w_final).sum()
        out, h_n = layer(x, h0)
        return (out * w_out).sum() + (h_n * w_final).sum()

    assert gradcheck(run, (*inputs, *layer.parameters()))


@FEW
@given(seed=seeds, forced=st.booleans())
def test_jordan_network_gradients_match_finite_differences(seed, forced):
    tg.manual_seed(seed)
    net = nn.JordanRNN(INPUT, HIDDEN, 2, output_activation="tanh").double()
    rng = np.random.default_rng(seed)
    x, y0 = _array(rng, SEQ, BATCH, INPUT), _array(rng, BATCH, 2)
    targets = _array(rng, SEQ, BATCH, 2)
    params = tuple(net.parameters())

    def run(x, y0, targets, *_):
        return net(x, y0, teacher_forcing=targets if forced else None)

    assert gradcheck(run, (x, y0, targets, *params), fast_mode=True, seed=seed)


# -- scopes: the time step of every node -------------------------------------------------------


def test_every_step_node_is_tagged_with_its_layer_direction_and_time():
    tg.manual_seed(0)
    lstm = nn.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True)
    out, _ = lstm(tg.randn(SEQ, BATCH, INPUT))
    scopes = {n.scope for n in export_graph(out).nodes if n.kind == "op"}
    for k in range(2):
        for direction in ("", "_reverse"):
            for t in range(SEQ):
                assert f"lstm/l{k}{direction}/t={t}" in scopes
                assert f"lstm/l{k}{direction}/t={t}/gates" in scopes


def test_input_slices_are_tagged_with_their_time_step():
    tg.manual_seed(0)
    gru = nn.GRU(INPUT, HIDDEN)
    x = Tensor(np.zeros((SEQ, BATCH, INPUT), dtype=np.float32), requires_grad=True)
    out, _ = gru(x)
    slices = [n for n in export_graph(out).nodes if n.op == "getitem" and n.shape == (2, 3)]
    assert sorted(n.scope for n in slices) == [f"gru/input/t={t}" for t in range(SEQ)]


def test_each_step_records_its_one_gates_node_in_its_own_scope():
    # one node for all four gates: the join, one matmul, the bias and the activations
    tg.manual_seed(0)
    lstm = nn.LSTM(INPUT, HIDDEN)
    out, _ = lstm(tg.randn(SEQ, BATCH, INPUT))
    graph = export_graph(out)
    for t in range(SEQ):
        ops = [n.op for n in graph.nodes if n.scope == f"lstm/l0/t={t}/gates"]
        assert ops == ["lstm_gates"]


def test_the_layer_name_and_an_enclosing_scope_prefix_the_step_scopes():
    tg.manual_seed(0)
    gru = nn.GRU(INPUT, HIDDEN, name="encoder")
    with scope("model"):
        out, h_n = gru(tg.randn(SEQ, BATCH, INPUT))
    scopes = {n.scope for n in export_graph(out).nodes if n.kind == "op"}
    assert {f"model/encoder/l0/t={t}" for t in range(SEQ)} <= scopes
    assert out.scope == "model/encoder/output"


def test_reverse_direction_tags_steps_with_the_input_time_index():
    tg.manual_seed(0)
    rnn = nn.RNN(INPUT, HIDDEN, bidirectional=True)
    out, h_n = rnn(tg.randn(SEQ, BATCH, INPUT))
    # The backward direction finishes at t=0: its final state was made in that step.
    final_backward = h_n.data[1]
    np.testing.assert_array_equal(out.data[0, :, HIDDEN:], final_backward)
    scopes = {n.scope for n in export_graph(h_n).nodes}
    assert "rnn/l0_reverse/t=0" in scopes


def test_jordan_network_tags_each_step():
    tg.manual_seed(0)
    net = nn.JordanRNN(INPUT, HIDDEN, 2)
    out, _ = net(tg.randn(SEQ, BATCH, INPUT))
    scopes = {n.scope for n in export_graph(out).nodes}
    assert {f"jordan/t={t}/gates" for t in range(SEQ)} <= scopes


# -- layouts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_batch_first_output_is_the_time_major_output_transposed(cls):
    tg.manual_seed(0)
    time_major = cls(INPUT, HIDDEN, num_layers=2, bidirectional=True)
    batch_first = cls(INPUT, HIDDEN, num_layers=2, bidirectional=True, batch_first=True)
    batch_first.load_state_dict(time_major.state_dict())
    x = tg.randn(SEQ, BATCH, INPUT)
    out_tm, final_tm = time_major(x)
    out_bf, final_bf = batch_first(x.permute(1, 0, 2))
    assert out_bf.shape == (BATCH, SEQ, 2 * HIDDEN)
    np.testing.assert_allclose(out_bf.data, out_tm.data.transpose(1, 0, 2), rtol=1e-6)
    # Final states keep (layers * directions, batch, hidden) even with batch_first.
    first_tm = final_tm[0] if isinstance(final_tm, tuple) else final_tm
    first_bf = final_bf[0] if isinstance(final_bf, tuple) else final_bf
    np.testing.assert_allclose(first_bf.data, first_tm.data, rtol=1e-6)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_unbatched_input_equals_a_batch_of_one(cls, batch_first):
    tg.manual_seed(0)
    layer = cls(INPUT, HIDDEN, bidirectional=True, batch_first=batch_first)
    x = tg.randn(SEQ, INPUT)
    out, final = layer(x)
    batched = x.unsqueeze(0) if batch_first else x.unsqueeze(1)
    out_b, final_b = layer(batched)
    assert out.shape == (SEQ, 2 * HIDDEN)
    np.testing.assert_allclose(out.data, out_b.data.reshape(SEQ, 2 * HIDDEN), rtol=1e-6)
    h = final[0] if isinstance(final, tuple) else final
    h_b = final_b[0] if isinstance(final_b, tuple) else final_b
    assert h.shape == (2, HIDDEN)
    np.testing.assert_allclose(h.data, h_b.data[:, 0], rtol=1e-6)


@pytest.mark.parametrize("cls", [nn.RNNCell, nn.LSTMCell, nn.GRUCell])
def test_cell_accepts_unbatched_input(cls):
    tg.manual_seed(0)
    cell = cls(INPUT, HIDDEN)
    x = tg.randn(INPUT)
    single = cell(x)
    batched = cell(x.unsqueeze(0))
    single = single[0] if isinstance(single, tuple) else single
    batched = batched[0] if isinstance(batched, tuple) else batched
    assert single.shape == (HIDDEN,)
    np.testing.assert_allclose(single.data, batched.data[0], rtol=1e-6)


def test_layer_and_cell_compute_the_same_step():
    tg.manual_seed(0)
    lstm, cell = nn.LSTM(INPUT, HIDDEN), nn.LSTMCell(INPUT, HIDDEN)
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    x = tg.randn(SEQ, BATCH, INPUT)
    out, (h_n, c_n) = lstm(x)
    h = c = tg.zeros(BATCH, HIDDEN)
    for t in range(SEQ):
        h, c = cell(x[t], (h, c))
    np.testing.assert_allclose(h.data, h_n.data[0], rtol=1e-6)
    np.testing.assert_allclose(c.data, c_n.data[0], rtol=1e-6)


def test_initial_states_default_to_zeros():
    tg.manual_seed(0)
    lstm = nn.LSTM(INPUT, HIDDEN, num_layers=2)
    x = tg.randn(SEQ, BATCH, INPUT)
    zeros = tg.zeros(2, BATCH, HIDDEN)
    out_default, _ = lstm(x)
    out_zeros, _ = lstm(x, (zeros, zeros))
    np.testing.assert_array_equal(out_default.data, out_zeros.data)


# -- dropout between layers --------------------------------------------------------------------


def test_dropout_changes_outputs_only_in_training():
    tg.manual_seed(0)
    lstm = nn.LSTM(INPUT, HIDDEN, num_layers=2, dropout=0.5)
    plain = nn.LSTM(INPUT, HIDDEN, num_layers=2)
    plain.load_state_dict(lstm.state_dict())
    x = tg.randn(SEQ, BATCH, INPUT)
    out_train, _ = lstm(x)
    lstm.eval()
    out_eval, _ = lstm(x)
    out_plain, _ = plain(x)
    np.testing.assert_array_equal(out_eval.data, out_plain.data)
    assert not np.allclose(out_train.data, out_plain.data)


def test_dropout_of_one_drops_every_input_to_the_next_layer():
    tg.manual_seed(0)
    rnn = nn.RNN(INPUT, HIDDEN, num_layers=2, dropout=1.0, bias=False)
    out, _ = rnn(tg.randn(SEQ, BATCH, INPUT))
    # With no bias, zero inputs to layer 1 keep its state at zero.
    np.testing.assert_array_equal(out.data, np.zeros_like(out.data))


def test_dropout_with_one_layer_warns_that_it_does_nothing():
    with pytest.warns(UserWarning, match="between layers"):
        nn.GRU(INPUT, HIDDEN, dropout=0.3)


def test_dropout_is_not_applied_after_the_last_layer():
    tg.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gru = nn.GRU(INPUT, HIDDEN, dropout=0.9)
    plain = nn.GRU(INPUT, HIDDEN)
    plain.load_state_dict(gru.state_dict())
    x = tg.randn(SEQ, BATCH, INPUT)
    np.testing.assert_array_equal(gru(x)[0].data, plain(x)[0].data)


# -- parameters --------------------------------------------------------------------------------


def test_parameter_names_and_shapes_follow_pytorch():
    lstm = nn.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True)
    shapes = {n: p.shape for n, p in lstm.named_parameters()}
    assert list(shapes)[:5] == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_ih_l0_reverse",
    ]
    assert shapes["weight_ih_l0"] == (4 * HIDDEN, INPUT)
    assert shapes["weight_ih_l1_reverse"] == (4 * HIDDEN, 2 * HIDDEN)
    assert shapes["bias_hh_l1_reverse"] == (4 * HIDDEN,)
    assert len(shapes) == 16


def test_layer_without_bias_has_only_weights():
    gru = nn.GRU(INPUT, HIDDEN, bias=False)
    assert [n for n, _ in gru.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU, nn.RNNCell, nn.LSTMCell, nn.GRUCell])
def test_parameters_are_drawn_within_one_over_sqrt_hidden(cls):
    tg.manual_seed(0)
    layer = cls(INPUT, 25)
    for p in layer.parameters():
        assert p.dtype == np.float32
        assert np.abs(p.data).max() <= 1 / math.sqrt(25)
        assert np.abs(p.data).max() > 0.5 / math.sqrt(25)


def test_lstm_parameter_count_pytorch_and_keras():
    # Embedding(1000, 64) -> LSTM(128): the LSTM's share.
    lstm = nn.LSTM(64, 128)
    assert lstm.num_parameters() == 4 * 128 * (64 + 128) + 2 * 4 * 128 == 99_328
    assert lstm.num_parameters("keras") == 4 * 128 * (64 + 128) + 4 * 128 == 98_816


def test_simple_rnn_keras_count_drops_the_second_bias_of_every_layer():
    rnn = nn.RNN(10, 20, num_layers=2, bidirectional=True)
    assert rnn.num_parameters() - rnn.num_parameters("keras") == 4 * 20


def test_gru_keras_count_equals_pytorch_count():
    # Keras' default reset_after=True keeps two biases per gate, as PyTorch.
    gru = nn.GRU(64, 128)
    assert gru.num_parameters("keras") == gru.num_parameters() == 3 * 128 * (64 + 128 + 2)


def test_lstm_cell_keras_count_drops_bias_hh():
    cell = nn.LSTMCell(64, 128)
    assert cell.num_parameters() - cell.num_parameters("keras") == 4 * 128


# -- Jordan network ----------------------------------------------------------------------------


def test_jordan_network_feeds_its_previous_output_back():
    tg.manual_seed(0)
    net = nn.JordanRNN(INPUT, HIDDEN, 2)
    x = tg.randn(SEQ, BATCH, INPUT)
    out, y_n = net(x)
    y = tg.zeros(BATCH, 2)
    for t in range(SEQ):
        _, y = net.cell(x[t], y)
        np.testing.assert_allclose(out.data[t], y.data, rtol=1e-6)
    np.testing.assert_array_equal(y_n.data, out.data[-1])


def test_teacher_forcing_feeds_the_previous_target_instead():
    tg.manual_seed(0)
    net = nn.JordanRNN(INPUT, HIDDEN, 2)
    x, targets = tg.randn(SEQ, BATCH, INPUT), tg.randn(SEQ, BATCH, 2)
    out, _ = net(x, teacher_forcing=targets)
    for t in range(1, SEQ):
        _, y = net.cell(x[t], targets[t - 1])
        np.testing.assert_allclose(out.data[t], y.data, rtol=1e-6)


def test_teacher_forcing_cuts_the_gradient_through_earlier_outputs():
    tg.manual_seed(0)
    net = nn.JordanRNN(INPUT, HIDDEN, 2).double()
    x = Tensor(np.random.default_rng(0).standard_normal((SEQ, BATCH, INPUT)), requires_grad=True)
    targets = Tensor(np.zeros((SEQ, BATCH, 2)))
    out, _ = net(x, teacher_forcing=targets)
    out[-1].sum().backward()
    # The last output sees only the last input: earlier steps reach it through targets only.
    assert np.all(x.grad.data[:-1] == 0)
    assert np.any(x.grad.data[-1] != 0)


# -- errors ------------------------------------------------------------------------------------


def test_wrong_input_size_names_the_layer_and_both_shapes():
    lstm = nn.LSTM(INPUT, HIDDEN)
    with pytest.raises(ShapeError, match=r"LSTM: expected input of shape \(seq_len, batch, 3\)"):
        lstm(tg.randn(SEQ, BATCH, 5))
    with pytest.raises(ShapeError, match=r"got \(3, 2, 5\)"):
        lstm(tg.randn(SEQ, BATCH, 5))


def test_wrong_initial_state_shape_names_the_expected_shape():
    gru = nn.GRU(INPUT, HIDDEN, num_layers=2)
    with pytest.raises(ShapeError, match=r"GRU: expected h0 of shape \(2, 2, 4\).*got \(1, 2, 4\)"):
        gru(tg.randn(SEQ, BATCH, INPUT), tg.zeros(1, BATCH, HIDDEN))


def test_wrong_cell_state_shape_names_the_cell():
    cell = nn.LSTMCell(INPUT, HIDDEN)
    with pytest.raises(ShapeError, match=r"LSTMCell: expected c of shape \(2, 4\), got \(2, 5\)"):
        cell(tg.randn(BATCH, INPUT), (tg.zeros(BATCH, HIDDEN), tg.zeros(BATCH, 5)))


def test_input_dtype_must_match_the_parameters():
    rnn = nn.RNN(INPUT, HIDDEN)
    with pytest.raises(DTypeError, match="RNN: input has dtype float64 but the parameters"):
        rnn(Tensor(np.zeros((SEQ, BATCH, INPUT))))


def test_jordan_teacher_forcing_shape_is_checked():
    net = nn.JordanRNN(INPUT, HIDDEN, 2)
    with pytest.raises(ShapeError, match=r"teacher_forcing targets of shape \(3, 2, 2\)"):
        net(tg.randn(SEQ, BATCH, INPUT), teacher_forcing=tg.zeros(SEQ, BATCH, 3))


def test_unknown_nonlinearity_is_rejected():
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        nn.RNN(INPUT, HIDDEN, nonlinearity="sigmoid")
