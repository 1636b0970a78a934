"""What reading the recording switches costs an op, for each way of making them per thread.

Every op reads grad mode, anomaly mode and the current scope when it records itself. They used
to be attributes of one module-global object; PyTorch's are thread-local, and so are ours now.
This times the read pattern of one op (three switches) for the designs considered:

- the old module global (not per thread: the baseline, incorrect with threads),
- a `threading.local` subclass with class-level defaults (readers unchanged),
- a `threading.local` holding a plain per-thread object (one local read, then slots),
- a `ContextVar` holding an immutable state object (one C call, then slots): what the engine
  uses (`tinygrad_lite.autograd.current_state`),

and, to put them in proportion, one recorded `Value` op and one small `Tensor` op. Best of 7.

Run: .venv/bin/python bench/bench_thread_state.py
"""

from __future__ import annotations

import sys
import threading
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import console, print_header  # noqa: E402
from rich.table import Table  # noqa: E402

from tinygrad_lite import Tensor, Value  # noqa: E402
from tinygrad_lite.autograd import current_state  # noqa: E402

N = 200_000


class Global:
    grad_enabled = True
    anomaly = False
    scope = ""


class LocalWithDefaults(threading.local):
    grad_enabled = True
    anomaly = False
    scope = ""


class Plain:
    __slots__ = ("grad_enabled", "anomaly", "scope")

    def __init__(self):
        self.grad_enabled, self.anomaly, self.scope = True, False, ""


class LocalHolder(threading.local):
    def __init__(self):
        self.state = Plain()


STATE, LOCAL, HOLDER = Global(), LocalWithDefaults(), LocalHolder()


def read_global():
    return STATE.scope, STATE.grad_enabled, STATE.anomaly


def read_local():
    return LOCAL.scope, LOCAL.grad_enabled, LOCAL.anomaly


def read_holder():
    state = HOLDER.state
    return state.scope, state.grad_enabled, state.anomaly


def read_contextvar():
    state = current_state()
    return state.scope, state.grad_enabled, state.anomaly


def ns_per_call(fn) -> float:
    return min(timeit.repeat(fn, number=N, repeat=7)) / N * 1e9


def main() -> None:
    a, b = Value(1.5), Value(2.0)
    x, c = Tensor(np.ones((4, 4)), requires_grad=True), Tensor(np.ones((4, 4)))
    rows = [
        ("module global (old, not per thread)", read_global),
        ("threading.local, class defaults", read_local),
        ("threading.local holding a state object", read_holder),
        ("ContextVar of an immutable state (ours)", read_contextvar),
    ]
    print_header(
        "Reading the recording switches (3 per op), per design",
        f"nanoseconds per op's reads, best of 7 x {N:,} calls, including the call of the "
        "timed function (the same for every row); a recorded op for scale.",
    )
    table = Table()
    for column in ("design", "ns per op", "vs old global"):
        table.add_column(column, justify="left" if column == "design" else "right")
    base = ns_per_call(read_global)
    for name, fn in rows:
        t = base if fn is read_global else ns_per_call(fn)
        table.add_row(name, f"{t:.0f}", f"{t / base:.2f}x")
    table.add_row("one recorded Value op (a * b)", f"{ns_per_call(lambda: a * b):.0f}", "")
    table.add_row("one recorded Tensor op (4x4 + 4x4)", f"{ns_per_call(lambda: x + c):.0f}", "")
    console.print(table)


if __name__ == "__main__":
    main()
