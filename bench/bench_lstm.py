"""nn.LSTM forward + BPTT against a hand-written numpy LSTM (forward and backward derived by
hand, in this file) and torch.nn.LSTM, in float64 and float32.

Batch 32, input 16, hidden 128, T = 16, 64 and 256 steps, one layer. The loss is
sum(output * R) for a fixed random R, so every step's output sends a gradient back through the
whole sequence. Gradients of all four parameters (and of the input sequence) are computed by
all three and asserted equal before anything is timed. The target is at most 1.25x the time of
the numpy reference. The "no input grad" row is the common training case (the input sequence is
data), where the engine records no gradient for the input at all.

Run: .venv/bin/python bench/bench_lstm.py [--quick]
"""

from __future__ import annotations

import gc
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads (see common.py)

import numpy as np  # noqa: E402
from common import console, print_header, torch_or_none  # noqa: E402
from rich.table import Table  # noqa: E402

import tinygrad_lite as tg  # noqa: E402
from tinygrad_lite import Tensor, nn  # noqa: E402

BATCH, INPUT, HIDDEN = 32, 16, 128
STEPS = (16, 64, 256)
TARGET = 1.25
# glibc malloc settings that keep freed memory in the process instead of returning it to the
# OS (which the next call then page-faults back in); printed so a reader knows which ran.
MALLOC_VARS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")


def make_data(steps: int, dtype, seed: int = 0):
    """Input sequence, the loss weights R and PyTorch-layout LSTM parameters."""
    rng = np.random.default_rng(seed)
    bound = 1 / np.sqrt(HIDDEN)
    params = {
        "weight_ih_l0": rng.uniform(-bound, bound, (4 * HIDDEN, INPUT)),
        "weight_hh_l0": rng.uniform(-bound, bound, (4 * HIDDEN, HIDDEN)),
        "bias_ih_l0": rng.uniform(-bound, bound, 4 * HIDDEN),
        "bias_hh_l0": rng.uniform(-bound, bound, 4 * HIDDEN),
    }
    xs = rng.standard_normal((steps, BATCH, INPUT))
    r = rng.standard_normal((steps, BATCH, HIDDEN))
    return xs.astype(dtype), r.astype(dtype), {k: v.astype(dtype) for k, v in params.items()}


# -- the engine --------------------------------------------------------------------------------


def engine_lstm(lstm: nn.LSTM, xs: np.ndarray, r: np.ndarray, input_grad: bool):
    lstm.zero_grad()
    x = Tensor(xs, requires_grad=input_grad)
    out, _ = lstm(x)
    (out * Tensor(r)).sum().backward()
    grads = {n: p.grad.data for n, p in lstm.named_parameters()}
    if input_grad:
        grads["input"] = x.grad.data
    return grads


