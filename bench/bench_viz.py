"""Graph rendering: building the DOT for a 10,000-node graph and laying out 2,000- and
5,000-node graphs to SVG with Graphviz's `dot`.

The graphs are unrolled scalar recurrences h = tanh(w * h + x_t) with one weight `w` shared by
every step (4 exported nodes per step), drawn with `backward=True` after a backward pass. The
"scoped" variants run each step inside `scope("rnn/t=k")` (a cluster per step); the "flat" ones
have no scopes. `max_nodes` is raised to the graph size so nothing is folded away.

Targets: DOT for 10,000 nodes < 0.5 s; SVG for 2,000 nodes < 2 s and 5,000 nodes < 5 s.
Run: .venv/bin/python bench/bench_viz.py [--quick]
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads (see common.py)

from common import console, print_header, print_table, time_best  # noqa: E402

import viz  # noqa: E402
from tinygrad_lite import Value, scope  # noqa: E402
from tinygrad_lite.graph import export_graph  # noqa: E402


def unrolled(n_nodes: int, scoped: bool):
    """A scalar recurrence with about `n_nodes` exported nodes, after backward."""
    w = Value(0.9, label="w")
    h = Value(0.1, label="h0")
    for t in range((n_nodes - 2) // 4):
        with scope(f"rnn/t={t}") if scoped else contextlib.nullcontext():
            h = (w * h + Value(0.5, requires_grad=False)).tanh()
    h.backward()
    return h


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    print_header(
        "Graph rendering (viz)",
        "export_graph and DOT building for 10,000 nodes; dot -Tsvg for 2,000 / 5,000 nodes",
    )
    big = unrolled(10_000, scoped=True)
    graph = export_graph(big)
    n = len(graph.nodes)
    build_rows = [
        time_best(f"export_graph, {n} nodes (engine)", lambda: export_graph(big), repeat=3),
        time_best(
            f"DOT from exported graph, {n} nodes",
            lambda: viz.to_dot(graph, backward=True, max_nodes=n).source,
            repeat=3,
        ),
        time_best(
            f"viz.draw total (export + DOT), {n} nodes",
            lambda: viz.draw(big, backward=True, max_nodes=n).source,
            repeat=3,
        ),
        time_best(
            f"viz.draw, default max_nodes=2000 (auto-fold), {n} nodes",
            lambda: viz.draw(big, backward=True).source,
            repeat=3,
        ),
    ]
    print_table("Building DOT (target: < 0.5 s for 10,000 nodes)", build_rows)

    if shutil.which("dot") is None:
        console.print("[yellow]Graphviz's dot is missing: rendering timings skipped")
        return 0
    render_rows = []
    for size in (2_000, 5_000):
        for scoped in (True, False):
            out = unrolled(size, scoped)
            drawing = viz.draw(out, backward=True, max_nodes=size)
            nodes = len(export_graph(out).nodes)
            dot_nodes = drawing.source.count("[shape=")
            render_rows.append(
                time_best(
                    f"dot -Tsvg, {nodes} nodes, {'scoped' if scoped else 'flat'}",
                    lambda d=drawing: d.pipe(format="svg"),
                    repeat=1 if quick else 3,
                    warmup=0,
                    note=f"{dot_nodes} DOT nodes",
                )
            )
    print_table("Rendering to SVG (targets: 2,000 nodes < 2 s, 5,000 nodes < 5 s)", render_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
