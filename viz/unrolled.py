"""The unrolled drawing of a recurrent graph: one column per time step, one row per role.

A recurrent graph has a structure Graphviz cannot see but the scopes spell out (viz.timeline):
every node belongs to a layer, a direction and a time step. So this module computes every
position itself (column = time step, row = role: input x_t at the bottom, then per layer and
direction the weight reference, the cell, the cell state c_t and the hidden state h_t, then
outputs and losses on top) and Graphviz only draws them (`layout=nop2`, i.e. `neato -n2`: no
layout search, so a 1,000-step graph draws in about a second).

Shared weights are what tangles a naive drawing. By default (`weights="per-step"`) each column
holds a small reference to the weights its step reads, with no edge across steps, and a panel
under the steps lists each shared parameter once with one bar per step: that step's
contribution to dL/dW, read from the backward events (`tinygrad_lite.graph.trace_backward`).
`weights="once"` draws each weight once with one edge per step, labelled with its t.

After a backward pass the drawing is a gradient-flow picture: edges point backwards, their width
and colour give the norm of the gradient they carried (one log-scale legend), every h_t shows
||dL/dh_t||, a `detach()` between steps is a dashed cut that no gradient crosses, and long
sequences fold their middle steps ("... 180 steps ...").

Every drawn item and edge has a stable id, also the `id` of its `<g>` element in the SVG, so a
page or a frame restyles the drawing by id without running Graphviz again (`UnrolledLayout`).
"""

from __future__ import annotations

import html
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

import graphviz
import numpy as np

from tinygrad_lite.graph import BackwardTrace, Edge, Graph, NodeInfo, Summary, export_graph

from . import style
from .escape import format_number, html_text
from .timeline import cell_states, children_of, hidden_states, step_nodes, time_places

__all__ = ["UnrolledDrawing", "UnrolledLayout", "draw_unrolled", "layout_unrolled"]

LEVELS = ("cell", "gate", "op")
WEIGHT_MODES = ("per-step", "once")
MAX_COLUMNS = 40  # more shown steps than this fold the middle ones
KEEP_EACH_SIDE = 10  # steps kept at each end when folding
PT_PER_CHAR = 0.56  # average Helvetica glyph width, in font sizes
ID_SAFE = re.compile(r"[^A-Za-z0-9_]")
LSTM_GATE_NAMES = (("i", "input"), ("f", "forget"), ("g", "candidate"), ("o", "output"))
GRU_GATE_NAMES = (("r", "reset"), ("z", "update"), ("n", "candidate"))
BAR_MAX = 34.0  # tallest weight-panel bar, points
CUT_COLOR = "#c0392b"
# Ops that only rearrange weights (joins, transposes, summed biases): inside a step such an op
# on weights alone is part of the weights, and a gradient sent to it splits back exactly.
PREP_OPS = frozenset(
    {"cat", "permute", "contiguous", "clone", "reshape", "view", "squeeze", "unsqueeze", "+", "-"}
)
FORWARD_EDGE = "#7a7a7a"


# ---------------------------------------------------------------------------------------------
# Drawn items and edges
# ---------------------------------------------------------------------------------------------


@dataclass
class Item:
    """One drawn node: its id (also the SVG `<g>` id), role, centre (points, y up), HTML-like
    label, Graphviz attributes, time step (None outside the steps) and size estimate."""

    id: str
    kind: str
    x: float
    y: float
    label: str
    attrs: dict = field(default_factory=dict)
    step: int | None = None
    width: float = 40.0
    height: float = 20.0


@dataclass
class DrawnEdge:
    """One drawn edge: the engine edges it carries, the gradient norm it carried back (None
    when no gradient went along it) and its Graphviz attributes."""

    id: str
    src: str
    dst: str
    kind: str
    engine: list = field(default_factory=list)
    label: str | None = None
    norm: float | None = None
    attrs: dict = field(default_factory=dict)


@dataclass
class UnrolledLayout:
    """A laid-out unrolled graph: items and edges with pinned positions, and the maps a frame
    (or a page) needs to restyle them by id.

    - `item_of_node`: engine node id -> id of the item that shows it (a folded node maps to its
      cell box; a node not shown, e.g. in a folded step, is absent);
    - `edge_of`: engine edge (src, dst, index) -> id of the drawn edge carrying it;
    - `step_of_item`: item id -> time step (None outside the steps); `steps`: the columns shown;
    - `contributions`: parameter name -> {t: ||that step's part of dL/dW||} (empty without a
      backward trace that kept its arrays), `state_grads`: stack -> {t: ||dL/dh_t||}.
    """

    items: dict
    edges: dict
    item_of_node: dict
    edge_of: dict
    step_of_item: dict
    steps: list
    title: str
    level: str
    weights: str
    gradient_flow: bool
    folded: list = field(default_factory=list)
    contributions: dict = field(default_factory=dict)
    contribution_arrays: dict = field(default_factory=dict, repr=False)
    param_names: dict = field(default_factory=dict)
    state_grads: dict = field(default_factory=dict)
    cuts: list = field(default_factory=list)
    _svg: str | None = field(default=None, repr=False)

    def to_dot(self, styles: dict | None = None) -> str:
        """The DOT text (positions pinned, `layout=nop2`). `styles` maps item or edge ids to
        Graphviz attributes that override the drawing's own (a frame's highlight)."""
        styles = styles or {}
        lines = [
            "digraph unrolled {",
            '\tgraph [layout=nop2, splines=line, outputorder=edgesfirst, bgcolor="#ffffff", '
            f'pad="0.3", id="unrolled", fontname="{style.FONT}"]',
            f'\tnode [fontname="{style.FONT}", fontsize=9, shape=plaintext, margin="0.02"]',
            f'\tedge [fontname="{style.FONT}", fontsize=8, arrowsize=0.6, color="{FORWARD_EDGE}"]',
        ]
        for item in self.items.values():
            attrs = {**item.attrs, **styles.get(item.id, {})}
            extra = "".join(f", {k}={_quote(v)}" for k, v in attrs.items())
            lines.append(
                f'\t{item.id} [id="{item.id}", class="{item.kind}", '
                f'pos="{item.x:.1f},{item.y:.1f}!", label={item.label}{extra}]'
            )
        for edge in self.edges.values():
            attrs = {k: v for k, v in edge.attrs.items() if not k.startswith("_")}
            at = edge.attrs.get("_label_at")
            if edge.label and at == "head":
                attrs["headlabel"] = edge.label
            elif edge.label and at != "hidden":
                attrs["label"] = edge.label
            attrs.update(styles.get(edge.id, {}))
            extra = "".join(f", {k}={_quote(v)}" for k, v in attrs.items())
            lines.append(f'\t{edge.src} -> {edge.dst} [id="{edge.id}", class="{edge.kind}"{extra}]')
        lines.append("}")
        return "\n".join(lines) + "\n"

    def svg(self) -> str:
        """The SVG, rendered once by Graphviz and cached: restyle it by element id."""
        if self._svg is None:
            self._svg = graphviz.Source(self.to_dot()).pipe(format="svg", encoding="utf-8")
        return self._svg


def _quote(value) -> str:
    text = str(value)
    if text.startswith("<") and text.endswith(">"):
        return text  # an HTML-like label, already escaped
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class UnrolledDrawing(graphviz.Source):
    """What `draw_unrolled` returns: a Graphviz source (Jupyter shows it, `viz.save` writes it,
    `.pipe(format="png")` renders it) holding its `layout` (ids, positions, per-step numbers).
    The SVG is rendered once and cached."""

    def __init__(self, layout: UnrolledLayout):
        super().__init__(layout.to_dot())
        self.layout = layout

    def pipe(self, format=None, *args, **kwargs):  # noqa: A002, D102
        if (format or self.format) == "svg" and not args and set(kwargs) <= {"encoding"}:
            svg = self.layout.svg()
            return svg if kwargs.get("encoding") else svg.encode("utf-8")
        return super().pipe(format, *args, **kwargs)


# ---------------------------------------------------------------------------------------------
# Small helpers: ids, text sizes, labels
# ---------------------------------------------------------------------------------------------


def _attr_text(text: str) -> str:
    """User text for a quoted DOT attribute (a tooltip): XML-escaped, as Graphviz copies it
    into the SVG, and without the backslash escapes Graphviz would expand."""
    return html.escape(str(text), quote=True).replace("\\", "\\\\")


def _sid(text: str) -> str:
    return ID_SAFE.sub("_", text)


def _text_width(lines: list[str], size: float) -> float:
    return max((len(s) for s in lines), default=1) * size * PT_PER_CHAR + 10


def _norm(s: Summary | None) -> str:
    if s is None:
        return "-"
    if s.nonfinite:
        return "NaN/Inf"
    return format_number(s.norm, 3)


def _short_value(s: Summary) -> str:
    if not s.kept:
        return "not kept"
    if s.numbers is not None and len(s.numbers) <= 3:
        return "[" + ", ".join(format_number(v, 3) for v in s.numbers) + "]"
    return f"‖·‖ {_norm(s)}"


def _label(title: str, lines: list[tuple[str, str]], *, border: str, fill: str, bw: int = 1):
    """An HTML-like table label: a bold title (already HTML) and lines of (html, colour)."""
    rows = [f"<TR><TD>{title}</TD></TR>"]
    for text, color in lines:
        rows.append(f'<TR><TD><FONT POINT-SIZE="8" COLOR="{color}">{text}</FONT></TD></TR>')
    return (
        f'<<TABLE BORDER="{bw}" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1" '
        f'COLOR="{border}" BGCOLOR="{fill}">' + "".join(rows) + "</TABLE>>"
    )


