"""The graph core shared by `Value` and `Tensor`: recording switches, scopes, the iterative
topological order and the one backward driver.

Backpropagation is written once, as a generator of `BackwardEvent`s (`iter_backward`).
`backward()`, `grad()`, the BPTT stepper, hooks and anomaly checks all consume that same walk,
so there is no second implementation of the chain rule anywhere in the code base.

A node is any object with the slots listed in `Node` below; `Value` and `Tensor` both are.
Grad mode, anomaly mode and the scope are per thread (`ThreadState`), as PyTorch's.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import operator
import os
import traceback
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from .errors import AnomalyError, GraphFreedError
from .indexed_grad import IndexedGrad, densify

__all__ = [
    "BackwardEvent",
    "backward_events",
    "Node",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "iter_backward",
    "no_grad",
    "set_grad_enabled",
    "set_interior_grad_limit",
    "topological_order",
    "NOT_KEPT",
]

# --------------------------------------------------------------------------------------------
# Switches, one set per thread
# --------------------------------------------------------------------------------------------


_init_slot = object.__setattr__


class ThreadState:
    """The switches every op reads when it records itself: grad mode, anomaly mode and the
    current scope. One per thread, as PyTorch's grad and anomaly modes are thread-local: a
    thread inside `no_grad()` never turns recording off for another, and a new thread starts
    with grad mode on, anomaly mode off and no scope, whatever the thread that started it does.

    An instance is never changed once made: a switch is flipped by making a new one and setting
    it as the thread's current state (`_set_state`). It lives in a `contextvars.ContextVar`:
    reading it is one C call, as cheap as the old module global, where `threading.local`
    attributes made every Value op ~25% slower (measured). Being immutable, a state
    carried into another thread by `contextvars.copy_context()` (as `asyncio.to_thread` does,
    and every new thread on free-threaded Python 3.14) is a snapshot the two threads can no
    longer change for each other. Asyncio tasks each get their own copy, so one task's
    `no_grad()` does not leak into another interleaved on the same thread.

    >>> import threading
    >>> from tinygrad_lite import no_grad, is_grad_enabled
    >>> seen = []
    >>> with no_grad():
    ...     worker = threading.Thread(target=lambda: seen.append(is_grad_enabled()))
    ...     worker.start()
    ...     worker.join()
    ...     seen.append(is_grad_enabled())
    >>> seen
    [True, False]
    """

    __slots__ = ("grad_enabled", "anomaly", "scope")

    def __init__(self, grad_enabled: bool = True, anomaly: bool = False, scope: str = ""):
        _init_slot(self, "grad_enabled", grad_enabled)
        _init_slot(self, "anomaly", anomaly)
        _init_slot(self, "scope", scope)

    def __setattr__(self, name, value):
        raise AttributeError(
            f"ThreadState is immutable (a state another thread may hold): use no_grad(), "
            f"enable_grad(), detect_anomaly() or scope() instead of setting {name!r}"
        )

    def __repr__(self) -> str:
        return (
            f"ThreadState(grad_enabled={self.grad_enabled}, anomaly={self.anomaly}, "
            f"scope={self.scope!r})"
        )


# An immutable default (B039 cannot see that __setattr__ refuses): every new thread shares it.
_STATE_VAR = contextvars.ContextVar("tinygrad_lite_state", default=ThreadState())  # noqa: B039
# The hot readers (every op's recording in tensor.py and value.py) call this bound method:
# `state = current_state()` once, then plain slot reads.
current_state = _STATE_VAR.get
_set_state = _STATE_VAR.set


_STATES: dict = {}  # (grad_enabled, anomaly, scope) -> its one ThreadState


def _state_for(grad_enabled: bool, anomaly: bool, scope: str) -> ThreadState:
    """The ThreadState with these switches. Immutable, so one instance per combination is
    shared: a dict lookup is a quarter of the cost of making one, and an unrolled layer
    enters a scope per time step. Bounded: code may make any number of scope names."""
    key = (grad_enabled, anomaly, scope)
    state = _STATES.get(key)
    if state is None:
        if len(_STATES) >= 4096:
            _STATES.clear()
        state = _STATES[key] = ThreadState(grad_enabled, anomaly, scope)
    return state


def _set_grad_enabled(enabled: bool) -> None:
    state = current_state()
    if state.grad_enabled is not enabled:
        _set_state(_state_for(enabled, state.anomaly, state.scope))


def _set_anomaly(enabled: bool) -> None:
    state = current_state()
    _set_state(_state_for(state.grad_enabled, enabled, state.scope))


def _set_scope(path: str) -> None:
    state = current_state()
    _set_state(_state_for(state.grad_enabled, state.anomaly, path))


# The interior-gradient limit is a memory setting, not a mode: one value for the whole
# process (see set_interior_grad_limit), so a worker thread trains under the limit its program
# chose. What it counts is per backward pass (a local of iter_backward), so threads running
# backward passes at the same time never share a count.
_interior_grad_limit: int | None = 1_000_000


class _StateView:
    """`STATE`, the old module-global switches, kept as a view for code that still reads or
    sets `STATE.grad_enabled` etc.: each attribute reads or sets the calling thread's value
    (and `interior_grad_limit` the process-wide one). Correct, but slower than
    `current_state()`: hot paths use that."""

    __slots__ = ()

    grad_enabled = property(lambda self: current_state().grad_enabled)
    grad_enabled = grad_enabled.setter(lambda self, v: _set_grad_enabled(bool(v)))
    anomaly = property(lambda self: current_state().anomaly)
    anomaly = anomaly.setter(lambda self, v: _set_anomaly(bool(v)))
    scope = property(lambda self: current_state().scope)
    scope = scope.setter(lambda self, v: _set_scope(str(v)))
    interior_grad_limit = property(lambda self: _interior_grad_limit)
    interior_grad_limit = interior_grad_limit.setter(lambda self, v: set_interior_grad_limit(v))


STATE = _StateView()
# Node constructors call this bound counter directly (no Python frame per node).
_next_id = itertools.count(1).__next__


def new_node_id() -> int:
    """Stable, increasing node ids (never `id()`, which is reused after garbage collection)."""
    return _next_id()


def is_grad_enabled() -> bool:
    """True when new ops record themselves into the graph (the default), in this thread."""
    return current_state().grad_enabled


class _GradMode(contextlib.ContextDecorator):
    """Context manager *and* decorator that sets gradient recording, like torch.no_grad."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        # A stack of the states found on entry: the same object may be entered again inside.
        self._saved: list[ThreadState] = []

    def _recreate_cm(self):
        # A decorated function gets a fresh manager per call (contextlib's hook): one shared
        # stack would mix up the saved modes of threads calling it at the same time.
        return _GradMode(self.enabled)

    def __enter__(self):
        state = current_state()
        self._saved.append(state)
        if state.grad_enabled is not self.enabled:
            _set_state(_state_for(self.enabled, state.anomaly, state.scope))
        return self

    def __exit__(self, *exc):
        saved = self._saved.pop()
        state = current_state()
        if state is not saved:
            if state.anomaly is saved.anomaly and state.scope == saved.scope:
                _set_state(saved)  # properly nested (the usual case): the state found on entry
            else:  # restore grad mode only, keeping what was switched in between
                _set_state(_state_for(saved.grad_enabled, state.anomaly, state.scope))
        return False


