"""`tinygrad-lite bptt`: build a recurrent model, backpropagate once, and write the stepper page
or the unrolled drawing. Run in-process through `main(argv)`; every user error exits 2 with one
line on stderr and writes nothing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tinygrad_lite.cli import main
from viz.cli_bptt import build_bptt_model
from viz.flow import gradient_flow

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(argv, capsys, contains: str) -> None:
    before = sorted(os.listdir("."))
    code, _, err = run(argv, capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("tinygrad-lite: error: ")
    assert "Traceback" not in err and contains in err
    assert sorted(os.listdir(".")) == before


REFUSED = [
    (["bptt"], "give -o FILE"),
    (["bptt", "--cell", "elman", "-o", "a.html"], "invalid choice"),
    (["bptt", "--steps", "0", "-o", "a.html"], "between 1 and 1000"),
    (["bptt", "--steps", "six", "-o", "a.html"], "whole number"),
    (["bptt", "--hidden", "100000", "-o", "a.html"], "between 1 and 256"),
    (["bptt", "--rho", "-1", "-o", "a.html"], "positive number"),
    (["bptt", "--rho", "nan", "-o", "a.html"], "positive number"),
    (["bptt", "--clip", "0", "-o", "a.html"], "positive number"),
    (["bptt", "--steps", "4", "--truncate", "4", "-o", "a.html"], "give K < --steps"),
    (["bptt", "--level", "neuron", "-o", "a.html"], "invalid choice"),
    (["bptt", "--task", "copy", "-o", "a.html"], "invalid choice"),
    (["bptt", "-o", "a.jpg"], "cannot tell the format"),
    (["bptt", "-o", "missing/a.html"], "does not exist"),
    (["bptt", "-o", "a.html", "--bogus"], "unrecognized arguments"),
]


@pytest.mark.parametrize(("argv", "reason"), REFUSED)
def test_user_error_exits_2_with_one_line_and_writes_nothing(argv, reason, capsys):
    assert_user_error(argv, capsys, reason)


@pytest.mark.parametrize("name", ["a.html", "a.dot"])
def test_an_existing_file_is_kept_without_overwrite(name, capsys):
    Path(name).write_text("precious")
    assert_user_error(["bptt", "-o", name], capsys, "pass --overwrite")
    assert Path(name).read_text() == "precious"


def test_help_lists_the_options(capsys):
    code, out, _ = run(["bptt", "--help"], capsys)
    assert code == 0
    for option in ("--cell", "--steps", "--hidden", "--rho", "--clip", "--truncate", "--level"):
        assert option in out


# -- the model it builds ------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_rho_scales_the_recurrent_weight_to_that_spectral_radius(cell):
    layer, _, loss = build_bptt_model(cell, 5, 4, rho=1.7)
    assert gradient_flow(loss, model=layer).rho == pytest.approx(1.7, rel=1e-5)


@pytest.mark.parametrize("task", ["oscillator", "adding"])
def test_the_loss_depends_on_every_step_of_either_task(task):
    layer, _, loss = build_bptt_model("lstm", 6, 3, task=task)
    flow = gradient_flow(loss, model=layer)
    assert flow.steps == list(range(6)) and all(v > 0 for v in flow.norms)


def test_truncation_stops_the_gradient_at_each_cut():
    layer, _, loss = build_bptt_model("rnn", 6, 3, truncate=3)
    loss.backward(retain_graph=True)
    flow = gradient_flow(loss, model=layer)
    # Steps 0-2 and 3-5 are two windows: the detached state carries no gradient back, so
    # each window's last step sees only its own loss term.
    assert flow.steps == list(range(6))
    twin, _, twin_loss = build_bptt_model("rnn", 3, 3)  # the first window alone, same seed
    np.testing.assert_allclose(gradient_flow(twin_loss).norms, flow.norms[:3], rtol=1e-5)


# -- what it writes -----------------------------------------------------------------------


def test_a_dot_file_holds_the_unrolled_drawing_with_its_cuts(capsys):
    code, out, _ = run(["bptt", "--steps", "6", "--truncate", "3", "-o", "cuts.dot"], capsys)
    assert code == 0 and "wrote cuts.dot" in out
    source = Path("cuts.dot").read_text()
    assert source.startswith("digraph unrolled") and source.count("detach") >= 1
    assert "Gradient flow through time: rnn/l0" in out  # the terminal table


@needs_dot
@pytest.mark.parametrize("name", ["a.svg", "a.png"])
def test_svg_and_png_drawings_are_rendered(name, capsys):
    code, _, _ = run(["bptt", "--cell", "gru", "--steps", "3", "-o", name], capsys)
    data = Path(name).read_bytes()
    assert code == 0
    assert data.startswith(b"\x89PNG") if name.endswith(".png") else b"<svg" in data


def test_overwrite_replaces_the_file(capsys):
    Path("a.dot").write_text("old")
    code, _, _ = run(["bptt", "--steps", "2", "-o", "a.dot", "--overwrite"], capsys)
    assert code == 0 and Path("a.dot").read_text().startswith("digraph")


def test_clip_prints_the_factor_it_applied(capsys):
    code, out, _ = run(["bptt", "--rho", "1.5", "--clip", "0.01", "-o", "a.dot"], capsys)
    assert code == 0 and "clip_grad_norm_: every gradient ×" in out


def test_an_html_file_is_the_stepper_page_with_the_clipped_chart(capsys):
    argv = ["bptt", "--cell", "lstm", "--steps", "4", "--clip", "0.01", "-o", "page.html"]
    code, out, _ = run(argv, capsys)
    page = Path("page.html").read_text()
    assert code == 0 and "wrote page.html" in out
    for control in ('id="prev"', 'id="next"', 'id="slider"', 'id="chart"', 'id="bar-3"'):
        assert control in page
    assert 'id="bar-after-3"' in page and "max_norm=0.01" in page


def test_interactive_steps_through_the_frames_in_the_terminal(capsys, monkeypatch):
    import viz.cli_bptt
    import viz.console_flow

    monkeypatch.setattr(viz.cli_bptt, "_stdin_is_terminal", lambda: True)
    monkeypatch.setattr(viz.console_flow, "terminal_keys", lambda: iter(["right", "right", "q"]))
    code, out, _ = run(["bptt", "--cell", "gru", "--steps", "2", "--interactive"], capsys)
    assert code == 0
    assert "backward pass: frame 3 /" in out and "Event 3:" in out
    assert not os.listdir(".")  # nothing written without -o


def test_interactive_without_a_terminal_says_so(capsys):
    assert_user_error(["bptt", "--interactive"], capsys, "needs a terminal")
