"""`Tensor`: the user-facing n-dimensional face of the graph, PyTorch's names and semantics on
numpy arrays. Dunder methods and methods call the op table in ops.py through `_apply`, which is
the only place a Tensor node is recorded.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np

from . import ops as O
from .autograd import _next_id, anomaly_error, creation_site, current_state
from .autograd import backward as _autograd_backward
from .errors import DTypeError, ShapeError

# The ops of the hottest paths, bound once (a module attribute lookup per op adds up).
from .ops import (
    ABS,
    ADD,
    DIV,
    EXP,
    LOG,
    MATMUL,
    MUL,
    NEG,
    POW,
    RELU,
    SIGMOID,
    SQRT,
    SUB,
    TANH,
)

__all__ = [
    "Tensor",
    "arange",
    "cat",
    "chunk",
    "eye",
    "full",
    "manual_seed",
    "maximum",
    "minimum",
    "one_hot",
    "ones",
    "ones_like",
    "pad",
    "rand",
    "randn",
    "split",
    "stack",
    "tensor",
    "where",
    "zeros",
    "zeros_like",
]

float32 = np.float32
float64 = np.float64
int64 = np.int64

_FIXES = {
    "matmul": "the last axis of the left operand must equal the second-to-last of the right; "
    "transpose an operand (.T) or check the layer sizes",
    "reshape": "the new shape must have the same number of elements (use -1 for one axis)",
    "cat": "all shapes must match except along the concatenation axis",
    "expand": "only axes of size 1 can be expanded (use -1 to keep an axis)",
}
_BROADCAST_FIX = "shapes must be equal or 1 in each trailing axis; reshape or unsqueeze an operand"


def _shape_error(fn: O.Op, arrays, ctx, err: Exception) -> ShapeError:
    if fn is MATMUL:
        return _matmul_error(*arrays)
    shapes = " and ".join(str(tuple(a.shape)) for a in arrays)
    fix = _FIXES.get(fn.name, _BROADCAST_FIX)
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
_NUMPY = O.NumpyBackend
# The driver only asks a node for its gradient when some parent requires grad, so the single
# parent of a unary node always does.
_NEEDS_ONE = (True,)


def _apply(fn: O.Op, parents: tuple, ctx: tuple = ()) -> Tensor:
    """Run `fn` forward on the parents' arrays and record the result as a graph node.

    This is the only place a Tensor op node is made, and on small arrays its bookkeeping costs
    as much as the arithmetic: unary and binary ops are spelled out (no generator, no argument
    unpacking when there is no context) and the node's slots are filled directly.
    """
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


def _constant(x, like: Tensor | None = None) -> Tensor:
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
        if not isinstance(a, (int, np.integer)) or not -ndim <= a < max(ndim, 1):
            raise ShapeError(
                f"{op}: axis {a!r} is out of range for a tensor with {ndim} dimensions; "
                f"use an axis in [{-ndim}, {ndim - 1}]"
            )
        out.append(int(a) % max(ndim, 1))
    return tuple(sorted(set(out)))


def _pick(axis, dim, keepdims, keepdim):
    """Accept numpy's (axis, keepdims) and PyTorch's (dim, keepdim) spellings alike."""
    return (dim if axis is None else axis), bool(keepdim if keepdim is not None else keepdims)


class Tensor:
    """An n-dimensional array that records the ops applied to it.

    >>> from tinygrad_lite import Tensor
    >>> x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad.tolist()
    [[2.0, 4.0], [6.0, 8.0]]
    """

    __slots__ = (
        "data",
        "requires_grad",
        "name",
        "_grad",
        "_parents",
        "_fn",
        "_ctx",
        "_id",
        "_scope",
        "_freed",
        "_hooks",
        "_seen_grad",
        "_trace",
        "_walk",
        "_retains",
    )
    # Let numpy defer to Tensor's reflected operators (ndarray * Tensor -> Tensor.__rmul__).
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        if dtype is not None:
            dtype = np.dtype(dtype)
        try:
            arr = np.array(data, dtype=dtype)
        except (TypeError, ValueError) as err:
            raise DTypeError(
                f"Tensor: cannot make a numeric array from {type(data).__name__}: {err}; "
                "pass numbers, nested lists of numbers or a numpy array"
            ) from None
        if arr.dtype.kind not in "biuf":
            raise DTypeError(
                f"Tensor: dtype {arr.dtype} is not numeric; pass numbers or a numeric array"
            )
        if dtype is None and arr.dtype == np.float64 and not isinstance(data, np.ndarray):
            arr = arr.astype(np.float32)  # PyTorch's default dtype for Python floats
        self.data = arr
        self._grad = None
        self._parents = ()
        self._fn = None
        self._ctx = ()
        self._id = _next_id()
        self._scope = current_state().scope
        self._freed = False
        self._hooks = None
        self._seen_grad = None
        self._walk = None
        self._retains = False
        self.name = name
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array: np.ndarray, name: str | None = None) -> Tensor:
        """A leaf around an existing array, with no copy and no dtype inference."""
        t = _new_object(cls)
        t.data = array if array.__class__ is _ndarray else np.asarray(array)
        t._grad = None
        t._parents = ()
        t._fn = None
        t._ctx = ()
        t._id = _next_id()
        t._scope = current_state().scope
        t._freed = False
        t._hooks = None
        t._seen_grad = None
        t._walk = None
        t._retains = False
        t.name = name
        t.requires_grad = False
        return t

    # -- attributes -----------------------------------------------------------------------

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def op(self) -> str:
        """The op that produced this tensor ('' for a leaf)."""
        return self._op

    @property
    def _op(self) -> str:
        # Derived from the op rather than stored: one slot less to fill for every node.
        fn = self._fn
        return "" if fn is None else fn.name

    @property
    def scope(self) -> str:
        """The scope path this tensor was created in ('' at top level)."""
        return self._scope

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user, or by ops that recorded nothing."""
        return not self._parents

    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient (leaves, and non-leaves after `retain_grad()`)."""
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None and not isinstance(value, Tensor):
            value = Tensor._wrap(np.asarray(value, dtype=self.data.dtype))
        if value is not None and value.shape != self.shape:
            raise ShapeError(
                f"grad: assigned gradient has shape {value.shape} but the tensor has shape "
                f"{self.shape}; gradients must match their tensor's shape"
            )
        self._grad = value

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="Tensor(")
        extra = ""
        if self._op:
            extra = f", op='{self._op}'"
        elif self.requires_grad:
            extra = ", requires_grad=True"
        if self.data.dtype != np.float32:
            extra += f", dtype={self.data.dtype}"
        return f"Tensor({body}{extra})"

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError(
                f"bool(): a tensor of shape {self.shape} has no single truth value; "
                "use .any() or .all()"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    __hash__ = object.__hash__

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied), as `torch.Tensor.numpy()`."""
        return self.data

    def item(self):
        """The single element as a Python number."""
        if self.size != 1:
            raise ValueError(
                f"item(): only a tensor with one element converts to a Python number, this "
                f"one has shape {self.shape}"
            )
        return self.data.reshape(()).item()

    def tolist(self):
        return self.data.tolist()

    def any(self) -> bool:
        return bool(np.any(self.data))

    def all(self) -> bool:
        return bool(np.all(self.data))

    # -- autograd surface -----------------------------------------------------------------

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark a leaf as a parameter to differentiate with respect to (in place)."""
        if requires_grad and self.data.dtype.kind != "f":
            raise DTypeError(
                f"requires_grad: only floating point tensors can require gradients, this one "
                f"is {self.data.dtype}; create it with dtype=float32 or float64"
            )
        if not requires_grad and self._parents:
            raise RuntimeError(
                "requires_grad_(False): only leaves can stop requiring grad; use .detach()"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> Tensor:
        """Keep `.grad` on this non-leaf after backward (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        self._retains = True
        return self

    def register_hook(self, hook):
        """Call `hook(grad)` when the gradient for this tensor is computed; a Tensor returned
        replaces the gradient (for `.grad` and for everything upstream).

        >>> from tinygrad_lite import Tensor
        >>> x = Tensor([1.0, 2.0], requires_grad=True)
        >>> _ = x.register_hook(lambda g: g * 0)
        >>> (x * 3).sum().backward()
        >>> x.grad.tolist()
        [0.0, 0.0]
        """
        if not self.requires_grad:
            raise RuntimeError(
                "register_hook: cannot register a hook on a tensor that does not require grad"
            )
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return hook

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph (truncated BPTT uses it)."""
        return Tensor._wrap(self.data, name=self.name)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the accumulated gradient (None by default, as PyTorch 2)."""
        if set_to_none or self._grad is None:
            self._grad = None
        else:
            self._grad = Tensor._wrap(np.zeros_like(self.data))

    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph=False):
        """Accumulate d(self)/d(leaf) into the `.grad` of every leaf that requires grad.

        A non-scalar tensor needs `gradient` (the vector of the vector-Jacobian product).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no graph; set "
                "requires_grad=True on the inputs you want gradients for"
            )
        _autograd_backward(self, gradient, retain_graph, create_graph)

    # -- node protocol (used by autograd.iter_backward) -----------------------------------

    def _seed_grad(self, gradient, where: str, create_graph: bool):
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"{where}: grad can be implicitly created only for scalar outputs, but "
                    f"this tensor has shape {self.shape}; pass gradient= a tensor of that "
                    "shape (e.g. ones_like(y)) or reduce it first with .sum() or .mean()"
                )
            seed = np.ones_like(self.data)
        else:
            seed = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient)
            if seed.shape != self.shape:
                raise ShapeError(
                    f"{where}: gradient has shape {seed.shape} but the output has shape "
                    f"{self.shape}; they must match"
                )
            if create_graph and isinstance(gradient, Tensor):
                return gradient
            seed = seed.astype(self.data.dtype, copy=False)
        return Tensor._wrap(seed) if create_graph else seed

    def _run_hooks(self, g):
        graph_grad = isinstance(g, Tensor)
        for hook in self._hooks:
            replaced = hook(g if graph_grad else Tensor._wrap(g))
            if replaced is not None:
                replaced = replaced if isinstance(replaced, Tensor) else Tensor(replaced)
                g = replaced if graph_grad else replaced.data
        return g

    def _receive(self, g) -> None:
        if self._parents and not self._retains:
            return
        if isinstance(g, Tensor):  # create_graph: the gradient is itself a graph
            self._grad = g if self._grad is None else self._grad + g
        elif self._grad is None:
            self._grad = Tensor._wrap(np.array(g, dtype=self.data.dtype))
        else:
            self._grad.data = self._grad.data + g

    def _grad_as_public(self, g) -> Tensor:
        return g if isinstance(g, Tensor) else Tensor._wrap(np.asarray(g, self.data.dtype))

    def _vjp(self, g, create_graph: bool):
        if create_graph:
            parents = self._parents
            needs = tuple(p.requires_grad for p in parents)
            if not isinstance(g, Tensor):
                g = Tensor._wrap(g)
            return self._fn.vjp(TensorBackend, g, self, parents, needs, *self._ctx)
        # The fast path: numpy arrays in, numpy arrays out, nothing recorded. Unary and binary
        # ops are spelled out (no generator per node, no argument unpacking without context).
        parents = self._parents
        ctx = self._ctx
        if len(parents) == 1:
            a = parents[0]
            inputs, needs = (a.data,), _NEEDS_ONE
        elif len(parents) == 2:
            a, b = parents
            inputs = (a.data, b.data)
            needs = (a.requires_grad, b.requires_grad)
        else:  # list comprehensions, not generators: this runs once per node in backward
            inputs = tuple([p.data for p in parents])
            needs = tuple([p.requires_grad for p in parents])
        # numpy's floating-point warnings are silenced for the whole walk by iter_backward.
        if ctx:
            return self._fn.vjp(_NUMPY, g, self.data, inputs, needs, *ctx)
        return self._fn.vjp(_NUMPY, g, self.data, inputs, needs)

    # -- arithmetic -----------------------------------------------------------------------

    def __add__(self, other):
        return _apply(ADD, (self, other if other.__class__ is Tensor else _constant(other, self)))

    def __radd__(self, other):
        return _apply(ADD, (_constant(other, self), self))

    def __sub__(self, other):
        return _apply(SUB, (self, other if other.__class__ is Tensor else _constant(other, self)))

    def __rsub__(self, other):
        return _apply(SUB, (_constant(other, self), self))

    def __mul__(self, other):
        return _apply(MUL, (self, other if other.__class__ is Tensor else _constant(other, self)))

    def __rmul__(self, other):
        return _apply(MUL, (_constant(other, self), self))

    def __truediv__(self, other):
        return _apply(DIV, (self, other if other.__class__ is Tensor else _constant(other, self)))

    def __rtruediv__(self, other):
        return _apply(DIV, (_constant(other, self), self))

    def __pow__(self, other):
        return _apply(POW, (self, other if other.__class__ is Tensor else _constant(other, self)))

    def __rpow__(self, other):
        return _apply(POW, (_constant(other, self), self))

    def __neg__(self):
        return _apply(NEG, (self,))

    def __matmul__(self, other):
        return _matmul(self, other if other.__class__ is Tensor else _constant(other))

    def __rmatmul__(self, other):
        return _matmul(_constant(other), self)

    # Comparisons give boolean tensors outside the graph (masks), as in PyTorch.
    def _compare(self, other, fn) -> Tensor:
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._wrap(fn(self.data, other))

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __eq__(self, other):  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other):  # type: ignore[override]
        return self._compare(other, np.not_equal)

    # -- elementwise functions ------------------------------------------------------------

    def exp(self):
        return _apply(EXP, (self,))

    def log(self):
        return _apply(LOG, (self,))

    def sqrt(self):
        return _apply(SQRT, (self,))

    def tanh(self):
        return _apply(TANH, (self,))

    def sigmoid(self):
        return _apply(SIGMOID, (self,))

    def relu(self):
        """max(0, x); the gradient at exactly 0 is 0, as PyTorch's."""
        return _apply(RELU, (self,))

    def abs(self):
        """|x|; the gradient at exactly 0 is 0, as PyTorch's."""
        return _apply(ABS, (self,))

    __abs__ = abs

    def sign(self):
        """-1, 0 or 1 by the sign of each element (and 0 for NaN), as `torch.sign`. Its
        gradient is 0 everywhere, as PyTorch's: a step has no slope where it has one at all.

        >>> from tinygrad_lite import Tensor
        >>> Tensor([-2.0, 0.0, 3.0]).sign().tolist()
        [-1.0, 0.0, 1.0]
        """
        return _apply(O.SIGN, (self,))

    def clip(self, min=None, max=None):  # noqa: A002 - PyTorch's argument names
        """Clamp into [min, max]; the gradient passes where min <= x <= max (PyTorch's rule)."""
        if min is None and max is None:
            raise ValueError("clip: give at least one of min and max")
        return _apply(O.CLIP, (self,), (min, max))

    clamp = clip

    def maximum(self, other):
        return maximum(self, other)

    def minimum(self, other):
        return minimum(self, other)

    def astype(self, dtype) -> Tensor:
        """Cast to `dtype`; the gradient is cast back."""
        dtype = np.dtype(dtype)
        if dtype == self.data.dtype:
            return self
        return _apply(O.CAST, (self,), (dtype,))

    to = astype

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def clone(self) -> Tensor:
        return _apply(O.CLONE, (self,))

    def contiguous(self) -> Tensor:
        """The same values laid out in C (row-major) order, as PyTorch's `contiguous()`: the
        tensor itself when it already is, else a copy recorded as a `contiguous` node (its
        gradient passes through unchanged). A transposed weight reused at every time step is
        worth copying once: numpy's matmul runs faster on a C-ordered right operand.

        >>> from tinygrad_lite import Tensor
        >>> w = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> w.T.is_contiguous(), w.T.contiguous().is_contiguous(), w.contiguous() is w
        (False, True, True)
        """
        if self.data.flags.c_contiguous:
            return self
        return _apply(O.CONTIGUOUS, (self,))

    def is_contiguous(self) -> bool:
        """True when `.data` is laid out in C (row-major) order, as PyTorch's."""
        return bool(self.data.flags.c_contiguous)

    # -- reductions -----------------------------------------------------------------------

    def _reduce(self, fn: O.Op, axis, dim, keepdims, keepdim):
        axis, keepdims = _pick(axis, dim, keepdims, keepdim)
        axes = _norm_axes(axis, self.ndim, fn.name)
        if fn is not O.SUM and self.size == 0:
            raise ShapeError(f"{fn.name}: cannot reduce an empty tensor of shape {self.shape}")
        return _apply(fn, (self,), (axes, keepdims))

    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return self._reduce(O.SUM, axis, dim, keepdims, keepdim)

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Maximum over axes; tied maxima share the gradient evenly."""
        return self._reduce(O.MAX, axis, dim, keepdims, keepdim)

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Minimum over axes; tied minima share the gradient evenly."""
        return self._reduce(O.MIN, axis, dim, keepdims, keepdim)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis, keepdims = _pick(axis, dim, keepdims, keepdim)
        axes = _norm_axes(axis, self.ndim, "mean")
        count = self.size if axes is None else int(np.prod([self.shape[a] for a in axes]))
        return self.sum(axes, keepdims) / max(count, 1)

    def var(self, axis=None, keepdims=False, *, dim=None, keepdim=None, correction: int = 1):
        """Variance with PyTorch's default Bessel correction (divide by n - 1); pass
        correction=0 for numpy's population variance.

        With no degrees of freedom left (n <= correction, e.g. one element with the default
        correction) the result is NaN and a warning says so, as in PyTorch: a variance of 0
        there would be a silent lie that a loss or a normalisation goes on to use.

        >>> from tinygrad_lite import Tensor
        >>> Tensor([1.0, 2.0, 3.0, 4.0]).var().item()
        1.6666666269302368
        """
        axis, keepdims = _pick(axis, dim, keepdims, keepdim)
        return self._variance(axis, keepdims, correction, "var")

    def std(self, axis=None, keepdims=False, *, dim=None, keepdim=None, correction: int = 1):
        """Standard deviation, the square root of `var` (same correction, same NaN rule)."""
        axis, keepdims = _pick(axis, dim, keepdims, keepdim)
        return self._variance(axis, keepdims, correction, "std").sqrt()

    def _variance(self, axis, keepdims, correction, op: str) -> Tensor:
        axes = _norm_axes(axis, self.ndim, op)
        count = self.size if axes is None else int(np.prod([self.shape[a] for a in axes]))
        dof = max(count - correction, 0)
        if dof == 0:
            warnings.warn(
                f"{op}: {count} element(s) per reduction over axis {axis} of shape "
                f"{self.shape} leave no degrees of freedom with correction={correction}; "
                "the result is NaN, as in PyTorch. Pass correction=0 for the population "
                "variance, or reduce over more elements",
                UserWarning,
                stacklevel=3,
            )
        centered = self - self.mean(axes, keepdims=True)
        return (centered * centered).sum(axes, keepdims) / dof

    def logsumexp(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """log(sum(exp(x))) computed without overflow."""
        return self._reduce(O.LOGSUMEXP, axis, dim, keepdims, keepdim)

    def softmax(self, axis=-1, *, dim=None):
        axes = _norm_axes(axis if dim is None else dim, self.ndim, "softmax")
        return _apply(O.SOFTMAX, (self,), (axes[0],))

    def log_softmax(self, axis=-1, *, dim=None):
        axes = _norm_axes(axis if dim is None else dim, self.ndim, "log_softmax")
        return _apply(O.LOG_SOFTMAX, (self,), (axes[0],))

    # -- shape ----------------------------------------------------------------------------

    def reshape(self, *shape):
        shape = (
            tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        )
        shape = tuple(int(s) for s in shape)
        if shape == self.shape:
            return self
        return _apply(O.RESHAPE, (self,), (shape,))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        if self.ndim == 0:
            return self.reshape(1)
        s = start_dim % self.ndim
        e = end_dim % self.ndim
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1 :])

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        axes = _norm_axes(dim, self.ndim, "squeeze")
        return self.reshape(
            tuple(n for i, n in enumerate(self.shape) if not (i in axes and n == 1))
        )

    def unsqueeze(self, dim: int):
        dim = _norm_axes(dim, self.ndim + 1, "unsqueeze")[0]
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def permute(self, *dims):
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        if sorted(d % max(self.ndim, 1) for d in dims) != list(range(self.ndim)):
            raise ShapeError(
                f"permute: {dims} is not a permutation of the {self.ndim} axes of a tensor "
                f"of shape {self.shape}"
            )
        return _apply(O.PERMUTE, (self,), (tuple(d % self.ndim for d in dims),))

    def transpose(self, dim0: int = -2, dim1: int = -1):
        """Swap two axes (PyTorch's transpose, not numpy's full reversal)."""
        if self.ndim < 2:
            return self
        axes = list(range(self.ndim))
        d0, d1 = (_norm_axes(d, self.ndim, "transpose")[0] for d in (dim0, dim1))
        axes[d0], axes[d1] = axes[d1], axes[d0]
        return _apply(O.PERMUTE, (self,), (tuple(axes),))

    @property
    def T(self):
        """All axes reversed (a plain transpose for matrices)."""
        if self.ndim < 2:
            return self
        return _apply(O.PERMUTE, (self,), (tuple(reversed(range(self.ndim))),))

    @property
    def mT(self):
        """The last two axes swapped (batched matrix transpose)."""
        return self.transpose(-2, -1)

    def expand(self, *sizes):
        sizes = (
            tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        )
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ShapeError(
                f"expand: cannot expand shape {self.shape} to fewer dimensions {sizes}"
            )
        shape = tuple(
            self.shape[i - lead] if (s == -1 and i >= lead) else int(s) for i, s in enumerate(sizes)
        )
        if shape == self.shape:
            return self
        return _apply(O.EXPAND, (self,), (shape,))

    def __getitem__(self, index):
        if index.__class__ is not int and index.__class__ is not slice:  # those need no work
            index = _normalize_index(index)
        try:
            return _apply(O.GETITEM, (self,), (index,))
        except IndexError as err:
            raise IndexError(
                f"getitem: index {_describe_index(index)} is out of range for a tensor of "
                f"shape {self.shape} ({err})"
            ) from None

    def __setitem__(self, index, value):
        raise TypeError(
            "Tensor does not support item assignment (it would rewrite recorded history); "
            "build a new tensor with where(), cat() or pad(), or edit .data outside the graph"
        )

    def split(self, split_size_or_sections, dim: int = 0):
        return split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0):
        return chunk(self, chunks, dim)


