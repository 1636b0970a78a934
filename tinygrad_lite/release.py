"""Release the values of interior nodes that no backward rule will read, as PyTorch frees every
intermediate its autograd did not save.

Why. A node keeps its parents, and so their arrays, until the graph goes. In a hand-written LSTM
cell most of those arrays are never read again: `x @ W_ih`, `h @ W_hh`, their sum, the gates
before their sigmoid, `f * c` and `i * g` feed only `+`, `chunk` or a sigmoid, whose backward
rules read no input value. Keeping them all trebles the memory a training step walks through
(measured: one step then misses the cache and page-faults the heap back in on every call,
1.3-1.6x the time of the same cell in torch eager, which frees them).

The rule. When an op whose VJP reads no input value (`Op.reads_inputs` False: `+ - neg sum
getitem cat`, sigmoid's and tanh's inputs, ...) records a result that is not a view of its
parents (a view keeps their memory anyway, and a released parent would hide from the in-place
check that its views overlap), each parent that

- is itself an op result whose own VJP does not read its output (`Op.reads_out` False),
- holds more than `set_interior_value_limit` elements (default 1,024) of floats, and
- has no name (`t.name`: a named node is one the user wants to see)

becomes a candidate. A later op releases a candidate when nothing else refers to it: its only
references are the parent tuples of consumers that noted it (CPython's reference count, read
with `sys.getrefcount`). Anything else (a user's variable, a list, a consumer whose VJP does
read it, a hook) keeps it. A candidate that is still held is looked at again after 1, 4, 16
and 64 later ops, then forgotten (until a new consumer notes it again). Released, `t.data` becomes
a read-only NaN array of the same shape and dtype (so shapes, dtypes and unbroadcasting still
work, and a VJP that wrongly reads it gives a loud NaN, never a plausible number), and graph
drawings say "value not kept".

Only on CPython 3.11-3.13 with its GIL, where reference counts mean exactly this. Elsewhere,
and with the limit set to None, every value is kept (the behaviour before this module).
"""

from __future__ import annotations

import sys
import threading
from heapq import heappop, heappush
from weakref import ref as _ref

import numpy as np

from .autograd import check_element_limit
from .ops import OPS
from .versioning import SAVED

__all__ = ["is_released", "set_interior_value_limit"]

_DEFAULT_LIMIT = 1024
_GIL = getattr(sys, "_is_gil_enabled", lambda: True)()
# 3.14 lets the interpreter's stack hold references that getrefcount does not count: stay off
# there until that is shown not to matter here.
_ENABLED = sys.implementation.name == "cpython" and _GIL and sys.version_info < (3, 14)

_KEEP_ALL = sys.maxsize  # the limit that keeps every value (what None is stored as)
# Elements a value must exceed to be released; a one-element list so that the check where ops
# record (`_core._apply`) is a global load, an index and an int comparison.
LIMIT: list = [_DEFAULT_LIMIT if _ENABLED else _KEEP_ALL]
_NEVER = sys.maxsize
# The node-id clock at which the next candidate is due to be looked at (_NEVER: none pending).
DUE = [_NEVER]

_MAX_PENDING = 64  # candidates remembered at once (past that, new ones are not taken)
_MAX_WAIT = 64  # ops after which a candidate that is still held is forgotten
# References a candidate has in `_look` beyond its consumers' parent tuples: the local
# variable and getrefcount's own argument.
_SWEEP_REFS = 2

# id(node) -> [weakref(node), [weakref(consumer), ...], wait, clock when noted]. Held weakly,
# so that a pending entry never keeps a graph alive (a finished step's graph goes when the user
# lets it go).
_pending: dict[int, list] = {}
_due: list = []  # heap of (due clock, id(node)): when each candidate is next looked at
FRESH: list = []  # ids of the candidates noted since the last op ran
# One lock for the bookkeeping above: threads building graphs at once share it.
_LOCK = threading.RLock()
_PLACEHOLDERS: dict[tuple, np.ndarray] = {}  # (shape, dtype) -> the shared NaN placeholder
_NAN: dict[np.dtype, np.ndarray] = {}  # dtype -> the read-only 0-d NaN they all view


def _flag_ops() -> None:
    """Set each table op's two flags from `versioning.SAVED` (what its VJP reads). Ops not in
    SAVED (fused layer ops) keep Op's default: they read everything."""
    for name, op in OPS.items():
        rule, out = SAVED.get(name, ("all", True))
        op.reads_inputs = rule != "none"
        op.reads_out = out is not False


_flag_ops()


