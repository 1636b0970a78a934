"""How a Tensor prints: as PyTorch prints it (`tensor([1.5000, 2.0000], requires_grad=True)`),
so output pasted from a PyTorch tutorial reads the same. Floats print with 4 decimals, as
`1.` when every value is whole, and in scientific notation when the magnitudes span more than
three decades; the dtype is named when it is not the default float, int64 or bool; a result of
a recorded op shows `grad_fn=<...>` (once the tensor has a `grad_fn`), a leaf that requires
grad `requires_grad=True`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .dtype_device import get_default_dtype

Tensor: Any = None  # the final class, bound by tinygrad_lite.tensor (see _core.bind)

_UNNAMED = (np.dtype(np.int64), np.dtype(np.bool_))


def _float_formatter(data: np.ndarray):
    """One formatter for every element, as torch picks one mode and one width per tensor."""
    finite = np.abs(data[np.isfinite(data)]).astype(np.float64)
    nonzero = finite[finite != 0]
    if finite.size and np.all(finite == np.round(finite)) and finite.max() < 1e8:
        fmt = "{:.0f}."
    elif nonzero.size and (
        nonzero.max() / nonzero.min() > 1000 or nonzero.max() > 1e8 or nonzero.min() < 1e-4
    ):
        fmt = "{:.4e}"
    else:
        fmt = "{:.4f}"

    def one(v) -> str:
        if np.isnan(v):
            return "nan"
        if np.isinf(v):
            return "inf" if v > 0 else "-inf"
        return fmt.format(float(v))

    width = max((len(one(v)) for v in data.ravel()), default=0)
    return lambda v: one(v).rjust(width)


def format_tensor(t) -> str:
    """The text of `repr(t)`, as PyTorch writes it."""
    data = t.data
    extra = []
    if data.size == 0:
        body = "[]"
        if data.ndim != 1:
            extra.append(f"size={data.shape}")
    elif data.dtype.kind == "f":
        body = np.array2string(
            data,
            separator=", ",
            prefix="tensor(",
            formatter={"float_kind": _float_formatter(data)},
        )
    else:
        body = np.array2string(data, separator=", ", prefix="tensor(")
    if data.dtype != get_default_dtype() and data.dtype not in _UNNAMED:
        extra.append(f"dtype={data.dtype}")
    grad_fn = getattr(t, "grad_fn", None) if t._parents else None
    if grad_fn is not None:
        name = grad_fn.name() if callable(getattr(grad_fn, "name", None)) else grad_fn
        extra.append(f"grad_fn=<{name}>")
    elif t.requires_grad:
        extra.append("requires_grad=True")
    return "tensor(" + ", ".join([body, *extra]) + ")"
