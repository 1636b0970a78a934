"""Loss functions with PyTorch's names, arguments and reductions, and their module forms.

Each loss is composed from engine ops, so it is differentiable to any order. The ones that see
logits never exponentiate a large positive number: cross entropy goes through log_softmax (a
logsumexp shifted by the max) and the logits form of binary cross entropy through a softplus
written with exp(-|x|), so logits of 1e4 give exact, finite losses and gradients.
"""

from __future__ import annotations

import numpy as np

from ..errors import DTypeError, ShapeError
from ..tensor import Tensor, as_tensor, maximum, where
from .module import Module

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "L1Loss",
    "MSELoss",
    "NLLLoss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "l1_loss",
    "mse_loss",
    "nll_loss",
]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, who: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{who}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _float_input(x, who: str) -> Tensor:
    x = as_tensor(x)
    if x.dtype.kind != "f":
        raise DTypeError(f"{who}: input must be floating point, got {x.dtype}; use .float()")
    return x


def _same_shape(x: Tensor, y: Tensor, who: str) -> None:
    # PyTorch only warns here; broadcasting a (N,) target against (N, 1) predictions silently
    # builds an N x N loss, the classic regression bug, so we refuse it.
    if x.shape != y.shape:
        raise ShapeError(
            f"{who}: input shape {x.shape} and target shape {y.shape} differ; reshape the "
            "target (e.g. target.reshape(input.shape)) so they match"
        )


def _float_target(target, like: Tensor) -> Tensor:
    t = as_tensor(target)
    return t if t.dtype == like.dtype else t.astype(like.dtype)


def _input_and_target(input, target, reduction: str, who: str) -> tuple[Tensor, Tensor]:
    """Check `reduction`; return the float input and the target in its dtype, same shape."""
    _check_reduction(reduction, who)
    x = _float_input(input, who)
    y = _float_target(target, x)
    _same_shape(x, y, who)
    return x, y


def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """Mean (or sum, or elementwise) squared error.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.functional.mse_loss(Tensor([1.0, 2.0]), Tensor([1.0, 4.0])).item()
    2.0
    """
    x, y = _input_and_target(input, target, reduction, "mse_loss")
    diff = x - y
    return _reduce(diff * diff, reduction)


def l1_loss(input, target, reduction: str = "mean") -> Tensor:
    """Mean (or sum, or elementwise) absolute error; the gradient at a zero error is 0.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.functional.l1_loss(Tensor([1.0, 2.0]), Tensor([1.0, 4.0])).item()
    1.0
    """
    x, y = _input_and_target(input, target, reduction, "l1_loss")
    return _reduce((x - y).abs(), reduction)


def _clamped_log(p: Tensor) -> Tensor:
    """log(p) floored at -100, PyTorch's guard in binary_cross_entropy; log(0) is never
    evaluated, so the gradient stays finite (it is 0 where the floor is active)."""
    raw = p.data
    safe = where(raw > 0, p, Tensor._wrap(np.ones((), dtype=raw.dtype)))
    return where(raw > 0, safe.log(), Tensor._wrap(np.full((), -100.0, raw.dtype))).clip(min=-100)


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean") -> Tensor:
    """-(y log p + (1 - y) log(1 - p)) for probabilities p in [0, 1]; each log is floored at
    -100 as in PyTorch (where the floor is active the gradient is 0; PyTorch's is ~1e12).

    >>> from tinygrad_lite import Tensor, nn
    >>> round(nn.functional.binary_cross_entropy(Tensor([0.5]), Tensor([1.0])).item(), 4)
    0.6931
    """
    p, y = _input_and_target(input, target, reduction, "binary_cross_entropy")
    if p.numel() and (p.data.min() < 0 or p.data.max() > 1):
        raise ValueError(
            "binary_cross_entropy: input must hold probabilities in [0, 1]; apply sigmoid "
            "first, or use binary_cross_entropy_with_logits on the raw scores"
        )
    loss = -(y * _clamped_log(p) + (1 - y) * _clamped_log(1 - p))
    if weight is not None:
        loss = loss * _float_target(weight, p)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input, target, weight=None, reduction: str = "mean", pos_weight=None
) -> Tensor:
    """Binary cross entropy of sigmoid(x), computed from the logits x without overflow:
    (1 - y) x + (1 + (pos_weight - 1) y) softplus(-x).

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.functional.binary_cross_entropy_with_logits(Tensor([1e4]), Tensor([0.0])).item()
    10000.0
    """
    x, y = _input_and_target(input, target, reduction, "binary_cross_entropy_with_logits")
    # softplus(-x) = max(-x, 0) + log(1 + exp(-|x|)): exp of a non-positive number only. At
    # x == 0 maximum() splits the gradient evenly, which gives the exact derivative -1/2.
    softplus_neg = maximum(-x, 0.0) + (1 + (-x.abs()).exp()).log()
    if pos_weight is None:
        loss = (1 - y) * x + softplus_neg
    else:
        loss = (1 - y) * x + (1 + (_float_target(pos_weight, x) - 1) * y) * softplus_neg
    if weight is not None:
        loss = loss * _float_target(weight, x)
    return _reduce(loss, reduction)


