"""Exported graph -> `graphviz.Digraph`: data nodes as tables, ops as ellipses, scopes as
(nested) clusters, folding of scopes into boxes, and the layout settings that keep big graphs fast.

It reads only `tinygrad_lite.graph.export_graph`'s plain description, never engine objects, and
writes the DOT text itself (one f-string per node and edge) because the `graphviz` package's
per-attribute quoting is too slow for 10,000-node graphs. All user text goes through
`viz.escape.label_text` (escaped, and cut with an ellipsis where Graphviz's label limit
would reject the drawing) into HTML-like labels; node names are generated (`n12`), never user text.
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import graphviz

from tinygrad_lite.graph import Graph, NodeInfo, Summary, export_graph
from tinygrad_lite.safe_io import write_file

from . import style
from .escape import clip_text, format_number, label_text

__all__ = ["Drawing", "draw", "save", "to_dot"]

DIRECTIONS = ("LR", "RL", "TB", "BT")
# Above this many DOT nodes the layout switches to the fast settings (straight edges, bounded
# network-simplex iterations): curved splines and unbounded ranking are what make dot slow.
FAST_LAYOUT_FROM = 300
FAST_LAYOUT = (
    "graph [splines=polyline, nslimit=0.2, nslimit1=0.2, mclimit=0.05, remincross=false, "
    "searchsize=10]"
)
# A node used more often than this is drawn once per use (a reference copy next to each user):
# in the fast layout, and (less eagerly) in small drawings, where its edges would tangle.
FANOUT_PROXY = 3
FANOUT_PROXY_SMALL = 8
SAFE_LAYOUT = "graph [splines=polyline, mclimit=0.05, remincross=false, searchsize=10]"


class Drawing(graphviz.Digraph):
    """A `graphviz.Digraph` that retries without `nslimit` when dot's bounded ranking fails
    ("trouble in init_rank"), which it occasionally does on large graphs, and whose `save` and
    `render` write through `tinygrad_lite.safe_io` (never replacing a file unless
    `overwrite=True`), where graphviz's own would silently overwrite, through symlinks."""

    def _drop_fast_layout(self) -> bool:
        line = "\t" + FAST_LAYOUT + "\n"
        if line not in self.body:
            return False
        self.body[self.body.index(line)] = "\t" + SAFE_LAYOUT + "\n"
        return True

    def _retry(self, call, *args, **kwargs):
        try:
            return call(*args, **kwargs)
        except graphviz.CalledProcessError as err:
            stderr = (
                err.stderr.decode(errors="replace")
                if isinstance(err.stderr, bytes)
                else str(err.stderr)
            )
            if "init_rank" not in stderr or not self._drop_fast_layout():
                raise
            return call(*args, **kwargs)

    def pipe(self, *args, **kwargs):  # noqa: D102 - graphviz's own documentation applies
        return self._retry(super().pipe, *args, **kwargs)

    def save(self, filename=None, directory=None, *, skip_existing=False, overwrite=False):
        """graphviz's `save` (the DOT source to `filename`, `self.filepath` by default), written
        through `tinygrad_lite.safe_io`: an existing file (a dangling symlink included) raises
        FileExistsError unless `overwrite=True`; returns the path."""
        if filename is not None:
            self.filename = filename
        if directory is not None:
            self.directory = directory
        path = Path(self.filepath)
        if skip_existing and os.path.lexists(path):
            return str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, self.source.encode(self.encoding or "utf-8"), overwrite=overwrite)
        return str(path)

    def render(
        self,
        filename=None,
        directory=None,
        view: bool = False,
        cleanup: bool = False,
        format: str | None = None,
        renderer: str | None = None,
        formatter: str | None = None,
        neato_no_op=None,
        quiet: bool = False,
        quiet_view: bool = False,
        *,
        outfile=None,
        engine: str | None = None,
        overwrite: bool = False,
        raise_if_result_exists: bool = False,
        overwrite_source: bool = False,
        _call: str = "render",
    ) -> str:
        """graphviz's `render`, with its file names (the source at `filename`, the result at
        `filename.<format>` or `outfile`), but written through `tinygrad_lite.safe_io`:
        neither file replaces anything (a dangling symlink included; both are checked before
        either is written) unless `overwrite=True`. Returns the path of the rendered file.
        (`raise_if_result_exists` is always in effect; `overwrite_source` is not needed.)"""
        if outfile is not None:
            outfile = Path(outfile)
            format = format or outfile.suffix.lstrip(".") or None
            if directory is None:
                outfile = Path(self.directory, outfile)
            if filename is None:
                filename = outfile.with_suffix(".gv").name
                directory = directory if directory is not None else outfile.parent
        if filename is not None:
            self.filename = filename
        if directory is not None:
            self.directory = directory
        fmt = format or self.format
        source = Path(self.filepath)
        parts = [formatter, renderer, fmt]  # graphviz's order: y.cairo.png, not y.png.cairo
        result = outfile or Path(f"{source}." + ".".join(p for p in parts if p))
        if not overwrite:
            existing = [str(p) for p in ([result] if cleanup else [source, result])]
            existing = [p for p in existing if os.path.lexists(p)]
            if existing:
                raise FileExistsError(
                    f"{_call}: {', '.join(existing)} already exist(s); call "
                    f"{_call}(..., overwrite=True) to replace them, or choose another name"
                )
        data = self.pipe(
            format=fmt,
            renderer=renderer,
            formatter=formatter,
            neato_no_op=neato_no_op,
            quiet=quiet,
            engine=engine,
        )
        if not cleanup:
            self.save(overwrite=overwrite)
        result.parent.mkdir(parents=True, exist_ok=True)
        write_file(result, data, overwrite=overwrite)
        if view or quiet_view:
            self._view(result, format=fmt, quiet=quiet_view)
        return str(result)

    def view(
        self,
        filename=None,
        directory=None,
        cleanup: bool = False,
        quiet: bool = False,
        quiet_view: bool = False,
        *,
        overwrite: bool = False,
    ) -> str:
        """graphviz's `view` (render, then open the result in a viewer), written through
        `tinygrad_lite.safe_io` as `render`: pass `overwrite=True` to view the same name again
        (the files of the previous view are then replaced)."""
        return self.render(
            filename=filename,
            directory=directory,
            view=True,
            cleanup=cleanup,
            quiet=quiet,
            quiet_view=quiet_view,
            overwrite=overwrite,
            _call="view",
        )


