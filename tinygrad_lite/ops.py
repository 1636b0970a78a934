"""The op table: for every differentiable Tensor op, its forward and its vector-Jacobian product
(VJP), side by side.

A forward takes numpy arrays (plus the op's fixed arguments) and returns an array. A VJP has the
signature `vjp(xp, g, out, inputs, needs, *args)` and returns one gradient per input (None where
`needs` is False). It is written against `xp`, a tiny array namespace with two implementations:

- `NumpyBackend`: `g`, `out` and `inputs` are numpy arrays. This is the fast path of an ordinary
  `backward()`: gradients are computed with no graph recorded at all.
- `TensorBackend` (in tensor.py): they are Tensors and every operation records, so the very
  same formula yields a differentiable gradient under `create_graph=True` (grad-of-grad,
  Hessian-vector products, gradgradcheck).

Masks and other constants are computed from raw data (`xp.raw`) and enter the gradient as
constants, with two exceptions that follow PyTorch: relu's mask (`relu_backward`, PyTorch's
threshold_backward) and abs's sign (`sign`) are ops of their own whose derivative is zero. So
under create_graph the gradient of relu(x) or abs(x) stays connected to x, and a second
derivative there is 0, as in PyTorch, rather than "not reachable". Broadcasting is undone in
one place, `unbroadcast`, called by every broadcasting op.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .indexed_grad import IndexedGrad, is_basic_index

__all__ = ["OPS", "NumpyBackend", "Op", "unbroadcast"]


class Op:
    """A differentiable primitive: a name (shown in drawings), a forward and a VJP.

    `reads_inputs` / `reads_out`: whether the VJP reads its inputs' values / its own output's
    (not just shapes and dtypes). Both True unless `release.py` learns otherwise from
    `versioning.SAVED`: a value nobody reads may be released (see release.py)."""

    __slots__ = ("name", "forward", "vjp", "reads_inputs", "reads_out")

    def __init__(self, name: str, forward: Callable, vjp: Callable | None):
        self.name = name
        self.forward = forward
        self.vjp = vjp
        self.reads_inputs = True
        self.reads_out = True

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


OPS: dict[str, Op] = {}


def defop(name: str, forward: Callable, vjp: Callable | None) -> Op:
    """Register an op in the table; `vjp=None` marks it non-differentiable."""
    op = Op(name, forward, vjp)
    OPS[name] = op
    return op


class NumpyBackend:
    """The `xp` of the fast path: VJPs computed directly on numpy arrays."""

    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    sqrt = staticmethod(np.sqrt)
    tanh = staticmethod(np.tanh)
    reshape = staticmethod(np.reshape)
    broadcast_to = staticmethod(np.broadcast_to)

    @staticmethod
    def raw(x):
        return x

    # ndarray methods where the argument is known to be an array: numpy's module-level
    # wrappers cost a microsecond of Python each, as much as the op on a small array.
    @staticmethod
    def sum(x, axis=None, keepdims=False):
        if x.__class__ is np.ndarray:
            return x.sum(axis=axis, keepdims=keepdims)
        return np.sum(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def permute(x, axes):
        return np.transpose(x, axes)

    @staticmethod
    def swap_last(x):
        if x.__class__ is np.ndarray:
            return x.swapaxes(-1, -2)
        return np.swapaxes(x, -1, -2)

    @staticmethod
    def where(cond, a, b):
        return np.where(cond, a, b)

    @staticmethod
    def astype(x, dtype):
        return np.asarray(x).astype(dtype, copy=False)

    @staticmethod
    def index_grad(g, index, shape):
        """The gradient of x[index] given g: added into place by the driver."""
        return IndexedGrad(tuple(shape), index, g)

    @staticmethod
    def pad(x, pad_width, value):
        return pad_forward(x, pad_width, value)

    @staticmethod
    def cat(xs, axis):
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def softmax(x, axis):
        return softmax_forward(x, axis)

    @staticmethod
    def relu_backward(g, x):
        return relu_backward_forward(g, x)

    @staticmethod
    def sign(x):
        return sign_forward(x)

    @staticmethod
    def zeros_like(x):
        return np.zeros(np.shape(x), dtype=np.result_type(x))


def unbroadcast(xp, g, shape: tuple):
    """Sum `g` down to `shape`, undoing numpy broadcasting (leading axes, then axes of size 1).

    Every broadcasting op calls this once for each input, so broadcasting is handled here only.
    """
    # The fast path's plain arrays skip the np.shape call (most gradients need no reduction).
    gshape = g.shape if g.__class__ is np.ndarray else np.shape(xp.raw(g))
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and gshape[i + lead] != 1
    )
    if axes:
        g = xp.sum(g, axis=axes, keepdims=False)
    if g.__class__ is np.ndarray and g.shape == shape:
        return g  # summing the leading axes already gave the shape
    return xp.reshape(g, shape)


def _shape(x) -> tuple:
    return x.shape  # ndarray, numpy scalar and Tensor all have it


_SCALARS: dict = {}


def scalar(value, dtype) -> np.ndarray:
    """A read-only 0-d array holding `value` in `dtype`, made once and then reused.

    NumPy 2 converts a Python number met by an array on every call (a few hundred
    nanoseconds, as much as the arithmetic on a small array); a 0-d array of the array's own
    dtype costs nothing to convert and keeps the result in that dtype.
    """
    # A float zero is never looked up: -0.0 and 0 are equal keys, and the sign matters (x / -0.0).
    cacheable = value.__class__ is int or (value and value == value)  # NaN is never equal
    key = (value, dtype)
    arr = _SCALARS.get(key) if cacheable else None
    if arr is None:
        arr = np.array(value, dtype=dtype)
        arr.flags.writeable = False
        if cacheable and len(_SCALARS) < 4096:  # bounded: code may meet many distinct numbers
            _SCALARS[key] = arr
    return arr


# ------------------------------------------------------------------------------------------
# Elementwise binary ops (broadcasting)
# ------------------------------------------------------------------------------------------


def _unbroadcast_to(xp, g, x):
    """`g` summed down to the shape of `x`; the shape test inline is the common no-op case."""
    shape = x.shape
    return g if g.shape == shape else unbroadcast(xp, g, shape)


def add_vjp(xp, g, out, inputs, needs):
    # The shape tests are spelled out (not _unbroadcast_to): most gradients need no reduction,
    # and on small arrays a call per operand is a visible share of the op.
    a, b = inputs
    gshape = g.shape
    return (
        (g if a.shape == gshape else unbroadcast(xp, g, a.shape)) if needs[0] else None,
        (g if b.shape == gshape else unbroadcast(xp, g, b.shape)) if needs[1] else None,
    )


ADD = defop("+", np.add, add_vjp)


def sub_vjp(xp, g, out, inputs, needs):
    a, b = inputs
    return (
        _unbroadcast_to(xp, g, a) if needs[0] else None,
        _unbroadcast_to(xp, -g, b) if needs[1] else None,
    )


SUB = defop("-", np.subtract, sub_vjp)


def mul_vjp(xp, g, out, inputs, needs):
    a, b = inputs
    ga = gb = None
    if needs[0]:
        ga = g * b
        if ga.shape != a.shape:
            ga = unbroadcast(xp, ga, a.shape)
    if needs[1]:
        gb = g * a
        if gb.shape != b.shape:
            gb = unbroadcast(xp, gb, b.shape)
    return ga, gb


MUL = defop("*", np.multiply, mul_vjp)


def div_vjp(xp, g, out, inputs, needs):
    a, b = inputs
    return (
        _unbroadcast_to(xp, g / b, a) if needs[0] else None,
        _unbroadcast_to(xp, -g * out / b, b) if needs[1] else None,
    )


def div_forward(a, b):
    # x/0 gives inf and 0/0 NaN, as in PyTorch, without a warning; anomaly mode reports them.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(a, b)


DIV = defop("/", div_forward, div_vjp)


def pow_forward(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.power(a, b)


def pow_vjp(xp, g, out, inputs, needs):
    a, b = inputs
    ga = gb = None
    with np.errstate(divide="ignore", invalid="ignore"):
        if needs[0]:
            # b * a**(b-1), not b * out / a: stays finite at a == 0 for b >= 1. At 0**0 it is
            # 0 * inf; PyTorch defines it as 0. Only there is it masked: elsewhere the rule
            # must stay a function of b, whose derivative create_graph needs.
            zero_to_zero = (xp.raw(a) == 0) & (xp.raw(b) == 0)
            if np.any(zero_to_zero):
                # a -> 1 there before a**(b-1) is formed, not only after: the derivative of
                # a masked inf is still 0 * inf = NaN under create_graph.
                safe_a = xp.where(zero_to_zero, 1, a)
                local = xp.where(zero_to_zero, 0, b * safe_a ** (b - 1))
            else:
                local = b * a ** (b - 1)
            ga = unbroadcast(xp, g * local, _shape(a))
        if needs[1]:
            # d/db a**b = a**b log a. At a == 0 PyTorch takes the limit 0 (b > 0); we match.
            safe_a = xp.where(xp.raw(a) == 0, 1, a)
            gb = unbroadcast(xp, g * out * xp.log(safe_a), _shape(b))
    return ga, gb


POW = defop("**", pow_forward, pow_vjp)


def _extremum_vjp(xp, g, out, inputs, needs, pick_a):
    # Where a and b tie, each side gets half of the gradient (PyTorch's torch.maximum rule).
    a, b = inputs
    ra, rb = xp.raw(a), xp.raw(b)
    share_a = np.where(ra == rb, 0.5, pick_a(ra, rb)).astype(np.result_type(ra, rb))
    return (
        unbroadcast(xp, g * share_a, _shape(a)) if needs[0] else None,
        unbroadcast(xp, g * (1 - share_a), _shape(b)) if needs[1] else None,
    )


MAXIMUM = defop(
    "maximum",
    np.maximum,
    lambda xp, g, out, inputs, needs: _extremum_vjp(xp, g, out, inputs, needs, np.greater),
)
MINIMUM = defop(
    "minimum",
    np.minimum,
    lambda xp, g, out, inputs, needs: _extremum_vjp(xp, g, out, inputs, needs, np.less),
)


def where_forward(a, b, cond):
    return np.where(cond, a, b)


def where_vjp(xp, g, out, inputs, needs, cond):
    a, b = inputs
    zero = np.zeros((), dtype=np.result_type(xp.raw(g)))
    return (
        unbroadcast(xp, xp.where(cond, g, zero), _shape(a)) if needs[0] else None,
        unbroadcast(xp, xp.where(cond, zero, g), _shape(b)) if needs[1] else None,
    )


WHERE = defop("where", where_forward, where_vjp)


# ------------------------------------------------------------------------------------------
# Elementwise unary ops
# ------------------------------------------------------------------------------------------

NEG = defop("neg", np.negative, lambda xp, g, out, inputs, needs: (-g,))
EXP = defop("exp", np.exp, lambda xp, g, out, inputs, needs: (g * out,))


def log_forward(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


LOG = defop("log", log_forward, lambda xp, g, out, inputs, needs: (g / inputs[0],))


def sqrt_forward(x):
    with np.errstate(invalid="ignore"):
        return np.sqrt(x)


SQRT = defop("sqrt", sqrt_forward, lambda xp, g, out, inputs, needs: (g / (2 * out),))
_ONES: dict = {}  # dtype -> scalar(1, dtype), looked up once per VJP of tanh and sigmoid


def one_like(xp, out):
    """1 as a 0-d array of `out`'s dtype: `1 - out` without a Python number for numpy to
    convert on every call (see `scalar`); on the Tensor backend it enters as a constant."""
    dt = (out if out.__class__ is np.ndarray else xp.raw(out)).dtype
    one = _ONES.get(dt)
    if one is None:
        one = _ONES[dt] = scalar(1, dt)
    return one


# d tanh = 1 - tanh^2, read from the output. The local derivative is formed first and then
# multiplied by g: an infinite upstream gradient stays infinite (g - g*t*t would be inf - inf).
TANH = defop(
    "tanh", np.tanh, lambda xp, g, out, inputs, needs: (g * (one_like(xp, out) - out * out),)
)

# sigmoid(x) = e / (1 + e) with e = exp(min(x, L)), L just below the largest finite exponent of
# the dtype: exp never overflows (no warning at x = 1000), past L the true value rounds to 1
# anyway, and for x << 0 the quotient of a tiny e is exact to the last bit (1 / (1 + exp(-x))
# would need the same clamp on the other side). Four ufunc calls and no Python numbers.
_EXP_LIMIT = {np.dtype(np.float16): 11.0, np.dtype(np.float32): 88.0}
_SIGMOID_CONSTANTS: dict = {}  # dtype -> (L, 1) as 0-d arrays of that dtype


def sigmoid_forward(x):
    dt = x.dtype
    if dt.kind != "f":
        x, dt = x.astype(np.float64), np.dtype(np.float64)
    consts = _SIGMOID_CONSTANTS.get(dt)
    if consts is None:
        consts = _SIGMOID_CONSTANTS[dt] = (scalar(_EXP_LIMIT.get(dt, 709.0), dt), scalar(1, dt))
    limit, one = consts
    e = np.exp(np.minimum(x, limit))
    return e / (e + one)


def sigmoid_vjp(xp, g, out, inputs, needs):
    # s (1 - s), not s - s^2: 1 - s is exact for s >= 1/2, so there is no cancellation as
    # s -> 1; and the derivative is formed before g multiplies it (an infinite g stays inf).
    return (g * (out * (one_like(xp, out) - out)),)


SIGMOID = defop("sigmoid", sigmoid_forward, sigmoid_vjp)


def relu_forward(x):
    return np.maximum(x, scalar(0, x.dtype))


def relu_pass_mask(x: np.ndarray, dtype) -> np.ndarray:
    """Where relu passes its gradient, as `dtype` 1s and 0s: PyTorch's threshold rule, blocked
    where x <= 0 (so relu'(0) = 0) and passed everywhere else, NaN included."""
    return (~(x <= scalar(0, x.dtype))).astype(dtype)


def relu_vjp(xp, g, out, inputs, needs):
    return (xp.relu_backward(g, inputs[0]),)


RELU = defop("relu", relu_forward, relu_vjp)


def relu_backward_forward(g, x):
    """g where relu(x) passes it, 0 elsewhere (PyTorch's threshold_backward(g, x, 0))."""
    return g * relu_pass_mask(x, g.dtype)


def relu_backward_vjp(xp, gg, out, inputs, needs):
    # Linear in g, through the same mask. In x it is flat wherever it is differentiable, and
    # that zero is returned (as PyTorch does) rather than None: relu''(x) = 0, not "unused".
    g, x = inputs
    return (
        unbroadcast(xp, xp.relu_backward(gg, x), _shape(g)) if needs[0] else None,
        xp.zeros_like(x) if needs[1] else None,
    )


RELU_BACKWARD = defop("relu_backward", relu_backward_forward, relu_backward_vjp)


def sign_forward(x):
    """-1, 0 or 1; NaN gives 0, as torch.sign (numpy's sign keeps NaN)."""
    s = np.asarray(np.sign(x))
    if s.dtype.kind == "f":
        nan = np.isnan(s)
        if nan.any():
            s = np.where(nan, scalar(0, s.dtype), s)
    return s


# sign is flat wherever it is differentiable: its gradient is 0 (PyTorch's as well).
SIGN = defop("sign", sign_forward, lambda xp, g, out, inputs, needs: (xp.zeros_like(inputs[0]),))
# abs'(0) = 0 and abs'(NaN) = 0, as PyTorch's sign gives there.
ABS = defop("abs", np.abs, lambda xp, g, out, inputs, needs: (g * xp.sign(inputs[0]),))


def clip_forward(x, lo, hi):
    return np.clip(x, lo, hi)


def clip_vjp(xp, g, out, inputs, needs, lo, hi):
    # PyTorch's clamp passes the gradient where lo <= x <= hi, boundaries included.
    x = xp.raw(inputs[0])
    mask = np.ones(x.shape, dtype=bool)
    if lo is not None:
        mask &= x >= lo
    if hi is not None:
        mask &= x <= hi
    return (g * mask,)


CLIP = defop("clip", clip_forward, clip_vjp)


def cast_forward(x, dtype):
    return x.astype(dtype)


def cast_vjp(xp, g, out, inputs, needs, dtype):
    return (xp.astype(g, xp.raw(inputs[0]).dtype),)


CAST = defop("cast", cast_forward, cast_vjp)


# ------------------------------------------------------------------------------------------
# Linear algebra
# ------------------------------------------------------------------------------------------


def matmul_vjp(xp, g, out, inputs, needs):
    a, b = inputs
    a_shape, b_shape = _shape(a), _shape(b)
    if len(a_shape) == 2 and len(b_shape) == 2:  # the common case: nothing to broadcast
        return (g @ b.T if needs[0] else None, a.T @ g if needs[1] else None)
    # 1-D operands are promoted to matrices (as numpy does) and the gradient reshaped back.
    if len(a_shape) == 1:
        a = xp.reshape(a, (1, a_shape[0]))
        g = xp.reshape(g, _shape(g)[:-1] + (1,) + _shape(g)[-1:])
    if len(b_shape) == 1:
        b = xp.reshape(b, (b_shape[0], 1))
        g = xp.reshape(g, _shape(g) + (1,))
    ga = gb = None
    if needs[0]:
        ga = unbroadcast(xp, g @ xp.swap_last(b), _shape(a))
        if len(a_shape) == 1:
            ga = xp.reshape(ga, a_shape)
    if needs[1]:
        gb = unbroadcast(xp, xp.swap_last(a) @ g, _shape(b))
        if len(b_shape) == 1:
            gb = xp.reshape(gb, b_shape)
    return ga, gb


MATMUL = defop("matmul", np.matmul, matmul_vjp)


# ------------------------------------------------------------------------------------------
# Reductions
# ------------------------------------------------------------------------------------------


def _restore_reduced(xp, g, in_shape, axis, keepdims):
    """Reshape a reduced gradient so it broadcasts against the input again."""
    if axis is None:
        axis = tuple(range(len(in_shape)))
    if not keepdims:
        kept = tuple(1 if i in axis else n for i, n in enumerate(in_shape))
        g = xp.reshape(g, kept)
    return g


def sum_forward(x, axis, keepdims):
    return np.sum(x, axis=axis, keepdims=keepdims)


def sum_vjp(xp, g, out, inputs, needs, axis, keepdims):
    shape = _shape(inputs[0])
    return (xp.broadcast_to(_restore_reduced(xp, g, shape, axis, keepdims), shape),)


SUM = defop("sum", sum_forward, sum_vjp)


def max_forward(x, axis, keepdims):
    return np.max(x, axis=axis, keepdims=keepdims)


def max_vjp(xp, g, out, inputs, needs, axis, keepdims):
    # Ties share the gradient evenly (PyTorch's rule for a full max/min reduction).
    x = xp.raw(inputs[0])
    shape = x.shape
    winners = (x == _restore_reduced(np, xp.raw(out), shape, axis, keepdims)).astype(x.dtype)
    winners /= np.sum(winners, axis=axis, keepdims=True)
    return (_restore_reduced(xp, g, shape, axis, keepdims) * winners,)


MAX = defop("max", max_forward, max_vjp)


def min_forward(x, axis, keepdims):
    return np.min(x, axis=axis, keepdims=keepdims)


MIN = defop("min", min_forward, max_vjp)  # the same rule: the winners are where x == out


def _shift(x, axis):
    """The max along `axis` (kept), 0 where it is not finite: subtracting it makes exp never
    overflow, and an all -inf slice then gives log(0) = -inf rather than NaN."""
    # initial=-inf: an empty slice has no max (numpy would raise); its sum of exp is 0.
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    return np.where(np.isfinite(m), m, scalar(0, m.dtype))


def logsumexp_forward(x, axis, keepdims):
    m = _shift(x, axis)
    with np.errstate(divide="ignore"):
        s = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return s if keepdims else np.squeeze(s, axis=axis)


def logsumexp_vjp(xp, g, out, inputs, needs, axis, keepdims):
    # The gradient is softmax(x), formed as exp((x - m) - log(sum(exp(x - m)))), never as
    # exp(x - out): `out` is rounded at the magnitude of the max, so in float32 at x = 1e4
    # x - out is off by 4e-4 and the gradient by as much (PyTorch's has that error). The shift
    # m is a constant here: the expression does not depend on it.
    x = inputs[0]
    shifted = x - _shift(xp.raw(x), axis)
    log_total = xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))
    g_kept = _restore_reduced(xp, g, _shape(x), axis, keepdims)
    return (g_kept * xp.exp(shifted - log_total),)


