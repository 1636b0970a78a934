"""micrograd's `nn.py` for scalar `Value`s: `Module`, `Neuron`, `Layer`, `MLP`.

Code written for micrograd runs with one import swapped: `from micrograd.nn import MLP`
becomes `from tinygrad_lite.nn.micro import MLP`. The same random draws (`random.uniform(-1, 1)`
from Python's global generator, one per weight, in micrograd's order) give the same weights, so
a seeded run reproduces micrograd's numbers. These are models of Values (one graph node per
scalar); `tinygrad_lite.nn` holds the Tensor layers (`nn.Linear`, `nn.Sequential`).

>>> import random
>>> from tinygrad_lite import Value
>>> from tinygrad_lite.nn.micro import MLP
>>> random.seed(1337)
>>> model = MLP(2, [3, 1])
>>> model
MLP of [Layer of [ReLUNeuron(2), ReLUNeuron(2), ReLUNeuron(2)], Layer of [LinearNeuron(3)]]
>>> score = model([Value(1.0), Value(-2.0)])
>>> score.backward()
>>> len(model.parameters()), any(p.grad != 0 for p in model.parameters())
(13, True)
"""

from __future__ import annotations

import random

from ..value import Value

__all__ = ["Layer", "MLP", "Module", "Neuron"]


class Module:
    """micrograd's base class: `parameters()` lists the Values to train, `zero_grad()` resets
    their gradients (call it before each backward: gradients accumulate)."""

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self) -> list[Value]:
        return []


class Neuron(Module):
    """`relu(b + sum(w_i * x_i))` (or without the ReLU when `nonlin=False`); weights drawn
    uniformly in [-1, 1], bias 0, as micrograd's."""

    def __init__(self, nin: int, nonlin: bool = True):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self) -> list[Value]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """`nout` neurons reading the same inputs; a layer of one neuron returns its Value alone."""

    def __init__(self, nin: int, nout: int, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """Layers of sizes `nouts` after `nin` inputs; ReLU everywhere but the last layer."""

    def __init__(self, nin: int, nouts: list[int]):
        sizes = [nin] + list(nouts)
        self.layers = [
            Layer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1) for i in range(len(nouts))
        ]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
