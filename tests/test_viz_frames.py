"""viz.frames: the backward pass as frames on one fixed unrolled layout."""

import os
import re

import graphviz
import numpy as np
import pytest

import tinygrad_lite as tl
import viz
from tinygrad_lite import nn, randn
from tinygrad_lite.graph import trace_backward

MODELS = {
    "rnn": lambda: nn.RNN(2, 3),
    "lstm": lambda: nn.LSTM(2, 3),
    "gru": lambda: nn.GRU(2, 3),
    "bidirectional": lambda: nn.LSTM(2, 3, bidirectional=True),
    "two_layers": lambda: nn.GRU(2, 3, num_layers=2),
}


def _run(kind="lstm", steps=4, seed=0):
    tl.manual_seed(seed)
    model = MODELS[kind]()
    out, _ = model(randn(steps, 1, 2))
    return model, (out * out).sum()


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_last_frame_gradients_equal_every_leaf_grad(kind):
    model, loss = _run(kind)
    frames = viz.bptt_frames(loss)
    last = frames[-1].grad_norms
    for p in model.parameters():
        # The parameters are float32: the events' sum and .grad agree to float32 rounding.
        assert np.allclose(frames.leaf_grads[p._id], p.grad.data, rtol=1e-6, atol=1e-7)
        norm = float(np.linalg.norm(p.grad.data.astype(np.float64)))
        assert last[p._id] == pytest.approx(norm, rel=1e-6)


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_one_frame_per_backward_event_and_the_finished_set_only_grows(kind):
    _, loss = _run(kind)
    frames = viz.bptt_frames(loss)
    assert len(frames) == len(frames.trace.events)
    assert [f.events for f in frames] == [(e.index,) for e in frames.trace.events]
    previous = frozenset()
    for f in frames:
        assert previous <= f.finished
        assert set(f.nodes) <= f.finished  # the processed node holds its final gradient
        previous = f.finished
    assert set(frames.leaf_grads) <= previous


def test_frames_after_the_users_own_backward_do_not_add_into_grad_again():
    model, loss = _run("rnn")
    loss.backward(retain_graph=True)
    before = {p._id: p.grad.data.copy() for p in model.parameters()}
    frames = viz.bptt_frames(loss)
    assert frames.trace.accumulated is False
    for p in model.parameters():
        assert np.array_equal(p.grad.data, before[p._id])
        assert np.allclose(frames.leaf_grads[p._id], before[p._id])


def test_frames_in_place_of_backward_accumulate_grad_once():
    model, loss = _run("gru")
    frames = viz.bptt_frames(loss)
    tl.manual_seed(0)
    twin = MODELS["gru"]()
    out, _ = twin(randn(4, 1, 2))
    (out * out).sum().backward()
    assert frames.trace.accumulated is True
    for p, q in zip(model.parameters(), twin.parameters()):
        assert np.allclose(p.grad.data, q.grad.data)


def test_frames_accept_a_trace_kept_with_its_arrays():
    _, loss = _run("rnn")
    trace = trace_backward(loss, retain_graph=True, keep_arrays=True)
    assert len(viz.bptt_frames(trace)) == len(trace.events)


def test_a_trace_without_arrays_is_refused_with_the_fix():
    _, loss = _run("rnn")
    with pytest.raises(ValueError, match="keep_arrays=True"):
        viz.bptt_frames(trace_backward(loss))


def test_a_shared_weight_is_shown_collecting_one_contribution_per_step():
    _, loss = _run("rnn", steps=5)
    frames = viz.bptt_frames(loss)
    incoming = {}
    for e in frames.trace.events:
        for s in e.sent:
            incoming[s.edge.src] = incoming.get(s.edge.src, 0) + 1
    shared = [n for n, c in incoming.items() if c == 5]
    assert shared  # the weights' operand, used once per step
    node = shared[0]
    counts = [f.accumulated[node][0] for f in frames if node in f.accumulated]
    norms = [f.accumulated[node][1] for f in frames if node in f.accumulated]
    assert counts == [1, 2, 3, 4, 5]
    assert norms[-1] == pytest.approx(frames[-1].grad_norms[node])


def test_each_frame_says_what_it_does_in_words():
    _, loss = _run("lstm")
    frames = viz.bptt_frames(loss)
    f = next(f for f in frames if f.step is not None)  # the first event inside a step
    event = frames.trace.events[f.events[0]]
    node = frames.graph.node(event.node)
    assert f"Event {event.index + 1}: " in f.description
    assert f"op {node.op}" in f.description and node.scope in f.description
    assert f.step == 3 and "h_3" in f.description
    for s in event.sent:
        assert viz.frames.format_number(s.grad.norm) in f.description
    assert [e for e, _ in f.sent] == [(s.edge.src, s.edge.dst, s.edge.index) for s in event.sent]


