"""`IndexedGrad`: the gradient of `x[index]` as (index, values), added into place by the driver.

The gradient of a slice is zero everywhere except under the slice. Written out, it is a
zero-filled array of the whole tensor, so a loop that reads `x[t]` at each of T steps (an
unrolled RNN over a sequence that requires grad, e.g. the output of an Embedding) makes T
whole-sized arrays and adds them up: O(T^2) work for an O(T) gradient. On the fast path
(`backward()` without create_graph) `getitem`'s VJP returns this instead, and the backward
driver adds `values` into the node's gradient accumulator at `index` (`add_into`). The dense
array is made once, when the sliced tensor's own turn comes (`dense`), and nothing outside the
driver ever sees an IndexedGrad: hooks, `.grad`, `grad()`, events and the graph export all get
plain arrays. (A walk abandoned midway, by an anomaly error or a reader that stops consuming
`iter_backward`, can leave one in a node's private `_seen_grad`; the graph export reads it
through `np.asarray`, which `__array__` answers with the dense numbers.) Under create_graph the
VJP records a `scatter_add` op instead, as before.
"""

from __future__ import annotations

import numpy as np

__all__ = ["IndexedGrad", "densify", "is_basic_index"]


def is_basic_index(index) -> bool:
    """True when `index` uses only ints, slices, None and Ellipsis: no element is picked twice,
    so a gradient can be added into place with `+=`."""
    items = index if index.__class__ is tuple else (index,)
    for i in items:
        if i is None or i is Ellipsis or i.__class__ is int or i.__class__ is slice:
            continue
        if isinstance(i, np.integer):
            continue
        return False
    return True


class IndexedGrad:
    """A gradient of shape `shape` that is `values` at `index` and zero elsewhere."""

    __slots__ = ("shape", "index", "values")

    def __init__(self, shape: tuple, index, values: np.ndarray):
        self.shape = shape
        self.index = index
        self.values = values

    def add_into(self, acc: np.ndarray) -> None:
        """acc += self, in place, with the rounding of the dense sum it replaces.

        A basic index picks each element at most once: one add per element, in place. An
        integer-array index may pick an element several times; its picks are summed first
        and then added once, as `acc + dense` (and torch) would. Adding them one by one into
        a large gradient would round each small pick away."""
        if is_basic_index(self.index):
            acc[self.index] += self.values
        else:
            acc += self.dense(acc.dtype)

    def dense(self, dtype=None) -> np.ndarray:
        """A fresh array holding this gradient (of `dtype`, default the values' dtype)."""
        out = np.zeros(self.shape, dtype=self.values.dtype if dtype is None else dtype)
        if is_basic_index(self.index):
            out[self.index] = self.values
        else:
            np.add.at(out, self.index, self.values)
        return out

    def __array__(self, dtype=None, copy=None):
        # Anything numpy-shaped that meets one by mistake gets the right numbers.
        return self.dense(dtype)

    def __repr__(self) -> str:
        return f"IndexedGrad(shape={self.shape}, index={self.index!r}, values={self.values!r})"


def densify(g):
    """`g` as a plain array when it is an IndexedGrad, else `g` itself."""
    return g.dense() if g.__class__ is IndexedGrad else g
