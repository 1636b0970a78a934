"""The in-place family of `Tensor`: `add_ sub_ mul_ div_ zero_ fill_ copy_ clamp_ uniform_
normal_`, `+= -= *= /=`, `detach_`, `grad_fn`, `_version`, and numpy's in-place operators with a
Tensor on the right (`p.data -= lr * p.grad`). PyTorch's rules:

- With recording off (`no_grad()`), or on a tensor that nothing requires grad through, the
  values change in place and the tensor stays what it was (a parameter stays a leaf). This is
  the manual update `with no_grad(): p -= lr * p.grad`.
- A leaf that requires grad, with recording on: RuntimeError, as PyTorch (its value is what
  the gradient is taken with respect to; changing it would silently change the question).
- A result of ops (a non-leaf) with recording on: the op is recorded and the tensor's history
  becomes the in-place op's (`h += b` leaves `h.grad_fn` an AddBackward0 whose input is h's
  old history), so the result stays differentiable. The old value is kept for the gradient.
- Every write bumps the version of the memory (see versioning.py): backward raises if a value
  an op saved was changed after it saved it.

>>> from tinygrad_lite import Tensor, no_grad
>>> w = Tensor([1.0, 2.0], requires_grad=True)
>>> same = w
>>> with no_grad():
...     w -= 0.5 * Tensor([2.0, 2.0])
>>> w is same, w.tolist(), w.is_leaf
(True, [0.0, 1.0], True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops as O
from ..autograd import _next_id, current_state
from ..ops import Op, unbroadcast
from ..versioning import InplaceError, mark_modified, version_of
from . import creation
from ._core import _apply, _constant

__all__ = ["InplaceMixin"]

Tensor: Any = None  # the final class, bound by tinygrad_lite.tensor (see _core.bind)


# -- ops recorded by an in-place op on a non-leaf ------------------------------------------
# The new value does not depend on the old one (fill, zero, random fills, copy): the old
# history gets a zero gradient, as PyTorch's FillBackward / ZeroBackward; copy_ passes the
# gradient on to its source (broadcast undone, cast back).


def _fill_forward(x, values):
    return np.broadcast_to(np.asarray(values, dtype=x.dtype), x.shape).copy()


def _fill_vjp(xp, g, out, inputs, needs, values):
    return (xp.zeros_like(inputs[0]),)


ZERO_ = Op("zero_", _fill_forward, _fill_vjp)
FILL_ = Op("fill_", _fill_forward, _fill_vjp)
UNIFORM_ = Op("uniform_", _fill_forward, _fill_vjp)
NORMAL_ = Op("normal_", _fill_forward, _fill_vjp)


def _copy_forward(x, src):
    return np.broadcast_to(src, x.shape).astype(x.dtype, copy=True)


def _copy_vjp(xp, g, out, inputs, needs):
    x, src = inputs
    gs = None
    if needs[1]:
        src_dtype = xp.raw(src).dtype
        gs = unbroadcast(xp, xp.astype(g, src_dtype), tuple(np.shape(xp.raw(src))))
    return (xp.zeros_like(x) if needs[0] else None), gs


COPY_ = Op("copy_", _copy_forward, _copy_vjp)

# Ufuncs for the fast path (recording off): written straight into the tensor's memory.
_UFUNCS = {O.ADD: np.add, O.SUB: np.subtract, O.MUL: np.multiply, O.DIV: np.true_divide}

_slot_names: dict[type, tuple] = {}


def _slots_of(cls) -> tuple:
    names = _slot_names.get(cls)
    if names is None:
        seen: list[str] = []
        for klass in cls.__mro__:
            for s in getattr(klass, "__slots__", ()):
                if s not in seen and s not in ("__weakref__", "__dict__"):
                    seen.append(s)
        names = _slot_names[cls] = tuple(seen)
    return names


def _torch_dtype_name(dtype) -> str:
    return {"f": "Float", "i": "Long", "u": "Byte", "b": "Bool"}.get(
        np.dtype(dtype).kind, str(dtype)
    )


def _check_writable(t, op: str) -> None:
    if not t.data.flags.writeable:
        raise InplaceError(
            f"{op}: this tensor's memory is read-only (the result of expand(), where several "
            "elements share one memory location, or a shared constant); clone() it before "
            "the in-place op"
        )


def _check_result(t, op: str, shape, dtype) -> None:
    if tuple(shape) != t.data.shape:
        raise InplaceError(
            f"{op}: output with shape {list(t.data.shape)} doesn't match the broadcast shape "
            f"{list(shape)}; an in-place op cannot change a tensor's shape: use the "
            "out-of-place op (x = x + y)"
        )
    if not np.can_cast(dtype, t.data.dtype, casting="same_kind"):
        raise InplaceError(
            f"{op}: result type {_torch_dtype_name(dtype)} can't be cast to the desired output "
            f"type {_torch_dtype_name(t.data.dtype)} ({dtype} into {t.data.dtype}); use the "
            "out-of-place op, or convert the tensor first (x = x.astype(...))"
        )


def _check_leaf(t, op: str) -> None:
    if t.requires_grad and not t._parents:
        raise InplaceError(
            f"{op}: a leaf Variable that requires grad is being used in an in-place operation. "
            "Update parameters inside `with no_grad():` (as optimizers do), or use the "
            "out-of-place op (x = x + y) to get a new tensor"
        )


def _check_not_a_view(t, op: str) -> None:
    """PyTorch rewrites the history of a view's base when the view is changed in place; our
    graph of tensors cannot, so the base would silently keep a history of its old values."""
    for p in t._parents:
        if np.may_share_memory(t.data, p.data):
            raise InplaceError(
                f"{op}: this tensor is a view of the output of op '{p._op or 'leaf'}' (made by "
                f"'{t._op}'), and changing a view in place while gradients are recorded is not "
                "supported (the viewed tensor's history would not see the change). Use the "
                "out-of-place op, or clone() the view first"
            )


def _broadcast_shape(t, other, op: str):
    try:
        return np.broadcast_shapes(t.data.shape, other.shape)
    except ValueError:
        raise InplaceError(
            f"{op}: the shapes {list(t.data.shape)} and {list(other.shape)} do not broadcast; "
            "the operand must broadcast to the tensor's shape"
        ) from None


def _inplace(t, op: str, fn: Op, others: tuple, ctx: tuple = ()):
    """Apply `fn(t, *others, *ctx)` and store the result in `t`'s own memory (see the module
    docstring for the rules). Returns `t`, as PyTorch's in-place ops do."""
    record = current_state().grad_enabled and (
        t.requires_grad or True in [o.requires_grad for o in others]
    )
    if record:
        _check_leaf(t, op)
    _check_writable(t, op)
    if record:
        _check_not_a_view(t, op)
        return _rebase(t, op, fn, others, ctx)
    data = t.data
    ufunc = _UFUNCS.get(fn)
    if ufunc is not None:
        other = others[0].data
        _check_result(
            t,
            op,
            _broadcast_shape(t, other, op),
            np.result_type(data, other)
            if ufunc is not np.true_divide
            else np.result_type(data, other, 1.0),
        )
        mark_modified(data, op)
        with np.errstate(divide="ignore", invalid="ignore"):
            ufunc(data, other, out=data, casting="same_kind")
        return t
    args = [o.data for o in others]
    result = np.asarray(fn.forward(data, *args, *ctx))
    _check_result(t, op, result.shape, result.dtype)
    mark_modified(data, op)
    np.copyto(data, result, casting="same_kind")
    return t