LOGSUMEXP = defop("logsumexp", logsumexp_forward, logsumexp_vjp)


def softmax_forward(x, axis):
    # initial=-inf only matters for an empty slice (numpy has no max to give): the result
    # is then empty, as in torch.
    e = np.exp(x - np.max(x, axis=axis, keepdims=True, initial=-np.inf))
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_vjp(xp, g, out, inputs, needs, axis):
    return (out * (g - xp.sum(g * out, axis=axis, keepdims=True)),)


SOFTMAX = defop("softmax", softmax_forward, softmax_vjp)


def log_softmax_forward(x, axis):
    # (x - m) - log(sum(exp(x - m))), not x - logsumexp(x): logsumexp's result carries the
    # max's rounding (ulp(1e4) = 1e-3 in float32), which x - it keeps and the O(1) answer
    # shows; two logits of 1e7 gave a cross entropy of 1.0 instead of log 2.
    shifted = x - _shift(x, axis)
    with np.errstate(divide="ignore"):
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def log_softmax_vjp(xp, g, out, inputs, needs, axis):
    return (g - xp.exp(out) * xp.sum(g, axis=axis, keepdims=True),)


LOG_SOFTMAX = defop("log_softmax", log_softmax_forward, log_softmax_vjp)


# ------------------------------------------------------------------------------------------
# Shape ops
# ------------------------------------------------------------------------------------------


