"""The creation family: `tensor`, `zeros`, `ones`, `full`, `eye`, `arange`, `rand`, `randn`,
`one_hot`, the `*_like` functions, and the package's random generator (`manual_seed`). Every
tensor made here is a leaf; floats are float32 unless `dtype` says otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DTypeError
from ._core import _constant, _shape_args

Tensor: Any = None  # the final class, bound by tinygrad_lite.tensor (see _core.bind)


def tensor(data, requires_grad: bool = False, dtype=None, name: str | None = None):
    """Make a Tensor (copies `data`), as `torch.tensor`.

    >>> from tinygrad_lite import tensor
    >>> tensor([1.0, 2.0]).dtype
    dtype('float32')
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def _leaf(array, requires_grad: bool):
    t = Tensor._wrap(array)
    return t.requires_grad_(True) if requires_grad else t


def zeros(*shape, dtype=np.float32, requires_grad: bool = False):
    """A tensor of zeros (float32 unless `dtype` says otherwise)."""
    return _leaf(np.zeros(_shape_args(shape), dtype=dtype), requires_grad)


def ones(*shape, dtype=np.float32, requires_grad: bool = False):
    """A tensor of ones (float32 unless `dtype` says otherwise)."""
    return _leaf(np.ones(_shape_args(shape), dtype=dtype), requires_grad)


def full(shape, fill_value, dtype=np.float32, requires_grad: bool = False):
    """A tensor filled with `fill_value`."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _leaf(np.full(shape, fill_value, dtype=dtype), requires_grad)


def zeros_like(t, dtype=None, requires_grad: bool = False):
    return _leaf(np.zeros_like(_constant(t).data, dtype=dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad: bool = False):
    return _leaf(np.ones_like(_constant(t).data, dtype=dtype), requires_grad)


def eye(n: int, m: int | None = None, dtype=np.float32, requires_grad: bool = False):
    return _leaf(np.eye(n, m, dtype=dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False):
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


def randn(*shape, dtype=np.float32, requires_grad: bool = False):
    """Standard normal samples, float32 unless `dtype` says otherwise."""
    return _leaf(_rng.standard_normal(_shape_args(shape)).astype(dtype), requires_grad)


def rand(*shape, dtype=np.float32, requires_grad: bool = False):
    """Uniform samples in [0, 1), float32 unless `dtype` says otherwise."""
    return _leaf(_rng.random(_shape_args(shape)).astype(dtype), requires_grad)


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
