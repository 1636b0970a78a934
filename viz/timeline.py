"""Time structure of an exported graph: which node belongs to which layer, direction and time
step, and which node is the hidden state h_t (and an LSTM's cell state c_t) of each step.

Everything is read from the nodes' scopes (see `tinygrad_lite.nn.recurrent` for the scheme the
library's layers use) and from the edges: no engine internals. A scope path holding a segment
`t={t}` is a time step; what comes before it names the *stack* (one layer and direction, e.g.
"lstm/l0_reverse", or "" for a user's loop run under `scope(f"t={t}")`), what follows it is the
step's sub-scope ("gates", "output", "dropout").

>>> parse_time_scope("lstm/l1_reverse/t=3/gates")
TimePlace(stack='lstm/l1_reverse', layer=1, reverse=True, t=3, sub='gates')
>>> parse_time_scope("rnn/output") is None
True
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, replace

from tinygrad_lite.graph import Graph

__all__ = [
    "TimePlace",
    "cell_states",
    "children_of",
    "hidden_states",
    "parse_time_scope",
    "step_nodes",
    "time_places",
]

_T = re.compile(r"t=(-?\d+)")
_LAYER = re.compile(r"l(\d+)(_reverse)?")


@dataclass(frozen=True)
class TimePlace:
    """Where a node sits in time: its stack (layer and direction), time step and sub-scope.

    `t` is the input's time index; in a reverse direction it counts down as the direction
    runs. `is_input` marks the slices of the input sequence ("{name}/input/t={t}")."""

    stack: str
    layer: int
    reverse: bool
    t: int
    sub: str

    @property
    def is_input(self) -> bool:
        """True for the slice of the input sequence a layer reads at step t."""
        return self.stack == "input" or self.stack.endswith("/input")


def parse_time_scope(scope: str) -> TimePlace | None:
    """The time place of a scope path, or None when it holds no `t={t}` segment.

    >>> parse_time_scope("rnn/l0/t=12")
    TimePlace(stack='rnn/l0', layer=0, reverse=False, t=12, sub='')
    >>> parse_time_scope("outer/t=2/gates")  # a user's loop under scope("t=2"), nested
    TimePlace(stack='outer', layer=0, reverse=False, t=2, sub='gates')
    """
    if not scope or "t=" not in scope:
        return None
    parts = scope.split("/")
    for i, part in enumerate(parts):
        m = _T.fullmatch(part)
        if m is None:
            continue
        before = parts[:i]
        layer, reverse = 0, False
        if before:
            lm = _LAYER.fullmatch(before[-1])
            if lm is not None:
                layer, reverse = int(lm.group(1)), lm.group(2) is not None
        return TimePlace(
            stack="/".join(before),
            layer=layer,
            reverse=reverse,
            t=int(m.group(1)),
            sub="/".join(parts[i + 1 :]),
        )
    return None


def _is_library_stack(stack: str) -> bool:
    last = stack.rsplit("/", 1)[-1]
    return _LAYER.fullmatch(last) is not None or last == "input"


def time_places(graph: Graph) -> dict[int, TimePlace]:
    """node id -> TimePlace for every node of a time step, with `t` counted across calls.

    A library layer called several times on one graph (truncated BPTT runs `rnn(x[0:3])`, then
    `rnn(x[3:6], h.detach())`, ...) restarts its scopes at t=0 on each call; here the second
    call's steps follow the first's, so the 9 steps of three 3-step calls are t = 0..8.

    >>> from tinygrad_lite import nn, randn, manual_seed
    >>> from tinygrad_lite.graph import export_graph
    >>> manual_seed(0)
    >>> rnn = nn.RNN(2, 3)
    >>> out1, h = rnn(randn(2, 1, 2))
    >>> out2, _ = rnn(randn(2, 1, 2), h.detach())
    >>> places = time_places(export_graph(out1.sum() + out2.sum()))
    >>> sorted({p.t for p in places.values() if p.stack == "rnn/l0"})
    [0, 1, 2, 3]
    """
    raw: dict[int, TimePlace] = {}
    for n in graph.nodes:
        place = parse_time_scope(n.scope)
        if place is not None:
            raw[n.id] = place
    by_stack: dict[str, list[int]] = defaultdict(list)
    for nid, place in raw.items():
        by_stack[place.stack].append(nid)
    out: dict[int, TimePlace] = {}
    for stack, ids in by_stack.items():
        ids.sort()
        if not _is_library_stack(stack):
            out.update((i, raw[i]) for i in ids)
            continue
        # Split into calls: within one call a forward stack's t never decreases (a reverse
        # stack's never increases); dropout nodes of a layer come after its steps and follow
        # the call they belong to.
        reverse = raw[ids[0]].reverse
        calls: list[list[int]] = []
        prev_t = None
        for i in ids:
            place = raw[i]
            if place.sub.startswith("dropout"):
                continue
            restart = prev_t is not None and (place.t > prev_t if reverse else place.t < prev_t)
            if not calls or restart:
                calls.append([])
            calls[-1].append(i)
            prev_t = place.t
        offset = 0
        starts = []
        for call in calls:
            starts.append((call[0], offset))
            for i in call:
                out[i] = replace(raw[i], t=raw[i].t + offset)
            offset += max(raw[i].t for i in call) + 1
        for i in ids:
            if i in out:
                continue
            shift = 0
            for first, off in starts:  # the latest call started before this dropout node
                if first < i:
                    shift = off
            out[i] = replace(raw[i], t=raw[i].t + shift)
    return out


def children_of(graph: Graph) -> dict[int, list[int]]:
    """node id -> the ids of the nodes that read it (one entry per edge, in edge order)."""
    children: dict[int, list[int]] = defaultdict(list)
    for e in graph.edges:
        children[e.src].append(e.dst)
    return children


def step_nodes(
    graph: Graph, places: dict[int, TimePlace] | None = None
) -> dict[str, dict[int, list[int]]]:
    """stack -> t -> ids of that step's nodes (ascending), for the recurrent stacks (input
    slices and dropout left out)."""
    places = time_places(graph) if places is None else places
    steps: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for nid in sorted(places):
        place = places[nid]
        if place.is_input or place.sub.startswith("dropout"):
            continue
        steps[place.stack][place.t].append(nid)
    return {s: dict(v) for s, v in steps.items()}


def _order(stack_steps: dict[int, list[int]], reverse: bool) -> list[int]:
    return sorted(stack_steps, reverse=reverse)


def _states(graph: Graph, want_cell: bool) -> dict[str, list[tuple[int, int]]]:
    places = time_places(graph)
    steps = step_nodes(graph, places)
    children = children_of(graph)
    result: dict[str, list[tuple[int, int]]] = {}
    for stack, by_t in steps.items():
        reverse = places[next(iter(by_t.values()))[0]].reverse
        order = _order(by_t, reverse)
        found: dict[int, int] = {}
        cells: dict[int, int] = {}
        for a, b in zip(order, order[1:]):
            in_b = set(by_t[b])
            cands = [n for n in by_t[a] if any(c in in_b for c in children.get(n, ()))]
            c_cands = [n for n in cands if graph.node(n).op == "lstm_cell_state"]
            if c_cands:
                cells[a] = c_cands[-1]
            cands = [n for n in cands if n not in c_cands]
            if cands:
                hidden = [n for n in cands if graph.node(n).op == "lstm_hidden"]
                found[a] = (hidden or cands)[-1]
        # Steps whose successor did not read them (the last step, a cut): the node of the same
        # kind (op and sub-scope) as the recurrent node of the other steps.
        signatures = defaultdict(int)
        for n in found.values():
            signatures[(graph.node(n).op, places[n].sub)] += 1
        best = max(signatures, key=signatures.get) if signatures else None
        for t in order:
            ids = by_t[t]
            if want_cell:
                if t not in cells:
                    c = [n for n in ids if graph.node(n).op == "lstm_cell_state"]
                    if c:
                        cells[t] = c[-1]
                continue
            if t in found:
                continue
            same = [n for n in ids if best and (graph.node(n).op, places[n].sub) == best]
            if same:
                found[t] = same[-1]
                continue
            mine = set(ids)
            hidden = [n for n in ids if graph.node(n).op == "lstm_hidden"]
            leaving = [n for n in ids if any(c not in mine for c in children.get(n, ()))]
            found[t] = (hidden or leaving or ids)[-1]
        chosen = cells if want_cell else found
        if chosen:
            result[stack] = sorted(chosen.items())
    return result


def hidden_states(graph: Graph) -> dict[str, list[tuple[int, int]]]:
    """stack -> [(t, id of h_t)] in time order: the node of step t that the next step reads as
    its recurrent input (for the last step, and a step cut from the next by a detach, the node
    of the same kind). For a Jordan network that is the output y_t, which feeds the recurrence.

    >>> from tinygrad_lite import nn, randn, manual_seed
    >>> from tinygrad_lite.graph import export_graph
    >>> manual_seed(0)
    >>> out, (h, c) = nn.LSTM(2, 3)(randn(4, 1, 2))
    >>> g = export_graph(out.sum())
    >>> [(t, g.node(i).op) for t, i in hidden_states(g)["lstm/l0"]][:2]
    [(0, 'lstm_hidden'), (1, 'lstm_hidden')]
    """
    return _states(graph, want_cell=False)


def cell_states(graph: Graph) -> dict[str, list[tuple[int, int]]]:
    """stack -> [(t, id of c_t)] in time order, for stacks whose steps hold an LSTM cell state.

    >>> from tinygrad_lite import nn, randn, manual_seed
    >>> from tinygrad_lite.graph import export_graph
    >>> manual_seed(0)
    >>> out, _ = nn.LSTM(2, 3)(randn(3, 1, 2))
    >>> [t for t, _ in cell_states(export_graph(out.sum()))["lstm/l0"]]
    [0, 1, 2]
    """
    return _states(graph, want_cell=True)