def reshape_vjp(xp, g, out, inputs, needs, shape):
    return (xp.reshape(g, _shape(inputs[0])),)


RESHAPE = defop("reshape", np.reshape, reshape_vjp)


def permute_forward(x, axes):
    return np.transpose(x, axes)


def permute_vjp(xp, g, out, inputs, needs, axes):
    return (xp.permute(g, tuple(np.argsort(axes))),)


PERMUTE = defop("permute", permute_forward, permute_vjp)


def expand_forward(x, shape):
    return np.broadcast_to(x, shape)


def expand_vjp(xp, g, out, inputs, needs, shape):
    return (unbroadcast(xp, g, _shape(inputs[0])),)


EXPAND = defop("expand", expand_forward, expand_vjp)


def getitem_forward(x, index):
    return x[index]


def getitem_vjp(xp, g, out, inputs, needs, index):
    # Scatter-add: an integer-array index may pick one element several times, and each pick
    # sends its gradient back. The fast path hands the driver (index, g) to add into place
    # rather than a zero-filled array of the whole input (see indexed_grad.py).
    return (xp.index_grad(g, index, _shape(inputs[0])),)


GETITEM = defop("getitem", getitem_forward, getitem_vjp)


def scatter_add_forward(g, index, shape):
    out = np.zeros(shape, dtype=np.result_type(g))
    if is_basic_index(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def scatter_add_vjp(xp, g, out, inputs, needs, index, shape):
    return (g[index],)


SCATTER_ADD = defop("scatter_add", scatter_add_forward, scatter_add_vjp)


CLONE = defop("clone", np.copy, lambda xp, g, out, inputs, needs: (g,))
# The same values in C order (a copy only when they are not already): a matmul reads its
# right operand at up to twice the speed when that operand is C-ordered (OpenBLAS, float32).
CONTIGUOUS = defop("contiguous", np.ascontiguousarray, lambda xp, g, out, inputs, needs: (g,))


def cat_forward(*xs_and_axis):
    *xs, axis = xs_and_axis
    return np.concatenate(xs, axis=axis)


def cat_vjp(xp, g, out, inputs, needs, axis):
    grads, start = [], 0
    ndim = len(_shape(g))
    for x, need in zip(inputs, needs):
        n = _shape(x)[axis]
        if need:
            index = [slice(None)] * ndim
            index[axis] = slice(start, start + n)
            grads.append(g[tuple(index)])
        else:
            grads.append(None)
        start += n
    return tuple(grads)


CAT = defop("cat", cat_forward, cat_vjp)


def pad_forward(x, pad_width, value):
    return np.pad(x, pad_width, mode="constant", constant_values=value)


def pad_vjp(xp, g, out, inputs, needs, pad_width, value):
    index = tuple(slice(lo, n - hi) for (lo, hi), n in zip(pad_width, _shape(g)))
    return (g[index],)


PAD = defop("pad", pad_forward, pad_vjp)


# ------------------------------------------------------------------------------------------
# Reductions with indices and norms (max/min over a dim, sort, topk, gather, norm)
# ------------------------------------------------------------------------------------------


def along_axis_index(indices: np.ndarray, axis: int) -> tuple:
    """The integer-array index that picks `x[..., indices, ...]` along `axis` (numpy's
    take_along_axis written as a plain index): gathering is then getitem, and its gradient is
    getitem's scatter-add, so the picked element alone gets the gradient (torch's rule for
    max(dim), sort and topk; amax shares it among ties instead)."""
    index = list(np.indices(indices.shape, sparse=True))
    index[axis] = indices
    return tuple(index)


# x[along_axis_index(indices, axis)]: the forward and the VJP are getitem's, under its own name.
GATHER = defop("gather", getitem_forward, getitem_vjp)


def norm_forward(x, p, axis, keepdims):
    with np.errstate(over="ignore"):
        if p == 2:
            return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))
        return np.sum(np.abs(x) ** p, axis=axis, keepdims=keepdims) ** (1 / p)


