"""A 100,000-deep chain y = tanh(tanh(...tanh(x))): forward + backward, for Value and Tensor.

The point is depth, not speed: the engine's graph walks are iterative, so depth is limited by
memory only. micrograd 0.1.0 sorts its graph with a recursive function and fails with
RecursionError a little under 1,000 nodes deep (Python's default recursion limit); that failure
is caught and reported as the finding. micrograd 0.1.0 has no tanh, so its chain (and ours, in
the side-by-side rows) uses relu(x * 0.999 + 0.001) steps instead, which it does have.

Run: .venv/bin/python bench/bench_deep_chain.py [--quick]
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads (see common.py)

import numpy as np  # noqa: E402
from common import console, print_header, print_table, time_best, time_interleaved  # noqa: E402

from tinygrad_lite import Tensor, Value  # noqa: E402

DEPTH = 100_000


def tanh_chain_value(depth: int):
    x = Value(0.5)
    y = x
    for _ in range(depth):
        y = y.tanh()
    y.backward()
    return x


def tanh_chain_tensor(depth: int):
    x = Tensor(np.full((4,), 0.5), requires_grad=True)  # float64
    y = x
    for _ in range(depth):
        y = y.tanh()
    y.sum().backward()
    return x


def relu_chain(value_cls, depth: int):
    """The ops micrograd 0.1.0 has: relu(y * 0.999 + 0.001), three nodes per step."""
    x = value_cls(0.5)
    y = x
    for _ in range(depth // 3):
        y = (y * 0.999 + 0.001).relu()
    y.backward()
    return x


def expected_tanh_grad(depth: int, x0: float = 0.5) -> float:
    """d/dx tanh^depth(x) by the chain rule on plain floats, to check the engine's answer."""
    y, g = x0, 1.0
    for _ in range(depth):
        y = math.tanh(y)
        g *= 1.0 - y * y
    return g


def main(quick: bool = False) -> dict[str, object]:
    from micrograd.engine import Value as MicroValue

    repeat = 2 if quick else 3
    expected = expected_tanh_grad(DEPTH)
    assert math.isclose(tanh_chain_value(DEPTH).grad, expected, rel_tol=1e-9)
    got = tanh_chain_tensor(DEPTH).grad.data
    assert np.allclose(got, expected, rtol=1e-9), "Tensor chain gradient is wrong"

    print_header(
        f"Deep chain: {DEPTH:,} nested ops, forward + backward",
        "Gradients checked against the chain rule on plain floats. micrograd 0.1.0 is tried "
        "at the same depth; its recursive topological sort is expected to fail.",
    )
    # micrograd at full depth: the finding is the exception.
    try:
        relu_chain(MicroValue, DEPTH)
        micro_status = "ran"
    except RecursionError as err:
        micro_status = f"RecursionError ({err})"
    console.print(f"micrograd 0.1.0 at depth {DEPTH:,}: [bold]{micro_status}")
    depth_limit = 900  # under Python's default recursion limit of 1000 frames
    try:
        relu_chain(MicroValue, depth_limit)
        limit_status = "ran"
    except RecursionError:
        limit_status = "RecursionError"
    console.print(f"micrograd 0.1.0 at depth {depth_limit}: {limit_status}")

    rows = [
        time_best("Value tanh chain", lambda: tanh_chain_value(DEPTH), repeat=repeat),
        time_best("Tensor(4,) tanh chain", lambda: tanh_chain_tensor(DEPTH), repeat=repeat),
        time_best("Value relu chain (3 ops/step)", lambda: relu_chain(Value, DEPTH), repeat=repeat),
    ]
    print_table(f"depth {DEPTH:,} (gc on)", rows)
    small = time_interleaved(
        [
            ("micrograd relu chain", lambda: relu_chain(MicroValue, depth_limit)),
            ("Value relu chain", lambda: relu_chain(Value, depth_limit)),
        ],
        repeat=20,
    )
    ratios = print_table(
        f"depth {depth_limit}: where micrograd still runs (gc on)", small, "micrograd relu chain"
    )
    per_node = rows[0].best / DEPTH * 1e6
    console.print(f"Value tanh chain: {per_node:.2f} us per node (forward + backward)")
    return {"micrograd at full depth": micro_status, "speed-up at 900": ratios["Value relu chain"]}


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
