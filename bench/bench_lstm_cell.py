"""A hand-written LSTM cell, as a student writes it, against the same code in torch eager and a
hand-written numpy forward and backward.

The cell: `gates = x @ W_ih + h @ W_hh + b`, `i, f, g, o = gates.chunk(4, -1)`, sigmoid / tanh,
`c = f * c + i * g`, `h = o * tanh(c)`, unrolled over T steps; the loss is sum_t sum(h_t * R_t)
for a fixed random R, so every step's output sends a gradient back through the sequence. One
call is forward + backward (gradients of W_ih, W_hh and b). Batch 32, input 128, hidden 128,
T = 16 and 64, float32. All three give the same gradients (checked before timing). The target:
ours no slower than torch eager.

Run: .venv/bin/python bench/bench_lstm_cell.py [--quick] [--profile]
"""

from __future__ import annotations

import gc
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads (see common.py)

import numpy as np  # noqa: E402
from common import console, print_header, torch_or_none  # noqa: E402
from rich.table import Table  # noqa: E402

import tinygrad_lite as tl  # noqa: E402

BATCH, INPUT, HIDDEN = 32, 128, 128
STEPS = (16, 64)
DTYPE = np.float32
# glibc malloc settings that keep freed memory in the process instead of giving the top of the
# heap back to the OS after every call (which the next call then page-faults back in). They
# change the figures here by up to a third (see RESULTS.md), so the header says which ran.
MALLOC_VARS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_")


def make_data(steps: int, seed: int = 0):
    """Inputs (T, B, I), loss weights R (T, B, H) and the cell's weights in the layout a student
    writes them (x @ W_ih, so W_ih is (I, 4H))."""
    rng = np.random.default_rng(seed)
    bound = 1 / np.sqrt(HIDDEN)
    params = {
        "W_ih": rng.uniform(-bound, bound, (INPUT, 4 * HIDDEN)),
        "W_hh": rng.uniform(-bound, bound, (HIDDEN, 4 * HIDDEN)),
        "b": rng.uniform(-bound, bound, 4 * HIDDEN),
    }
    xs = rng.standard_normal((steps, BATCH, INPUT))
    r = rng.standard_normal((steps, BATCH, HIDDEN))
    return xs.astype(DTYPE), r.astype(DTYPE), {k: v.astype(DTYPE) for k, v in params.items()}


# -- the student's cell, written once for both engines --------------------------------------------


