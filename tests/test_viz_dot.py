"""The DOT text `viz.draw` builds: nodes, edges, operand order, labels, clusters and folding.

These tests read the DOT source only (no Graphviz needed); test_viz_render.py renders it."""

from __future__ import annotations

import re

import numpy as np
import pytest

import viz
from tinygrad_lite import Tensor, Value, scope
from viz import style

NODE = re.compile(r"^\t(\w+) \[(.*)\]$", re.M)
EDGE = re.compile(r"^\t(\w+) -> (\w+)(?: \[(.*)\])?$", re.M)


def nodes(dot) -> dict[str, str]:
    """DOT node name -> its attribute text."""
    return dict(NODE.findall(dot.source))


def edges(dot) -> list[tuple[str, str, str]]:
    return EDGE.findall(dot.source)


def data_nodes(dot) -> dict[str, str]:
    return {k: v for k, v in nodes(dot).items() if re.fullmatch(r"n\d+", k)}


def op_nodes(dot) -> dict[str, str]:
    return {k: v for k, v in nodes(dot).items() if re.fullmatch(r"n\d+op", k)}


def sqrt_expression():
    x, b = Value(3.0, label="x"), Value(1.0, label="b")
    return x, b, (x**2 + b).sqrt()


def test_each_value_is_one_table_and_each_op_one_ellipse():
    _, _, y = sqrt_expression()
    dot = viz.draw(y)
    assert len(data_nodes(dot)) == 6  # x, b, the constant 2, x**2, x**2+b, y
    assert sorted(re.search(r"label=<(.*?)>", v).group(1) for v in op_nodes(dot).values()) == [
        "**",
        "+",
        "sqrt",
    ]
    assert len(edges(dot)) == 3 + 5  # op -> result, plus 2 + 2 + 1 operand edges


def test_a_times_a_draws_two_edges_labelled_0_and_1():
    a = Value(2.0, label="a")
    y = a * a
    dot = viz.draw(y)
    operand_edges = [e for e in edges(dot) if e[1] == f"n{y._id}op"]
    assert [(src, attrs) for src, _, attrs in operand_edges] == [
        (f"n{a._id}", 'label="0"'),
        (f"n{a._id}", 'label="1"'),
    ]


def test_operand_edges_follow_operand_order_not_creation_order():
    b = Value(1.0, label="b")
    a = Value(2.0, label="a")
    y = a - b
    labels = {src: attrs for src, dst, attrs in edges(viz.draw(y)) if dst == f"n{y._id}op"}
    assert labels == {f"n{a._id}": 'label="0"', f"n{b._id}": 'label="1"'}


def test_single_operand_edges_carry_no_index_label():
    y = Value(4.0).sqrt()
    assert all("label" not in attrs for _, _, attrs in edges(viz.draw(y)))


def test_grad_shows_a_dash_before_backward_and_the_number_after():
    x, _, y = sqrt_expression()
    assert "grad: -" in data_nodes(viz.draw(y))[f"n{x._id}"]
    y.backward()
    label = data_nodes(viz.draw(y))[f"n{x._id}"]
    assert "grad: -" not in label and "grad 0.9487" in label


def test_constants_show_no_grad_cell():
    y = Value(2.0) * 3.0
    const = [v for v in data_nodes(viz.draw(y)).values() if style.KIND_STYLES["constant"].fill in v]
    assert len(const) == 1 and "grad" not in const[0]


def test_parameters_constants_and_outputs_have_distinct_styles():
    x = Value(2.0, label="x")
    y = x * 3.0
    drawn = data_nodes(viz.draw(y))
    fills = {name: re.search(r'BGCOLOR="(#\w+)"', attrs).group(1) for name, attrs in drawn.items()}
    assert fills[f"n{x._id}"] == style.KIND_STYLES["parameter"].fill
    assert fills[f"n{y._id}"] == style.KIND_STYLES["output"].fill
    assert len(set(fills.values())) == 3