def _plain(text_html: str, size: int = 9, color: str = "#333333") -> str:
    text_html = text_html or "&#160;"  # Graphviz refuses an empty FONT element
    return f'<<FONT POINT-SIZE="{size}" COLOR="{color}">{text_html}</FONT>>'


def _sub(name: str, t) -> str:
    return f"{html_text(name)}<SUB>{html_text(t)}</SUB>"


# ---------------------------------------------------------------------------------------------
# Shared weights: names and per-step contributions to dL/dW
# ---------------------------------------------------------------------------------------------

_LIBRARY_NAMES = {
    4: ("W_ih", "W_hh", "b_ih", "b_hh"),
    2: ("W_ih", "W_hh"),
    5: ("W_ih", "W_oh", "W_ho", "b_ih", "b_ho"),
    3: ("W_ih", "W_oh", "W_ho"),
}


def _unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def _split_to_params(node_id: int, grad, graph: Graph, parents: dict, params: set):
    """{parameter id: its part of `grad`} for a gradient sent to `node_id`, a parameter or an
    op that only rearranges parameters (the once-per-call join cat/transpose/contiguous, the
    summed biases); None when an op on the way is not one of those."""
    out: dict[int, np.ndarray] = {}
    stack = [(node_id, np.asarray(grad, dtype=np.float64))]
    while stack:
        nid, g = stack.pop()
        if nid in params:
            out[nid] = out[nid] + g if nid in out else g
            continue
        node = graph.node(nid)
        ps = parents.get(nid, [])
        shapes = [graph.node(p).shape for p in ps]
        op = node.op
        if op in ("contiguous", "clone") and len(ps) == 1:
            stack.append((ps[0], g))
        elif op in ("reshape", "view", "squeeze", "unsqueeze", "flatten") and len(ps) == 1:
            stack.append((ps[0], g.reshape(shapes[0])))
        elif op == "permute" and len(ps) == 1 and g.ndim <= 2:
            stack.append((ps[0], g.T))
        elif op == "cat" and ps:
            axes = [a for a in range(g.ndim) if any(s[a] != g.shape[a] for s in shapes)]
            axis = axes[0] if axes else 0
            start = 0
            for p, s in zip(ps, shapes):
                index = [slice(None)] * g.ndim
                index[axis] = slice(start, start + s[axis])
                stack.append((p, g[tuple(index)]))
                start += s[axis]
        elif op in ("+", "-") and len(ps) == 2:
            stack.append((ps[0], _unbroadcast(g, shapes[0])))
            second = _unbroadcast(g, shapes[1])
            stack.append((ps[1], -second if op == "-" else second))
        else:
            return None
    return out


# ---------------------------------------------------------------------------------------------
# The layout
# ---------------------------------------------------------------------------------------------


@dataclass
class _Band:
    stack: str
    index: int
    layer: int
    reverse: bool
    by_t: dict
    h: dict
    c: dict
    state_name: str
    lane: float = 0.0
    y0: float = 0.0


def _check(level: str, weights: str, steps) -> None:
    if level not in LEVELS:
        raise ValueError(f"draw_unrolled: level must be one of {LEVELS}, got {level!r}")
    if weights not in WEIGHT_MODES:
        raise ValueError(f"draw_unrolled: weights must be one of {WEIGHT_MODES}, got {weights!r}")
    if steps is not None and not isinstance(steps, slice):
        raise TypeError(
            f"draw_unrolled: steps must be a slice of time steps (e.g. slice(0, 20)), got "
            f"{type(steps).__name__}"
        )


def layout_unrolled(
    graph: Graph,
    *,
    level: str = "cell",
    steps: slice | None = None,
    weights: str = "per-step",
    trace: BackwardTrace | None = None,
    values: bool = True,
    grads: bool = True,
    max_columns: int | None = MAX_COLUMNS,
) -> UnrolledLayout:
    """Lay out an exported recurrent graph by time step and role (see the module docstring).

    `trace` (from `trace_backward(loss, keep_arrays=True)`) supplies the per-edge gradients of
    the gradient-flow picture and the per-step bars of the weights panel; its graph is used when
    given. Raises ValueError when no node carries a `t=` scope.

    >>> from tinygrad_lite import nn, randn, manual_seed
    >>> from tinygrad_lite.graph import export_graph
    >>> manual_seed(0)
    >>> out, _ = nn.RNN(2, 3)(randn(4, 1, 2))
    >>> lay = layout_unrolled(export_graph(out.sum()))
    >>> lay.steps, len({round(lay.items[i].y) for i in lay.items if lay.items[i].kind == "h"})
    ([0, 1, 2, 3], 1)
    """
    _check(level, weights, steps)
    return _Builder(graph, level, steps, weights, trace, values, grads, max_columns).build()


