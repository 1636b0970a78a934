"""viz.draw_unrolled / layout_unrolled: columns by time step, h_t on one row, weights per step or
once, truncation cuts, elision, levels, directions and layers, per-step dL/dW, escaping and ids.

Positions are read from the layout (points, y up); rendering tests need Graphviz (`dot`)."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

import viz
from tinygrad_lite import Tensor, manual_seed, nn, randn, scope
from tinygrad_lite.data.tbptt import detach_state
from tinygrad_lite.graph import export_graph, trace_backward
from viz.unrolled import layout_unrolled

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")


@pytest.fixture(autouse=True)
def _seed():
    manual_seed(0)


def run(layer, steps=5, batch=1, **draw):
    """Forward and a traced backward of sum(out^2); returns (layer, trace, layout)."""
    out, _ = layer(randn(steps, batch, layer.input_size))
    trace = trace_backward((out * out).sum(), keep_arrays=True)
    return trace, layout_unrolled(trace.graph, trace=trace, **draw)


def items_of(lay, kind):
    return [it for it in lay.items.values() if it.kind == kind]


def h_items(lay, band=0):
    return sorted(
        (it for it in items_of(lay, "h") if it.id.startswith(f"h_{band}_")), key=lambda i: i.step
    )


# -- columns and rows -------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_one_column_per_step_in_time_order(cls):
    _, lay = run(cls(2, 3), steps=6)
    hs = h_items(lay)
    assert [h.step for h in hs] == list(range(6)) == lay.steps
    xs = [h.x for h in hs]
    assert xs == sorted(xs) and len(set(xs)) == 6


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_hidden_states_sit_on_one_straight_row(cls):
    _, lay = run(cls(2, 3), steps=6)
    assert len({round(h.y, 6) for h in h_items(lay)}) == 1


def test_lstm_cell_states_have_their_own_row_beside_the_hidden_states():
    _, lay = run(nn.LSTM(2, 3), steps=4)
    cs = items_of(lay, "c")
    assert len(cs) == 4 and len({round(c.y, 6) for c in cs}) == 1
    assert cs[0].y != h_items(lay)[0].y


def test_inputs_are_below_their_step_and_outputs_above():
    _, lay = run(nn.RNN(2, 3), steps=3)
    hs = h_items(lay)
    xs = sorted(items_of(lay, "x"), key=lambda i: i.step)
    assert [x.step for x in xs] == [0, 1, 2]
    assert all(x.y < h.y and x.x == h.x for x, h in zip(xs, hs))
    (join,) = items_of(lay, "join")
    assert join.y > hs[0].y


def test_the_hidden_chain_is_drawn_step_to_step():
    _, lay = run(nn.RNN(2, 3), steps=4)
    for t in range(3):
        assert f"e_h_0_{t}__h_0_{t + 1}" in lay.edges


def test_reverse_direction_has_its_own_row_with_time_running_the_other_way():
    _, lay = run(nn.GRU(2, 3, bidirectional=True), steps=4)
    fwd, rev = h_items(lay, 0), h_items(lay, 1)
    assert len({h.y for h in rev}) == 1 and rev[0].y != fwd[0].y
    for t in range(3):  # the reverse state at t is computed from the one at t + 1
        assert f"e_h_1_{t + 1}__cell_1_{t}" in lay.edges
        assert f"e_h_1_{t}__cell_1_{t + 1}" not in lay.edges


def test_a_second_layer_sits_above_the_first():
    _, lay = run(nn.LSTM(2, 3, num_layers=2), steps=3)
    layer0, layer1 = h_items(lay, 0), h_items(lay, 1)
    assert min(h.y for h in layer1) > max(h.y for h in layer0)
    assert [h.x for h in layer0] == [h.x for h in layer1]  # same columns


def test_bidirectional_two_layer_graph_has_four_rows():
    _, lay = run(nn.RNN(2, 3, num_layers=2, bidirectional=True), steps=3)
    rows = {round(h.y, 3) for h in items_of(lay, "h")}
    assert len(rows) == 4


# -- levels -----------------------------------------------------------------------------------


def test_cell_level_draws_one_box_per_step():
    _, lay = run(nn.GRU(2, 3), steps=3)
    cells = items_of(lay, "cell")
    assert sorted(c.step for c in cells) == [0, 1, 2]


def test_gate_level_splits_the_fused_lstm_gates_into_named_gates():
    trace, lay = run(nn.LSTM(2, 3), steps=3, level="gate")
    for t in range(3):
        for gate in "ifgo":
            assert f"gate_0_{t}_{gate}" in lay.items
    label = lay.items["gate_0_1_f"].label
    assert "forget" in label and "‖∂‖" in label


def test_gate_level_block_norms_are_the_blocks_of_the_fused_node():
    trace, lay = run(nn.LSTM(2, 3), steps=2, level="gate")
    gates = next(n for n in trace.graph.nodes if n.op == "lstm_gates")
    grad = np.asarray(gates.grad.numbers).reshape(gates.grad.shape)
    forget = float(np.linalg.norm(grad[..., 3:6]))
    item = lay.items[f"gate_0_{lay.step_of_item[lay.item_of_node[gates.id]]}_f"]
    assert viz.unrolled.format_number(forget, 3) in item.label


def test_gate_level_names_the_gru_reset_update_and_candidate():
    _, lay = run(nn.GRU(2, 3), steps=2, level="gate")
    assert {f"gate_0_1_{g}" for g in "rzn"} <= set(lay.items)


def test_gate_level_maps_the_gru_gate_nodes_to_their_gate_items():
    trace, lay = run(nn.GRU(2, 3), steps=2, level="gate")
    candidate = next(
        n.id for n in trace.graph.nodes if n.op == "tanh" and n.scope == "gru/l0/t=1/gates"
    )
    assert lay.item_of_node[candidate] == "gate_0_1_n"


def test_op_level_keeps_the_hidden_states_on_one_row():
    _, lay = run(nn.LSTM(2, 3), steps=3, level="op")
    assert len({h.y for h in h_items(lay)}) == 1 and len(h_items(lay)) == 3


def test_op_level_draws_every_op_of_a_step():
    trace, lay = run(nn.GRU(2, 3), steps=2, level="op")
    step_nodes = [n.id for n in trace.graph.nodes if n.scope.startswith("gru/l0/t=1")]
    shown = {lay.item_of_node[n] for n in step_nodes}
    assert len(shown) == len(step_nodes)


def test_an_unknown_level_is_refused():
    with pytest.raises(ValueError, match="level"):
        run(nn.RNN(2, 3), level="gates")


# -- shared weights ---------------------------------------------------------------------------


def test_per_step_weights_put_a_reference_in_every_column_and_no_edge_across_steps():
    _, lay = run(nn.RNN(2, 3), steps=4)
    refs = items_of(lay, "ref")
    assert sorted(r.step for r in refs) == [0, 1, 2, 3]
    for e in lay.edges.values():
        if lay.items[e.src].kind == "ref":
            assert lay.items[e.src].step == lay.items[e.dst].step


def test_weights_once_draws_each_shared_weight_once_with_one_labelled_edge_per_step():
    _, lay = run(nn.RNN(2, 3), steps=5, weights="once")
    weights = items_of(lay, "weight")
    assert len({w.id for w in weights}) == len(weights) == 2  # [W_ih | W_hh]^T and b_ih + b_hh
    for w in weights:
        labels = sorted(e.label for e in lay.edges.values() if e.src == w.id)
        assert labels == [f"t={t}" for t in range(5)]


def test_weights_once_for_cells_in_a_loop_fans_each_parameter_out():
    cell, x, h = nn.RNNCell(2, 3), randn(4, 1, 2), None
    for t in range(4):
        with scope(f"t={t}"):
            h = cell(x[t], h)
    lay = layout_unrolled(export_graph(h.sum()), weights="once")
    weight_ih = next(it for it in items_of(lay, "weight") if "W_ih" in it.label)
    assert len([e for e in lay.edges.values() if e.src == weight_ih.id]) == 4


@pytest.mark.parametrize(
    "layer",
    [
        lambda: nn.RNN(2, 3),
        lambda: nn.LSTM(2, 3),
        lambda: nn.GRU(2, 3),
        lambda: nn.LSTM(2, 3, num_layers=2, bidirectional=True),
    ],
)
def test_per_step_contributions_sum_to_the_weight_gradient(layer):
    layer = layer()
    _, lay = run(layer, steps=4, batch=2)
    for _, param in layer.named_parameters():
        name = lay.param_names[param._id]  # the engine's node id, as the export names it
        total = sum(lay.contribution_arrays[name].values())
        np.testing.assert_allclose(total, param.grad.data, rtol=1e-5, atol=1e-6)


def test_per_step_contributions_of_cells_in_a_loop_sum_to_the_weight_gradient():
    cell, x, h = nn.GRUCell(2, 3), randn(4, 2, 2), None
    for t in range(4):
        with scope(f"t={t}"):
            h = cell(x[t], h)
    trace = trace_backward((h * h).sum(), keep_arrays=True)
    lay = layout_unrolled(trace.graph, trace=trace)
    for _, param in cell.named_parameters():
        parts = lay.contribution_arrays[lay.param_names[param._id]]
        assert sorted(parts) == [0, 1, 2, 3]
        np.testing.assert_allclose(sum(parts.values()), param.grad.data, rtol=1e-5, atol=1e-6)


def test_weights_panel_has_one_row_per_parameter_and_one_bar_per_step():
    _, lay = run(nn.RNN(2, 3), steps=4)
    rows = items_of(lay, "weight_row")
    assert len(rows) == 4
    bars = items_of(lay, "bar")
    assert len(bars) == 4 * 4
    assert {b.step for b in bars} == {0, 1, 2, 3}


def test_the_first_step_sends_nothing_to_w_hh_from_a_zero_initial_state():
    _, lay = run(nn.RNN(2, 3), steps=3)
    assert lay.contributions["W_hh"][0] == 0.0
    assert lay.contributions["W_hh"][2] > 0.0


# -- truncation -------------------------------------------------------------------------------


def truncated_rnn(steps=9, k=3):
    rnn = nn.RNN(2, 3)
    x, h, loss = randn(steps, 1, 2), None, None
    for start in range(0, steps, k):
        out, h = rnn(x[start : start + k], h)
        part = (out * out).sum()
        loss = part if loss is None else loss + part
        h = h.detach()
    return loss


def test_truncation_draws_one_cut_per_detach():
    loss = truncated_rnn()
    trace = trace_backward(loss, keep_arrays=True)
    lay = layout_unrolled(trace.graph, trace=trace)
    assert lay.steps == list(range(9))
    cuts = items_of(lay, "cut")
    assert sorted(c.step for c in cuts) == [3, 6]
    assert lay.cuts == ["cut_0_h_3", "cut_0_h_6"]


def test_no_gradient_crosses_a_cut():
    loss = truncated_rnn()
    trace = trace_backward(loss, keep_arrays=True)
    lay = layout_unrolled(trace.graph, trace=trace)
    for cut in items_of(lay, "cut"):
        touching = [e for e in lay.edges.values() if cut.id in (e.src, e.dst)]
        assert touching and all(e.norm is None for e in touching)
        assert any(e.kind == "cut" and "dashed" in e.attrs.get("style", "") for e in touching)


def test_a_detach_in_a_users_loop_is_a_cut():
    cell, x, h, loss = nn.RNNCell(2, 3), randn(6, 1, 2), None, None
    for t in range(6):
        if t == 3:
            h = h.detach()
        with scope(f"t={t}"):
            h = cell(x[t], h)
        loss = h.sum() if loss is None else loss + h.sum()
    trace = trace_backward(loss, keep_arrays=True)
    lay = layout_unrolled(trace.graph, trace=trace)
    assert [c.step for c in items_of(lay, "cut")] == [3]


def test_detaching_an_lstm_state_cuts_both_the_hidden_and_the_cell_row():
    lstm = nn.LSTM(2, 3)
    x, state, loss = randn(6, 1, 2), None, None
    for start in (0, 3):
        out, state = lstm(x[start : start + 3], state)
        loss = (out * out).sum() if loss is None else loss + (out * out).sum()
        state = detach_state(state)  # two detaches: h and c
    lay = layout_unrolled(export_graph(loss))
    assert lay.cuts == ["cut_0_c_3", "cut_0_h_3"]


def test_each_truncation_window_has_its_own_output_bar_over_its_steps():
    lay = layout_unrolled(export_graph(truncated_rnn()))
    bars = sorted(items_of(lay, "join"), key=lambda b: b.x)
    hs = h_items(lay)
    assert len(bars) == 3
    for k, bar in enumerate(bars):
        inside = [h.step for h in hs if abs(h.x - bar.x) < bar.width / 2]
        assert inside == [3 * k, 3 * k + 1, 3 * k + 2]


def test_a_zero_initial_state_is_not_a_cut():
    _, lay = run(nn.LSTM(2, 3), steps=3)
    assert items_of(lay, "cut") == []
    assert {i.id for i in items_of(lay, "init")} == {"init_0_h_0", "init_0_c_0"}


# -- long sequences ---------------------------------------------------------------------------


def test_a_thousand_steps_fold_the_middle_and_keep_the_first_and_last():
    rnn = nn.RNN(2, 4)
    out, _ = rnn(randn(1000, 1, 2))
    lay = layout_unrolled(export_graph(out.sum()))
    assert lay.steps == list(range(10)) + list(range(990, 1000))
    assert "980 steps folded" in lay.title
    assert len(items_of(lay, "elide")) >= 1
    hs = h_items(lay)
    assert len(hs) == 20 and len({h.y for h in hs}) == 1
    assert [h.x for h in hs] == sorted(h.x for h in hs)


def test_folded_steps_are_not_in_the_item_map():
    rnn = nn.RNN(2, 4)
    out, _ = rnn(randn(60, 1, 2))
    g = export_graph(out.sum())
    lay = layout_unrolled(g)
    hidden = [n.id for n in g.nodes if n.scope == "rnn/l0/t=30"]
    assert hidden and all(n not in lay.item_of_node for n in hidden)


def test_max_columns_none_never_folds():
    out, _ = nn.RNN(2, 4)(randn(60, 1, 2))
    lay = layout_unrolled(export_graph(out.sum()), max_columns=None)
    assert lay.steps == list(range(60)) and not lay.folded


def test_a_window_of_steps_shows_only_those_columns():
    out, _ = nn.RNN(2, 3)(randn(10, 1, 2))
    lay = layout_unrolled(export_graph(out.sum()), steps=slice(3, 7))
    assert lay.steps == [3, 4, 5, 6]
    assert "window t=3..6" in lay.title
    (init,) = [i for i in items_of(lay, "init") if i.id.startswith("init_0_h")]
    assert "outside the window" in init.label
    h2 = next(n.id for n in export_graph(out.sum()).nodes if n.scope == "rnn/l0/t=2")
    assert lay.item_of_node[h2] == init.id  # the state the window starts from
    hidden = [n.id for n in export_graph(out.sum()).nodes if n.scope == "rnn/l0/t=8"]
    assert all(n not in lay.item_of_node for n in hidden)


# -- gradients --------------------------------------------------------------------------------


def test_after_backward_each_step_shows_the_norm_of_its_state_gradient():
    trace, lay = run(nn.RNN(2, 3), steps=3)
    for t, norm in lay.state_grads["rnn/l0"].items():
        h = lay.items[f"h_0_{t}"]
        assert viz.unrolled.format_number(norm, 3) in h.label
    assert lay.gradient_flow


def test_gradient_flow_edges_point_backwards_and_scale_with_the_norm():
    _, lay = run(nn.RNN(2, 3), steps=4)
    chain = [lay.edges[f"e_h_0_{t}__h_0_{t + 1}"] for t in range(3)]
    assert all(e.attrs["dir"] == "back" for e in chain)
    widest = max(chain, key=lambda e: e.norm)
    narrowest = min(chain, key=lambda e: e.norm)
    assert float(widest.attrs["penwidth"]) >= float(narrowest.attrs["penwidth"])


def test_before_backward_the_drawing_is_forward_only():
    out, _ = nn.RNN(2, 3)(randn(3, 1, 2))
    d = viz.draw_unrolled((out * out).sum())
    assert not d.layout.gradient_flow and "forward only" in d.layout.title
    assert all("dir" not in e.attrs for e in d.layout.edges.values())


def test_after_retained_backward_the_pass_is_replayed_without_adding_to_grad():
    rnn = nn.RNN(2, 3)
    out, _ = rnn(randn(3, 1, 2))
    loss = (out * out).sum()
    loss.backward(retain_graph=True)
    before = rnn.weight_hh_l0.grad.data.copy()
    d = viz.draw_unrolled(loss)
    np.testing.assert_array_equal(rnn.weight_hh_l0.grad.data, before)
    assert d.layout.contributions["W_hh"]


def test_after_a_plain_backward_the_drawing_shows_final_gradients_without_bars():
    out, _ = nn.RNN(2, 3)(randn(3, 1, 2))
    loss = (out * out).sum()
    loss.backward()
    d = viz.draw_unrolled(loss)
    assert d.layout.gradient_flow and not d.layout.contributions
    assert "trace_backward" in d.layout.items["panel_title"].label


def test_a_graph_without_time_steps_is_refused_with_the_fix():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="scope"):
        layout_unrolled(export_graph((x * x).sum()))


def test_jordan_network_recurs_on_its_output_row():
    net = nn.JordanRNN(2, 4, 3)
    out, _ = net(randn(4, 1, 2))
    lay = layout_unrolled(export_graph(out.sum()))
    hs = h_items(lay)
    assert len(hs) == 4 and "y" in hs[0].label


# -- ids, escaping, rendering -----------------------------------------------------------------


def test_edge_map_covers_the_drawn_engine_edges():
    trace, lay = run(nn.LSTM(2, 3), steps=3)
    for (src, dst, index), eid in lay.edge_of.items():
        assert eid in lay.edges
        assert any((e.src, e.dst, e.index) == (src, dst, index) for e in lay.edges[eid].engine)


@needs_dot
def test_svg_has_an_element_per_item_and_edge_with_its_id():
    _, lay = run(nn.LSTM(2, 3), steps=3, level="gate")
    svg = lay.svg()
    ids = set(re.findall(r'<g id="([^"]+)"', svg))
    assert set(lay.items) <= ids
    assert set(lay.edges) <= ids
    assert lay.svg() is svg  # rendered once


def hostile_rnn():
    rnn = nn.RNN(2, 3, name='<script>alert("x")</script> & co')
    rnn.weight_hh_l0.name = "<b>W&'\"</b>"
    out, _ = rnn(randn(3, 1, 2))
    return out


def test_hostile_names_are_escaped_in_the_dot_text():
    dot = layout_unrolled(export_graph(hostile_rnn().sum())).to_dot()
    assert "<script>" not in dot and "<b>W" not in dot
    assert "&lt;script&gt;" in dot and "&lt;b&gt;W&amp;" in dot


@needs_dot
def test_hostile_names_show_as_text_in_the_svg():
    svg = layout_unrolled(export_graph(hostile_rnn().sum())).svg()
    assert "<script" not in svg
    assert "&lt;script&gt;" in svg


@needs_dot
def test_draw_unrolled_is_saveable_and_renders_png(tmp_path):
    out, _ = nn.RNN(2, 3)(randn(3, 1, 2))
    d = viz.draw_unrolled(out.sum())
    paths = viz.save(d, tmp_path / "rnn", ["dot", "svg", "png"])
    assert [p.suffix for p in paths] == [".dot", ".svg", ".png"]
    assert paths[2].read_bytes()[:4] == b"\x89PNG"


def test_styles_override_attributes_by_id():
    _, lay = run(nn.RNN(2, 3), steps=2)
    dot = lay.to_dot({"h_0_1": {"fillcolor": "#ff0000"}})
    line = next(ln for ln in dot.splitlines() if ln.startswith("\th_0_1 "))
    assert 'fillcolor="#ff0000"' in line


def test_a_scalar_value_recurrence_is_drawn_by_time_step():
    from tinygrad_lite import Value

    w, h = Value(0.9, label="w"), Value(0.1, label="h0")
    for t in range(4):
        with scope(f"rnn/t={t}"):
            h = (w * h + Value(0.5, requires_grad=False)).tanh()
    trace = trace_backward(h, keep_arrays=True)
    lay = layout_unrolled(trace.graph, trace=trace)
    assert [i.step for i in h_items(lay)] == [0, 1, 2, 3]
    assert sum(lay.contributions["w"].values()) > 0


def test_dropout_between_layers_keeps_the_edge_from_one_layer_to_the_next():
    gru = nn.GRU(2, 3, num_layers=2, dropout=0.5)
    gru.train()
    _, lay = run(gru, steps=3)
    for t in range(3):
        assert f"e_h_0_{t}__cell_1_{t}" in lay.edges


# -- weights read once, after the steps (a head) ----------------------------------------------


def _rnn_with_a_head_on_all_steps(steps=6, **draw):
    rnn, head = nn.RNN(1, 4), nn.Linear(4, 1)
    out, _ = rnn(randn(steps, 1, 1))
    trace = trace_backward((head(out) ** 2).sum(), keep_arrays=True)
    return head, layout_unrolled(trace.graph, trace=trace, **draw)


def test_a_head_weight_gets_no_panel_row_and_says_it_is_used_once():
    head, lay = _rnn_with_a_head_on_all_steps()
    rows = {it.id for it in items_of(lay, "weight_row")}
    assert len(rows) == 4  # W_ih, W_hh, b_ih, b_hh: the steps' parameters only
    assert f"wrow_{head.weight._id}" not in rows and f"w_{head.bias._id}" not in rows
    heads = [it for it in items_of(lay, "weight") if "used once, after the steps" in it.label]
    assert len(heads) == 2


def test_a_head_weight_sits_above_the_op_that_reads_it_not_among_the_panel_bars():
    _, lay = _rnn_with_a_head_on_all_steps()
    top_of_steps = max(it.y for it in items_of(lay, "h"))
    lowest_bar = min(it.y for it in items_of(lay, "bar"))
    for w in (it for it in items_of(lay, "weight") if "used once" in it.label):
        (edge,) = [e for e in lay.edges.values() if e.src == w.id]
        reader = lay.items[edge.dst]
        assert w.y > reader.y > top_of_steps > lowest_bar  # above the loss, far from the panel
        assert abs(w.x - reader.x) < 150 and w.y - reader.y < 80  # a short edge


def test_weights_once_labels_each_step_once_at_the_step_end():
    _, lay = run(nn.RNN(2, 3), steps=8, weights="once")
    dot = lay.to_dot()
    for t in range(8):
        assert dot.count(f'headlabel="t={t}"') == 1
    assert 'label="t=' not in dot.replace("headlabel", "")
