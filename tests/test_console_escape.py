"""The terminal views never pass control characters from user text to the terminal.

A label (or a layer name, a series name, a title) may hold ANSI/OSC escape sequences: `ESC]0;…BEL`
retitles the terminal window, `ESC[2J` clears it, OSC 52 writes the clipboard, and C1 codes
(U+009B is a one-character CSI) do the same on many terminals. Rich escapes its own markup but
writes these through; the views show them visibly instead (`\\x1b`), as `repr` would.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tinygrad_lite import Tensor, Value, nn, scope
from viz.console import print_gradient_norms, print_summary, print_tree

HOSTILE = [
    "\x1b]0;pwned\x07",  # OSC: set the window title
    "\x1b[2J\x1b[31m",  # CSI: clear the screen, red
    "\x1b]52;c;ZXZpbA==\x07",  # OSC 52: write the clipboard
    "\x9b31m",  # C1 CSI in one character
    "a\rb\x08c\x7f",  # carriage return, backspace, DEL: overwrite what is shown
    "line\nbreak\u2028sep",  # a label that would break the tree's lines
    "abc\u202edcba",  # right-to-left override: shows text other than what it is
]


def rendered(printer, *args, **kwargs) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None, force_terminal=False)
    printer(*args, console=console, **kwargs)
    return buffer.getvalue()


def assert_no_control_characters(text: str) -> None:
    for ch in text:
        if ch == "\n":
            continue
        assert ch.isprintable(), f"{ch!r} reached the terminal in {text!r}"


@pytest.mark.parametrize("label", HOSTILE)
def test_print_tree_shows_control_characters_visibly(label):
    out = rendered(print_tree, Value(3.0, label=label) * 2)
    assert_no_control_characters(out)
    assert label.encode("unicode_escape").decode("ascii")[:4] in out or "\\" in out


def test_print_tree_shows_escape_as_backslash_x1b():
    out = rendered(print_tree, Value(3.0, label="\x1b[31mred") * 2)
    assert "\\x1b[31mred" in out


def test_print_tree_scopes_and_tensor_names_are_shown_visibly_too():
    with scope("\x1b]0;t\x07"):
        y = Tensor([1.0, 2.0], requires_grad=True, name="\x1b[2J") * 2
    out = rendered(print_tree, y)
    assert_no_control_characters(out)
    assert "\\x1b]0;t\\x07" in out and "\\x1b[2J" in out


def test_print_tree_keeps_ordinary_unicode():
    out = rendered(print_tree, Value(3.0, label="θ̂ ∇ 日本 😀") * 2)
    assert "θ̂ ∇ 日本 😀" in out


class Hostile(nn.Module):
    def __init__(self):
        super().__init__()
        setattr(self, "\x1b]0;layer\x07", nn.Linear(2, 2))

    def forward(self, x):
        return getattr(self, "\x1b]0;layer\x07")(x)


def test_model_summary_shows_layer_and_type_names_visibly():
    model = Hostile()
    type(model).__name__ = "Evil\x1b[2J"
    out = rendered(print_summary, model, Tensor([[1.0, 2.0]]))
    assert_no_control_characters(out)
    assert "\\x1b]0;layer\\x07" in out and "Evil\\x1b[2J" in out


def test_gradient_norms_table_shows_series_names_and_titles_visibly():
    out = rendered(
        print_gradient_norms, {"\x1b[31mRNN": [1.0, 0.5]}, title="\x9b2J", step_name="\x1bt"
    )
    assert_no_control_characters(out)
    assert "\\x1b[31mRNN" in out and "\\x9b2J" in out
