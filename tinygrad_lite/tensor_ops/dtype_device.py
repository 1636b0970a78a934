"""The dtype and device family: PyTorch's dtype names (`float32`/`float`, `float64`/`double`,
`int64`/`long`, `int32`/`int`, `bool`), the default float dtype (`set_default_dtype`), casts
(`.float()`, `.double()`, `.long()`, `.int()`, `.bool()`, `.to(...)`, `.type(...)`; the
gradient of a cast is cast back), and the device: this engine runs on numpy, so "cpu" is
accepted everywhere and any other device is a clear error.

float16 is not offered: not every op is written and tested for it, so naming it (`half()`,
`to(float16)`, `tl.half`) raises `DTypeError` rather than giving silently poor results.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from .. import ops as O
from ..errors import DTypeError
from ._core import _apply

Tensor: Any = None  # the final class, bound by tinygrad_lite.tensor (see _core.bind)

float32 = np.float32
float64 = np.float64
int64 = np.int64
int32 = np.int32
bool_ = np.bool_

_UNSUPPORTED = {np.dtype(np.float16): "float16 (half)"}


class UnsupportedDType:
    """A float16 stand-in that refuses to be used, with the reason, rather than a float16 that
    some ops would get wrong (`tl.half` itself raises on access, see `tinygrad_lite.__init__`)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}: not supported by tinygrad-lite; use float32 or float64>"


half = float16 = UnsupportedDType("float16")
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_default_float = [np.dtype(np.float32)]  # a list: set_default_dtype rebinds the one element


class DeviceError(RuntimeError):
    """A device other than the CPU: this engine computes with numpy, on the CPU only."""


class device:  # noqa: N801 - torch.device's name
    """Where a tensor lives: always the CPU here (`device("cpu")`), as `torch.device`.

    >>> from tinygrad_lite import Tensor
    >>> Tensor([1.0]).device, Tensor([1.0]).device == "cpu"
    (device(type='cpu'), True)
    """

    __slots__ = ()
    type = "cpu"
    index = None

    def __new__(cls, spec="cpu"):
        check_device(spec)
        return _CPU

    def __eq__(self, other) -> builtins.bool:
        return isinstance(other, device) or (isinstance(other, str) and other == "cpu")

    def __hash__(self) -> int:
        return hash("cpu")

    def __repr__(self) -> str:
        return "device(type='cpu')"

    def __str__(self) -> str:
        return "cpu"


_CPU = object.__new__(device)
_Device = device  # for the methods below, whose `device` argument shadows the class


def check_device(spec) -> None:
    """Accept None, "cpu" (or "cpu:0") and `device("cpu")`; refuse anything else clearly."""
    if spec is None or isinstance(spec, device):
        return
    name = spec if isinstance(spec, str) else getattr(spec, "type", spec)
    if isinstance(name, str) and name.split(":")[0] == "cpu":
        return
    raise DeviceError(
        f"device {spec!r} is not available: tinygrad-lite computes with numpy, on the CPU "
        "only; use device='cpu' (or leave it out)"
    )


def resolve_dtype(dtype, op: str = "dtype"):
    """`dtype` as a numpy dtype (None stays None); float16 and non-numeric dtypes refused."""
    if dtype is None:
        return None
    if isinstance(dtype, UnsupportedDType):
        dtype = np.float16
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"{op}: {dtype!r} is not a dtype; use e.g. float32 or int64") from None
    if dt in _UNSUPPORTED:
        raise DTypeError(
            f"{op}: {_UNSUPPORTED[dt]} is not supported: not every op of this engine is "
            "written and tested for it; use float32 (the default) or float64"
        )
    if dt.kind not in "biuf":
        raise DTypeError(f"{op}: dtype {dt} is not numeric; use float32, float64 or int64")
    return dt


def get_default_dtype() -> np.dtype:
    """The dtype of floats made without one (Python floats, zeros, randn, nn layers), as
    `torch.get_default_dtype`: float32 unless `set_default_dtype` changed it.

    >>> import tinygrad_lite as tl
    >>> tl.get_default_dtype()
    dtype('float32')
    """
    return _default_float[0]


