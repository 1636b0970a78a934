"""Weight initialisers with PyTorch's names and formulas (torch.nn.init).

Each function fills a tensor in place, outside the graph, from the package generator (so
`tinygrad_lite.manual_seed` makes every model reproducible), keeps the tensor's dtype and
returns the tensor. The layers' defaults are PyTorch's: kaiming_uniform_(a=sqrt(5)) for the
weights, which is uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the biases.
"""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor, generator
from ..versioning import mark_modified

__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]


def _fill(t: Tensor, values) -> Tensor:
    t.data[...] = np.asarray(values).astype(t.data.dtype, copy=False)
    mark_modified(t, "nn.init")  # an in-place write, as PyTorch's init under no_grad
    return t


def _rng() -> np.random.Generator:
    # Asked for at every call: manual_seed replaces the generator object.
    return generator()


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    >>> from tinygrad_lite.nn import init
    >>> round(init.calculate_gain("relu"), 4), init.calculate_gain("tanh")
    (1.4142, 1.6666666666666667)
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d")
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fans(t: Tensor, who: str) -> tuple[int, int]:
    """(fan_in, fan_out) with PyTorch's layout: (out, in, *kernel)."""
    if t.ndim < 2:
        raise ValueError(
            f"{who}: fan in and fan out need a tensor with at least 2 dimensions, got shape "
            f"{t.shape}; use uniform_ or zeros_ for biases"
        )
    receptive = int(np.prod(t.shape[2:])) if t.ndim > 2 else 1
    return t.shape[1] * receptive, t.shape[0] * receptive


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples from U(a, b).

    >>> from tinygrad_lite import zeros, nn
    >>> w = nn.init.uniform_(zeros(100), -0.5, 0.5)
    >>> bool(abs(w.data).max() <= 0.5)
    True
    """
    return _fill(tensor, _rng().uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples from N(mean, std**2).

    >>> from tinygrad_lite import zeros, nn
    >>> nn.init.normal_(zeros(3), std=0.0).tolist()
    [0.0, 0.0, 0.0]
    """
    return _fill(tensor, _rng().normal(mean, std, tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with `val`.

    >>> from tinygrad_lite import zeros, nn
    >>> nn.init.constant_(zeros(2), 0.5).tolist()
    [0.5, 0.5]
    """
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0.

    >>> from tinygrad_lite import ones, nn
    >>> nn.init.zeros_(ones(2)).tolist()
    [0.0, 0.0]
    """
    return _fill(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1.

    >>> from tinygrad_lite import zeros, nn
    >>> nn.init.ones_(zeros(2)).tolist()
    [1.0, 1.0]
    """
    return _fill(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).

    >>> from tinygrad_lite import zeros, nn
    >>> w = nn.init.xavier_uniform_(zeros(4, 2))
    >>> bool(abs(w.data).max() <= 1.0)
    True
    """
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot normal: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out)).

    >>> from tinygrad_lite import zeros, nn
    >>> nn.init.xavier_normal_(zeros(4, 2)).shape
    (4, 2)
    """
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(tensor, a, mode, nonlinearity, who) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{who}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor, who)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan). With a=sqrt(5) (the layers'
    default) b is exactly 1/sqrt(fan_in).

    >>> import math
    >>> from tinygrad_lite import zeros, nn
    >>> w = nn.init.kaiming_uniform_(zeros(3, 25), a=math.sqrt(5))
    >>> bool(abs(w.data).max() <= 0.2)
    True
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He normal: N(0, std**2) with std = gain / sqrt(fan).

    >>> from tinygrad_lite import zeros, nn
    >>> nn.init.kaiming_normal_(zeros(3, 4), nonlinearity="relu").shape
    (3, 4)
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    return normal_(tensor, 0.0, std)


def orthogonal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one (the trailing
    axes are flattened), with the signs fixed so the result is uniformly distributed.

    >>> import numpy as np
    >>> from tinygrad_lite import zeros, nn
    >>> w = nn.init.orthogonal_(zeros(3, 3, dtype=np.float64)).data
    >>> bool(np.allclose(w @ w.T, np.eye(3)))
    True
    """
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: needs at least 2 dimensions, got shape {tensor.shape}")
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _rng().standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    # Without the sign fix, QR's convention would bias the distribution.
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))
