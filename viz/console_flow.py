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
