"""Stateless forms of the layers (`torch.nn.functional`'s names): activations, linear, dropout,
convolutions, pools, normalisation, embedding, similarity and the losses.

Names, argument order and defaults are PyTorch's. `inplace=True` works as PyTorch's: the result
is written into the input, which is returned, under the rules of the Tensor in-place ops
(`tensor_ops/inplace.py`: refused on a leaf that requires grad while recording, recorded on a
result of ops, counted by the version counter).

Everything is composed from engine ops, so every function is differentiable to any order
(create_graph=True works) and keeps the input's dtype. Convolutions and pools are im2col-style:
pad, gather every window with one integer-array index (whose VJP is a scatter-add) and reduce the
windows with a matmul, a max or a mean.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from .. import ops as O
from ..autograd import no_grad
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor, _apply, as_tensor, generator, one_hot, where
from ..tensor import pad as _pad
from ..tensor_ops.inplace import _inplace
from .losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "cosine_similarity",
    "cross_entropy",
    "dropout",
    "elu",
    "embedding",
    "gelu",
    "hardtanh",
    "huber_loss",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "logsigmoid",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "pad",
    "relu",
    "relu6",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
]


# -- input checks shared by the layers -----------------------------------------------------


def check_float(x, who: str, like: Tensor | None = None) -> Tensor:
    """`x` as a Tensor; a DTypeError naming `who` unless it is floating point (and, given
    `like`, of the same dtype as the layer's weights, as PyTorch requires)."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        raise DTypeError(
            f"{who}: expected a floating point input, got {x.dtype}; convert it with "
            ".float() (or .double())"
        )
    if like is not None and x.dtype != like.dtype:
        raise DTypeError(
            f"{who}: input is {x.dtype} but the weights are {like.dtype}; convert one of them "
            f"(x.astype({like.dtype}) or model.double()/model.float())"
        )
    return x


def check_ndim(x: Tensor, who: str, allowed: Sequence[int], layout: str) -> None:
    """A ShapeError naming `who` unless `x.ndim` is one of `allowed` (`layout` says which)."""
    if x.ndim not in allowed:
        raise ShapeError(
            f"{who}: expected a {' or '.join(f'{n}-D' for n in allowed)} input {layout}, got "
            f"shape {x.shape}; reshape it (e.g. x.unsqueeze(0) adds a batch axis)"
        )


def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
    return int(v[0]), int(v[1])


# -- activations ------------------------------------------------------------------------------


