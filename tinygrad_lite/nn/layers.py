"""Basic layers with PyTorch's names, parameter layouts and initialisation: Linear, Embedding,
Dropout, Flatten and the activation modules.

A torch state dict loads into these key for key and gives the same numbers. Each layer checks its
input and names itself, the shapes and the fix when the input does not fit.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..tensor import Tensor, as_tensor, get_default_dtype
from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = [
    "Dropout",
    "Embedding",
    "Flatten",
    "Identity",
    "Linear",
    "LogSoftmax",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
]


def reset_weight_and_bias(weight: Parameter, bias: Parameter | None) -> None:
    """PyTorch's default for Linear and Conv: kaiming_uniform_(a=sqrt(5)) for the weight,
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in = weight.numel() // weight.shape[0]
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound)


class Linear(Module):
    """y = x @ weight.T + bias, weight of shape (out_features, in_features).

    >>> from tinygrad_lite import randn, nn
    >>> layer = nn.Linear(4, 2)
    >>> layer(randn(3, 4)).shape, layer.num_parameters()
    ((3, 2), 10)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        dtype = np.dtype(dtype or get_default_dtype())
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        self.register_parameter("bias", Parameter(np.empty(out_features, dtype)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset_weight_and_bias(self.weight, self.bias)

    def _who(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features})"

    def forward(self, x) -> Tensor:
        x = F.check_float(x, self._who(), self.weight)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ShapeError(
                f"{self._who()}: expected input with last dimension {self.in_features}, got "
                f"shape {x.shape}; reshape the input or build the layer with in_features="
                f"{x.shape[-1] if x.ndim else 1}"
            )
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Embedding(Module):
    """A lookup table: integer indices of any shape -> rows of weight (num_embeddings,
    embedding_dim), initialised N(0, 1) as in PyTorch; the `padding_idx` row starts at zero
    and gets no gradient.

    >>> from tinygrad_lite import Tensor, nn
    >>> emb = nn.Embedding(10, 3)
    >>> emb(Tensor([[1, 2], [3, 4]])).shape, emb.num_parameters()
    ((2, 2, 3), 30)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        dtype=None,
    ):
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx {padding_idx} must be in "
                    f"[-{num_embeddings}, {num_embeddings})"
                )
            padding_idx %= num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        dtype = np.dtype(dtype or get_default_dtype())
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, indices) -> Tensor:
        who = f"Embedding({self.num_embeddings}, {self.embedding_dim})"
        try:
            return F.embedding(indices, self.weight, self.padding_idx)
        except (TypeError, IndexError) as err:
            raise type(err)(f"{who}: {err}") from None

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


class Dropout(Module):
    """Zero elements with probability p while training (scaling the rest by 1/(1-p)); the
    identity in eval mode.

    >>> from tinygrad_lite import ones, nn
    >>> nn.Dropout(0.5).eval()(ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, x) -> Tensor:
        return F.dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Flatten(Module):
    """Flatten axes start_dim..end_dim into one (by default all but the batch axis).

    >>> from tinygrad_lite import zeros, nn
    >>> nn.Flatten()(zeros(2, 3, 4)).shape
    (2, 12)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x) -> Tensor:
        x = as_tensor(x)
        for d in (self.start_dim, self.end_dim):
            if not -max(x.ndim, 1) <= d < max(x.ndim, 1):
                raise ShapeError(
                    f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}): dimension "
                    f"{d} is out of range for input of shape {x.shape}; adjust start_dim/end_dim"
                )
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to remove a layer).

    >>> from tinygrad_lite import ones, nn
    >>> nn.Identity()(ones(2)).tolist()
    [1.0, 1.0]
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class ReLU(Module):
    """max(0, x) elementwise.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.ReLU()(Tensor([-1.0, 1.0])).tolist()
    [0.0, 1.0]
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x) -> Tensor:
        return F.relu(F.check_float(x, "ReLU()"), self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Tanh(Module):
    """tanh(x) elementwise.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.Tanh()(Tensor([0.0])).tolist()
    [0.0]
    """

    def forward(self, x) -> Tensor:
        return F.tanh(F.check_float(x, "Tanh()"))


class Sigmoid(Module):
    """1 / (1 + exp(-x)) elementwise.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.Sigmoid()(Tensor([0.0])).tolist()
    [0.5]
    """

    def forward(self, x) -> Tensor:
        return F.sigmoid(F.check_float(x, "Sigmoid()"))


class Softmax(Module):
    """softmax along `dim` (dim=None picks PyTorch's legacy axis, with a warning).

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.Softmax(dim=-1)(Tensor([[0.0, 0.0]])).tolist()
    [[0.5, 0.5]]
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x) -> Tensor:
        x = F.check_float(x, f"Softmax(dim={self.dim})")
        dim = F._legacy_softmax_dim(x.ndim, "Softmax") if self.dim is None else self.dim
        return F.softmax(x, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log_softmax along `dim` (dim=None picks PyTorch's legacy axis, with a warning).

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.LogSoftmax(dim=1)(Tensor([[0.0, 1e4]])).tolist()
    [[-10000.0, 0.0]]
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x) -> Tensor:
        x = F.check_float(x, f"LogSoftmax(dim={self.dim})")
        dim = F._legacy_softmax_dim(x.ndim, "LogSoftmax") if self.dim is None else self.dim
        return F.log_softmax(x, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
