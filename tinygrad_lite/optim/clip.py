"""Gradient clipping with PyTorch's semantics (`torch.nn.utils.clip_grad_norm_` and
`clip_grad_value_`): rescale or clamp `.grad` in place, between backward and the optimizer step.
Exploding gradients in long unrolled recurrences are the classic reason to use them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..tensor import Tensor
from ..versioning import mark_modified

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]


def _with_grads(parameters) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


def _norm(array: np.ndarray, norm_type: float) -> float:
    flat = np.abs(np.asarray(array, dtype=np.float64).ravel())
    if math.isinf(norm_type):
        return float(flat.max()) if flat.size else 0.0
    return float(np.sum(flat**norm_type) ** (1.0 / norm_type))


def get_total_norm(
    tensors: Tensor | Iterable[Tensor], norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> Tensor:
    """The `norm_type`-norm of all `tensors` taken together, as if concatenated into one
    vector (`inf`: the largest absolute entry), as a 0-d Tensor (float64 accumulation).

    >>> from tinygrad_lite import Tensor
    >>> get_total_norm([Tensor([3.0]), Tensor([4.0])]).item()
    5.0
    >>> get_total_norm([Tensor([3.0]), Tensor([-4.0])], norm_type=float("inf")).item()
    4.0
    """
    norm_type = float(norm_type)
    if norm_type <= 0 and not math.isinf(norm_type):
        raise ValueError(f"get_total_norm: norm_type must be positive or inf, got {norm_type}")
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if not tensors:
        return Tensor._wrap(np.zeros((), dtype=np.float32))
    # The norm of the per-tensor norms equals the norm of the concatenation.
    total = _norm(np.array([_norm(t.data, norm_type) for t in tensors]), norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_/get_total_norm: the total norm of order {norm_type} is "
            f"{total}, so they cannot be clipped; pass error_if_nonfinite=False to scale anyway"
        )
    return Tensor._wrap(np.asarray(total, dtype=tensors[0].data.dtype))


def clip_grads_with_norm_(
    parameters: Tensor | Iterable[Tensor], max_norm: float, total_norm: Tensor | float
) -> None:
    """Scale the gradients by `max_norm / (total_norm + 1e-6)` when that is below 1 (the
    second half of `clip_grad_norm_`, for a norm computed elsewhere).

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([0.0], requires_grad=True)
    >>> w.grad = Tensor([10.0])
    >>> clip_grads_with_norm_([w], 1.0, 10.0)
    >>> round(w.grad.item(), 4)
    1.0
    """
    total = float(total_norm.item() if isinstance(total_norm, Tensor) else total_norm)
    coef = min(max_norm / (total + 1e-6), 1.0)
    # A NaN norm gives a NaN coefficient, which PyTorch applies too (the gradients become NaN).
    if coef < 1.0 or math.isnan(coef):
        for p in _with_grads(parameters):
            np.multiply(p.grad.data, coef, out=p.grad.data, casting="unsafe")  # in place, as
            mark_modified(p.grad, "clip_grad_norm_")  # PyTorch's grad.mul_(coef)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all gradients together so their joint `norm_type`-norm is at most `max_norm`.

    The norm is taken over all gradients as if concatenated into one vector (`inf` is the
    largest absolute entry). Returns that total norm *before* clipping, as a 0-d Tensor; the
    scale is `max_norm / (total_norm + 1e-6)`, applied only when below 1, as in PyTorch.

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([0.0, 0.0], requires_grad=True)
    >>> w.grad = Tensor([3.0, 4.0])
    >>> clip_grad_norm_([w], max_norm=1.0).item()
    5.0
    >>> [round(g, 4) for g in w.grad.tolist()]
    [0.6, 0.8]
    """
    params = _with_grads(parameters)
    total = get_total_norm([p.grad for p in params], norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient entry into [-clip_value, clip_value] in place.

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([0.0, 0.0], requires_grad=True)
    >>> w.grad = Tensor([3.0, -0.5])
    >>> clip_grad_value_([w], 1.0)
    >>> w.grad.tolist()
    [1.0, -0.5]
    """
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in _with_grads(parameters):
        np.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)
        mark_modified(p.grad, "clip_grad_value_")
