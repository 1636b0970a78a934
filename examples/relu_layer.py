"""H = max(0, X @ W + b) with tensors: the forward graph and the gradient flow of
loss = H.mean(), drawn to out/relu_layer_{forward,backward}.{dot,svg,png}.

Run: python examples/relu_layer.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import graphviz

import tinygrad_lite as tl
import viz
from tinygrad_lite import Tensor

OUT = Path(__file__).resolve().parent.parent / "out"


def main() -> int:
    tl.manual_seed(0)
    X = Tensor([[1.0, -2.0, 0.5], [0.3, 0.8, -1.0]], name="X")  # a batch of 2 inputs
    W = Tensor(tl.randn(3, 4).numpy() * 0.5, requires_grad=True, name="W")
    b = Tensor([0.1, -0.2, 0.0, 0.3], requires_grad=True, name="b")
    with tl.scope("layer"):
        H = (X @ W + b).relu()
        H.name = "H"
    loss = H.mean()
    loss.name = "loss"
    forward = viz.draw(loss, title="H = max(0, X @ W + b); loss = mean(H)")

    loss.backward()
    print("loss =", loss.item())
    print("dloss/db =", b.grad.tolist())
    backward = viz.draw(loss, backward=True, title="relu layer: gradient flow of loss")

    OUT.mkdir(exist_ok=True)
    for name, drawing in (("forward", forward), ("backward", backward)):
        stem = OUT / f"relu_layer_{name}"
        try:
            # The file names are this example's own, so re-running the demo replaces them.
            paths = viz.save(drawing, stem, ("dot", "svg", "png"), overwrite=True)
            print("wrote", ", ".join(str(p.relative_to(OUT.parent)) for p in paths))
        except graphviz.ExecutableNotFound:
            print(f"Graphviz's dot is missing: wrote only {stem}.dot (apt-get install graphviz)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