def norm_vjp(xp, g, out, inputs, needs, p, axis, keepdims):
    # d||x||_p / dx = sign(x) |x|^(p-1) / ||x||^(p-1). Where the norm is 0 PyTorch takes the
    # subgradient 0, not the 0/0 the formula gives (an all-zero row, e.g. a padded step).
    x = inputs[0]
    shape = _shape(x)
    norm = _restore_reduced(xp, out, shape, axis, keepdims)
    zero = xp.raw(norm) == 0
    safe = xp.where(zero, 1, norm)
    if p == 2:
        local = x / safe
    else:
        local = xp.sign(x) * (x * xp.sign(x)) ** (p - 1) / safe ** (p - 1)
    return (xp.where(zero, 0, _restore_reduced(xp, g, shape, axis, keepdims) * local),)


NORM = defop("norm", norm_forward, norm_vjp)
# Activations: torch.nn.functional's elementwise ones (nn/functional.py and nn/activations.py
# call them). Forwards stay exact in the tails (log1p, expm1, erfc), and every rule is
# written with engine ops, so under create_graph each gradient is differentiable again.
# ------------------------------------------------------------------------------------------


def _call(xp, op: Op, inputs: tuple, ctx: tuple = ()):
    """Apply another op of this table inside a VJP: its forward on the fast path's arrays, a
    recorded node on the Tensor backend (create_graph=True), so the rule stays differentiable.
    (The import is deferred: tensor.py imports this module, and only its backend gets here.)"""
    if xp is NumpyBackend:
        return op.forward(*inputs, *ctx)
    from .tensor import _apply, _constant

    return _apply(op, tuple(_constant(x) for x in inputs), ctx)


