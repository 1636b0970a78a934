"""The command line's budgets: what one `tinygrad-lite draw` may cost, checked before the cost.

Every op's result (and, for `@`, the gradients it will need) is sized from the operands' shapes
before it is computed; a total budget over all the nodes and a cap on the number of ops bound a
whole expression; `@file.npy` is sized from its header before its data is read. Whatever the
input, the command ends with exit status 0, or 2 and one line on stderr, never a traceback.

The limits are lowered in these tests (the same code paths, with arrays small enough to be
harmless even if a check were missing).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import graphviz
import numpy as np
import pytest

import viz
import viz.dot
import viz.expr
from tinygrad_lite import Tensor, Value, scope
from tinygrad_lite.cli import main

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
SCALAR = ["draw", "x * 2", "--set", "x=3"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def small_limits(monkeypatch):
    """100 elements per node, 1,000 over the whole graph, 20 ops."""
    monkeypatch.setattr(viz.expr, "MAX_ELEMENTS", 100)
    monkeypatch.setattr(viz.expr, "MAX_TOTAL_ELEMENTS", 1000, raising=False)
    monkeypatch.setattr(viz.expr, "MAX_OPS", 20, raising=False)


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(argv, capsys, contains: str) -> str:
    before = sorted(os.listdir("."))
    code, _, err = run(argv, capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("tinygrad-lite: error: "), err
    assert "Traceback" not in err
    assert contains in err, err
    assert sorted(os.listdir(".")) == before
    return err


# -- the size of each op, before it runs --------------------------------------------------


def test_matmul_result_counts_the_batch_dimensions_of_the_right_operand(small_limits, capsys):
    # (10, 1) @ (20, 1, 10) is (20, 10, 10): 2,000 elements, though rows x columns is 100.
    argv = ["draw", "X @ W", "--set", "X=ones(10, 1)", "--set", "W=ones(20, 1, 5)", "--print"]
    err = assert_one_line_error(argv, capsys, "(20, 10, 5)")
    assert "limit is 100" in err


def test_matmul_refuses_a_gradient_larger_than_the_limit(small_limits, capsys):
    # The result (20, 1, 5) has 100 elements, but W's gradient is summed from (20, 5, 5).
    argv = ["draw", "X @ W", "--set", "X=ones(20, 1, 5)", "--set", "W=ones(5, 5)", "--print"]
    err = assert_one_line_error(argv, capsys, "(20, 5, 5)")
    assert "gradient" in err


def test_matmul_within_the_limits_still_works(small_limits, capsys):
    argv = ["draw", "X @ W", "--set", "X=ones(2, 3, 4)", "--set", "W=ones(4, 5)", "--print"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert "(2, 3, 5)" in out


def test_the_total_over_all_nodes_is_bounded(small_limits, capsys):
    # Each node has 100 elements (allowed); the leaf and nine products make 1,000 ...
    ok = ["draw", "*".join(["X"] * 10), "--set", "X=ones(10, 10)", "--print"]
    assert run(ok, capsys)[0] == 0
    # ... and one more would make 1,100.
    argv = ["draw", "*".join(["X"] * 11), "--set", "X=ones(10, 10)", "--print"]
    err = assert_one_line_error(argv, capsys, "limit over all nodes is 1,000")
    assert "1,100" in err


def test_the_leaves_count_toward_the_total(small_limits, capsys):
    argv = ["draw", "A", "--print"] + [f"--set=A{i}=ones(100)" for i in range(11)]
    argv += ["--set", "A=ones(1)"]
    assert_one_line_error(argv, capsys, "limit over all nodes is 1,000")


def test_the_number_of_ops_is_capped(small_limits, capsys):
    assert run(["draw", "+".join(["x"] * 21), "--set", "x=1", "--print"], capsys)[0] == 0
    argv = ["draw", "+".join(["x"] * 22), "--set", "x=1", "--print"]
    assert_one_line_error(argv, capsys, "the limit is 20 operations")


def test_memory_error_during_backward_is_one_line(monkeypatch, capsys):
    def no_memory(self, *args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(Tensor, "backward", no_memory)
    argv = ["draw", "X * 2", "--set", "X=ones(3)", "--print"]
    assert_one_line_error(argv, capsys, "not enough memory")


def test_memory_error_while_drawing_is_one_line(monkeypatch, capsys):
    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(viz, "draw", no_memory)
    assert_one_line_error([*SCALAR, "-o", "y.dot"], capsys, "not enough memory")


# -- @file.npy: the header first ------------------------------------------------------------


def test_npy_larger_than_the_limit_is_refused_before_its_data_is_read(
    small_limits, monkeypatch, capsys
):
    np.save("big.npy", np.ones(200))

    def must_not_read(*args, **kwargs):
        raise AssertionError("the array was read before its size was checked")

    monkeypatch.setattr(np.lib.format, "read_array", must_not_read)
    monkeypatch.setattr(np, "load", must_not_read)
    err = assert_one_line_error(["draw", "W", "--set", "W=@big.npy", "--print"], capsys, "200")
    assert "limit is 100" in err


def test_npy_whose_header_claims_a_huge_shape_is_refused_by_size(capsys):
    with open("forged.npy", "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "<f8", "fortran_order": False, "shape": (10**7, 10**7)}
        )
        handle.write(b"\0" * 64)
    argv = ["draw", "W", "--set", "W=@forged.npy", "--print"]
    assert_one_line_error(argv, capsys, "100,000,000,000,000 elements")


def test_npy_shorter_than_its_header_says_is_refused(capsys):
    with open("short.npy", "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "<f8", "fortran_order": False, "shape": (100,)}
        )
        handle.write(b"\0" * 16)
    argv = ["draw", "W", "--set", "W=@short.npy", "--print"]
    assert_one_line_error(argv, capsys, "truncated")


def test_npy_whose_header_length_is_huge_is_refused_before_numpy_reads_it(capsys, monkeypatch):
    # 20 bytes: the magic, version 2.0, and a header length of 0xFFFFFFF0 (4 GiB to allocate)
    with open("hugehdr.npy", "wb") as handle:
        handle.write(b"\x93NUMPY\x02\x00" + (0xFFFFFFF0).to_bytes(4, "little") + b"\0" * 8)

    def never(*args, **kwargs):
        raise AssertionError("numpy must not read a header of that length")

    monkeypatch.setattr(np.lib.format, "read_array_header_2_0", never)
    argv = ["draw", "W", "--set", "W=@hugehdr.npy", "--print"]
    assert_one_line_error(argv, capsys, "the header is too large")


def test_npy_whose_header_length_exceeds_the_file_is_called_truncated(capsys):
    with open("cut.npy", "wb") as handle:
        handle.write(b"\x93NUMPY\x01\x00" + (5000).to_bytes(2, "little") + b"{'descr'")
    argv = ["draw", "W", "--set", "W=@cut.npy", "--print"]
    assert_one_line_error(argv, capsys, "truncated")


def test_valid_npy_with_a_header_beyond_numpys_limit_is_not_called_a_non_npy_file(capsys):
    many_fields = np.dtype([(f"field_{i}", "<f8") for i in range(600)])
    np.save("wide.npy", np.zeros(1, many_fields))
    argv = ["draw", "W", "--set", "W=@wide.npy", "--print"]
    err = assert_one_line_error(argv, capsys, "the header is too large")
    assert "not a .npy file" not in err


def test_npz_given_to_set_says_what_it_is(capsys):
    np.savez("two.npz", a=np.ones(2), b=np.zeros(2))
    argv = ["draw", "W", "--set", "W=@two.npz", "--print"]
    assert_one_line_error(argv, capsys, ".npz archive")


def test_npy_header_check_still_loads_a_good_file(capsys):
    np.save("w.npy", np.arange(6.0).reshape(2, 3), allow_pickle=False)
    np.save("wf.npy", np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    code, out, err = run(
        ["draw", "W + V", "--set", "W=@w.npy", "--set", "V=@wf.npy", "--print"], capsys
    )
    assert code == 0, err
    assert "(2, 3)" in out


# -- exit 2 with one line, never a traceback -------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_an_unwritable_output_folder_is_one_line(capsys):
    err = assert_one_line_error([*SCALAR, "-o", "/proc/y.dot"], capsys, "cannot write")
    assert "/proc/y.dot" in err


def test_a_file_name_too_long_for_the_file_system_is_one_line(capsys):
    assert_one_line_error([*SCALAR, "-o", "a" * 300 + ".dot"], capsys, "too long")


def test_a_broken_pipe_to_graphviz_is_one_line(monkeypatch, capsys):
    def broken(self, *args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(viz.dot.Drawing, "pipe", broken)
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/dot")
    assert_one_line_error([*SCALAR, "-o", "y.svg"], capsys, "Graphviz's dot failed")


@needs_dot
def test_a_title_of_100000_characters_is_drawn_shortened(capsys):
    code, _, err = run([*SCALAR, "-o", "y.svg", "--title", "t" * 100_000], capsys)
    assert code == 0, err
    svg = Path("y.svg").read_text(encoding="utf-8")
    assert "…" in svg and "t" * 100_000 not in svg


@needs_dot
def test_a_title_of_4000_ampersands_is_drawn_shortened(capsys):
    code, _, err = run([*SCALAR, "-o", "y.svg", "--title", "&" * 4000], capsys)
    assert code == 0, err
    assert "…" in Path("y.svg").read_text(encoding="utf-8")


def test_a_graphviz_error_is_still_one_line(monkeypatch, capsys):
    def failing(self, *args, **kwargs):
        raise graphviz.CalledProcessError(1, ["dot"], stderr=b"Error: bad\n")

    monkeypatch.setattr(viz.dot.Drawing, "pipe", failing)
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/dot")
    assert_one_line_error([*SCALAR, "-o", "y.svg"], capsys, "Error: bad")


# -- labels Graphviz would reject, in viz.draw ------------------------------------------------

GRAPHVIZ_HTML_LIMIT = 16384  # characters in one HTML-like label


def html_labels(source: str) -> list[str]:
    """Every HTML-like label (<...>) in a DOT source, by matching angle brackets."""
    labels, depth, start = [], 0, 0
    for i, ch in enumerate(source):
        if ch == "<":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ">" and depth:
            depth -= 1
            if depth == 0:
                labels.append(source[start : i + 1])
    return labels


@pytest.mark.parametrize("text", ["&" * 4000, "a" * 100_000, "\t" * 5000, '"<>' * 3000])
def test_long_user_strings_are_cut_to_fit_graphviz(text):
    with scope(text):
        y = Value(1.0, label=text) * 2
    source = viz.draw(y, title=text).source
    assert "…" in source
    assert max(len(label) for label in html_labels(source)) < GRAPHVIZ_HTML_LIMIT


@needs_dot
def test_a_label_of_4000_ampersands_renders():
    y = Value(1.0, label="&" * 4000) * 2
    svg = viz.draw(y).pipe(format="svg").decode("utf-8")
    assert "&amp;" * 50 in svg and "…" in svg


def test_short_labels_are_unchanged():
    y = Value(1.0, label="x & <y>") * 2
    assert "x &amp; &lt;y&gt;" in viz.draw(y).source and "…" not in viz.draw(y).source


def test_the_help_states_the_limits_the_evaluator_enforces(capsys):
    assert main(["draw", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"{viz.expr.MAX_ELEMENTS:,} elements in any tensor" in text
    assert f"{viz.expr.MAX_TOTAL_ELEMENTS:,} over all nodes" in text
    assert f"{viz.expr.MAX_OPS} operations" in text


def test_a_closed_stdout_is_one_line_not_a_traceback(monkeypatch, capsys):
    import viz.console

    def closed(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(viz.console, "print_tree", closed)
    code = main([*SCALAR, "--print"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "standard output was closed (e.g. by | head)" in err


@needs_dot
def test_a_closed_stdout_after_writing_the_file_says_the_file_was_written(monkeypatch, capsys):
    import viz.console

    def closed(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(viz.console, "print_tree", closed)
    code = main([*SCALAR, "-o", "y.svg", "--print"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "standard output was closed" in err and "y.svg was written" in err
    assert Path("y.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_npy_path_that_is_a_fifo_is_refused_without_waiting(capsys):
    os.mkfifo("pipe.npy")
    argv = ["draw", "W", "--set", "W=@pipe.npy", "--print"]
    assert_one_line_error(argv, capsys, "not a regular file")


def test_npy_path_that_is_a_folder_says_so(capsys):
    os.mkdir("weights.npy")
    argv = ["draw", "W", "--set", "W=@weights.npy", "--print"]
    assert_one_line_error(argv, capsys, "is a directory")
