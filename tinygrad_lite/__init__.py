"""tinygrad-lite: a reverse-mode autodiff engine on numpy that keeps its graph explicit.

Two faces on one graph core: `Value` (scalars, micrograd's surface) and `Tensor` (numpy arrays,
PyTorch's surface). `export_graph` describes any graph for the visualiser (`viz`).
"""

from .autograd import (
    BackwardEvent,
    backward,
    backward_events,
    detect_anomaly,
    enable_grad,
    grad,
    is_anomaly_enabled,
    is_grad_enabled,
    iter_backward,
    no_grad,
    scope,
    set_grad_enabled,
    set_interior_grad_limit,
)
from .errors import AnomalyError, DTypeError, GraphFreedError, ShapeError

# Module-level functions as torch's (functions.py, serialization.py)
from .functions import (
    abs,
    allclose,
    clamp,
    equal,
    exp,
    from_numpy,
    inference_mode,
    isclose,
    log,
    log_softmax,
    matmul,
    max,
    mean,
    min,
    multinomial,
    randint,
    randperm,
    relu,
    sigmoid,
    softmax,
    sqrt,
    sum,
    tanh,
)
from .release import set_interior_value_limit
from .serialization import load, save
from .tensor import (
    Tensor,
    arange,
    as_tensor,
    cat,
    chunk,
    eye,
    float32,
    float64,
    full,
    int64,
    manual_seed,
    maximum,
    minimum,
    one_hot,
    ones,
    ones_like,
    pad,
    rand,
    randn,
    split,
    stack,
    tensor,
    where,
    zeros,
    zeros_like,
)
from .tensor_ops.dtype_device import (  # dtype names as torch's (tensor_ops/dtype_device.py)
    bool_ as bool,
)
from .tensor_ops.dtype_device import (
    device,
    get_default_dtype,
    int32,
    set_default_dtype,
)
from .tensor_ops.dtype_device import float32 as float
from .tensor_ops.dtype_device import float64 as double
from .tensor_ops.dtype_device import int32 as int
from .tensor_ops.dtype_device import int64 as long
from .value import Value

__version__ = "0.1.0"

# `tl.nn`, `tl.nn.functional`, `tl.nn.utils`, `tl.nn.micro`, `tl.optim` and
# `tl.optim.lr_scheduler` without further imports, as `import torch` gives `torch.nn`. They load
# on first use (PEP 562), so `import tinygrad_lite` stays as fast as before they were added.
# (nn/__init__.py imports functional, utils and micro; optim/__init__.py imports lr_scheduler.)
_LAZY_SUBPACKAGES = ("nn", "optim")


def __getattr__(name: str):
    if name in _LAZY_SUBPACKAGES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    if name in ("half", "float16"):
        # Naming float16 fails at once: not every op is written and tested for it, and a dtype
        # that some ops get silently wrong is worse than none.
        from .errors import DTypeError

        raise DTypeError(
            f"tinygrad_lite.{name}: float16 is not supported (not every op handles it); "
            "use tl.float32 or tl.float64"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBPACKAGES))