def test_nan_value_gets_a_red_border_and_the_word_nan():
    y = Value(-1.0).sqrt()
    label = data_nodes(viz.draw(y))[f"n{y._id}"]
    assert f'COLOR="{style.NONFINITE.border}"' in label and "<B>NaN</B>" in label


def test_infinite_gradient_is_marked_on_its_node():
    x = Value(0.0, label="x")
    y = x.sqrt()  # d sqrt(x)/dx at 0 is +inf
    y.backward()
    label = data_nodes(viz.draw(y))[f"n{x._id}"]
    assert f'COLOR="{style.NONFINITE.border}"' in label and "grad Inf" in label


def test_small_tensor_shows_all_its_numbers():
    t = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="t")
    label = data_nodes(viz.draw(t * 1.0))[f"n{t._id}"]
    assert "2×2 float32" in label and "1 2<BR/>3 4" in label


def test_large_tensor_shows_a_summary_and_the_gradient_norm():
    t = Tensor(np.arange(20.0), requires_grad=True, name="t")
    y = (t * 2.0).sum()
    y.backward()
    label = data_nodes(viz.draw(y))[f"n{t._id}"]
    assert "mean 9.5" in label and "[0, 19]" in label
    assert f"‖grad‖ {np.sqrt(20 * 4.0):.4g}" in label


def clusters(dot) -> list[str]:
    return re.findall(r"subgraph cluster_\d+ \{ label=<(.*?)>", dot.source)


def test_scopes_become_nested_clusters():
    x = Value(1.0)
    with scope("lstm"):
        h = x * 2.0
        with scope("t=3"):
            y = h + 1.0
    dot = viz.draw(y)
    assert clusters(dot) == ["lstm", "t=3"]
    body = dot.source
    inner_open = body.index("label=<t=3>")
    # The inner cluster closes before the outer one: two consecutive closing braces at the end.
    assert body.index(f"\tn{y._id} [") > inner_open
    assert body.rstrip().count("\t}") == 2
    assert body.index(f"\tn{h._id} [") < inner_open


def unrolled(steps: int, per_step: int = 1):
    """A scalar chain with `steps` scopes 'rnn/t=k', each adding `per_step` ops."""
    w = Value(0.5, label="w")
    h = Value(0.0, label="h0")
    for t in range(steps):
        with scope(f"rnn/t={t}"):
            for _ in range(per_step):
                h = (w * h).tanh()
    return w, h


def folded_boxes(dot) -> dict[str, str]:
    return {k: v for k, v in nodes(dot).items() if k.startswith("f")}


def test_collapse_folds_each_matching_scope_into_one_box_with_its_node_count():
    _, y = unrolled(3)
    dot = viz.draw(y, collapse=["rnn/*"])
    boxes = folded_boxes(dot)
    assert len(boxes) == 3
    assert all("2 nodes (folded)" in v for v in boxes.values())  # w*h and tanh per step
    assert clusters(dot) == ["rnn"]
    assert len(data_nodes(dot)) == 2  # only w and h0 live outside the folded steps


def test_edges_to_a_folded_box_are_rerouted_and_deduplicated():
    w, y = unrolled(1, per_step=3)  # w feeds the step three times
    h0 = w._id + 1  # created right after w
    dot = viz.draw(y, collapse="rnn/t=0")
    (box,) = folded_boxes(dot)
    into_box = sorted(src for src, dst, _ in edges(dot) if dst == box)
    assert into_box == sorted([f"n{w._id}", f"n{h0}"])  # w once although it is used 3 times


def test_collapse_pattern_matching_nothing_changes_nothing():
    _, y = unrolled(2)
    assert viz.draw(y, collapse=["gru/*"]).source == viz.draw(y).source


def test_above_max_nodes_deepest_scopes_fold_and_the_title_says_so():
    _, y = unrolled(10, per_step=2)  # 10 steps x 4 nodes + w + h0 = 42 nodes
    dot = viz.draw(y, max_nodes=20)
    boxes = folded_boxes(dot)
    shown = len(boxes) + len(data_nodes(dot))
    assert 0 < len(boxes) and shown <= 20
    assert all(re.search(r"rnn/t=\d+", v) for v in boxes.values())
    assert "folded automatically" in dot.source and "max_nodes=20" in dot.source


