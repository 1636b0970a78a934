"""The reductions family: `sum`, `mean`, `var`, `std`, `max`, `min`, `logsumexp`, and the
normalisations over one axis, `softmax` and `log_softmax`. Axes are given as numpy's
(axis, keepdims) or PyTorch's (dim, keepdim), alike.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import ops as O
from ..errors import ShapeError
from ._core import _apply, _norm_axes, _pick

Tensor: Any = None  # the final class, bound by tinygrad_lite.tensor (see _core.bind)


class ReductionMixin:
    """Reductions over axes of `Tensor`."""

    __slots__ = ()

    def _reduce(self, fn: O.Op, axis, dim, keepdims, keepdim):
        axis, keepdims = _pick(axis, dim, keepdims, keepdim)
        axes = _norm_axes(axis, self.ndim, fn.name)
        if fn is not O.SUM and self.data.size == 0:
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
        count = self.data.size if axes is None else int(np.prod([self.shape[a] for a in axes]))
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

    def softmax(self, axis=-1, *, dim=None):
        axes = _norm_axes(axis if dim is None else dim, self.ndim, "softmax")
        return _apply(O.SOFTMAX, (self,), (axes[0],))

    def log_softmax(self, axis=-1, *, dim=None):
        axes = _norm_axes(axis if dim is None else dim, self.ndim, "log_softmax")
        return _apply(O.LOG_SOFTMAX, (self,), (axes[0],))
