"""`Tensor`: the user-facing n-dimensional face of the graph, PyTorch's names and semantics on
numpy arrays.

The class holds what every tensor is (its slots, construction, the autograd surface and the
node protocol the backward driver uses) and gathers its methods by family from
`tinygrad_lite.tensor_ops` (elementwise, reductions, movement and indexing, dtype/device; see
that package's docstring). Every method calls the op table in ops.py through `_apply`, the only
place a Tensor node is recorded. Everything importable from here before the split still is.
"""

from __future__ import annotations

import numpy as np

from . import ops as O
from .autograd import _next_id, current_state
from .autograd import backward as _autograd_backward
from .errors import DTypeError, ShapeError
from .ops import NumpyBackend as _NUMPY
from .tensor_ops import (
    _core,
    creation,
    dtype_device,
    elementwise,
    inplace,
    movement,
    printing,
    reductions,
)
from .tensor_ops._core import (  # noqa: F401 - re-exported: tests and nn import them from here
    _AnomalyView,
    _apply,
    _constant,
    _is_scalar_like,
    _matmul_error,
    _norm_axes,
    _pick,
    _shape_args,
    _shape_error,
)
from .tensor_ops.creation import (  # noqa: F401 - the package's names, as before the split
    CreationMixin,
    _leaf,
    arange,
    as_tensor,
    eye,
    full,
    generator,
    manual_seed,
    one_hot,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .tensor_ops.dtype_device import (  # noqa: F401
    DeviceError,
    DTypeDeviceMixin,
    bool_,
    check_device,
    float32,
    float64,
    get_default_dtype,
    int32,
    int64,
    resolve_dtype,
    set_default_dtype,
)
from .tensor_ops.elementwise import ElementwiseMixin, _matmul, maximum, minimum, where  # noqa: F401
from .tensor_ops.inplace import InplaceMixin
from .tensor_ops.movement import (  # noqa: F401
    MovementMixin,
    _describe_index,
    _normalize_index,
    cat,
    chunk,
    pad,
    split,
    stack,
)
from .tensor_ops.printing import format_tensor
from .tensor_ops.reductions import ReductionMixin
from .versioning import WRITES as _WRITES
from .versioning import check_saved as _check_saved

__all__ = [
    "DeviceError",
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

_new_object = object.__new__
_ndarray = np.ndarray
# The driver only asks a node for its gradient when some parent requires grad, so the single
# parent of a unary node always does.
_NEEDS_ONE = (True,)


class Tensor(
    ElementwiseMixin,
    ReductionMixin,
    MovementMixin,
    DTypeDeviceMixin,
    CreationMixin,
    InplaceMixin,
):
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
        "__weakref__",  # users' caches hold tensors weakly (weakref.ref(t)), as with torch
    )

    def __init__(
        self, data, requires_grad: bool = False, dtype=None, name: str | None = None, device=None
    ):
        if isinstance(data, Tensor):
            data = data.data
        if device is not None:
            check_device(device)
        if dtype is not None:
            dtype = resolve_dtype(dtype, "Tensor")
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
            arr = arr.astype(get_default_dtype())  # float32 unless set_default_dtype says
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

    def size(self, dim: int | None = None):
        """The shape (a tuple), or the length of one dimension, as `torch.Tensor.size`. Not
        numpy's element count: that is `numel()`.

        >>> from tinygrad_lite import zeros
        >>> zeros(2, 3).size(), zeros(2, 3).size(-1), zeros(2, 3).numel()
        ((2, 3), 3, 6)
        """
        if dim is None:
            return self.data.shape
        return self.data.shape[_norm_axes(dim, self.data.ndim, "size")[0]]

    def numel(self) -> int:
        """The number of elements (numpy's `.size`), as `torch.Tensor.numel`."""
        return self.data.size

    def dim(self) -> int:
        """The number of dimensions, as `torch.Tensor.dim` (also `.ndim`)."""
        return self.data.ndim

    def nelement(self) -> int:
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
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self.shape[0]):
            yield self[i]

    def __repr__(self) -> str:
        """As PyTorch prints a tensor: `tensor([1., 2.], requires_grad=True)`, with
        `grad_fn=<...>` for a recorded result and the dtype where it is not the default."""
        return format_tensor(self)

    def __format__(self, spec: str) -> str:
        """A one-element tensor formats as its number (`f"{loss:.4f}"`), as in PyTorch."""
        if self.data.size == 1 and self.data.dtype.kind in "biuf":
            return format(self.item(), spec)
        if spec:
            raise TypeError(
                f"unsupported format string {spec!r} passed to Tensor.__format__: only a "
                f"one-element tensor formats as a number, this one has shape {self.shape}"
            )
        return repr(self)

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
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
        if self.data.size != 1:
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
        if self._id < _WRITES[0]:  # a value was changed in place since this node was made
            _check_saved(self)
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


_core.bind(Tensor, (creation, dtype_device, elementwise, inplace, movement, reductions, printing))