def _float(x: np.ndarray) -> np.ndarray:
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def leaky_relu_forward(x, negative_slope):
    return np.where(x > 0, x, x * scalar(negative_slope, x.dtype))


def leaky_relu_vjp(xp, g, out, inputs, needs, negative_slope):
    # PyTorch's rule: the slope for x <= 0, so leaky_relu'(0) = negative_slope.
    x = xp.raw(inputs[0])
    local = np.where(x > 0, scalar(1, x.dtype), scalar(negative_slope, x.dtype))
    return (g * local,)


LEAKY_RELU = defop("leaky_relu", leaky_relu_forward, leaky_relu_vjp)


def elu_forward(x, alpha):
    # alpha * expm1(x), not alpha * (exp(x) - 1): exact for small |x|. min(x, 0) keeps exp
    # from overflowing on the positive side, which `where` discards anyway.
    negative = scalar(alpha, x.dtype) * np.expm1(np.minimum(x, scalar(0, x.dtype)))
    return np.where(x > 0, x, negative)


def elu_vjp(xp, g, out, inputs, needs, alpha):
    # alpha * exp(x) for x <= 0 (PyTorch's, so elu'(0) = alpha), from x rather than out + alpha,
    # which loses everything below 1e-16 * alpha in the far tail.
    x = inputs[0]
    raw = xp.raw(x)
    positive = raw > 0
    zero = scalar(0, raw.dtype)
    negative = xp.exp(xp.where(positive, zero, x)) * scalar(alpha, raw.dtype)
    return (g * xp.where(positive, scalar(1, raw.dtype), negative),)


