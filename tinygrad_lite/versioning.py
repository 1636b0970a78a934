"""Version counters: backward refuses to use a value that was changed in place after an op
saved it, as PyTorch's "modified by an inplace operation" error.

Why this design. A node's VJP reads its inputs' (and sometimes its own output's) arrays when
backward runs, not when the op ran. So an in-place change in between (an optimizer step, `x.add_`,
`p.data -= ...`) would silently give a gradient of the new values. PyTorch counts versions per
storage and compares them when a saved tensor is unpacked; we do the same with two choices that
keep the hot path free:

- The counter belongs to the memory, not to the Tensor: it is kept per *root numpy array* (the
  array that owns the memory), so views (`x[0]`, `x.T`, `reshape`), `detach()` and `.data` share
  it, as views share PyTorch's counter. Arrays nobody wrote to have no entry at all.
- Every write is stamped with the engine's node-id clock. Nodes are numbered by the same clock,
  so "changed after node n saved it" is simply `stamp > n._id`: nothing is saved per node when
  ops record. Backward first compares the node's id with the clock of the last write anywhere
  (`WRITES[0]`, one comparison per node); only nodes older than some write are looked at closely.

The op table does not say which inputs a VJP reads, so `SAVED` below does, for our ops (what our
VJPs read, which is what matters for correctness; it is PyTorch's list for most ops).

>>> import numpy as np
>>> from tinygrad_lite import Tensor, no_grad
>>> w = Tensor(np.ones(2), requires_grad=True)
>>> y = (w * w).sum()
>>> with no_grad():
...     w -= 0.1
>>> try:
...     y.backward()
... except RuntimeError as e:
...     print(type(e).__name__, "modified by an inplace operation" in str(e))
VersionError True
"""

from __future__ import annotations

import weakref

import numpy as np

from .autograd import _next_id

__all__ = ["InplaceError", "VersionError", "WRITES", "mark_modified", "version_of"]


class VersionError(RuntimeError):
    """Backward met a saved value that was changed in place after the op saved it."""


class InplaceError(RuntimeError):
    """An in-place op that PyTorch refuses too (a leaf that requires grad, a read-only or
    broadcast tensor, a result that does not fit the tensor's shape or dtype)."""


# The clock of the most recent in-place write anywhere (0: none yet). A one-element list so
# that the check in Tensor._vjp is a global load and an index, the cheapest read there is.
WRITES = [0]

# id(root array) -> [weakref to it, version count, clock of the last write, what wrote it]
_entries: dict[int, list] = {}


def _root(array: np.ndarray) -> np.ndarray:
    """The array that owns `array`'s memory (itself when it is not a view)."""
    base = array.base
    while base is not None and isinstance(base, np.ndarray):
        array, base = base, base.base
    return array


def _forget(key: int, ref) -> None:
    entry = _entries.get(key)
    if entry is not None and entry[0] is ref:
        del _entries[key]


def _entry(array: np.ndarray):
    root = _root(array)
    entry = _entries.get(id(root))
    if entry is None or entry[0]() is not root:
        return None
    return entry


def mark_modified(target, op: str) -> int:
    """Record that `target` (a Tensor or a numpy array) was changed in place by `op`: its
    memory's version goes up by one and gets the current clock. Returns the stamp.

    Optimizers call this after writing a parameter, as PyTorch's in-place updates bump it.

    >>> import numpy as np
    >>> from tinygrad_lite.versioning import mark_modified, version_of
    >>> a = np.zeros(3)
    >>> _ = mark_modified(a[1:], "a test")
    >>> version_of(a)
    1
    """
    array = target if isinstance(target, np.ndarray) else target.data
    root = _root(array)
    key = id(root)
    entry = _entries.get(key)
    if entry is None or entry[0]() is not root:
        ref = weakref.ref(root, lambda r, k=key: _forget(k, r))
        entry = _entries[key] = [ref, 0, 0, ""]
    entry[1] += 1
    entry[2] = stamp = _next_id()
    entry[3] = op
    WRITES[0] = stamp
    return stamp


def version_of(target) -> int:
    """How many in-place writes the memory of `target` (a Tensor or an array) has had:
    PyTorch's `tensor._version`, shared by views."""
    array = target if isinstance(target, np.ndarray) else target.data
    entry = _entry(array)
    return 0 if entry is None else entry[1]