def test_step_granularity_groups_one_time_step_per_frame():
    _, loss = _run("rnn", steps=4)
    frames = viz.bptt_frames(loss, granularity="step")
    steps = [f.step for f in frames if f.step is not None]
    assert steps == [3, 2, 1, 0]
    assert sum(len(f.events) for f in frames) == len(frames.trace.events)


def test_an_unknown_granularity_names_the_choices():
    _, loss = _run("rnn")
    with pytest.raises(ValueError, match="'node', 'step'"):
        viz.bptt_frames(loss, granularity="edge")


def test_a_frame_restyles_the_one_layout_by_id():
    _, loss = _run("lstm")
    frames = viz.bptt_frames(loss, level="gate")
    known = set(frames.layout.items) | set(frames.layout.edges)
    for k in (0, len(frames) // 2, len(frames) - 1):
        classes = frames.classes(k)
        assert set(classes) <= known
        current = [i for i, c in classes.items() if c == "tl-current"]
        assert current == list(frames[k].current_items)
    first, last = frames.classes(0), frames.classes(len(frames) - 1)
    assert sum(c == "tl-pending" for c in first.values()) > sum(
        c == "tl-pending" for c in last.values()
    )


def test_the_current_item_is_the_drawn_item_of_the_processed_node():
    _, loss = _run("rnn")
    frames = viz.bptt_frames(loss)
    for f in frames:
        expected = [
            frames.layout.item_of_node[n] for n in f.nodes if n in frames.layout.item_of_node
        ]
        assert list(f.current_items) == expected


def test_save_frames_writes_one_restyled_svg_per_frame_without_graphviz(tmp_path, monkeypatch):
    _, loss = _run("rnn", steps=3)
    frames = viz.bptt_frames(loss)
    frames.layout.svg()  # the one rendering
    monkeypatch.setattr(graphviz.Source, "pipe", lambda *a, **k: pytest.fail("re-rendered"))
    paths = viz.save_frames(frames, tmp_path / "frames")
    assert len(paths) == len(frames)
    assert sorted(os.listdir(tmp_path / "frames"))[0] == "frame_0000.svg"
    text = open(paths[1], encoding="utf-8").read()
    current = frames[1].current_items[0]
    assert re.search(rf"#{current} polygon[^{{]*\{{ stroke: #d62728", text)
    assert text.count("<svg") == 1


def test_save_frames_never_overwrites_without_overwrite(tmp_path):
    _, loss = _run("rnn", steps=2)
    frames = viz.bptt_frames(loss)
    viz.save_frames(frames, tmp_path)
    first = (tmp_path / "frame_0000.svg").read_text()
    (tmp_path / "frame_0000.svg").write_text("mine")
    with pytest.raises(FileExistsError):
        viz.save_frames(frames, tmp_path)
    assert (tmp_path / "frame_0000.svg").read_text() == "mine"
    viz.save_frames(frames, tmp_path, overwrite=True)
    assert (tmp_path / "frame_0000.svg").read_text() == first


def test_digraphs_are_one_pinned_graphviz_digraph_per_frame():
    _, loss = _run("rnn", steps=2)
    frames = viz.bptt_frames(loss)
    graphs = frames.digraphs()
    assert len(graphs) == len(frames)
    assert all(isinstance(g, graphviz.Digraph) for g in graphs)
    pos = re.compile(r'pos="[-0-9.]+,[-0-9.]+!"')
    assert pos.findall(graphs[0].source) == pos.findall(graphs[-1].source)
    assert "layout=nop2" in graphs[0].source
    current = frames[0].current_items[0]
    assert re.search(rf"\t{current} \[[^\n]*penwidth=\"?3", graphs[0].source)


def test_hostile_names_are_escaped_in_the_frame_svgs(tmp_path):
    tl.manual_seed(0)
    cell = nn.RNNCell(2, 3)
    h = None
    for t in range(3):
        with tl.scope(f"t={t}"):
            h = cell(randn(1, 2), h)
    loss = h.sum()
    loss.name = '<script>alert("x")</script> & co'
    frames = viz.bptt_frames(loss)
    paths = viz.save_frames(frames, tmp_path)
    text = open(paths[0], encoding="utf-8").read()
    assert "<script>" not in text
    assert any(loss.name in f.description for f in frames)


def test_frames_after_a_freed_backward_say_how_to_keep_the_graph():
    _, loss = _run("rnn")
    loss.backward()
    with pytest.raises(tl.errors.GraphFreedError, match="retain_graph=True.*in place of"):
        viz.bptt_frames(loss)