def test_without_scopes_above_max_nodes_the_nearest_nodes_stay_and_hidden_are_counted():
    x = Value(1.0, label="x")
    y = x
    for _ in range(30):
        y = y.tanh()  # 31 nodes
    dot = viz.draw(y, max_nodes=10)
    shown = data_nodes(dot)
    assert len(shown) == 10 and f"n{y._id}" in shown and f"n{x._id}" not in shown
    assert "21 hidden" in dot.source


def test_backward_view_reverses_arrows_and_widens_edges_with_larger_gradients():
    small = Value(1.0, label="small")
    big = Value(1.0, label="big")
    y = small * 1e-4 + big * 1e3
    y.backward()
    dot = viz.draw(y, backward=True)
    width = {}
    for src, _, attrs in edges(dot):
        assert "dir=back" in attrs
        width[src] = float(re.search(r"penwidth=([\d.]+)", attrs).group(1))
    assert width[f"n{big._id}"] > width[f"n{small._id}"]
    assert dot.source.count("edge = gradient norm") == 1  # one legend


def test_backward_view_before_backward_draws_grey_edges():
    y = Value(2.0) * Value(3.0)
    dot = viz.draw(y, backward=True)
    assert all(style.NO_GRAD_COLOR in attrs for _, _, attrs in edges(dot))


def test_values_and_grads_can_be_left_out():
    x, _, y = sqrt_expression()
    label = data_nodes(viz.draw(y, values=False, grads=False))[f"n{x._id}"]
    assert "data" not in label and "grad" not in label and "<B>x</B>" in label


def test_draw_accepts_a_list_of_outputs():
    x = Value(1.0)
    a, b = x * 2.0, x + 1.0
    dot = viz.draw([a, b])
    assert sum(style.KIND_STYLES["output"].fill in v for v in data_nodes(dot).values()) == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [({"direction": "up"}, "direction"), ({"max_nodes": 0}, "max_nodes")],
)
def test_bad_arguments_raise_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        viz.draw(Value(1.0), **kwargs)


def test_drawing_something_that_is_not_a_node_raises_type_error():
    with pytest.raises(TypeError, match="expected a tinygrad_lite Value or Tensor"):
        viz.draw(3.0)


HOSTILE = 'say "hi" \\ <script>alert(1)</script> & |{x}| \n next'


def test_hostile_text_never_reaches_dot_unescaped():
    x = Value(1.0, label=HOSTILE)
    with scope('sc"<b>|{}'):
        y = x * 2.0
    src = viz.draw(y, title=HOSTILE).source
    assert "<script>" not in src and '"hi"' not in src and "<b>|" not in src
    assert src.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2  # the label and the title
    assert "\n next" not in src  # a newline becomes <BR/>, never a raw line in the DOT file


def test_big_graphs_draw_shared_nodes_once_per_use_as_reference_copies():
    w, y = unrolled(200)  # 400 ops: the fast layout
    dot = viz.draw(y)
    refs = [k for k in nodes(dot) if k.startswith(f"r{w._id}x")]
    assert len(refs) == 200
    assert not any(src == f"n{w._id}" for src, _, _ in edges(dot))


def test_big_graphs_put_the_op_inside_its_result_instead_of_an_ellipse():
    _, y = unrolled(200)
    dot = viz.draw(y)
    assert not op_nodes(dot)
    assert "<I>tanh</I>" in data_nodes(dot)[f"n{y._id}"]


def test_save_refuses_to_overwrite_an_existing_file(tmp_path):
    (tmp_path / "g.dot").write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        viz.save(viz.draw(Value(1.0) * 2), tmp_path / "g", ["dot"])
    assert (tmp_path / "g.dot").read_text() == "mine"
