"""viz.gradient_flow: ||dL/dh_t|| per time step from the backward events, and rho(W_hh).

The norms are checked against what retain_grad() keeps on every h_t; the trend against the
eigenvalue argument (rho > 1 grows going back in time, rho < 1 shrinks, and a linear
recurrence shrinks or grows by rho per step).
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lite as tl
import viz
from tinygrad_lite import Tensor, nn
from tinygrad_lite.graph import trace_backward
from tinygrad_lite.optim import clip_grad_norm_
from viz.flow import gradient_flow

CELLS = {"RNN": nn.RNNCell, "LSTM": nn.LSTMCell, "GRU": nn.GRUCell}
LAYERS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}


def _norm(t: Tensor) -> float:
    return float(np.linalg.norm(t.grad.data.astype(np.float64)))


def _spectral_radius(w: np.ndarray) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(w, dtype=np.float64)))))


def _cell_loop(kind: str, steps: int = 6, hidden: int = 4, seed: int = 0):
    """A cell run by hand under scope("t=..."); returns (cell, hs, loss on every h_t)."""
    tl.manual_seed(seed)
    cell = CELLS[kind](3, hidden)
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((steps, 2, 3)).astype(np.float32)
    weights = rng.standard_normal((steps, 2, hidden)).astype(np.float32)
    state, hs = None, []
    for t in range(steps):
        with tl.scope(f"t={t}"):
            state = cell(Tensor(xs[t]), state)
        hs.append(state[0] if kind == "LSTM" else state)
    loss = sum(((h * Tensor(w)).sum() for h, w in zip(hs, weights)), Tensor(0.0))
    return cell, hs, loss, xs, weights


def _scaled_rnn(rho: float, steps: int, hidden: int = 8, seed: int = 0):
    """A tanh RNN layer with W_hh scaled to spectral radius rho, on small inputs (so tanh stays
    near its linear part), and a loss on the last output only."""
    tl.manual_seed(seed)
    rnn = nn.RNN(2, hidden)
    w = rnn.weight_hh_l0.data.astype(np.float64)
    rnn.weight_hh_l0.data = (w * rho / _spectral_radius(w)).astype(np.float32)
    for b in (rnn.bias_ih_l0, rnn.bias_hh_l0):
        b.data = np.zeros_like(b.data)
    x = np.random.default_rng(seed).standard_normal((steps, 1, 2)).astype(np.float32) * 1e-3
    out, _ = rnn(Tensor(x))
    return rnn, out[-1].sum()


# -- the norms are dL/dh_t -----------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_norms_equal_retained_grads_of_hidden_states_in_a_cell_loop(kind):
    _, hs, loss, _, _ = _cell_loop(kind)
    for h in hs:
        h.retain_grad()
    flow = gradient_flow(loss, hs)
    np.testing.assert_allclose(flow.norms, [_norm(h) for h in hs], rtol=1e-6)
    assert flow.steps == list(range(len(hs)))


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_library_layers_need_no_hidden_states_and_match_the_cell_loop(kind):
    cell, hs, loss, xs, weights = _cell_loop(kind)
    for h in hs:
        h.retain_grad()
    loss.backward()
    expected = [_norm(h) for h in hs]
    layer = LAYERS[kind](3, 4)
    for mine, theirs in (("weight_ih", "weight_ih_l0"), ("weight_hh", "weight_hh_l0")):
        getattr(layer, theirs).data = getattr(cell, mine).data.copy()
    for mine, theirs in (("bias_ih", "bias_ih_l0"), ("bias_hh", "bias_hh_l0")):
        getattr(layer, theirs).data = getattr(cell, mine).data.copy()
    out, _ = layer(Tensor(xs))
    flow = gradient_flow((out * Tensor(weights)).sum())
    assert [s.stack for s in flow.stacks] == [f"{kind.lower()}/l0"]
    np.testing.assert_allclose(flow.norms, expected, rtol=1e-5)


def test_gradient_flow_accumulates_grad_exactly_as_backward_would():
    cell, hs, loss, _, _ = _cell_loop("RNN")
    flow = gradient_flow(loss, hs)
    twin, _, twin_loss, _, _ = _cell_loop("RNN")  # the same model, seed and data
    twin_loss.backward()
    assert flow.trace.accumulated
    for p, q in zip(cell.parameters(), twin.parameters()):
        np.testing.assert_array_equal(p.grad.data, q.grad.data)


def test_after_a_retained_backward_it_replays_without_adding_into_grad():
    cell, hs, loss, _, _ = _cell_loop("GRU")
    for h in hs:
        h.retain_grad()
    loss.backward(retain_graph=True)
    before = cell.weight_hh.grad.data.copy()
    flow = gradient_flow(loss, hs)
    np.testing.assert_array_equal(cell.weight_hh.grad.data, before)
    np.testing.assert_allclose(flow.norms, [_norm(h) for h in hs], rtol=1e-6)


def test_a_backward_trace_can_be_passed_instead_of_the_loss():
    _, hs, loss, _, _ = _cell_loop("LSTM")
    trace = trace_backward(loss, retain_graph=True)
    assert gradient_flow(trace, hs).norms == gradient_flow(loss, hs).norms


def test_hidden_states_can_be_named_for_several_recurrences():
    _, hs, loss, _, _ = _cell_loop("RNN")
    flow = gradient_flow(loss, {"first half": hs[:3], "second half": hs[3:]})
    assert [s.stack for s in flow.stacks] == ["first half", "second half"]
    assert flow.stacks[1].steps == (0, 1, 2)


def test_a_state_the_loss_does_not_depend_on_has_zero_gradient():
    tl.manual_seed(0)
    cell = nn.RNNCell(2, 3)
    h1 = cell(tl.randn(1, 2))
    h2 = cell(tl.randn(1, 2), h1.detach())  # truncated: no gradient reaches h1
    flow = gradient_flow(h2.sum(), [h1, h2])
    assert flow.norms[0] == 0.0 and flow.norms[1] > 0
    assert flow.stacks[0].events[0] is None


def test_an_lstm_state_tuple_is_refused_with_the_fix():
    tl.manual_seed(0)
    cell = nn.LSTMCell(2, 3)
    state = cell(tl.randn(1, 2))
    with pytest.raises(TypeError, match="first element of each"):
        gradient_flow(state[0].sum(), [state])


def test_a_graph_without_time_steps_asks_for_hidden_states():
    w = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="hidden_states="):
        gradient_flow((w * w).sum())


# -- rho(W_hh) --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_the_model_names_w_hh_even_when_w_ih_has_the_same_shape(kind):
    tl.manual_seed(1)
    layer = LAYERS[kind](4, 4)  # input size = hidden size: W_ih and W_hh look alike
    out, _ = layer(tl.randn(5, 1, 4))
    flow = gradient_flow(out.sum(), model=layer)
    w = layer.weight_hh_l0.data
    block = w if kind == "RNN" else w[8:12]  # LSTM's g block, GRU's n block
    assert flow.rho == pytest.approx(_spectral_radius(block), rel=1e-6)
    assert "weight_hh_l0" in flow.stacks[0].weight_source


def test_each_direction_and_layer_gets_its_own_w_hh():
    tl.manual_seed(2)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    out, _ = lstm(tl.randn(4, 2, 3))
    flow = gradient_flow(out.sum(), model=lstm)
    sources = {s.stack: s.weight_source for s in flow.stacks}
    for stack, name in (
        ("lstm/l0", "weight_hh_l0,"),
        ("lstm/l0_reverse", "weight_hh_l0_reverse"),
        ("lstm/l1", "weight_hh_l1,"),
        ("lstm/l1_reverse", "weight_hh_l1_reverse"),
    ):
        assert name in sources[stack]
    assert [s.reverse for s in flow.stacks if s.stack.endswith("_reverse")] == [True, True]


def test_weight_hh_can_be_given_directly():
    rnn, loss = _scaled_rnn(0.7, 4)
    flow = gradient_flow(loss, weight_hh=rnn.weight_hh_l0)
    assert flow.rho == pytest.approx(0.7, rel=1e-5)
    assert flow.stacks[0].weight_source == "given as weight_hh"


def test_without_model_or_weight_rho_is_unknown_and_the_chart_says_how_to_get_it():
    _, loss = _scaled_rnn(0.7, 4)
    flow = gradient_flow(loss)
    assert flow.rho is None
    assert "pass model= or weight_hh=" in flow.svg()


def test_one_weight_for_several_recurrences_is_refused():
    tl.manual_seed(0)
    rnn = nn.RNN(2, 3, bidirectional=True)
    out, _ = rnn(tl.randn(3, 1, 2))
    with pytest.raises(ValueError, match="weight_hh=\\{name: matrix\\}"):
        gradient_flow(out.sum(), weight_hh=rnn.weight_hh_l0)


def test_rho_above_one_makes_the_gradient_grow_going_back_in_time():
    # W_hh is not symmetric, so the first steps back mix eigenvalues (the norm need not grow
    # at every step); over 16 steps the largest one, rho = 1.5, sets the trend.
    rnn, loss = _scaled_rnn(1.5, 16)
    flow = gradient_flow(loss, model=rnn)
    assert flow.norms[0] > 50 * flow.norms[-1]
    assert 1.25 < flow.stacks[0].factor_per_step() <= 1.5


def test_rho_below_one_makes_the_gradient_shrink_going_back_in_time():
    rnn, loss = _scaled_rnn(0.5, 16)
    flow = gradient_flow(loss, model=rnn)
    assert flow.norms[0] < 1e-4 * flow.norms[-1]
    assert 0.4 < flow.stacks[0].factor_per_step() <= 0.5


def test_a_linear_recurrence_changes_the_gradient_by_rho_per_step():
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    w = Tensor(q @ np.diag([1.3, 0.4, -0.3, 0.1]) @ q.T, requires_grad=True)  # rho = 1.3
    u = Tensor(rng.standard_normal((4, 2)), requires_grad=True)
    h, hs = Tensor(np.zeros((1, 4))), []
    for t in range(12):
        with tl.scope(f"t={t}"):
            h = h @ w.T + Tensor(rng.standard_normal((1, 2))) @ u.T  # no nonlinearity
        hs.append(h)
    flow = gradient_flow((h * Tensor(rng.standard_normal((1, 4)))).sum(), model=[w, u])
    assert flow.rho == pytest.approx(1.3)
    ratios = [a / b for a, b in zip(flow.norms[:6], flow.norms[1:7])]
    np.testing.assert_allclose(ratios, 1.3, rtol=1e-3)  # (0.4 / 1.3)^6: under 1e-3


# -- clipping -------------------------------------------------------------------------------


def test_clipping_scales_every_step_by_the_clip_factor():
    rnn, loss = _scaled_rnn(1.5, 6)
    flow_trace = trace_backward(loss)
    total = clip_grad_norm_(rnn.parameters(), max_norm=0.01)
    flow = gradient_flow(flow_trace, model=rnn, total_norm=total, max_norm=0.01)
    factor = 0.01 / (total.item() + 1e-6)
    assert flow.clip_coefficient == pytest.approx(factor)
    np.testing.assert_allclose(flow.after_clipping(), np.array(flow.norms) * factor)
    svg = flow.svg()
    assert 'id="bar-after-0"' in svg and "max_norm=0.01" in svg


def test_a_clip_that_did_not_clip_leaves_the_norms():
    rnn, loss = _scaled_rnn(0.5, 4)
    flow = gradient_flow(loss, model=rnn, total_norm=0.5, max_norm=10.0)
    assert flow.after_clipping() == flow.norms


def test_total_norm_without_max_norm_is_refused():
    _, loss = _scaled_rnn(0.5, 3)
    with pytest.raises(ValueError, match="both total_norm"):
        gradient_flow(loss, total_norm=3.0)


# -- the chart and the stepper's view of it ---------------------------------------------------


def test_steps_fill_in_as_the_backward_events_reach_them():
    _, hs, loss, _, _ = _cell_loop("LSTM")
    flow = gradient_flow(loss, hs)
    events = flow.stacks[0].events
    seen = [flow.steps_reached(k)["h"] for k in range(len(flow.trace.events))]
    assert all(a <= b for a, b in zip(seen, seen[1:]))  # only grows
    assert seen[-1] == set(flow.steps)
    for t, e in zip(flow.steps, events):
        assert t in seen[e] and (e == 0 or t not in seen[e - 1])


def test_the_svg_marks_unreached_bars_pending():
    _, hs, loss, _, _ = _cell_loop("RNN")
    flow = gradient_flow(loss, hs)
    last = flow.stacks[0].events[-1]  # the last step is processed first
    svg = flow.svg(reached=last)
    assert 'id="bar-5" class="gf-step gf-bar"' in svg
    assert 'id="bar-0" class="gf-step gf-bar gf-pending"' in svg


def test_bar_ids_name_the_elements_of_the_svg():
    tl.manual_seed(0)
    rnn = nn.RNN(2, 3, bidirectional=True)
    out, _ = rnn(tl.randn(3, 1, 2))
    flow = gradient_flow(out.sum(), model=rnn)
    svg = flow.svg()
    ids = flow.bar_ids()
    assert ids["rnn/l0", 2] == "bar-2" and ids["rnn/l0_reverse", 2] == "s1-bar-2"
    assert all(f'id="{i}"' in svg for i in ids.values())


def test_the_chart_is_shown_in_jupyter_and_saved_without_overwriting(tmp_path):
    _, loss = _scaled_rnn(0.5, 3)
    flow = viz.gradient_flow(loss)
    assert flow._repr_svg_().startswith("<svg")
    path = flow.save(tmp_path / "flow.svg")
    assert path.read_text() == flow.svg()
    with pytest.raises(FileExistsError):
        flow.save(tmp_path / "flow.svg")
    flow.save(tmp_path / "flow.svg", overwrite=True)


def test_a_freed_graph_says_how_to_trace_it():
    _, hs, loss, _, _ = _cell_loop("RNN")
    loss.backward()
    with pytest.raises(RuntimeError, match="gradient_flow: .*retain_graph=True.*in place of"):
        gradient_flow(loss, hs)


def test_truncation_cuts_are_found_where_the_state_was_detached():
    tl.manual_seed(0)
    rnn = nn.RNN(2, 3)
    x, state, outputs = tl.randn(7, 1, 2), None, []
    for start in range(0, 7, 3):  # windows 0-2, 3-5, 6
        state = None if state is None else state.detach()
        out, state = rnn(x[start : start + 3], state)
        outputs.append(out)
    flow = gradient_flow(tl.cat(outputs, 0).sum(), model=rnn)
    assert flow.stacks[0].cuts == (2, 5)
    assert 'class="gf-cut"' in flow.svg() and "detach()" in flow.svg()


def test_an_unbroken_chain_has_no_cuts():
    for kind in sorted(CELLS):
        _, hs, loss, _, _ = _cell_loop(kind)
        assert gradient_flow(loss, hs).stacks[0].cuts == ()


def test_the_measured_factor_stops_at_the_last_cut():
    tl.manual_seed(0)
    rnn = nn.RNN(2, 3)
    first, state = rnn(tl.randn(3, 1, 2))
    second, _ = rnn(tl.randn(3, 1, 2), state.detach())
    s = gradient_flow(tl.cat([first, second], 0).sum(), model=rnn).stacks[0]
    assert s.cuts == (2,)
    assert s.factor_per_step() == pytest.approx((s.norms[3] / s.norms[5]) ** 0.5)


def test_bar_events_say_when_each_bar_fills_in():
    _, hs, loss, _, _ = _cell_loop("GRU")
    flow = gradient_flow(loss, hs)
    events = flow.bar_events()
    assert events == {f"bar-{t}": e for t, e in zip(flow.steps, flow.stacks[0].events)}
    k = sorted(events.values())[2]
    assert {bar for bar, e in events.items() if e <= k} == {
        f"bar-{t}" for t in flow.steps_reached(k)["h"]
    }