def no_grad(func=None):
    """Disable graph recording inside a `with` block or a decorated function.

    >>> from tinygrad_lite import Tensor, no_grad
    >>> x = Tensor([1.0], requires_grad=True)
    >>> with no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """
    mode = _GradMode(False)
    return mode(func) if callable(func) else mode


def enable_grad(func=None):
    """Re-enable graph recording, e.g. inside a `no_grad` block.

    >>> from tinygrad_lite import Tensor, no_grad, enable_grad
    >>> x = Tensor([1.0], requires_grad=True)
    >>> with no_grad():
    ...     with enable_grad():
    ...         y = x * 2
    >>> y.requires_grad
    True
    """
    mode = _GradMode(True)
    return mode(func) if callable(func) else mode


class _SetGradEnabled(_GradMode):
    """`set_grad_enabled(mode)`: as PyTorch's, the call itself switches this thread's mode (a
    plain `set_grad_enabled(False)` statement works), a `with` block puts back the mode found
    before the call, and a decorator leaves the mode alone until the function runs."""

    def __init__(self, enabled: bool):
        super().__init__(enabled)
        self._before: bool | None = current_state().grad_enabled
        _set_grad_enabled(enabled)

    def __call__(self, func):
        if self._before is not None:  # decorating: undo the call's own switch, as torch does
            _set_grad_enabled(self._before)
            self._before = None
        return super().__call__(func)

    def __enter__(self):
        state = current_state()
        if self._before is not None:  # the first entry restores what the call replaced
            state = _state_for(self._before, state.anomaly, state.scope)
            self._before = None
        self._saved.append(state)
        _set_grad_enabled(self.enabled)
        return self