def set_interior_value_limit(elements: int | None) -> int | None:
    """Set how many elements an interior value must exceed before it is released once no
    backward rule needs it (see this module's docstring); return the previous setting.

    The default, 1,024, keeps every value of the expressions one draws and steps through, and
    releases the big intermediates of a training step. `None` keeps every value (set it before
    the forward pass whose interior values you want to inspect or draw); 0 releases all it can,
    as PyTorch does. Leaves, named tensors and everything you hold are never released.

    >>> import numpy as np
    >>> from tinygrad_lite import Tensor, set_interior_value_limit
    >>> from tinygrad_lite.release import is_released
    >>> x = Tensor(np.ones(3), requires_grad=True)
    >>> previous = set_interior_value_limit(0)
    >>> y = ((x * 2) + 1).sum()  # x * 2 feeds only +, which reads no input value
    >>> is_released(y._parents[0]._parents[0].data)
    True
    >>> _ = set_interior_value_limit(previous)
    """
    check_element_limit("set_interior_value_limit", elements, "value")
    previous = None if LIMIT[0] == _KEEP_ALL else LIMIT[0]
    LIMIT[0] = _KEEP_ALL if elements is None or not _ENABLED else int(elements)
    if LIMIT[0] == _KEEP_ALL:
        _pending.clear()
        _due.clear()
        FRESH.clear()
        DUE[0] = _NEVER
    return previous


def is_released(array) -> bool:
    """True when `array` is the placeholder of a released value (see this module)."""
    return (
        isinstance(array, np.ndarray)
        and array.base is not None
        and (array.base is _NAN.get(array.dtype))
    )


def note(parents: tuple, consumer) -> None:
    """See `_note`; the bookkeeping is shared by every thread, so it runs under one lock."""
    with _LOCK:
        _note(parents, consumer)


def _note(parents: tuple, consumer) -> None:
    """Make the parents of `consumer` (an op whose VJP reads no input value, with a result over
    the limit) candidates, and look again at older candidates that are due.

    Called by `_core._apply` only for such ops. A new candidate is first looked at just before
    the next op runs (`sweep_fresh`), so that the op's result can take the memory it gives
    back while that memory is still in the cache, as it would in numpy code written by hand.
    """
    now = consumer._id
    if now >= DUE[0]:
        _sweep(now)
    limit = LIMIT[0]
    for i, p in enumerate(parents):
        fn = p._fn
        if fn is None or fn.reads_out or p.name is not None:
            continue
        data = p.data
        if data.size <= limit or data.dtype.kind != "f":
            continue
        if i and any(q is p for q in parents[:i]):
            continue  # x + x notes x once: the count in _look finds both operands
        key = id(p)
        entry = _pending.get(key)
        if entry is not None and entry[0]() is p:
            entry[1].append(_ref(consumer))
        elif len(_pending) < _MAX_PENDING:
            _pending[key] = [_ref(p), [_ref(consumer)], 1, now]
            FRESH.append(key)


def sweep_fresh() -> None:
    """Look at the candidates noted since the last op (called by `_core._apply` before an op
    runs, whenever there are some)."""
    with _LOCK:
        _sweep_fresh()


def _sweep_fresh() -> None:
    keys = FRESH[:]
    FRESH.clear()
    for key in keys:
        entry = _pending.get(key)
        if entry is not None:
            _look(key, entry, entry[3])


def _sweep(now: int) -> None:
    """Look again at every candidate that is due at clock `now` (under `_LOCK`)."""
    due = _due
    while due and due[0][0] <= now:
        key = heappop(due)[1]
        entry = _pending.get(key)
        if entry is not None:
            _look(key, entry, now)
    DUE[0] = due[0][0] if due else _NEVER


def _look(key: int, entry: list, now: int) -> None:
    """Release the candidate if only its consumers refer to it; else look again later.

    A candidate whose node or any consumer has died is forgotten, not released: a consumer
    that died would make a user's reference look like that consumer's."""
    p = entry[0]()
    held = 0
    for ref in entry[1]:
        consumer = ref()
        if consumer is None:
            held = -1
            break
        for q in consumer._parents:
            if q is p:  # identity: == on Tensors is elementwise
                held += 1
    consumer = q = None  # noqa: F841 (the loop variables must not count as references)
    if p is None or held <= 0:
        del _pending[key]
    elif sys.getrefcount(p) - _SWEEP_REFS == held:
        _release(p)
        del _pending[key]
    elif entry[2] >= _MAX_WAIT:
        del _pending[key]  # still held by someone: leave it be
    else:
        entry[2] *= 4
        due = now + entry[2]
        heappush(_due, (due, key))
        if due < DUE[0]:
            DUE[0] = due


def _release(node) -> None:
    data = node.data
    key = (data.shape, data.dtype)
    placeholder = _PLACEHOLDERS.get(key)
    if placeholder is None:
        if len(_PLACEHOLDERS) > 256:
            _PLACEHOLDERS.clear()
        nan = _NAN.get(data.dtype)
        if nan is None:
            nan = _NAN[data.dtype] = np.full((), np.nan, data.dtype)
            nan.flags.writeable = False
        placeholder = np.ndarray(data.shape, data.dtype, buffer=nan, strides=(0,) * data.ndim)
        _PLACEHOLDERS[key] = placeholder
    node.data = placeholder