def _activate(x: Tensor, fn: O.Op, ctx: tuple, inplace: bool, name: str) -> Tensor:
    """`fn(x, *ctx)`, or with `inplace=True` the same op written into x (and x returned), as
    PyTorch's `inplace=True`: a caller that ignores the result still sees x activated."""
    if inplace:
        return _inplace(x, f"{name}(inplace=True)", fn, (), ctx)
    return _apply(fn, (x,), ctx)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(0, x), with gradient 0 at exactly 0 (PyTorch's convention).

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.functional.relu(Tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    x = as_tensor(input)
    return _activate(x, O.RELU, (), inplace, "relu") if inplace else x.relu()


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow for large |x|.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.functional.sigmoid(Tensor([0.0])).tolist()
    [0.5]
    """
    return as_tensor(input).sigmoid()


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.functional.tanh(Tensor([0.0])).tolist()
    [0.0]
    """
    return as_tensor(input).tanh()


def _softmax_input(input, dim, dtype, who: str) -> tuple[Tensor, int]:
    """The input (cast to `dtype` first when given, as PyTorch) and the axis: dim=None is
    PyTorch's legacy choice (0 for 0-, 1- and 3-D inputs, else 1), with its warning."""
    x = as_tensor(input)
    if dtype is not None:
        x = x.astype(dtype)
    return x, (_legacy_softmax_dim(x.ndim, who, stacklevel=4) if dim is None else dim)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim`, shifted by the max so it never overflows. Pass `dim`:
    without it PyTorch's legacy axis is used (with PyTorch's warning), which for a 3-D input
    is axis 0, not the last.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.functional.softmax(Tensor([1e4, 1e4]), dim=0).tolist()
    [0.5, 0.5]
    """
    x, dim = _softmax_input(input, dim, dtype, "softmax")
    return x.softmax(dim)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """log(softmax(x)) along `dim`, as (x - max) - log(sum(exp(x - max))): finite where
    log(softmax) is not, and exact for logits far from 0 (see ops.log_softmax_forward).

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.functional.log_softmax(Tensor([0.0, 1e4]), dim=0).tolist()
    [-10000.0, 0.0]
    """
    x, dim = _softmax_input(input, dim, dtype, "log_softmax")
    return x.log_softmax(dim)


def _activation_input(input, who: str) -> Tensor:
    """A floating Tensor for an activation; PyTorch has no integer kernels for these either."""
    x = as_tensor(input)
    if x.dtype.kind != "f":
        raise DTypeError(
            f"{who}: expected a floating point input, got {x.dtype}; convert it with "
            ".float() (or .double())"
        )
    return x


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF (the exact form, computed with erfc so the left
    tail is exact too), or with approximate="tanh" the tanh approximation
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as torch.nn.functional.gelu.

    >>> from tinygrad_lite import Tensor, nn
    >>> [round(v, 4) for v in nn.functional.gelu(Tensor([-1.0, 0.0, 1.0])).tolist()]
    [-0.1587, 0.0, 0.8413]
    """
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _apply(O.GELU, (_activation_input(input, "gelu"),), (approximate,))


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, negative_slope * x otherwise; the gradient at 0 is negative_slope
    (PyTorch's).

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.functional.leaky_relu(Tensor([-2.0, 3.0]), 0.25).tolist()
    [-0.5, 3.0]
    """
    x = _activation_input(input, "leaky_relu")
    return _activate(x, O.LEAKY_RELU, (float(negative_slope),), inplace, "leaky_relu")


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise (computed with expm1, exact near 0).

    >>> from tinygrad_lite import Tensor, nn
    >>> [round(v, 4) for v in nn.functional.elu(Tensor([-1.0, 2.0])).tolist()]
    [-0.6321, 2.0]
    """
    return _activate(_activation_input(input, "elu"), O.ELU, (float(alpha),), inplace, "elu")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (also called swish), with the overflow-free sigmoid.

    >>> from tinygrad_lite import Tensor, nn
    >>> [round(v, 4) for v in nn.functional.silu(Tensor([-1.0, 0.0, 1.0])).tolist()]
    [-0.2689, 0.0, 0.7311]
    """
    return _activate(_activation_input(input, "silu"), O.SILU, (), inplace, "silu")


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta * x > threshold (PyTorch's
    linear cutoff, where the two agree to float precision). Exact in both tails: log1p of
    exp(-|beta x|), never exp of a large number.

    >>> from tinygrad_lite import Tensor, nn
    >>> [round(v, 4) for v in nn.functional.softplus(Tensor([-50.0, 0.0, 30.0])).tolist()]
    [0.0, 0.6931, 30.0]
    """
    x = _activation_input(input, "softplus")
    return _apply(O.SOFTPLUS, (x,), (float(beta), float(threshold)))


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), exact for large |x| (log(sigmoid(-800)) is -800).

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.functional.logsigmoid(Tensor([-800.0])).tolist()
    [-800.0]
    """
    x = _activation_input(input, "logsigmoid")
    return -_apply(O.SOFTPLUS, (-x,), (1.0, float("inf")))


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """x clipped to [min_val, max_val]; the gradient is 1 strictly inside and 0 at and beyond
    the bounds (PyTorch's hardtanh rule; `clamp` passes it at the bounds).

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.functional.hardtanh(Tensor([-3.0, 0.5, 3.0])).tolist()
    [-1.0, 0.5, 1.0]
    """
    if min_val > max_val:
        raise ValueError(
            f"hardtanh: min_val cannot be greater than max_val, got min_val={min_val}, "
            f"max_val={max_val}"
        )
    x = _activation_input(input, "hardtanh")
    return _activate(x, O.HARDTANH, (float(min_val), float(max_val)), inplace, "hardtanh")


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(0, x), 6): hardtanh between 0 and 6, as PyTorch defines it.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.functional.relu6(Tensor([-1.0, 3.0, 9.0])).tolist()
    [0.0, 3.0, 6.0]
    """
    return hardtanh(input, 0.0, 6.0, inplace)


# -- linear, dropout, embedding ---------------------------------------------------------------


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias, with PyTorch's weight layout (out_features, in_features).

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.functional.linear(Tensor([[1.0, 2.0]]), Tensor([[3.0, 4.0]]), Tensor([1.0])).tolist()
    [[12.0]]
    """
    out = as_tensor(input) @ weight.T
    return out if bias is None else out + bias


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability `p` and scale the rest by 1/(1-p) (inverted
    dropout, so evaluation needs no rescaling); the identity when not training. The mask comes
    from the package generator, so `manual_seed` makes it reproducible.

    >>> from tinygrad_lite import ones, nn
    >>> nn.functional.dropout(ones(3), p=0.5, training=False).tolist()
    [1.0, 1.0, 1.0]
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: dropout probability has to be between 0 and 1, but got {p}")
    x = as_tensor(input)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        scale = np.zeros(x.shape, dtype=x.dtype)
    else:
        scale = ((generator().random(x.shape) >= p) / (1.0 - p)).astype(x.dtype)
    if inplace:
        return x.mul_(scale)
    return x * scale


def embedding(
    input,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of `weight` picked by the integer indices in `input` (output shape
    input.shape + (embedding_dim,)). The row at `padding_idx` gets no gradient. With
    `max_norm`, each looked-up row whose `norm_type`-norm exceeds it is first rescaled in
    `weight` itself to that norm (in place, as PyTorch does). `sparse=True` is accepted and
    gives the same (dense) gradient; `scale_grad_by_freq` is not supported.

    >>> from tinygrad_lite import Tensor, nn
    >>> w = Tensor([[0.0, 0.0], [1.0, 2.0]])
    >>> nn.functional.embedding(Tensor([1, 1]), w).tolist()
    [[1.0, 2.0], [1.0, 2.0]]
    """
    idx = input.data if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise DTypeError(
            f"embedding: indices must be integers, got {idx.dtype}; convert with .astype(int64)"
        )
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(
            f"embedding: indices must be in [0, {n}), got values {idx.min()}..{idx.max()}; "
            "num_embeddings must exceed the largest index"
        )
    if scale_grad_by_freq:
        raise NotImplementedError(
            "embedding: scale_grad_by_freq=True is not supported; scale the loss instead"
        )
    if padding_idx is not None and not -n <= padding_idx < n:
        raise ValueError(
            f"embedding: padding_idx must be within the {n} embeddings (in [-{n}, {n})), got "
            f"{padding_idx}"
        )
    if max_norm is not None:
        _renorm_rows(weight, idx, float(max_norm), float(norm_type))
    rows = weight[idx]
    if padding_idx is None:
        return rows
    # The padding row still reads its stored value, but through a constant: no gradient.
    keep = (idx != padding_idx % n)[..., None]
    return where(keep, rows, Tensor._wrap(rows.data))


def _renorm_rows(weight: Tensor, idx: np.ndarray, max_norm: float, norm_type: float) -> None:
    """PyTorch's embedding_renorm_: rows used by `idx` with a norm above max_norm are scaled
    to max_norm / (norm + 1e-7) of themselves, in place and outside the graph."""
    rows = np.unique(idx)
    with no_grad():
        w = weight.data
        norms = np.linalg.norm(w[rows], ord=norm_type, axis=-1)
        big = norms > max_norm
        scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
        w[rows[big]] *= scale[:, None]


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between x1 and x2 along `dim` (they broadcast), each norm floored
    at `eps`: sum(x1 * x2) / (max(|x1|, eps) * max(|x2|, eps)), as PyTorch computes it.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.functional.cosine_similarity(Tensor([[1.0, 0.0]]), Tensor([[1.0, 1.0]])).tolist()
    [0.7071067690849304]
    """
    a = _activation_input(x1, "cosine_similarity")
    b = _activation_input(x2, "cosine_similarity")
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ShapeError(
            f"cosine_similarity: shapes {a.shape} and {b.shape} do not broadcast; they must "
            "match (or be 1) in every axis"
        ) from None
    ndim = len(shape)
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise ShapeError(
            f"cosine_similarity: dim {dim} is out of range for inputs of {ndim} dimensions"
        )
    # Broadcast first (as PyTorch does), so `dim` names an axis of the common shape.
    a = a if a.shape == shape else a.expand(shape)
    b = b if b.shape == shape else b.expand(shape)
    # max(|x|, eps) as sqrt(max(|x|^2, eps^2)): the floor then blocks the gradient of a zero
    # vector before sqrt would turn it into 0/0.
    floor = eps * eps
    norm_a = (a * a).sum(dim, keepdims=True).clip(min=floor).sqrt()
    norm_b = (b * b).sum(dim, keepdims=True).clip(min=floor).sqrt()
    return ((a / norm_a) * (b / norm_b)).sum(dim)


# -- convolutions and pools -------------------------------------------------------------------


def _windows(length: int, kernel: int, stride: int, dilation: int, who: str) -> np.ndarray:
    """Index array (out_length, kernel): start of each window plus each tap's offset."""
    span = dilation * (kernel - 1) + 1
    if length < span:
        raise ShapeError(
            f"{who}: the (padded) input length {length} is shorter than the kernel's span "
            f"{span} (kernel_size={kernel}, dilation={dilation}); use a longer input or more "
            "padding"
        )
    out = (length - span) // stride + 1
    return np.arange(out)[:, None] * stride + np.arange(kernel)[None, :] * dilation


def _resolve_padding(padding, kernel: int, dilation: int, stride: int, who: str):
    """(left, right) zero padding for one axis from PyTorch's int / 'valid' / 'same'."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        if stride != 1:
            raise ValueError(f"{who}: padding='same' needs stride=1, got stride={stride}")
        total = dilation * (kernel - 1)
        return total // 2, total - total // 2
    if isinstance(padding, (int, np.integer)) and padding >= 0:
        return int(padding), int(padding)
    raise ValueError(
        f"{who}: padding must be a non-negative int, 'valid' or 'same', got {padding!r}"
    )


def conv1d_impl(x, weight, bias, stride, padding, dilation, who: str) -> Tensor:
    """conv1d on a checked (N, C, L) input with explicit (left, right) padding."""
    n_out, c_in, k = weight.shape
    if x.shape[1] != c_in:
        raise ShapeError(
            f"{who}: expected input with {c_in} channels (N, C, L), got shape {x.shape}; "
            "in_channels must equal the input's axis 1"
        )
    if padding != (0, 0):
        x = _pad(x, padding)
    idx = _windows(x.shape[2], k, stride, dilation, who)
    cols = x[:, :, idx]  # (N, C, L_out, K)
    cols = cols.permute(0, 2, 1, 3).reshape(x.shape[0], idx.shape[0], c_in * k)
    out = cols @ weight.reshape(n_out, c_in * k).T  # (N, L_out, C_out)
    if bias is not None:
        out = out + bias
    return out.permute(0, 2, 1)


def conv1d(input, weight, bias=None, stride: int = 1, padding=0, dilation: int = 1) -> Tensor:
    """1-D cross-correlation of (N, C_in, L) (or unbatched (C_in, L)) with weight
    (C_out, C_in, K), as torch.nn.functional.conv1d (padding: int, 'valid' or 'same').

    >>> from tinygrad_lite import Tensor, nn
    >>> x = Tensor([[[1.0, 2.0, 3.0]]])
    >>> nn.functional.conv1d(x, Tensor([[[1.0, 1.0]]])).tolist()
    [[[3.0, 5.0]]]
    """
    x = check_float(input, "conv1d", weight)
    check_ndim(x, "conv1d", (2, 3), "(N, C, L) or (C, L)")
    squeeze = x.ndim == 2
    if squeeze:
        x = x.unsqueeze(0)
    pads = _resolve_padding(padding, weight.shape[2], dilation, stride, "conv1d")
    out = conv1d_impl(x, weight, bias, stride, pads, dilation, "conv1d")
    return out.squeeze(0) if squeeze else out


def conv2d_impl(x, weight, bias, stride, padding, dilation, who: str) -> Tensor:
    """conv2d on a checked (N, C, H, W) input; stride/padding/dilation are pairs."""
    n_out, c_in, kh, kw = weight.shape
    if x.shape[1] != c_in:
        raise ShapeError(
            f"{who}: expected input with {c_in} channels (N, C, H, W), got shape {x.shape}; "
            "in_channels must equal the input's axis 1"
        )
    if padding != (0, 0):
        x = _pad(x, (padding[1], padding[1], padding[0], padding[0]))
    rows = _windows(x.shape[2], kh, stride[0], dilation[0], who)  # (H_out, KH)
    cols = _windows(x.shape[3], kw, stride[1], dilation[1], who)  # (W_out, KW)
    h_out, w_out = rows.shape[0], cols.shape[0]
    # Broadcast the two index arrays to (H_out, W_out, KH, KW): one gather takes every patch.
    patches = x[:, :, rows[:, None, :, None], cols[None, :, None, :]]
    patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(x.shape[0], h_out, w_out, c_in * kh * kw)
    out = patches @ weight.reshape(n_out, c_in * kh * kw).T  # (N, H_out, W_out, C_out)
    if bias is not None:
        out = out + bias
    return out.permute(0, 3, 1, 2)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1) -> Tensor:
    """2-D cross-correlation of (N, C_in, H, W) (or unbatched (C_in, H, W)) with weight
    (C_out, C_in, KH, KW), as torch.nn.functional.conv2d.

    >>> from tinygrad_lite import ones, nn
    >>> nn.functional.conv2d(ones(1, 1, 3, 3), ones(1, 1, 2, 2)).tolist()
    [[[[4.0, 4.0], [4.0, 4.0]]]]
    """
    x = check_float(input, "conv2d", weight)
    check_ndim(x, "conv2d", (3, 4), "(N, C, H, W) or (C, H, W)")
    squeeze = x.ndim == 3
    if squeeze:
        x = x.unsqueeze(0)
    if isinstance(padding, str):
        pads = tuple(
            _resolve_padding(padding, k, d, s, "conv2d")[0]
            for k, d, s in zip(weight.shape[2:], _pair(dilation, "dilation"), _pair(stride, "s"))
        )
        if padding == "same" and any(k % 2 == 0 for k in weight.shape[2:]):
            raise ValueError("conv2d: padding='same' is supported for odd kernel sizes only")
    else:
        pads = _pair(padding, "padding")
    out = conv2d_impl(
        x, weight, bias, _pair(stride, "stride"), pads, _pair(dilation, "dilation"), "conv2d"
    )
    return out.squeeze(0) if squeeze else out


def _pool_patches(x, kernel, stride, padding, value, who):
    """(N, C, H_out, W_out, KH*KW) windows of a padded (N, C, H, W) input."""
    kh, kw = kernel
    if padding[0] > kh // 2 or padding[1] > kw // 2:
        raise ValueError(f"{who}: padding {padding} must be at most half the kernel size {kernel}")
    if padding != (0, 0):
        x = _pad(x, (padding[1], padding[1], padding[0], padding[0]), value=value)
    rows = _windows(x.shape[2], kh, stride[0], 1, who)
    cols = _windows(x.shape[3], kw, stride[1], 1, who)
    patches = x[:, :, rows[:, None, :, None], cols[None, :, None, :]]
    return patches.reshape(patches.shape[:4] + (kh * kw,))


def _pool_args(input, kernel_size, stride, padding, who):
    x = check_float(input, who)
    check_ndim(x, who, (3, 4), "(N, C, H, W) or (C, H, W)")
    kernel = _pair(kernel_size, "kernel_size")
    stride = kernel if stride is None else _pair(stride, "stride")
    return x, kernel, stride, _pair(padding, "padding")


def max_pool2d(input, kernel_size, stride=None, padding=0) -> Tensor:
    """Maximum over each window (stride defaults to the kernel size; padding counts as -inf).
    Tied maxima share the gradient evenly (PyTorch sends it all to the first).

    >>> from tinygrad_lite import Tensor, nn
    >>> x = Tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> nn.functional.max_pool2d(x, 2).tolist()
    [[[[4.0]]]]
    """
    x, kernel, stride, padding = _pool_args(input, kernel_size, stride, padding, "max_pool2d")
    squeeze = x.ndim == 3
    x = x.unsqueeze(0) if squeeze else x
    out = _pool_patches(x, kernel, stride, padding, -np.inf, "max_pool2d").amax(-1)
    return out.squeeze(0) if squeeze else out


def avg_pool2d(
    input, kernel_size, stride=None, padding=0, count_include_pad: bool = True
) -> Tensor:
    """Mean over each window (stride defaults to the kernel size); with
    count_include_pad=False the zero padding is left out of each window's count.

    >>> from tinygrad_lite import Tensor, nn
    >>> x = Tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> nn.functional.avg_pool2d(x, 2).tolist()
    [[[[2.5]]]]
    """
    x, kernel, stride, padding = _pool_args(input, kernel_size, stride, padding, "avg_pool2d")
    squeeze = x.ndim == 3
    x = x.unsqueeze(0) if squeeze else x
    total = _pool_patches(x, kernel, stride, padding, 0.0, "avg_pool2d").sum(-1)
    if count_include_pad or padding == (0, 0):
        out = total / (kernel[0] * kernel[1])
    else:
        ones = Tensor._wrap(np.ones((1, 1) + x.shape[2:], dtype=x.dtype))
        count = _pool_patches(ones, kernel, stride, padding, 0.0, "avg_pool2d").sum(-1)
        out = total / count.data
    return out.squeeze(0) if squeeze else out


# -- normalisation ----------------------------------------------------------------------------


def batch_norm(
    input,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float | None = 0.1,
    eps: float = 1e-5,
    num_batches_tracked: Tensor | None = None,
) -> Tensor:
    """Normalise each channel (axis 1) of (N, C) or (N, C, L) by the batch statistics when
    training (updating the running statistics in place, unbiased variance, as PyTorch) or by
    the running statistics otherwise. momentum=None uses a cumulative average.

    >>> from tinygrad_lite import Tensor, nn
    >>> x = Tensor([[1.0], [3.0]])
    >>> nn.functional.batch_norm(x, None, None, training=True, eps=0.0).tolist()
    [[-1.0], [1.0]]
    """
    x = as_tensor(input)
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training or running_mean is None:
        count = x.numel() // x.shape[1]
        if count < 2:
            raise ShapeError(
                f"batch_norm: expected more than 1 value per channel when training, got input "
                f"shape {x.shape}; use a batch of at least 2 or call .eval()"
            )
        mean = x.mean(axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axes, keepdims=True)
        if training and running_mean is not None:
            if num_batches_tracked is not None:
                num_batches_tracked.data = num_batches_tracked.data + 1
            m = momentum
            if m is None:  # cumulative moving average
                m = 1.0 / float(num_batches_tracked.data) if num_batches_tracked else 0.0
            unbiased = var.data.reshape(-1) * (count / (count - 1))
            running_mean.data = (1 - m) * running_mean.data + m * mean.data.reshape(-1)
            running_var.data = (1 - m) * running_var.data + m * unbiased
            running_mean.data = running_mean.data.astype(x.dtype, copy=False)
            running_var.data = running_var.data.astype(x.dtype, copy=False)
        out = centered / (var + eps).sqrt()
    else:
        mean = running_mean.data.reshape(shape)
        inv = 1.0 / np.sqrt(running_var.data.reshape(shape) + eps)
        out = (x - mean.astype(x.dtype)) * inv.astype(x.dtype)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing `normalized_shape` axes (biased variance, as PyTorch).

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.functional.layer_norm(Tensor([[1.0, 3.0]]), (2,), eps=0.0).tolist()
    [[-1.0, 1.0]]
    """
    x = as_tensor(input)
    normalized_shape = (
        (int(normalized_shape),)
        if isinstance(normalized_shape, (int, np.integer))
        else tuple(normalized_shape)
    )
    k = len(normalized_shape)
    if x.shape[x.ndim - k :] != normalized_shape:
        raise ShapeError(
            f"layer_norm: expected input whose trailing dimensions are {normalized_shape}, got "
            f"shape {x.shape}; normalized_shape must match the last axes"
        )
    axes = tuple(range(x.ndim - k, x.ndim))
    centered = x - x.mean(axes, keepdims=True)
    var = (centered * centered).mean(axes, keepdims=True)
    out = centered / (var + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


# -- padding ----------------------------------------------------------------------------------


def pad(input, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Constant padding, pairs (before, after) from the last axis backwards (PyTorch's order).

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.functional.pad(Tensor([1.0, 2.0]), (1, 0)).tolist()
    [0.0, 1.0, 2.0]
    """
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got {mode!r}")
    return _pad(as_tensor(input), tuple(pad), 0.0 if value is None else value)


def _legacy_softmax_dim(ndim: int, who: str, stacklevel: int = 3) -> int:
    """PyTorch's implicit softmax axis for dim=None (with its deprecation warning)."""
    warnings.warn(
        f"{who}: implicit dimension choice is deprecated; pass dim explicitly",
        UserWarning,
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1
