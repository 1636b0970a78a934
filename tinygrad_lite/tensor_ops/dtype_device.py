"""The dtype and device family: the dtype names and the casts between them (`astype`, `to`,
`.float()`, `.double()`); the gradient of a cast is cast back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops as O
from ._core import _apply

Tensor: Any = None  # the final class, bound by tinygrad_lite.tensor (see _core.bind)

float32 = np.float32
float64 = np.float64
int64 = np.int64


class DTypeDeviceMixin:
    """Casts of `Tensor`."""

    __slots__ = ()

    def astype(self, dtype):
        """Cast to `dtype`; the gradient is cast back."""
        dtype = np.dtype(dtype)
        if dtype == self.data.dtype:
            return self
        return _apply(O.CAST, (self,), (dtype,))

    to = astype

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)