ELU = defop("elu", elu_forward, elu_vjp)


def silu_forward(x):
    return x * sigmoid_forward(x)


def silu_vjp(xp, g, out, inputs, needs):
    # d/dx x s(x) = s (1 + x (1 - s)), with s the overflow-free sigmoid.
    x = inputs[0]
    s = _call(xp, SIGMOID, (x,))
    one = one_like(xp, s)
    return (g * (s * (one + x * (one - s))),)


SILU = defop("silu", silu_forward, silu_vjp)


def softplus_forward(x, beta, threshold):
    # log(1 + exp(beta x)) / beta = (max(z, 0) + log1p(exp(-|z|))) / beta with z = beta x:
    # exp of a non-positive number only, and log1p keeps the tail (log(1 + 1e-20) is 0).
    # Past `threshold` PyTorch returns x itself; threshold=inf never does.
    x = _float(x)
    z = x * scalar(beta, x.dtype)
    smooth = (np.maximum(z, scalar(0, x.dtype)) + np.log1p(np.exp(-np.abs(z)))) / scalar(
        beta, x.dtype
    )
    return np.where(z > threshold, x, smooth)


def softplus_vjp(xp, g, out, inputs, needs, beta, threshold):
    # sigmoid(beta x) below the threshold, 1 above it (PyTorch's softplus_backward).
    x = inputs[0]
    raw = xp.raw(x)
    linear = raw * beta > threshold
    s = _call(xp, SIGMOID, (x * scalar(beta, raw.dtype),))
    return (g * xp.where(linear, scalar(1, raw.dtype), s),)


