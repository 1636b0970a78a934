"""PyTorch's module-level functions (`torch.exp(x)`, `torch.max(x, 1)`, `torch.randperm(n)`),
so code written as `torch.f(...)` runs as `tl.f(...)`.

Each is a thin delegation to the Tensor method of the same meaning, with torch's signature:
the derivative of every op still lives in one place, the op table. The random functions draw
from the package generator, so `tl.manual_seed` makes them reproducible (the numbers are not
torch's: the streams differ).

>>> import tinygrad_lite as tl
>>> x = tl.tensor([[1.0, 5.0], [3.0, 2.0]])
>>> tl.relu(x - 2).tolist(), tl.sum(x, 1).tolist(), tl.max(x).item()
([[0.0, 3.0], [1.0, 0.0]], [6.0, 5.0], 5.0)
"""

from __future__ import annotations

import contextlib

import numpy as np

from .autograd import no_grad
from .errors import DTypeError
from .tensor import Tensor, maximum, minimum

__all__ = [
    "abs",
    "allclose",
    "clamp",
    "equal",
    "exp",
    "from_numpy",
    "inference_mode",
    "isclose",
    "log",
    "log_softmax",
    "matmul",
    "max",
    "mean",
    "min",
    "multinomial",
    "randint",
    "randperm",
    "relu",
    "sigmoid",
    "softmax",
    "sqrt",
    "sum",
    "tanh",
]

_builtin_abs, _builtin_max, _builtin_min, _builtin_sum = abs, max, min, sum


def _tensor(x, fn: str, arg: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{fn}(): argument '{arg}' must be Tensor, not {type(x).__name__}; "
            f"wrap it first: tl.tensor({x!r})"
        )
    return x


# -- elementwise --------------------------------------------------------------------------


def exp(input: Tensor) -> Tensor:  # noqa: A002 (torch's argument name)
    """e ** input, as `torch.exp`."""
    return _tensor(input, "exp").exp()


def log(input: Tensor) -> Tensor:  # noqa: A002
    """Natural logarithm, as `torch.log` (-inf at 0, NaN below)."""
    return _tensor(input, "log").log()


def sqrt(input: Tensor) -> Tensor:  # noqa: A002
    """Square root, as `torch.sqrt`."""
    return _tensor(input, "sqrt").sqrt()


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    """Hyperbolic tangent, as `torch.tanh`."""
    return _tensor(input, "tanh").tanh()


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """1 / (1 + exp(-input)), as `torch.sigmoid`."""
    return _tensor(input, "sigmoid").sigmoid()


def relu(input: Tensor) -> Tensor:  # noqa: A002
    """max(input, 0), as `torch.relu`."""
    return _tensor(input, "relu").relu()


def abs(input: Tensor) -> Tensor:  # noqa: A001, A002 (torch's name)
    """|input|, as `torch.abs`."""
    return _tensor(input, "abs").abs()


def clamp(input: Tensor, min=None, max=None) -> Tensor:  # noqa: A001, A002
    """Limit values to [min, max] (either may be None), as `torch.clamp`; the gradient is 1
    inside the range and 0 where a bound was applied.

    >>> import tinygrad_lite as tl
    >>> tl.clamp(tl.tensor([-2.0, 0.5, 3.0]), min=0.0, max=1.0).tolist()
    [0.0, 0.5, 1.0]
    """
    if min is None and max is None:
        raise ValueError("clamp(): at least one of 'min' or 'max' must not be None")
    return _tensor(input, "clamp").clip(min, max)