def _rebase(t, op: str, fn: Op, others: tuple, ctx: tuple):
    """Record the in-place op on a tensor with a history (or on a plain tensor meeting one that
    requires grad): `t` keeps its identity and its memory, which now holds the new value, and
    its history becomes the op's; its old value and history move to a hidden node, which is the
    op's first input. Consumers recorded before cannot follow (their gradient would reach the
    new value): backward names them (versioning.check_saved)."""
    if fn is not COPY_:
        for o in others:
            _broadcast_shape(t, o.data, op)
    cls = type(t)
    old = object.__new__(cls)
    for name in _slots_of(cls):
        try:
            setattr(old, name, getattr(t, name))
        except AttributeError:
            pass
    old.data = t.data.copy()  # the value before: the op's VJP (and old's own) may read it
    old._seen_grad = None
    old._walk = None
    old._retains = False
    # `b.add_(b)`, `b *= b`: an operand that is t itself means t's value *before* the op. Left
    # as t, that edge would point at t's new history (a loop) and lose its gradient.
    others = tuple(old if o is t else o for o in others)
    new = _apply(fn, (old, *others), ctx)
    _check_result(t, op, new.data.shape, new.data.dtype)
    t._hooks = None  # hooks registered before stay with the old value, as in PyTorch
    mark_modified(t.data, op)
    np.copyto(t.data, new.data, casting="same_kind")
    t._parents = new._parents
    t._fn = new._fn
    t._ctx = new._ctx
    t._scope = new._scope
    t._id = _next_id()  # after the stamp: the node is newer than the write it is made of
    t.requires_grad = True
    t._freed = False
    t._seen_grad = None
    trace = getattr(new, "_trace", None)
    if trace is not None:
        t._trace = trace
    return t