# -- the hand-written numpy reference ----------------------------------------------------------


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_lstm(params: dict, xs: np.ndarray, r: np.ndarray, both_layouts: bool = False):
    """Forward and BPTT by hand: one matmul over [x, h] per step, gates (i, f, g, o).

    `w` is a transposed view, so the forward's `xh @ w` hands BLAS a transposed right operand
    (up to half speed in float32 here) while BPTT's `dgates @ w.T` does not. `both_layouts`
    multiplies forward by a C-ordered copy instead, made once per call, as `nn.LSTM` does: that
    row shows how much of the engine's standing against this reference is that layout."""
    w = np.concatenate([params["weight_ih_l0"], params["weight_hh_l0"]], 1).T  # (I+H, 4H)
    w_fwd = np.ascontiguousarray(w) if both_layouts else w
    b = params["bias_ih_l0"] + params["bias_hh_l0"]
    steps, n = len(xs), HIDDEN
    h = np.zeros((BATCH, n), xs.dtype)
    c = np.zeros_like(h)
    cache = []
    for t in range(steps):
        xh = np.concatenate([xs[t], h], 1)
        gates = xh @ w_fwd + b
        i, f, o = (_sigmoid(gates[:, k * n : (k + 1) * n]) for k in (0, 1, 3))
        g = np.tanh(gates[:, 2 * n : 3 * n])
        c_prev, c = c, f * c + i * g
        tc = np.tanh(c)
        h = o * tc
        cache.append((xh, i, f, g, o, c_prev, tc))
    dw, db = np.zeros_like(w), np.zeros_like(b)
    dxs = np.empty_like(xs)
    dh_next, dc_next = np.zeros_like(h), np.zeros_like(c)
    dgates = np.empty((BATCH, 4 * n), xs.dtype)
    for t in range(steps - 1, -1, -1):
        xh, i, f, g, o, c_prev, tc = cache[t]
        dh = r[t] + dh_next
        dc = dc_next + dh * o * (1 - tc * tc)
        dgates[:, :n] = dc * g * i * (1 - i)
        dgates[:, n : 2 * n] = dc * c_prev * f * (1 - f)
        dgates[:, 2 * n : 3 * n] = dc * i * (1 - g * g)
        dgates[:, 3 * n :] = dh * tc * o * (1 - o)
        dc_next = dc * f
        dw += xh.T @ dgates
        db += dgates.sum(0)
        dxh = dgates @ w.T
        dxs[t] = dxh[:, :INPUT]
        dh_next = dxh[:, INPUT:]
    return {
        "weight_ih_l0": dw[:INPUT].T,
        "weight_hh_l0": dw[INPUT:].T,
        "bias_ih_l0": db,
        "bias_hh_l0": db,
        "input": dxs,
    }


# -- torch ------------------------------------------------------------------------------------


def torch_lstm(torch, lstm, xs, r):
    lstm.zero_grad()
    x = torch.from_numpy(xs).requires_grad_(True)
    out, _ = lstm(x)
    (out * torch.from_numpy(r)).sum().backward()
    grads = {n: p.grad.numpy() for n, p in lstm.named_parameters()}
    grads["input"] = x.grad.numpy()
    return grads


def interleaved_best(variants: dict, rounds: int) -> dict[str, float]:
    """Best CPU time (process_time) of each variant over `rounds` rounds that run every variant
    once in turn, after one warm-up round. CPU time, not wall time: on a shared machine another
    process's load stretches wall time by 2x and more, but barely moves the CPU time of a
    single-threaded run (numpy's BLAS and torch are pinned to one thread here). Interleaving
    spreads whatever disturbance is left over all variants alike."""
    best = {name: float("inf") for name in variants}
    for round_ in range(rounds + 1):
        for name, fn in variants.items():
            gc.collect()  # the previous call's garbage is not this call's cost
            start = time.process_time()
            fn()
            seconds = time.process_time() - start
            if round_ > 0:
                best[name] = min(best[name], seconds)
    return best


def page_faults(fn) -> tuple[int, float]:
    """Minor page faults and CPU seconds of the second of two back-to-back calls: memory the
    allocator had to fetch fresh from the OS because the first call's freed memory was given
    back (glibc trims a large free block at the top of the heap)."""
    fn()
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.process_time()
    fn()
    seconds = time.process_time() - start
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, seconds


def check_same(name: str, ours: dict, ref: dict, dtype) -> None:
    rtol, atol = (1e-7, 1e-9) if dtype == np.float64 else (2e-3, 2e-4)
    for key, value in ref.items():
        if key in ours:
            np.testing.assert_allclose(
                ours[key], value, rtol=rtol, atol=atol, err_msg=f"{name}: grad of {key}"
            )