SOFTPLUS = defop("softplus", softplus_forward, softplus_vjp)


def hardtanh_forward(x, min_val, max_val):
    return np.clip(x, scalar(min_val, x.dtype), scalar(max_val, x.dtype))


def hardtanh_vjp(xp, g, out, inputs, needs, min_val, max_val):
    # PyTorch's hardtanh_backward passes the gradient strictly inside (min_val, max_val): at a
    # boundary it is 0 (clamp, by contrast, passes it there).
    x = xp.raw(inputs[0])
    inside = ((x > min_val) & (x < max_val)).astype(x.dtype)
    return (g * inside,)


HARDTANH = defop("hardtanh", hardtanh_forward, hardtanh_vjp)

# numpy has no erfc; math.erfc is the C library's, accurate to an ulp, applied elementwise
# (about 0.15 us an element, where a ufunc is 0.01 us: GELU's exact form pays that).
_erfc = np.frompyfunc(math.erfc, 1, 1)
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def normal_cdf_forward(x):
    """Phi(x) = erfc(-x / sqrt 2) / 2, the standard normal CDF: erfc, not 1 + erf, so the
    far left tail keeps its digits (1 + erf(-7) is 0 in float64, Phi(-10) is 7.6e-24)."""
    x = _float(x)
    tail = np.asarray(_erfc(x.astype(np.float64) * -_SQRT_HALF), dtype=np.float64)
    return (0.5 * tail).astype(x.dtype)