@dataclass
class _Layout:
    """Which scopes are folded into boxes and which items (nodes or boxes) are shown."""

    fold_root: dict  # scope path -> the folded scope that contains it, or None
    folded: list  # folded scope paths that are drawn as boxes
    kept: set | None  # items kept after truncation (None: all)
    hidden: int
    auto_folded: int


def _parent_scope(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _all_scopes(graph: Graph) -> list[str]:
    """Every scope path and all its prefixes, parents before children."""
    paths = set()
    for scope in {n.scope for n in graph.nodes if n.scope}:
        while scope and scope not in paths:
            paths.add(scope)
            scope = _parent_scope(scope)
    return sorted(paths, key=lambda p: (p.count("/"), p))


def _fold_roots(scopes: list[str], folded: set) -> dict:
    """scope -> its outermost folded ancestor-or-self (None when not inside a folded scope)."""
    root: dict = {"": None}
    for path in scopes:  # parents come first, so the parent's answer is ready
        up = root[_parent_scope(path)]
        root[path] = up if up is not None else (path if path in folded else None)
    return root


def _plan(graph: Graph, collapse: Sequence[str], max_nodes: int) -> _Layout:
    scopes = _all_scopes(graph)
    folded = {p for p in scopes if any(fnmatch.fnmatchcase(p, pat) for pat in collapse)}
    root = _fold_roots(scopes, folded)

    def visible_count() -> int:
        boxes = {root[p] for p in scopes if root[p] is not None}
        return sum(1 for n in graph.nodes if root[n.scope] is None) + len(boxes)

    visible = visible_count()
    auto = 0
    if visible > max_nodes:
        # Fold deepest scopes first (largest first within a depth). When a scope is folded all
        # deeper scopes already are, so what it hides is its own nodes plus one box per child.
        direct = dict.fromkeys(scopes, 0)
        for n in graph.nodes:
            if n.scope:
                direct[n.scope] += 1
        children = dict.fromkeys(scopes, 0)
        for p in scopes:
            if "/" in p:
                children[_parent_scope(p)] += 1
        candidates = [p for p in scopes if root[p] is None]
        candidates.sort(key=lambda p: (-p.count("/"), -direct[p], p))
        for path in candidates:
            if visible <= max_nodes:
                break
            folded.add(path)
            auto += 1
            visible -= direct[path] + children[path] - 1
        root = _fold_roots(scopes, folded)
        visible = visible_count()
    kept, hidden = None, 0
    if visible > max_nodes:
        kept = _nearest_items(graph, root, max_nodes)
        hidden = visible - len(kept)
    boxes = sorted({root[p] for p in scopes if root[p] is not None})
    return _Layout(root, boxes, kept, hidden, auto)


def _item(node: NodeInfo, root: dict):
    box = root[node.scope]
    return node.id if box is None else ("box", box)


def _nearest_items(graph: Graph, root: dict, limit: int) -> set:
    """The `limit` items closest to the outputs, breadth first along operand edges."""
    item_of = {n.id: _item(n, root) for n in graph.nodes}
    operands: dict = {}
    for e in graph.edges:
        a, b = item_of[e.src], item_of[e.dst]
        if a != b:
            operands.setdefault(b, []).append(a)
    kept: set = set()
    queue = deque()
    for out in graph.outputs:
        if item_of[out] not in kept and len(kept) < limit:
            kept.add(item_of[out])
            queue.append(item_of[out])
    while queue and len(kept) < limit:
        for a in operands.get(queue.popleft(), ()):
            if a not in kept:
                kept.add(a)
                queue.append(a)
                if len(kept) >= limit:
                    break
    return kept


# ------------------------------------------------------------------------------------------
# Labels
# ------------------------------------------------------------------------------------------


def _nonfinite_word(s: Summary) -> str:
    if s.numbers is None:
        return "NaN/Inf"
    has_nan = any(math.isnan(v) for v in s.numbers)
    has_inf = any(math.isinf(v) for v in s.numbers)
    return "NaN" if has_nan and not has_inf else "Inf" if has_inf and not has_nan else "NaN/Inf"


def _numbers_html(s: Summary) -> str:
    """All numbers of a small array, one matrix row per line."""
    nums = [format_number(v) for v in s.numbers]
    if len(s.shape) < 2:
        return "[" + ", ".join(nums) + "]" if s.shape else nums[0]
    width = s.shape[-1]
    if width == 0:
        return "[]"
    rows = [" ".join(nums[i : i + width]) for i in range(0, len(nums), width)]
    return "<BR/>".join(rows)


def _value_html(s: Summary) -> str:
    if not s.kept:  # released after the forward pass (tinygrad_lite.set_interior_value_limit)
        return "value not kept"
    if s.numbers is not None:
        return _numbers_html(s)
    return f"mean {format_number(s.mean)}<BR/>[{format_number(s.min)}, {format_number(s.max)}]"


def _grad_html(node: NodeInfo) -> str:
    g = node.grad
    if g is None:
        # "-": backward has not reached the node; "not kept": it did, on a graph too large
        # to keep interior gradients (tinygrad_lite.set_interior_grad_limit).
        return "grad: -" if node.grad_kept else "grad: not kept"
    if node.is_scalar:
        return f"grad {format_number(g.numbers[0])}"
    if g.numbers is not None and len(g.numbers) <= 4:
        return "grad " + _numbers_html(g)
    return f"‖grad‖ {format_number(g.norm)}"


def _data_label(
    node: NodeInfo, values: bool, grads: bool, is_output: bool, op: str | None = None
) -> str:
    bad = node.value.nonfinite or (node.grad is not None and node.grad.nonfinite)
    kind = style.NONFINITE if bad else style.KIND_STYLES["output" if is_output else node.kind]
    cells = []
    if node.label:
        cells.append(f"<B>{label_text(node.label)}</B>")
    if not node.is_scalar:
        shape = "×".join(str(d) for d in node.shape) or "scalar"
        cells.append(f'<FONT POINT-SIZE="8">{shape} {label_text(node.dtype)}</FONT>')
    if values:
        prefix = "data " if node.is_scalar else ""
        cells.append(prefix + _value_html(node.value))
    if grads and node.kind != "constant":  # constants never receive a gradient
        cells.append(_grad_html(node))
    if bad:
        where = node.value if node.value.nonfinite else node.grad
        which = "" if node.value.nonfinite else "grad "
        cells.append(
            f'<FONT COLOR="{style.NONFINITE.border}"><B>{which}{_nonfinite_word(where)}</B></FONT>'
        )
    if not cells:
        cells.append(label_text(node.op or node.kind))
    tds = "".join(f"<TD>{c}</TD>" for c in cells)
    if op:  # the compact form: the op that made the node is its first cell
        tds = f'<TD BGCOLOR="{style.OP_FILL}"><I>{label_text(op)}</I></TD>' + tds
    return (
        f'<<TABLE BORDER="{kind.width}" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4" '
        f'COLOR="{kind.border}" BGCOLOR="{kind.fill}"><TR>{tds}</TR></TABLE>>'
    )


def _clipped(title: str | None) -> str | None:
    return None if title is None else clip_text(title)


def _box_label(path: str, count: int) -> str:
    return (
        f'<<TABLE BORDER="0" CELLPADDING="2"><TR><TD><B>{label_text(path)}</B></TD></TR>'
        f'<TR><TD><FONT POINT-SIZE="9">{count} nodes (folded)</FONT></TD></TR></TABLE>>'
    )


# ------------------------------------------------------------------------------------------
# DOT
# ------------------------------------------------------------------------------------------


def to_dot(
    graph: Graph,
    *,
    values: bool = True,
    grads: bool = True,
    direction: str = "LR",
    backward: bool = False,
    collapse: Iterable[str] | str | None = None,
    max_nodes: int = 2000,
    title: str | None = None,
) -> Drawing:
    """Draw an already exported graph (see `draw` for the arguments).

    >>> from tinygrad_lite import Value
    >>> from tinygrad_lite.graph import export_graph
    >>> a = Value(2.0, label="a")
    >>> src = to_dot(export_graph(a * a)).source
    >>> src.count("->")  # a -> * twice (operands 0 and 1), * -> result once
    3
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"viz.draw: direction must be one of {DIRECTIONS}, got {direction!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"viz.draw: max_nodes must be a positive int, got {max_nodes!r}")
    if collapse is None:
        patterns: list[str] = []
    elif isinstance(collapse, str):
        patterns = [collapse]
    else:
        patterns = [str(p) for p in collapse]

    plan = _plan(graph, patterns, max_nodes)
    root, kept = plan.fold_root, plan.kept
    outputs = set(graph.outputs)
    n_operands: dict = {}
    uses: dict = {}
    for e in graph.edges:
        n_operands[e.dst] = n_operands.get(e.dst, 0) + 1
        uses[e.src] = uses.get(e.src, 0) + 1

    box_name = {path: f"f{i}" for i, path in enumerate(plan.folded)}
    box_count = dict.fromkeys(plan.folded, 0)
    # Where each item's DOT node sits: the cluster of its scope (a box sits in its parent's).
    members: dict = {}  # cluster path -> DOT lines
    shown = [n for n in graph.nodes if root[n.scope] is None and (kept is None or n.id in kept)]
    for n in graph.nodes:
        if root[n.scope] is not None:
            box_count[root[n.scope]] += 1
    n_boxes = len(plan.folded) if kept is None else sum(("box", p) in kept for p in plan.folded)
    # Big graphs get the fast layout, and their ops are a cell of the result's table rather than
    # a separate ellipse: half the nodes for dot to place.
    fast = len(shown) + sum(n.kind == "op" for n in shown) + n_boxes >= FAST_LAYOUT_FROM
    for n in shown:
        lines = members.setdefault(n.scope, [])
        label = _data_label(n, values, grads, n.id in outputs, n.op if fast else None)
        lines.append(f"n{n.id} [shape=plain, label={label}]")
        if n.kind == "op" and not fast:
            lines.append(f"n{n.id}op [label=<{label_text(n.op)}>]")
    shown_ids = {n.id for n in shown}
    for path in plan.folded:
        if kept is not None and ("box", path) not in kept:
            continue
        members.setdefault(_parent_scope(path), []).append(
            f'{box_name[path]} [shape=box, style="rounded,filled", '
            f'fillcolor="{style.FOLDED_FILL}", '
            f"fontsize=10, label={_box_label(path, box_count[path])}]"
        )

    scale = None
    grad_norm: dict = {}
    if backward:
        for n in graph.nodes:
            grad_norm[n.id] = None if n.grad is None else n.grad.norm
        scale = style.GradScale(v for v in grad_norm.values() if v is not None)

    def end_name(node_id: int, as_operand: bool) -> str | None:
        node = graph.node(node_id)
        box = root[node.scope]
        if box is not None:
            return box_name[box] if kept is None or ("box", box) in kept else None
        if node_id not in shown_ids:
            return None
        return f"n{node_id}" if as_operand or fast else f"n{node_id}op"

    def edge_attrs(norm, extra: str) -> str:
        if scale is None:
            return f" [{extra}]" if extra else ""
        parts = [f'color="{scale.color(norm)}"', f"penwidth={scale.width(norm)}", "dir=back"]
        if extra:
            parts.append(extra)
        return " [" + ", ".join(parts) + "]"

    index_attr = "headlabel" if fast else "label"
    edges: list[str] = []
    seen_box_edges: set = set()
    for n in shown:
        if n.kind == "op" and not fast:
            edges.append(f"n{n.id}op -> n{n.id}" + edge_attrs(grad_norm.get(n.id), ""))
    for e in graph.edges:
        a, b = end_name(e.src, True), end_name(e.dst, False)
        if a is None or b is None or a == b:
            continue
        norm = grad_norm.get(e.src)
        if a[0] == "f" or b[0] == "f":
            if (a, b) in seen_box_edges:
                continue
            seen_box_edges.add((a, b))
            edges.append(f"{a} -> {b}" + edge_attrs(norm, ""))
        else:
            if uses[e.src] > (FANOUT_PROXY if fast else FANOUT_PROXY_SMALL):
                # A node feeding many others (a weight shared by every time step) would draw
                # edges across thousands of ranks, which is what makes dot slow; it gets a
                # small reference copy next to each consumer instead.
                src = graph.node(e.src)
                a = f"r{e.src}x{e.dst}x{e.index}"
                members[graph.node(e.dst).scope].append(
                    f'{a} [shape=box, style="dashed,rounded", fontsize=8, color="#888888", '
                    f"fillcolor=white, label=<{label_text(src.label or src.op or src.kind)} "
                    f"#{e.src}>]"
                )
            extra = ""
            if n_operands.get(e.dst, 0) > 1:
                # Mid-edge labels read best but cost layout time; big graphs get head labels.
                extra = f'{index_attr}="{e.index}"'

            edges.append(f"{a} -> {b}" + edge_attrs(norm, extra))

    notes = []
    if plan.auto_folded:
        notes.append(
            f"{plan.auto_folded} scope(s) folded automatically to stay under "
            f"max_nodes={max_nodes} ({len(graph.nodes)} nodes in the graph)"
        )
    if plan.hidden:
        notes.append(
            f"showing the {len(kept)} items nearest the output; {plan.hidden} hidden "
            f"(max_nodes={max_nodes})"
        )
    if backward:
        notes.append(
            "gradient flow: arrows point from each node to the inputs its gradient reaches"
        )

    body = [
        f'graph [rankdir={direction}, fontname="{style.FONT}", nodesep=0.25, ranksep=0.35, '
        f"labelloc=t, label={style.legend_html(_clipped(title), notes, scale)}]",
        # Defaults are the op ellipse's; data nodes and boxes say `shape=...` themselves.
        f'node [fontname="{style.FONT}", fontsize=9, shape=ellipse, style=filled, '
        f'fillcolor="{style.OP_FILL}", color="{style.OP_BORDER}", margin="0.04,0.02", '
        "width=0.3, height=0.25]",
        f'edge [fontname="{style.FONT}", fontsize=8, labelfontsize=8, labelfontcolor="#666666", '
        f'arrowsize=0.6, color="#555555"]',
    ]
    if fast:
        body.append(FAST_LAYOUT)
    body.extend(_cluster_lines(members, graph))
    body.extend(edges)
    return Drawing(body=["\t" + line + "\n" for line in body])


def _cluster_lines(members: dict, graph: Graph) -> list[str]:
    """Node lines nested in `subgraph cluster_*` blocks, one per scope, without recursion.

    Sorting scope paths by their components lists every scope right before its sub-scopes,
    so a stack of open clusters is enough to nest them."""
    scopes = set()
    for path in members:
        while path:
            scopes.add(path)
            path = _parent_scope(path)
    order = sorted(scopes, key=lambda p: p.split("/"))
    lines = list(members.get("", ()))
    stack: list[str] = []
    for i, path in enumerate(order):
        while stack and not path.startswith(stack[-1] + "/"):
            stack.pop()
            lines.append("}")
        depth = len(stack)
        fill = style.CLUSTER_FILLS[min(depth, len(style.CLUSTER_FILLS) - 1)]
        name = path.rsplit("/", 1)[-1]
        lines.append(
            f'subgraph cluster_{i} {{ label=<{label_text(name)}>; style="rounded,filled"; '
            f'fillcolor="{fill}"; color="#b8c4d6"; fontsize=10; labeljust=l;'
        )
        lines.extend(members.get(path, ()))
        stack.append(path)
    lines.extend("}" for _ in stack)
    return lines


def draw(
    output,
    *,
    values: bool = True,
    grads: bool = True,
    direction: str = "LR",
    backward: bool = False,
    collapse: Iterable[str] | str | None = None,
    max_nodes: int = 2000,
    title: str | None = None,
) -> graphviz.Digraph:
    """Draw the graph behind a `Value`, a `Tensor` or a list of them.

    Data nodes are tables (label | data | grad for scalars; label | shape dtype | values |
    gradient for tensors), ops are ellipses, scopes are clusters. `backward=True` draws the
    gradient flow (arrows reversed, colour and width from the gradient norm), `collapse` folds
    scopes matching fnmatch patterns into boxes, and above `max_nodes` scopes fold
    automatically (then the farthest nodes are hidden). The result shows inline in Jupyter and
    renders with `.render()` / `.pipe()`.

    >>> from tinygrad_lite import Value
    >>> import viz
    >>> x = Value(3.0, label="x")
    >>> y = (x * x).sqrt()
    >>> y.backward()
    >>> dot = viz.draw(y)
    >>> "sqrt" in dot.source and "grad 1" in dot.source
    True
    """
    outputs = list(output) if isinstance(output, (list, tuple)) else [output]
    if not outputs:
        raise ValueError("viz.draw: got an empty list of outputs; pass a Value or a Tensor")
    from tinygrad_lite import Tensor, Value

    for i, out in enumerate(outputs):
        if not isinstance(out, (Value, Tensor)):
            raise TypeError(
                f"viz.draw: output {i} is a {type(out).__name__}; expected a tinygrad_lite "
                "Value or Tensor (or a list of them)"
            )
    return to_dot(
        export_graph(*outputs),
        values=values,
        grads=grads,
        direction=direction,
        backward=backward,
        collapse=collapse,
        max_nodes=max_nodes,
        title=title,
    )


def save(
    drawing: graphviz.Digraph,
    stem: str | os.PathLike,
    formats: Sequence[str] = ("dot", "svg"),
    *,
    overwrite: bool = False,
) -> list[Path]:
    """Write `drawing` to `stem.<format>` for each format ("dot" is the DOT source; others are
    rendered by Graphviz). Returns the paths written.

    Existing files (a dangling symlink included) are never replaced unless `overwrite=True`
    (checked for every format before anything is written, and again, atomically, as each file
    is published through `tinygrad_lite.safe_io.write_file`). Formats are written in order, so
    with "dot" first the DOT file is there even when Graphviz's `dot` is missing
    (`graphviz.ExecutableNotFound` is then raised at the first rendered format).

    >>> import tempfile, os
    >>> from tinygrad_lite import Value
    >>> stem = os.path.join(tempfile.mkdtemp(), "g")
    >>> [p.name for p in save(draw(Value(1.0) * 2), stem, ["dot"])]
    ['g.dot']
    """
    stem = Path(stem)
    paths = [stem.with_name(f"{stem.name}.{fmt}") for fmt in formats]
    if not overwrite:
        # lexists: a dangling symlink is something too (writing through it would create a
        # file wherever it points). write_file checks again, atomically, at each write.
        existing = [str(p) for p in paths if os.path.lexists(p)]
        if existing:
            raise FileExistsError(
                f"viz.save: {', '.join(existing)} already exist(s); pass overwrite=True to "
                "replace them or choose another name"
            )
    written = []
    for fmt, path in zip(formats, paths):
        data = drawing.source if fmt == "dot" else drawing.pipe(format=fmt)
        write_file(path, data, overwrite=overwrite)
        written.append(path)
    return written
