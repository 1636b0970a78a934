"""The creation family: `tensor`, `zeros`, `ones`, `full`, `eye`, `arange`, `rand`, `randn`,
`one_hot`, the `*_like` functions, the package's random generator (`manual_seed`), and the
methods that make a new tensor like an existing one (`new_zeros`, `new_ones`, `new_full`,
`new_tensor`). Every tensor made here is a leaf; floats take the default dtype (float32 unless
`set_default_dtype` changed it) unless `dtype` says otherwise; `device` may only be "cpu".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DTypeError
from ._core import _constant, _shape_args
from .dtype_device import check_device, float_dtype, resolve_dtype

Tensor: Any = None  # the final class, bound by tinygrad_lite.tensor (see _core.bind)


def tensor(data, requires_grad: bool = False, dtype=None, name: str | None = None, device=None):
    """Make a Tensor (copies `data`), as `torch.tensor`.

    >>> from tinygrad_lite import tensor
    >>> tensor([1.0, 2.0]).dtype
    dtype('float32')
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name, device=device)


def _leaf(array, requires_grad: bool):
    t = Tensor._wrap(array)
    return t.requires_grad_(True) if requires_grad else t


def zeros(*shape, dtype=None, requires_grad: bool = False, device=None):
    """A tensor of zeros (float32 unless `dtype` says otherwise)."""
    check_device(device)
    return _leaf(np.zeros(_shape_args(shape), dtype=float_dtype(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False, device=None):
    """A tensor of ones (float32 unless `dtype` says otherwise)."""
    check_device(device)
    return _leaf(np.ones(_shape_args(shape), dtype=float_dtype(dtype)), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad: bool = False, device=None):
    """A tensor filled with `fill_value` (of the default float dtype unless `dtype` says)."""
    check_device(device)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _leaf(np.full(shape, fill_value, dtype=float_dtype(dtype)), requires_grad)


def zeros_like(t, dtype=None, requires_grad: bool = False, device=None):
    check_device(device)
    return _leaf(np.zeros_like(_constant(t).data, dtype=resolve_dtype(dtype)), requires_grad)


def ones_like(t, dtype=None, requires_grad: bool = False, device=None):
    check_device(device)
    return _leaf(np.ones_like(_constant(t).data, dtype=resolve_dtype(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False, device=None):
    check_device(device)
    return _leaf(np.eye(n, m, dtype=float_dtype(dtype)), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False, device=None):
    """Evenly spaced values: int64 for integer arguments, the default float dtype otherwise
    (as PyTorch)."""
    check_device(device)
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if ints else float_dtype(None)
    return _leaf(np.arange(start, end, step, dtype=resolve_dtype(dtype)), requires_grad)


_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator behind randn/rand/init and Dropout, for reproducible runs."""
    global _rng
    _rng = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    """The package's random generator (reseeded by `manual_seed`)."""
    return _rng


def randn(*shape, dtype=None, requires_grad: bool = False, device=None):
    """Standard normal samples, float32 unless `dtype` says otherwise."""
    check_device(device)
    samples = _rng.standard_normal(_shape_args(shape))
    return _leaf(samples.astype(float_dtype(dtype)), requires_grad)


def rand(*shape, dtype=None, requires_grad: bool = False, device=None):
    """Uniform samples in [0, 1), float32 unless `dtype` says otherwise."""
    check_device(device)
    return _leaf(_rng.random(_shape_args(shape)).astype(float_dtype(dtype)), requires_grad)


def one_hot(indices, num_classes: int = -1):
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


def as_tensor(x):
    """x itself if it is a Tensor, else a constant Tensor made from it."""
    return _constant(x)


class CreationMixin:
    """New tensors like an existing one: its dtype unless `dtype` says, leaves, as PyTorch's
    `new_*` methods.

    >>> from tinygrad_lite import Tensor, float64
    >>> x = Tensor([1.0, 2.0], dtype=float64)
    >>> x.new_zeros(2, 3).dtype, x.new_tensor([1, 2]).dtype
    (dtype('float64'), dtype('float64'))
    """

    __slots__ = ()

    def new_zeros(self, *size, dtype=None, device=None, requires_grad: bool = False):
        return zeros(
            *size, dtype=dtype or self.data.dtype, requires_grad=requires_grad, device=device
        )

    def new_ones(self, *size, dtype=None, device=None, requires_grad: bool = False):
        return ones(
            *size, dtype=dtype or self.data.dtype, requires_grad=requires_grad, device=device
        )

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return full(
            size,
            fill_value,
            dtype=dtype or self.data.dtype,
            requires_grad=requires_grad,
            device=device,
        )

    def new_empty(self, *size, dtype=None, device=None, requires_grad: bool = False):
        """Zeros here (numpy's empty would hand out stale memory for no gain)."""
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad: bool = False):
        """A copy of `data` as a new leaf of self's dtype unless `dtype` says, as PyTorch's."""
        check_device(device)
        return Tensor(data, requires_grad=requires_grad, dtype=dtype or self.data.dtype)
