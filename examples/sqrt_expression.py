"""y = sqrt(x**2 + b) with scalar Values: the gradients against their closed form, then the
forward graph and the gradient flow drawn to out/sqrt_expression_{forward,backward}.{dot,svg,png}.

Run: python examples/sqrt_expression.py   (exits non-zero if a gradient is wrong)
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import graphviz

import viz
from tinygrad_lite import Value

OUT = Path(__file__).resolve().parent.parent / "out"


def main() -> int:
    x = Value(3.0, label="x")
    b = Value(1.0, label="b")
    y = (x**2 + b).sqrt()
    y.label = "y"
    forward = viz.draw(y, title="y = sqrt(x**2 + b), before backward")

    y.backward()
    root = math.sqrt(x.data**2 + b.data)
    expected = {"dy/dx": x.data / root, "dy/db": 1.0 / (2.0 * root)}
    got = {"dy/dx": x.grad, "dy/db": b.grad}
    ok = True
    for name, want in expected.items():
        good = math.isclose(got[name], want, rel_tol=1e-12, abs_tol=1e-12)
        ok &= good
        print(f"{name} = {got[name]:.12f}   closed form {want:.12f}   {'ok' if good else 'WRONG'}")

    backward = viz.draw(y, backward=True, title="y = sqrt(x**2 + b): gradient flow")
    OUT.mkdir(exist_ok=True)
    for name, drawing in (("forward", forward), ("backward", backward)):
        stem = OUT / f"sqrt_expression_{name}"
        try:
            # The file names are this example's own, so re-running the demo replaces them.
            paths = viz.save(drawing, stem, ("dot", "svg", "png"), overwrite=True)
            print("wrote", ", ".join(str(p.relative_to(OUT.parent)) for p in paths))
        except graphviz.ExecutableNotFound:
            print(f"Graphviz's dot is missing: wrote only {stem}.dot (apt-get install graphviz)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
