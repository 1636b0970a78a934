"""Normalisation layers with PyTorch's names, buffers and defaults: BatchNorm1d and LayerNorm.

BatchNorm1d keeps running_mean, running_var and num_batches_tracked as buffers (so a torch state
dict loads key for key); in training mode it normalises by the batch statistics and updates the
running ones, in eval mode it uses the running ones.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..tensor import Tensor, get_default_dtype
from . import functional as F
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "LayerNorm"]


class BatchNorm1d(Module):
    """Batch normalisation over axis 1 of (N, C) or (N, C, L) inputs.

    >>> from tinygrad_lite import randn, nn
    >>> bn = nn.BatchNorm1d(3)
    >>> bn(randn(4, 3)).shape, sorted(bn.state_dict())
    ((4, 3), ['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight'])
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype=None,
    ):
        super().__init__()
        dtype = np.dtype(dtype or get_default_dtype())
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype))
            self.bias = Parameter(np.zeros(num_features, dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean.data = np.zeros_like(self.running_mean.data)
            self.running_var.data = np.ones_like(self.running_var.data)
            self.num_batches_tracked.data = np.array(0, dtype=np.int64)

    def _who(self) -> str:
        return f"BatchNorm1d({self.num_features})"

    def forward(self, x) -> Tensor:
        who = self._who()
        like = self.weight if self.affine else None
        x = F.check_float(x, who, like)
        F.check_ndim(x, who, (2, 3), "(N, C) or (N, C, L)")
        if x.shape[1] != self.num_features:
            raise ShapeError(
                f"{who}: expected input with {self.num_features} features on axis 1, got shape "
                f"{x.shape}; the channel axis must come second (permute the input)"
            )
        use_batch = self.training or not self.track_running_stats
        try:
            return F.batch_norm(
                x,
                self.running_mean,
                self.running_var,
                self.weight,
                self.bias,
                training=use_batch,
                momentum=self.momentum,
                eps=self.eps,
                num_batches_tracked=self.num_batches_tracked,
            )
        except ShapeError as err:
            raise ShapeError(f"{who}: {err}") from None

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )


class LayerNorm(Module):
    """Normalise over the trailing `normalized_shape` axes, then scale and shift elementwise
    (weight ones, bias zeros, as PyTorch).

    >>> from tinygrad_lite import randn, nn
    >>> ln = nn.LayerNorm(5)
    >>> ln(randn(2, 5)).shape, ln.num_parameters()
    ((2, 5), 10)
    """

    def __init__(
        self,
        normalized_shape,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype=None,
    ):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = np.dtype(dtype or get_default_dtype())
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype))
            b = Parameter(np.zeros(self.normalized_shape, dtype)) if bias else None
            self.register_parameter("bias", b)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x) -> Tensor:
        who = f"LayerNorm({self.normalized_shape})"
        x = F.check_float(x, who, self.weight)
        k = len(self.normalized_shape)
        if x.shape[max(x.ndim - k, 0) :] != self.normalized_shape or x.ndim < k:
            raise ShapeError(
                f"{who}: expected input whose last dimensions are {self.normalized_shape}, got "
                f"shape {x.shape}; normalized_shape must match the trailing axes"
            )
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
