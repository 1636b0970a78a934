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
    float16,
    get_default_dtype,
    half,
    int32,
    set_default_dtype,
)
from .tensor_ops.dtype_device import float32 as float
from .tensor_ops.dtype_device import float64 as double
from .tensor_ops.dtype_device import int32 as int
from .tensor_ops.dtype_device import int64 as long
from .value import Value

__version__ = "0.1.0"