def _normalize_index(index):
    """Tensors inside an index become arrays; lists become integer or boolean arrays."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, Tensor):
            i = i.data
        elif isinstance(i, list):
            i = np.asarray(i)
        if isinstance(i, np.ndarray) and i.dtype.kind not in "biu":
            raise IndexError(f"getitem: index arrays must be integer or boolean, got {i.dtype}")
        out.append(i)
    return tuple(out) if isinstance(index, tuple) else out[0]


def _describe_index(index) -> str:
    items = index if isinstance(index, tuple) else (index,)
    return (
        "["
        + ", ".join(
            f"array{tuple(i.shape)}" if isinstance(i, np.ndarray) else repr(i) for i in items
        )
        + "]"
    )


def _matmul(a: Tensor, b: Tensor) -> Tensor:
    # Shapes are checked by numpy; `_shape_error` explains a failure (see `_matmul_error`).
    return _apply(MATMUL, (a, b))


class TensorBackend:
    """The `xp` of create_graph=True: VJPs run on recorded Tensor ops (see ops.py)."""

    @staticmethod
    def raw(x):
        return x.data if isinstance(x, Tensor) else x

    exp = staticmethod(Tensor.exp)
    log = staticmethod(Tensor.log)
    sqrt = staticmethod(Tensor.sqrt)
    tanh = staticmethod(Tensor.tanh)

    @staticmethod
    def reshape(x, shape):
        return _constant(x).reshape(shape)

    @staticmethod
    def broadcast_to(x, shape):
        return _constant(x).expand(shape)

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        return _constant(x).sum(axis, keepdims)

    @staticmethod
    def permute(x, axes):
        return x.permute(axes)

    @staticmethod
    def swap_last(x):
        return x.transpose(-1, -2)

    @staticmethod
    def where(cond, a, b):
        return where(cond, a, b)

    @staticmethod
    def astype(x, dtype):
        return x.astype(dtype)

    @staticmethod
    def index_grad(g, index, shape):
        """The gradient of x[index] given g, recorded as an ordinary scatter_add node."""
        return _apply(O.SCATTER_ADD, (g,), (index, tuple(shape)))

    @staticmethod
    def pad(x, pad_width, value):
        return _apply(O.PAD, (x,), (pad_width, value))

    @staticmethod
    def cat(xs, axis):
        return cat(xs, axis)

    @staticmethod
    def softmax(x, axis):
        return x.softmax(axis)

    @staticmethod
    def relu_backward(g, x):
        return _apply(O.RELU_BACKWARD, (_constant(g), _constant(x)))

    @staticmethod
    def sign(x):
        return _constant(x).sign()

    @staticmethod
    def zeros_like(x):
        return Tensor._wrap(np.zeros(x.shape, dtype=x.dtype))


# -- module-level functions ---------------------------------------------------------------


def tensor(data, requires_grad: bool = False, dtype=None, name: str | None = None) -> Tensor:
    """Make a Tensor (copies `data`), as `torch.tensor`.

    >>> from tinygrad_lite import tensor
    >>> tensor([1.0, 2.0]).dtype
    dtype('float32')
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def _shape_args(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _leaf(array, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(array)
    return t.requires_grad_(True) if requires_grad else t


def zeros(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (float32 unless `dtype` says otherwise)."""
    return _leaf(np.zeros(_shape_args(shape), dtype=dtype), requires_grad)


def ones(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of ones (float32 unless `dtype` says otherwise)."""
    return _leaf(np.ones(_shape_args(shape), dtype=dtype), requires_grad)


def full(shape, fill_value, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor filled with `fill_value`."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _leaf(np.full(shape, fill_value, dtype=dtype), requires_grad)


def zeros_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.zeros_like(_constant(t).data, dtype=dtype), requires_grad)


def ones_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.ones_like(_constant(t).data, dtype=dtype), requires_grad)


def eye(n: int, m: int | None = None, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    return _leaf(np.eye(n, m, dtype=dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values: int64 for integer arguments, float32 otherwise (as PyTorch)."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if ints else np.float32
    return _leaf(np.arange(start, end, step, dtype=dtype), requires_grad)


_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator behind randn/rand/init and Dropout, for reproducible runs."""
    global _rng
    _rng = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    """The package's random generator (reseeded by `manual_seed`)."""
    return _rng


def randn(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    """Standard normal samples, float32 unless `dtype` says otherwise."""
    return _leaf(_rng.standard_normal(_shape_args(shape)).astype(dtype), requires_grad)


def rand(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1), float32 unless `dtype` says otherwise."""
    return _leaf(_rng.random(_shape_args(shape)).astype(dtype), requires_grad)


def _is_value(x) -> bool:
    from .value import Value

    return isinstance(x, Value)


def maximum(a, b):
    """Elementwise maximum (Tensors, or Values); ties split the gradient evenly."""
    if _is_value(a) or _is_value(b):
        from .value import maximum as value_maximum

        return value_maximum(a, b)
    a = _constant(a, b if isinstance(b, Tensor) else None)
    return _apply(O.MAXIMUM, (a, _constant(b, a)))


def minimum(a, b):
    """Elementwise minimum; ties split the gradient evenly."""
    a = _constant(a, b if isinstance(b, Tensor) else None)
    return _apply(O.MINIMUM, (a, _constant(b, a)))


def where(condition, a, b) -> Tensor:
    """`a` where `condition` holds, else `b`; the condition is not differentiated."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    a = _constant(a, like)
    b = _constant(b, a)
    return _apply(O.WHERE, (a, b), (cond,))


def cat(tensors, dim: int = 0, *, axis=None) -> Tensor:
    """Concatenate along an existing axis."""
    tensors = [_constant(t) for t in tensors]
    if not tensors:
        raise ShapeError("cat: needs at least one tensor")
    axis = dim if axis is None else axis
    axes = _norm_axes(axis, tensors[0].ndim, "cat")
    return _apply(O.CAT, tuple(tensors), (axes[0],))


def stack(tensors, dim: int = 0) -> Tensor:
    """Stack along a new axis."""
    tensors = [_constant(t) for t in tensors]
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all tensors need the same shape, got {sorted(shapes)}")
    return cat([t.unsqueeze(dim) for t in tensors], dim)


def split(t: Tensor, split_size_or_sections, dim: int = 0) -> list[Tensor]:
    """Split into pieces of `split_size` (the last may be smaller) or of the given sizes."""
    axis = _norm_axes(dim, t.ndim, "split")[0]
    n = t.shape[axis]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        sizes = [min(size, n - s) for s in range(0, n, size)]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ShapeError(f"split: sections {sizes} do not add up to {n} along axis {axis}")
    pieces, start = [], 0
    for s in sizes:
        index = (slice(None),) * axis + (slice(start, start + s),)
        pieces.append(t[index])
        start += s
    return pieces


def chunk(t: Tensor, chunks: int, dim: int = 0) -> list[Tensor]:
    """Split into `chunks` nearly equal pieces (PyTorch's sizes: ceil(n / chunks))."""
    n = t.shape[_norm_axes(dim, t.ndim, "chunk")[0]]
    return split(t, max(-(-n // chunks), 1), dim)


def pad(t: Tensor, pad: tuple, value: float = 0.0) -> Tensor:
    """Constant padding with PyTorch's convention: pairs (before, after) from the last axis
    backwards, e.g. pad=(1, 1) pads the last axis by one on each side."""
    if len(pad) % 2 or len(pad) // 2 > t.ndim:
        raise ShapeError(f"pad: {pad} must hold (before, after) pairs for at most {t.ndim} axes")
    widths = [(0, 0)] * t.ndim
    for i in range(len(pad) // 2):
        widths[t.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        raise ShapeError(f"pad: negative padding {pad} is not supported; slice instead")
    return _apply(O.PAD, (t,), (tuple(widths), value))


def one_hot(indices, num_classes: int = -1) -> Tensor:
    """One-hot int64 encoding (not differentiable, as in PyTorch)."""
    idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"one_hot: indices must be integers, got {idx.dtype}")
    if num_classes < 0:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise IndexError(
            f"one_hot: class values must be in [0, {num_classes}), got {idx.min()}..{idx.max()}"
        )
    return Tensor._wrap(np.eye(num_classes, dtype=np.int64)[idx])


def as_tensor(x: Any) -> Tensor:
    """x itself if it is a Tensor, else a constant Tensor made from it."""
    return _constant(x)