class InplaceMixin:
    """In-place ops, versioning and PyTorch's graph view (`grad_fn`) for `Tensor`."""

    __slots__ = ()

    def _operand(self, other):
        return _constant(other, self)

    def add_(self, other, *, alpha=1):
        """self += alpha * other, in place (see the module docstring for the rules).

        >>> from tinygrad_lite import Tensor
        >>> Tensor([1.0, 2.0]).add_(1).tolist()
        [2.0, 3.0]
        """
        other = self._operand(other)
        if alpha != 1:
            other = other * alpha
        return _inplace(self, "add_", O.ADD, (other,))

    def sub_(self, other, *, alpha=1):
        """self -= alpha * other, in place."""
        other = self._operand(other)
        if alpha != 1:
            other = other * alpha
        return _inplace(self, "sub_", O.SUB, (other,))

    def mul_(self, other):
        """self *= other, in place."""
        return _inplace(self, "mul_", O.MUL, (self._operand(other),))

    def div_(self, other, *, rounding_mode=None):
        """self /= other, in place (true division, as PyTorch's default)."""
        if rounding_mode is not None:
            raise NotImplementedError(
                f"div_: rounding_mode={rounding_mode!r} is not supported; only true division"
            )
        return _inplace(self, "div_", O.DIV, (self._operand(other),))

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def clamp_(self, min=None, max=None):  # noqa: A002 - PyTorch's argument names
        """Clamp into [min, max] in place."""
        if min is None and max is None:
            raise ValueError("clamp_: give at least one of min and max")
        return _inplace(self, "clamp_", O.CLIP, (), (min, max))

    clip_ = clamp_

    def _fill_with(self, op: str, fn: Op, values):
        return _inplace(self, op, fn, (), (values,))

    def zero_(self):
        """Set every element to 0, in place.

        >>> from tinygrad_lite import Tensor
        >>> Tensor([1.0, 2.0]).zero_().tolist()
        [0.0, 0.0]
        """
        return self._fill_with("zero_", ZERO_, 0)

    def fill_(self, value):
        """Set every element to `value` (a number or a one-element tensor), in place."""
        if isinstance(value, Tensor):
            if value.data.size != 1:
                raise InplaceError(
                    f"fill_: only supports a 0-dimensional value tensor, but got one of shape "
                    f"{tuple(value.shape)}; use copy_() to copy a tensor's values"
                )
            value = value.data.reshape(())
        return self._fill_with("fill_", FILL_, value)

    def uniform_(self, *args, **kwargs):
        """Fill with samples from U[from, to) (PyTorch's `uniform_(from=0, to=1)`), drawn from
        the package generator (see `manual_seed`)."""
        lo, hi = _two(args, kwargs, ("from", "to"), (0.0, 1.0), "uniform_")
        values = creation.generator().uniform(lo, hi, self.data.shape)
        return self._fill_with("uniform_", UNIFORM_, values)

    def normal_(self, mean=0.0, std=1.0):
        """Fill with samples from N(mean, std^2), from the package generator."""
        values = creation.generator().normal(mean, std, self.data.shape)
        return self._fill_with("normal_", NORMAL_, values)

    def copy_(self, src):
        """Copy `src`'s values (broadcast to this shape, cast to this dtype) into this tensor;
        the gradient flows to `src`, as PyTorch's."""
        src = src if isinstance(src, Tensor) else Tensor(np.asarray(src))
        try:
            np.broadcast_shapes(src.data.shape, self.data.shape)
            fits = np.broadcast_shapes(src.data.shape, self.data.shape) == self.data.shape
        except ValueError:
            fits = False
        if not fits:
            raise InplaceError(
                f"copy_: the source's shape {list(src.shape)} does not broadcast to the "
                f"tensor's shape {list(self.shape)}"
            )
        if current_state().grad_enabled and (self.requires_grad or src.requires_grad):
            return _inplace(self, "copy_", COPY_, (src,))
        _check_writable(self, "copy_")
        mark_modified(self.data, "copy_")
        np.copyto(self.data, src.data, casting="unsafe")
        return self

    def detach_(self):
        """Cut this tensor from its history in place (it becomes a leaf that does not require
        grad), as PyTorch's `detach_`."""
        self._parents = ()
        self._fn = None
        self._ctx = ()
        self.requires_grad = False
        return self

    @property
    def grad_fn(self):
        """The backward function that made this tensor (None for a leaf), as PyTorch's: a
        `GradFn` with `name()` and `next_functions` (see grad_fn.py)."""
        if not self._parents:
            return None
        from ..grad_fn import GradFn

        return GradFn(self)

    @property
    def _version(self) -> int:
        """How many times this tensor's memory was changed in place (shared by its views)."""
        return version_of(self.data)

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        """numpy meeting a Tensor. An in-place numpy op whose output is an array (`p.data -=
        lr * p.grad`) runs on the Tensor's values and bumps the array's version; `array * t`
        and the like defer to the Tensor's operators, as before; any other ufunc is refused."""
        if method == "__call__" and out is not None:
            outs = out if isinstance(out, tuple) else (out,)
            if all(o.__class__ is np.ndarray for o in outs):
                args = [x.data if isinstance(x, Tensor) else x for x in inputs]
                result = ufunc(*args, out=outs, **kwargs)
                for o in outs:
                    mark_modified(o, f"an in-place numpy {ufunc.__name__} (e.g. x.data -= ...)")
                return result
            return NotImplemented
        names = _DEFER.get(ufunc)
        if method != "__call__" or names is None or kwargs:
            return NotImplemented
        if len(inputs) == 1:
            return getattr(inputs[0], names[0])()
        a, b = inputs
        if isinstance(a, Tensor):
            return getattr(a, names[0])(b)
        return getattr(b, names[1])(a)


_DEFER = {
    np.add: ("__add__", "__radd__"),
    np.subtract: ("__sub__", "__rsub__"),
    np.multiply: ("__mul__", "__rmul__"),
    np.true_divide: ("__truediv__", "__rtruediv__"),
    np.power: ("__pow__", "__rpow__"),
    np.matmul: ("__matmul__", "__rmatmul__"),
    np.less: ("__lt__", "__gt__"),
    np.less_equal: ("__le__", "__ge__"),
    np.greater: ("__gt__", "__lt__"),
    np.greater_equal: ("__ge__", "__le__"),
    np.equal: ("__eq__", "__eq__"),
    np.not_equal: ("__ne__", "__ne__"),
    np.negative: ("__neg__",),
}


def _two(args, kwargs, names, defaults, op):
    values = list(defaults)
    if len(args) > 2:
        raise TypeError(f"{op}: takes at most 2 positional arguments ({len(args)} given)")
    values[: len(args)] = args
    for key, val in kwargs.items():
        if key not in names:
            raise TypeError(f"{op}: got an unexpected keyword argument {key!r}")
        values[names.index(key)] = val
    return values
