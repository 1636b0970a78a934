"""Scalar MLP: micrograd's own demo workload, tinygrad_lite.Value against micrograd 0.1.0.

A 2-16-16-1 MLP (ReLU hidden layers, linear output, micrograd's `nn.MLP` layout) scores 100
two-moons points; the loss is micrograd's demo loss: the mean hinge loss relu(1 - y * score)
plus an L2 penalty. One step is forward + backward over the ~65k-node scalar graph. Both engines
run the very same model code (`Neuron`/`Layer`/`MLP` below, parametrised by the Value class) with
the same weights, and the gradients are checked to agree before anything is timed.

Run: .venv/bin/python bench/bench_scalar_mlp.py [--quick]
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads (see common.py)

from common import console, print_header, print_table, time_interleaved  # noqa: E402

from tinygrad_lite import Value  # noqa: E402
from tinygrad_lite.autograd import topological_order  # noqa: E402


class Neuron:
    """micrograd's neuron: act = b + sum(w_i * x_i), then ReLU unless it is an output."""

    def __init__(self, value_cls, weights, nonlin=True):
        self.w = [value_cls(w) for w in weights]
        self.b = value_cls(0.0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]


class Layer:
    def __init__(self, value_cls, nin, nout, rng, **kwargs):
        self.neurons = [
            Neuron(value_cls, [rng.uniform(-1, 1) for _ in range(nin)], **kwargs)
            for _ in range(nout)
        ]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class MLP:
    def __init__(self, value_cls, nin, nouts, seed=1337):
        rng = random.Random(seed)
        sizes = [nin] + nouts
        self.layers = [
            Layer(value_cls, sizes[i], sizes[i + 1], rng, nonlin=i != len(nouts) - 1)
            for i in range(len(nouts))
        ]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def make_moons(n=100, noise=0.1, seed=0):
    """Two interleaving half circles with labels -1 / +1 (the data of micrograd's demo)."""
    rng = random.Random(seed)
    xs, ys = [], []
    for i in range(n):
        t = math.pi * (i // 2) / (n // 2 - 1)
        if i % 2 == 0:
            x, y, label = math.cos(t), math.sin(t), -1.0
        else:
            x, y, label = 1 - math.cos(t), 0.5 - math.sin(t), 1.0
        xs.append([x + rng.gauss(0, noise), y + rng.gauss(0, noise)])
        ys.append(label)
    return xs, ys


def loss_fn(value_cls, model, xs, ys, alpha=1e-4):
    """micrograd's demo loss: mean hinge loss + alpha * sum of squared parameters."""
    inputs = [[value_cls(v) for v in row] for row in xs]
    scores = [model(x) for x in inputs]
    losses = [(1 + -yi * si).relu() for yi, si in zip(ys, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = alpha * sum(p * p for p in model.parameters())
    return data_loss + reg_loss


def step(value_cls, model, xs, ys):
    for p in model.parameters():
        p.grad = 0.0
    loss = loss_fn(value_cls, model, xs, ys)
    loss.backward()
    return loss


def teardown(model, xs, ys, repeat: int = 5) -> str:
    """How long dropping the last reference to one of our ~65k-node graphs takes."""
    times = []
    for _ in range(repeat):
        loss = loss_fn(Value, model, xs, ys)
        t0 = time.perf_counter()
        del loss
        times.append(time.perf_counter() - t0)
    return f"{min(times) * 1e3:.1f} ms"


def main(quick: bool = False) -> dict[str, float]:
    from micrograd.engine import Value as MicroValue

    repeat = 3 if quick else 5
    xs, ys = make_moons()
    ours = MLP(Value, 2, [16, 16, 1])
    theirs = MLP(MicroValue, 2, [16, 16, 1])

    # Same numbers first: identical loss and gradients, else the timing means nothing.
    loss_ours = step(Value, ours, xs, ys)
    loss_theirs = step(MicroValue, theirs, xs, ys)
    assert math.isclose(loss_ours.data, loss_theirs.data, rel_tol=1e-12), "losses differ"
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert math.isclose(p.grad, q.grad, rel_tol=1e-9, abs_tol=1e-12), "gradients differ"
    nodes = len(topological_order([loss_fn(Value, ours, xs, ys)]))

    print_header(
        "Scalar MLP (micrograd demo): forward + backward",
        f"2-16-16-1 MLP, 100 points, hinge loss + L2; {nodes:,} nodes that require grad "
        f"(ours, constants excluded); loss {loss_ours.data:.6f} and all "
        f"{len(ours.parameters())} gradients equal micrograd's. best of {repeat} after 1 warm-up.",
    )
    ratios = {}
    for gc_on in (True, False):
        # Round-robin so load from other processes hits both engines alike. The graph a step
        # returns is freed after the clock stops, for both (micrograd's closures make cycles,
        # so with gc off its graphs are only ever freed by an explicit gc.collect()).
        rows = time_interleaved(
            [
                ("micrograd 0.1.0", lambda: step(MicroValue, theirs, xs, ys)),
                ("tinygrad_lite.Value", lambda: step(Value, ours, xs, ys)),
                ("micrograd forward only", lambda: loss_fn(MicroValue, theirs, xs, ys)),
                ("ours forward only", lambda: loss_fn(Value, ours, xs, ys)),
            ],
            repeat=repeat,
            gc_enabled=gc_on,
        )
        state = "on" if gc_on else "off"
        r = print_table(f"gc {state}", rows, baseline="micrograd 0.1.0")
        ratios[f"speed-up gc {state}"] = r["tinygrad_lite.Value"]
        best = {row.name: row.best for row in rows}
        console.print(
            f"backward alone (step - forward): micrograd "
            f"{(best['micrograd 0.1.0'] - best['micrograd forward only']) * 1e3:.1f} ms, ours "
            f"{(best['tinygrad_lite.Value'] - best['ours forward only']) * 1e3:.1f} ms"
        )
    console.print(
        f"freeing one of our graphs (refcounting, not timed above): {teardown(ours, xs, ys)}"
    )
    console.print(
        f"[bold]tinygrad_lite.Value is {ratios['speed-up gc on']:.2f}x faster than micrograd "
        f"with gc on (target >= 5x) and {ratios['speed-up gc off']:.2f}x with gc off "
        "(target >= 2x)"
    )
    return ratios


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
