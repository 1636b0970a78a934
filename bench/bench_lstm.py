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

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads (see common.py)

import numpy as np  # noqa: E402
from common import console, print_header, time_best, torch_or_none  # noqa: E402
from rich.table import Table  # noqa: E402

import tinygrad_lite as tg  # noqa: E402
from tinygrad_lite import Tensor, nn  # noqa: E402

BATCH, INPUT, HIDDEN = 32, 16, 128
STEPS = (16, 64, 256)
TARGET = 1.25


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


def numpy_lstm(params: dict, xs: np.ndarray, r: np.ndarray):
    """Forward and BPTT by hand: one matmul over [x, h] per step, gates (i, f, g, o)."""
    w = np.concatenate([params["weight_ih_l0"], params["weight_hh_l0"]], 1).T  # (I+H, 4H)
    b = params["bias_ih_l0"] + params["bias_hh_l0"]
    steps, n = len(xs), HIDDEN
    h = np.zeros((BATCH, n), xs.dtype)
    c = np.zeros_like(h)
    cache = []
    for t in range(steps):
        xh = np.concatenate([xs[t], h], 1)
        gates = xh @ w + b
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


def check_same(name: str, ours: dict, ref: dict, dtype) -> None:
    rtol, atol = (1e-7, 1e-9) if dtype == np.float64 else (2e-3, 2e-4)
    for key, value in ref.items():
        if key in ours:
            np.testing.assert_allclose(
                ours[key], value, rtol=rtol, atol=atol, err_msg=f"{name}: grad of {key}"
            )


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    steps_list = STEPS[:2] if quick else STEPS
    torch = torch_or_none()
    print_header(
        "LSTM forward + BPTT",
        f"nn.LSTM({INPUT}, {HIDDEN}), batch {BATCH}, loss sum(output * R); best of N. "
        f"Ratio = time / numpy reference time (target <= {TARGET}x for the engine).",
    )
    table = Table(title="LSTM forward + BPTT (best of N)", title_justify="left")
    for col in ("dtype", "T", "numpy (hand BPTT)", "tinygrad-lite", "ratio", "no input grad",
                "ratio", "torch nn.LSTM", "torch / numpy", "ours / torch"):
        table.add_column(col, justify="right")
    worst = 0.0
    for dtype in (np.float64, np.float32):
        for steps in steps_list:
            xs, r, params = make_data(steps, dtype)
            lstm = nn.LSTM(INPUT, HIDDEN)
            lstm.load_state_dict(params)
            if dtype == np.float64:
                lstm.double()
                lstm.load_state_dict(params)
            ref = numpy_lstm(params, xs, r)
            check_same("tinygrad-lite", engine_lstm(lstm, xs, r, True), ref, dtype)
            repeat = 3 if steps >= 256 else 7
            t_np = time_best("numpy", lambda: numpy_lstm(params, xs, r), repeat=repeat)
            t_ours = time_best("ours", lambda: engine_lstm(lstm, xs, r, True), repeat=repeat)
            t_nogx = time_best("ours-nogx", lambda: engine_lstm(lstm, xs, r, False), repeat=repeat)
            ratio, ratio_nogx = t_ours.best / t_np.best, t_nogx.best / t_np.best
            worst = max(worst, ratio_nogx)
            cells = [
                np.dtype(dtype).name,
                str(steps),
                f"{t_np.best * 1e3:.1f} ms",
                f"{t_ours.best * 1e3:.1f} ms",
                f"{ratio:.2f}x",
                f"{t_nogx.best * 1e3:.1f} ms",
                f"{ratio_nogx:.2f}x",
            ]
            if torch is not None:
                tdtype = torch.float64 if dtype == np.float64 else torch.float32
                tl = torch.nn.LSTM(INPUT, HIDDEN).to(tdtype)
                tl.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in params.items()})
                check_same("torch", torch_lstm(torch, tl, xs, r), ref, dtype)
                t_torch = time_best("torch", lambda: torch_lstm(torch, tl, xs, r), repeat=repeat)
                cells += [
                    f"{t_torch.best * 1e3:.1f} ms",
                    f"{t_torch.best / t_np.best:.2f}x",
                    f"{t_ours.best / t_torch.best:.2f}x",
                ]
            else:
                cells += ["-", "-", "-"]
            table.add_row(*cells)
    console.print(table)
    console.print(
        "Gradients (all parameters and the input) matched the numpy reference"
        + (" and torch" if torch is not None else "")
        + " before timing."
    )
    verdict = "met" if worst <= TARGET else "NOT met"
    console.print(f"Worst engine/numpy ratio (no input grad): {worst:.2f}x; target {verdict}.")
    return 0


if __name__ == "__main__":
    tg.manual_seed(0)
    sys.exit(main(sys.argv[1:]))