def lstm_loss(lib, W_ih, W_hh, b, xs, rs):  # noqa: N803 (the names a student writes)
    """The unrolled cell and its loss; `lib` is tinygrad_lite or torch (zeros, sigmoid, tanh)."""
    h = lib.zeros(BATCH, HIDDEN)
    c = lib.zeros(BATCH, HIDDEN)
    loss = 0.0
    for x, r in zip(xs, rs):
        gates = x @ W_ih + h @ W_hh + b
        i, f, g, o = gates.chunk(4, -1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        loss = loss + (h * r).sum()
    return loss


def ours(params: dict, xs, rs) -> dict:
    weights = {k: tl.Tensor(v, requires_grad=True) for k, v in params.items()}
    xs_t = [tl.Tensor(x) for x in xs]
    rs_t = [tl.Tensor(r) for r in rs]
    lstm_loss(tl, weights["W_ih"], weights["W_hh"], weights["b"], xs_t, rs_t).backward()
    return {k: w.grad.numpy() for k, w in weights.items()}


def theirs(torch, params: dict, xs, rs) -> dict:
    weights = {k: torch.from_numpy(v).requires_grad_(True) for k, v in params.items()}
    xs_t = torch.from_numpy(xs)
    rs_t = torch.from_numpy(rs)
    lstm_loss(torch, weights["W_ih"], weights["W_hh"], weights["b"], xs_t, rs_t).backward()
    return {k: w.grad.numpy() for k, w in weights.items()}


# -- numpy: forward and backward by hand ----------------------------------------------------------


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_cell(params: dict, xs, rs) -> dict:
    """The same cell with its backward derived by hand (BPTT)."""
    w_ih, w_hh, b = params["W_ih"], params["W_hh"], params["b"]
    n = HIDDEN
    h = np.zeros((BATCH, n), DTYPE)
    c = np.zeros_like(h)
    cache = []
    for x in xs:
        gates = x @ w_ih + h @ w_hh + b
        i, f, o = (_sigmoid(gates[:, k * n : (k + 1) * n]) for k in (0, 1, 3))
        g = np.tanh(gates[:, 2 * n : 3 * n])
        c_prev, c = c, f * c + i * g
        tc = np.tanh(c)
        h_prev, h = h, o * tc
        cache.append((x, h_prev, i, f, g, o, c_prev, tc))
    dw_ih, dw_hh, db = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros_like(b)
    dh_next, dc_next = np.zeros_like(h), np.zeros_like(c)
    dgates = np.empty((BATCH, 4 * n), DTYPE)
    for t in range(len(xs) - 1, -1, -1):
        x, h_prev, i, f, g, o, c_prev, tc = cache[t]
        dh = rs[t] + dh_next
        dc = dc_next + dh * o * (1 - tc * tc)
        dgates[:, :n] = dc * g * i * (1 - i)
        dgates[:, n : 2 * n] = dc * c_prev * f * (1 - f)
        dgates[:, 2 * n : 3 * n] = dc * i * (1 - g * g)
        dgates[:, 3 * n :] = dh * tc * o * (1 - o)
        dc_next = dc * f
        dw_ih += x.T @ dgates
        dw_hh += h_prev.T @ dgates
        db += dgates.sum(0)
        dh_next = dgates @ w_hh.T
    return {"W_ih": dw_ih, "W_hh": dw_hh, "b": db}


# -- timing ---------------------------------------------------------------------------------------


def interleaved(variants: dict, rounds: int, calls: int) -> dict[str, dict[str, list]]:
    """CPU times (process_time) and minor page faults of each variant, round-robin over
    `rounds` rounds after one warm-up round. In each round a variant runs `calls` times back
    to back, as a training loop calls its step: the first call (right after another library
    ran: colder caches, and memory the allocator may have given back) and the later ones (in a
    loop) are kept apart. CPU time, not wall time: on a shared machine other processes stretch
    wall time, but barely move the CPU time of a single-threaded run."""
    out = {name: {"first": [], "loop": [], "faults": []} for name in variants}
    for round_ in range(rounds + 1):
        for name, fn in variants.items():
            for call in range(calls):
                gc.collect()  # the previous call's garbage is not this call's cost
                faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                start = time.process_time()
                fn()
                seconds = time.process_time() - start
                faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
                if round_ > 0:
                    out[name]["first" if call == 0 else "loop"].append(seconds)
                    if call:
                        out[name]["faults"].append(faults)
    return out


def check_same(name: str, got: dict, want: dict) -> None:
    for key in want:
        if not np.allclose(got[key], want[key], rtol=2e-3, atol=2e-4):
            worst = float(np.max(np.abs(got[key] - want[key])))
            raise AssertionError(f"{name}: gradient of {key} differs from numpy's by {worst:g}")


def profile(steps: int) -> None:
    """Where our time goes: cProfile of forward + backward, top functions by own time."""
    import cProfile
    import pstats

    xs, rs, params = make_data(steps)
    ours(params, xs, rs)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(5):
        ours(params, xs, rs)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(18)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    if "--profile" in argv:
        profile(64)
        return 0
    torch = torch_or_none()
    rounds, calls = (2, 3) if quick else (5, 4)
    print_header(
        "Hand-written LSTM cell: x @ W_ih + h @ W_hh + b, chunk(4, -1), sigmoid/tanh",
        f"batch {BATCH}, input {INPUT}, hidden {HIDDEN}, float32; forward + backward of "
        "sum_t sum(h_t * R_t); gradients of W_ih, W_hh, b checked equal across all three; "
        f"CPU time; {rounds} interleaved rounds after one warm-up, each running a variant "
        f"{calls} times back to back: 'in a loop' is the median of calls 2-{calls} (what a "
        "training loop pays), 'first call' the median of call 1 (right after another library); "
        "faults = minor page faults per call in a loop. glibc malloc settings: "
        f"{ {k: os.environ[k] for k in MALLOC_VARS if k in os.environ} or 'defaults' }",
    )
    table = Table(title="time per forward + backward (medians)", title_justify="left")
    columns = ("T", "variant", "in a loop", "vs numpy", "vs torch", "faults", "first call")
    columns += ("vs torch",)
    for column in columns:
        table.add_column(column, justify="right" if column != "variant" else "left")
    verdicts = []
    for steps in STEPS:
        xs, rs, params = make_data(steps)
        reference = numpy_cell(params, xs, rs)
        check_same("ours", ours(params, xs, rs), reference)
        args = (params, xs, rs)
        variants = {
            "numpy (hand-written backward)": lambda a=args: numpy_cell(*a),
            "tinygrad_lite": lambda a=args: ours(*a),
        }
        if torch is not None:
            check_same("torch", theirs(torch, *args), reference)
            variants["torch eager"] = lambda a=args: theirs(torch, *a)
        times = interleaved(variants, rounds, calls)
        loop = {name: statistics.median(ts["loop"]) for name, ts in times.items()}
        first = {name: statistics.median(ts["first"]) for name, ts in times.items()}
        base = "numpy (hand-written backward)"
        for name in times:
            table.add_row(
                str(steps),
                name,
                f"{loop[name] * 1e3:.1f} ms",
                f"{loop[name] / loop[base]:.2f}x",
                f"{loop[name] / loop['torch eager']:.2f}x" if torch is not None else "-",
                f"{statistics.median(times[name]['faults']):.0f}",
                f"{first[name] * 1e3:.1f} ms",
                f"{first[name] / first['torch eager']:.2f}x" if torch is not None else "-",
            )
        if torch is not None:
            verdicts.append(
                f"T={steps}: ours {loop['tinygrad_lite'] / loop['torch eager']:.2f}x torch "
                f"eager's time in a loop ({first['tinygrad_lite'] / first['torch eager']:.2f}x "
                "on a first call)"
            )
    console.print(table)
    if verdicts:
        console.print("[bold]" + "; ".join(verdicts) + " (target <= 1.00x)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
