"""The BPTT stepper: `viz.bptt_frames` plus the HTML page (`viz.save_stepper`), by length.

An `nn.LSTM(4, 16)` runs T steps on a batch of 1 and the loss is sum(out^2); the timed part is
what a user waits for after the forward pass: `bptt_frames(loss, level="gate")` (the backward
pass through `trace_backward`, one frame per backward event, the one layout and its single SVG
render) and writing the page. A fresh forward pass per repeat, since the frames run the pass.
T = 16, 64, 256, 1,000 (above 40 columns the drawing folds its middle steps; the frames still
cover every event).

Target (issue 10, section 7): T = 16, level "gate": frames + HTML < 5 s, the file < 5 MB.
Run: .venv/bin/python bench/bench_stepper.py [--quick]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads (see common.py)

from common import console, print_header  # noqa: E402
from rich.table import Table  # noqa: E402

import viz  # noqa: E402
from tinygrad_lite import manual_seed, nn, randn  # noqa: E402

TARGET_S, TARGET_MB = 5.0, 5.0


def model_loss(steps: int):
    manual_seed(0)
    lstm = nn.LSTM(4, 16)
    out, _ = lstm(randn(steps, 1, 4))
    return lstm, (out * out).sum()


def measure(steps: int, repeat: int, folder: str):
    """(best frames time, best page time, best total, page bytes, frames)."""
    best = (float("inf"),) * 3
    size = count = 0
    for r in range(repeat):
        lstm, loss = model_loss(steps)
        path = os.path.join(folder, f"bptt_{steps}_{r}.html")
        t0 = time.perf_counter()
        frames = viz.bptt_frames(loss, level="gate", model=lstm)
        t1 = time.perf_counter()
        viz.save_stepper(frames, path)
        t2 = time.perf_counter()
        if t2 - t0 < best[2]:
            best = (t1 - t0, t2 - t1, t2 - t0)
        size, count = os.path.getsize(path), len(frames)
    return (*best, size, count)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    repeat = 1 if quick else 3
    print_header(
        "BPTT stepper (viz.bptt_frames + viz.save_stepper)",
        f"LSTM(4, 16), batch 1, level 'gate', one frame per backward event; best of {repeat}; "
        "frames = backward pass + frames + layout, page = the one SVG render + HTML written",
    )
    if shutil.which("dot") is None:
        console.print("[yellow]Graphviz's dot is missing: nothing to render")
        return 0
    table = Table(title="bptt_frames + save_stepper", title_justify="left")
    for col in ("T", "frames", "frames time", "page time", "total", "file size", "target"):
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory() as folder:
        for steps in (16, 64, 256, 1000):
            frames_s, page_s, total, size, count = measure(steps, repeat, folder)
            verdict = ""
            if steps == 16:
                ok = total < TARGET_S and size < TARGET_MB * 1e6
                verdict = f"< {TARGET_S:g} s, < {TARGET_MB:g} MB: {'yes' if ok else 'NO'}"
            table.add_row(
                str(steps),
                str(count),
                f"{frames_s:.3f} s",
                f"{page_s:.3f} s",
                f"{total:.3f} s",
                f"{size / 1e6:.2f} MB",
                verdict,
            )
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
