"""The backward pass as a sequence of frames on one fixed layout: what a stepper shows.

`bptt_frames(loss)` runs (or replays) the engine's own backward walk through
`tinygrad_lite.graph.trace_backward` (there is no second backprop here) and turns each event
into a `Frame`: the node being processed, the gradient it sent along each edge, which nodes
already hold their final gradient, and how much every node that collects from several places
(a shared weight collecting from every time step) has accumulated so far. The graph is laid out
once (`viz.unrolled.layout_unrolled`); a frame is only a change of state on that layout, given as
CSS classes per drawn item and edge id (`Frame.classes`), so the numbered SVGs, the HTML page
and the Jupyter view never run a Graphviz layout per frame.

When is a gradient final? The driver processes a node only once every consumer has sent to it,
so the processed node of event k holds its final gradient from then on; a leaf holds its final
gradient once the last event that sends to it has run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import graphviz
import numpy as np

from tinygrad_lite.errors import GraphFreedError
from tinygrad_lite.graph import BackwardTrace, Graph, NodeInfo, trace_backward
from tinygrad_lite.safe_io import write_file

from .escape import format_number
from .timeline import parse_time_scope
from .unrolled import UnrolledLayout, layout_unrolled

__all__ = ["BPTTFrames", "Frame", "bptt_frames", "save_frames"]

GRANULARITIES = ("node", "step")

# One CSS block restyles the one rendered SVG for every frame (the page uses the same classes).
FRAME_CSS = """
g.tl-pending { opacity: 0.22; }
g.tl-partial { opacity: 0.75; }
g.tl-done { opacity: 1; }
g.tl-current polygon, g.tl-current path, g.tl-current ellipse {
  stroke: #d62728 !important; stroke-width: 3px !important; }
g.tl-current { opacity: 1; }
g.edge.tl-pending { opacity: 0.12; }
g.edge.tl-sent { opacity: 1; }
g.edge.tl-now path { stroke: #d62728 !important; stroke-width: 4px !important; }
g.edge.tl-now polygon { stroke: #d62728 !important; fill: #d62728 !important; }
"""


@dataclass(frozen=True)
class Frame:
    """One state of the backward pass.

    - `index`: the frame's number; `events`: the indices (in `trace.events`) of the backward
      events it shows (one with granularity "node", one time step's events with "step");
    - `nodes`: the engine node ids processed in this frame; `step`: their time step (None when
      they are outside the steps, e.g. the loss or the weights' preparation);
    - `sent`: ((src, dst, index), ||gradient sent||) for every edge a gradient went along;
    - `accumulated`: node id -> (contributions so far, ||running sum||) for every node that
      received a gradient in this frame and collects from several edges (a shared weight);
    - `newly_finished`: nodes whose gradient became final in this frame (`finished` is the
      set of all nodes final so far; it only grows);
    - `description`: the frame in words (op, scope, time step, norms);
    - `classes`: drawn item or edge id -> CSS class (`tl-current`, `tl-done`, `tl-partial`,
      `tl-pending`, `tl-now`, `tl-sent`) for every drawn element in this state.
    """

    index: int
    events: tuple[int, ...]
    nodes: tuple[int, ...]
    step: int | None
    sent: tuple[tuple[tuple[int, int, int], float], ...]
    accumulated: dict
    newly_finished: tuple[int, ...]
    description: str
    current_items: tuple[str, ...]
    _owner: BPTTFrames = field(repr=False, compare=False, default=None)

    @property
    def event(self) -> int:
        """The index of the (last) backward event this frame shows, as in `trace.events`."""
        return self.events[-1]

    @property
    def finished(self) -> frozenset[int]:
        """Every node that holds its final gradient once this frame has run."""
        return self._owner.finished(self.index)

    @property
    def grad_norms(self) -> dict[int, float]:
        """node id -> ||gradient accumulated so far|| for every node reached by this frame."""
        return self._owner.grad_norms(self.index)

    @property
    def classes(self) -> dict[str, str]:
        """Drawn item/edge id -> CSS class in this frame's state."""
        return self._owner.classes(self.index)


class BPTTFrames(Sequence):
    """The frames of one backward pass (a sequence of `Frame`), with the layout they restyle,
    the trace they come from and the leaves' gradients summed from the events
    (`leaf_grads`, equal to each leaf's `.grad`). `digraphs()` gives one `graphviz.Digraph`
    per frame (positions pinned) for Jupyter; `save_frames` and `viz.save_stepper` write them."""

    def __init__(self, trace, layout, frames, leaf_grads, item_changes, edge_changes, flow):
        self.trace: BackwardTrace = trace
        self.layout: UnrolledLayout = layout
        self._frames = frames
        self.leaf_grads: dict[int, np.ndarray] = leaf_grads
        self._item_changes = item_changes  # per frame: [(item id, class)]
        self._edge_changes = edge_changes  # per frame: [(edge id, class)]
        self.flow = flow  # viz.flow.GradientFlow or None (no recurrence found)
        self._state_cache: dict = {}

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, k):
        return self._frames[k]

    @property
    def graph(self) -> Graph:
        return self.trace.graph

    # -- state at frame k, replayed from the per-frame changes ------------------------------

    def finished(self, k: int) -> frozenset[int]:
        """Nodes holding their final gradient once frame `k` has run."""
        done: set[int] = set()
        for f in self._frames[: k + 1]:
            done.update(f.newly_finished)
        return frozenset(done)

    def grad_norms(self, k: int) -> dict[int, float]:
        """node id -> ||gradient received so far|| once frame `k` has run."""
        sums: dict[int, np.ndarray] = {}
        for e in self.trace.events[: self._frames[k].events[-1] + 1]:
            for s in e.sent:
                a = np.asarray(s.array, dtype=np.float64)
                sums[s.edge.src] = a if s.edge.src not in sums else sums[s.edge.src] + a
        out = {n: float(np.sqrt(np.sum(a * a))) for n, a in sums.items()}
        for e in self.trace.events[: self._frames[k].events[-1] + 1]:
            out.setdefault(e.node, e.grad.norm)
        return out

    def classes(self, k: int) -> dict[str, str]:
        """Drawn item/edge id -> CSS class once frame `k` has run (see `Frame.classes`)."""
        state = dict.fromkeys(self.changing(), "tl-pending")
        for changes in (self._item_changes, self._edge_changes):
            for frame_changes in changes[: k + 1]:
                state.update(frame_changes)
        for item in self._frames[k].current_items:
            state[item] = "tl-current"
        for edge_id in self._edges_now(k):
            state[edge_id] = "tl-now"
        return state

    def changing(self) -> list[str]:
        """The drawn ids whose state some frame changes (they start as `tl-pending`); the
        others (titles, inputs, edges no gradient goes along) keep their plain look."""
        if "changing" not in self._state_cache:
            ids: dict[str, None] = {}
            for k in range(len(self._frames)):
                for changes in (self._item_changes[k], self._edge_changes[k]):
                    ids.update(dict.fromkeys(i for i, _ in changes))
                ids.update(dict.fromkeys(self._frames[k].current_items))
                ids.update(dict.fromkeys(self._edges_now(k)))
            self._state_cache["changing"] = list(ids)
        return self._state_cache["changing"]

    def _edges_now(self, k: int) -> list[str]:
        edge_of = self.layout.edge_of
        return sorted({edge_of[key] for key, _ in self._frames[k].sent if key in edge_of})

    def changes(self, k: int) -> tuple[list, list]:
        """What frame `k` changes (item and edge class updates), as the page replays them."""
        return self._item_changes[k], self._edge_changes[k]

    # -- outputs ----------------------------------------------------------------------------

    def svg(self, k: int) -> str:
        """The one rendered SVG with frame `k`'s state injected as a `<style>` block."""
        return restyled_svg(self.layout.svg(), self.classes(k))

    def digraph(self, k: int) -> graphviz.Digraph:
        """Frame `k` as a `graphviz.Digraph` with pinned positions (Jupyter shows it)."""
        styles = {}
        for elem, cls in self.classes(k).items():
            if cls == "tl-pending":
                styles[elem] = {"color": "#d0d0d0", "fontcolor": "#b0b0b0"}
            elif cls in ("tl-current", "tl-now"):
                styles[elem] = {"color": "#d62728", "penwidth": "3"}
        lines = self.layout.to_dot(styles).splitlines()
        body = [line + "\n" for line in lines[1:-1]]
        return graphviz.Digraph(name="unrolled", engine="neato", body=body)

    def digraphs(self) -> list[graphviz.Digraph]:
        """One `graphviz.Digraph` per frame, same pinned layout (for Jupyter)."""
        return [self.digraph(k) for k in range(len(self))]

    def __repr__(self) -> str:
        return f"BPTTFrames({len(self)} frames over {len(self.trace.events)} backward events)"


def restyled_svg(svg: str, classes: dict[str, str]) -> str:
    """The SVG with a `<style>` block giving every listed element id its frame class.

    Element ids come from the layout (letters, digits, `_` and `-` only); anything else is
    skipped, so nothing from the data can break out of the style block."""
    by_class: dict[str, list[str]] = {}
    for elem, cls in classes.items():
        if _SAFE_ID.fullmatch(elem):
            by_class.setdefault(cls, []).append(elem)
    rules = []
    for cls, ids in sorted(by_class.items()):
        style = _CSS_BY_CLASS.get(cls)
        if style is None:
            continue
        own, inner = style
        rules.append(", ".join(f"#{i}" for i in ids) + " { " + own + " }")
        if inner:
            shapes = ", ".join(f"#{i} {t}" for i in ids for t in ("polygon", "path", "ellipse"))
            rules.append(shapes + " { " + inner + " }")
    block = "<style>" + "\n".join(rules) + "</style>"
    at = svg.find(">", svg.find("<svg")) + 1
    return svg[:at] + "\n" + block + svg[at:]


_SAFE_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
# class -> (declarations for the element, declarations for its shapes)
_CSS_BY_CLASS = {
    "tl-pending": ("opacity: 0.2;", ""),
    "tl-partial": ("opacity: 0.75;", ""),
    "tl-current": ("opacity: 1;", "stroke: #d62728 !important; stroke-width: 3px !important;"),
    "tl-now": ("opacity: 1;", "stroke: #d62728 !important; stroke-width: 4px !important;"),
}


_GATE_WORDS = {
    "i": "input gate",
    "f": "forget gate",
    "g": "candidate",
    "o": "output gate",
    "r": "reset gate",
    "z": "update gate",
    "n": "candidate",
}


def node_name(node: NodeInfo, layout: UnrolledLayout | None = None) -> str:
    """A short human name for a node, as the drawing shows it: h_3, c_3, the cell at t = 3,
    the forget gate at t = 3, x_3, W_hh; else its label, else its op and id."""
    if node.label:
        return node.label
    if layout is not None:
        if node.id in layout.param_names:
            return layout.param_names[node.id]
        item = layout.item_of_node.get(node.id)
        drawn = layout.items.get(item) if item else None
        if drawn is not None and drawn.step is not None:
            t = drawn.step
            place = parse_time_scope(node.scope)
            lane = ""
            if place is not None and len(layout.state_grads) > 1:
                lane = f" of {place.stack}"
            if drawn.kind in ("h", "c", "x"):
                return f"{drawn.kind}_{t}{lane}"
            if drawn.kind == "gate":
                word = _GATE_WORDS.get(item.rsplit("_", 1)[-1], "gate")
                return f"the {word} at t = {t}{lane}"
            if drawn.kind in ("cell", "gates"):
                what = "gates" if drawn.kind == "gates" or node.op.endswith("gates") else "cell"
                return f"the {what} at t = {t}{lane}"
    if node.scope.endswith("/weights") and node.kind == "op" and layout is not None:
        params = _params_above(node.id, layout)
        if params:
            return f"the shared {' & '.join(params)} ({node.op} of the weights)"
    if node.kind == "op":
        return f"{node.op} #{node.id}"
    return f"{node.kind} #{node.id}"


def _params_above(node_id: int, layout: UnrolledLayout) -> list[str]:
    """Names of the parameters a weight-preparation node is built from (W_ih, W_hh, ...),
    found by an iterative walk up the graph (the parents map is built once per layout)."""
    cache = layout.__dict__.setdefault("_stepper_params_above", {})
    if node_id in cache:
        return cache[node_id]
    parents = layout.__dict__.get("_stepper_parents")
    if parents is None:
        parents = {}
        graph = layout.__dict__["_stepper_graph"]
        for e in sorted(graph.edges, key=lambda e: e.index):
            parents.setdefault(e.dst, []).append(e.src)
        layout.__dict__["_stepper_parents"] = parents
    found, stack, seen = [], [node_id], {node_id}
    while stack:
        n = stack.pop()
        if n in layout.param_names:
            found.append((n, layout.param_names[n]))
            continue
        for p in parents.get(n, ()):
            if p not in seen:
                seen.add(p)
                stack.append(p)
    cache[node_id] = [name for _, name in sorted(found)]
    return cache[node_id]


def _describe(graph, layout, events, accumulated, step, incoming) -> str:
    parts = []
    for e in events:
        node = graph.node(e.node)
        name = node_name(node, layout)
        where = f" [scope {node.scope}]" if node.scope else ""
        sends = "; ".join(
            f"{format_number(s.grad.norm)} to {node_name(graph.node(s.edge.src), layout)}"
            for s in e.sent
        )
        text = (
            f"Event {e.index + 1}: {name} (op {node.op}){where} has its full gradient, "
            f"||dL/d {name}|| = {format_number(e.grad.norm)}"
        )
        text += f". It sends gradients of norm {sends}." if sends else "; it sends nothing on."
        parts.append(text)
    shown = list(accumulated.items())
    for nid, (count, norm) in shown[:4]:
        total = incoming[nid]
        state = "complete" if count == total else "so far"
        parts.append(
            f"Summing at {node_name(graph.node(nid), layout)}: {count} of {total} "
            f"contributions, ||sum {state}|| = {format_number(norm)}."
        )
    if len(shown) > 4:
        parts.append(f"(and {len(shown) - 4} more nodes summing)")
    if len(parts) > 8:
        parts = parts[:6] + [f"... and {len(parts) - 6} more."]
    return " ".join(parts)


def bptt_frames(
    loss,
    *,
    granularity: str = "node",
    level: str = "cell",
    steps: slice | None = None,
    weights: str = "per-step",
    model=None,
) -> BPTTFrames:
    """The backward pass of `loss` as frames on one fixed unrolled layout.

    Call it in place of `loss.backward()` (it runs the same pass, accumulating `.grad`), or
    after your own `loss.backward(retain_graph=True)` (it then replays the pass without adding
    into `.grad` again); `loss` may also be a `BackwardTrace` taken with `keep_arrays=True`.
    `granularity="node"` gives one frame per backward event, `"step"` one frame per time step
    (consecutive events of one step together). `level`, `steps` and `weights` are those of
    `viz.draw_unrolled`; `model` (a Module) lets the gradient-flow chart show rho(W_hh).

    >>> import tinygrad_lite as tl
    >>> from tinygrad_lite import nn, randn
    >>> tl.manual_seed(0)
    >>> rnn = nn.RNN(2, 3)
    >>> out, _ = rnn(randn(3, 1, 2))
    >>> frames = bptt_frames(out.sum())
    >>> len(frames) == len(frames.trace.events)
    True
    >>> import numpy as np
    >>> bool(np.allclose(frames.leaf_grads[rnn.weight_hh_l0._id], rnn.weight_hh_l0.grad.data))
    True
    """
    if granularity not in GRANULARITIES:
        raise ValueError(
            f"bptt_frames: granularity must be one of {GRANULARITIES}, got {granularity!r}"
        )
    if isinstance(loss, BackwardTrace):
        trace = loss
        if trace.events and trace.events[0].sent and trace.events[0].sent[0].array is None:
            raise ValueError(
                "bptt_frames: the trace has no gradient arrays; take it with "
                "trace_backward(loss, keep_arrays=True)"
            )
    else:
        try:
            trace = trace_backward(loss, retain_graph=True, keep_arrays=True)
        except GraphFreedError as err:
            raise GraphFreedError(
                f"bptt_frames: {err}; or call bptt_frames(loss) in place of loss.backward(), "
                "which runs the same pass"
            ) from None
    graph = trace.graph
    layout = layout_unrolled(graph, level=level, steps=steps, weights=weights, trace=trace)
    layout.__dict__["_stepper_graph"] = graph
    from .flow import gradient_flow  # flow imports frames' neighbours; keep the import local

    try:
        flow = gradient_flow(trace, model=model)
    except (ValueError, KeyError):
        flow = None
    return _build(trace, layout, granularity, flow)


def _step_key(graph: Graph, node_id: int):
    place = parse_time_scope(graph.node(node_id).scope)
    return None if place is None else (place.stack, place.t)


def _build(trace: BackwardTrace, layout: UnrolledLayout, granularity: str, flow) -> BPTTFrames:
    graph = trace.graph
    events = trace.events
    # Group events into frames.
    groups: list[list] = []
    if granularity == "node":
        groups = [[e] for e in events]
    else:
        last = object()
        for e in events:
            key = _step_key(graph, e.node)
            if groups and key == last and key is not None:
                groups[-1].append(e)
            else:
                groups.append([e])
            last = key
    # How many contributions each node receives over the whole pass, and the last event of each.
    incoming: dict[int, int] = {}
    last_event: dict[int, int] = {}
    for e in events:
        for s in e.sent:
            incoming[s.edge.src] = incoming.get(s.edge.src, 0) + 1
            last_event[s.edge.src] = e.index
    processed = {e.node for e in events}
    # Items: which engine nodes each shows; it is done when all of them are final.
    item_of = layout.item_of_node
    item_nodes: dict[str, set[int]] = {}
    for nid, item in item_of.items():
        if nid in processed or nid in incoming:
            item_nodes.setdefault(item, set()).add(nid)
    left = {item: set(nodes) for item, nodes in item_nodes.items()}
    bar_steps = _bar_steps(layout)
    gates = _gate_items(layout)
    ref_step_items = {
        eid: layout.items[d.src].step
        for eid, d in layout.edges.items()
        if d.src in layout.items and layout.items[d.src].kind == "ref"
    }

    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = {}
    frames, item_changes, edge_changes = [], [], []
    finished: set[int] = set()
    seen_bar_steps: set[int] = set()
    owner = BPTTFrames(trace, layout, frames, {}, item_changes, edge_changes, flow)
    for k, group in enumerate(groups):
        newly, sent, accumulated = [], [], {}
        i_changes: list[tuple[str, str]] = []
        e_changes: list[tuple[str, str]] = []
        for e in group:
            if e.node not in finished:
                finished.add(e.node)
                newly.append(e.node)
            for s in e.sent:
                src = s.edge.src
                a = np.asarray(s.array, dtype=np.float64)
                sums[src] = a.copy() if src not in sums else sums[src] + a
                counts[src] = counts.get(src, 0) + 1
                key = (s.edge.src, s.edge.dst, s.edge.index)
                sent.append((key, s.grad.norm))
                if incoming[src] > 1:
                    accumulated[src] = (counts[src], float(np.sqrt(np.sum(sums[src] ** 2))))
                if src not in processed and last_event[src] == e.index:  # a leaf, now final
                    finished.add(src)
                    newly.append(src)
                if src in item_of and src not in processed and src not in newly:
                    i_changes.append((item_of[src], "tl-partial"))
                edge_id = layout.edge_of.get(key)
                if edge_id is not None:
                    e_changes.append((edge_id, "tl-sent"))
                    t = ref_step_items.get(edge_id)
                    if t is not None:
                        i_changes.append((layout.edges[edge_id].src, "tl-done"))
                    if t is not None and t not in seen_bar_steps:
                        seen_bar_steps.add(t)
                        i_changes.extend((b, "tl-done") for b in bar_steps.get(t, ()))
        for nid in newly:
            item = item_of.get(nid)
            if item is None:
                continue
            left[item].discard(nid)
            i_changes.append((item, "tl-done" if not left[item] else "tl-partial"))
        for nid in {s.edge.src for e in group for s in e.sent}:  # receivers not final yet
            item = item_of.get(nid)
            if item is not None and left.get(item) and nid not in finished:
                i_changes.append((item, "tl-partial"))
        keys = {_step_key(graph, e.node) for e in group}
        step = None
        if len(keys) == 1 and None not in keys:
            step = next(iter(keys))[1]
        current = tuple(dict.fromkeys(item_of[e.node] for e in group if e.node in item_of))
        current += tuple(g for i in current for g in gates.get(i, ()))
        frames.append(
            Frame(
                index=k,
                events=tuple(e.index for e in group),
                nodes=tuple(e.node for e in group),
                step=step,
                sent=tuple(sent),
                accumulated=accumulated,
                newly_finished=tuple(newly),
                description=_describe(graph, layout, group, accumulated, step, incoming),
                current_items=current,
                _owner=owner,
            )
        )
        item_changes.append(i_changes + [(g, c) for i, c in i_changes for g in gates.get(i, ())])
        edge_changes.append(e_changes)
    owner.leaf_grads.update({n: a for n, a in sums.items() if n not in processed})
    return owner


def _gate_items(layout: UnrolledLayout) -> dict[str, list[str]]:
    """Level "gate": the gate boxes (gate_B_T_f, ...) drawn inside a fused cell op's item
    (cell_B_T) share its state, since one engine node computes them all."""
    out: dict[str, list[str]] = {}
    for item_id in layout.items:
        match = re.fullmatch(r"gate_(\d+)_(\d+)_\w+", item_id)
        if match and item_id not in layout.item_of_node.values():
            out.setdefault(f"cell_{match[1]}_{match[2]}", []).append(item_id)
    return out


def _bar_steps(layout: UnrolledLayout) -> dict[int, list[str]]:
    """Weights-panel bars (one per parameter and step) by time step."""
    out: dict[int, list[str]] = {}
    for item_id, item in layout.items.items():
        if item.kind in ("bar", "barvalue") and item.step is not None:
            out.setdefault(item.step, []).append(item_id)
    return out


def save_frames(frames: BPTTFrames, folder, *, overwrite: bool = False) -> list[str]:
    """Write one SVG per frame into `folder` (created if needed): frame_0000.svg, ...

    Every file is the one rendered layout restyled by an injected `<style>` block (no Graphviz
    run per frame). Existing files are never replaced unless `overwrite=True`. Returns the
    paths written.

    >>> import tempfile, os, tinygrad_lite as tl
    >>> from tinygrad_lite import nn, randn
    >>> tl.manual_seed(0)
    >>> out, _ = nn.RNN(2, 3)(randn(2, 1, 2))
    >>> folder = tempfile.mkdtemp()
    >>> paths = save_frames(bptt_frames(out.sum(), granularity="step"), folder)
    >>> sorted(os.listdir(folder))[:2]
    ['frame_0000.svg', 'frame_0001.svg']
    """
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    width = max(4, len(str(len(frames) - 1)))
    paths = []
    base = frames.layout.svg()
    for k in range(len(frames)):
        path = os.path.join(folder, f"frame_{k:0{width}d}.svg")
        write_file(path, restyled_svg(base, frames.classes(k)), overwrite=overwrite)
        paths.append(path)
    return paths
