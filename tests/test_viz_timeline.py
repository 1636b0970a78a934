"""viz.timeline: time places read from scopes, and h_t / c_t found for the library's recurrent
layers, cells run in a user's loop and the Jordan network."""

from __future__ import annotations

import pytest

from tinygrad_lite import manual_seed, nn, randn, scope
from tinygrad_lite.graph import export_graph
from viz.timeline import (
    TimePlace,
    cell_states,
    hidden_states,
    parse_time_scope,
    time_places,
)


@pytest.fixture(autouse=True)
def _seed():
    manual_seed(0)


def test_parse_time_scope_reads_layer_direction_step_and_sub_scope():
    assert parse_time_scope("gru/l1_reverse/t=7/gates") == TimePlace(
        "gru/l1_reverse", 1, True, 7, "gates"
    )


def test_parse_time_scope_of_a_user_loop_has_an_empty_stack():
    assert parse_time_scope("t=3") == TimePlace("", 0, False, 3, "")


def test_parse_time_scope_keeps_nested_prefixes_in_the_stack():
    assert parse_time_scope("model/enc/t=2/output").stack == "model/enc"


@pytest.mark.parametrize("scope_path", ["", "rnn/output", "rnn/l0/weights", "at=3", "t=x"])
def test_parse_time_scope_is_none_without_a_time_segment(scope_path):
    assert parse_time_scope(scope_path) is None


def test_input_slices_are_marked_as_input():
    assert parse_time_scope("lstm/input/t=0").is_input
    assert not parse_time_scope("lstm/l0/t=0").is_input


def _graph(layer, x, *extra):
    out, _ = layer(x, *extra)
    return export_graph((out * out).sum())


@pytest.mark.parametrize(
    ("cls", "op"), [(nn.RNN, "rnn_tanh"), (nn.LSTM, "lstm_hidden"), (nn.GRU, "+")]
)
def test_hidden_states_of_a_layer_are_one_node_per_step_in_time_order(cls, op):
    g = _graph(cls(2, 3), randn(5, 1, 2))
    states = hidden_states(g)
    assert list(states) == [f"{cls.__name__.lower()}/l0"]
    ts = [t for t, _ in states[f"{cls.__name__.lower()}/l0"]]
    assert ts == [0, 1, 2, 3, 4]
    assert {g.node(i).op for _, i in states[f"{cls.__name__.lower()}/l0"]} == {op}


def test_hidden_state_of_each_step_is_read_by_the_next_step():
    g = _graph(nn.GRU(2, 3), randn(4, 1, 2))
    places = time_places(g)
    chain = hidden_states(g)["gru/l0"]
    for (t, h), (_, h_next) in zip(chain, chain[1:]):
        readers = {e.dst for e in g.edges if e.src == h}
        assert any(places.get(r) and places[r].t == t + 1 for r in readers)
        assert places[h_next].t == t + 1


def test_lstm_cell_states_are_the_cell_state_nodes():
    g = _graph(nn.LSTM(2, 3), randn(3, 1, 2))
    chain = cell_states(g)["lstm/l0"]
    assert [t for t, _ in chain] == [0, 1, 2]
    assert {g.node(i).op for _, i in chain} == {"lstm_cell_state"}


def test_cell_states_are_empty_for_an_rnn():
    assert cell_states(_graph(nn.RNN(2, 3), randn(3, 1, 2))) == {}


def test_two_layer_bidirectional_layers_give_four_stacks_with_their_directions():
    g = _graph(nn.LSTM(2, 3, num_layers=2, bidirectional=True), randn(4, 1, 2))
    states = hidden_states(g)
    assert sorted(states) == ["lstm/l0", "lstm/l0_reverse", "lstm/l1", "lstm/l1_reverse"]
    places = time_places(g)
    assert all(places[i].reverse for _, i in states["lstm/l1_reverse"])
    assert all(places[i].layer == 1 for _, i in states["lstm/l1"])
    assert [t for t, _ in states["lstm/l0_reverse"]] == [0, 1, 2, 3]


def test_reverse_direction_reads_the_state_of_the_later_step():
    g = _graph(nn.RNN(2, 3, bidirectional=True), randn(4, 1, 2))
    chain = dict(hidden_states(g)["rnn/l0_reverse"])
    for t in range(3):  # h_t of the reverse direction is computed from h_{t+1}
        assert chain[t + 1] in g.parents(chain[t])


def test_batch_first_layers_have_the_same_time_structure():
    g = _graph(nn.GRU(2, 3, batch_first=True), randn(2, 6, 2))
    assert [t for t, _ in hidden_states(g)["gru/l0"]] == list(range(6))


@pytest.mark.parametrize(("cls", "op"), [(nn.RNNCell, "rnn_tanh"), (nn.GRUCell, "+")])
def test_cells_run_in_a_user_loop_under_time_scopes(cls, op):
    cell, x, h = cls(2, 3), randn(4, 1, 2), None
    for t in range(4):
        with scope(f"t={t}"):
            h = cell(x[t], h)
    g = export_graph(h.sum())
    chain = hidden_states(g)[""]
    assert [t for t, _ in chain] == [0, 1, 2, 3]
    assert {g.node(i).op for _, i in chain} == {op}


def test_lstm_cell_in_a_user_loop_gives_h_and_c_chains():
    cell, x, state = nn.LSTMCell(2, 3), randn(3, 1, 2), None
    for t in range(3):
        with scope(f"t={t}"):
            state = cell(x[t], state)
    g = export_graph(state[0].sum())
    assert [g.node(i).op for _, i in hidden_states(g)[""]] == ["lstm_hidden"] * 3
    assert [g.node(i).op for _, i in cell_states(g)[""]] == ["lstm_cell_state"] * 3


def test_jordan_network_recurs_through_its_output():
    net = nn.JordanRNN(2, 4, 3)
    out, _ = net(randn(4, 1, 2))
    g = export_graph(out.sum())
    chain = hidden_states(g)["jordan"]
    assert [t for t, _ in chain] == [0, 1, 2, 3]
    places = time_places(g)
    assert {places[i].sub for _, i in chain} == {"output"}


def test_a_detached_state_still_gives_every_step_its_hidden_state():
    cell, x, h = nn.RNNCell(2, 3), randn(6, 1, 2), None
    total = None
    for t in range(6):
        if t == 3:
            h = h.detach()
        with scope(f"t={t}"):
            h = cell(x[t], h)
        total = h.sum() if total is None else total + h.sum()
    g = export_graph(total)
    assert [g.node(i).op for _, i in hidden_states(g)[""]] == ["rnn_tanh"] * 6


def test_repeated_calls_of_a_layer_continue_the_time_axis():
    rnn = nn.RNN(2, 3)
    out1, h = rnn(randn(3, 1, 2))
    out2, h = rnn(randn(3, 1, 2), h.detach())
    out3, _ = rnn(randn(3, 1, 2), h.detach())
    g = export_graph(out1.sum() + out2.sum() + out3.sum())
    assert [t for t, _ in hidden_states(g)["rnn/l0"]] == list(range(9))
    inputs = sorted({p.t for p in time_places(g).values() if p.is_input})
    assert inputs == list(range(9))
