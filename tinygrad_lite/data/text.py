"""A small English text shipped with the package, and character-level encoding helpers, for
character language models that need no download.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from ..tensor import Tensor

__all__ = ["load_corpus", "CharVocab", "char_sequences"]


def load_corpus() -> str:
    """The bundled corpus (`tinygrad_lite/data/corpus.txt`, original prose about learning).

    >>> text = load_corpus()
    >>> len(text) > 5000, text.isprintable() or "\\n" in text
    (True, True)
    """
    return resources.files(__package__).joinpath("corpus.txt").read_text(encoding="utf-8")


class CharVocab:
    """A character vocabulary: ids 0..len-1 in sorted character order.

    >>> vocab = CharVocab("hello")
    >>> len(vocab), vocab.encode("hole").tolist(), vocab.decode(vocab.encode("hole"))
    (4, [1, 3, 2, 0], 'hole')
    """

    def __init__(self, text: str) -> None:
        self.itos = sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> np.ndarray:
        """Character ids as an int64 array; an unknown character raises ValueError."""
        try:
            return np.array([self.stoi[ch] for ch in text], dtype=np.int64)
        except KeyError as err:
            raise ValueError(
                f"CharVocab.encode: character {err.args[0]!r} is not in the vocabulary; build "
                "the vocabulary from a text that contains it"
            ) from None

    def decode(self, ids) -> str:
        """The text for a sequence of ids (list, array or Tensor)."""
        arr = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
        if arr.size and (arr.min() < 0 or arr.max() >= len(self)):
            raise ValueError(
                f"CharVocab.decode: ids must lie in [0, {len(self) - 1}], got "
                f"[{arr.min()}, {arr.max()}]"
            )
        return "".join(self.itos[int(i)] for i in arr.reshape(-1))


def char_sequences(ids, seq_len: int, stride: int | None = None) -> tuple[Tensor, Tensor]:
    """Next-character pairs: inputs ids[s:s+seq_len] and targets ids[s+1:s+seq_len+1], shape
    (N, seq_len) each, windows `stride` apart (default seq_len).

    >>> x, y = char_sequences(np.arange(7), 3)
    >>> x.tolist(), y.tolist()
    ([[0, 1, 2], [3, 4, 5]], [[1, 2, 3], [4, 5, 6]])
    """
    arr = np.asarray(ids.data if isinstance(ids, Tensor) else ids, dtype=np.int64).reshape(-1)
    stride = seq_len if stride is None else stride
    if seq_len < 1 or stride < 1 or len(arr) < seq_len + 1:
        raise ValueError(
            f"char_sequences: need seq_len >= 1, stride >= 1 and at least seq_len + 1 ids, got "
            f"seq_len={seq_len}, stride={stride}, {len(arr)} ids"
        )
    starts = range(0, len(arr) - seq_len, stride)
    x = np.stack([arr[s : s + seq_len] for s in starts])
    y = np.stack([arr[s + 1 : s + seq_len + 1] for s in starts])
    return Tensor._wrap(x), Tensor._wrap(y)
