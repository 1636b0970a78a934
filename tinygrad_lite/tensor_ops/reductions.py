"""The reductions family: `sum`, `mean`, `var`, `std`, `amax`/`amin`, `logsumexp`, `norm`;
the reductions with indices, as PyTorch's (`max`/`min` over a dim, `argmax`/`argmin`, `sort`,
`argsort`, `topk`, `gather`); and the normalisations over one axis, `softmax` and
`log_softmax`. Axes are given as PyTorch's (dim, keepdim) or numpy's (axis, keepdims), alike.

Values picked at indices (max over a dim, sort, topk) are gathered from the input, so their
gradient goes to the picked element only, as PyTorch's; `amax`/`amin` and the full `max()`
share it evenly among ties. Indices are int64 tensors outside the graph. Ties pick the first
occurrence (argmax, max over a dim) and sorts are stable, so equal values keep their order.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import ops as O
from .. import return_types
from ..errors import ShapeError
from ._core import _apply, _norm_axes, _pick
from .elementwise import maximum, minimum

Tensor: Any = None  # the final class, bound by tinygrad_lite.tensor (see _core.bind)


class ReductionMixin:
    """Reductions over axes of `Tensor`."""

    __slots__ = ()

    def _reduce(self, fn: O.Op, axis, dim, keepdims, keepdim):
        axis, keepdims = _pick(axis, dim, keepdims, keepdim)
        axes = _norm_axes(axis, self.ndim, fn.name)
        if self.ndim == 0:
            axes = None  # dim 0 (or -1) of a 0-d tensor is the tensor itself, as in PyTorch
        if fn is not O.SUM and self.data.size == 0:
            raise ShapeError(f"{fn.name}: cannot reduce an empty tensor of shape {self.shape}")
        return _apply(fn, (self,), (axes, keepdims))

    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return self._reduce(O.SUM, axis, dim, keepdims, keepdim)

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Maximum over one or several dims (all by default); tied maxima share the gradient
        evenly, as `torch.amax`.

        >>> from tinygrad_lite import Tensor
        >>> x = Tensor([[1.0, 3.0], [3.0, 2.0]], requires_grad=True)
        >>> x.amax().backward()
        >>> x.grad.tolist()
        [[0.0, 0.5], [0.5, 0.0]]
        """
        return self._reduce(O.MAX, axis, dim, keepdims if keepdims is not None else keepdim, None)

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Minimum over one or several dims (all by default); tied minima share the gradient."""
        return self._reduce(O.MIN, axis, dim, keepdims if keepdims is not None else keepdim, None)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """As `torch.max`: with no dim the largest element (a tensor; ties share the gradient);
        with an int dim the named tuple `(values, indices)` of that dim; with a tensor the
        elementwise `maximum`.

        >>> from tinygrad_lite import Tensor
        >>> out = Tensor([[0.1, 0.9], [0.8, 0.2]])
        >>> _, pred = out.max(1)
        >>> pred.tolist()
        [1, 0]
        """
        return self._extremum("max", dim, keepdim, axis, keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """As `torch.min`: the smallest element, `(values, indices)` of a dim, or `minimum`."""
        return self._extremum("min", dim, keepdim, axis, keepdims)

    def _extremum(self, which: str, dim, keepdim, axis, keepdims):
        if isinstance(dim, Tensor):
            return maximum(self, dim) if which == "max" else minimum(self, dim)
        dim = axis if dim is None else dim
        keepdim = bool(keepdims if keepdims is not None else keepdim)
        if dim is None:
            return self._reduce(O.MAX if which == "max" else O.MIN, None, None, False, None)
        if isinstance(dim, (tuple, list)):
            raise TypeError(
                f"{which}: dim must be one int, got {dim!r}; use a{which}(dim={tuple(dim)!r}) "
                "to reduce over several dims"
            )
        pick = np.argmax if which == "max" else np.argmin
        return self._pick_along(which, dim, keepdim, lambda d, a: pick(d, a, keepdims=True))

    def argmax(self, dim=None, keepdim=False):
        """The index of the largest element (of the flattened tensor when dim is None); the
        first one where several tie, as `torch.argmax`. An int64 tensor, not differentiable.

        >>> from tinygrad_lite import Tensor
        >>> Tensor([[1.0, 5.0], [7.0, 7.0]]).argmax(1).tolist()
        [1, 0]
        """
        return self._arg_extremum(np.argmax, "argmax", dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        """The index of the smallest element (first among ties), as `torch.argmin`."""
        return self._arg_extremum(np.argmin, "argmin", dim, keepdim)

    def _arg_extremum(self, pick, op: str, dim, keepdim):
        if self.data.size == 0:
            raise ShapeError(f"{op}: cannot reduce an empty tensor of shape {self.shape}")
        if dim is None:
            flat = np.asarray(pick(self.data.reshape(-1)), dtype=np.int64)
            return Tensor._wrap(flat.reshape((1,) * self.ndim) if keepdim else flat)
        axis = _norm_axes(dim, self.ndim, op)[0]
        data = self.data if self.ndim else self.data.reshape(1)
        idx = pick(data, axis, keepdims=bool(keepdim) and self.ndim > 0).astype(np.int64)
        return Tensor._wrap(idx.reshape(()) if self.ndim == 0 else idx)

    def sort(self, dim=-1, descending=False, stable=False):
        """Sorted values and the indices they came from, as `torch.sort`. Always stable here
        (equal values keep their order, NaN sorts as the largest); the values' gradient goes
        back to where each value came from.

        >>> from tinygrad_lite import Tensor
        >>> values, indices = Tensor([3.0, 1.0, 2.0]).sort(descending=True)
        >>> values.tolist(), indices.tolist()
        ([3.0, 2.0, 1.0], [0, 2, 1])
        """
        out = self._pick_along("sort", dim, True, lambda d, a: _sort_indices(d, a, descending))
        return return_types.sort(*out)

    def argsort(self, dim=-1, descending=False, stable=False):
        """The indices that sort the tensor along `dim` (stable), as `torch.argsort`."""
        axis = _norm_axes(dim, self.ndim, "argsort")[0]
        if self.ndim == 0:
            return Tensor._wrap(np.zeros((), np.int64))
        return Tensor._wrap(_sort_indices(self.data, axis, descending))

    def topk(self, k: int, dim=-1, largest=True, sorted=True):  # noqa: A002 - torch's name
        """The `k` largest (or smallest) values along `dim` and their indices, in order, as
        `torch.topk` (ties: the first occurrence first).

        >>> from tinygrad_lite import Tensor
        >>> Tensor([1.0, 4.0, 2.0, 4.0]).topk(2).indices.tolist()
        [1, 3]
        """
        axis = _norm_axes(dim, self.ndim, "topk")[0]
        n = self.shape[axis] if self.ndim else 1
        if not 0 <= k <= n:
            raise RuntimeError(
                f"topk: selected index k={k} is out of range for dim {dim} of size {n} "
                f"(shape {self.shape}); pick k in [0, {n}]"
            )

        def first_k(data, a):
            return np.take(_sort_indices(data, a, largest), np.arange(k), axis=a)

        return return_types.topk(*self._pick_along("topk", dim, True, first_k))

    def gather(self, dim: int, index):
        """`out[i][j] = self[i][index[i][j]]` along `dim` (for dim=1), as `torch.gather`; the
        gradient is added back at the gathered positions.

        >>> from tinygrad_lite import Tensor
        >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).gather(1, Tensor([[1], [0]])).tolist()
        [[2.0], [3.0]]
        """
        idx = index.data if isinstance(index, Tensor) else np.asarray(index)
        if idx.dtype.kind not in "iu" or idx.ndim != self.ndim:
            raise ShapeError(
                f"gather: index must be an integer tensor with the input's {self.ndim} "
                f"dimensions, got {idx.dtype} of shape {idx.shape}"
            )
        axis = _norm_axes(dim, self.ndim, "gather")[0]
        try:
            return _apply(O.GATHER, (self,), (O.along_axis_index(idx, axis),))
        except IndexError as err:
            raise IndexError(f"gather: index out of range for shape {self.shape} ({err})") from None

    def _pick_along(self, op: str, dim, keepdim: bool, indices_of):
        """Values gathered at `indices_of(data, axis)` (kept dims), and those indices."""
        axis = _norm_axes(dim, self.ndim, op)[0]
        x = self if self.ndim else self.reshape(1)
        if x.shape[axis] == 0 and op in ("max", "min"):
            raise ShapeError(
                f"{op}: cannot reduce dim {dim} of size 0 (shape {self.shape}); there is "
                "no element to pick"
            )
        idx = np.asarray(indices_of(x.data, axis), dtype=np.int64)
        index = O.along_axis_index(idx, axis)
        if not keepdim or self.ndim == 0:
            index = tuple(np.squeeze(i, axis) for i in index)
            idx = np.squeeze(idx, axis)
        values = _apply(O.GATHER, (x,), (index,))
        indices = Tensor._wrap(idx)
        if op in ("max", "min"):
            return getattr(return_types, op)(values, indices)
        return values, indices

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis, keepdims = _pick(axis, dim, keepdims, keepdim)
        axes = _norm_axes(axis, self.ndim, "mean")
        if self.ndim == 0:
            axes = None
        count = self.data.size if axes is None else int(np.prod([self.shape[a] for a in axes]))
        if count == 0:
            warnings.warn(
                f"mean: reducing {'all' if axes is None else f'dims {axes}'} of an empty "
                f"tensor of shape {self.shape}; the result is NaN, as in PyTorch",
                UserWarning,
                stacklevel=2,
            )
        return self.sum(axes, keepdims) / count

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

    def _variance(self, axis, keepdims, correction, op: str):
        axes = _norm_axes(axis, self.ndim, op)
        count = self.data.size if axes is None else int(np.prod([self.shape[a] for a in axes]))
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

    def norm(self, p="fro", dim=None, keepdim=False):
        """The p-norm over `dim` (all elements by default), as `torch.norm`: p = 2 or "fro"
        (Euclidean), 1, inf, -inf, 0 (the count of non-zeros, not differentiable) or any other
        positive number. Where the norm is 0 the gradient is 0 (PyTorch's subgradient).

        >>> from tinygrad_lite import Tensor
        >>> Tensor([[3.0, 4.0], [6.0, 8.0]]).norm(dim=1).tolist()
        [5.0, 10.0]
        """
        if p == "fro":
            p = 2
        if isinstance(p, str) or not isinstance(p, (int, float, np.number)):
            raise ValueError(f"norm: p={p!r} is not supported; use a number, 'fro' or inf")
        axes = _norm_axes(dim, self.ndim, "norm") if self.ndim else None
        if p == np.inf:
            return self.abs().amax(axes, keepdim)
        if p == -np.inf:
            return self.abs().amin(axes, keepdim)
        if p == 1:
            return self.abs().sum(axes, keepdim)
        if p == 0:
            count = np.sum(self.data != 0, axis=axes, keepdims=keepdim)
            return Tensor._wrap(np.asarray(count, dtype=self.data.dtype))
        return _apply(O.NORM, (self,), (float(p), axes, bool(keepdim)))

    def softmax(self, axis=-1, *, dim=None):
        if self.ndim == 0:  # dim 0 or -1 of a 0-d tensor: softmax of one element is 1
            _norm_axes(axis if dim is None else dim, 0, "softmax")
            return self.reshape(1).softmax(0).reshape(())
        axes = _norm_axes(axis if dim is None else dim, self.ndim, "softmax")
        return _apply(O.SOFTMAX, (self,), (axes[0],))

    def log_softmax(self, axis=-1, *, dim=None):
        if self.ndim == 0:
            _norm_axes(axis if dim is None else dim, 0, "log_softmax")
            return self.reshape(1).log_softmax(0).reshape(())
        axes = _norm_axes(axis if dim is None else dim, self.ndim, "log_softmax")
        return _apply(O.LOG_SOFTMAX, (self,), (axes[0],))


def _sort_indices(data: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable argsort along `axis`; descending keeps equal values in their order too (sort
    the reversed array, then reverse the result) and puts NaN first, as torch's."""
    if not descending:
        return np.argsort(data, axis=axis, kind="stable")
    reversed_order = np.argsort(np.flip(data, axis), axis=axis, kind="stable")
    return np.flip(data.shape[axis] - 1 - reversed_order, axis)
