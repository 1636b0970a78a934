"""Shared timing helpers for the benchmarks: best-of-N with warm-up, an explicit garbage
collector state, and a rich table of ratios measured side by side in one run.

Why best-of-N: on a shared machine the minimum of several runs is the figure least disturbed by
other processes; the median is printed next to it so a noisy run is visible. Every timing states
whether the cyclic garbage collector was on, because it changes the scalar results by 2x or more
(micrograd's closures make reference cycles, so its graphs are found and walked by the collector).
"""

from __future__ import annotations

import os

# One BLAS thread, set before numpy is first imported: on a small shared machine BLAS worker
# threads spin against other processes (medians 30x the best run were seen), and torch is also
# pinned to one thread below, so every contender runs single-threaded.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import gc  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

__all__ = [
    "Timing",
    "console",
    "environment",
    "print_header",
    "print_table",
    "time_best",
    "time_interleaved",
    "torch_or_none",
]

console = Console(width=110)


@dataclass
class Timing:
    """The timings of one benchmark row, in seconds."""

    name: str
    best: float
    median: float
    runs: int
    gc_enabled: bool
    note: str = ""


def time_best(
    name: str,
    fn: Callable[[], object],
    *,
    repeat: int = 5,
    warmup: int = 1,
    gc_enabled: bool = True,
    setup: Callable[[], object] | None = None,
    note: str = "",
) -> Timing:
    """Time `fn()` `repeat` times after `warmup` untimed calls; report the best and the median.

    `setup()` (untimed) runs before every call and its result is passed to `fn` when it is not
    None. What `fn` returns is freed after the clock stops, and garbage left by the previous
    call is collected before each timed call, outside the timing, so one run's garbage never
    lands in the next run's figure; `gc_enabled` sets the collector's state during the timed
    call only.
    """
    times = []
    was_enabled = gc.isenabled()
    try:
        for i in range(warmup + repeat):
            arg = setup() if setup is not None else None
            gc.collect()
            if gc_enabled:
                gc.enable()
            else:
                gc.disable()
            t0 = time.perf_counter()
            result = fn() if arg is None else fn(arg)
            elapsed = time.perf_counter() - t0
            gc.enable() if was_enabled else gc.disable()
            if i >= warmup:
                times.append(elapsed)
            del arg, result  # freed outside the clock
    finally:
        gc.enable() if was_enabled else gc.disable()
        gc.collect()
    return Timing(name, min(times), statistics.median(times), repeat, gc_enabled, note)


def time_interleaved(
    cases: list[tuple[str, Callable[[], object]]],
    *,
    repeat: int = 5,
    warmup: int = 1,
    gc_enabled: bool = True,
) -> list[Timing]:
    """Time several contenders round-robin (a, b, c, a, b, c, ...) and report each one's best
    and median, so a burst of load from other processes hits all of them alike rather than
    whichever happened to be running. Garbage is collected before every timed call, outside the
    clock; `gc_enabled` sets the collector's state during the timed calls only."""
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    was_enabled = gc.isenabled()
    try:
        for i in range(warmup + repeat):
            for name, fn in cases:
                gc.collect()
                gc.enable() if gc_enabled else gc.disable()
                t0 = time.perf_counter()
                result = fn()
                elapsed = time.perf_counter() - t0
                gc.enable() if was_enabled else gc.disable()
                del result  # freed outside the clock
                if i >= warmup:
                    times[name].append(elapsed)
    finally:
        gc.enable() if was_enabled else gc.disable()
        gc.collect()
    return [
        Timing(name, min(ts), statistics.median(ts), repeat, gc_enabled)
        for name, ts in times.items()
    ]


def environment() -> str:
    """One line describing the machine and the versions that the figures depend on."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"Python {platform.python_version()} ({sys.implementation.name}), numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}, gc thresholds {gc.get_threshold()}, "
        f"load average {load:.1f} (other processes share the machine)"
    )


def print_header(title: str, detail: str) -> None:
    """A benchmark's title, what it measures and the environment line."""
    console.rule(f"[bold]{title}")
    console.print(detail)
    console.print(f"[dim]{environment()}")


def _fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def print_table(title: str, rows: list[Timing], baseline: str | None = None) -> dict[str, float]:
    """A rich table of `rows`; with `baseline`, a column `baseline / row` (how many times
    faster each row is than the baseline: above 1 means faster). Returns those ratios by name."""
    table = Table(title=title, title_justify="left")
    table.add_column("variant")
    table.add_column("gc", justify="center")
    table.add_column("best", justify="right")
    table.add_column("median", justify="right")
    ratios: dict[str, float] = {}
    base = next((r for r in rows if r.name == baseline), None) if baseline else None
    if base is not None:
        table.add_column(f"speed-up vs {baseline}", justify="right")
    table.add_column("note")
    for r in rows:
        cells = [r.name, "on" if r.gc_enabled else "off", _fmt(r.best), _fmt(r.median)]
        if base is not None:
            ratios[r.name] = base.best / r.best
            cells.append(f"{ratios[r.name]:.2f}x")
        cells.append(r.note)
        table.add_row(*cells)
    console.print(table)
    return ratios


def torch_or_none():
    """The torch module when it can be imported (it is an optional extra), else None."""
    try:
        import torch
    except Exception:  # any import failure (missing, broken build) just skips the torch rows
        return None
    torch.set_num_threads(1)  # single-threaded, like numpy on these small shapes; fair to both
    return torch