def _class_axis_last(x: Tensor) -> Tensor:
    """(N, C, d1, ...) -> (N * d1 * ..., C); (C,) -> (1, C)."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim > 2:
        x = x.permute((0,) + tuple(range(2, x.ndim)) + (1,))
    return x.reshape(-1, x.shape[-1])


def _class_targets(input: Tensor, target, ignore_index: int, who: str) -> np.ndarray:
    """The integer target array, checked against the input's shape and class count."""
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise DTypeError(
            f"{who}: class-index targets must be integers, got {t.dtype}; pass int64 indices "
            "(or, for cross_entropy, float class probabilities of the input's shape)"
        )
    expected = () if input.ndim == 1 else (input.shape[0],) + input.shape[2:]
    if t.shape != expected:
        raise ShapeError(
            f"{who}: input of shape {input.shape} needs a target of shape {expected}, got "
            f"{t.shape}; the class axis is axis 1 of the input (axis 0 when unbatched)"
        )
    n_classes = input.shape[0 if input.ndim == 1 else 1]
    valid = t[t != ignore_index]
    if valid.size and (valid.min() < 0 or valid.max() >= n_classes):
        raise IndexError(
            f"{who}: target values must be in [0, {n_classes}) (or ignore_index="
            f"{ignore_index}), got {valid.min()}..{valid.max()}"
        )
    return t


def _weighted_mean(total: Tensor, denominator) -> Tensor:
    # Every target ignored: PyTorch returns NaN; multiply (no 0/0 warning) to get the same.
    if float(denominator) == 0.0:
        return total * np.nan
    return total / denominator


def _nll(logp: Tensor, t: np.ndarray, weight, ignore_index: int, reduction: str):
    """nll_loss on checked inputs; also returns the per-target weights (0 where ignored)."""
    flat = _class_axis_last(logp)
    tf = t.reshape(-1)
    ignored = tf == ignore_index
    safe = np.where(ignored, 0, tf)
    picked = flat[np.arange(tf.size), safe]
    w = np.ones(tf.size) if weight is None else as_tensor(weight).data[safe]
    w = (w * ~ignored).astype(logp.dtype)
    loss = -picked * w
    if reduction == "none":
        return loss.reshape(t.shape), w, ignored
    if reduction == "sum":
        return loss.sum(), w, ignored
    return _weighted_mean(loss.sum(), w.sum()), w, ignored