def matmul(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """Matrix product with broadcasting batch dimensions, as `torch.matmul` (`input @ other`)."""
    return _tensor(input, "matmul") @ _tensor(other, "matmul", "other")


# -- reductions ---------------------------------------------------------------------------


def sum(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    """Sum of all elements, or over `dim` (an int or a tuple), as `torch.sum`."""
    return _tensor(input, "sum").sum(dim=dim, keepdim=keepdim)


def mean(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """Mean of all elements, or over `dim`, as `torch.mean`."""
    return _tensor(input, "mean").mean(dim=dim, keepdim=keepdim)


def _extremum(name: str, elementwise, input, dim, keepdim, other):
    x = _tensor(input, name)
    if isinstance(dim, Tensor):  # torch.max(a, b): the elementwise form
        other, dim = dim, None
    if other is not None:
        return elementwise(x, _tensor(other, name, "other"))
    if dim is None:
        return getattr(x, name)()
    return getattr(x, name)(dim=dim, keepdim=keepdim)


def max(input: Tensor, dim=None, keepdim: bool = False, *, other=None):  # noqa: A001, A002
    """As `torch.max`: `max(x)` is the largest element; `max(x, dim, keepdim)` is what
    `x.max(dim, keepdim)` returns; `max(x, y)` with a Tensor `y` is `tl.maximum(x, y)`.

    >>> import tinygrad_lite as tl
    >>> tl.max(tl.tensor([1.0, 4.0]), tl.tensor([3.0, 2.0])).tolist()
    [3.0, 4.0]
    """
    return _extremum("max", maximum, input, dim, keepdim, other)


def min(input: Tensor, dim=None, keepdim: bool = False, *, other=None):  # noqa: A001, A002
    """As `torch.min`: `min(x)`, `min(x, dim, keepdim)` (what `x.min(dim, keepdim)` returns),
    or `min(x, y)` elementwise for a Tensor `y`."""
    return _extremum("min", minimum, input, dim, keepdim, other)


def softmax(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    """exp(x) / sum(exp(x)) along `dim`, as `torch.softmax` (dim is required, as there)."""
    return _tensor(input, "softmax").softmax(dim=dim)


def log_softmax(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    """log(softmax(x)) along `dim`, computed stably, as `torch.log_softmax`."""
    return _tensor(input, "log_softmax").log_softmax(dim=dim)


# -- comparisons (plain results, no graph) --------------------------------------------------


def _arrays(input, other, name: str):
    return _tensor(input, name).data, _tensor(other, name, "other").data


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """Elementwise |input - other| <= atol + rtol * |other|, a bool Tensor, as `torch.isclose`.

    >>> import tinygrad_lite as tl
    >>> tl.isclose(tl.tensor([1.0, 2.0]), tl.tensor([1.0, 2.1])).tolist()
    [True, False]
    """
    a, b = _arrays(input, other, "isclose")
    return Tensor(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """True when every element is close (see `isclose`), as `torch.allclose`."""
    a, b = _arrays(input, other, "allclose")
    return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input, other) -> bool:  # noqa: A002
    """True when both have the same shape and the same elements, as `torch.equal`."""
    a, b = _arrays(input, other, "equal")
    return a.shape == b.shape and bool(np.array_equal(a, b))


# -- creation and sampling ----------------------------------------------------------------


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A Tensor that shares memory with `ndarray` and keeps its dtype, as `torch.from_numpy`:
    writing to one changes the other.

    >>> import numpy as np, tinygrad_lite as tl
    >>> a = np.zeros(2)
    >>> t = tl.from_numpy(a)
    >>> a[0] = 5.0
    >>> t.tolist(), t.dtype
    ([5.0, 0.0], dtype('float64'))
    """
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy(): expected np.ndarray, got {type(ndarray).__name__}")
    if ndarray.dtype.kind not in "biuf":
        raise DTypeError(
            f"from_numpy(): dtype {ndarray.dtype} is not supported; only bool, integer and "
            "floating arrays make Tensors"
        )
    return Tensor._wrap(ndarray)


def _size(size, name: str) -> tuple:
    if isinstance(size, int):
        size = (size,)
    try:
        shape = tuple(int(s) for s in size)
    except TypeError:
        raise TypeError(f"{name}(): size must be a tuple of ints, got {size!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"{name}(): negative dimension in size {shape}")
    return shape


def _generator():
    from .tensor import generator

    return generator()


def randint(low, high=None, size=None, *, dtype=np.int64, requires_grad: bool = False):
    """Integers drawn uniformly from [low, high), as `torch.randint`: `randint(high, size)` or
    `randint(low, high, size)`; int64 unless `dtype` says otherwise.

    >>> import tinygrad_lite as tl
    >>> tl.manual_seed(0)
    >>> x = tl.randint(3, 10, (2, 4))
    >>> x.shape, x.dtype, bool(((x.numpy() >= 3) & (x.numpy() < 10)).all())
    ((2, 4), dtype('int64'), True)
    """
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint(): missing the 'size' argument, e.g. randint(10, (3,))")
    if high <= low:
        raise ValueError(f"randint(): expected low < high, got low={low}, high={high}")
    data = _generator().integers(low, high, size=_size(size, "randint")).astype(dtype)
    return Tensor(data, requires_grad=requires_grad)


def randperm(n: int, *, dtype=np.int64, requires_grad: bool = False) -> Tensor:
    """A random permutation of 0 .. n-1, as `torch.randperm`.

    >>> import tinygrad_lite as tl
    >>> sorted(tl.randperm(5).tolist())
    [0, 1, 2, 3, 4]
    """
    if n < 0:
        raise ValueError(f"randperm(): n must be non-negative, got {n}")
    return Tensor(_generator().permutation(int(n)).astype(dtype), requires_grad=requires_grad)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False) -> Tensor:  # noqa: A002
    """Indices drawn from the (unnormalised, non-negative) weights in each row of `input`, as
    `torch.multinomial`: a 1-d input gives `num_samples` indices, a 2-d input one row of
    indices per row; without replacement an index appears at most once per row.

    >>> import tinygrad_lite as tl
    >>> tl.multinomial(tl.tensor([0.0, 1.0, 0.0]), 2, replacement=True).tolist()
    [1, 1]
    """
    w = np.asarray(_tensor(input, "multinomial").data, dtype=np.float64)
    if w.ndim not in (1, 2):
        raise ValueError(f"multinomial(): input must be 1-d or 2-d, got shape {w.shape}")
    rows = w.reshape(1, -1) if w.ndim == 1 else w
    if not np.all(np.isfinite(rows)) or np.any(rows < 0):
        raise RuntimeError("multinomial(): probability tensor contains inf, nan or a value < 0")
    totals = rows.sum(axis=1)
    if np.any(totals <= 0):
        raise RuntimeError("multinomial(): invalid input, the weights of a row sum to 0")
    if not replacement and num_samples > _builtin_min(
        np.count_nonzero(rows, axis=1).min(), rows.shape[1]
    ):
        raise RuntimeError(
            f"multinomial(): cannot draw {num_samples} samples without replacement from a row "
            "with fewer non-zero weights; pass replacement=True or draw fewer"
        )
    rng = _generator()
    out = np.stack(
        [
            rng.choice(rows.shape[1], size=num_samples, replace=replacement, p=row / total)
            for row, total in zip(rows, totals)
        ]
    ).astype(np.int64)
    return Tensor(out[0] if w.ndim == 1 else out)


# -- grad mode ------------------------------------------------------------------------------


def inference_mode(mode=True):
    """Run without recording a graph, as `torch.inference_mode` (here the same as `no_grad`:
    this engine has no separate inference tensors). A context manager or a decorator;
    `inference_mode(False)` records as usual.

    >>> import tinygrad_lite as tl
    >>> x = tl.tensor([1.0], requires_grad=True)
    >>> with tl.inference_mode():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """
    if callable(mode):  # @inference_mode without parentheses
        return no_grad(mode)
    return no_grad() if mode else _Unchanged()


class _Unchanged(contextlib.ContextDecorator):
    """`inference_mode(False)`: leaves the recording mode as it is, as torch's does."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False
