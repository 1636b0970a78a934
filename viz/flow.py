"""Gradient flow through time: ||dL/dh_t|| for every time step of a recurrent graph, read from
the backward pass's own events, with the spectral radius of W_hh that explains its trend.

Backpropagation through time multiplies the gradient by the step Jacobian once per step. For a
linear recurrence h_t = W h_{t-1} + U x_t the gradient carried back from step T to step t is
(W^T)^(T-t) dL/dh_T; write it on W's eigenvectors (h_t = W^t h_0 = sum_i a_i lambda_i^t w_i)
and the largest |lambda_i|, the spectral radius rho, wins: ||dL/dh_t|| ~ rho^(T-t), so rho > 1
explodes and rho < 1 vanishes. A tanh RNN can only shrink it further (tanh' <= 1); in an LSTM
or GRU the gates rescale every step. `gradient_flow` puts the measured norms and the rho^(T-t)
reference side by side (`GradientFlow.svg()`, a chart; `viz.console_flow` for the terminal).

Where W_hh comes from: the graph export carries summaries, not the weights' numbers, so the
matrix is taken from `weight_hh=` or from `model=`. With `model=`, W_hh is found in the graph
as the parameter that multiplies h_t in the next step (followed up through the `cat`,
transpose and `contiguous` nodes that build the step's weight operand, taking the block of a
`cat` that faces h, the last one, as in cat([W_ih, W_hh], 1)), then matched to the model's
parameter with the same node id, which names it (e.g. "weight_hh_l0"). For an LSTM (W_hh of
shape (4H, H)) and a GRU ((3H, H)), rho is that of the candidate block (W_hg, W_hn: rows 2H to
3H), the one that plays W's role once the gates are fixed.

When `clip_grad_norm_` ran, pass its result and bound (`total_norm=`, `max_norm=`): clipping
scales every gradient of the pass by one factor, min(1, max_norm / (total_norm + 1e-6)), so the
update it leaves corresponds to every dL/dh_t scaled by that factor; the chart shows both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tinygrad_lite import Tensor, Value
from tinygrad_lite.errors import GraphFreedError
from tinygrad_lite.graph import BackwardTrace, Graph, export_graph, trace_backward
from tinygrad_lite.safe_io import write_file

from .chart import chart_svg, stack_svgs
from .timeline import hidden_states

__all__ = [
    "GradientFlow",
    "StepNorms",
    "find_recurrent_weight",
    "gradient_flow",
    "scale_spectral_radius",
]

# Ops that only rearrange a weight on its way into a step (W_hh.T, contiguous copies).
_PASS_THROUGH = {"permute", "contiguous", "reshape", "cast", "transpose"}
# Gate count (rows of W_hh / hidden size) -> (cell, name of the block rho is taken from).
_GATED = {1: ("RNN", "W_hh"), 4: ("LSTM", "W_hg"), 3: ("GRU", "W_hn")}


@dataclass(frozen=True)
class StepNorms:
    """One recurrence (a layer's direction, or a user's loop): the hidden-state node of every
    step and ||dL/dh_t||, in time order. `events[i]` is the index of the backward event that
    processed h_t (its gradient is complete from then on), None when no event did (a leaf, or a
    step the loss does not depend on). `rho` is the spectral radius of the recurrent weight
    (None when unknown), `rho_label` names the matrix, `weight_source` says where it came from.
    `reverse` is True for a reverse direction, whose backward pass runs from t = 0 to T - 1.
    `cuts` lists the steps t after which the state was detached (truncated BPTT): no gradient
    crosses from the step after t back into t."""

    stack: str
    steps: tuple[int, ...]
    nodes: tuple[int, ...]
    norms: tuple[float, ...]
    events: tuple[int | None, ...]
    rho: float | None
    rho_label: str
    weight_source: str
    reverse: bool
    cell: str | None
    cuts: tuple[int, ...] = ()

    def factor_per_step(self) -> float | None:
        """The measured growth per step back in time, (||dL/dh_first|| / ||dL/dh_last||)^(1 /
        (n - 1)) over the n steps the backward pass runs through first, up to the first cut
        (in the order it visits them); None when undefined (fewer than two steps, or a zero).
        """
        norms = list(self.norms)
        cut_at = [self.steps.index(t) for t in self.cuts]  # positions i: a cut after i
        if self.reverse:  # the pass starts at t = 0 and runs forward in time
            end = min(cut_at, default=len(norms) - 1)
            segment = norms[: end + 1][::-1]
        else:  # it starts at the last step and runs back
            segment = norms[max(cut_at, default=-1) + 1 :]
        if len(segment) < 2:
            return None
        first, last = segment[-1], segment[0]  # the pass visits segment[-1] first
        if not (math.isfinite(first) and math.isfinite(last) and first > 0 and last > 0):
            return None
        return (last / first) ** (1.0 / (len(segment) - 1))


def _find_cuts(graph: Graph, nodes: Sequence[int], reverse: bool) -> tuple[int, ...]:
    """Positions i such that the state after step i+1 does not depend on the state after step
    i (i+1 on i for a reverse direction): a detach() between them. A walk down from each state,
    at most 32 ops deep and never through another state, looks for the next one."""
    children: dict[int, list[int]] = {}
    for e in graph.edges:
        children.setdefault(e.src, []).append(e.dst)
    states = set(nodes)
    cuts = []
    for i in range(len(nodes) - 1):
        source, target = (nodes[i + 1], nodes[i]) if reverse else (nodes[i], nodes[i + 1])
        seen, frontier, found = {source}, [source], False
        for _ in range(32):
            following = []
            for node in frontier:
                for child in children.get(node, ()):
                    if child == target:
                        found = True
                    elif child not in seen and child not in states:
                        seen.add(child)
                        following.append(child)
            if found or not following:
                break
            frontier = following
        if not found:
            cuts.append(i)
    return tuple(cuts)


def _spectral_radius(weight: np.ndarray) -> tuple[float, str, str] | None:
    """(rho, matrix name, cell) of a recurrent weight of shape (k * H, H), k = 1, 3 or 4."""
    w = np.asarray(weight, dtype=np.float64)
    found = _recurrent_block(w)
    if found is None:
        return None
    rows, name, cell = found
    return float(np.max(np.abs(np.linalg.eigvals(w[rows])))), name, cell


def _between(graph: Graph, earlier: int, later: int) -> set[int] | None:
    """The ancestors of `later` that descend from `earlier` (`later` included), or None when
    `later` does not depend on `earlier`. An iterative walk up from `later`."""
    parents: dict[int, list[int]] = {}
    for e in graph.edges:
        parents.setdefault(e.dst, []).append(e.src)
    seen, stack = {later}, [later]
    while stack:
        node = stack.pop()
        for p in parents.get(node, ()):
            if p not in seen and p != earlier:
                seen.add(p)
                stack.append(p)
    # Keep the nodes with a path from `earlier`: walk down from it inside `seen`.
    readers: dict[int, list[int]] = {}
    for e in graph.edges:
        if e.dst in seen:
            readers.setdefault(e.src, []).append(e.dst)
    if earlier not in readers:
        return None
    inside, stack = set(), [earlier]
    while stack:
        for child in readers.get(stack.pop(), ()):
            if child not in inside:
                inside.add(child)
                stack.append(child)
    return inside


def _recurrent_block(weight: np.ndarray) -> tuple[slice, str, str] | None:
    """(rows of W that play W's role in h_t = W h_{t-1}, matrix name, cell) for a recurrent
    weight of shape (k * H, H), k = 1 (RNN), 3 (GRU: the candidate n) or 4 (LSTM: g)."""
    if weight.ndim != 2 or weight.shape[1] == 0 or weight.shape[0] % weight.shape[1]:
        return None
    hidden = weight.shape[1]
    gates = weight.shape[0] // hidden
    if gates not in _GATED:
        return None
    cell, name = _GATED[gates]
    rows = slice(None) if gates == 1 else slice(2 * hidden, 3 * hidden)
    return rows, name, cell


def scale_spectral_radius(weight, rho: float) -> float:
    """Rescale a recurrent weight in place (a Parameter or Tensor: its `.data`) so that its
    spectral radius is `rho`, and return the old one. For an LSTM's (4H, H) W_hh or a GRU's
    (3H, H), the candidate block is scaled (the one `gradient_flow` reads rho from).

    >>> import numpy as np
    >>> from tinygrad_lite import Tensor
    >>> w = Tensor(np.diag([0.5, -0.25]))
    >>> scale_spectral_radius(w, 2.0), w.data.diagonal().tolist()
    (0.5, [2.0, -1.0])
    """
    data = np.asarray(weight.data)
    found = _recurrent_block(data)
    if found is None:
        raise ValueError(
            f"scale_spectral_radius: expected a recurrent weight of shape (k * H, H) with k = 1, "
            f"3 or 4, got {data.shape}"
        )
    rows = found[0]
    block = data[rows].astype(np.float64)
    old = float(np.max(np.abs(np.linalg.eigvals(block))))
    if old == 0:
        raise ValueError("scale_spectral_radius: the matrix is nilpotent (spectral radius 0)")
    scaled = data.copy()
    scaled[rows] = (block * (rho / old)).astype(data.dtype)
    weight.data = scaled
    return old


def find_recurrent_weight(graph: Graph, hidden_nodes: Sequence[int]) -> int | None:
    """The node id of the parameter that multiplies h_t in step t+1 (W_hh), or None.

    It follows every operand of the ops of the next step that read h_t (the ops between
    h_0 and h_1) up through rearranging ops to a parameter of shape (k * H, H); through a `cat` it
    follows the last block, the one facing h in [x, h] (cat([W_ih, W_hh], 1)). None when no
    such parameter, or more than one, is found.

    >>> import tinygrad_lite as tl
    >>> from tinygrad_lite import nn, randn
    >>> from tinygrad_lite.graph import trace_backward
    >>> tl.manual_seed(0)
    >>> cell, h, hs = nn.RNNCell(3, 3), None, []
    >>> for t in range(3):
    ...     h = cell(randn(1, 3), h)
    ...     hs.append(h)
    >>> trace = trace_backward(h.sum())
    >>> ids = export_graph(*hs, cell.weight_hh).outputs
    >>> find_recurrent_weight(trace.graph, ids[:3]) == ids[3]
    True
    """
    if len(hidden_nodes) < 2:
        return None
    first, second = hidden_nodes[0], hidden_nodes[1]
    # The ops of the step that reads h: those between one hidden state and the next (a
    # reverse direction reads them the other way round). Other readers of h (the next layer,
    # the output join, a loss) are not the recurrence.
    step = _between(graph, first, second)
    if step is None:
        step, first = _between(graph, second, first), second
    if not step:
        return None
    h = first
    node_h = graph.node(h)
    hidden_size = node_h.shape[-1] if node_h.shape else 0
    consumers = {e.dst for e in graph.edges if e.src == h and e.dst in step}
    found: set[int] = set()
    for consumer in consumers:
        for operand in graph.parents(consumer):
            if operand == h:
                continue
            node = graph.node(operand)
            while node.kind == "op" and (node.op in _PASS_THROUGH or node.op == "cat"):
                parents = graph.parents(node.id)
                if not parents:
                    break
                node = graph.node(parents[-1] if node.op == "cat" else parents[0])
            shape = node.shape
            if (
                node.kind == "parameter"
                and len(shape) == 2
                and shape[1] == hidden_size
                and shape[0] % max(hidden_size, 1) == 0
                and shape[0] // max(hidden_size, 1) in _GATED
            ):
                found.add(node.id)
    return found.pop() if len(found) == 1 else None


def _hidden_from_argument(hidden_states) -> dict[str, list[tuple[int, object]]]:
    """{stack: [(t, Tensor or node id)]} from the forms `gradient_flow` accepts."""
    if isinstance(hidden_states, Mapping):
        stacks = dict(hidden_states.items())
    else:
        stacks = {"h": list(hidden_states)}
    out = {}
    for stack, items in stacks.items():
        items = list(items)
        pairs = []
        for t, item in enumerate(items):
            if isinstance(item, tuple) and len(item) == 2 and all(isinstance(v, int) for v in item):
                pairs.append(item)  # (t, node id), as viz.timeline.hidden_states returns
            elif isinstance(item, (tuple, list)):
                raise TypeError(
                    f"gradient_flow: hidden_states[{t}] of {stack!r} is a {type(item).__name__};"
                    " pass the h_t tensors (for an LSTM, the first element of each (h, c))"
                )
            else:
                pairs.append((t, item))
        out[str(stack)] = pairs
    return out


def _node_ids(stacks: dict[str, list[tuple[int, object]]]) -> dict[str, list[tuple[int, int]]]:
    """Replace tensors by their node ids (export_graph's `outputs`: the neutral way to ask)."""
    tensors = [v for pairs in stacks.values() for _, v in pairs if not isinstance(v, int)]
    for v in tensors:
        if not isinstance(v, (Tensor, Value)):
            raise TypeError(
                f"gradient_flow: hidden_states must hold Tensors, got {type(v).__name__}"
            )
    ids = iter(export_graph(*tensors).outputs) if tensors else iter(())
    return {
        stack: [(t, v if isinstance(v, int) else next(ids)) for t, v in pairs]
        for stack, pairs in stacks.items()
    }


def _auto_hidden_states(graph: Graph) -> dict[str, list[tuple[int, int]]]:
    found = hidden_states(graph)
    if not found:
        raise ValueError(
            "gradient_flow: the graph has no time steps (no node carries a 't=' scope); run the "
            "cell under tl.scope(f't={t}') or pass hidden_states=[h_0, h_1, ...] (the tensors "
            "each step returns)"
        )
    return found


def _weights_of(model) -> dict[int, tuple[str, np.ndarray]]:
    """node id -> (name, numbers) of every parameter of a Module (or an iterable of them)."""
    if hasattr(model, "named_parameters"):
        named = list(model.named_parameters())
    else:
        named = [(getattr(p, "name", None) or f"parameter {i}", p) for i, p in enumerate(model)]
    if not named:
        return {}
    ids = export_graph(*(p for _, p in named)).outputs
    return {i: (name, np.asarray(p.data)) for i, (name, p) in zip(ids, named)}


@dataclass(frozen=True)
class _Clip:
    total_norm: float
    max_norm: float

    @property
    def coefficient(self) -> float:
        # Exactly clip_grad_norm_'s factor (tinygrad_lite.optim.clip.clip_grads_with_norm_).
        return min(self.max_norm / (self.total_norm + 1e-6), 1.0)


class GradientFlow:
    """The result of `gradient_flow`: per-step norms for every recurrence in the graph, drawn
    as a chart. `stacks` holds one `StepNorms` per recurrence ("rnn/l0", "lstm/l0_reverse", or
    "h" for the hidden states you passed); `steps`, `norms` and `rho` are those of the first.
    `svg()` draws it, Jupyter shows it (`_repr_svg_`), `save(path)` writes the SVG."""

    def __init__(self, stacks: Sequence[StepNorms], trace: BackwardTrace, clip: _Clip | None):
        self.stacks = tuple(stacks)
        self.trace = trace
        self._clip = clip

    # -- numbers ----------------------------------------------------------------------------

    @property
    def steps(self) -> list[int]:
        return list(self.stacks[0].steps)

    @property
    def norms(self) -> list[float]:
        """||dL/dh_t|| of the first recurrence, in time order."""
        return list(self.stacks[0].norms)

    @property
    def rho(self) -> float | None:
        return self.stacks[0].rho

    @property
    def clip_coefficient(self) -> float | None:
        """The factor `clip_grad_norm_` applied (1.0 when it did not clip), None without one."""
        return None if self._clip is None else self._clip.coefficient

    def after_clipping(self, stack: int = 0) -> list[float] | None:
        """||dL/dh_t|| after clipping (the norms times the clip's factor), None without one."""
        if self._clip is None:
            return None
        return [v * self._clip.coefficient for v in self.stacks[stack].norms]

    # -- drawing ----------------------------------------------------------------------------

    def bar_ids(self) -> dict[tuple[str, int], str]:
        """(stack, t) -> the id of step t's bar in `svg()` (the first stack has no prefix,
        "bar-3"; the others "s1-bar-3", ...). The clipped bar adds "after-": "bar-after-3"."""
        return {
            (s.stack, t): f"{self._prefix(i)}bar-{t}"
            for i, s in enumerate(self.stacks)
            for t in s.steps
        }

    def bar_events(self) -> dict[str, int | None]:
        """Bar id (as in `svg()`) -> index of the backward event after which that step's
        gradient is complete (None: never). A page showing event k fills the bars whose index
        is <= k and marks the others `gf-pending`: all a stepper needs to animate the chart."""
        return {
            f"{self._prefix(i)}bar-{t}": e
            for i, s in enumerate(self.stacks)
            for t, e in zip(s.steps, s.events)
        }

    def steps_reached(self, event_index: int) -> dict[str, set[int]]:
        """For each stack, the steps whose gradient is complete once backward event number
        `event_index` (0-based, as in `trace.events`) has run: what a stepper shows filled."""
        return {
            s.stack: {t for t, e in zip(s.steps, s.events) if e is not None and e <= event_index}
            for s in self.stacks
        }

    @staticmethod
    def _prefix(i: int) -> str:
        return "" if i == 0 else f"s{i}-"

    def _notes(self, s: StepNorms) -> list[str]:
        notes = []
        if s.rho is None:
            notes.append(f"ρ unknown: {s.weight_source}, to draw the ρ^(T−t) line")
        else:
            if s.rho > 1:
                trend = "> 1: the gradient grows going back in time (explodes)"
            elif s.rho < 1:
                trend = "< 1: the gradient shrinks going back in time (vanishes)"
            else:
                trend = "= 1: the gradient keeps its size"
            notes.append(f"ρ({s.rho_label}) = {s.rho:.3g} {trend}")
        factor = s.factor_per_step()
        if factor is not None:
            since = " (since the last cut)" if s.cuts else ""
            notes.append(f"measured: ×{factor:.3g} per step back in time{since}")
        if s.cuts:
            notes.append("dashed red lines: detach() (truncated BPTT), no gradient crosses them")
        if s.rho is not None and s.cell in ("LSTM", "GRU"):
            notes.append(
                f"{s.cell}: ρ of the candidate block {s.rho_label}; the gates rescale every "
                "step, so the measured factor is the one to trust"
            )
        if self._clip is not None:
            c = self._clip
            notes.append(
                f"clip_grad_norm_(max_norm={c.max_norm:.3g}): total norm {c.total_norm:.3g} → "
                f"{c.total_norm * c.coefficient:.3g}, every gradient ×{c.coefficient:.3g}"
            )
        return notes

    def svg(self, reached: Mapping[str, set[int]] | int | None = None) -> str:
        """The chart as SVG text: one panel per recurrence. `reached` draws only some steps
        filled (the others dashed, class `gf-pending`): a backward event index, or {stack:
        steps} as `steps_reached` returns; None fills every bar."""
        if isinstance(reached, int):
            reached = self.steps_reached(reached)
        panels = []
        for i, s in enumerate(self.stacks):
            after = self.after_clipping(i)
            panels.append(
                chart_svg(
                    s.steps,
                    s.norms,
                    rho=s.rho,
                    rho_label=f"ρ({s.rho_label})",
                    after=after,
                    after_label=(
                        f"after clip_grad_norm_(max_norm={self._clip.max_norm:.3g})"
                        if self._clip
                        else ""
                    ),
                    reached=None if reached is None else reached.get(s.stack, set()),
                    title=f"Gradient flow through time: {s.stack}",
                    notes=self._notes(s),
                    id_prefix=self._prefix(i),
                    reverse=s.reverse,
                    cuts=s.cuts,
                )
            )
        return stack_svgs(panels)

    def _repr_svg_(self) -> str:
        return self.svg()

    def save(self, path, *, overwrite: bool = False):
        """Write the chart as an SVG file (refuses to replace a file unless overwrite=True)."""
        return write_file(path, self.svg(), overwrite=overwrite)

    def __repr__(self) -> str:
        parts = [
            f"{s.stack}: "
            + ", ".join(f"{v:.3g}" for v in s.norms)
            + ("" if s.rho is None else f" (rho {s.rho:.3g})")
            for s in self.stacks
        ]
        return f"GradientFlow({'; '.join(parts)})"


def _weight_for_stack(stack, given, model_weights, graph, nodes):
    """(rho, label, cell, source) for one stack."""
    if given is not None:
        if isinstance(given, Mapping):
            if stack not in given:
                return None, "W_hh", None, f"no weight_hh given for {stack!r}"
            given = given[stack]
        array = np.asarray(getattr(given, "data", given))
        measured = _spectral_radius(array)
        if measured is None:
            raise ValueError(
                f"gradient_flow: weight_hh must have shape (k * H, H) with k = 1 (RNN), 3 (GRU) "
                f"or 4 (LSTM), got {array.shape}"
            )
        rho, label, cell = measured
        return rho, label, cell, "given as weight_hh"
    if model_weights is None:
        return None, "W_hh", None, "pass model= or weight_hh= to gradient_flow"
    found = find_recurrent_weight(graph, nodes)
    if found is None or found not in model_weights:
        return (
            None,
            "W_hh",
            None,
            ("no parameter of the model multiplies h_t as a (k * H, H) matrix; pass weight_hh="),
        )
    name, array = model_weights[found]
    rho, label, cell = _spectral_radius(array)
    return rho, label, cell, f"the model's {name}, the parameter multiplying h_t in each step"


def gradient_flow(
    loss,
    hidden_states=None,
    *,
    model=None,
    weight_hh=None,
    total_norm=None,
    max_norm: float | None = None,
) -> GradientFlow:
    """||dL/dh_t|| for every time step, read from the backward pass's events, and rho(W_hh).

    `loss` is the scalar to backpropagate (this runs the backward pass, as `loss.backward()`
    would, unless you already ran `loss.backward(retain_graph=True)`: then it replays it and
    leaves `.grad` alone), or a `BackwardTrace` from `tinygrad_lite.graph.trace_backward`.
    `hidden_states` is optional for the library's RNN/LSTM/GRU layers and for loops run under
    `scope(f"t={t}")`; otherwise pass the tensors h_0, ..., h_T your loop made (or
    {name: [h_0, ...]} for several recurrences). `model=` (a Module) or `weight_hh=` (the
    matrix, or {stack: matrix}) gives rho; `total_norm=` (what `clip_grad_norm_` returned)
    and `max_norm=` add the clipped norms. See the module docstring for how W_hh is found.

    >>> import tinygrad_lite as tl
    >>> from tinygrad_lite import nn, randn
    >>> tl.manual_seed(0)
    >>> cell, h, hs = nn.RNNCell(2, 4), None, []
    >>> for t in range(5):
    ...     h = cell(randn(1, 2), h)
    ...     hs.append(h)
    >>> _ = [x.retain_grad() for x in hs]  # only to check the norms below
    >>> flow = gradient_flow(h.sum(), hs, model=cell)
    >>> import numpy as np
    >>> np.allclose(flow.norms, [np.linalg.norm(x.grad.data) for x in hs])
    True
    >>> flow.stacks[0].weight_source
    "the model's weight_hh, the parameter multiplying h_t in each step"
    """
    if (total_norm is None) != (max_norm is None):
        raise ValueError(
            "gradient_flow: pass both total_norm= (what clip_grad_norm_ returned) and max_norm= "
            "(the bound you gave it), or neither"
        )
    clip = None
    if total_norm is not None:
        total = float(total_norm.item() if hasattr(total_norm, "item") else total_norm)
        clip = _Clip(total_norm=total, max_norm=float(max_norm))
    if isinstance(hidden_states, Mapping) and not hidden_states:
        raise ValueError("gradient_flow: hidden_states is empty")
    # Tensors -> node ids before the pass (their ids do not change, but ask while the graph
    # is whole, so every tensor is known).
    given = None if hidden_states is None else _node_ids(_hidden_from_argument(hidden_states))
    model_weights = None if model is None else _weights_of(model)
    try:
        trace = loss if isinstance(loss, BackwardTrace) else trace_backward(loss)
    except GraphFreedError as err:
        raise GraphFreedError(
            f"gradient_flow: {err}; or call gradient_flow(loss) in place of loss.backward(), "
            "which runs the same pass"
        ) from None
    graph = trace.graph
    stacks_ids = _auto_hidden_states(graph) if given is None else given
    event_of = {e.node: e for e in trace.events}
    known = {n.id for n in graph.nodes}
    if weight_hh is not None and not isinstance(weight_hh, Mapping) and len(stacks_ids) > 1:
        raise ValueError(
            f"gradient_flow: the graph has {len(stacks_ids)} recurrences "
            f"({', '.join(stacks_ids)}); pass weight_hh={{name: matrix}} for each, or model="
        )
    stacks = []
    for stack, pairs in stacks_ids.items():
        if not pairs:
            continue
        norms, events = [], []
        for _, node in pairs:
            if node not in known:
                # Not in the loss's graph: the loss does not depend on it (a detach() between
                # it and the loss, as truncated BPTT makes), so its gradient is zero.
                norms.append(0.0)
                events.append(None)
                continue
            event = event_of.get(node)
            if event is not None:
                norms.append(event.grad.norm)  # the full upstream gradient dL/dh_t
                events.append(event.index)
            else:  # a leaf (no event) or a node the loss does not reach
                grad = graph.node(node).grad
                norms.append(grad.norm if grad is not None else 0.0)
                events.append(None)
        nodes = [n for _, n in pairs]
        rho, label, cell, source = _weight_for_stack(stack, weight_hh, model_weights, graph, nodes)
        stacks.append(
            StepNorms(
                stack=stack,
                steps=tuple(t for t, _ in pairs),
                nodes=tuple(nodes),
                norms=tuple(norms),
                events=tuple(events),
                rho=rho,
                rho_label=label,
                weight_source=source,
                reverse=stack.endswith("_reverse"),
                cell=cell,
                cuts=tuple(
                    pairs[i][0] for i in _find_cuts(graph, nodes, stack.endswith("_reverse"))
                ),
            )
        )
    return GradientFlow(stacks, trace, clip)