def nll_loss(
    input, target, weight=None, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    """Negative log likelihood of class indices given log-probabilities (N, C, ...) or (C,).
    'mean' divides by the summed weights of the targets that are not ignored (PyTorch's rule).

    >>> from tinygrad_lite import Tensor, nn
    >>> logp = Tensor([[-0.5, -1.0], [-2.0, -0.25]])
    >>> nn.functional.nll_loss(logp, Tensor([0, 1])).item()
    0.375
    """
    _check_reduction(reduction, "nll_loss")
    x = _float_input(input, "nll_loss")
    t = _class_targets(x, target, ignore_index, "nll_loss")
    return _nll(x, t, weight, ignore_index, reduction)[0]


def cross_entropy(
    input,
    target,
    weight=None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross entropy of logits (N, C, ...) or (C,) against class indices (ignore_index
    skipped) or against class probabilities of the input's shape, with optional class
    `weight` and `label_smoothing`, exactly as torch.nn.functional.cross_entropy.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.functional.cross_entropy(Tensor([[1e4, 0.0]]), Tensor([1])).item()
    10000.0
    """
    who = "cross_entropy"
    _check_reduction(reduction, who)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{who}: label_smoothing must be in [0, 1], got {label_smoothing}")
    x = _float_input(input, who)
    if x.ndim == 0:
        raise ShapeError(f"{who}: input must have a class axis, got a 0-d tensor")
    axis = 0 if x.ndim == 1 else 1
    n_classes = x.shape[axis]
    logp = x.log_softmax(axis)
    w_shape = tuple(n_classes if i == axis else 1 for i in range(x.ndim))
    w_vec = None if weight is None else as_tensor(weight).data.astype(x.dtype).reshape(w_shape)
    t_raw = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t_raw.dtype.kind == "f":  # class probabilities
        probs = _float_target(target, x)
        if probs.shape != x.shape and x.ndim >= 2 and probs.shape == x.shape[:1] + x.shape[2:]:
            raise DTypeError(
                f"{who}: a target of shape {probs.shape} holds class indices, which must be "
                f"integers, got {probs.dtype}; convert with target.astype(int64) (float targets "
                f"are class probabilities of the input's shape {x.shape})"
            )
        _same_shape(x, probs, who)
        if label_smoothing > 0:
            probs = probs * (1 - label_smoothing) + label_smoothing / n_classes
        terms = logp * probs if w_vec is None else logp * probs * w_vec
        loss = -terms.sum(axis)
        if reduction == "mean":  # averaged over the batch elements, not the weights
            return loss.sum() / (x.numel() // n_classes)
        return _reduce(loss, reduction)
    t = _class_targets(x, target, ignore_index, who)
    nll, w, ignored = _nll(logp, t, weight, ignore_index, reduction)
    if label_smoothing == 0:
        return nll
    terms = logp if w_vec is None else logp * w_vec
    keep = (~ignored).reshape(t.shape).astype(x.dtype)
    smooth = -terms.sum(axis) * keep
    if reduction == "none":
        smooth_red = smooth
    elif reduction == "sum":
        smooth_red = smooth.sum()
    else:
        smooth_red = _weighted_mean(smooth.sum(), w.sum() if weight is not None else keep.sum())
    return nll * (1 - label_smoothing) + smooth_red * (label_smoothing / n_classes)


# -- module forms -----------------------------------------------------------------------------


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        _check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def _buffer(self, name: str, value) -> None:
        # PyTorch registers these as buffers, so they appear in the state dict.
        if value is None:
            object.__setattr__(self, name, None)
        else:
            self.register_buffer(name, as_tensor(value))

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class MSELoss(_Loss):
    """Module form of `mse_loss`.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.MSELoss()(Tensor([1.0, 2.0]), Tensor([1.0, 4.0])).item()
    2.0
    """

    def forward(self, input, target) -> Tensor:
        return mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Module form of `l1_loss`.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.L1Loss(reduction="sum")(Tensor([1.0, 2.0]), Tensor([1.0, 4.0])).item()
    2.0
    """

    def forward(self, input, target) -> Tensor:
        return l1_loss(input, target, self.reduction)


class BCELoss(_Loss):
    """Module form of `binary_cross_entropy` (weight is a buffer, as in PyTorch).

    >>> from tinygrad_lite import Tensor, nn
    >>> round(nn.BCELoss()(Tensor([0.5]), Tensor([0.0])).item(), 4)
    0.6931
    """

    def __init__(self, weight=None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._buffer("weight", weight)

    def forward(self, input, target) -> Tensor:
        return binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Module form of `binary_cross_entropy_with_logits`.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.BCEWithLogitsLoss()(Tensor([0.0]), Tensor([1.0])).item() > 0
    True
    """

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None) -> None:
        super().__init__(reduction)
        self._buffer("weight", weight)
        self._buffer("pos_weight", pos_weight)

    def forward(self, input, target) -> Tensor:
        return binary_cross_entropy_with_logits(
            input, target, self.weight, self.reduction, self.pos_weight
        )


class CrossEntropyLoss(_Loss):
    """Module form of `cross_entropy`.

    >>> from tinygrad_lite import Tensor, nn
    >>> loss = nn.CrossEntropyLoss(label_smoothing=0.1)
    >>> round(loss(Tensor([[0.0, 0.0]]), Tensor([0])).item(), 4)
    0.6931
    """

    def __init__(
        self,
        weight=None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(reduction)
        self._buffer("weight", weight)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target) -> Tensor:
        return cross_entropy(
            input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing
        )


class NLLLoss(_Loss):
    """Module form of `nll_loss`.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.NLLLoss()(Tensor([[-1.0, -2.0]]), Tensor([1])).item()
    2.0
    """

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._buffer("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input, target) -> Tensor:
        return nll_loss(input, target, self.weight, self.ignore_index, self.reduction)