def set_default_dtype(dtype) -> None:
    """Make `dtype` (float32 or float64) the dtype of floats made without one, as
    `torch.set_default_dtype`; integer dtypes are refused, as PyTorch refuses them.

    >>> import tinygrad_lite as tl
    >>> tl.set_default_dtype(tl.float64)
    >>> tl.tensor([1.5]).dtype, tl.zeros(2).dtype
    (dtype('float64'), dtype('float64'))
    >>> tl.set_default_dtype(tl.float32)
    """
    dt = resolve_dtype(dtype, "set_default_dtype")
    if dt not in _FLOATS:
        raise DTypeError(
            f"set_default_dtype: only floating-point types are supported as the default "
            f"type, got {dt}; use float32 or float64"
        )
    _default_float[0] = dt


def float_dtype(dtype):
    """`dtype` resolved, or the default float dtype when it is None (creation functions)."""
    return _default_float[0] if dtype is None else resolve_dtype(dtype)


_TYPE_NAMES = {
    np.dtype(np.float32): "FloatTensor",
    np.dtype(np.float64): "DoubleTensor",
    np.dtype(np.int64): "LongTensor",
    np.dtype(np.int32): "IntTensor",
    np.dtype(np.bool_): "BoolTensor",
}


class DTypeDeviceMixin:
    """Casts and the device of `Tensor`."""

    __slots__ = ()

    def astype(self, dtype):
        """Cast to `dtype`; the gradient is cast back."""
        dtype = resolve_dtype(dtype, "astype")
        if dtype == self.data.dtype:
            return self
        if dtype.kind != "f":  # an integer or bool result carries no gradient, as in PyTorch
            return Tensor._wrap(self.data.astype(dtype))
        return _apply(O.CAST, (self,), (dtype,))

    def to(self, *args, dtype=None, device=None, copy: builtins.bool = False, **kwargs):
        """As `torch.Tensor.to`: `to(dtype)`, `to("cpu")`, `to("cpu", dtype)`, `to(other)`
        (other's dtype), or keywords; the tensor itself when nothing changes (unless copy).

        >>> from tinygrad_lite import Tensor, float64
        >>> Tensor([1.0]).to("cpu", float64).dtype
        dtype('float64')
        """
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to: unexpected arguments {sorted(kwargs)}")
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.data.dtype
            elif isinstance(arg, (str, _Device)):
                device = arg
            else:
                dtype = arg
        check_device(device)
        out = self if dtype is None else self.astype(dtype)
        return out.clone() if copy and out is self else out

    def cpu(self):
        """The tensor itself: it already lives on the CPU."""
        return self

    def cuda(self, *args, **kwargs):
        check_device("cuda")

    @property
    def device(self):
        """Always `device("cpu")`: this engine computes with numpy."""
        return _CPU

    @property
    def is_cuda(self) -> builtins.bool:
        return False

    def float(self):
        """Cast to float32, as `torch.Tensor.float`."""
        return self.astype(np.float32)

    def double(self):
        """Cast to float64."""
        return self.astype(np.float64)

    def long(self):
        """Cast to int64 (no gradient flows through an integer tensor)."""
        return self.astype(np.int64)

    def int(self):
        """Cast to int32."""
        return self.astype(np.int32)

    def bool(self):
        """Cast to bool."""
        return self.astype(np.bool_)

    def half(self):
        """Refused: float16 is not supported (see the module docstring)."""
        return self.astype(np.float16)

    def type(self, dtype=None):
        """With no argument the type's name (`'tinygrad_lite.FloatTensor'`, as torch's
        `'torch.FloatTensor'`); with a dtype, the cast `to(dtype)`."""
        if dtype is None:
            name = _TYPE_NAMES.get(self.data.dtype, f"{self.data.dtype}Tensor")
            return f"tinygrad_lite.{name}"
        return self.astype(dtype)
