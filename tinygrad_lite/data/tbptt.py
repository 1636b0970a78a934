"""Truncated backpropagation through time (TBPTT) over a long sequence.

The sequence is cut into windows of `k` steps. Each window runs forward from the hidden state
the previous window ended with, backpropagates its own loss, and (optionally) steps the
optimizer. Between windows the state is *detached*: its value is carried forward, but the graph
that produced it is cut, so no gradient flows from a window's loss into earlier windows (into
their inputs, their states, or the parameters' uses there). What is cut is exactly the
dependence of later losses on earlier steps beyond the window; memory and time per update stay
O(k) however long the sequence is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..tensor import Tensor

__all__ = ["detach_state", "iter_windows", "truncated_bptt"]


def detach_state(state: Any) -> Any:
    """Detach a hidden state: a Tensor, or (nested) tuples/lists of them such as LSTM's (h, c).
    None passes through, so the first window can start from the model's default state.

    >>> from tinygrad_lite import Tensor
    >>> h = Tensor([1.0], requires_grad=True) * 2
    >>> c = Tensor([3.0], requires_grad=True) * 2
    >>> dh, dc = detach_state((h, c))
    >>> dh.is_leaf, dc.requires_grad, dc.tolist()
    (True, False, [6.0])
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(
        f"detach_state: expected a Tensor or a tuple/list of Tensors, got {type(state).__name__}"
    )


def iter_windows(length: int, k: int) -> Iterator[slice]:
    """Slices of consecutive windows of `k` steps over `length` steps (the last may be shorter).

    >>> [(s.start, s.stop) for s in iter_windows(7, 3)]
    [(0, 3), (3, 6), (6, 7)]
    """
    if k < 1:
        raise ValueError(f"iter_windows: window length k must be >= 1, got {k}")
    for start in range(0, length, k):
        yield slice(start, min(start + k, length))


def _time_slice(x: Tensor, window: slice, time_dim: int) -> Tensor:
    index = [slice(None)] * x.ndim
    index[time_dim] = window
    return x[tuple(index)]


def truncated_bptt(
    step: Callable[[Tensor, Any], tuple[Tensor, Any]],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    inputs: Tensor,
    targets: Tensor,
    k: int,
    optimizer=None,
    state: Any = None,
    time_dim: int = 1,
) -> tuple[list[float], Any]:
    """Run TBPTT over one long sequence; return the per-window losses and the final state.

    `step(x_window, state) -> (output, new_state)` runs the model over one window (shape
    (N, <=k, ...) with time on `time_dim`); `loss_fn(output, target_window)` gives a scalar,
    where `target_window` is `targets` cut to the same steps.
    With an `optimizer`, each window does zero_grad, backward and step; without one, the
    gradients of all windows accumulate in `.grad` (each window contributing only through its
    own steps, since the carried state is detached).

    >>> from tinygrad_lite import Tensor, nn, stack, zeros
    >>> w = nn.Parameter([0.5])
    >>> def step(x, h):  # h_t = w*h_{t-1} + x_t, one output per step
    ...     h = zeros(1, 1) if h is None else h
    ...     outs = []
    ...     for t in range(x.shape[1]):
    ...         h = h * w + x[:, t]
    ...         outs.append(h)
    ...     return stack(outs, dim=1), h
    >>> x, y = Tensor([[[1.0], [1.0], [1.0], [1.0]]]), zeros(1, 4, 1)
    >>> losses, h = truncated_bptt(step, lambda o, t: ((o - t) ** 2).sum(), x, y, k=2)
    >>> len(losses), h.is_leaf
    (2, True)
    """
    length = inputs.shape[time_dim]
    if targets.shape[time_dim] != length:
        raise ValueError(
            f"truncated_bptt: inputs have {length} steps on axis {time_dim}, targets have "
            f"{targets.shape[time_dim]}; they must be aligned in time"
        )
    losses = []
    for window in iter_windows(length, k):
        if optimizer is not None:
            optimizer.zero_grad()
        output, state = step(_time_slice(inputs, window, time_dim), state)
        loss = loss_fn(output, _time_slice(targets, window, time_dim))
        loss.backward()
        if optimizer is not None:
            optimizer.step()
        losses.append(float(loss.item()))
        # The cut: keep the state's value, drop its history.
        state = detach_state(state)
    return losses, state
