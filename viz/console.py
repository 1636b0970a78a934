"""Terminal views with `rich`: a graph as an indented tree, a model summary with parameter
counts, and a table of per-time-step gradient norms.

They answer the questions one asks before reaching for a drawing (what did I build, how big is
it, do my gradients vanish through time?) and work over SSH. The graph is read only through
`tinygrad_lite.graph.export_graph`. User text (labels, layer names) goes into `rich.text.Text`
objects, never into markup strings, so a label such as "[bold]x" is shown as typed; and its
control characters (ANSI/OSC escape sequences, C1 codes, line breaks, bidirectional overrides)
are shown as visible escapes (`\\x1b`), so a label cannot retitle, clear or recolour the
terminal, or draw other text than it holds.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from tinygrad_lite.graph import Graph, NodeInfo, Summary, export_graph

__all__ = [
    "gradient_norms_table",
    "graph_tree",
    "print_gradient_norms",
    "print_summary",
    "print_tree",
    "summary",
    "visible",
]


# -- user text ----------------------------------------------------------------------------

# Format characters that reorder what a terminal shows (Trojan-source style), shown escaped.
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def visible(text: object) -> str:
    r"""`str(text)` with every character a terminal would act on instead of showing (C0 and C1
    controls such as ESC, DEL, line and paragraph separators, lone surrogates, bidirectional
    overrides) written as its Python escape; everything else, other scripts and emoji
    included, as it is.

    >>> from viz.console import visible
    >>> print(visible("\x1b]0;title\x07x"), visible("θ ∇ 日本"))
    \x1b]0;title\x07x θ ∇ 日本
    """
    text = str(text)
    if text.isprintable():
        return text
    return "".join(_visible_char(ch) for ch in text)


def _visible_char(ch: str) -> str:
    if ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp"):
        return ch.encode("unicode_escape", "backslashreplace").decode("ascii")
    return ch


# -- graph tree ---------------------------------------------------------------------------


def _number(x: float) -> str:
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return f"{x:.4g}"


def _summary_text(s: Summary) -> str:
    if not s.kept:
        return "value not kept"
    if not s.shape:
        return _number(s.numbers[0]) if s.numbers else _number(s.mean)
    if s.numbers is not None and len(s.numbers) <= 4:
        return "[" + ", ".join(_number(v) for v in s.numbers) + "]"
    return f"norm {_number(s.norm)}"


def _node_text(node: NodeInfo, ref: int | None) -> Text:
    text = Text()
    if node.kind == "op":
        text.append(visible(node.op), style="bold cyan")
        if node.label:
            text.append(f" {visible(node.label)}", style="bold")
    elif node.kind == "parameter":
        text.append(visible(node.label or "leaf"), style="bold green")
    else:
        text.append(visible(node.label or "const"), style="dim")
    if node.shape:
        text.append(f" {node.shape} {visible(node.dtype)}", style="magenta")
    text.append(f" = {_summary_text(node.value)}")
    if node.grad is not None:
        style = "red" if node.grad.nonfinite else "yellow"
        text.append(f"  grad {_summary_text(node.grad)}", style=style)
    elif not node.grad_kept:
        text.append("  grad not kept", style="dim")
    if ref is not None:
        text.append(f"  [{ref}]", style="blue")
    if node.scope:
        text.append(f"  @{visible(node.scope)}", style="dim")
    return text


def _tree_from_graph(graph: Graph, max_nodes: int, max_depth: int) -> Tree:
    children: dict[int, list[int]] = {n.id: [] for n in graph.nodes}
    uses: dict[int, int] = {n.id: 0 for n in graph.nodes}
    for edge in sorted(graph.edges, key=lambda e: (e.dst, e.index)):
        children[edge.dst].append(edge.src)
        uses[edge.src] += 1
    refs: dict[int, int] = {}  # node id -> reference number, for nodes used more than once
    shown: set[int] = set()
    root = Tree(Text("graph", style="bold"), guide_style="dim")
    roots = list(graph.outputs)
    # Explicit stack of (node id, branch to attach to, depth): no recursion over deep graphs.
    stack: list[tuple[int, Tree, int]] = [(out, root, 1) for out in reversed(roots)]
    lines, hidden = 0, 0
    while stack:
        node_id, parent, depth = stack.pop()
        if lines >= max_nodes:
            hidden += 1
            continue
        node = graph.node(node_id)
        lines += 1
        if node_id in shown:  # a shared sub-expression: drawn once, referenced afterwards
            label = Text()
            label.append("↑ ", style="blue")
            label.append(visible(node.op or node.label or node.kind), style="bold")
            label.append(f"  [{refs[node_id]}] shown above", style="blue")
            parent.add(label)
            continue
        shown.add(node_id)
        if uses[node_id] > 1 or (node_id in roots and uses[node_id]):
            refs[node_id] = len(refs) + 1
        branch = parent.add(_node_text(node, refs.get(node_id)))
        if children[node_id] and depth >= max_depth:
            branch.add(Text(f"… deeper than {max_depth} levels not shown", style="dim"))
            continue
        for child in reversed(children[node_id]):
            stack.append((child, branch, depth + 1))
    if hidden:
        root.add(Text(f"… {hidden} more lines not shown (max_nodes={max_nodes})", style="dim"))
    if len(roots) == 1:  # one output: the output itself is the root, not a "graph" heading
        only = root.children[0]
        only.children.extend(root.children[1:])
        return only
    return root


def graph_tree(output, *, max_nodes: int = 500, max_depth: int = 100) -> Tree:
    """The graph behind a Value or Tensor (or a list of them) as a `rich.tree.Tree`, output at
    the root and operands below in operand order. A node used more than once is shown in full
    the first time and tagged `[n]`; later uses are one line `↑ ... [n] shown above`.

    >>> from rich.console import Console
    >>> from tinygrad_lite import Value
    >>> from viz.console import graph_tree
    >>> a = Value(2.0, label="a")
    >>> y = a * a + 1
    >>> y.backward()
    >>> Console(width=60, color_system=None).print(graph_tree(y))
    + = 5  grad 1
    ├── * = 4  grad 1
    │   ├── a = 2  grad 4  [1]
    │   └── ↑ a  [1] shown above
    └── const = 1
    """
    for name, limit in (("max_nodes", max_nodes), ("max_depth", max_depth)):
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"graph_tree: {name} must be a positive int, got {limit!r}")
    outputs = list(output) if isinstance(output, (list, tuple)) else [output]
    if not outputs:
        raise ValueError("graph_tree: got an empty list of outputs; pass a Value or a Tensor")
    return _tree_from_graph(export_graph(*outputs), max_nodes, max_depth)


def print_tree(output, *, console: Console | None = None, **options) -> None:
    """Print `graph_tree(output, **options)` to the terminal (or to `console`).

    >>> from tinygrad_lite import Value
    >>> from viz.console import print_tree
    >>> print_tree(Value(3.0, label="x").relu())
    relu = 3
    └── x = 3
    """
    (console or Console()).print(graph_tree(output, **options))


# -- model summary ------------------------------------------------------------------------


def _shapes(output) -> str:
    """The shapes in a layer's output (a tensor, or nested tuples such as LSTM's)."""
    found: list[str] = []
    stack = [output]
    while stack:  # nested tuples of any depth, walked without recursion
        item = stack.pop()
        if isinstance(item, (tuple, list)):
            stack.extend(reversed(item))
        elif hasattr(item, "shape"):
            found.append(str(tuple(item.shape)))
        else:
            found.append(type(item).__name__)
    return ", ".join(found)


def _rows(model) -> list[tuple[str, object]]:
    """Layers to list: modules without children, plus any module that owns parameters
    directly (so every parameter is counted in exactly one row)."""
    rows = []
    for name, module in model.named_modules():
        has_children = any(True for _ in module.named_children())
        owns = any(p is not None for p in module._parameters.values())
        if not has_children or owns:
            rows.append((name or "(model)", module))
    return rows


def _own_count(module, convention: str) -> int:
    extra = module._keras_extra_parameters() if convention == "keras" else set()
    return sum(p.numel() for n, p in module._parameters.items() if p is not None and n not in extra)


def _record_shapes(model, rows, example_input) -> dict[int, tuple[str, int]]:
    from tinygrad_lite import no_grad

    seen: dict[int, tuple[str, int]] = {}

    def make_hook(key: int):
        def hook(module, inputs, output):
            calls = seen.get(key, ("", 0))[1]
            seen[key] = (_shapes(output), calls + 1)

        return hook

    handles = [module.register_forward_hook(make_hook(id(module))) for _, module in rows]
    modes = [(m, m.training) for m in model.modules()]
    args = example_input if isinstance(example_input, tuple) else (example_input,)
    try:
        model.eval()  # no dropout noise, no batch-norm statistics updates
        with no_grad():
            model(*args)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:
            module.training = training
    return seen


def summary(model, example_input=None) -> Table:
    """A table of the model's layers: name, type, output shape (when `example_input` is given;
    a tuple is passed as several arguments) and parameter count. Totals follow PyTorch's
    counting; where Keras counts differently (one bias per gate in RNN/LSTM) a Keras column and
    total are added.

    >>> from rich.console import Console
    >>> from tinygrad_lite import nn, randn
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    >>> Console(width=70, color_system=None).print(summary(model, randn(2, 3)))
            Model summary: Sequential
    ┏━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━┓
    ┃ Layer ┃ Type   ┃ Output shape ┃ Params ┃
    ┡━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━┩
    │ 0     │ Linear │ (2, 4)       │     16 │
    │ 1     │ ReLU   │ (2, 4)       │      0 │
    │ 2     │ Linear │ (2, 1)       │      5 │
    ├───────┼────────┼──────────────┼────────┤
    │ Total │        │              │     21 │
    └───────┴────────┴──────────────┴────────┘
    """
    pytorch_total = model.num_parameters("pytorch")
    keras_total = model.num_parameters("keras")
    show_keras = keras_total != pytorch_total
    rows = _rows(model)
    shapes = _record_shapes(model, rows, example_input) if example_input is not None else None

    table = Table(
        title=Text(f"Model summary: {visible(type(model).__name__)}"), title_justify="center"
    )
    table.add_column("Layer")
    table.add_column("Type")
    if shapes is not None:
        table.add_column("Output shape")
    table.add_column("Params (PyTorch)" if show_keras else "Params", justify="right")
    if show_keras:
        table.add_column("Params (Keras)", justify="right")

    for name, module in rows:
        cells = [Text(visible(name)), Text(visible(type(module).__name__))]
        if shapes is not None:
            shape, calls = shapes.get(id(module), ("not called", 0))
            cells.append(Text(visible(shape) + (f"  ×{calls}" if calls > 1 else "")))
        cells.append(Text(f"{_own_count(module, 'pytorch'):,}"))
        if show_keras:
            cells.append(Text(f"{_own_count(module, 'keras'):,}"))
        table.add_row(*cells)

    table.add_section()
    totals = [Text("Total", style="bold"), Text("")]
    if shapes is not None:
        totals.append(Text(""))
    totals.append(Text(f"{pytorch_total:,}", style="bold"))
    if show_keras:
        totals.append(Text(f"{keras_total:,}", style="bold"))
    table.add_row(*totals)
    if show_keras:
        table.caption = Text(
            "Keras keeps one bias per gate where PyTorch keeps two (bias_ih and bias_hh)"
        )
    return table


def print_summary(model, example_input=None, *, console: Console | None = None) -> None:
    """Print `summary(model, example_input)`.

    >>> from rich.console import Console
    >>> from tinygrad_lite import nn
    >>> print_summary(nn.Conv2d(3, 32, 3), console=Console(width=60, color_system=None))
        Model summary: Conv2d
    ┏━━━━━━━━━┳━━━━━━━━┳━━━━━━━━┓
    ┃ Layer   ┃ Type   ┃ Params ┃
    ┡━━━━━━━━━╇━━━━━━━━╇━━━━━━━━┩
    │ (model) │ Conv2d │    896 │
    ├─────────┼────────┼────────┤
    │ Total   │        │    896 │
    └─────────┴────────┴────────┘
    """
    (console or Console()).print(summary(model, example_input))


# -- gradient norms through time ----------------------------------------------------------

_BAR = "█"


def _series(norms) -> dict[str, list[float]]:
    if isinstance(norms, Mapping):
        return {str(name): [float(v) for v in values] for name, values in norms.items()}
    return {"grad norm": [float(v) for v in norms]}


def gradient_norms_table(
    norms: Sequence[float] | Mapping[str, Sequence[float]],
    *,
    title: str | None = "Gradient norm per time step",
    step_name: str = "t",
    bar_width: int = 20,
) -> Table:
    """A table with one row per time step and, for each series (e.g. "RNN" and "LSTM"), the
    gradient norm and a bar on a log scale shared by all series, so a gradient that vanishes
    through time is visible at a glance. The caption gives each series' ratio of the first
    step's norm to the last step's. NaN and Inf are shown in red; a missing step as "-".

    >>> from rich.console import Console
    >>> from viz.console import gradient_norms_table
    >>> table = gradient_norms_table({"RNN": [1e-4, 1e-2, 1.0]}, bar_width=4, title=None)
    >>> Console(width=60, color_system=None).print(table)
    ┏━━━┳━━━━━━━━━━━━━━━━┓
    ┃ t ┃ RNN            ┃
    ┡━━━╇━━━━━━━━━━━━━━━━┩
    │ 0 │ 1.000e-04 ▏    │
    │ 1 │ 1.000e-02 ██   │
    │ 2 │ 1.000e+00 ████ │
    └───┴────────────────┘
      t=0 / t=2: RNN 1e-04
    """
    series = _series(norms)
    positive = [v for vs in series.values() for v in vs if math.isfinite(v) and v > 0]
    low = math.log10(min(positive)) if positive else 0.0
    high = math.log10(max(positive)) if positive else 0.0
    steps = max((len(vs) for vs in series.values()), default=0)

    def bar(v: float) -> str:
        if not (math.isfinite(v) and v > 0):
            return ""
        span = high - low
        fraction = 1.0 if span == 0 else (math.log10(v) - low) / span
        filled = round(fraction * bar_width)
        return _BAR * filled if filled else "▏"  # the smallest norm still shows a mark

    table = Table(title=Text(visible(title)) if title else None)
    table.add_column(Text(visible(step_name)), justify="right")
    for name in series:
        table.add_column(Text(visible(name)))
    for t in range(steps):
        cells = [Text(str(t))]
        for values in series.values():
            if t >= len(values):
                cells.append(Text("-", style="dim"))
            elif not math.isfinite(values[t]):
                cells.append(Text(str(values[t]), style="bold red"))
            else:
                cell = Text(f"{values[t]:.3e} ")
                cell.append(bar(values[t]).ljust(bar_width), style="cyan")
                cells.append(cell)
        table.add_row(*cells)
    ratios = []
    for name, values in series.items():
        if (
            len(values) >= 2
            and math.isfinite(values[0])
            and values[-1]
            and math.isfinite(values[-1])
        ):
            ratios.append(f"{visible(name)} {values[0] / values[-1]:.0e}")
    if ratios and steps >= 2:
        step = visible(step_name)
        table.caption = Text(f"{step}=0 / {step}={steps - 1}: " + ", ".join(ratios))
    return table


def print_gradient_norms(norms, *, console: Console | None = None, **options) -> None:
    """Print `gradient_norms_table(norms, **options)`.

    >>> from rich.console import Console
    >>> print_gradient_norms([0.5, 1.0], console=Console(width=60, color_system=None))
         Gradient norm per time step
    ┏━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
    ┃ t ┃ grad norm                      ┃
    ┡━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
    │ 0 │ 5.000e-01 ▏                    │
    │ 1 │ 1.000e+00 ████████████████████ │
    └───┴────────────────────────────────┘
          t=0 / t=1: grad norm 5e-01
    """
    (console or Console()).print(gradient_norms_table(norms, **options))
