"""Convolution and pooling layers with PyTorch's names and weight layouts: Conv1d (with a causal
mode for temporal convolutional networks), Conv2d, MaxPool2d and AvgPool2d.

The arithmetic lives in `functional` (im2col: pad, gather the windows, one matmul); these
classes hold the weights, check the input and name themselves when it does not fit.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..tensor import Tensor, get_default_dtype
from . import functional as F
from .layers import reset_weight_and_bias
from .module import Module, Parameter

__all__ = ["AvgPool2d", "Conv1d", "Conv2d", "MaxPool2d"]


class Conv1d(Module):
    """1-D convolution over (N, C_in, L) (or unbatched (C_in, L)) with weight
    (out_channels, in_channels, kernel_size). `padding` is an int, 'valid' or 'same';
    `causal=True` pads (kernel_size - 1) * dilation on the left only, so output t sees inputs
    up to t and the length is kept (the building block of a TCN).

    >>> from tinygrad_lite import randn, nn
    >>> conv = nn.Conv1d(2, 4, kernel_size=3, dilation=2, causal=True)
    >>> conv(randn(1, 2, 10)).shape, conv.num_parameters()
    ((1, 4, 10), 28)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int | str = 0,
        dilation: int = 1,
        bias: bool = True,
        causal: bool = False,
        dtype=None,
    ):
        super().__init__()
        if causal and padding not in (0, "valid"):
            raise ValueError(
                f"Conv1d: causal=True sets the padding itself ((kernel_size-1)*dilation on the "
                f"left); leave padding at 0, got {padding!r}"
            )
        for name, v in (("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Conv1d: {name} must be a positive int, got {v!r}")
        dtype = np.dtype(dtype or get_default_dtype())
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.causal = causal
        if causal:
            self._pads = ((kernel_size - 1) * dilation, 0)
        else:
            self._pads = F._resolve_padding(padding, kernel_size, dilation, stride, "Conv1d")
        self.weight = Parameter(np.empty((out_channels, in_channels, kernel_size), dtype))
        self.register_parameter("bias", Parameter(np.empty(out_channels, dtype)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset_weight_and_bias(self.weight, self.bias)

    def _who(self) -> str:
        return f"Conv1d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size})"

    def forward(self, x) -> Tensor:
        who = self._who()
        x = F.check_float(x, who, self.weight)
        F.check_ndim(x, who, (2, 3), "(N, C, L) or unbatched (C, L)")
        squeeze = x.ndim == 2
        if squeeze:
            x = x.unsqueeze(0)
        out = F.conv1d_impl(x, self.weight, self.bias, self.stride, self._pads, self.dilation, who)
        return out.squeeze(0) if squeeze else out

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size=({self.kernel_size},)"
        s += f", stride=({self.stride},)"
        if self.padding not in (0, "valid"):
            s += f", padding={self.padding!r}"
        if self.dilation != 1:
            s += f", dilation=({self.dilation},)"
        if self.causal:
            s += ", causal=True"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(Module):
    """2-D convolution over (N, C_in, H, W) (or unbatched (C_in, H, W)) with weight
    (out_channels, in_channels, KH, KW); kernel_size, stride, padding, dilation take an int
    or a pair.

    >>> from tinygrad_lite import randn, nn
    >>> conv = nn.Conv2d(3, 32, 3)
    >>> conv(randn(1, 3, 8, 8)).shape, conv.num_parameters()
    ((1, 32, 6, 6), 896)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        bias: bool = True,
        dtype=None,
    ):
        super().__init__()
        dtype = np.dtype(dtype or get_default_dtype())
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = F._pair(kernel_size, "Conv2d: kernel_size")
        self.stride = F._pair(stride, "Conv2d: stride")
        self.dilation = F._pair(dilation, "Conv2d: dilation")
        if isinstance(padding, str):
            if padding == "same" and (
                self.stride != (1, 1) or any(k % 2 == 0 for k in self.kernel_size)
            ):
                raise ValueError("Conv2d: padding='same' needs stride 1 and odd kernel sizes")
            pads = (
                (0, 0)
                if padding == "valid"
                else tuple(d * (k - 1) // 2 for k, d in zip(self.kernel_size, self.dilation))
            )
            self.padding = padding
            self._pads = pads
        else:
            self.padding = F._pair(padding, "Conv2d: padding")
            self._pads = self.padding
        self.weight = Parameter(np.empty((out_channels, in_channels) + self.kernel_size, dtype))
        self.register_parameter("bias", Parameter(np.empty(out_channels, dtype)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset_weight_and_bias(self.weight, self.bias)

    def _who(self) -> str:
        return f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size})"

    def forward(self, x) -> Tensor:
        who = self._who()
        x = F.check_float(x, who, self.weight)
        F.check_ndim(x, who, (3, 4), "(N, C, H, W) or unbatched (C, H, W)")
        squeeze = x.ndim == 3
        if squeeze:
            x = x.unsqueeze(0)
        out = F.conv2d_impl(x, self.weight, self.bias, self.stride, self._pads, self.dilation, who)
        return out.squeeze(0) if squeeze else out

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        s += f", stride={self.stride}"
        if self.padding not in ((0, 0), "valid"):
            s += f", padding={self.padding!r}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.bias is None:
            s += ", bias=False"
        return s


class _Pool2d(Module):
    _fn_name = ""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def _who(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"

    def _check(self, x) -> Tensor:
        who = self._who()
        x = F.check_float(x, who)
        F.check_ndim(x, who, (3, 4), "(N, C, H, W) or unbatched (C, H, W)")
        kh, kw = F._pair(self.kernel_size, "kernel_size")
        ph, pw = F._pair(self.padding, "padding")
        if x.shape[-2] + 2 * ph < kh or x.shape[-1] + 2 * pw < kw:
            raise ShapeError(
                f"{who}: input of shape {x.shape} is smaller than the kernel "
                f"{(kh, kw)} (after padding {(ph, pw)}); use a smaller kernel or more padding"
            )
        return x

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Maximum over each window (stride defaults to kernel_size; padding acts as -inf).

    >>> from tinygrad_lite import randn, nn
    >>> nn.MaxPool2d(2)(randn(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    def forward(self, x) -> Tensor:
        return F.max_pool2d(self._check(x), self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """Mean over each window (stride defaults to kernel_size; padding counts as zeros in the
    mean unless count_include_pad=False).

    >>> from tinygrad_lite import randn, nn
    >>> nn.AvgPool2d(2)(randn(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = count_include_pad

    def forward(self, x) -> Tensor:
        return F.avg_pool2d(
            self._check(x), self.kernel_size, self.stride, self.padding, self.count_include_pad
        )
