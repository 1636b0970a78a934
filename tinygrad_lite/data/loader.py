"""Datasets and batching with `torch.utils.data`'s names: `TensorDataset`, `Subset`,
`DataLoader`, `random_split`, plus `kfold` index splits for cross-validation.

Randomness is explicit: every shuffle or split takes a `seed` (or a numpy `Generator`), so a run
can be replayed exactly; without one the package generator (`tinygrad_lite.manual_seed`) is used.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

from ..errors import ShapeError
from ..tensor import Tensor
from ..tensor import generator as _package_generator

__all__ = ["TensorDataset", "Subset", "DataLoader", "random_split", "kfold"]


def _rng(seed: int | None, generator: np.random.Generator | None, where: str):
    if seed is not None and generator is not None:
        raise ValueError(f"{where}: pass seed or generator, not both")
    if generator is not None:
        return generator
    if seed is not None:
        return np.random.default_rng(seed)
    return _package_generator()


def _as_array(x) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class TensorDataset:
    """Tensors (or arrays) indexed together along their first axis.

    An item is a tuple with one entry per tensor; an array of indices gives a batch.

    >>> import numpy as np
    >>> ds = TensorDataset(np.arange(6.0).reshape(3, 2), np.array([0, 1, 0]))
    >>> len(ds), [t.tolist() for t in ds[1]]
    (3, [[2.0, 3.0], 1])
    """

    def __init__(self, *tensors) -> None:
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        self.tensors = tuple(_as_array(t) for t in tensors)
        lengths = [len(t) if t.ndim else -1 for t in self.tensors]
        if any(n != lengths[0] for n in lengths) or lengths[0] < 0:
            shapes = ", ".join(str(t.shape) for t in self.tensors)
            raise ShapeError(
                f"TensorDataset: all tensors must have the same size along axis 0, got shapes "
                f"{shapes}; slice them to a common number of examples"
            )

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index) -> tuple[Tensor, ...]:
        return tuple(Tensor._wrap(t[index]) for t in self.tensors)


class Subset:
    """The items of `dataset` at `indices`, in that order (what `random_split` returns).

    >>> import numpy as np
    >>> sub = Subset(TensorDataset(np.arange(5.0)), [4, 0])
    >>> len(sub), sub[0][0].item()
    (2, 4.0)
    """

    def __init__(self, dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[self.indices[index]]


def _supports_batch_index(dataset) -> bool:
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return isinstance(dataset, TensorDataset)


def _collate(items: list) -> tuple[Tensor, ...] | Tensor:
    """Stack a list of items (tuples of tensors/arrays/numbers, or single ones) into a batch."""
    first = items[0]
    if isinstance(first, (tuple, list)):
        return tuple(
            Tensor._wrap(np.stack([_as_array(item[i]) for item in items]))
            for i in range(len(first))
        )
    return Tensor._wrap(np.stack([_as_array(item) for item in items]))


class DataLoader:
    """Iterate over a dataset in batches of Tensors, optionally reshuffled every epoch.

    Each pass (`for batch in loader`) is one epoch; with `shuffle=True` each epoch draws a new
    permutation from the loader's generator, so a given `seed` replays the same sequence of
    epochs. A `TensorDataset` (or a `Subset` of one) yields tuples of Tensors, batched by one
    fancy index per tensor rather than by stacking items.

    >>> import numpy as np
    >>> ds = TensorDataset(np.arange(10.0), np.arange(10))
    >>> loader = DataLoader(ds, batch_size=4, shuffle=True, seed=0, drop_last=True)
    >>> len(loader), [x.shape for x, y in loader]
    (2, [(4,), (4,)])
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        *,
        seed: int | None = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = _rng(seed, generator, "DataLoader") if shuffle else None

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def batch_indices(self) -> Iterator[np.ndarray]:
        """The index arrays of one epoch (draws a new permutation when shuffling)."""
        n = len(self.dataset)
        order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        stop = len(self) * self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            yield order[start : start + self.batch_size]

    def __iter__(self):
        batched = _supports_batch_index(self.dataset)
        for idx in self.batch_indices():
            if batched:
                yield self.dataset[idx]
            else:
                yield _collate([self.dataset[int(i)] for i in idx])


def random_split(
    dataset,
    lengths: Sequence[int | float],
    seed: int | None = None,
    *,
    generator: np.random.Generator | None = None,
) -> list[Subset]:
    """Split `dataset` into non-overlapping random `Subset`s of the given lengths.

    Lengths are counts summing to `len(dataset)`, or fractions summing to 1; fractions are
    floored and the leftover items handed out one each from the first subset on (PyTorch's rule).

    >>> import numpy as np
    >>> train, val = random_split(TensorDataset(np.arange(10.0)), [0.8, 0.2], seed=0)
    >>> len(train), len(val), sorted(set(train.indices) | set(val.indices)) == list(range(10))
    (8, 2, True)
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and math.isclose(sum(lengths), 1.0) and sum(lengths) <= n:
        if any(not 0 <= frac <= 1 for frac in lengths):
            raise ValueError(f"random_split: fractions {lengths} must each lie in [0, 1]")
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(int(x) != x or x < 0 for x in lengths) or sum(lengths) != n:
        raise ValueError(
            f"random_split: lengths {lengths} must be non-negative counts summing to the "
            f"dataset size {n}, or fractions summing to 1"
        )
    order = _rng(seed, generator, "random_split").permutation(n)
    subsets, start = [], 0
    for length in lengths:
        subsets.append(Subset(dataset, order[start : start + int(length)]))
        start += int(length)
    return subsets


def kfold(
    n: int, k: int, shuffle: bool = False, seed: int | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Indices for k-fold cross-validation: k pairs (train_idx, val_idx).

    The validation folds are disjoint and cover 0..n-1; the first `n % k` folds hold one extra
    item. Without `shuffle` folds are contiguous blocks, as in scikit-learn's KFold.

    >>> [val.tolist() for _, val in kfold(5, 2)]
    [[0, 1, 2], [3, 4]]
    """
    if not isinstance(k, (int, np.integer)) or not 2 <= k <= n:
        raise ValueError(f"kfold: k must be an integer with 2 <= k <= n={n}, got {k!r}")
    order = _rng(seed, None, "kfold").permutation(n) if shuffle else np.arange(n)
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    folds, start = [], 0
    for size in sizes:
        val = order[start : start + size]
        train = np.concatenate([order[:start], order[start + size :]])
        folds.append((train, val))
        start += size
    return folds