class _Builder:
    """One layout computation (kept in an object so that the steps share their tables)."""

    def __init__(self, graph, level, steps, weights, trace, values, grads, max_columns):
        if trace is not None:
            graph = trace.graph
        self.g = graph
        self.level, self.window, self.weights = level, steps, weights
        self.trace, self.values, self.grads = trace, values, grads
        self.max_columns = max_columns
        self.items: dict[str, Item] = {}
        self.edges: dict[str, DrawnEdge] = {}
        self.item_of_node: dict[int, str] = {}
        self.edge_of: dict[tuple, str] = {}
        self.notes: list[str] = []

    # -- analysis -----------------------------------------------------------------------------

    def analyse(self) -> None:
        g = self.g
        self.places = time_places(g)
        self.children = children_of(g)
        self.parents: dict[int, list[int]] = defaultdict(list)
        for e in sorted(g.edges, key=lambda e: (e.dst, e.index)):
            self.parents[e.dst].append(e.src)
        steps = step_nodes(g, self.places)
        if not steps:
            raise ValueError(
                "draw_unrolled: no node of this graph carries a time-step scope; run the "
                "recurrent layers of tinygrad_lite.nn, or your own cell under "
                'scope(f"t={t}") at every step'
            )
        hs, cs = hidden_states(g), cell_states(g)
        order = sorted(
            steps,
            key=lambda s: (
                self.places[min(min(v) for v in steps[s].values())].layer,
                self.places[min(min(v) for v in steps[s].values())].reverse,
                min(min(v) for v in steps[s].values()),
            ),
        )
        self.bands: list[_Band] = []
        for i, stack in enumerate(order):
            first = self.places[min(min(v) for v in steps[stack].values())]
            h = dict(hs.get(stack, []))
            name = "y" if any(self.places[n].sub == "output" for n in h.values()) else "h"
            self.bands.append(
                _Band(
                    stack,
                    i,
                    first.layer,
                    first.reverse,
                    steps[stack],
                    h,
                    dict(cs.get(stack, [])),
                    name,
                )
            )
        self.band_of_stack = {b.stack: b for b in self.bands}
        # The time axis: every step of every stack and every input slice.
        all_t = sorted({p.t for p in self.places.values()})
        window = all_t[self.window] if self.window is not None else all_t
        if not window:
            raise ValueError(
                f"draw_unrolled: steps={self.window} selects no step; the graph has steps "
                f"{all_t[0]}..{all_t[-1]}"
            )
        self.window_t = window
        if self.max_columns is not None and len(window) > max(self.max_columns, 2 * KEEP_EACH_SIDE):
            shown = window[:KEEP_EACH_SIDE] + window[-KEEP_EACH_SIDE:]
            self.elided = window[KEEP_EACH_SIDE:-KEEP_EACH_SIDE]
            self.folded = [
                f"{len(self.elided)} steps folded (t={self.elided[0]}..{self.elided[-1]})"
            ]
        else:
            shown, self.elided, self.folded = window, [], []
        self.shown = shown
        self.shown_set = set(shown)
        self.elided_set = set(self.elided)
        # Which nodes are weights (parameters and ops that only rearrange them, outside the
        # steps) and which lie downstream of a step (outputs, losses).
        node_ids = [n.id for n in g.nodes]
        self.params = {n.id for n in g.nodes if n.kind == "parameter" and n.id not in self.places}
        self.weightish: set[int] = set(self.params)
        downstream: set[int] = set()
        for nid in node_ids:  # topological order
            ps = self.parents.get(nid, [])
            # An op that only rearranges weights is a weight, also inside a step (a cell called
            # in a user's loop joins its W_ih and W_hh at every call).
            only_weights = (
                ps
                and all(p in self.weightish or _scalar_constant(g.node(p)) for p in ps)
                and any(p in self.weightish for p in ps)
            )
            if nid in self.places:
                if only_weights and g.node(nid).op in PREP_OPS:
                    self.weightish.add(nid)
                elif not self.places[nid].is_input:
                    downstream.add(nid)
                continue
            if any(p in downstream for p in ps):
                downstream.add(nid)
            elif only_weights:
                self.weightish.add(nid)
        self.downstream = downstream
        self.head = [n for n in node_ids if n in downstream and n not in self.places]
        # Constant leaves made inside a step (x[t] of a constant sequence, a zero state made by
        # a cell, a teacher-forcing target) are the step's inputs, not part of its cell.
        self.step_leaves: dict[int, int] = {}
        for band in self.bands:
            for t, ids in band.by_t.items():
                keep = []
                for n in ids:
                    if n in self.weightish:
                        continue
                    if g.node(n).kind == "constant" and n not in band.h.values():
                        self.step_leaves[n] = t
                    else:
                        keep.append(n)
                band.by_t[t] = keep
        self.step_set = {n for b in self.bands for ids in b.by_t.values() for n in ids}
        self.gradient_flow = bool(
            self.grads and g.outputs and g.node(g.outputs[0]).grad is not None
        )
        self._name_params()

    def _name_params(self) -> None:
        """Readable names for the parameters: the tensor's own name when it has one, else the
        library's (W_ih, W_hh, b_ih, b_hh, by registration order within the stack)."""
        g = self.g
        used_by: dict[int, set[str]] = defaultdict(set)
        for band in self.bands:
            for ids in band.by_t.values():
                for n in ids:
                    for p in self.parents.get(n, []):
                        if p in self.weightish:
                            used_by[p].add(band.stack)
        # params reach the steps through prep ops: walk back from every prep node to its params
        stacks_of_param: dict[int, set[str]] = defaultdict(set)
        for w, stacks in used_by.items():
            todo = [w]
            while todo:
                n = todo.pop()
                if n in self.params:
                    stacks_of_param[n] |= stacks
                todo.extend(p for p in self.parents.get(n, []) if p in self.weightish)
        many = len(self.bands) > 1
        names: dict[int, str] = {}
        for band in self.bands:
            mine = sorted(p for p, s in stacks_of_param.items() if s == {band.stack})
            lib = _LIBRARY_NAMES.get(len(mine))
            for i, p in enumerate(mine):
                base = lib[i] if lib else f"W{i}"
                if many:
                    base += f" l{band.layer}" + (" rev" if band.reverse else "")
                names[p] = base
        # parameters read outside the recurrent stacks (an output layer): W_out, b_out
        others = [p for p in sorted(self.params) if p not in names]
        counts = defaultdict(int)
        for p in others:
            counts[len(g.node(p).shape) >= 2] += 1
        seen = defaultdict(int)
        for p in others:
            matrix = len(g.node(p).shape) >= 2
            base = "W_out" if matrix else "b_out"
            names[p] = base if counts[matrix] == 1 else f"{base}{seen[matrix]}"
            seen[matrix] += 1
        for p in sorted(self.params):
            if g.node(p).label:
                names[p] = g.node(p).label
        self.param_names = names

    # -- items --------------------------------------------------------------------------------

    def add_item(self, item: Item, nodes=()) -> Item:
        self.items[item.id] = item
        for n in nodes:
            self.item_of_node.setdefault(n, item.id)
        return item

    def _grad_line(self, node: NodeInfo, what: str) -> list[tuple[str, str]]:
        if not self.grads or node.kind == "constant":
            return []
        if node.grad is None:
            return (
                [(f"‖∂L/∂{what.rstrip('0123456789')}‖ -", "#888888")] if self.gradient_flow else []
            )
        return [(f"‖∂L/∂{what.rstrip('0123456789')}‖ {_norm(node.grad)}", "#a50f15")]

    def _value_line(self, s: Summary) -> list[tuple[str, str]]:
        return [(html_text(_short_value(s)), "#333333")] if self.values else []

    def _node_item(self, iid, kind, node: NodeInfo, title_html, what, *, fill, border, bw=1):
        lines = self._value_line(node.value) + self._grad_line(node, what)
        plain = [re.sub("<[^>]+>", "", title_html)] + [re.sub("<[^>]+>", "", t) for t, _ in lines]
        return Item(
            id=iid,
            kind=kind,
            x=0.0,
            y=0.0,
            label=_label(title_html, lines, border=border, fill=fill, bw=bw),
            width=max(_text_width(plain[:1], 10), _text_width(plain[1:], 8)),
            height=14 + 11 * len(lines),
        )

    def build_step_items(self) -> None:
        """Items of every shown step of every band: h_t, c_t and the cell at `level`."""
        g = self.g
        self.band_items: dict[tuple[int, int], dict] = {}
        for band in self.bands:
            b = band.index
            for t in self.shown:
                ids = band.by_t.get(t)
                if not ids:
                    continue
                roles: dict = {"cells": [], "ops": []}
                h = band.h.get(t)
                c = band.c.get(t)
                if h is not None:
                    node = g.node(h)
                    op_line = f"<I>{html_text(node.op)}</I> " if len(ids) == 1 else ""
                    it = self._node_item(
                        f"h_{b}_{t}",
                        "h",
                        node,
                        f"{op_line}<B>{_sub(band.state_name, t)}</B>",
                        f"{band.state_name}{t}",
                        fill="#fff7d6",
                        border="#8a6d00",
                        bw=2,
                    )
                    it.step = t
                    roles["h"] = self.add_item(it, [h])
                if c is not None:
                    it = self._node_item(
                        f"c_{b}_{t}",
                        "c",
                        g.node(c),
                        f"<B>{_sub('c', t)}</B>",
                        f"c{t}",
                        fill="#e3f1e0",
                        border="#2e7d32",
                        bw=2,
                    )
                    it.step = t
                    roles["c"] = self.add_item(it, [c])
                rest = [n for n in ids if n not in (h, c)]
                if rest:
                    if self.level == "op":
                        self._op_items(band, t, rest, roles)
                    else:
                        self._cell_items(band, t, rest, roles)
                self.band_items[(b, t)] = roles

    def _cell_items(self, band: _Band, t: int, rest: list[int], roles: dict) -> None:
        g = self.g
        b = band.index
        gates = [n for n in rest if g.node(n).op == "lstm_gates"]
        named: list[tuple[str, str, int | None, Summary | None, Summary | None]] = []
        if self.level == "gate":
            if gates:
                node = g.node(gates[0])
                for k, (short, _) in enumerate(LSTM_GATE_NAMES):
                    named.append((short, _, gates[0], *self._block(node, k, 4)))
            else:
                named = self._gru_gates(rest)
        if len(rest) == 1 and not named:
            node = g.node(rest[0])
            title = f"<B>{html_text(node.op or 'cell')}</B> <FONT POINT-SIZE='8'>t={t}</FONT>"
            it = self._node_item(
                f"cell_{b}_{t}",
                "cell",
                node,
                title.replace("'", '"'),
                "·",
                fill="#ece6f6",
                border="#5e3c99",
            )
        else:
            main = g.node(max(rest))
            ops = len(rest)
            title = f'<B>cell</B> <FONT POINT-SIZE="8">t={t}, {ops} ops</FONT>'
            lines = []
            if self.grads and self.gradient_flow:
                lines.append((f"‖∂L/∂out‖ {_norm(main.grad)}", "#a50f15"))
            it = Item(
                f"cell_{b}_{t}",
                "cell",
                0,
                0,
                _label(title, lines, border="#5e3c99", fill="#ece6f6"),
                width=_text_width([f"cell t={t}, {ops} ops"], 9.5),
                height=16 + 11 * len(lines),
            )
        it.step = t
        if named:
            # The container box: drawn first (edges first, then nodes in order), the named
            # gates on top of it.
            cols = 2 if len(named) == 4 else len(named)
            gw = max(self._gate_item_width(n) for n in named)
            rows = math.ceil(len(named) / cols)
            it.width = cols * (gw + 6) + 14
            it.height = rows * 38 + 18
            it.label = '<<FONT POINT-SIZE="7" COLOR="#5e3c99"> </FONT>>'
            it.attrs = {
                "shape": "box",
                "style": "rounded,dashed",
                "color": "#5e3c99",
                "width": f"{it.width / 72:.2f}",
                "height": f"{it.height / 72:.2f}",
                "fixedsize": "true",
            }
            it.kind = "gates"
            roles["gates"] = []
            self.add_item(it, rest)
            for k, (short, long, nid, value, grad) in enumerate(named):
                lines = []
                if self.values and value is not None:
                    lines.append((f"‖·‖ {_norm(value)}", "#333333"))
                if self.grads and self.gradient_flow:
                    lines.append((f"‖∂‖ {_norm(grad)}", "#a50f15"))
                gi = Item(
                    f"gate_{b}_{t}_{short}",
                    "gate",
                    0,
                    0,
                    _label(
                        f"<B>{short}</B> <FONT POINT-SIZE='7'>{long}</FONT>".replace("'", '"'),
                        lines,
                        border="#5e3c99",
                        fill="#ffffff",
                    ),
                    step=t,
                    width=gw,
                    height=14 + 10 * len(lines),
                )
                gi.attrs["_slot"] = (k % cols, k // cols, cols, rows)
                self.add_item(gi)
                if nid is not None and nid not in gates:
                    self.item_of_node[nid] = gi.id
                roles["gates"].append(gi)
        else:
            self.add_item(it, rest)
        roles["cell"] = it

    def _gate_item_width(self, named) -> float:
        return _text_width(["f forget", "‖∂‖ 1.23e-05"], 8)

    @staticmethod
    def _block(node: NodeInfo, k: int, blocks: int):
        """(value norm, grad norm) of block k of a fused node's last axis, from the summaries
        when they hold every number, else None."""

        def part(s: Summary | None):
            if s is None or s.numbers is None:
                return None
            arr = np.asarray(s.numbers).reshape(s.shape)
            n = arr.shape[-1] // blocks
            return _summary_of(arr[..., k * n : (k + 1) * n])

        return part(node.value), part(node.grad)

    def _gru_gates(self, rest: list[int]):
        """The GRU's named gates: r and z are the two slices of the gates' sigmoid, n the tanh
        of the candidate."""
        g = self.g
        mine = set(rest)
        out = []
        for n in rest:
            if g.node(n).op == "sigmoid":
                slices = sorted(c for c in self.children.get(n, []) if c in mine)
                if len(slices) == 2:
                    for (short, long), s in zip(GRU_GATE_NAMES[:2], slices):
                        node = g.node(s)
                        out.append((short, long, s, node.value, node.grad))
        for n in rest:
            if g.node(n).op == "tanh" and self.places[n].sub == "gates":
                node = g.node(n)
                out.append(("n", "candidate", n, node.value, node.grad))
        return out if len(out) == 3 else []

    def _op_items(self, band: _Band, t: int, rest: list[int], roles: dict) -> None:
        g = self.g
        b = band.index
        mine = set(rest)
        depth: dict[int, int] = {}
        for n in rest:  # ascending ids = topological order
            depth[n] = 1 + max((depth[p] for p in self.parents.get(n, []) if p in mine), default=-1)
        roles["ops"] = []
        for n in rest:
            node = g.node(n)
            shape = "×".join(map(str, node.shape))
            lines = [(html_text(shape), "#666666")] if shape else []
            lines += self._grad_line(node, "·")
            it = Item(
                f"op_{b}_{n}",
                "op",
                0,
                0,
                _label(
                    f"<I>{html_text(node.op or node.kind)}</I>",
                    lines,
                    border=style.OP_BORDER,
                    fill=style.OP_FILL,
                ),
                step=t,
                width=max(
                    _text_width([node.op or node.kind], 9),
                    _text_width([shape, "‖∂L/∂·‖ 1.23e-05"], 8),
                ),
                height=14 + 11 * len(lines),
            )
            it.attrs["_depth"] = depth[n]
            roles["ops"].append(self.add_item(it, [n]))

    # -- placement ----------------------------------------------------------------------------

    def place(self) -> None:
        """Column x positions, band heights and every item's centre."""
        bidirectional = self.bidirectional = any(b.reverse for b in self.bands)
        # Lane width: what the widest step of any band needs, left and right of the anchor
        # (the x of the cell and h_t; an LSTM's c_t sits to the left of h_t).
        left = right = 40.0
        self.band_height: dict[int, float] = {}
        for roles in self.band_items.values():
            w = 0.0
            if self.level == "op" and roles["ops"]:
                per_depth = defaultdict(float)
                for it in roles["ops"]:
                    per_depth[it.attrs["_depth"]] += it.width + 8
                w = max(per_depth.values())
            elif "cell" in roles:
                w = roles["cell"].width
            if "h" in roles:
                w = max(w, roles["h"].width)
            lw = rw = w / 2
            if "c" in roles and "h" in roles:
                lw = max(lw, roles["h"].width / 2 + 10 + roles["c"].width)
            left, right = max(left, lw + 22), max(right, rw + 22)  # + the weight reference
        need = left + right
        shift = (left - right) / 2  # anchor right of the lane's centre by this much
        self.lane_w = need
        lanes = 2 if bidirectional else 1
        self.col_w = need * lanes + 16
        self.x_shift = 0.0 if bidirectional else shift
        # column centres, with a slot for the folded steps
        self.col_x: dict[int, float] = {}
        x = 150.0  # room for the row labels on the left
        for i, t in enumerate(self.shown):
            if self.elided and i == KEEP_EACH_SIDE:
                self.elide_x = x
                x += self.col_w
            self.col_x[t] = x
            x += self.col_w
        self.x_end = x
        self.first_x = self.col_x[self.shown[0]] - self.col_w
        for band in self.bands:
            band.lane = shift + ((need / 2 if band.reverse else -need / 2) if bidirectional else 0)
        # rows, bottom to top: weights panel (placed later, below 0), inputs at y=0, bands
        y = 0.0
        self.x_row = y
        y += 46
        if self.weights == "once":
            # the weights drawn once sit between the inputs and the first band, between columns
            self.once_row = y + 10
            y += 70
        for band in self.bands:
            band.y0 = y
            y = self._place_band(band, y) + 34
        self.top = y

    def _place_band(self, band: _Band, y0: float) -> float:
        """Place one band's items from height y0 up; returns the band's top."""
        cell_h = 0.0
        gate_rows = 0
        max_depth = 0
        for t in self.shown:
            roles = self.band_items.get((band.index, t))
            if not roles:
                continue
            if "cell" in roles:
                cell_h = max(cell_h, roles["cell"].height)
            for it in roles["ops"]:
                max_depth = max(max_depth, it.attrs["_depth"])
                cell_h = max(cell_h, it.height)
            if roles.get("gates"):
                gate_rows = max(gate_rows, roles["gates"][0].attrs["_slot"][3])
        op_rows = max_depth + 1 if self.level == "op" else 1
        cell_area = (cell_h + 16) * op_rows if self.level == "op" else cell_h + 8
        y_cell = y0 + cell_area / 2 + 4
        has_c = any("c" in r for (b, _), r in self.band_items.items() if b == band.index)
        # The cell state runs on a row above the hidden state (as in Olah's diagrams), to the
        # left of h_t: the gates reach it past h_t, and h_{t-1} reaches the gates below it.
        y_h = y0 + cell_area + 36
        y_c = y_h + 48
        band.y_h, band.y_c, band.y_cell = y_h, y_c, y_cell
        for t in self.shown:
            roles = self.band_items.get((band.index, t))
            if not roles:
                continue
            cx = self.col_x[t] + band.lane
            if "h" in roles:
                roles["h"].x, roles["h"].y = cx, y_h
            if "c" in roles:
                h_w = roles["h"].width if "h" in roles else 40
                roles["c"].x = cx - h_w / 2 - roles["c"].width / 2 - 10
                roles["c"].y = y_c
            if "cell" in roles:
                cell = roles["cell"]
                cell.x, cell.y = cx, y_cell
                for gi in roles.get("gates", []):
                    col, row, cols, rows = gi.attrs.pop("_slot")
                    gw = gi.width + 6
                    gi.x = cx - (cols - 1) * gw / 2 + col * gw
                    gi.y = y_cell + (rows - 1) * 19 - row * 38 - 4
            if roles["ops"]:
                by_depth = defaultdict(list)
                for it in roles["ops"]:
                    by_depth[it.attrs.pop("_depth")].append(it)
                for d, its in by_depth.items():
                    total = sum(i.width + 8 for i in its)
                    x = cx - total / 2
                    for it in its:
                        it.x = x + (it.width + 8) / 2
                        it.y = y0 + (cell_h + 16) * (d + 0.5)
                        x += it.width + 8
        return (y_c if has_c else y_h) + 20

    # -- everything around the steps -----------------------------------------------------------

    def build_inputs(self) -> None:
        """x_t items: the input slices of the library's layers, and for a user's loop the
        external, unshared operands of a step."""
        by_t = defaultdict(list)
        for nid, p in self.places.items():
            if p.is_input and p.t in self.shown_set:
                by_t[p.t].append([nid])
        fed = {c[3] for c in self.cuts} | {i[3] for i in self.inits}
        for nid, t in sorted(self.step_leaves.items()):
            if t in self.shown_set and nid not in fed:
                by_t[t].append([nid])
        for t, groups in by_t.items():
            for k, ids in enumerate(groups):
                self._input_item(t, k, ids)

    def _input_item(self, t: int, k: int, ids: list[int]) -> None:
        node = self.g.node(max(ids))
        it = self._node_item(
            f"x_{t}" if k == 0 else f"x_{t}_{k}",
            "x",
            node,
            f"<B>{_sub('x', t)}</B>",
            f"x{t}",
            fill=style.KIND_STYLES["constant"].fill if node.kind == "constant" else "#dbe8ff",
            border="#777777",
        )
        it.x, it.y, it.step = self.col_x[t] + self.x_shift + k * (it.width + 8), self.x_row, t
        self.add_item(it, ids)

    def fold_dropout(self) -> None:
        """Dropout between layers ("{name}/l{k}/t={t}/dropout") is drawn as part of the h_t it
        acts on, so the edge from layer k's h_t to layer k+1 stays one edge."""
        for nid, place in self.places.items():
            if not place.sub.startswith("dropout"):
                continue
            band = self.band_of_stack.get(place.stack)
            h = band.h.get(place.t) if band is not None else None
            iid = self.item_of_node.get(h) if h is not None else None
            if iid is not None:
                self.item_of_node.setdefault(nid, iid)

    def build_sources(self) -> None:
        """Nodes upstream of the steps that are neither weights nor input slices: an initial
        state, a detached state (a cut), the sequence a user's loop slices, targets. They are
        folded into the item that reads them, or drawn where the recurrence needs them."""
        # which (op, sub, operand) slots of a step read the previous step's state
        self.slots: dict[str, set] = defaultdict(set)
        for band in self.bands:
            order = sorted(band.by_t, reverse=band.reverse)
            for a, bt in zip(order, order[1:]):
                prev = {band.h.get(a): "h", band.c.get(a): "c"}
                ranks = self._ranks(band.by_t[bt])
                for n in band.by_t[bt]:
                    for i, p in enumerate(self.parents.get(n, [])):
                        if p in prev and p is not None:
                            self.slots[band.stack].add((*ranks[n], i, prev[p]))
        self.cuts: list[tuple] = []
        self.inits: list[tuple] = []
        for band in self.bands:
            order = sorted(band.by_t, reverse=band.reverse)
            slots = {s[:4]: s[4] for s in self.slots.get(band.stack, ())}
            for k, t in enumerate(order):
                if t not in self.shown_set:
                    continue
                prev_t = order[k - 1] if k > 0 else None
                ranks = self._ranks(band.by_t[t])
                for n in band.by_t[t]:
                    for i, p in enumerate(self.parents.get(n, [])):
                        which = slots.get((*ranks[n], i))
                        if which is None:
                            continue
                        if p in self.weightish:
                            continue
                        prev_state = (band.h if which == "h" else band.c).get(prev_t)
                        if p == prev_state:
                            if prev_t not in self.shown_set and prev_t not in self.elided_set:
                                self.inits.append((band, t, which, p, n, True))
                            continue
                        if p in self.step_set:
                            continue
                        if prev_t is None:
                            self.inits.append((band, t, which, p, n, False))
                        else:
                            self.cuts.append((band, t, which, p, n, prev_t))

    def _ranks(self, ids: list[int]) -> dict[int, tuple]:
        """node -> (op, sub-scope, k): the k-th node of that op and sub-scope in its step, so
        the same operand slot is recognised in every step."""
        seen: dict[tuple, int] = defaultdict(int)
        out = {}
        for n in ids:
            key = (self.g.node(n).op, self.places[n].sub)
            out[n] = (*key, seen[key])
            seen[key] += 1
        return out

    def build_init_and_cuts(self) -> None:
        g = self.g
        seen = set()
        for band, t, which, p, _n, outside in self.inits:
            key = (band.index, which, t)
            if key in seen:
                continue
            seen.add(key)
            y = band.y_h if which == "h" else band.y_c
            first = self.items.get(
                self.item_of_node.get((band.h if which == "h" else band.c).get(t), "")
            )
            node = g.node(p)
            name = band.state_name if which == "h" else "c"
            if outside:
                place = self.places.get(p)
                title = (
                    f"<B>{_sub(name, place.t if place else '?')}</B> "
                    '<FONT POINT-SIZE="7">(outside the window)</FONT>'
                )
            else:
                title = f"<B>{_sub(name, 'init')}</B>"
            it = self._node_item(
                f"init_{band.index}_{which}_{t}",
                "init",
                node,
                title.replace("'", '"'),
                name,
                fill="#f1f1f1",
                border="#9a9a9a",
            )
            # just before the first state of the row (after it, for a reverse direction)
            anchor_x = first.x if first is not None else self.col_x[t] + band.lane
            half = (first.width / 2 if first is not None else 40) + it.width / 2 + 24
            x = anchor_x + (half if band.reverse else -half)
            it.x, it.y, it.step = x, y, None
            self.add_item(it, [p] if outside else self._chain_up(p))
        for band, t, which, p, _n, prev_t in self.cuts:
            iid = f"cut_{band.index}_{which}_{t}"
            if iid in self.items:
                continue
            # midway between the state before the cut and the same state after it
            states = band.h if which == "h" else band.c
            before = self.items.get(self.item_of_node.get(states.get(prev_t), ""))
            after = self.items.get(self.item_of_node.get(states.get(t), ""))
            x = self.col_x[t] + band.lane - self.col_w / 2
            if before is not None and after is not None:
                lo, hi = sorted((before, after), key=lambda i: i.x)
                x = (lo.x + lo.width / 2 + hi.x - hi.width / 2) / 2
            y = band.y_h if which == "h" else band.y_c
            it = Item(
                iid,
                "cut",
                x,
                y,
                _plain(
                    "<B>✂ detach</B><BR/><FONT POINT-SIZE='7'>no gradient</FONT>".replace("'", '"'),
                    9,
                    CUT_COLOR,
                ),
                step=t,
                width=60,
                height=24,
            )
            self.add_item(it, self._chain_up(p))

    def _chain_up(self, p: int) -> list[int]:
        """p and the nodes above it outside the steps that only feed it (a detached leaf and
        the getitem that picks a layer's slice of it, say)."""
        out, todo = [], [p]
        while todo:
            n = todo.pop()
            if n in out or n in self.step_set or n in self.weightish:
                continue
            if n != p and any(
                c not in out and c != p for c in self.children.get(n, []) if c not in out
            ):
                if not all(c in out or c == p for c in self.children.get(n, [])):
                    continue
            out.append(n)
            todo.extend(self.parents.get(n, []))
        return out

    def build_heads(self) -> None:
        """Outputs and losses: per-column nodes above the top band, joins of many steps as bars
        across the columns, and the rest (the final loss) in a row on top."""
        g = self.g
        col_of: dict[int, int | None] = {}
        kind: dict[int, str] = {}
        for n in self.head:
            step_cols, other_cols = set(), set()
            step_hidden = after_join = False
            for p in self.parents.get(n, []):
                if p in col_of:
                    if col_of[p] is not None:
                        other_cols.add(col_of[p])
                    else:
                        after_join = True  # reads a join or the final loss
                elif p in self.places:
                    if self.places[p].t in self.shown_set:
                        step_cols.add(self.places[p].t)
                    else:
                        step_hidden = True
            cols = step_cols | other_cols
            if len(step_cols) >= 3 or (step_cols and step_hidden):
                col_of[n], kind[n] = None, "join"
            elif cols and not after_join and not step_hidden:
                col_of[n], kind[n] = max(cols), "out"
            else:
                col_of[n], kind[n] = None, "tail"
        top = self.top
        # per-column outputs
        per_col = defaultdict(list)
        for n in self.head:
            if kind[n] == "out":
                per_col[col_of[n]].append(n)
        max_rows = 0
        depth: dict[int, int] = {}
        for ids in per_col.values():
            mine = set(ids)
            for n in ids:
                depth[n] = 1 + max(
                    (depth[p] for p in self.parents.get(n, []) if p in mine), default=-1
                )
            max_rows = max(max_rows, max(depth[n] for n in ids) + 1)
        row_h = 40.0
        if self.level == "op":
            for t, ids in per_col.items():
                count = defaultdict(int)
                for n in ids:
                    node = g.node(n)
                    it = Item(
                        f"y_{n}",
                        "out",
                        0,
                        0,
                        _label(
                            f"<I>{html_text(node.op)}</I>",
                            self._grad_line(node, "·"),
                            border=style.OP_BORDER,
                            fill="#fff3c4",
                        ),
                        step=t,
                        width=_text_width([node.op, "‖∂L/∂·‖ 1.2e-05"], 8),
                        height=26,
                    )
                    it.x = self.col_x[t] + count[depth[n]] * 12
                    it.y = top + row_h * (depth[n] + 0.5)
                    count[depth[n]] += 1
                    self.add_item(it, [n])
        else:
            max_rows = 1 if per_col else 0
            for t, ids in per_col.items():
                last = g.node(max(ids))
                ops = ", ".join(dict.fromkeys(g.node(n).op for n in ids))
                ops = ops if len(ops) <= 24 else ops[:22] + "…"
                lines = [(html_text(ops), "#666666")] + self._value_line(last.value)
                lines += self._grad_line(last, "·") if self.gradient_flow else []
                it = Item(
                    f"y_{t}",
                    "out",
                    self.col_x[t],
                    top + row_h / 2,
                    _label(f"<B>{_sub('out', t)}</B>", lines, border="#8a6d00", fill="#fff3c4"),
                    step=t,
                    width=_text_width([ops, "‖∂L/∂·‖ 1.2e-05"], 8),
                    height=14 + 11 * len(lines),
                )
                self.add_item(it, ids)
        y = top + row_h * max_rows + (10 if max_rows else 0)
        # joins: one bar across the shown columns
        joins = [n for n in self.head if kind[n] == "join"]
        x1 = self.col_x[self.shown[-1]] + self.col_w * 0.4
        slots = list(self.shown)
        if self.elided:
            slots.insert(KEEP_EACH_SIDE, "gap")
        slot_of = {t: i for i, t in enumerate(slots)}
        for t in self.elided:
            slot_of[t] = KEEP_EACH_SIDE
        rows: list[list[tuple[int, int]]] = []
        for n in joins:
            node = g.node(n)
            used = set()
            for p in self.parents.get(n, []):
                t = self.places[p].t if p in self.places else col_of.get(p)
                if t in slot_of:
                    used.add(slot_of[t])
            lo, hi = (min(used), max(used)) if used else (0, len(slots) - 1)
            # the lowest row where this bar overlaps no other bar
            row = next(
                (r for r, spans in enumerate(rows) if all(hi < a or lo > b for a, b in spans)),
                len(rows),
            )
            if row == len(rows):
                rows.append([])
            rows[row].append((lo, hi))
            span = slots[lo : hi + 1]
            shape = "×".join(map(str, node.shape))
            text = (
                f"<B>{html_text(node.op)}</B> <FONT POINT-SIZE='8'>{html_text(node.scope or '')}"
                f" {shape}</FONT>"
            )
            if self.gradient_flow and self.grads:
                text += f" <FONT POINT-SIZE='8' COLOR='#a50f15'>‖∂L/∂·‖ {_norm(node.grad)}</FONT>"
            # One cell per column, each a port: h_t's edge enters the bar straight above h_t.
            # (two per column with a reverse direction: one above each lane)
            lanes = 2 if self.bidirectional else 1
            cell_w = self.col_w / lanes - (4 if len(span) == 1 else 0) / lanes
            ports = "".join(
                f'<TD PORT="p{t}_{k}" WIDTH="{cell_w:.0f}" HEIGHT="5" FIXEDSIZE="TRUE"></TD>'
                for t in span
                for k in range(lanes)
            )
            label = (
                '<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0" '
                'COLOR="#8a6d00" BGCOLOR="#fff3c4" STYLE="rounded">'
                f'<TR><TD COLSPAN="{len(span) * lanes}" HEIGHT="16">'
                f"{text.replace(chr(39), chr(34))}</TD></TR>"
                f"<TR>{ports}</TR></TABLE>>"
            )
            bar_w = self.col_w * len(span)
            bar_l = self.col_x[self.shown[0]] - self.col_w / 2 + lo * self.col_w
            it = Item(
                f"join_{n}",
                "join",
                bar_l + bar_w / 2,
                y + 12 + 40 * row,
                label,
                width=bar_w,
                height=24,
            )
            it.attrs = {"shape": "plaintext", "margin": "0"}
            self.add_item(it, [n])
        y += 40 * len(rows)
        # the rest: a row on top, left to right in topological order
        tail = [n for n in self.head if kind[n] == "tail"]
        if self.level != "op" and len(tail) > 6:
            last = g.node(tail[-1])
            lines = self._value_line(last.value) + self._grad_line(last, "·")
            it = Item(
                "tail",
                "tail",
                x1 - 60,
                y + 20,
                _label(
                    f"<B>loss</B> <FONT POINT-SIZE='8'>{len(tail)} ops</FONT>".replace("'", '"'),
                    lines,
                    border="#8a6d00",
                    fill="#fff3c4",
                ),
                width=90,
                height=40,
            )
            self.add_item(it, tail)
            y += 50
        else:
            x = x1 - sum(
                max(70, _text_width([self.g.node(n).op, "‖∂L/∂·‖ 1.23e-05"], 8)) + 30 for n in tail
            )
            for n in tail:
                node = g.node(n)
                is_out = n in g.outputs
                lines = self._value_line(node.value) + self._grad_line(node, "·")
                title = f"<I>{html_text(node.op or node.kind)}</I>"
                if node.label:
                    title = f"<B>{html_text(node.label)}</B> " + title
                it = Item(
                    f"t_{n}",
                    "tail",
                    0,
                    y + 20,
                    _label(
                        title,
                        lines,
                        border="#8a6d00" if is_out else style.OP_BORDER,
                        fill="#fff3c4" if is_out else style.OP_FILL,
                        bw=2 if is_out else 1,
                    ),
                    width=max(70, _text_width([node.op, "‖∂L/∂·‖ 1.23e-05"], 8)),
                    height=40,
                )
                it.x = x + it.width / 2
                x += it.width + 30
                self.add_item(it, [n])
            if tail:
                y += 50
        self.top = y

    def build_elision(self) -> None:
        if not self.elided:
            return
        n = len(self.elided)
        for band in self.bands:
            it = Item(
                f"elide_{band.index}",
                "elide",
                self.elide_x + band.lane,
                band.y_h,
                _plain(
                    f"<B>… {n} steps …</B><BR/><FONT POINT-SIZE='7'>"
                    f"t={self.elided[0]}..{self.elided[-1]}</FONT>".replace("'", '"'),
                    10,
                    "#555555",
                ),
                width=90,
                height=26,
            )
            self.add_item(it)
        it = Item(
            "elide_x",
            "elide",
            self.elide_x,
            self.x_row,
            _plain(f"… {n} …", 9, "#777777"),
            width=50,
            height=16,
        )
        self.add_item(it)

    def build_row_labels(self) -> None:
        x = self.first_x - self.col_w * 0.1 - 20
        x = min(x, 70.0)
        for band in self.bands:
            direction = "← reverse" if band.reverse else "→"
            stack = band.stack or "your loop"
            it = Item(
                f"row_{band.index}",
                "rowlabel",
                x,
                band.y_h,
                _plain(
                    f"<B>{html_text(stack)}</B><BR/>layer {band.layer} {direction}", 9, "#444444"
                ),
                width=110,
                height=26,
            )
            self.add_item(it)
        if any(i.kind == "x" for i in self.items.values()):
            self.add_item(
                Item(
                    "row_x",
                    "rowlabel",
                    x,
                    self.x_row,
                    _plain("<B>inputs</B>", 9, "#444444"),
                    width=60,
                )
            )

    # -- edges --------------------------------------------------------------------------------

    def _step_column(self, nid: int) -> int | None:
        item = self.items.get(self.item_of_node.get(nid, ""))
        return item.step if item is not None else None

    def _ref_item(self, dst_item: Item, weight_nodes: list[int]) -> str:
        """The per-step reference to the weights beside `dst_item` (made on first use)."""
        band = (
            dst_item.id.split("_")[1]
            if dst_item.kind in ("h", "cell", "gates", "op", "c", "gate")
            else "y"
        )
        t = dst_item.step
        iid = f"ref_{band}_{t}"
        it = self.items.get(iid)
        if it is None:
            # below the item, to the left of the input edge that rises into it
            x = dst_item.x - dst_item.width / 4
            y = dst_item.y - dst_item.height / 2 - 22
            it = Item(iid, "ref", x, y, "", step=t, width=40, height=12)
            it.attrs["_names"] = []
            self.add_item(it)
        names = it.attrs["_names"]
        for w in weight_nodes:
            # the step's own join of the weights (a cell in a loop) is shown by this reference
            todo = [w]
            while todo:
                n = todo.pop()
                if n in self.places and n in self.weightish:
                    self.item_of_node.setdefault(n, iid)
                    todo.extend(self.parents.get(n, []))
            for p in self._params_of(w):
                name = self.param_names.get(p, "W")
                if name not in names:
                    names.append(name)
        return iid

    def _params_of(self, w: int) -> list[int]:
        out, todo = [], [w]
        while todo:
            n = todo.pop()
            if n in self.params:
                out.append(n)
            else:
                todo.extend(p for p in self.parents.get(n, []) if p in self.weightish)
        return sorted(set(out))

    def build_edges(self) -> None:
        g = self.g
        sent: dict[tuple, object] = {}
        if self.trace is not None:
            for ev in self.trace.events:
                for s in ev.sent:
                    sent[(s.edge.src, s.edge.dst, s.edge.index)] = s
        groups: dict[tuple[str, str], list] = defaultdict(list)
        self.once_items: dict[int, str] = {}
        self.once_parts: dict[str, tuple] = {}
        # parameters some step reads (they get a row in the weights panel); one read only
        # outside the steps (a head after the loop) is drawn beside its consumer instead
        self.step_params: set[int] = set()
        for e in g.edges:
            di = self.item_of_node.get(e.dst)
            if di is None:
                continue
            if e.src in self.weightish:
                if self.weights == "per-step":
                    if e.dst in self.weightish:
                        continue
                    dst_item = self.items[di]
                    if dst_item.step is None:
                        si = self._once_item(e.src)
                    else:
                        si = self._ref_item(dst_item, [e.src])
                        self.step_params.update(self._params_of(e.src))
                else:
                    if e.dst in self.weightish:
                        continue  # the join of the weights: drawn inside the weight's box
                    if self.items[di].step is not None:
                        self.step_params.update(self._params_of(e.src))
                    if e.src in self.places:  # a step's own join: an edge from each parameter
                        for p in self._params_of(e.src):
                            groups[(self._once_item(p), di)].append(e)
                        continue
                    si = self._once_item(e.src)
            else:
                si = self.item_of_node.get(e.src)
            if si is None or si == di:
                continue
            if self.items[si].kind == "gate" and self.items[di].kind == "gates":
                continue
            if self.items[di].kind == "gate" and self.items[si].kind == "gates":
                continue
            groups[(si, di)].append(e)
        labelled: set[str] = set()
        for (si, di), engine in groups.items():
            eid = f"e_{si}__{di}"
            norm = None
            if self.gradient_flow:
                norm = self._edge_norm(engine, sent)
            kind = "flow"
            if self.items[si].kind == "ref" or self.items[si].kind == "weight":
                kind = "weight_edge"
            elif self.items[si].kind == "cut":
                kind = "cut_edge"
            label = None
            if self.weights == "once" and self.items[si].kind == "weight":
                t = self.items[di].step
                label = f"t={t}" if t is not None else None
            edge = DrawnEdge(eid, si, di, kind, list(engine), label, norm)
            if label is not None:
                # The fan-out edges of several weights meet midway, where their labels would
                # pile up: the step's label sits once at the step's end (all edges leaving a
                # step's box belong to that step).
                first = di not in labelled
                labelled.add(di)
                edge.attrs.update(
                    {"_label_at": "head" if first else "hidden", "labeldistance": "2.2"}
                )
                if first:
                    edge.attrs.update({"labelangle": "-35", "labelfontcolor": "#1f4f9f"})
            if self.items[di].kind == "join" and self.items[si].step is not None:
                lane = 0
                if self.bidirectional and self.items[si].kind in ("h", "c", "cell", "gates"):
                    lane = int(self.bands[int(si.split("_")[1])].reverse)
                edge.attrs["headport"] = f"p{self.items[si].step}_{lane}:s"
            self.edges[eid] = edge
            for e in engine:
                self.edge_of[(e.src, e.dst, e.index)] = eid
        # the cuts: a dashed link from the previous state to the detached copy, no gradient
        for band, t, which, _p, _n, prev_t in self.cuts:
            iid = f"cut_{band.index}_{which}_{t}"
            prev_item = self.item_of_node.get((band.h if which == "h" else band.c).get(prev_t))
            eid = f"cutlink_{band.index}_{which}_{t}"
            if prev_item is None or eid in self.edges:
                continue
            self.edges[eid] = DrawnEdge(
                eid,
                prev_item,
                iid,
                "cut",
                attrs={
                    "style": "dashed",
                    "color": CUT_COLOR,
                    "arrowhead": "tee",
                    "penwidth": "1.2",
                },
            )
        # the elision: dashed links through the folded steps
        if self.elided:
            for band in self.bands:
                left = self.item_of_node.get(band.h.get(self.shown[KEEP_EACH_SIDE - 1]))
                right = self.item_of_node.get(band.h.get(self.shown[KEEP_EACH_SIDE]))
                a, b = (right, left) if band.reverse else (left, right)
                for s, d in ((a, f"elide_{band.index}"), (f"elide_{band.index}", b)):
                    if s is not None and d is not None:
                        eid = f"el_{s}__{d}"
                        self.edges[eid] = DrawnEdge(eid, s, d, "elide", attrs={"style": "dotted"})
        for it in self.items.values():
            names = it.attrs.pop("_names", None)
            if names is not None:
                text = " ".join(names)
                short = list(dict.fromkeys(n.split(" ")[0] for n in names))
                # wrapped to the lane, so neighbouring columns' references never overlap
                room = max(self.lane_w * 0.6, 60.0)
                lines = [""]
                for name in short:
                    candidate = f"{lines[-1]} {name}".strip()
                    if lines[-1] and _text_width([candidate], 7) > room:
                        lines.append(name)
                    else:
                        lines[-1] = candidate
                it.label = _plain("<BR/>".join(html_text(ln) for ln in lines), 7, "#1f4f9f")
                it.width = _text_width(lines, 7)
                it.height = 9 * len(lines) + 3
                it.y -= (len(lines) - 1) * 4.5
                it.attrs["tooltip"] = _attr_text(text)
                it.x = it.x - it.width / 2 + 4

    def _edge_norm(self, engine: list[Edge], sent: dict) -> float | None:
        if self.trace is None:
            # Without the events, an edge shows its source's total gradient (exact on chains).
            srcs = {e.src for e in engine}
            norms = [self.g.node(s).grad.norm for s in srcs if self.g.node(s).grad is not None]
            if not norms or any(s in self.weightish for s in srcs):
                return None
            return math.sqrt(sum(n * n for n in norms))
        by_src: dict[int, object] = {}
        found = False
        sq = 0.0
        for e in engine:
            s = sent.get((e.src, e.dst, e.index))
            if s is None:
                continue
            found = True
            if s.array is not None and not hasattr(s.array, "indices"):
                arr = np.asarray(s.array, dtype=np.float64)
                if e.src in by_src and np.shape(by_src[e.src]) == arr.shape:
                    by_src[e.src] = by_src[e.src] + arr
                elif e.src not in by_src:
                    by_src[e.src] = arr
                else:
                    sq += float(np.sum(arr * arr))
            else:
                sq += s.grad.norm**2
        if not found:
            return None
        for arr in by_src.values():
            sq += float(np.sum(arr * arr))
        return math.sqrt(sq)

    def _once_item(self, w: int) -> str:
        """weights="once" (or a weight read outside the steps): one item per shared weight."""
        if w in self.once_items:
            return self.once_items[w]
        params = self._params_of(w)
        if w in self.params:
            name = self.param_names.get(w, "W")
            iid = f"w_{w}"
        else:
            names = [self.param_names.get(p, "W") for p in params]
            op = self.g.node(w).op
            name = (
                ("[" + " | ".join(names) + "]ᵀ")
                if op in ("contiguous", "permute")
                else (" + ".join(names) if op == "+" else f"{op}(" + ", ".join(names) + ")")
            )
            iid = f"w_{w}"
        node = self.g.node(w)
        lines = []
        if self.grads and node.grad is not None:
            lines.append((f"‖∂L/∂W‖ {_norm(node.grad)}", "#a50f15"))
        kind = style.KIND_STYLES["parameter"]
        it = Item(
            iid,
            "weight",
            0,
            0,
            _label(f"<B>{html_text(name)}</B>", lines, border=kind.border, fill=kind.fill, bw=2),
            width=_text_width([name, "‖∂L/∂W‖ 1.23e-05"], 9),
            height=30,
        )
        self.add_item(it, [w] + [p for p in params])
        self.once_items[w] = iid
        self.once_parts[iid] = (name, lines, params)
        return iid

    def place_once_weights(self) -> None:
        """The weights drawn once (weights="once"): a row between the inputs and the first
        band, each weight midway between two columns, so no input edge runs through one.
        A weight read only outside the steps (a head after the loop) sits by its consumer."""
        consumers: dict[str, list[Item]] = defaultdict(list)
        for e in self.edges.values():
            if e.src in self.items and self.items[e.src].kind == "weight":
                consumers[e.src].append(self.items[e.dst])
        once = list(self.once_items.values())
        head = [i for i in once if consumers[i] and all(c.step is None for c in consumers[i])]
        self.head_weights = set(head)
        self._place_head_weights(head, consumers)
        ws = [self.items[i] for i in once if i not in self.head_weights]
        if not ws:
            return
        gaps = [
            (self.col_x[a] + self.col_x[b]) / 2 for a, b in zip(self.shown, self.shown[1:])
        ] or [self.col_x[self.shown[0]] + self.col_w / 2]
        middle = len(gaps) // 2
        order = sorted(range(len(gaps)), key=lambda i: (abs(i - middle + 0.5), i))
        slots = sorted(order[: len(ws)]) if len(ws) <= len(gaps) else None
        y = getattr(self, "once_row", self.x_row - 70)
        if slots is not None:
            for w, i in zip(ws, slots):
                w.x, w.y = gaps[i], y
        else:
            total = sum(w.width + 30 for w in ws)
            x = (gaps[0] + gaps[-1]) / 2 - total / 2
            for w in ws:
                w.x, w.y = x + (w.width + 30) / 2, y
                x += w.width + 30

    def _turn_step_labels(self) -> None:
        """A step's "t=..." label goes below its edge, on the side away from the h_t row: the
        edge leaves the step's box downwards, to the left or to the right."""
        for e in self.edges.values():
            if e.attrs.get("_label_at") == "head":
                w, step = self.items[e.src], self.items[e.dst]
                e.attrs["labelangle"] = "35" if w.x < step.x else "-35"

    def _place_head_weights(self, head: list[str], consumers: dict) -> None:
        """Weights read once, after the steps: right above their consumer when it sits in the
        top row (the loss), else just right of it; short edges, and no row in the panel."""
        above: list[tuple[float, Item]] = []
        beside: dict[str, float] = {}
        for iid in head:
            w = self.items[iid]
            name, lines, params = self.once_parts[iid]
            if not any(p in self.step_params for p in params):
                lines = lines + [("used once, after the steps", "#555555")]
                kind = style.KIND_STYLES["parameter"]
                w.label = _label(
                    f"<B>{html_text(name)}</B>", lines, border=kind.border, fill=kind.fill, bw=2
                )
                w.width = max(w.width, _text_width(["used once, after the steps"], 8))
                w.height = 14 + 11 * len(lines)
            c = max(consumers[iid], key=lambda i: (i.kind == "tail", i.y))
            if c.kind == "tail":
                w.y = c.y + c.height / 2 + 22 + w.height / 2
                above.append((c, w))
            else:
                x = beside.get(c.id, c.x + c.width / 2 + 24)
                w.x, w.y = x + w.width / 2, c.y
                beside[c.id] = x + w.width + 12
        # the row above the loss: each consumer's weights centred over it, pushed apart where
        # two groups meet
        groups: dict[str, list[Item]] = defaultdict(list)
        for c, w in above:
            groups[c.id].append(w)
        right = -math.inf
        for cid in sorted(groups, key=lambda i: self.items[i].x):
            ws = groups[cid]
            total = sum(w.width for w in ws) + 12 * (len(ws) - 1)
            x = max(self.items[cid].x - total / 2, right + 12)
            for w in ws:
                w.x = x + w.width / 2
                x += w.width + 12
            right = x - 12
        for _, w in above:
            self.top = max(self.top, w.y + w.height / 2 + 10)

    # -- the weights panel ---------------------------------------------------------------------

    def contributions(self) -> None:
        """Per step, each parameter's part of dL/dW: the gradients the step's nodes sent to the
        weight (through the once-per-call join, split back by its operands' shapes)."""
        self.contrib: dict[int, dict] = defaultdict(dict)
        self.contrib_ok = self.trace is not None
        if self.trace is None:
            return
        col_of_node = {}
        for band in self.bands:
            for t, ids in band.by_t.items():
                for n in ids:
                    col_of_node[n] = t
        for n in self.head:
            it = self.items.get(self.item_of_node.get(n, ""))
            col_of_node[n] = it.step if it is not None else None
        for ev in self.trace.events:
            for s in ev.sent:
                src, dst = s.edge.src, s.edge.dst
                if src not in self.weightish or dst in self.weightish:
                    continue
                if s.array is None:
                    self.contrib_ok = False
                    continue
                t = col_of_node.get(dst)
                parts = _split_to_params(src, s.array, self.g, self.parents, self.params)
                if parts is None:
                    self.contrib_ok = False
                    continue
                for p, arr in parts.items():
                    bucket = self.contrib[p]
                    bucket[t] = bucket[t] + arr if t in bucket else arr

    def build_panel(self) -> None:
        if not self.params:
            return
        y = getattr(self, "panel_top", self.x_row - 40)
        x_label = min(self.first_x - self.col_w * 0.1 - 20, 70.0)
        title = "weights panel: each parameter once; bar = that step's part of ‖dL/dW‖"
        if not self.contrib_ok:
            title = (
                "weights (per-step bars need the backward events: pass "
                "trace=trace_backward(loss, keep_arrays=True))"
                if self.grads
                else "weights"
            )
        self.add_item(
            Item(
                "panel_title",
                "panel",
                self.col_x[self.shown[0]] + 60,
                y,
                _plain(f"<B>{html_text(title)}</B>", 9, "#1f4f9f"),
                width=400,
                height=16,
            )
        )
        self.panel_norms: dict[str, dict] = {}
        # Only parameters read inside the steps get a row: a head's weights, read once after the
        # steps, are drawn beside the op that reads them (see _place_head_weights).
        ordered = sorted(p for p in self.params if p in self.step_params)
        scale = self.scale
        y -= 30
        for p in ordered:
            name = self.param_names[p]
            node = self.g.node(p)
            total = f" ‖∂L/∂W‖ {_norm(node.grad)}" if self.grads and node.grad is not None else ""
            lab = Item(
                f"w_{p}" if f"w_{p}" not in self.items else f"wrow_{p}",
                "weight_row",
                x_label,
                y + BAR_MAX / 2 - 6,
                _plain(
                    f"<B>{html_text(name)}</B>"
                    + (f'<BR/><FONT POINT-SIZE="7">{html_text(total)}</FONT>' if total else ""),
                    9,
                    "#1f4f9f",
                ),
                width=120,
                height=26,
            )
            self.add_item(lab, [p])
            norms = {}
            if self.contrib_ok:
                per_t = self.contrib.get(p, {})
                for t, arr in per_t.items():
                    norms[t] = float(np.sqrt(np.sum(arr * arr)))
                self.panel_norms[name] = norms
                for t in self.shown:
                    self._bar(p, t, self.col_x[t], y, norms.get(t), scale)
                if self.elided:
                    # The folded steps' part, summed: a number, not a bar (it adds many steps,
                    # so it would not compare with one step's bar).
                    parts = [per_t[t] for t in self.elided if t in per_t]
                    tot = sum(parts[1:], parts[0]) if parts else np.zeros(1)
                    v = float(np.sqrt(np.sum(tot * tot)))
                    self.add_item(
                        Item(
                            f"barsum_{p}",
                            "barvalue",
                            self.elide_x,
                            y + BAR_MAX / 2 - 6,
                            _plain(
                                f"Σ {len(self.elided)} steps<BR/>{html_text(format_number(v, 3))}",
                                7,
                                "#555555",
                            ),
                            width=60,
                            height=20,
                        )
                    )
            y -= BAR_MAX + 30
        self.bottom = y

    def _bar(self, p, t, x, y, v, scale) -> None:
        if v is None:
            return
        if v > 0 and math.isfinite(v) and not scale.empty:
            frac = scale._fraction(v)
        else:
            frac = 0.0
        h = 2 + frac * (BAR_MAX - 2)
        color = scale.color(v)
        iid = f"bar_{p}_{t}"
        self.add_item(
            Item(
                iid,
                "bar",
                x,
                y + h / 2,
                '""',
                {
                    "shape": "box",
                    "style": "filled",
                    "fillcolor": color,
                    "color": color,
                    "width": "0.22",
                    "height": f"{h / 72:.3f}",
                    "fixedsize": "true",
                    "tooltip": _attr_text(f"{self.param_names[p]}, t={t}: {format_number(v, 3)}"),
                },
                step=None if t == "elided" else t,
                width=16,
                height=h,
            )
        )
        self.add_item(
            Item(
                f"barv_{p}_{t}",
                "barvalue",
                x,
                y - 7,
                _plain(html_text(format_number(v, 2)), 7, "#555555"),
                step=None if t == "elided" else t,
                width=30,
                height=10,
            )
        )

    # -- styling and the frame -----------------------------------------------------------------

    def make_scale(self) -> None:
        norms = [e.norm for e in self.edges.values() if e.norm is not None]
        for per in self.contrib.values():
            for arr in per.values():
                norms.append(float(np.sqrt(np.sum(arr * arr))))
        self.scale = style.GradScale(norms)

    def style_edges(self) -> None:
        scale = self.scale
        for e in self.edges.values():
            if e.kind in ("cut", "elide"):
                continue
            if self.gradient_flow:
                e.attrs.update(
                    {
                        "dir": "back",
                        "color": scale.color(e.norm),
                        "penwidth": str(scale.width(e.norm)),
                    }
                )
                if e.norm is None:
                    e.attrs["style"] = "dashed" if self.items[e.src].kind == "cut" else "solid"
            if e.kind == "weight_edge" and self.weights == "per-step":
                e.attrs.setdefault("arrowsize", "0.4")
            if self.items[e.src].kind == "cut":
                e.attrs.update({"style": "dashed", "color": CUT_COLOR})

    def title_and_legend(self) -> None:
        bands = ", ".join(sorted({b.stack.split("/")[0] or "loop" for b in self.bands}))
        n = len(self.window_t)
        parts = [f"{bands}: {n} steps", f"level {self.level!r}", f"weights {self.weights!r}"]
        if self.gradient_flow:
            parts.append("gradient flow (arrows point backwards)")
        elif self.grads:
            parts.append("forward only (call backward(retain_graph=True) or pass a trace)")
        if self.window is not None:
            parts.append(f"window t={self.window_t[0]}..{self.window_t[-1]}")
        parts.extend(self.folded)
        if self.cuts:
            parts.append(f"{len({(c[0].index, c[1], c[2]) for c in self.cuts})} truncation cut(s)")
        self.title = "; ".join(parts)
        x = self.col_x[self.shown[0]] - self.col_w / 2
        self.add_item(
            Item(
                "title",
                "title",
                x + 200,
                self.top + 62,
                _plain(f"<B>{html_text(self.title)}</B>", 11, "#222222"),
                width=400,
                height=18,
            )
        )
        note = f"{self.bands[0].state_name}_t = state after step t"
        if self.gradient_flow:
            html = style.grad_legend_html(self.scale, note)
        else:
            html = _plain(html_text(note), 8, "#444444")
        self.add_item(Item("legend", "legend", x + 200, self.top + 24, html, width=400, height=30))

    def state_grads(self) -> dict:
        out = {}
        for band in self.bands:
            out[band.stack] = {
                t: (self.g.node(n).grad.norm if self.g.node(n).grad is not None else None)
                for t, n in sorted(band.h.items())
            }
        return out

    def fix_extent(self) -> None:
        """Shift everything so the drawing starts at (0, 0) (nop2 keeps positions as given)."""
        xs = [i.x - i.width / 2 for i in self.items.values()]
        ys = [i.y - i.height / 2 for i in self.items.values()]
        dx, dy = 20 - min(xs), 20 - min(ys)
        for i in self.items.values():
            i.x += dx
            i.y += dy

    def build(self) -> UnrolledLayout:
        self.analyse()
        self.build_step_items()
        self.place()
        self.fold_dropout()
        self.build_sources()
        self.build_inputs()
        self.build_init_and_cuts()
        self.build_heads()
        self.build_elision()
        self.build_row_labels()
        self.build_edges()
        self.place_once_weights()
        self._turn_step_labels()
        self.contributions()
        self.make_scale()
        self.build_panel()
        self.style_edges()
        self.title_and_legend()
        self.fix_extent()
        names = {self.param_names[p]: p for p in self.params}
        contributions = {}
        arrays = {}
        if self.contrib_ok:
            for name, p in names.items():
                per = self.contrib.get(p, {})
                contributions[name] = {t: float(np.sqrt(np.sum(a * a))) for t, a in per.items()}
                arrays[name] = dict(per)
        return UnrolledLayout(
            items=self.items,
            edges=self.edges,
            item_of_node=self.item_of_node,
            edge_of=self.edge_of,
            step_of_item={i: it.step for i, it in self.items.items()},
            steps=list(self.shown),
            title=self.title,
            level=self.level,
            weights=self.weights,
            gradient_flow=self.gradient_flow,
            folded=list(self.folded),
            contributions=contributions,
            contribution_arrays=arrays,
            param_names={p: self.param_names[p] for p in self.params},
            state_grads=self.state_grads(),
            cuts=sorted({f"cut_{c[0].index}_{c[2]}_{c[1]}" for c in self.cuts}),
        )


def _scalar_constant(node: NodeInfo) -> bool:
    """A constant that scales or shifts a weight (a number), not data."""
    return node.kind == "constant" and math.prod(node.shape) <= 1


def _summary_of(arr: np.ndarray) -> Summary:
    from tinygrad_lite.graph import summarize

    return summarize(arr)


# ---------------------------------------------------------------------------------------------
# The public wrapper
# ---------------------------------------------------------------------------------------------


def draw_unrolled(
    loss,
    *,
    level: str = "cell",
    steps: slice | None = None,
    weights: str = "per-step",
    values: bool = True,
    grads: bool = True,
    trace: BackwardTrace | None = None,
    max_columns: int | None = MAX_COLUMNS,
) -> UnrolledDrawing:
    """Draw a recurrent graph unrolled through time: one column per step, h_t on one row.

    `loss` is the output (a Tensor) or a `BackwardTrace`. After `loss.backward(retain_graph=True)`
    the backward pass is replayed (nothing is added to `.grad` again) to read the gradient each
    step sent along each edge and to each shared weight; after a plain `backward()` the graph is
    gone, so the drawing shows the final gradients only (no per-step bars). Before any backward
    it draws the forward graph. `level` is "cell" (one box per step), "gate" (named gates) or
    "op" (every op); `weights` "per-step" (a reference per column and a weights panel) or
    "once"; `steps=slice(a, b)` shows a window; more than `max_columns` (40) columns fold the
    middle steps, keeping the first and last 10 (`max_columns=None` never folds).

    >>> from tinygrad_lite import nn, randn, manual_seed
    >>> import viz
    >>> manual_seed(0)
    >>> out, _ = nn.LSTM(2, 3)(randn(4, 1, 2))
    >>> loss = (out * out).sum()
    >>> loss.backward(retain_graph=True)
    >>> d = viz.draw_unrolled(loss, level="gate")
    >>> d.layout.steps, d.layout.gradient_flow, "gate_0_2_f" in d.layout.items
    ([0, 1, 2, 3], True, True)
    """
    _check(level, weights, steps)
    if isinstance(loss, BackwardTrace):
        trace, graph = loss, loss.graph
    elif trace is not None:
        graph = trace.graph
    else:
        from tinygrad_lite import GraphFreedError, Tensor, Value
        from tinygrad_lite.graph import trace_backward

        if not isinstance(loss, (Tensor, Value)):
            raise TypeError(
                f"draw_unrolled: expected a Tensor (the loss) or a BackwardTrace, got "
                f"{type(loss).__name__}"
            )
        graph = export_graph(loss)
        out = graph.node(graph.outputs[0])
        if grads and out.grad is not None:
            try:
                trace = trace_backward(loss, retain_graph=True, keep_arrays=True)
                graph = trace.graph
            except GraphFreedError:
                trace = None
    layout = layout_unrolled(
        graph,
        level=level,
        steps=steps,
        weights=weights,
        trace=trace,
        values=values,
        grads=grads,
        max_columns=max_columns,
    )
    return UnrolledDrawing(layout)
