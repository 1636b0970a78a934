"""A vanilla RNN, h_t = tanh(x_t W_ih + h_{t-1} W_hh + b), forward + BPTT, written with engine
ops, against the same forward and a hand-written BPTT in numpy, and torch when importable.

Batch 32, input 16, hidden 128, float32, T = 16, 64 and 256 steps. The loss is sum(h_T * V) for
a fixed random V, so the gradient flows back through every step. Two engine rows: the loop
written out op by op (four nodes a step: the engine's per-op path) and the layer `nn.RNN`
(one fused `rnn_tanh` node a step), both with gradients for W_ih, W_hh and b asserted equal
(allclose) to the hand-derived ones before timing. The torch rows are the same loop in torch
eager and the fused `torch.nn.RNN`; both layers get the same weights copied in. One more numpy
row, not the target's reference, multiplies by a C-ordered copy of w_hh.T in BPTT, as
`nn.RNN` does (see `numpy_rnn`).

Run: .venv/bin/python bench/bench_rnn.py [--quick]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads (see common.py)

import numpy as np  # noqa: E402
from common import console, print_header, print_table, time_interleaved, torch_or_none  # noqa: E402

from tinygrad_lite import Tensor, nn  # noqa: E402

BATCH, INPUT, HIDDEN = 32, 16, 128
STEPS = (16, 64, 256)


def make_data(steps: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    f32 = np.float32
    xs = rng.standard_normal((steps, BATCH, INPUT)).astype(f32)
    w_ih = (rng.standard_normal((INPUT, HIDDEN)) / np.sqrt(INPUT)).astype(f32)
    w_hh = (rng.standard_normal((HIDDEN, HIDDEN)) / np.sqrt(HIDDEN)).astype(f32)
    b = (rng.standard_normal(HIDDEN) * 0.1).astype(f32)
    v = rng.standard_normal((BATCH, HIDDEN)).astype(f32)
    return xs, w_ih, w_hh, b, v


def engine_rnn(xs, w_ih, w_hh, b, v):
    """Forward with engine ops; backward() does the BPTT."""
    W_ih = Tensor(w_ih, requires_grad=True)
    W_hh = Tensor(w_hh, requires_grad=True)
    bias = Tensor(b, requires_grad=True)
    h = Tensor(np.zeros((BATCH, HIDDEN), dtype=np.float32))
    for x in xs:
        h = (Tensor(x) @ W_ih + h @ W_hh + bias).tanh()
    (h * Tensor(v)).sum().backward()
    return W_ih.grad.data, W_hh.grad.data, bias.grad.data


def make_engine_layer(w_ih, w_hh, b) -> nn.RNN:
    """nn.RNN(16, 128) holding the benchmark's weights in PyTorch's layout: (out, in) weights
    and two biases, b in bias_ih and zeros in bias_hh."""
    rnn = nn.RNN(INPUT, HIDDEN, nonlinearity="tanh")
    rnn.load_state_dict(
        {
            "weight_ih_l0": w_ih.T,
            "weight_hh_l0": w_hh.T,
            "bias_ih_l0": b,
            "bias_hh_l0": np.zeros_like(b),
        }
    )
    return rnn


def engine_layer(rnn, xs, v):
    """The layer on the time-major input (T, batch, input); backward() does the BPTT. Returns
    the gradients in the hand-written layout: (in, out) weights and the bias (b_ih's, the same
    as b_hh's since the two are summed)."""
    rnn.zero_grad()
    _, h_n = rnn(Tensor(xs))
    (h_n[0] * Tensor(v)).sum().backward()
    return rnn.weight_ih_l0.grad.data.T, rnn.weight_hh_l0.grad.data.T, rnn.bias_ih_l0.grad.data


def numpy_rnn(xs, w_ih, w_hh, b, v, both_layouts: bool = False):
    """The same forward, and BPTT derived by hand.

    `dpre @ w_hh.T` hands BLAS a transposed right operand, which OpenBLAS runs at up to half
    speed in float32 on this machine. `both_layouts` multiplies by a C-ordered copy of w_hh.T
    instead, made once per call, as `nn.RNN` does: that row shows how much of the layer's
    standing against this (the target's) reference is that layout and not the engine."""
    w_back = np.ascontiguousarray(w_hh.T) if both_layouts else w_hh.T
    hs = [np.zeros((BATCH, HIDDEN), dtype=np.float32)]
    for x in xs:
        hs.append(np.tanh(x @ w_ih + hs[-1] @ w_hh + b))
    g_ih, g_hh, g_b = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros_like(b)
    dh = v
    for t in range(len(xs) - 1, -1, -1):
        h = hs[t + 1]
        dpre = dh * (1 - h * h)
        g_ih += xs[t].T @ dpre
        g_hh += hs[t].T @ dpre
        g_b += dpre.sum(0)
        dh = dpre @ w_back
    return g_ih, g_hh, g_b


def torch_loop(torch, xs, w_ih, w_hh, b, v):
    W_ih = torch.tensor(w_ih, requires_grad=True)
    W_hh = torch.tensor(w_hh, requires_grad=True)
    bias = torch.tensor(b, requires_grad=True)
    h = torch.zeros((BATCH, HIDDEN))
    for x in torch.from_numpy(xs):
        h = torch.tanh(x @ W_ih + h @ W_hh + bias)
    (h * torch.from_numpy(v)).sum().backward()
    return W_ih.grad.numpy(), W_hh.grad.numpy(), bias.grad.numpy()


def torch_fused(torch, rnn, xs, v):
    rnn.zero_grad()
    out, h_n = rnn(torch.from_numpy(xs))
    (h_n[0] * torch.from_numpy(v)).sum().backward()


def make_torch_rnn(torch, w_ih, w_hh, b):
    rnn = torch.nn.RNN(INPUT, HIDDEN, nonlinearity="tanh")
    with torch.no_grad():  # torch keeps (out, in) layouts and two biases: b_hh is zeroed
        rnn.weight_ih_l0.copy_(torch.from_numpy(w_ih.T.copy()))
        rnn.weight_hh_l0.copy_(torch.from_numpy(w_hh.T.copy()))
        rnn.bias_ih_l0.copy_(torch.from_numpy(b))
        rnn.bias_hh_l0.zero_()
    return rnn


def main(quick: bool = False) -> dict[str, float]:
    torch = torch_or_none()
    print_header(
        "Vanilla RNN forward + BPTT (batch 32, input 16, hidden 128, float32)",
        "Engine gradients asserted allclose to the hand-derived BPTT (and torch's) first. "
        "torch runs with 1 thread; numpy runs with 1 BLAS thread (bench/common.py).",
    )
    result = {}
    for steps in STEPS[:2] if quick else STEPS:
        repeat = 5 if steps >= 256 else 10
        data = make_data(steps)
        expected = numpy_rnn(*data)
        for got, want in zip(numpy_rnn(*data, both_layouts=True), expected):
            np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)
        for got, want in zip(engine_rnn(*data), expected):
            np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)
        layer = make_engine_layer(*data[1:4])
        for got, want in zip(engine_layer(layer, data[0], data[4]), expected):
            np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)
        cases = [
            ("numpy by hand", lambda d=data: numpy_rnn(*d)),
            ("tinygrad_lite.Tensor", lambda d=data: engine_rnn(*d)),
            ("tinygrad_lite nn.RNN", lambda d=data, r=layer: engine_layer(r, d[0], d[4])),
            ("numpy, both layouts", lambda d=data: numpy_rnn(*d, both_layouts=True)),
        ]
        if torch is not None:
            for got, want in zip(torch_loop(torch, *data), expected):
                np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)
            rnn = make_torch_rnn(torch, *data[1:4])
            cases.append(("torch loop (eager)", lambda d=data: torch_loop(torch, *d)))
            cases.append(
                ("torch.nn.RNN (fused)", lambda d=data, r=rnn: torch_fused(torch, r, d[0], d[4]))
            )
        rows = time_interleaved(cases, repeat=repeat)
        ratios = print_table(f"T = {steps} (gc on)", rows, baseline="numpy by hand")
        result[f"engine / numpy, T={steps}"] = 1 / ratios["tinygrad_lite.Tensor"]
        result[f"nn.RNN / numpy, T={steps}"] = 1 / ratios["tinygrad_lite nn.RNN"]
        result[f"nn.RNN / numpy with both layouts, T={steps}"] = (
            ratios["numpy, both layouts"] / ratios["tinygrad_lite nn.RNN"]
        )
    for name, value in result.items():
        target = "" if "both layouts" in name else " (target <= 1.25x)"
        console.print(f"[bold]{name}: {value:.2f}x{target}")
    return result


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
