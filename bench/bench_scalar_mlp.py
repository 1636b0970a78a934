"""Scalar MLP: micrograd's own demo workload, tinygrad_lite.Value against micrograd 0.1.0.

A 2-16-16-1 MLP (ReLU hidden layers, linear output, micrograd's `nn.MLP` layout) scores 100
two-moons points; the loss is micrograd's demo loss: the mean hinge loss relu(1 - y * score)
plus an L2 penalty. One step is what a user's training loop pays: zero grads, forward,
backward over the ~65k-node scalar graph, the SGD update and freeing the previous step's
graph, with the cyclic garbage collector on (as Python runs) and off. Both engines run the
very same model code (`Neuron`/`Layer`/`MLP` below, parametrised by the Value class) with the
same weights, and the gradients are checked to agree before anything is timed.

Run: .venv/bin/python bench/bench_scalar_mlp.py [--quick]
"""

from __future__ import annotations

import gc
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads (see common.py)

from common import Timing, console, print_header, print_table  # noqa: E402

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


def sgd_update(model, lr=0.05):
    """micrograd's demo update: p.data -= lr * p.grad for every parameter."""
    for p in model.parameters():
        p.data -= lr * p.grad


def user_loop(value_cls, model, xs, ys, steps: int, collect: bool = False) -> list[float]:
    """Train for `steps` steps exactly as a user's loop does and time each whole step:
    zero grads, forward, backward, update, and the previous step's graph freed when `loss` is
    rebound (by reference counting for ours; micrograd's closures make cycles, so its graphs
    wait for the cyclic collector, which runs inside the steps when gc is on). With gc off,
    `collect=True` calls gc.collect() once per step: what a micrograd user must do then for
    the previous graph to be freed at all. The first step has no previous graph to free, so it
    is not counted."""
    times = []
    loss = None
    clock = time.perf_counter
    for i in range(steps + 1):
        t0 = clock()
        loss = step(value_cls, model, xs, ys)
        sgd_update(model)
        if collect:
            gc.collect()
        if i:
            times.append(clock() - t0)
    del loss
    return times


def time_user_loops(cases, *, rounds: int, steps: int, gc_enabled: bool) -> list[Timing]:
    """Per-step times of each engine's `user_loop`, round-robin over the engines (so load from
    other processes hits both alike). The collector runs (outside the clock) only between one
    engine's block of steps and the next, so neither pays for the other's garbage; inside a
    block, gc is `gc_enabled` as a user's Python runs it."""
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    was_enabled = gc.isenabled()
    try:
        for _ in range(rounds):
            for name, run in cases:
                gc.collect()
                gc.enable() if gc_enabled else gc.disable()
                times[name].extend(run(steps))
                gc.enable() if was_enabled else gc.disable()
    finally:
        gc.enable() if was_enabled else gc.disable()
        gc.collect()
    return [
        Timing(name, min(ts), statistics.median(ts), len(ts), gc_enabled, "per whole step")
        for name, ts in times.items()
    ]


def teardown(model, xs, ys, repeat: int = 5) -> str:
    """How long dropping the last reference to one of our ~65k-node graphs takes (included in
    the whole-step figures above; shown to say what share of a step it is)."""
    times = []
    for _ in range(repeat):
        loss = loss_fn(Value, model, xs, ys)
        t0 = time.perf_counter()
        del loss
        times.append(time.perf_counter() - t0)
    return f"{min(times) * 1e3:.1f} ms"


def main(quick: bool = False) -> dict[str, float]:
    from micrograd.engine import Value as MicroValue

    rounds, steps = (2, 2) if quick else (3, 4)
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
    del loss_ours, loss_theirs

    print_header(
        "Scalar MLP (micrograd demo): whole training steps, as a user's loop runs them",
        f"2-16-16-1 MLP, 100 points, hinge loss + L2; {nodes:,} nodes that require grad "
        f"(ours, constants excluded); loss and all {len(ours.parameters())} gradients equal "
        "micrograd's. A step = zero grads + forward + backward + SGD update + freeing the "
        f"previous step's graph, gc as stated; {rounds} rounds x {steps} steps per engine, "
        "round-robin; best and median over all steps.",
    )
    ratios = {}
    micro_name, ours_name = "micrograd 0.1.0", "tinygrad_lite.Value"
    leak_name = "micrograd, graphs never freed"
    for gc_on in (True, False):
        cases = [
            # With gc off, micrograd's previous graph is freed only by an explicit collection.
            (micro_name, lambda n, c=not gc_on: user_loop(MicroValue, theirs, xs, ys, n, c)),
            (ours_name, lambda n: user_loop(Value, ours, xs, ys, n)),
        ]
        if not gc_on:  # what it costs when nobody frees micrograd's graphs (memory grows)
            cases.append((leak_name, lambda n: user_loop(MicroValue, theirs, xs, ys, n)))
        rows = time_user_loops(cases, rounds=rounds, steps=steps, gc_enabled=gc_on)
        for row in rows:
            row.note = {
                micro_name: "gc.collect() each step frees its graph" if not gc_on else "",
                ours_name: "freed by refcounting",
                leak_name: "no collection: memory grows each step",
            }[row.name]
        state = "on" if gc_on else "off"
        print_table(f"gc {state} (whole steps)", rows, baseline=micro_name)
        by_name = {row.name: row for row in rows}
        # The median step is what a training run pays; best-of is printed next to it.
        ratios[f"speed-up gc {state}"] = by_name[micro_name].median / by_name[ours_name].median
        console.print(
            f"median step: micrograd {by_name[micro_name].median * 1e3:.1f} ms, ours "
            f"{by_name[ours_name].median * 1e3:.1f} ms: {ratios[f'speed-up gc {state}']:.2f}x"
        )
        if not gc_on:
            ratios["speed-up gc off, micrograd never freed"] = (
                by_name[leak_name].median / by_name[ours_name].median
            )
            console.print(
                f"against micrograd never freeing its graphs: "
                f"{ratios['speed-up gc off, micrograd never freed']:.2f}x"
            )
    console.print(f"freeing one of our graphs (refcounting): {teardown(ours, xs, ys)}")
    console.print(
        f"[bold]tinygrad_lite.Value is {ratios['speed-up gc on']:.2f}x faster than micrograd "
        f"per whole step with gc on (target >= 5x) and {ratios['speed-up gc off']:.2f}x with "
        "gc off, each engine freeing its graphs (target >= 2.5x); ratios of median steps"
    )
    return ratios


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
