"""Drawings rendered by Graphviz's `dot`: valid SVG (parsed with xml.etree), user text shown
literally, NaN marking visible. Skipped, with the reason, where `dot` is not installed."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET

import graphviz
import pytest

import viz
from tinygrad_lite import Tensor, Value, scope
from viz import dot as viz_dot
from viz import style

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)"
)
SVG = "{http://www.w3.org/2000/svg}"


def svg_texts(drawing) -> list[str]:
    root = ET.fromstring(drawing.pipe(format="svg"))
    return [t.text or "" for t in root.iter(f"{SVG}text")]


@needs_dot
def test_expression_renders_to_svg_showing_ops_and_values():
    x = Value(3.0, label="x")
    y = (x**2 + 1.0).sqrt()
    y.backward()
    texts = svg_texts(viz.draw(y, title="sqrt"))
    for expected in ("x", "data 3", "grad 0.9487", "sqrt", "**", "+", "0", "1"):
        assert expected in texts


@pytest.mark.parametrize(
    "hostile",
    [
        'say "hi"',
        "<script>alert(1)</script>",
        "back\\slash \\N \\n \\l",
        "a|b{c}d<e>",
        "&amp; &lt; & ]]>",
        "ünïcødé → ∇ 梯度 🙂",
    ],
)
@needs_dot
def test_hostile_labels_render_as_literal_text(hostile):
    x = Value(1.0, label=hostile)
    scope_name = hostile.replace("/", "_")  # "/" nests scopes, so it cannot be a name's part
    with scope(scope_name):
        y = x * 2.0
    texts = svg_texts(viz.draw(y, title=hostile))
    assert texts.count(hostile) == 2 + (scope_name == hostile)  # node, title (and cluster)
    assert scope_name in texts


@needs_dot
def test_newline_in_a_label_becomes_two_lines_of_text():
    texts = svg_texts(viz.draw(Value(1.0, label="first\nsecond") * 2.0))
    assert "first" in texts and "second" in texts


@needs_dot
def test_control_characters_do_not_break_the_svg():
    texts = svg_texts(viz.draw(Value(1.0, label="bell\x07 nul\x00") * 2.0))
    assert "bell\\x07 nul\\x00" in texts


@needs_dot
def test_nan_node_is_drawn_with_a_red_border_and_nan_text():
    y = Value(-1.0).sqrt()
    root = ET.fromstring(viz.draw(y).pipe(format="svg"))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    strokes = {p.get("stroke") for p in root.iter(f"{SVG}polygon")}
    assert "NaN" in texts and style.NONFINITE.border in strokes


@needs_dot
def test_gradient_flow_of_a_tensor_layer_renders():
    X = Tensor([[1.0, -2.0]], name="X")
    W = Tensor([[0.5], [0.25]], requires_grad=True, name="W")
    loss = (X @ W).relu().sum()
    loss.backward()
    texts = svg_texts(viz.draw(loss, backward=True))
    assert "matmul" in texts and "relu" in texts and "edge = gradient norm:" in texts


@needs_dot
def test_folded_scopes_render_as_boxes_with_counts():
    h = Value(0.0)
    for t in range(3):
        with scope(f"rnn/t={t}"):
            h = (h * 0.5).tanh()
    texts = svg_texts(viz.draw(h, collapse=["rnn/*"]))
    # Per step: the constant 0.5, h * 0.5 and tanh.
    assert texts.count("3 nodes (folded)") == 3 and "rnn/t=1" in texts


def test_failed_bounded_ranking_is_retried_without_nslimit(monkeypatch):
    drawing = viz_dot.Drawing(body=["\t" + viz_dot.FAST_LAYOUT + "\n", "\ta -> b\n"])
    sources = []

    def fake_pipe(self, *args, **kwargs):
        sources.append(self.source)
        if "nslimit" in self.source:
            raise graphviz.CalledProcessError(1, ["dot"], stderr=b"trouble in init_rank")
        return b"<svg/>"

    monkeypatch.setattr(graphviz.Digraph, "pipe", fake_pipe)
    assert drawing.pipe(format="svg") == b"<svg/>"
    assert len(sources) == 2 and "nslimit" not in sources[1]


def test_other_graphviz_errors_are_not_retried(monkeypatch):
    drawing = viz_dot.Drawing(body=["\t" + viz_dot.FAST_LAYOUT + "\n"])

    def fake_pipe(self, *args, **kwargs):
        raise graphviz.CalledProcessError(1, ["dot"], stderr=b"syntax error")

    monkeypatch.setattr(graphviz.Digraph, "pipe", fake_pipe)
    with pytest.raises(subprocess.CalledProcessError):
        drawing.pipe(format="svg")