def measure(dtype, steps: int, torch) -> tuple[list[str], float]:
    """One table row: timings, ratios and page faults for one dtype and sequence length."""
    xs, r, params = make_data(steps, dtype)
    lstm = nn.LSTM(INPUT, HIDDEN)
    if dtype == np.float64:
        lstm.double()
    lstm.load_state_dict(params)
    ref = numpy_lstm(params, xs, r)
    check_same("tinygrad-lite", engine_lstm(lstm, xs, r, True), ref, dtype)
    check_same("numpy, both layouts", numpy_lstm(params, xs, r, True), ref, dtype)
    variants = {
        "numpy": lambda: numpy_lstm(params, xs, r),
        "numpy-layouts": lambda: numpy_lstm(params, xs, r, True),
        "ours": lambda: engine_lstm(lstm, xs, r, True),
        "ours-nogx": lambda: engine_lstm(lstm, xs, r, False),
    }
    if torch is not None:
        tdtype = torch.float64 if dtype == np.float64 else torch.float32
        tl = torch.nn.LSTM(INPUT, HIDDEN).to(tdtype)
        tl.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in params.items()})
        check_same("torch", torch_lstm(torch, tl, xs, r), ref, dtype)
        variants["torch"] = lambda: torch_lstm(torch, tl, xs, r)
    best = interleaved_best(variants, rounds=4 if steps >= 256 else 8)
    t_np, t_ours, t_nogx = best["numpy"], best["ours"], best["ours-nogx"]
    faults_np, again_np = page_faults(lambda: numpy_lstm(params, xs, r))
    faults_ours, again_ours = page_faults(lambda: engine_lstm(lstm, xs, r, False))
    ratio, ratio_nogx = t_ours / t_np, t_nogx / t_np
    cells = [
        np.dtype(dtype).name,
        str(steps),
        f"{t_np * 1e3:.1f} ms",
        f"{t_ours * 1e3:.1f} ms",
        f"{ratio:.2f}x",
        f"{t_nogx * 1e3:.1f} ms",
        f"{ratio_nogx:.2f}x",
    ]
    if torch is not None:
        cells += [f"{best['torch'] * 1e3:.1f} ms", f"{t_ours / best['torch']:.2f}x"]
    else:
        cells += ["-", "-"]
    cells.append(f"{faults_np} / {faults_ours}")
    cells.append(f"{again_ours / again_np:.2f}x")
    cells.append(f"{t_ours / best['numpy-layouts']:.2f}x")
    return cells, max(ratio, ratio_nogx)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    steps_list = STEPS[:2] if quick else STEPS
    torch = torch_or_none()
    tuned = {k: os.environ[k] for k in MALLOC_VARS if k in os.environ}
    print_header(
        "LSTM forward + BPTT",
        f"nn.LSTM({INPUT}, {HIDDEN}), batch {BATCH}, loss sum(output * R); CPU time, best of N "
        "rounds that interleave the variants. "
        f"Ratio = time / numpy reference (target <= {TARGET}x). Faults = minor page faults "
        "of a call made right after the same call, and that call's ratio (no x grad). The last "
        "column compares with the reference made to multiply by C-ordered weights both ways. "
        f"glibc malloc settings: {tuned or 'defaults'}.",
    )
    table = Table(title="LSTM forward + BPTT (best of N)", title_justify="left")
    columns = (
        "dtype",
        "T",
        "numpy (hand)",
        "ours",
        "ratio",
        "ours, no x grad",
        "ratio",
        "torch nn.LSTM",
        "ours / torch",
        "faults numpy / ours",
        "ratio back to back",
        "ours / numpy, both layouts",
    )
    for col in columns:
        table.add_column(col, justify="right")
    worst = 0.0
    for dtype in (np.float64, np.float32):
        for steps in steps_list:
            cells, ratio = measure(dtype, steps, torch)
            worst = max(worst, ratio)
            table.add_row(*cells)
    console.print(table)
    console.print(
        "Gradients (all parameters and the input) matched the numpy reference"
        + (" and torch" if torch is not None else "")
        + " before timing. Torch runs single-threaded (see common.py)."
    )
    verdict = "met" if worst <= TARGET else "NOT met"
    console.print(f"Worst engine / numpy ratio: {worst:.2f}x; target {TARGET}x {verdict}.")
    return 0


if __name__ == "__main__":
    tg.manual_seed(0)
    sys.exit(main(sys.argv[1:]))