# What each op's VJP reads: "none", "all", "cross" (input i is read when another input requires
# grad: mul, matmul), or a tuple of input indices; and whether it reads its own output.
# "dep1": divide and power read input 1 always, their output only when input 1 requires grad.
_NONE = ("none", False)
SAVED: dict[str, tuple] = {
    "+": _NONE,
    "-": _NONE,
    "*": ("cross", False),
    "/": ("div", None),
    "**": ("all", None),
    "maximum": ("all", False),
    "minimum": ("all", False),
    "where": _NONE,
    "neg": _NONE,
    "exp": ("none", True),
    "log": ("all", False),
    "sqrt": ("none", True),
    "tanh": ("none", True),
    "sigmoid": ("none", True),
    "relu": ("all", False),
    "relu_backward": ((1,), False),
    "sign": _NONE,
    "abs": ("all", False),
    "clip": ("all", False),
    "cast": _NONE,
    "matmul": ("cross", False),
    "sum": _NONE,
    "max": ("all", True),
    "min": ("all", True),
    "logsumexp": ("all", True),
    "softmax": ("none", True),
    "log_softmax": ("none", True),
    "reshape": _NONE,
    "permute": _NONE,
    "expand": _NONE,
    "getitem": _NONE,
    "scatter_add": _NONE,
    "clone": _NONE,
    "contiguous": _NONE,
    "cat": _NONE,
    "pad": _NONE,
    "gather": _NONE,
    "norm": ("all", True),
    "zero_": _NONE,
    "fill_": _NONE,
    "uniform_": _NONE,
    "normal_": _NONE,
    "copy_": _NONE,
}
_UNKNOWN = ("all", True)  # an op not listed (a fused layer op): assume it reads everything


def _saved_inputs(node) -> tuple[list[int], bool]:
    rule, out = SAVED.get(node._op, _UNKNOWN)
    parents = node._parents
    n = len(parents)
    if rule == "none":
        idx: list[int] = []
    elif rule == "all":
        idx = list(range(n))
    elif rule == "cross":
        idx = [i for i in range(n) if any(parents[j].requires_grad for j in range(n) if j != i)]
    elif rule == "div":
        idx = [1]
    else:
        idx = [i for i in rule if i < n]
    if out is None:  # divide and power read their output for the gradient of input 1
        out = n > 1 and parents[1].requires_grad
    return idx, out


def _describe(t) -> str:
    name = f"'{t.name}' " if getattr(t, "name", None) else ""
    kind = "a leaf" if not t._parents else f"the output of op '{t._op}'"
    return f"tensor {name}of shape {tuple(t.data.shape)} and dtype {t.data.dtype} ({kind})"


def check_saved(node) -> None:
    """Raise VersionError if a value `node`'s VJP reads was changed in place after `node` was
    recorded. Called by Tensor._vjp only for nodes older than the last write anywhere."""
    from .grad_fn import torch_name

    limit = node._id
    parents = node._parents
    for i, p in enumerate(parents):
        if p._id > limit:
            raise VersionError(
                f"backward: one of the variables needed for gradient computation has been "
                f"modified by an inplace operation: input {i} of op '{node._op}' "
                f"({torch_name(node)}, node #{node._id}), a {_describe(p)}, was changed in place "
                "after this op used it, which gave it a new history; this engine's graph "
                "cannot send the gradient of its old value back. Use the out-of-place op "
                "(y = y + 1 instead of y += 1), or clone() it before the in-place op"
            )
    idx, out = _saved_inputs(node)
    for i in idx:
        _raise_if_newer(node, parents[i], f"input {i}", torch_name)
    if out:
        _raise_if_newer(node, node, "output 0", torch_name)


def _raise_if_newer(node, t, which: str, torch_name) -> None:
    entry = _entry(t.data)
    if entry is None or entry[2] <= node._id:
        return
    raise VersionError(
        f"backward: one of the variables needed for gradient computation has been modified "
        f"by an inplace operation: {which} of op '{node._op}' ({torch_name(node)}, node "
        f"#{node._id}), a {_describe(t)}, was changed by {entry[3]} after the op saved it "
        f"(it is at version {entry[1]}). Call backward() before changing it (e.g. before "
        "optimizer.step()), or change a clone() of it, or use the out-of-place op "
        "(x = x + 1 instead of x += 1)"
    )
