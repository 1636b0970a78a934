"""The terminal stepper: scripted key presses step through the frames of a backward pass, and
each screen shows the frame's own description (the words the HTML page shows)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from rich.console import Console

from viz.cli_bptt import build_bptt_model
from viz.console_flow import TerminalStepper, run_terminal_stepper, terminal_keys
from viz.flow import gradient_flow


@dataclass(frozen=True)
class Frame:  # what the stepper reads of viz.bptt_frames' frames
    description: str
    events: tuple[int, ...]


def _recorded() -> Console:
    return Console(width=100, color_system=None, record=True, file=io.StringIO())


def _flow_and_frames(cell: str = "lstm", steps: int = 3):
    layer, _, loss = build_bptt_model(cell, steps, 3)
    flow = gradient_flow(loss, model=layer)
    frames = [Frame(f"event {e.index} at node #{e.node}", (e.index,)) for e in flow.trace.events]
    return flow, frames


def test_arrow_keys_move_between_frames_and_q_quits():
    flow, frames = _flow_and_frames()
    stepper = TerminalStepper(frames, flow=flow, console=_recorded())
    shown = stepper.run(["right", "right", "left", "quit", "right"])
    assert shown == [0, 1, 2, 1]


def test_raw_terminal_keys_are_understood():
    flow, frames = _flow_and_frames()
    stepper = TerminalStepper(frames, flow=flow, console=_recorded())
    assert stepper.run(["\x1b[C", "l", "\x1b[D", "q"]) == [0, 1, 2, 1]


def test_the_ends_hold_and_home_end_jump():
    flow, frames = _flow_and_frames()
    stepper = TerminalStepper(frames, flow=flow, console=_recorded())
    last = len(frames) - 1
    assert stepper.run(["left", "end", "right", "home"]) == [0, 0, last, last, 0]


def test_each_screen_shows_its_frame_description_in_order():
    flow, frames = _flow_and_frames()
    console = _recorded()
    shown = TerminalStepper(frames, flow=flow, console=console).run(["right"] * 4 + ["quit"])
    text = console.export_text()
    positions = [text.index(frames[k].description) for k in shown]
    assert positions == sorted(positions)
    assert f"frame {shown[-1] + 1} / {len(frames)}" in text


def test_the_time_strip_fills_in_as_the_pass_reaches_each_step():
    flow, frames = _flow_and_frames("rnn", steps=4)
    stepper = TerminalStepper(frames, flow=flow, console=_recorded())
    first = stepper.render(0)
    last = stepper.render(len(frames) - 1)
    console = _recorded()
    console.print(first)
    console.print(last)
    lines = console.export_text().splitlines()
    strips = [line for line in lines if "rnn/l0" in line and "t=" not in line]  # not the table
    assert len(strips) == 2
    assert strips[0].count("·") == 4 and strips[1].count("·") == 0


def test_without_frames_it_says_so():
    with pytest.raises(ValueError, match="no frames"):
        TerminalStepper([])


def test_keys_need_a_terminal():
    with pytest.raises(OSError, match="needs a terminal"):
        next(terminal_keys(io.StringIO()))


def test_run_terminal_stepper_returns_the_frames_shown():
    flow, frames = _flow_and_frames()
    shown = run_terminal_stepper(frames, flow=flow, keys=["end", "q"], console=_recorded())
    assert shown == [0, len(frames) - 1]


def test_it_shows_the_descriptions_of_bptt_frames():
    import viz.frames

    layer, _, loss = build_bptt_model("gru", 3, 2)
    frames = viz.frames.bptt_frames(loss, model=layer)
    console = Console(width=400, color_system=None, record=True, file=io.StringIO())  # no wrap
    stepper = TerminalStepper(frames, console=console)
    shown = stepper.run(["right"] * (len(frames) - 1))
    assert shown == list(range(len(frames)))
    text = console.export_text()
    for k in shown:
        assert frames[k].description in text
        assert stepper.description(k) == frames[k].description
    assert stepper.flow is frames.flow  # the time strip uses the frames' own chart data


def test_it_shows_the_same_descriptions_as_the_html_page():
    import json
    import re

    import viz.frames
    from viz.html import stepper_html

    layer, _, loss = build_bptt_model("lstm", 2, 2)
    frames = viz.frames.bptt_frames(loss, model=layer)
    page = stepper_html(frames)
    data = re.search(
        r'<script type="application/json" id="stepper-data">(.*?)</script>', page, re.S
    )
    page_descriptions = json.loads(data.group(1))["desc"]
    stepper = TerminalStepper(frames, console=_recorded())
    assert [stepper.description(k) for k in range(len(frames))] == page_descriptions
