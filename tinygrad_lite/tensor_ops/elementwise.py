"""The elementwise family: arithmetic operators, comparisons (masks outside the graph), the
unary functions (`exp`, `log`, `tanh`, `sigmoid`, `relu`, ...) and `clamp`, plus the module-level
`maximum`, `minimum` and `where`. Python numbers take the dtype of the tensor they meet.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops as O
from ..errors import DTypeError, ShapeError

# The ops of the hottest paths, bound once (a module attribute lookup per op adds up).
from ..ops import ABS, ADD, DIV, EXP, LOG, MATMUL, MUL, NEG, POW, RELU, SIGMOID, SQRT, SUB, TANH
from ._core import _apply, _constant

Tensor: Any = None  # the final class, bound by tinygrad_lite.tensor (see _core.bind)


def _matmul(a, b):
    # Shapes are checked by numpy; `_core._shape_error` explains a failure.
    return _apply(MATMUL, (a, b))


class ElementwiseMixin:
    """Arithmetic, comparisons and elementwise functions of `Tensor`."""

    __slots__ = ()

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

    def matmul(self, other):
        """`self @ other`, as `torch.matmul` (batched, broadcasting, 1-D operands promoted)."""
        return _matmul(self, other if other.__class__ is Tensor else _constant(other))

    def mm(self, mat2):
        """The product of two matrices, as `torch.mm` (both operands must be 2-D)."""
        mat2 = mat2 if isinstance(mat2, Tensor) else _constant(mat2)
        if self.ndim != 2 or mat2.ndim != 2:
            raise ShapeError(
                f"mm: both operands must be matrices, got shapes {self.shape} and "
                f"{mat2.shape}; use matmul (or @) for batched or 1-D operands"
            )
        return _matmul(self, mat2)

    def pow(self, exponent):
        """`self ** exponent`, as `torch.pow` (a number or a broadcasting tensor)."""
        return self.__pow__(exponent)

    def masked_fill(self, mask, value):
        """`value` where `mask` is True, else self, as `torch.masked_fill`; the gradient
        reaches self where the mask is False. The mask must be boolean, as PyTorch's.

        >>> from tinygrad_lite import Tensor
        >>> x = Tensor([1.0, 2.0, 3.0])
        >>> x.masked_fill(x > 1.5, 0.0).tolist()
        [1.0, 0.0, 0.0]
        """
        m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
        if m.dtype != np.bool_:
            raise DTypeError(
                f"masked_fill: the mask must be boolean, got {m.dtype}; compare to make one "
                "(e.g. x > 0) or cast with .bool()"
            )
        if isinstance(value, Tensor) and value.ndim != 0:
            raise ShapeError(
                f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}"
            )
        if self.data.dtype.kind != "f" and not isinstance(value, Tensor):
            # PyTorch keeps an integer or bool tensor's dtype: 0.5 into int64 fills 0.
            value = np.asarray(value).astype(self.data.dtype)
        return where(m, _constant(value, self), self)

    # Comparisons give boolean tensors outside the graph (masks), as in PyTorch.
    def _compare(self, other, fn):
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

    __hash__ = object.__hash__  # __eq__ is elementwise; identity hashing, as PyTorch's

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


def _is_value(x) -> bool:
    from ..value import Value

    return isinstance(x, Value)


def maximum(a, b):
    """Elementwise maximum (Tensors, or Values); ties split the gradient evenly."""
    if _is_value(a) or _is_value(b):
        from ..value import maximum as value_maximum

        return value_maximum(a, b)
    a = _constant(a, b if isinstance(b, Tensor) else None)
    return _apply(O.MAXIMUM, (a, _constant(b, a)))


def minimum(a, b):
    """Elementwise minimum; ties split the gradient evenly."""
    a = _constant(a, b if isinstance(b, Tensor) else None)
    return _apply(O.MINIMUM, (a, _constant(b, a)))


def where(condition, a, b):
    """`a` where `condition` holds, else `b`; the condition is not differentiated."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    a = _constant(a, like)
    b = _constant(b, a)
    return _apply(O.WHERE, (a, b), (cond,))
