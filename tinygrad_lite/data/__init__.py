"""Data for training without downloads: batching utilities with `torch.utils.data`'s names,
early stopping, truncated BPTT, and generated or bundled data (the Euler-discretised driven
oscillator, the adding and copy tasks, a small English text).

>>> from tinygrad_lite.data import adding_problem, DataLoader, TensorDataset
>>> x, y = adding_problem(8, 12, seed=0)
>>> [xb.shape for xb, yb in DataLoader(TensorDataset(x, y), batch_size=4)]
[(4, 12, 2), (4, 12, 2)]
"""

from .early_stopping import EarlyStopping
from .loader import DataLoader, Subset, TensorDataset, kfold, random_split
from .oscillator import (
    euler_oscillator,
    make_windows,
    oscillator_dataset,
    sine_forcing,
    smooth_random_forcing,
)
from .tasks import adding_problem, copy_task
from .tbptt import detach_state, iter_windows, truncated_bptt
from .text import CharVocab, char_sequences, load_corpus

__all__ = [
    "CharVocab",
    "DataLoader",
    "EarlyStopping",
    "Subset",
    "TensorDataset",
    "adding_problem",
    "char_sequences",
    "copy_task",
    "detach_state",
    "euler_oscillator",
    "iter_windows",
    "kfold",
    "load_corpus",
    "make_windows",
    "oscillator_dataset",
    "random_split",
    "sine_forcing",
    "smooth_random_forcing",
    "truncated_bptt",
]
