"""`tensor.grad_fn`: PyTorch's view of the graph as backward functions, over our graph of
tensors, so that code written to walk a torch graph (`grad_fn.name()`, `next_functions`) runs.

Our graph is made of tensors (each non-leaf records its op and parents); PyTorch's is made of
function objects. `GradFn` is a light view made on access: its name is PyTorch's for our op
(`TORCH_NAMES`, with the variants PyTorch picks by argument kind, e.g. `SumBackward0` for a full
sum and `SumBackward1` over dims), and `next_functions` has one `(fn, 0)` pair per input as
PyTorch's: the input's own `GradFn`, an `AccumulateGrad` for a leaf that requires grad, or
`None` for a constant. Two views of the same node compare equal.

>>> from tinygrad_lite import Tensor
>>> x = Tensor([1.0, 2.0], requires_grad=True)
>>> y = (x * 2).tanh().sum()
>>> y.grad_fn.name(), y.grad_fn.next_functions[0][0].name()
('SumBackward0', 'TanhBackward0')
>>> mul = y.grad_fn.next_functions[0][0].next_functions[0][0]
>>> [(fn.name() if fn else None, i) for fn, i in mul.next_functions]
[('torch::autograd::AccumulateGrad', 0), (None, 0)]
>>> mul.next_functions[0][0].variable is x
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["AccumulateGrad", "GradFn", "TORCH_NAMES", "torch_name"]

# Our op name -> PyTorch's backward function name (the common case; see _variant for the rest).
TORCH_NAMES: dict[str, str] = {
    "+": "AddBackward0",
    "-": "SubBackward0",
    "*": "MulBackward0",
    "/": "DivBackward0",
    "**": "PowBackward1",
    "neg": "NegBackward0",
    "exp": "ExpBackward0",
    "log": "LogBackward0",
    "sqrt": "SqrtBackward0",
    "tanh": "TanhBackward0",
    "sigmoid": "SigmoidBackward0",
    "relu": "ReluBackward0",
    "relu_backward": "ThresholdBackwardBackward0",
    "abs": "AbsBackward0",
    "sign": "SignBackward0",
    "clip": "ClampBackward1",
    "cast": "ToCopyBackward0",
    "matmul": "MmBackward0",
    "sum": "SumBackward0",
    "max": "MaxBackward1",
    "min": "MinBackward1",
    "logsumexp": "LogsumexpBackward0",
    "softmax": "SoftmaxBackward0",
    "log_softmax": "LogSoftmaxBackward0",
    "maximum": "MaximumBackward0",
    "minimum": "MinimumBackward0",
    "where": "WhereBackward0",
    "reshape": "ViewBackward0",
    "permute": "PermuteBackward0",
    "expand": "ExpandBackward0",
    "getitem": "SliceBackward0",
    "scatter_add": "IndexPutBackward0",
    "clone": "CloneBackward0",
    "contiguous": "CloneBackward0",
    "cat": "CatBackward0",
    "pad": "ConstantPadNdBackward0",
    "gather": "GatherBackward0",
    "norm": "LinalgVectorNormBackward0",
    "zero_": "ZeroBackward0",
    "fill_": "FillBackward2",
    "uniform_": "UniformBackward0",
    "normal_": "NormalBackward0",
    "copy_": "torch::autograd::CopyBackwards",
}


def _is_number(t) -> bool:
    """A constant that stands for a Python number (PyTorch's "Scalar" overloads)."""
    return not t.requires_grad and not t._parents and t.data.ndim == 0


def _matmul_name(a, b) -> str:
    na, nb = a.data.ndim, b.data.ndim
    if na == 2 and nb == 2:
        return "MmBackward0"
    if na == 1 and nb == 1:
        return "DotBackward0"
    if na == 2 and nb == 1:
        return "MvBackward0"
    if na == 1 and nb == 2:
        return "SqueezeBackward4"
    return "UnsafeViewBackward0"  # batched: bmm, then a view back to the batch shape


def _getitem_name(index) -> str:
    items = index if isinstance(index, tuple) else (index,)
    if any(isinstance(i, (np.ndarray, list)) for i in items):
        return "IndexBackward0"
    real = [i for i in items if i is not None and i is not Ellipsis]
    if real and isinstance(real[-1], (int, np.integer)):
        return "SelectBackward0"
    return "SliceBackward0"


def _variant(node) -> str:
    op = node._op
    parents = node._parents
    if op == "matmul":
        return _matmul_name(*parents)
    if op == "sum":
        return "SumBackward0" if node._ctx[0] is None else "SumBackward1"
    if op in ("max", "min"):
        word = "Max" if op == "max" else "Min"
        # A full reduction is torch.max(); over dims ours is amax (ties share the gradient).
        return f"{word}Backward1" if node._ctx[0] is None else f"A{word.lower()}Backward0"
    if op == "getitem":
        return _getitem_name(node._ctx[0])
    if op == "-" and _is_number(parents[0]):
        return "RsubBackward1"
    if op == "**":
        if _is_number(parents[1]):
            return "PowBackward0"
        if _is_number(parents[0]):
            return "PowBackward2"
    name = TORCH_NAMES.get(op)
    if name is not None:
        return name
    # An op PyTorch has no single counterpart for (a fused layer op): its own name, CamelCased.
    return "".join(part.capitalize() for part in op.replace("-", "_").split("_")) + "Backward"


def torch_name(node) -> str:
    """PyTorch's name for the backward function of `node` (a Tensor with a history)."""
    return _variant(node)


# PyTorch lists no entry for the Python number of these overloads (rsub, pow with a number).
_DROP_NUMBER = {"RsubBackward1": 0, "PowBackward0": 1, "PowBackward2": 0}


def _next_of(t):
    if t._parents:
        return GradFn(t)
    if t.requires_grad:
        return AccumulateGrad(t)
    return None


class GradFn:
    """The backward function that produced a tensor, as PyTorch's `grad_fn` object.

    `name()` is PyTorch's name, `next_functions` the functions its gradient flows to.
    """

    __slots__ = ("_node",)

    def __init__(self, node):
        self._node = node

    def name(self) -> str:
        return torch_name(self._node)

    @property
    def next_functions(self) -> tuple:
        node = self._node
        parents = node._parents
        drop = _DROP_NUMBER.get(self.name())
        if node._op in ("+", "*") and len(parents) == 2 and _is_number(parents[0]):
            parents = parents[::-1]  # `2 * a` is a.mul(2) in PyTorch: the tensor comes first
        return tuple(
            (_next_of(p), 0) for i, p in enumerate(parents) if not (i == drop and _is_number(p))
        )

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._node is self._node

    def __hash__(self) -> int:
        return hash((type(self), id(self._node)))

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self._node):#x}>"


class AccumulateGrad(GradFn):
    """Where backward deposits a leaf's gradient into `.grad` (PyTorch's AccumulateGrad).

    `variable` is the leaf itself."""

    __slots__ = ()

    @property
    def variable(self):
        return self._node

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    @property
    def next_functions(self) -> tuple:
        return ()