def set_grad_enabled(mode: bool) -> _GradMode:
    """Set recording on or off in this thread, as `torch.set_grad_enabled`: a plain call, a
    context manager (the mode before it comes back after the block) or a decorator.

    >>> from tinygrad_lite import set_grad_enabled, is_grad_enabled
    >>> with set_grad_enabled(False):
    ...     is_grad_enabled()
    False
    >>> _ = set_grad_enabled(False)
    >>> is_grad_enabled()
    False
    >>> _ = set_grad_enabled(True)
    """
    return _SetGradEnabled(bool(mode))


# --------------------------------------------------------------------------------------------
# Which gradients a backward pass keeps
# --------------------------------------------------------------------------------------------


class _NotKept:
    """The `_seen_grad` of an interior node whose gradient this pass computed but did not keep
    (see `set_interior_grad_limit`): reached by backward, unlike a node left at None."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_KEPT"


NOT_KEPT = _NotKept()


def set_interior_grad_limit(elements: int | None) -> int | None:
    """Set how many gradient elements one backward pass keeps on interior Tensor nodes (the
    results of ops) after using them; return the previous setting.

    Leaves always get `.grad` and `retain_grad()` tensors theirs, as in PyTorch. The other
    nodes' gradients are kept only so that a drawing made after backward can show them. That
    is free for an expression you would draw, but for an unrolled LSTM it doubles the memory
    a training step holds, and the time with it (memory that no longer fits in cache). So a
    pass whose interior gradients add up to more than `elements` (default 1,000,000: 8 MB of
    float64) keeps none of them, and the graph export marks those nodes "not kept" rather
    than "not reached". `None` keeps them all; 0 keeps none (PyTorch's behaviour). Values
    (scalars) always keep every gradient, as micrograd does. `backward_events()` and hooks see
    every gradient either way. The setting is one for the whole process (unlike grad mode,
    which is per thread): what each backward pass counts against it is its own.

    >>> import numpy as np
    >>> from tinygrad_lite import Tensor, set_interior_grad_limit
    >>> from tinygrad_lite.graph import export_graph
    >>> x = Tensor(np.ones(3), requires_grad=True)
    >>> h = x * 2
    >>> previous = set_interior_grad_limit(0)
    >>> h.sum().backward()
    >>> export_graph(h).node(h._id).grad_kept, x.grad.tolist()
    (False, [2.0, 2.0, 2.0])
    >>> _ = set_interior_grad_limit(previous)
    """
    check_element_limit("set_interior_grad_limit", elements, "gradient")
    global _interior_grad_limit
    previous = _interior_grad_limit
    _interior_grad_limit = None if elements is None else int(elements)
    return previous


def check_element_limit(setter: str, elements, kept: str) -> None:
    """Refuse anything but None or an int >= 0 as a limit in elements, naming the setter."""
    if elements is not None and (isinstance(elements, bool) or int(elements) != elements):
        raise TypeError(
            f"{setter}: expected an int or None, got {elements!r}; "
            f"pass a number of elements, or None to keep every {kept}"
        )
    if elements is not None and elements < 0:
        raise ValueError(f"{setter}: expected a limit >= 0 or None, got {elements}")


def _forget_kept(order: list, upto) -> None:
    """Mark the array gradients of interior nodes processed so far (`upto` and everything
    after it in `order`) as not kept: the pass just went over its limit."""
    for node in reversed(order):
        if node._parents and node._seen_grad.__class__ is np.ndarray:
            node._seen_grad = NOT_KEPT
        if node is upto:
            return


# --------------------------------------------------------------------------------------------
# Anomaly mode
# --------------------------------------------------------------------------------------------


def is_anomaly_enabled() -> bool:
    """True inside `detect_anomaly()` (in this thread)."""
    return current_state().anomaly


@contextlib.contextmanager
def detect_anomaly():
    """Raise `AnomalyError` at the first op whose output (forward) or input gradient (backward)
    contains NaN or Inf, naming the op, its scope and the line that created it.

    Recording where each node was created costs a stack walk per op, so it is only done here.

    >>> import numpy as np
    >>> from tinygrad_lite import Tensor, detect_anomaly
    >>> x = Tensor([-1.0], requires_grad=True)
    >>> with detect_anomaly():
    ...     try:
    ...         x.log()
    ...     except Exception as e:
    ...         print(type(e).__name__)
    AnomalyError
    """
    saved = current_state().anomaly
    _set_anomaly(True)
    try:
        yield
    finally:
        _set_anomaly(saved)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def creation_site() -> str:
    """The innermost stack frame outside this package: where the user created a node."""
    for frame in reversed(traceback.extract_stack()[:-1]):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line}"
    return "<unknown>"


def anomaly_error(node: Any, phase: str, detail: str) -> AnomalyError:
    site = getattr(node, "_trace", None) or "<created outside detect_anomaly()>"
    scope = node._scope or "<root>"
    return AnomalyError(
        f"detect_anomaly: op '{node._op}' produced {detail} in its {phase} pass "
        f"(scope {scope!r}, node #{node._id}); created at {site}"
    )


# --------------------------------------------------------------------------------------------
# Scopes
# --------------------------------------------------------------------------------------------


class scope(contextlib.ContextDecorator):  # noqa: N801 (a function-like name, as no_grad)
    """Tag every node created inside with `name` (nested scopes join with '/').

    The visualiser clusters nodes by scope; recurrent layers use `scope(f"{name}/t={t}")` so
    the drawing knows the time step of every node. A small class rather than a generator-based
    context manager: an unrolled layer enters two or three scopes per time step, and this costs
    half as much. Like `no_grad`, it also decorates a function.

    >>> from tinygrad_lite import Value, scope
    >>> with scope("layer1"):
    ...     with scope("t=0"):
    ...         y = Value(2.0) * 3
    >>> y.scope
    'layer1/t=0'
    """

    __slots__ = ("name", "_saved")

    def __init__(self, name: str):
        self.name = str(name)
        self._saved: list[ThreadState] = []  # a stack: it may be entered again inside

    def _recreate_cm(self):
        return scope(self.name)  # a fresh manager per call of a decorated function

    def __enter__(self) -> str:
        state = current_state()
        self._saved.append(state)
        outer = state.scope
        path = f"{outer}/{self.name}" if outer else self.name
        key = (state.grad_enabled, state.anomaly, path)
        _set_state(_STATES.get(key) or _state_for(*key))  # the lookup inlined: once a step
        return path

    def __exit__(self, *exc) -> bool:
        saved = self._saved.pop()
        state = current_state()
        if state.grad_enabled is saved.grad_enabled and state.anomaly is saved.anomaly:
            _set_state(saved)
        else:  # restore the scope only, keeping a mode switched in between
            _set_state(_state_for(state.grad_enabled, state.anomaly, saved.scope))
        return False


def current_scope() -> str:
    """The scope path that a node created now (in this thread) would get."""
    return current_state().scope


# --------------------------------------------------------------------------------------------
# The node protocol and the backward driver
# --------------------------------------------------------------------------------------------


class Node:
    """What the driver needs of a graph node (documentation; `Value` and `Tensor` implement it).

    - `_id` (int), `_op` (str, "" for leaves), `_parents` (ordered tuple of nodes),
      `_scope` (str), `requires_grad` (bool), `_freed` (bool)
    - `_vjp(g, create_graph)`: the gradient for each parent (None where there is none)
    - `_receive(g)`: store a finished gradient (`.grad` of leaves, retain_grad); a plain
      float gradient (a Value's) is added to `.grad` by the driver directly, and the driver
      only calls it for leaves and for nodes whose `_retains` is true
    - `_hooks` (None or a list) and `_run_hooks(g)`: user hooks that may replace a gradient
    - `_seed_grad(gradient, where, create_graph)` and `_grad_as_public(g)`: conversions
    - `_seen_grad`: the gradient that reached this node (read by the graph export)
    - `_walk`: scratch slot marking the nodes of the current walk
    Gradients in flight are summed with `+`, which floats, numpy arrays, Values and Tensors
    all support.
    """


class BackwardEvent(NamedTuple):
    """One step of backpropagation: `node` received `grad` (its full upstream gradient, after
    hooks) and sent `parent_grads[i]` to `node._parents[i]` (None where none was needed).

    `iter_backward` yields plain `(node, grad, parent_grads)` tuples, the cheapest thing to make
    per node; `backward_events` wraps the same walk in this named form for readers."""

    node: Any
    grad: Any
    parent_grads: tuple


_by_id = operator.attrgetter("_id")


def topological_order(roots) -> list:
    """Nodes reachable from `roots` through nodes that require grad, parents before children.

    Node ids come from one increasing counter and a node is always created after its parents,
    so sorting the reachable set by id *is* a topological order. The reachable set is found
    with an explicit stack (unrolled graphs are millions of nodes deep: no recursion), marking
    visited nodes with a token unique to this walk, which is cheaper than a `set` of ids.
    Every node found also has its in-flight gradient (`_seen_grad`) cleared for the walk.
    """
    token = object()
    nodes: list = []
    for root in roots:
        if root._walk is not token:
            root._walk = token
            root._seen_grad = None
            nodes.append(root)
    stack = list(nodes)
    pop, push, add = stack.pop, stack.append, nodes.append  # bound once: this loop is hot
    while stack:
        for parent in pop()._parents:
            if parent.requires_grad and parent._walk is not token:
                parent._walk = token
                parent._seen_grad = None
                add(parent)
                push(parent)
    nodes.sort(key=_by_id)
    return nodes


_QUIET_FP = {"divide": "ignore", "invalid": "ignore", "over": "ignore"}


def _sum_grads(prev, pg, owned: dict):
    """`prev + pg` for a node that receives gradients from several consumers.

    The first sum makes a new array that only this node's `_seen_grad` holds (it goes in
    `owned`, keyed by its id); later sums add into it in place. A parameter used at every step
    of an unrolled RNN would otherwise get a fresh weight-sized array per step. Arrays a VJP
    returned are never written to (they may be another node's gradient or a view of one); the
    driver takes a node's gradient out of `owned` before handing it to anyone.
    """
    if pg.__class__ is IndexedGrad or prev.__class__ is IndexedGrad:
        return _sum_indexed(prev, pg, owned)
    if (
        prev.__class__ is np.ndarray
        and pg.__class__ is np.ndarray
        and owned.get(id(prev)) is prev
        and pg.shape == prev.shape
        and pg.dtype == prev.dtype
    ):
        prev += pg
        return prev
    total = prev + pg
    # `owned` holds the arrays themselves, not just their ids: an id outlives its object, and
    # CPython gives a freed array's address to the next one made (maybe a VJP's shared result).
    owned.pop(id(prev), None)  # the caller drops prev now
    if total.__class__ is np.ndarray:
        owned[id(total)] = total
    return total


def _sum_indexed(prev, pg, owned: dict):
    """`_sum_grads` when either side is an IndexedGrad (the gradient of a slice): its values
    are added into place in an accumulator the driver owns, made (once) when there is none."""
    if prev.__class__ is IndexedGrad:
        other = pg.values if pg.__class__ is IndexedGrad else pg
        acc = prev.dense(np.result_type(prev.values, other))
        owned[id(acc)] = acc
        if pg.__class__ is not IndexedGrad:
            acc += pg
            return acc
        prev = acc
    dtype = np.result_type(prev, pg.values)
    if not (
        prev.__class__ is np.ndarray
        and owned.get(id(prev)) is prev
        and prev.dtype == dtype
        and prev.shape == pg.shape
    ):
        acc = np.empty(pg.shape, dtype=dtype)
        acc[...] = prev
        owned.pop(id(prev), None)  # the caller drops prev now
        owned[id(acc)] = acc
        prev = acc
    pg.add_into(prev)
    return prev


def _nonfinite(g) -> bool:
    try:
        return not bool(np.all(np.isfinite(getattr(g, "data", g))))
    except TypeError:
        return False


def iter_backward(
    roots,
    grad_roots,
    *,
    retain_graph: bool = False,
    create_graph: bool = False,
    accumulate: bool = True,
    inputs=None,
    captured: dict | None = None,
    events: bool = True,
) -> Iterator[tuple]:
    """Run reverse-mode differentiation from `roots` (seeded with `grad_roots`) one node at a
    time, yielding `(node, grad, parent_grads)` for every node that has parents.

    `events=False` runs the very same walk without pausing at each node and yields nothing:
    that is what `backward()` and `grad()` use, since nobody reads their events and a pause per
    node (a generator switch plus saving and restoring the recording mode) is a measurable
    share of a scalar backward pass.

    `accumulate=True` adds finished gradients into `.grad` (what `backward()` does); `captured`,
    when given, receives the gradient of every node in `inputs`, keyed by `id` (what `grad()`
    does). With `create_graph=True` the vector-Jacobian products run on recorded engine ops, so
    the gradients are graphs themselves (grad-of-grad, Hessian-vector products).

    Gradients in flight are summed in each node's `_seen_grad` slot rather than in a dict: once
    a node is reached, that slot holds exactly the gradient it received, which is what the graph
    export shows next to the node.
    """
    order = topological_order(roots)
    for root, g in zip(roots, grad_roots):
        prev = root._seen_grad
        root._seen_grad = g if prev is None else prev + g
    wanted = {id(x) for x in inputs} if inputs is not None else None
    owned: dict = {}  # id -> accumulator array this walk made (see _sum_grads)
    # Elements of interior gradients this pass may still keep (see set_interior_grad_limit);
    # below zero, it keeps none.
    budget = _interior_grad_limit
    over = False
    ndarray = np.ndarray
    state = current_state()
    anomaly = state.anomaly
    saved_mode = state.grad_enabled
    create_graph = bool(create_graph)
    _set_grad_enabled(create_graph)
    # Gradients at poles (sqrt or log at 0, x/0) are IEEE inf/NaN, as in PyTorch, not numpy
    # warnings; detect_anomaly() is the tool that reports them. Set once for the whole walk:
    # an np.errstate block per node cost as much as a small op itself.
    saved_err = np.seterr(**_QUIET_FP)
    try:
        for node in reversed(order):
            g = node._seen_grad
            if g is None:
                continue
            if g.__class__ is IndexedGrad:  # a slice's gradient, still alone: written out now
                g = node._seen_grad = g.dense()
            if owned:
                owned.pop(id(g), None)  # final now: from here on others may hold it
            if node._hooks:
                g = node._run_hooks(g)
                node._seen_grad = g
            if wanted is not None and id(node) in wanted:
                captured[id(node)] = g
            parents = node._parents
            if accumulate:
                if g.__class__ is float:
                    # A Value's plain float gradient: `_receive` inlined (a call per node is a
                    # measurable share of a scalar backward pass).
                    node.grad += g
                elif node._retains or not parents:
                    # Only leaves and nodes that retain_grad() store a gradient; asking the
                    # others would be a call per node that does nothing.
                    node._receive(g)
            if not parents:
                continue
            if node._freed:
                raise GraphFreedError(
                    f"backward: the graph through op '{node._op}' (node #{node._id}) was already "
                    "freed by an earlier backward(); pass retain_graph=True to the first "
                    "backward() (or grad()) to backpropagate through it a second time"
                )
            parent_grads = node._vjp(g, create_graph)
            if not retain_graph:
                node._freed = True
            if len(parents) == 1:
                a = parents[0]
                ga = parent_grads[0]
                if ga is not None and a.requires_grad:
                    if anomaly and _nonfinite(ga):
                        raise anomaly_error(node, "backward", "a NaN or Inf gradient")
                    prev = a._seen_grad
                    if prev is None:
                        a._seen_grad = ga
                    elif prev.__class__ is float:
                        a._seen_grad = prev + ga
                    else:
                        a._seen_grad = _sum_grads(prev, ga, owned)
            elif len(parents) == 2:
                # Most nodes are binary ops: the same accumulation as the loop below, unrolled,
                # which skips making a zip per node (~15% of a scalar backward pass).
                a, b = parents
                ga, gb = parent_grads
                if ga is not None and a.requires_grad:
                    if anomaly and _nonfinite(ga):
                        raise anomaly_error(node, "backward", "a NaN or Inf gradient")
                    prev = a._seen_grad
                    if prev is None:
                        a._seen_grad = ga
                    elif prev.__class__ is float:
                        a._seen_grad = prev + ga
                    else:
                        a._seen_grad = _sum_grads(prev, ga, owned)
                if gb is not None and b.requires_grad:
                    if anomaly and _nonfinite(gb):
                        raise anomaly_error(node, "backward", "a NaN or Inf gradient")
                    prev = b._seen_grad
                    if prev is None:
                        b._seen_grad = gb
                    elif prev.__class__ is float:
                        b._seen_grad = prev + gb
                    else:
                        b._seen_grad = _sum_grads(prev, gb, owned)
            else:
                for parent, pg in zip(parents, parent_grads):
                    if pg is not None and parent.requires_grad:
                        if anomaly and _nonfinite(pg):
                            raise anomaly_error(node, "backward", "a NaN or Inf gradient")
                        prev = parent._seen_grad
                        parent._seen_grad = pg if prev is None else _sum_grads(prev, pg, owned)
            if budget is not None and g.__class__ is ndarray:
                budget -= g.size
                if budget < 0:
                    if over:
                        node._seen_grad = NOT_KEPT
                    else:
                        over = True
                        _forget_kept(order, node)
            if events:
                # The consumer's code runs while we are paused here: give it back its own
                # recording mode and numpy error state, and pick up any change it makes to
                # them for when the walk ends.
                _set_grad_enabled(saved_mode)
                np.seterr(**saved_err)
                if IndexedGrad in map(type, parent_grads):  # readers get plain arrays
                    parent_grads = tuple(map(densify, parent_grads))
                yield node, g, parent_grads
                saved_err = np.seterr(**_QUIET_FP)
                saved_mode = current_state().grad_enabled
                _set_grad_enabled(create_graph)
    finally:
        _set_grad_enabled(saved_mode)
        np.seterr(**saved_err)


def backward_events(root, gradient=None, *, retain_graph: bool = False):
    """The backward pass from `root` as a list of `BackwardEvent`s, in the order the driver
    visits nodes; gradients accumulate into `.grad` exactly as `root.backward()` would.

    >>> from tinygrad_lite import Value
    >>> from tinygrad_lite.autograd import backward_events
    >>> x = Value(2.0, label="x")
    >>> events = backward_events(x * x + 1)
    >>> [e.node.op for e in events], x.grad
    (['+', '*'], 4.0)
    """
    seed = root._seed_grad(gradient, "backward", False)
    return [
        BackwardEvent(*event) for event in iter_backward([root], [seed], retain_graph=retain_graph)
    ]


def _run(events: Iterator[BackwardEvent]) -> None:
    for _ in events:
        pass


def backward(
    tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None
) -> None:
    """Accumulate gradients of `tensors` into the `.grad` of the leaves, as
    `torch.autograd.backward` (see `Tensor.backward` for the common single-output form).

    >>> from tinygrad_lite import Tensor, backward
    >>> x = Tensor([2.0], requires_grad=True)
    >>> backward([(x * x).sum()])
    >>> x.grad.tolist()
    [4.0]
    """
    tensors = list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif not isinstance(grad_tensors, (list, tuple)):
        grad_tensors = [grad_tensors]
    if retain_graph is None:
        retain_graph = create_graph
    seeds = [t._seed_grad(g, "backward", create_graph) for t, g in zip(tensors, grad_tensors)]
    _run(
        iter_backward(
            tensors,
            seeds,
            retain_graph=retain_graph,
            create_graph=create_graph,
            inputs=inputs,
            events=False,
        )
    )


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph: bool = False,
    allow_unused: bool = False,
):
    """Gradients of `outputs` with respect to `inputs`, returned instead of stored in `.grad`
    (`torch.autograd.grad`). With `create_graph=True` they are differentiable again.

    >>> from tinygrad_lite import Tensor, grad
    >>> x = Tensor(3.0, requires_grad=True)
    >>> (dx,) = grad(x ** 3, x, create_graph=True)
    >>> dx.item(), grad(dx, x)[0].item()
    (27.0, 18.0)
    """
    single_out = not isinstance(outputs, (list, tuple))
    outputs = [outputs] if single_out else list(outputs)
    single_in = not isinstance(inputs, (list, tuple))
    inputs = [inputs] if single_in else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            raise RuntimeError(
                f"grad: input {i} does not require grad; create it with requires_grad=True "
                "(or call .requires_grad_())"
            )
    if retain_graph is None:
        retain_graph = create_graph
    seeds = [o._seed_grad(g, "grad", create_graph) for o, g in zip(outputs, grad_outputs)]
    captured: dict = {}
    _run(
        iter_backward(
            outputs,
            seeds,
            retain_graph=retain_graph,
            create_graph=create_graph,
            accumulate=False,
            inputs=inputs,
            captured=captured,
            events=False,
        )
    )
    result = []
    for i, x in enumerate(inputs):
        g = captured.get(id(x))
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (node #{x._id}) is not reachable from the outputs; "
                "pass allow_unused=True to get None for it"
            )
        result.append(None if g is None else x._grad_as_public(g))
    return tuple(result)
