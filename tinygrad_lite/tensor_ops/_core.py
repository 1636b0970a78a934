"""What every Tensor family shares: `_apply`, the only place a Tensor op node is recorded, the
conversion of numbers into constants, axis checks, and the shape errors that name the op, the
shapes and the fix.

`Tensor` below is the final class, bound by `tinygrad_lite.tensor` through `bind` (the class is
built from the family mixins, so it cannot exist when they are imported).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import ops as O
from .. import release as _release
from ..autograd import _next_id, anomaly_error, creation_site, current_state
from ..errors import DTypeError, ShapeError
from ..ops import MATMUL

Tensor: Any = None  # the final class; see bind

_FIXES = {
    "matmul": "the last axis of the left operand must equal the second-to-last of the right; "
    "transpose an operand (.T) or check the layer sizes",
    "reshape": "the new shape must have the same number of elements (use -1 for one axis)",
    "cat": "all shapes must match except along the concatenation axis",
    "expand": "only axes of size 1 can be expanded (use -1 to keep an axis)",
}
_BROADCAST_FIX = "shapes must be equal or 1 in each trailing axis; reshape or unsqueeze an operand"


def bind(cls, modules) -> None:
    """Make `cls` the `Tensor` of this module and of each family module in `modules`."""
    global Tensor
    Tensor = cls
    for module in modules:
        module.Tensor = cls


def _shape_error(fn: O.Op, arrays, ctx, err: Exception) -> ShapeError:
    if fn is MATMUL:
        return _matmul_error(*arrays)
    shapes = " and ".join(str(tuple(a.shape)) for a in arrays)
    fix = _FIXES.get(fn.name)
    if fix is None:
        if "broadcast" not in str(err):  # not a shape mismatch: numpy's own words say what
            return ShapeError(f"{fn.name}: cannot apply to shapes {shapes}: {err}")
        fix = _BROADCAST_FIX
    extra = f" with {ctx[0]!r}" if fn.name in ("reshape", "expand") and ctx else ""
    return ShapeError(f"{fn.name}: cannot apply to shapes {shapes}{extra}: {fix} ({err})")


def _matmul_error(a, b) -> ShapeError:
    if a.ndim == 0 or b.ndim == 0:
        return ShapeError(
            f"matmul: both operands need at least one dimension, got shapes {a.shape} and "
            f"{b.shape}; use * for scaling"
        )
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        return ShapeError(
            f"matmul: shapes {a.shape} and {b.shape} do not line up: the inner dimensions "
            f"{k_a} and {k_b} differ; {_FIXES['matmul']}"
        )
    return ShapeError(
        f"matmul: the batch dimensions of shapes {a.shape} and {b.shape} do not broadcast; "
        f"{_BROADCAST_FIX}"
    )


_new_object = object.__new__
_ndarray = np.ndarray
_VALUE_LIMIT = _release.LIMIT
_note = _release.note
_FRESH = _release.FRESH
_sweep_fresh = _release.sweep_fresh


def _apply(fn: O.Op, parents: tuple, ctx: tuple = ()) -> Any:
    """Run `fn` forward on the parents' arrays and record the result as a graph node.

    This is the only place a Tensor op node is made, and on small arrays its bookkeeping costs
    as much as the arithmetic: unary and binary ops are spelled out (no generator, no argument
    unpacking when there is no context) and the node's slots are filled directly.
    """
    if _FRESH:  # values the previous op may have let go: give their memory back first
        _sweep_fresh()
    try:
        if len(parents) == 1:
            a = parents[0]
            data = fn.forward(a.data, *ctx) if ctx else fn.forward(a.data)
            tracked = a.requires_grad
        elif len(parents) == 2:
            a, b = parents
            data = fn.forward(a.data, b.data, *ctx) if ctx else fn.forward(a.data, b.data)
            tracked = a.requires_grad or b.requires_grad
        else:
            data = fn.forward(*[p.data for p in parents], *ctx)
            tracked = True in [p.requires_grad for p in parents]  # no generator frame
    except ValueError as err:
        raise _shape_error(fn, [p.data for p in parents], ctx, err) from None
    if data.__class__ is not _ndarray:
        data = np.asarray(data)
    state = current_state()  # this thread's switches (autograd.ThreadState)
    t = _new_object(Tensor)
    t.data = data
    t._grad = None
    t._id = _next_id()
    t._scope = state.scope
    t._freed = False
    t._hooks = None
    t._seen_grad = None
    t._walk = None
    t.name = None
    t._retains = False
    if tracked and state.grad_enabled:
        t.requires_grad = True
        t._parents = parents
        t._fn = fn
        t._ctx = ctx
        # Not when the result is a view: the view keeps the memory anyway, and a released
        # parent would hide from in-place ops that its views overlap (see release.py).
        if not fn.reads_inputs and data.size > _VALUE_LIMIT[0] and data.base is None:
            _note(parents, t)  # its parents' values may go (see release.py)
    else:
        t.requires_grad = False
        t._parents = ()
        t._fn = None
        t._ctx = ()
    if state.anomaly:
        t._trace = creation_site()
        if data.dtype.kind == "f" and not np.all(np.isfinite(data)):
            raise anomaly_error(_AnomalyView(fn.name, t), "forward", "NaN or Inf values")
    return t


class _AnomalyView:
    """Names the op for an anomaly found before the node is wired in (e.g. under no_grad)."""

    def __init__(self, op, node):
        self._op, self._scope, self._id = op, node._scope, node._id
        self._trace = getattr(node, "_trace", None)


def _is_scalar_like(x) -> bool:
    return isinstance(x, numbers.Number) or (isinstance(x, np.ndarray) and x.ndim == 0)


def _constant(x, like=None):
    """Turn a non-Tensor operand into a constant leaf. Python numbers and 0-d arrays take the
    dtype of the floating tensor they meet (so a float32 graph stays float32 under NumPy 2);
    other arrays keep their own dtype and promote as numpy does."""
    cls = x.__class__
    if (cls is float or cls is int) and like is not None:
        # The common `t * 0.5` and `1 - t`, decided without the checks below (same result),
        # around a cached read-only 0-d array (see ops.scalar).
        dt = like.data.dtype
        if dt.kind == "f" or (cls is int and dt.kind in "iu"):
            return Tensor._wrap(O.scalar(x, dt))
    if isinstance(x, Tensor):
        return x
    if hasattr(x, "requires_grad"):  # a Value met by a Tensor
        raise DTypeError(
            f"cannot combine a Value with a Tensor ({x!r}); use Tensor(value.data) instead"
        )
    if like is not None and _is_scalar_like(x) and not isinstance(x, (bool, np.bool_)):
        kind = like.data.dtype.kind
        if kind == "f" or (kind in "iu" and isinstance(x, numbers.Integral)):
            return Tensor._wrap(np.asarray(x, dtype=like.data.dtype))
    return Tensor(x)


def _norm_axes(axis, ndim: int, op: str):
    """None or a sorted tuple of non-negative axes; a clear error for an axis out of range."""
    if axis is None:
        return None
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -max(ndim, 1) <= a < max(ndim, 1):
            raise ShapeError(
                f"{op}: axis {a!r} is out of range for a tensor with {ndim} dimensions; "
                f"use an axis in [{-max(ndim, 1)}, {max(ndim, 1) - 1}]"
            )
        out.append(int(a) % max(ndim, 1))
    return tuple(sorted(set(out)))


def _pick(axis, dim, keepdims, keepdim):
    """Accept numpy's (axis, keepdims) and PyTorch's (dim, keepdim) spellings alike."""
    return (dim if axis is None else axis), bool(keepdim if keepdim is not None else keepdims)


def _shape_args(shape) -> tuple:
    """`f(2, 3)` and `f((2, 3))` alike, as PyTorch's size arguments."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)
