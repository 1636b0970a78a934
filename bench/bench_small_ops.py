"""1,000 small ops: a chain of mixed elementwise ops and matmuls on a 4x4 float64 tensor,
forward + backward, against the same chain written by hand in numpy (forward and hand-derived
backward) and, when importable, torch eager.

On arrays this small the arithmetic is nothing and the per-op overhead is everything: this is
the benchmark of `_apply`, `_vjp`, `_constant`, `unbroadcast` and the backward driver. The ops
cycle through + C, * 0.5 (a Python scalar, so `_constant` runs), tanh, sigmoid, exp, @ W, relu
and * C2, which keeps every value bounded. The engine's gradient is checked against the
hand-written one before timing.

Run: .venv/bin/python bench/bench_small_ops.py [--quick]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads (see common.py)

import numpy as np  # noqa: E402
from common import console, print_header, print_table, time_interleaved, torch_or_none  # noqa: E402

from tinygrad_lite import Tensor  # noqa: E402

N_OPS = 1000
CYCLE = ("add", "scale", "tanh", "sigmoid", "exp", "matmul", "relu", "mul")


def constants(seed: int = 0):
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal((4, 4))
    c = rng.standard_normal((4, 4)) * 0.1
    c2 = 1.0 + rng.standard_normal((4, 4)) * 0.1
    w = rng.standard_normal((4, 4)) * 0.5
    return x0, c, c2, w


def engine_chain(x0, c, c2, w):
    """The chain on the engine, written as a user would (constants made Tensors once)."""
    x = Tensor(x0, requires_grad=True)
    ct, c2t, wt = Tensor(c), Tensor(c2), Tensor(w)
    y = x
    for i in range(N_OPS):
        op = CYCLE[i % len(CYCLE)]
        if op == "add":
            y = y + ct
        elif op == "scale":
            y = y * 0.5
        elif op == "tanh":
            y = y.tanh()
        elif op == "sigmoid":
            y = y.sigmoid()
        elif op == "exp":
            y = y.exp()
        elif op == "matmul":
            y = y @ wt
        elif op == "relu":
            y = y.relu()
        else:
            y = y * c2t
    y.sum().backward()
    return x.grad.data


def numpy_chain(x0, c, c2, w):
    """The same chain by hand: forward keeps what backward needs, backward is hand-derived."""
    saved = []
    y = x0
    for i in range(N_OPS):
        op = CYCLE[i % len(CYCLE)]
        if op == "add":
            y = y + c
        elif op == "scale":
            y = y * 0.5
        elif op == "tanh":
            y = np.tanh(y)
        elif op == "sigmoid":
            y = 1.0 / (1.0 + np.exp(-y))
        elif op == "exp":
            y = np.exp(y)
        elif op == "matmul":
            y = y @ w
        elif op == "relu":
            saved.append(y > 0)
            y = np.maximum(y, 0.0)
            continue
        else:
            y = y * c2
        saved.append(y)
    g = np.ones_like(y)
    for i in reversed(range(N_OPS)):
        op = CYCLE[i % len(CYCLE)]
        s = saved[i]
        if op == "scale":
            g = g * 0.5
        elif op == "tanh":
            g = g * (1.0 - s * s)
        elif op == "sigmoid":
            g = g * s * (1.0 - s)
        elif op == "exp":
            g = g * s
        elif op == "matmul":
            g = g @ w.T
        elif op == "relu":
            g = g * s
        elif op == "mul":
            g = g * c2
        # add: the gradient passes through unchanged
    return g


def torch_chain(torch, x0, c, c2, w):
    x = torch.tensor(x0, requires_grad=True)
    ct, c2t, wt = torch.tensor(c), torch.tensor(c2), torch.tensor(w)
    y = x
    for i in range(N_OPS):
        op = CYCLE[i % len(CYCLE)]
        if op == "add":
            y = y + ct
        elif op == "scale":
            y = y * 0.5
        elif op == "tanh":
            y = y.tanh()
        elif op == "sigmoid":
            y = y.sigmoid()
        elif op == "exp":
            y = y.exp()
        elif op == "matmul":
            y = y @ wt
        elif op == "relu":
            y = y.relu()
        else:
            y = y * c2t
    y.sum().backward()
    return x.grad.numpy()


def main(quick: bool = False) -> dict[str, float]:
    repeat = 10 if quick else 30
    args = constants()
    expected = numpy_chain(*args)
    assert np.allclose(engine_chain(*args), expected, rtol=1e-10, atol=1e-12), "engine differs"
    torch = torch_or_none()
    if torch is not None:
        assert np.allclose(torch_chain(torch, *args), expected, rtol=1e-10, atol=1e-12)

    print_header(
        f"{N_OPS:,} mixed ops on a 4x4 float64 tensor: forward + backward",
        f"cycle {' -> '.join(CYCLE)}; gradient of sum(y) w.r.t. x0, checked equal to the "
        f"hand-written numpy backward (and torch's). best of {repeat} after 1 warm-up; torch "
        "runs with 1 thread.",
    )
    cases = [
        ("numpy by hand", lambda: numpy_chain(*args)),
        ("tinygrad_lite.Tensor", lambda: engine_chain(*args)),
    ]
    if torch is not None:
        cases.append((f"torch {torch.__version__} eager", lambda: torch_chain(torch, *args)))
    rows = time_interleaved(cases, repeat=repeat)
    ratios = print_table("gc on", rows, baseline="numpy by hand")
    slowdown = 1 / ratios["tinygrad_lite.Tensor"]
    # The targets of DEVELOPERS.md's speed decision: <= 2x numpy, and faster than torch eager.
    line = (
        f"[bold]tinygrad_lite.Tensor takes {slowdown:.2f}x the time of hand-written numpy "
        "(target <= 2x)"
    )
    result = {"engine / numpy": slowdown}
    if torch is not None:
        result["torch / numpy"] = torch_slowdown = 1 / ratios[f"torch {torch.__version__} eager"]
        line += f", {slowdown / torch_slowdown:.2f}x torch eager's (target < 1x)"
    console.print(line)
    return result


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
