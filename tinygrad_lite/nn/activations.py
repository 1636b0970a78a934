"""Module forms of the activations in `nn.functional` (PyTorch's `nn.GELU`, `nn.LeakyReLU`,
...), with PyTorch's constructor arguments, defaults and printed form, so they drop into an
`nn.Sequential` as in PyTorch. `inplace=True` writes the result into the input, as
PyTorch's (see `functional._activate`), and is shown in the repr. `nn.CosineSimilarity` lives
here too: a stateless module over `functional.cosine_similarity`.
"""

from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = [
    "CosineSimilarity",
    "ELU",
    "GELU",
    "Hardtanh",
    "LeakyReLU",
    "LogSigmoid",
    "ReLU6",
    "SiLU",
    "Softplus",
]


def _inplace(inplace: bool) -> str:
    return ", inplace=True" if inplace else ""


class GELU(Module):
    """`functional.gelu` as a layer.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.GELU(approximate="tanh")
    GELU(approximate='tanh')
    >>> nn.GELU()(Tensor([0.0])).tolist()
    [0.0]
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise RuntimeError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class LeakyReLU(Module):
    """`functional.leaky_relu` as a layer.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.LeakyReLU(0.5)(Tensor([-1.0, 1.0])).tolist()
    [-0.5, 1.0]
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_inplace(self.inplace)}"


class ELU(Module):
    """`functional.elu` as a layer.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.ELU(alpha=2.0)(Tensor([1.0])).tolist()
    [1.0]
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace(self.inplace)}"


class SiLU(Module):
    """`functional.silu` as a layer.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.SiLU()(Tensor([0.0])).tolist()
    [0.0]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input) -> Tensor:
        return F.silu(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Softplus(Module):
    """`functional.softplus` as a layer.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.Softplus(beta=2.0, threshold=10.0)
    Softplus(beta=2.0, threshold=10.0)
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class LogSigmoid(Module):
    """`functional.logsigmoid` as a layer.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.LogSigmoid()(Tensor([-100.0])).tolist()
    [-100.0]
    """

    def forward(self, input) -> Tensor:
        return F.logsigmoid(input)


class Hardtanh(Module):
    """`functional.hardtanh` as a layer.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.Hardtanh(-2.0, 2.0)(Tensor([-3.0, 3.0])).tolist()
    [-2.0, 2.0]
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(
                f"Hardtanh: min_val cannot be greater than max_val, got min_val={min_val}, "
                f"max_val={max_val}"
            )
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace(self.inplace)}"


class ReLU6(Hardtanh):
    """`functional.relu6` as a layer (PyTorch's is a Hardtanh(0, 6) too).

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.ReLU6()(Tensor([-1.0, 7.0])).tolist()
    [0.0, 6.0]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class CosineSimilarity(Module):
    """`functional.cosine_similarity` as a layer.

    >>> from tinygrad_lite import Tensor, nn
    >>> nn.CosineSimilarity(dim=0)(Tensor([1.0, 0.0]), Tensor([0.0, 1.0])).tolist()
    0.0
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1, x2) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)
