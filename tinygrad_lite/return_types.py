"""The named tuples that reductions with indices return, as `torch.return_types`: `max`,
`min`, `sort` and `topk` hold `(values, indices)`, unpack like a tuple and name their fields.

>>> from tinygrad_lite import Tensor
>>> out = Tensor([[1.0, 5.0], [7.0, 2.0]]).max(1)
>>> out.indices.tolist(), out.values.tolist()
([1, 0], [5.0, 7.0])
>>> values, indices = out
"""

from __future__ import annotations

from collections import namedtuple

__all__ = ["max", "min", "sort", "topk"]


def _make(name: str):
    base = namedtuple(name, ["values", "indices"], module=__name__)

    def __repr__(self) -> str:
        return f"{__name__}.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"

    return type(name, (base,), {"__slots__": (), "__repr__": __repr__, "__module__": __name__})


max = _make("max")  # noqa: A001 - torch.return_types' names
min = _make("min")  # noqa: A001
sort = _make("sort")
topk = _make("topk")
