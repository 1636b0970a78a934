"""The unrolled BPTT drawing: `viz.draw_unrolled` plus its SVG render, by sequence length.

A tanh `nn.RNN(4, 32)` runs T steps on a batch of 1, the loss is sum(out^2) and
`loss.backward(retain_graph=True)` runs untimed; the timed part is what a user waits for:
`draw_unrolled(loss)` (which replays the retained backward pass to read the per-edge and
per-step weight gradients, then lays out every item) and the SVG render (Graphviz `nop2`:
positions given, no layout search). T = 16, 64, 256, 1,000 at level "cell" (above 40 columns
the middle steps fold), and T = 200 with folding off (`max_columns=None`).

Targets (issue 10, section 7): T = 1,000 with folding < 5 s; T = 200 without folding < 10 s.
Run: .venv/bin/python bench/bench_unrolled.py [--quick]
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads (see common.py)

from common import console, print_header  # noqa: E402
from rich.table import Table  # noqa: E402

import viz  # noqa: E402
from tinygrad_lite import manual_seed, nn, randn  # noqa: E402

TARGETS = {1000: 5.0, "200 (no folding)": 10.0}


def model_loss(steps: int):
    manual_seed(0)
    rnn = nn.RNN(4, 32)
    out, _ = rnn(randn(steps, 1, 4))
    loss = (out * out).sum()
    loss.backward(retain_graph=True)
    return loss


def measure(steps: int, max_columns, repeat: int):
    """(best draw time, best SVG time, best total, SVG bytes, drawn items, drawn edges)."""
    loss = model_loss(steps)
    best = (float("inf"), float("inf"), float("inf"))
    size = items = edges = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        drawing = viz.draw_unrolled(loss, max_columns=max_columns)
        t1 = time.perf_counter()
        svg = drawing.layout.svg()
        t2 = time.perf_counter()
        if t2 - t0 < best[2]:
            best = (t1 - t0, t2 - t1, t2 - t0)
        size, items, edges = len(svg.encode()), len(drawing.layout.items), len(drawing.layout.edges)
    return (*best, size, items, edges)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    repeat = 1 if quick else 3
    print_header(
        "Unrolled BPTT drawing (viz.draw_unrolled)",
        f"tanh RNN(4, 32), batch 1, level 'cell'; best of {repeat}; draw = replayed backward "
        "+ layout, svg = Graphviz nop2 render",
    )
    if shutil.which("dot") is None:
        console.print("[yellow]Graphviz's dot is missing: nothing to render")
        return 0
    table = Table(title="draw_unrolled + SVG render", title_justify="left")
    for col in ("T", "columns", "items", "edges", "draw", "svg", "total", "SVG size", "target"):
        table.add_column(col, justify="right")
    cases = [(16, 40), (64, 40), (256, 40), (1000, 40), (200, None)]
    for steps, max_columns in cases:
        draw_s, svg_s, total, size, items, edges = measure(steps, max_columns, repeat)
        key = steps if max_columns is not None else f"{steps} (no folding)"
        target = TARGETS.get(key)
        verdict = "" if target is None else f"< {target:g} s: {'yes' if total < target else 'NO'}"
        columns = steps if max_columns is None or steps <= max_columns else 20
        table.add_row(
            str(key),
            str(columns),
            str(items),
            str(edges),
            f"{draw_s:.3f} s",
            f"{svg_s:.3f} s",
            f"{total:.3f} s",
            f"{size / 1024:.0f} KiB",
            verdict,
        )
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
