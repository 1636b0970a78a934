"""A plain, engine-independent description of a graph: the only thing `viz` reads.

`export_graph(output)` walks everything reachable from one or more outputs (constants
included) and returns frozen dataclasses of Python numbers and strings: node ids, ops, labels,
shapes, dtypes, scopes, summaries of values and gradients, and ordered edges. A drawing made
from it can never disturb the engine, and the engine can change its internals freely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .autograd import NOT_KEPT, iter_backward, set_interior_grad_limit
from .release import is_released

__all__ = [
    "BackwardTrace",
    "Edge",
    "Graph",
    "NodeInfo",
    "SentGrad",
    "Summary",
    "TraceEvent",
    "export_graph",
    "summarize",
    "trace_backward",
]

SMALL = 16  # tensors with at most this many elements carry all their numbers


@dataclass(frozen=True)
class Summary:
    """What a drawing shows of an array (or a scalar): its numbers when small, else statistics.

    `norm` is the L2 norm; `nonfinite` is True when any element is NaN or Inf. `kept` is False
    for a value the engine released once no backward rule needed it (see
    `tinygrad_lite.set_interior_value_limit`): then only the shape is known."""

    shape: tuple
    numbers: tuple | None
    norm: float
    min: float
    max: float
    mean: float
    nonfinite: bool
    kept: bool = True


@dataclass(frozen=True)
class NodeInfo:
    """One node. `kind` is "parameter" (a leaf that requires grad), "constant" (a leaf that
    does not) or "op" (the result of an op, named by `op`). `grad` is None until a backward pass
    reaches the node, or when backward reached it but did not keep its gradient: then
    `grad_kept` is False (see `tinygrad_lite.set_interior_grad_limit`). `is_scalar` is True for
    `Value` nodes."""

    id: int
    op: str
    label: str
    kind: str
    shape: tuple
    dtype: str
    scope: str
    value: Summary
    grad: Summary | None
    is_scalar: bool
    requires_grad: bool
    grad_kept: bool = True


@dataclass(frozen=True)
class Edge:
    """`src` is operand number `index` of `dst` (so a*a has two edges, index 0 and 1)."""

    src: int
    dst: int
    index: int


@dataclass(frozen=True)
class Graph:
    """Nodes in topological order (every parent before its children) and ordered edges."""

    nodes: tuple[NodeInfo, ...]
    edges: tuple[Edge, ...]
    outputs: tuple[int, ...]
    _by_id: dict = field(default_factory=dict, repr=False, compare=False)

    def node(self, node_id: int) -> NodeInfo:
        """The node with this id."""
        if not self._by_id:
            self._by_id.update((n.id, n) for n in self.nodes)
        return self._by_id[node_id]

    def parents(self, node_id: int) -> list[int]:
        """Operand ids of a node, in operand order."""
        return [e.src for e in sorted(self.edges, key=lambda e: e.index) if e.dst == node_id]

    @property
    def scopes(self) -> list[str]:
        """Every scope path used by a node, sorted."""
        return sorted({n.scope for n in self.nodes if n.scope})


def summarize(data) -> Summary:
    """Summarise a float, a numpy array or anything with `.data` holding one."""
    arr = data if isinstance(data, np.ndarray) else getattr(data, "data", data)
    if is_released(arr):
        nan = math.nan
        return Summary(tuple(int(n) for n in arr.shape), None, nan, nan, nan, nan, False, False)
    arr = np.asarray(arr, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    numbers = tuple(float(v) for v in arr.ravel()) if arr.size <= SMALL else None
    with np.errstate(over="ignore", invalid="ignore"):
        norm = float(np.sqrt(np.sum(arr * arr))) if arr.size else 0.0
    return Summary(
        shape=tuple(int(n) for n in arr.shape),
        numbers=numbers,
        norm=norm,
        min=float(finite.min()) if finite.size else math.nan,
        max=float(finite.max()) if finite.size else math.nan,
        mean=float(finite.mean()) if finite.size else math.nan,
        nonfinite=bool(finite.size != arr.size),
    )


def _describe(node) -> NodeInfo:
    is_scalar = not hasattr(node, "shape")
    grad_kept = True
    if is_scalar:
        grad = summarize(node.grad) if node._seen_grad is not None else None
        label, shape, dtype = node.label, (), "float"
    else:
        stored = node._grad if node._grad is not None else node._seen_grad
        if stored is NOT_KEPT:
            stored, grad_kept = None, False
        grad = summarize(stored) if stored is not None else None
        label, shape, dtype = node.name or "", tuple(node.shape), str(node.dtype)
    if node._parents:
        kind = "op"
    else:
        kind = "parameter" if node.requires_grad else "constant"
    return NodeInfo(
        id=node._id,
        op=node._op,
        label=label or "",
        kind=kind,
        shape=shape,
        dtype=dtype,
        scope=node._scope,
        value=summarize(node.data),
        grad=grad,
        is_scalar=is_scalar,
        requires_grad=bool(node.requires_grad),
        grad_kept=grad_kept,
    )


def export_graph(*outputs) -> Graph:
    """Describe everything reachable from `outputs` (Values or Tensors).

    >>> from tinygrad_lite import Value
    >>> from tinygrad_lite.graph import export_graph
    >>> a = Value(2.0, label="a")
    >>> g = export_graph(a * a)
    >>> [n.op or n.label for n in g.nodes], [(e.src == a._id, e.index) for e in g.edges]
    (['a', '*'], [(True, 0), (True, 1)])
    """
    seen: dict[int, object] = {}
    stack = list(outputs)
    for out in outputs:
        seen[id(out)] = out
    while stack:  # explicit stack: no recursion over deep graphs
        for parent in stack.pop()._parents:
            if id(parent) not in seen:
                seen[id(parent)] = parent
                stack.append(parent)
    ordered = sorted(seen.values(), key=lambda n: n._id)
    edges = tuple(
        Edge(src=parent._id, dst=node._id, index=i)
        for node in ordered
        for i, parent in enumerate(node._parents)
    )
    return Graph(
        nodes=tuple(_describe(n) for n in ordered),
        edges=edges,
        outputs=tuple(o._id for o in outputs),
    )


# --------------------------------------------------------------------------------------------
# The backward pass as data: what the stepper, the gradient-flow chart and the unrolled drawing
# read. It is the engine's own event walk (iter_backward) written down, never a second backprop.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentGrad:
    """The gradient one backward event sent along one edge: `edge.dst` is the node processed,
    `edge.src` the operand (parent) that received `grad`. `array` is the gradient itself
    (a numpy array or a float) when the trace was taken with `keep_arrays=True`, else None."""

    edge: Edge
    grad: Summary
    array: object = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class TraceEvent:
    """One step of the backward driver: node `node` (an op node; leaves get no event) received
    its full upstream gradient `grad` and sent `sent` to its operands, in operand order."""

    index: int
    node: int
    grad: Summary
    sent: tuple[SentGrad, ...]


@dataclass(frozen=True)
class BackwardTrace:
    """A backward pass written down: the events in the driver's order, and the graph exported
    after the pass (every reached node's value and final gradient). `accumulated` is True when
    the pass added into the leaves' `.grad`, i.e. it stood in for `backward()`."""

    graph: Graph
    events: tuple[TraceEvent, ...]
    accumulated: bool


def trace_backward(output, gradient=None, *, retain_graph: bool = False, keep_arrays: bool = False):
    """Backpropagate from `output` and record every event of the engine's driver.

    Use it instead of `output.backward()`: it accumulates into `.grad` exactly as backward()
    would (and frees the graph unless `retain_graph=True`). After a `backward(retain_graph=True)`
    of your own it replays the same pass without adding into `.grad` a second time. Every
    interior gradient is kept for the export, whatever `set_interior_grad_limit` says.

    >>> from tinygrad_lite import Value
    >>> from tinygrad_lite.graph import trace_backward
    >>> x = Value(3.0, label="x")
    >>> trace = trace_backward(x * x)
    >>> [(e.node, [(s.edge.src == x._id, s.grad.norm) for s in e.sent]) for e in trace.events][0][1]
    [(True, 3.0), (True, 3.0)]
    >>> x.grad, trace.accumulated, trace.graph.node(x._id).grad.norm
    (6.0, True, 6.0)
    """
    replay = output._seen_grad is not None  # a backward pass already reached this output
    seed = output._seed_grad(gradient, "trace_backward", False)
    previous_limit = set_interior_grad_limit(None)
    events = []
    try:
        walk = iter_backward(
            [output], [seed], retain_graph=retain_graph or replay, accumulate=not replay
        )
        for node, g, parent_grads in walk:
            sent = tuple(
                SentGrad(
                    edge=Edge(src=parent._id, dst=node._id, index=i),
                    grad=summarize(pg),
                    array=pg if keep_arrays else None,
                )
                for i, (parent, pg) in enumerate(zip(node._parents, parent_grads))
                if pg is not None and parent.requires_grad
            )
            events.append(
                TraceEvent(index=len(events), node=node._id, grad=summarize(g), sent=sent)
            )
    finally:
        set_interior_grad_limit(previous_limit)
    return BackwardTrace(graph=export_graph(output), events=tuple(events), accumulated=not replay)
