"""Long-range sequence tasks for recurrent models: the adding problem and the copy task
(Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016). Both need memory across many steps, so
they show where plain RNNs fail and gated cells or careful gradients help.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor

__all__ = ["adding_problem", "copy_task"]


def adding_problem(n: int, length: int, seed: int = 0, dtype=np.float32) -> tuple[Tensor, Tensor]:
    """Inputs (n, length, 2) and targets (n, 1): channel 0 holds uniform [0, 1) values,
    channel 1 marks exactly two steps (one in each half); the target is the sum of the two
    marked values.

    >>> x, y = adding_problem(3, 10, seed=0)
    >>> x.shape, y.shape, x.data[..., 1].sum(axis=1).tolist()
    ((3, 10, 2), (3, 1), [2.0, 2.0, 2.0])
    """
    if length < 2:
        raise ValueError(f"adding_problem: length must be >= 2, got {length}")
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, (n, length))
    half = length // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, length, n)
    markers = np.zeros((n, length))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1)
    y = (values[rows, first] + values[rows, second])[:, None]
    return Tensor._wrap(x.astype(dtype)), Tensor._wrap(y.astype(dtype))


def copy_task(
    n: int, length: int, delay: int = 10, num_symbols: int = 8, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Token ids (n, 2*length + delay) for inputs and targets.

    Symbols are 1..num_symbols, 0 is blank and num_symbols + 1 the "recall now" marker.
    Input: `length` random symbols, `delay` blanks, the marker, then length - 1 blanks.
    Target: blanks for length + delay steps, then the symbols, in order. The model must hold
    the symbols in memory for `delay + length` steps.

    >>> x, y = copy_task(1, 3, delay=2, num_symbols=4, seed=0)
    >>> x.shape, int(x.data[0, 5]), bool((y.data[0, 5:] == x.data[0, :3]).all())
    ((1, 8), 5, True)
    """
    if length < 1 or delay < 0 or num_symbols < 1:
        raise ValueError(
            f"copy_task: need length >= 1, delay >= 0, num_symbols >= 1, got length={length}, "
            f"delay={delay}, num_symbols={num_symbols}"
        )
    rng = np.random.default_rng(seed)
    total = 2 * length + delay
    symbols = rng.integers(1, num_symbols + 1, (n, length))
    x = np.zeros((n, total), dtype=np.int64)
    y = np.zeros((n, total), dtype=np.int64)
    x[:, :length] = symbols
    x[:, length + delay] = num_symbols + 1
    y[:, length + delay :] = symbols
    return Tensor._wrap(x), Tensor._wrap(y)
