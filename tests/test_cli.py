"""The `tinygrad-lite` command, run in-process through `main(argv)` and, for a few cases, as the
installed console script in a subprocess.

The contract: accepted forms exit 0 and write the file the extension asks for; every user
error exits 2 with exactly one line on stderr, no traceback and no file written.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import graphviz
import numpy as np
import pytest

import viz.dot
from tinygrad_lite import __version__
from tinygrad_lite.cli import main

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
SCRIPT = Path(sys.executable).parent / "tinygrad-lite"

SQRT = ["draw", "sqrt(x**2 + b)", "--set", "x=3", "--set", "b=1"]
LAYER = ["draw", "relu(X @ W + b)", "--set", "X=randn(4,3)", "--set", "W=randn(3,2)"]
LAYER += ["--set", "b=zeros(2)"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Every test runs in an empty folder, so 'nothing written' can be checked by listing it."""
    monkeypatch.chdir(tmp_path)


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def without_node_ids(source: str) -> str:
    """DOT source with node names (n12, n12op) blanked: ids are a process-wide counter."""
    return re.sub(r"\bn\d+", "n", source)


def assert_user_error(argv, capsys, *, contains: str = "") -> str:
    before = sorted(os.listdir("."))
    code, _, err = run(argv, capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("tinygrad-lite: error: ")
    assert "Traceback" not in err
    assert contains in err
    assert sorted(os.listdir(".")) == before  # nothing written, no temp file left
    return err


# -- accepted forms -----------------------------------------------------------------------


def test_draw_writes_dot_source_without_graphviz(capsys, monkeypatch):
    monkeypatch.setenv("PATH", "")  # no `dot` program anywhere
    code, out, _ = run([*SQRT, "-o", "y.dot"], capsys)
    assert code == 0 and out.strip() == "wrote y.dot"
    source = Path("y.dot").read_text()
    assert source.startswith("digraph") and "sqrt" in source and "grad 0.9487" in source


@needs_dot
@pytest.mark.parametrize(
    ("name", "magic"), [("y.svg", b"<?xml"), ("y.png", b"\x89PNG"), ("y.pdf", b"%PDF")]
)
def test_draw_renders_the_format_named_by_the_extension(capsys, name, magic):
    assert run([*SQRT, "-o", name], capsys)[0] == 0
    assert Path(name).read_bytes().startswith(magic)


def test_draw_of_a_tensor_output_starts_backward_from_its_sum_and_says_so(capsys):
    code, out, _ = run([*LAYER, "-o", "h.dot"], capsys)
    assert code == 0
    assert "shape (4, 2)" in out and "sum()" in out
    source = Path("h.dot").read_text()
    assert all(word in source for word in ("matmul", "relu", "sum"))


def test_max_of_zero_is_accepted_as_relu(capsys):
    argv = ["draw", "max(0, X @ W + b)", *LAYER[2:], "-o", "h.dot"]
    assert run(argv, capsys)[0] == 0
    source = Path("h.dot").read_text()
    assert "label=<relu>" in source and "maximum" not in source


def test_print_shows_the_graph_as_a_tree_and_writes_nothing(capsys):
    code, out, _ = run([*SQRT, "--print"], capsys)
    assert code == 0 and os.listdir(".") == []
    assert "sqrt" in out and "x = 3  grad 0.9487" in out


def test_print_beside_a_file(capsys):
    code, out, _ = run([*SQRT, "--print", "-o", "y.dot"], capsys)
    assert code == 0 and Path("y.dot").exists() and "sqrt" in out


def test_backward_draws_the_gradient_flow(capsys):
    run([*SQRT, "-o", "forward.dot"], capsys)
    run([*SQRT, "--backward", "-o", "backward.dot"], capsys)
    assert "dir=back" in Path("backward.dot").read_text()
    assert "dir=back" not in Path("forward.dot").read_text()


def test_direction_title_and_no_grads(capsys):
    argv = [*SQRT, "--direction", "TB", "--title", "My <graph>", "--no-grads", "-o", "y.dot"]
    assert run(argv, capsys)[0] == 0
    source = Path("y.dot").read_text()
    assert "rankdir=TB" in source
    assert "My &lt;graph&gt;" in source  # the title is escaped, never raw HTML
    assert "grad 0.9487" not in source


def test_set_reads_an_npy_file(capsys):
    np.save("weights.npy", np.ones((3, 2)))
    argv = ["draw", "X @ W", "--set", "X=ones(1, 3)", "--set", "W=@weights.npy", "-o", "p.dot"]
    code, out, _ = run(argv, capsys)
    assert code == 0 and "shape (1, 2)" in out


def test_non_finite_results_are_drawn_with_one_warning_line_and_no_numpy_warnings(capsys):
    argv = ["draw", "log(X) * X ** 1e308", "--set", "X=[-1, 0, 2]", "-o", "n.dot"]
    code, _, err = run(argv, capsys)
    assert code == 0
    assert err == (
        "tinygrad-lite: warning: log() of a negative number is NaN (X has values below 0), at "
        "column 1: log(X)\n"
    )
    assert "NaN" in Path("n.dot").read_text()


def test_an_expression_starting_with_minus_works_after_a_space(capsys):
    code, out, _ = run(["draw", " -x", "--set", "x=2", "--print"], capsys)
    assert code == 0 and out.startswith("neg = -2")
    assert_user_error(["draw", "-x", "--set", "x=2", "--print"], capsys, contains='" -x"')


def test_seed_makes_random_values_reproducible(capsys):
    run([*LAYER, "--seed", "3", "-o", "a.dot"], capsys)
    run([*LAYER, "--seed", "3", "-o", "b.dot"], capsys)
    run([*LAYER, "--seed", "4", "-o", "c.dot"], capsys)
    a, b, c = (without_node_ids(Path(f"{n}.dot").read_text()) for n in "abc")
    assert a == b and a != c


def test_overwrite_replaces_an_existing_file(capsys):
    Path("y.dot").write_text("old")
    assert run([*SQRT, "-o", "y.dot", "--overwrite"], capsys)[0] == 0
    assert Path("y.dot").read_text().startswith("digraph")
    assert os.listdir(".") == ["y.dot"]  # the temporary file was moved, not left behind


def test_version_and_help_exit_0(capsys):
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"tinygrad-lite {__version__}"
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "draw" in out
    code, out, _ = run(["draw", "--help"], capsys)
    assert code == 0 and "--set" in out and "--overwrite" in out


# -- refused forms ------------------------------------------------------------------------

REFUSED = [
    ([], "choose a command"),
    (["paint", "x"], "invalid choice"),
    (["draw"], "required: expression"),
    ([*SQRT, "-o", "y.dot", "--bogus"], "unrecognized arguments"),
    ([*SQRT, "--direction", "XY", "-o", "y.dot"], "invalid choice"),
    ([*SQRT], "give -o FILE"),
    ([*SQRT, "-o", "y.jpg"], "cannot tell the format"),
    ([*SQRT, "-o", "missing/y.dot"], "does not exist"),
    (["draw", "x.__class__", "--set", "x=1", "-o", "y.dot"], "attribute access"),
    (["draw", "x + z", "--set", "x=1", "-o", "y.dot"], "undefined name 'z'"),
    (["draw", "2 + 3", "-o", "y.dot"], "nothing to differentiate"),
    (["draw", "X @ W", "--set", "X=ones(2,3)", "--set", "W=ones(2,3)", "-o", "y.dot"], "matmul"),
    (["draw", "x", "--set", "x", "-o", "y.dot"], "NAME=VALUE"),
    (["draw", "x", "--set", "x=1", "--set", "x=2", "-o", "y.dot"], "set twice"),
    (["draw", "W", "--set", "W=@nope.npy", "-o", "y.dot"], "no such file"),
    (["draw", "W", "--set", "W=randn(100000, 100000)", "-o", "y.dot"], "limit is"),
    (["draw", "x ** 9**9**9", "--set", "x=2", "-o", "y.dot"], "too large"),
    (["draw", "x\n+1", "--set", "x=2", "-o", "y.dot"], "one line"),
    ([*SQRT, "--seed", "-1", "-o", "y.dot"], "must be 0 or more"),
    ([*SQRT, "--seed", "abc", "-o", "y.dot"], "whole number"),
]


@pytest.mark.parametrize(("argv", "reason"), REFUSED)
def test_user_error_exits_2_with_one_line_and_writes_nothing(argv, reason, capsys):
    assert_user_error(argv, capsys, contains=reason)


def test_existing_file_is_not_overwritten_without_the_flag(capsys):
    Path("y.dot").write_text("precious")
    assert_user_error([*SQRT, "-o", "y.dot"], capsys, contains="--overwrite")
    assert Path("y.dot").read_text() == "precious"


def test_output_that_is_a_folder_is_refused(capsys):
    os.mkdir("out")
    assert_user_error([*SQRT, "-o", "out"], capsys, contains="cannot tell the format")
    os.mkdir("g.svg")
    assert_user_error([*SQRT, "-o", "g.svg"], capsys, contains="is a directory")


@pytest.mark.parametrize("name", ["y.svg", "y.png", "y.pdf"])
def test_missing_graphviz_says_how_to_install_it(name, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert_user_error([*SQRT, "-o", name], capsys, contains="sudo apt-get install graphviz")


def test_refused_expression_with_side_effects_has_none(capsys):
    argv = ["draw", "__import__('os').system('touch PWNED')", "--set", "x=1", "-o", "y.dot"]
    assert_user_error(argv, capsys, contains="not allowed")
    argv = ["draw", "open('x', 'w')", "--set", "x=1", "--print"]
    assert_user_error(argv, capsys, contains="unknown function 'open'")
    assert not Path("PWNED").exists() and not Path("x").exists()


def test_a_rendering_failure_leaves_no_partial_file(capsys, monkeypatch):
    def failing_pipe(self, *args, **kwargs):
        raise graphviz.CalledProcessError(1, ["dot"], stderr=b"Error: syntax error in line 1\n")

    monkeypatch.setattr(viz.dot.Drawing, "pipe", failing_pipe)
    if not HAS_DOT:
        monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/dot")
    assert_user_error([*SQRT, "-o", "y.svg"], capsys, contains="dot failed")


def test_a_write_failure_leaves_no_partial_file(capsys, monkeypatch):
    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    Path("y.dot").write_text("old")
    err = assert_user_error([*SQRT, "-o", "y.dot", "--overwrite"], capsys, contains="y.dot")
    assert "No space left" in err
    assert Path("y.dot").read_text() == "old"


# -- the installed command, in a real process ---------------------------------------------

needs_script = pytest.mark.skipif(not SCRIPT.exists(), reason="console script not installed")


@needs_script
def test_console_script_draws_a_layer(tmp_path):
    done = subprocess.run(
        [str(SCRIPT), *LAYER, "-o", "h.dot"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "h.dot").read_text().startswith("digraph")


@needs_script
def test_console_script_user_error_is_one_line_without_traceback(tmp_path):
    argv = [str(SCRIPT), "draw", "__import__('os').system('touch PWNED')", "-o", "p.svg"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert os.listdir(tmp_path) == []


def test_python_dash_m_runs_the_command():
    done = subprocess.run(
        [sys.executable, "-m", "tinygrad_lite", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.strip() == f"tinygrad-lite {__version__}"


# -- messages that say what the user meant --------------------------------------------------


@pytest.mark.parametrize(
    ("words", "fix"),
    [
        (["x", "3"], "--set x=3"),
        (["x", "=", "3"], "--set x=3"),
        (["x=", "3"], "--set x=3"),
        (["x", "=3"], "--set x=3"),
        (["x", "-3"], "--set x=-3"),
        (["X", "randn(4, 3)"], "--set 'X=randn(4, 3)'"),
    ],
)
def test_set_with_spaces_says_how_to_write_it(words, fix, capsys):
    err = assert_user_error(["draw", "x * 2", "--set", *words, "--print"], capsys)
    assert err.strip().endswith(f"write {fix}")
    err = assert_user_error(["draw", "--set", *words, "x * 2", "--print"], capsys)
    assert err.strip().endswith(f"write {fix}")


def test_set_followed_by_the_expression_is_not_suggested_as_a_value(capsys):
    # `--set b EXPR`: 'b=sqrt(x**2 + b)' would be refused as a value, so it is not suggested
    err = assert_user_error(["draw", "--set", "x=3", "--set", "b", "sqrt(x**2 + b)"], capsys)
    assert "--set needs NAME=VALUE, got 'b'" in err and "write --set" not in err


def test_set_without_a_value_before_an_option_asks_for_name_equals_value(capsys):
    err = assert_user_error(["draw", "x", "--set", "x", "-o", "y.dot"], capsys)
    assert "--set needs NAME=VALUE" in err and "x=-o" not in err


def test_caret_hints_the_power_operator(capsys):
    assert_user_error(["draw", "x^2", "--set", "x=3", "--print"], capsys, contains="x**2")


def test_a_matmul_shape_error_suggests_the_transpose_the_language_has(capsys):
    argv = ["draw", "X @ W", "--set", "X=ones(2,3)", "--set", "W=ones(2,3)", "--print"]
    err = assert_user_error(argv, capsys, contains="transpose(X)")
    assert ".T" not in err


def test_softmax_of_an_empty_vector_draws_an_empty_result_as_torch(capsys):
    code, out, err = run(["draw", "softmax(x)", "--set", "x=zeros(0)", "--print"], capsys)
    assert code == 0, err
    assert "softmax (0,)" in out


def test_a_broadcast_error_does_not_suggest_reshape(capsys):
    argv = ["draw", "X + W", "--set", "X=ones(3,4)", "--set", "W=ones(3,5)", "--print"]
    err = assert_user_error(argv, capsys, contains="(3, 4) and (3, 5)")
    assert "unsqueeze" not in err and "reshape or" not in err


@pytest.mark.parametrize(
    ("expression", "warning"),
    [
        ("log(x)", "log() of a negative number is NaN"),
        ("sqrt(x)", "sqrt() of a negative number is NaN"),
        ("x ** 0.5", "fractional power is NaN"),
    ],
)
def test_a_nan_from_a_negative_input_is_warned_and_still_drawn(expression, warning, capsys):
    code, out, err = run(["draw", expression, "--set", "x=-2", "--print"], capsys)
    assert code == 0 and "nan" in out
    assert err.count("\n") == 1 and err.startswith("tinygrad-lite: warning: ")
    assert warning in err


def test_log_of_a_positive_input_warns_nothing(capsys):
    code, _, err = run(["draw", "log(x)", "--set", "x=2", "--print"], capsys)
    assert code == 0 and err == ""


def test_control_characters_in_arguments_are_shown_not_sent_to_the_terminal(capsys):
    err = assert_user_error([*SQRT, "--print", "\x1b]0;pwned\x07"], capsys)
    assert "\x1b" not in err and "\\x1b]0;pwned\\x07" in err
    code, out, _ = run([*SQRT, "-o", "\x1b[2J.dot"], capsys)
    assert code == 0 and "\x1b" not in out and "wrote \\x1b[2J.dot" in out