def normal_pdf(xp, x):
    """phi(x) = exp(-x^2 / 2) / sqrt(2 pi), with engine ops (differentiable on Tensors)."""
    dt = xp.raw(x).dtype
    return xp.exp(x * x * scalar(-0.5, dt)) * scalar(_INV_SQRT_2PI, dt)


def normal_cdf_vjp(xp, g, out, inputs, needs):
    return (g * normal_pdf(xp, inputs[0]),)


NORMAL_CDF = defop("normal_cdf", normal_cdf_forward, normal_cdf_vjp)


def gelu_forward(x, approximate):
    x = _float(x)
    if approximate == "tanh":
        return (
            x
            * (scalar(1, x.dtype) + np.tanh(_gelu_tanh_arg(NumpyBackend, x)))
            * scalar(0.5, x.dtype)
        )
    return x * normal_cdf_forward(x)


_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715


def _gelu_tanh_arg(xp, x):
    dt = xp.raw(x).dtype
    return (x + x * x * x * scalar(_GELU_C, dt)) * scalar(_GELU_K, dt)


def gelu_vjp(xp, g, out, inputs, needs, approximate):
    x = inputs[0]
    dt = xp.raw(x).dtype
    if approximate == "tanh":
        # d/dx x (1 + t) / 2 = (1 + t) / 2 + x (1 - t^2) k (1 + 3 c x^2) / 2, t = tanh(u(x)).
        t = xp.tanh(_gelu_tanh_arg(xp, x))
        one = scalar(1, dt)
        du = (one + x * x * scalar(3 * _GELU_C, dt)) * scalar(_GELU_K, dt)
        local = ((one + t) + x * (one - t * t) * du) * scalar(0.5, dt)
        return (g * local,)
    # d/dx x Phi(x) = Phi(x) + x phi(x)
    return (g * (_call(xp, NORMAL_CDF, (x,)) + x * normal_pdf(xp, x)),)


GELU = defop("gelu", gelu_forward, gelu_vjp)
