"""The gradient flow through time in a terminal: a rich table of ||dL/dh_t|| with a log-scale
bar per step and a one-line sparkline, from the same `GradientFlow` the SVG chart draws.

User text (stack names) goes into `rich.text.Text`, never into markup, so "[bold]" in a name
is shown as typed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from .flow import GradientFlow

__all__ = ["gradient_flow_table", "print_gradient_flow", "sparkline"]

_LEVELS = "▁▂▃▄▅▆▇█"


def _log_range(values: Sequence[float]) -> tuple[float, float]:
    positive = [math.log10(v) for v in values if math.isfinite(v) and v > 0]
    return (min(positive), max(positive)) if positive else (0.0, 0.0)


def sparkline(
    values: Sequence[float], *, low: float | None = None, high: float | None = None
) -> str:
    """One character per value on a log scale, ▁ (smallest) to █ (largest); a space for 0 and
    "!" for NaN or Inf. `low` and `high` (log10) fix the scale, e.g. to share it.

    >>> sparkline([1e-3, 1e-2, 1e-1, 1.0, 0.0, float("inf")])
    '▁▃▆█ !'
    """
    lo, hi = _log_range(values)
    lo = lo if low is None else low
    hi = hi if high is None else high
    out = []
    for v in values:
        if not math.isfinite(v):
            out.append("!")
        elif v <= 0:
            out.append(" ")
        else:
            fraction = 1.0 if hi == lo else (math.log10(v) - lo) / (hi - lo)
            out.append(_LEVELS[min(len(_LEVELS) - 1, max(0, round(fraction * (len(_LEVELS) - 1))))])
    return "".join(out)


def _number(v: float) -> Text:
    if not math.isfinite(v):
        return Text(str(v), style="bold red")
    return Text(f"{v:.3e}")


def _bar(v: float, lo: float, hi: float, width: int) -> Text:
    if not (math.isfinite(v) and v > 0):
        return Text("")
    fraction = 1.0 if hi == lo else (math.log10(v) - lo) / (hi - lo)
    filled = round(fraction * width)
    return Text("█" * filled if filled else "▏", style="cyan")


def gradient_flow_table(flow: GradientFlow, *, bar_width: int = 24) -> Group:
    """One table per recurrence of `flow`: a row per time step with ||dL/dh_t||, a bar on a log
    scale (and the norm after clipping, when `clip_grad_norm_` ran), then the sparkline of the
    whole sequence in time order, rho(W_hh) and the measured factor per step.

    >>> import tinygrad_lite as tl
    >>> from tinygrad_lite import nn, randn
    >>> from viz.flow import gradient_flow
    >>> tl.manual_seed(0)
    >>> rnn = nn.RNN(2, 3)
    >>> out, _ = rnn(randn(4, 1, 2))
    >>> flow = gradient_flow(out[-1].sum(), model=rnn)
    >>> Console(width=72, color_system=None).print(gradient_flow_table(flow, bar_width=8))
               Gradient flow through time: rnn/l0
    ┏━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
    ┃     t ┃ ||dL/dh_t||                                  ┃
    ┡━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
    │     0 │ 1.413e-01 ▏                                  │
    │     1 │ 1.857e-01 █                                  │
    │     2 │ 3.249e-01 ███                                │
    │     3 │ 1.732e+00 ████████                           │
    └───────┴──────────────────────────────────────────────┘
    sparkline t=0..3: ▁▂▃█
    ρ(W_hh) = 0.894, measured ×0.434 per step back in time
    """
    tables = []
    for i, s in enumerate(flow.stacks):
        after = flow.after_clipping(i)
        lo, hi = _log_range(list(s.norms) + (after or []))
        table = Table(
            title=Text(f"Gradient flow through time: {s.stack}"),
            caption_justify="left",
            min_width=56,
        )
        table.add_column("t", justify="right")
        table.add_column("||dL/dh_t||" if after is None else "||dL/dh_t|| before clipping")
        if after is not None:
            table.add_column("after clipping")
        for k, (t, v) in enumerate(zip(s.steps, s.norms)):
            cell = _number(v)
            cell.append(" ")
            cell.append_text(_bar(v, lo, hi, bar_width))
            row = [Text(str(t)), cell]
            if after is not None:
                clipped = _number(after[k])
                clipped.append(" ")
                clipped.append_text(_bar(after[k], lo, hi, bar_width))
                row.append(clipped)
            table.add_row(*row)
        caption = Text(f"sparkline t={s.steps[0]}..{s.steps[-1]}: ")
        caption.append(sparkline(s.norms), style="cyan")
        if s.rho is not None:
            caption.append(f"\nρ({s.rho_label}) = {s.rho:.3g}")
        factor = s.factor_per_step()
        if factor is not None:
            caption.append(f"{',' if s.rho is not None else ''} measured ×{factor:.3g} per step")
            caption.append(" back in time")
        if flow.clip_coefficient is not None:
            caption.append(f"\nclip_grad_norm_: every gradient ×{flow.clip_coefficient:.3g}")
        table.caption = caption
        tables.append(table)
    return Group(*tables)


def print_gradient_flow(flow: GradientFlow, *, console: Console | None = None, **options) -> None:
    """Print `gradient_flow_table(flow, **options)` (to a fresh rich Console by default)."""
    (console or Console()).print(gradient_flow_table(flow, **options))


# -- the terminal stepper ---------------------------------------------------------------------

KEYS = {
    "\x1b[C": "right",
    "\x1b[D": "left",
    "\x1b[H": "home",
    "\x1b[F": "end",
    "l": "right",
    "d": "right",
    " ": "right",
    "n": "right",
    "h": "left",
    "a": "left",
    "p": "left",
    "g": "home",
    "G": "end",
    "q": "quit",
    "Q": "quit",
    "\x03": "quit",  # Ctrl-C in raw mode
    "\x04": "quit",  # Ctrl-D
}


def terminal_keys(stream=None):
    """Key names ("left", "right", "home", "end", "quit") read one at a time from a terminal
    in cbreak mode (arrows, h/l, space; q quits). The terminal is restored afterwards."""
    import sys
    import termios
    import tty

    stream = stream or sys.stdin
    if not stream.isatty():
        raise OSError("the terminal stepper needs a terminal (stdin is not a tty)")
    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        while True:
            ch = os.read(fd, 1).decode(errors="replace")
            if ch == "\x1b":  # an escape sequence: ESC [ X
                ch += os.read(fd, 2).decode(errors="replace")
            name = KEYS.get(ch)
            if name:
                yield name
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _attr(frame, names: tuple[str, ...]):
    for name in names:
        value = getattr(frame, name, None)
        if value is not None:
            return value
    return None


class TerminalStepper:
    """Steps through the frames of a backward pass in a terminal, one frame per screen: the
    frame's description (the same words the HTML page shows), where the pass is in time (one
    mark per step: filled once h_t's gradient is complete, the current step outlined) and the
    gradients the current event sent. `run(keys)` reads key names ("left", "right", "home",
    "end", "quit"; `terminal_keys()` by default), so a test can script it.

    `frames` come from `viz.bptt_frames` (each has a `description` and the indices of the
    backward `events` it shows); `flow`, a `GradientFlow` of the same pass (by default the one
    the frames carry), adds the time strip and the gradients sent.
    """

    def __init__(self, frames, *, flow: GradientFlow | None = None, console: Console | None = None):
        self.frames = list(frames)
        if not self.frames:
            raise ValueError("TerminalStepper: there are no frames to show")
        self.flow = flow if flow is not None else getattr(frames, "flow", None)
        self.console = console or Console()
        self.index = 0
        self._places = None

    # -- one frame ------------------------------------------------------------------------

    def description(self, k: int) -> str:
        """The words that describe frame k (the frame's own description)."""
        text = _attr(self.frames[k], ("description", "text"))
        return str(text) if text is not None else str(self.frames[k])

    def _event(self, k: int) -> int | None:
        """The last backward event frame k shows (a frame of one time step holds several)."""
        events = getattr(self.frames[k], "events", None)
        return events[-1] if events else None

    def _time_strip(self, event: int | None) -> Text:
        from .timeline import time_places

        flow = self.flow
        text = Text()
        if flow is None or event is None:
            return text
        if self._places is None:
            self._places = time_places(flow.trace.graph)
        place = self._places.get(flow.trace.events[event].node)
        reached = flow.steps_reached(event)
        caret = None
        for s in flow.stacks:
            lo, hi = _log_range(s.norms)
            text.append(f"{s.stack:>16} ", style="bold")
            for t, v in zip(s.steps, s.norms):
                current = place is not None and place.stack == s.stack and place.t == t
                if current:
                    caret = (s.stack, t)
                mark = sparkline([v], low=lo, high=hi) if t in reached[s.stack] else "·"
                style = "reverse bold yellow" if current else ("cyan" if mark != "·" else "dim")
                text.append(f" {mark} ", style=style)
            text.append("\n")
            if caret is not None and caret[0] == s.stack:
                column = s.steps.index(caret[1])
                text.append(" " * (17 + 3 * column) + " ^ now\n", style="bold yellow")
        text.append(" " * 17)
        for t in flow.stacks[0].steps:
            text.append(f"{t:^3}", style="dim")
        return text

    def _sent(self, event: int | None) -> Table | None:
        if self.flow is None or event is None:
            return None
        graph = self.flow.trace.graph
        ev = self.flow.trace.events[event]
        if not ev.sent:
            return None
        table = Table(box=None, pad_edge=False, show_header=True, header_style="dim")
        table.add_column("sent to")
        table.add_column("scope", style="dim")
        table.add_column("||gradient||", justify="right")
        for s in ev.sent:
            node = graph.node(s.edge.src)
            name = node.label or node.op or f"{node.kind} #{node.id} {node.shape}"
            table.add_row(
                Text(f"{name} (operand {s.edge.index})"), Text(node.scope), _number(s.grad.norm)
            )
        return table

    def render(self, k: int):
        """The screen of frame k, as a rich renderable."""
        from rich.panel import Panel

        event = self._event(k)
        parts = [Text(self.description(k), style="bold"), Text("")]
        strip = self._time_strip(event)
        if strip.plain:
            parts += [
                Text("||dL/dh_t|| of each step once complete (· not reached yet)", style="dim"),
                strip,
                Text(""),
            ]
        sent = self._sent(event)
        if sent is not None:
            parts.append(sent)
        return Panel(
            Group(*parts),
            title=Text(f"backward pass: frame {k + 1} / {len(self.frames)}"),
            subtitle=Text("← → step   Home End   q quit"),
            expand=True,
        )

    # -- the loop -----------------------------------------------------------------------

    def run(self, keys=None) -> list[int]:
        """Show frame 0, then move with each key until "quit" (or the keys run out); returns
        the indices shown, in order."""
        keys = terminal_keys() if keys is None else keys
        shown = [self.index]
        try:
            self._show()
            for key in keys:
                key = KEYS.get(key, key)  # raw characters ("\x1b[C", "q") or key names
                if key == "quit":
                    break
                last = len(self.frames) - 1
                moves = {"right": self.index + 1, "left": self.index - 1, "home": 0, "end": last}
                if key not in moves:
                    continue
                self.index = min(max(moves[key], 0), last)
                shown.append(self.index)
                self._show()
        finally:
            close = getattr(keys, "close", None)
            if close is not None:
                close()  # a terminal reader restores the terminal's mode now, not at exit
        return shown

    def _show(self) -> None:
        if self.console.is_terminal:
            self.console.clear()
        self.console.print(self.render(self.index))


def run_terminal_stepper(
    frames, *, flow: GradientFlow | None = None, keys=None, console=None
) -> list[int]:
    """Step through `frames` in the terminal (see `TerminalStepper`); returns the frames shown."""
    return TerminalStepper(frames, flow=flow, console=console).run(keys)
