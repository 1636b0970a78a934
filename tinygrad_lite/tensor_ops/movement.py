"""The movement and indexing family: reshaping (`reshape`, `view`, `flatten`, `squeeze`,
`unsqueeze`, `expand`), reordering axes (`permute`, `transpose`, `.T`, `.mT`), indexing, memory
layout (`contiguous`), and joining and splitting (`cat`, `stack`, `split`, `chunk`, `pad`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops as O
from ..errors import ShapeError
from ._core import _apply, _constant, _norm_axes, _shape_args

Tensor: Any = None  # the final class, bound by tinygrad_lite.tensor (see _core.bind)


class MovementMixin:
    """Shape, axis order, indexing and layout of `Tensor`."""

    __slots__ = ()

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

    def t(self):
        """The transpose of a matrix (0-d and 1-D tensors unchanged), as `torch.Tensor.t`."""
        if self.ndim > 2:
            raise ShapeError(
                f"t: expects a tensor with <= 2 dimensions, got shape {self.shape}; use "
                "transpose(dim0, dim1) or permute"
            )
        return self.transpose(0, 1)

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

    def unbind(self, dim: int = 0) -> tuple:
        """The slices along `dim`, that dim removed, as `torch.unbind` (a tuple).

        >>> from tinygrad_lite import Tensor
        >>> [t.tolist() for t in Tensor([[1.0, 2.0], [3.0, 4.0]]).unbind(1)]
        [[1.0, 3.0], [2.0, 4.0]]
        """
        if self.ndim == 0:
            raise ShapeError("unbind: a 0-d tensor has no dim to unbind")
        axis = _norm_axes(dim, self.ndim, "unbind")[0]
        lead = (slice(None),) * axis
        return tuple(self[lead + (i,)] for i in range(self.shape[axis]))

    def repeat(self, *sizes):
        """Tile the tensor `sizes[i]` times along each dim, as `torch.Tensor.repeat` (more
        sizes than dims add leading dims). Built from reshape and expand, so the gradient sums
        the copies back.

        >>> from tinygrad_lite import Tensor
        >>> Tensor([1.0, 2.0]).repeat(2, 2).tolist()
        [[1.0, 2.0, 1.0, 2.0], [1.0, 2.0, 1.0, 2.0]]
        """
        sizes = _shape_args(sizes)
        if len(sizes) < self.ndim:
            raise ShapeError(
                f"repeat: {len(sizes)} repeat counts {sizes} for a tensor of shape "
                f"{self.shape}; give at least one per dim ({self.ndim})"
            )
        if any(r < 0 for r in sizes):
            raise ShapeError(f"repeat: repeat counts must be >= 0, got {sizes}")
        shape = (1,) * (len(sizes) - self.ndim) + tuple(self.shape)
        # (s0, s1) -> (1, s0, 1, s1) -> (r0, s0, r1, s1) -> (r0 * s0, r1 * s1)
        interleaved = tuple(n for s in shape for n in (1, s))
        expanded = tuple(n for r, s in zip(sizes, shape) for n in (r, s))
        out = self.reshape(interleaved).expand(expanded)
        return out.reshape(tuple(r * s for r, s in zip(sizes, shape)))

    def split(self, split_size_or_sections, dim: int = 0):
        return split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0):
        return chunk(self, chunks, dim)

    def clone(self):
        return _apply(O.CLONE, (self,))

    def contiguous(self):
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


def cat(tensors, dim: int = 0, *, axis=None):
    """Concatenate along an existing axis."""
    tensors = [_constant(t) for t in tensors]
    if not tensors:
        raise ShapeError("cat: needs at least one tensor")
    axis = dim if axis is None else axis
    axes = _norm_axes(axis, tensors[0].ndim, "cat")
    return _apply(O.CAT, tuple(tensors), (axes[0],))


def stack(tensors, dim: int = 0):
    """Stack along a new axis."""
    tensors = [_constant(t) for t in tensors]
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all tensors need the same shape, got {sorted(shapes)}")
    return cat([t.unsqueeze(dim) for t in tensors], dim)


def split(t, split_size_or_sections, dim: int = 0) -> list:
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
    # Basic slices within bounds: straight to getitem's node (the index needs no checks).
    pieces, start, lead = [], 0, (slice(None),) * axis
    for s in sizes:
        pieces.append(_apply(O.GETITEM, (t,), (lead + (slice(start, start + s),),)))
        start += s
    return pieces


def chunk(t, chunks: int, dim: int = 0) -> list:
    """Split into `chunks` nearly equal pieces (PyTorch's sizes: ceil(n / chunks))."""
    n = t.shape[_norm_axes(dim, t.ndim, "chunk")[0]]
    return split(t, max(-(-n // chunks), 1), dim)


def pad(t, pad: tuple, value: float = 0.0):
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
