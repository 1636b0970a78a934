"""Rich console views (viz.console): the graph tree, the model summary and the table of
gradient norms through time. Each is rendered to plain text and read like a user would."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from rich.console import Console

import tinygrad_lite as tg
from tinygrad_lite import Tensor, Value, nn
from viz.console import (
    gradient_norms_table,
    graph_tree,
    print_gradient_norms,
    print_summary,
    print_tree,
    summary,
)


def render(renderable, width: int = 120) -> str:
    console = Console(width=width, color_system=None, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


# -- graph tree ---------------------------------------------------------------------------


def test_tree_has_the_output_at_the_root_and_operands_in_order():
    x, b = Value(3.0, label="x"), Value(1.0, label="b")
    y = (x - b).tanh()
    lines = render(graph_tree(y)).splitlines()
    assert lines[0].startswith("tanh")
    assert lines[1].lstrip("└─ ").startswith("-")
    assert "x = 3" in lines[2] and "b = 1" in lines[3]


def test_tree_shows_a_shared_subexpression_once_and_references_it_later():
    a = Value(2.0, label="a")
    h = a * 3
    y = h * h + h
    text = render(graph_tree(y))
    assert text.count("a = 2") == 1  # the subtree under h is drawn once
    assert text.count("shown above") == 2  # the second and third use of h
    assert "[1]" in text


def test_tree_shows_values_and_gradients_after_backward():
    x = Value(3.0, label="x")
    y = x * x
    before = render(graph_tree(y))
    y.backward()
    after = render(graph_tree(y))
    assert "grad" not in before
    assert "x = 3  grad 6" in after


def test_tree_shows_tensor_shapes_and_small_values():
    w = Tensor([[1.0, 2.0]], requires_grad=True, name="W")
    text = render(graph_tree((w * 2).sum()))
    assert "W (1, 2) float32 = [1, 2]" in text


def test_tree_prints_markup_in_labels_literally():
    x = Value(1.0, label="[bold red]x[/bold red]")
    y = x + 1
    assert "[bold red]x[/bold red] = 1" in render(graph_tree(y))


def test_tree_of_a_deep_graph_needs_no_recursion_and_is_capped():
    x = Value(0.5, label="x")
    y = x
    for _ in range(3000):  # far past Python's recursion limit if walked recursively
        y = y + 1.0
    text = render(graph_tree(y, max_nodes=40, max_depth=10), width=200)
    assert "deeper than 10 levels not shown" in text
    text = render(graph_tree(y, max_nodes=40, max_depth=5000), width=400)
    assert "more lines not shown (max_nodes=40)" in text
    assert len(text.splitlines()) <= 42


def test_tree_of_several_outputs_has_one_branch_per_output():
    x = Value(2.0, label="x")
    text = render(graph_tree([x * 2, x + 1]))
    lines = text.splitlines()
    assert lines[0] == "graph"
    assert sum(1 for line in lines if "shown above" in line) == 1  # x is shared


def test_tree_limits_must_be_positive():
    with pytest.raises(ValueError, match="max_nodes must be a positive int"):
        graph_tree(Value(1.0), max_nodes=0)


def test_print_tree_prints_to_the_given_console():
    console = Console(width=80, color_system=None, record=True, file=io.StringIO())
    print_tree(Value(4.0, label="x").sqrt(), console=console)
    assert console.export_text().startswith("sqrt = 2")


# -- model summary ------------------------------------------------------------------------


def test_summary_of_embedding_and_lstm_counts_in_pytorch_and_keras_conventions():
    model = nn.Sequential(nn.Embedding(1000, 64), nn.LSTM(64, 128))
    text = render(summary(model))
    for number in ("64,000", "99,328", "98,816", "163,328", "162,816"):
        assert number in text
    assert "Params (PyTorch)" in text and "Params (Keras)" in text


def test_summary_of_convolutions_counts_weights_and_biases():
    model = nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3))
    text = render(summary(model))
    assert "896" in text and "18,496" in text and "19,392" in text
    assert "Keras" not in text  # both conventions agree, so one column


def test_summary_with_an_example_input_shows_output_shapes():
    model = nn.Sequential(nn.Embedding(1000, 64), nn.LSTM(64, 128))
    text = render(summary(model, Tensor(np.zeros((5, 2), dtype=np.int64))))
    assert "(5, 2, 64)" in text
    assert "(5, 2, 128), (1, 2, 128), (1, 2, 128)" in text  # output, (h_n, c_n)


def test_summary_without_an_example_input_has_no_shape_column():
    assert "Output shape" not in render(summary(nn.Linear(2, 3)))


def test_summary_marks_a_layer_called_several_times():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(3, 3)

        def forward(self, x):
            return self.layer(self.layer(x))

    text = render(summary(Twice(), tg.randn(2, 3)))
    assert "(2, 3)  ×2" in text


def test_summary_leaves_no_hooks_and_restores_training_mode():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model.train()
    summary(model, tg.randn(1, 2))
    assert all(m.training for m in model.modules())
    assert all(not m._forward_hooks for m in model.modules())


def test_summary_lists_a_parameter_owned_by_a_container_once():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter([1.0, 1.0])
            self.inner = nn.Linear(2, 2)

        def forward(self, x):
            return self.inner(x) * self.scale

    rows = {
        line.split("│")[1].strip(): line.split("│")[-2].strip()
        for line in render(summary(Scaled())).splitlines()
        if line.startswith("│")
    }
    assert rows == {"(model)": "2", "inner": "6", "Total": "8"}


def test_print_summary_prints_to_the_given_console():
    console = Console(width=80, color_system=None, record=True, file=io.StringIO())
    print_summary(nn.Linear(4, 2), console=console)
    assert "10" in console.export_text()


# -- gradient norms through time ----------------------------------------------------------


def test_gradient_norms_table_has_one_row_per_step_and_a_column_per_series():
    table = gradient_norms_table({"RNN": [1e-6, 1e-3, 1.0], "LSTM": [0.5, 0.7, 1.0]})
    assert table.row_count == 3
    assert [str(c.header) for c in table.columns] == ["t", "RNN", "LSTM"]


def test_gradient_norms_bars_grow_with_the_norm_on_a_log_scale():
    text = render(gradient_norms_table([1e-6, 1e-3, 1.0], bar_width=10))
    bars = [line.count("█") for line in text.splitlines() if line.startswith("│")]
    assert bars == [0, 5, 10]


def test_gradient_norms_caption_gives_the_ratio_of_first_to_last_step():
    text = render(gradient_norms_table({"RNN": [1e-6, 1.0]}))
    assert "t=0 / t=1: RNN 1e-06" in text


def test_gradient_norms_show_nan_inf_and_missing_steps():
    text = render(gradient_norms_table({"a": [1.0, math.nan, math.inf], "b": [1.0]}))
    assert "nan" in text and "inf" in text
    assert text.count(" - ") == 2  # series b has no steps 1 and 2


def test_print_gradient_norms_prints_to_the_given_console():
    console = Console(width=80, color_system=None, record=True, file=io.StringIO())
    print_gradient_norms([0.1, 0.2], console=console, title="norms")
    assert "norms" in console.export_text()
