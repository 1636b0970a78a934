"""One time step of the recurrent cells: RNNCell, LSTMCell, GRUCell and a Jordan cell.

The step functions (`rnn_step`, `lstm_step`, `gru_step`) are shared with the unrolled layers in
recurrent.py, so a cell and a layer compute exactly the same ops. Parameter names, shapes, gate
orders and the uniform(-1/sqrt(hidden), 1/sqrt(hidden)) initialisation follow PyTorch, so a
torch state dict loads and gives the same numbers. Each step keeps its op count low, because an
unrolled layer records these ops once per time step: the Elman step is one fused node
(`rnn_tanh` / `rnn_relu`: the matmul over [input, hidden], bias and activation together, keeping
only h_t), and the LSTM step three: `lstm_gates` (the same join, matmul and bias for all four
gates, then their activations), `lstm_cell_state` and `lstm_hidden`. The fused nodes' VJPs are
written against `xp` like the engine's own ops, so create_graph=True differentiates through
them again.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..autograd import scope
from ..errors import DTypeError, ShapeError
from ..ops import Op, one_like, scalar, unbroadcast
from ..tensor import Tensor, _apply, cat, generator, get_default_dtype, zeros
from .module import Module, Parameter

__all__ = [
    "GRUCell",
    "JordanRNNCell",
    "LSTMCell",
    "RNNCell",
    "gru_step",
    "lstm_cell_state",
    "lstm_gates",
    "lstm_hidden",
    "lstm_step",
    "rnn_step",
]

_NONLINEARITIES = ("tanh", "relu")


def uniform_parameter(shape: tuple, hidden_size: int) -> Parameter:
    """A Parameter of the default dtype drawn from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))
    with the package RNG, PyTorch's initialisation of every recurrent weight and bias."""
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    data = generator().uniform(-bound, bound, size=shape).astype(get_default_dtype())
    return Parameter(data)


def check_float_input(layer: str, x: Tensor, like: Tensor, what: str = "input") -> None:
    """Raise a DTypeError naming `layer` when `x` is not the parameters' floating dtype."""
    if x.dtype != like.dtype:
        raise DTypeError(
            f"{layer}: {what} has dtype {x.dtype} but the parameters are {like.dtype}; cast "
            f"the {what} (e.g. .double() / .float()) or the layer (layer.double() / .float())"
        )


# -- the fused step nodes: [x_1, ..., x_k, h] @ w_t + b and an activation, in one node -------
#
# A fused node's parents are (x_1, ..., x_k, h, w_t[, b]) and its context (k, w): the number k
# of input parts, and w, either None or w_t.T as a C-ordered array. The join and the
# pre-activation live only inside the forward call; the VJP rebuilds the join and reads the
# activation's derivative from the output, so a step keeps its output only.
#
# Why w: numpy's matmul runs up to twice as fast when its right operand is C-ordered (OpenBLAS,
# float32, these shapes), and a step multiplies by the weights both ways, [x, h] @ w_t forward
# and d_pre @ w_t.T backward. No one layout serves both, so an unrolled layer makes w_t C-ordered
# and hands the VJP the other layout too, made once per call (`rnn_step`, `_RNNBase`).


def _step_operands(arrays, parts: int) -> tuple:
    """(the blocks [x_1, ..., x_k, h], w_t, b or None) of a fused step's parents, whose first
    `parts` entries are the pieces of the input."""
    b = arrays[parts + 2] if len(arrays) > parts + 2 else None
    return arrays[: parts + 1], arrays[parts + 1], b


def _affine_forward(args: tuple) -> np.ndarray:
    """[x_1, ..., x_k, h] @ w_t + b as a fresh array the caller may overwrite; `args` are a
    fused op's forward arguments, the operands followed by its context (k, w)."""
    blocks, w_t, b = _step_operands(args[:-2], args[-2])
    # One matmul over the joined blocks; neither the join nor the sum outlives the call.
    pre = np.concatenate(blocks, axis=1) @ w_t
    if b is not None:
        if b.dtype == pre.dtype:
            pre += b  # in place: `pre` is a fresh array only this call holds
        else:
            pre = pre + b
    return pre


def _affine_vjp(xp, d_pre, inputs, needs, parts, w):
    """The gradients of [x_1, ..., x_k, h] @ w_t + b given d_pre, the gradient of the sum.

    Each input block gets d_pre @ (its rows of w_t).T, computed only where asked for (the
    first layer's input rarely requires grad, so one matmul of hidden width is the usual cost);
    w_t gets [x, h].T @ d_pre, the join rebuilt here instead of kept per step. On the fast path
    the blocks' products read the C-ordered `w` (w_t.T) when the layer made one; a recorded
    gradient (create_graph) must go through w_t itself.
    """
    blocks, w_t, b = _step_operands(inputs, parts)
    if w is None or d_pre.__class__ is not np.ndarray:
        w = xp.swap_last(w_t)
    grads = []
    start = 0
    for block, need in zip(blocks, needs):
        stop = start + block.shape[1]
        grads.append(d_pre @ w[:, start:stop] if need else None)
        start = stop
    grads.append(xp.swap_last(xp.cat(blocks, 1)) @ d_pre if needs[parts + 1] else None)
    if b is not None:
        grads.append(unbroadcast(xp, d_pre, b.shape) if needs[parts + 2] else None)
    return tuple(grads)


# -- the Elman step: act([x, h] @ w_t + b) in one node ---------------------------------------


def _rnn_tanh_forward(*args) -> np.ndarray:
    pre = _affine_forward(args)
    return np.tanh(pre, out=pre)


def _rnn_relu_forward(*args) -> np.ndarray:
    pre = _affine_forward(args)
    return np.maximum(pre, scalar(0, pre.dtype), out=pre)


def _rnn_tanh_vjp(xp, g, out, inputs, needs, parts, w):
    # tanh' = 1 - tanh^2, read from the output: the pre-activation is never kept. Formed
    # before g multiplies it, so an infinite upstream gradient stays infinite.
    return _affine_vjp(xp, g * (one_like(xp, out) - out * out), inputs, needs, parts, w)


def _rnn_relu_vjp(xp, g, out, inputs, needs, parts, w):
    # Read from the output: relu(pre) <= 0 exactly where pre <= 0, and NaN stays NaN. Under
    # create_graph the mask stays connected to the output (zero derivative), as in PyTorch.
    return _affine_vjp(xp, xp.relu_backward(g, out), inputs, needs, parts, w)


RNN_TANH = Op("rnn_tanh", _rnn_tanh_forward, _rnn_tanh_vjp)
RNN_RELU = Op("rnn_relu", _rnn_relu_forward, _rnn_relu_vjp)


# -- the LSTM gates: sigmoid on i, f, o and tanh on g of [x, h] @ w_t + b, in one node --------


@functools.lru_cache(maxsize=64)
def _gate_rows(width: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """(scale, shift) over the four gate blocks i, f, g, o of a row of `width`: 1/2 and 1/2 on
    the sigmoid blocks, 1 and 0 on the tanh block. Made once per width and dtype, read-only."""
    n = width // 4
    scale = np.full(width, 0.5, dtype=dtype)
    shift = np.full(width, 0.5, dtype=dtype)
    scale[2 * n : 3 * n] = 1
    shift[2 * n : 3 * n] = 0
    scale.flags.writeable = shift.flags.writeable = False
    return scale, shift


def _activate_gates(pre: np.ndarray) -> np.ndarray:
    """Overwrite gate pre-activations (blocks i, f, g, o on the last axis, a quarter each)
    with their activations and return them."""
    scale, shift = _gate_rows(pre.shape[-1], pre.dtype)
    # sigmoid(x) = 1/2 + tanh(x / 2) / 2: one tanh pass for all four blocks, and tanh never
    # overflows (the exp-based form needs a branch on the sign of x to stay finite). Whole
    # rows times a (scale, shift) row beat four strided block updates.
    np.multiply(pre, scale, out=pre)
    np.tanh(pre, out=pre)
    np.multiply(pre, scale, out=pre)
    return np.add(pre, shift, out=pre)


def _gates_d_pre(xp, g, out):
    """The gradient of the gate pre-activations from g, the gradient of the activations `out`:
    sigmoid' = s (1 - s) on the i, f, o blocks and tanh' = 1 - t^2 on the g block, both read
    from the output, so the pre-activations are never kept. s (1 - s) rather than s - s^2:
    no cancellation as s -> 1."""
    width = xp.raw(out).shape[-1]
    n = width // 4
    one = one_like(xp, out)
    if g.__class__ is np.ndarray:  # fast path: s (1 - s) everywhere, then the g block replaced
        d_pre = np.subtract(one, out)
        d_pre *= out
        cand = out[..., 2 * n : 3 * n]
        np.subtract(one, cand * cand, out=d_pre[..., 2 * n : 3 * n])
        if g.dtype == d_pre.dtype:
            return np.multiply(d_pre, g, out=d_pre)
        return d_pre * g
    # create_graph: the same gradient from recorded ops (the block mask is a constant)
    is_g = np.zeros(width, dtype=bool)
    is_g[2 * n : 3 * n] = True
    return g * xp.where(is_g, one - out * out, out * (one - out))


def _lstm_gates_forward(*args) -> np.ndarray:
    return _activate_gates(_affine_forward(args))


def _lstm_gates_vjp(xp, g, out, inputs, needs, parts, w):
    return _affine_vjp(xp, _gates_d_pre(xp, g, out), inputs, needs, parts, w)


LSTM_GATES = Op("lstm_gates", _lstm_gates_forward, _lstm_gates_vjp)


def _gate_activations_forward(pre: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    # a fresh (floating) array to activate in place: `pre` is the parent's data
    return _activate_gates(np.add(pre, 0.0 if bias is None else bias))


def _gate_activations_vjp(xp, g, out, inputs, needs):
    d_pre = _gates_d_pre(xp, g, out)
    if len(inputs) == 1:
        return (d_pre,)
    d_bias = unbroadcast(xp, d_pre, inputs[1].shape) if needs[1] else None
    return (d_pre if needs[0] else None), d_bias


# The same activations on given pre-activations (the public `lstm_gates`); the same op name,
# since a drawing shows what the node outputs, as for the fused node of `lstm_step`.
LSTM_GATE_ACTIVATIONS = Op("lstm_gates", _gate_activations_forward, _gate_activations_vjp)


def lstm_gates(pre: Tensor, bias: Tensor | None = None) -> Tensor:
    """The four LSTM gate activations in one node: sigmoid on the i, f and o blocks of the last
    axis and tanh on the g block (PyTorch's order i, f, g, o; each block a quarter), applied to
    `pre + bias` (the bias add is folded in). `lstm_step` records the same activations with the
    matmul folded in as well; this is the op for pre-activations computed some other way.

    >>> import numpy as np
    >>> from tinygrad_lite import Tensor
    >>> lstm_gates(Tensor(np.zeros((1, 4)))).tolist()
    [[0.5, 0.5, 0.0, 0.5]]
    """
    if pre.ndim == 0 or pre.shape[-1] % 4:
        raise ShapeError(
            f"lstm_gates: the last axis must hold four equal gate blocks (i, f, g, o), got "
            f"shape {pre.shape}"
        )
    if bias is None:
        return _apply(LSTM_GATE_ACTIVATIONS, (pre,))
    if bias.shape != pre.shape[-1:]:
        raise ShapeError(
            f"lstm_gates: bias of shape {bias.shape} does not match pre-activations of shape "
            f"{pre.shape}; it needs shape ({pre.shape[-1]},)"
        )
    return _apply(LSTM_GATE_ACTIVATIONS, (pre, bias))


def _cell_state_forward(act: np.ndarray, c: np.ndarray) -> np.ndarray:
    n = c.shape[-1]
    return act[..., n : 2 * n] * c + act[..., :n] * act[..., 2 * n : 3 * n]


def _cell_state_vjp(xp, g, out, inputs, needs):
    act, c = inputs
    n = c.shape[-1]
    i, f, cand = act[..., :n], act[..., n : 2 * n], act[..., 2 * n : 3 * n]
    d_act = d_c = None
    if needs[0]:
        if isinstance(g, np.ndarray):  # fast path: fill the four blocks of one array
            d_act = np.empty(act.shape, dtype=np.result_type(g, act))
            np.multiply(g, cand, out=d_act[..., :n])
            np.multiply(g, c, out=d_act[..., n : 2 * n])
            np.multiply(g, i, out=d_act[..., 2 * n : 3 * n])
            d_act[..., 3 * n :] = 0  # the output gate does not touch the cell state
        else:  # create_graph: the same gradient built from recorded ops
            d_act = xp.cat([g * cand, g * c, g * i, g * 0], act.ndim - 1)
    if needs[1]:
        d_c = g * f
    return d_act, d_c


LSTM_CELL_STATE = Op("lstm_cell_state", _cell_state_forward, _cell_state_vjp)


def lstm_cell_state(act: Tensor, c: Tensor) -> Tensor:
    """The LSTM cell-state update c' = f * c + i * g in one node, from the gate activations
    `act` (blocks i, f, g, o on the last axis, as `lstm_gates` returns them) and the previous
    cell state `c`. One node per step keeps the c_{t-1} -> c_t chain easy to follow in a drawing
    and the op count of an unrolled layer low.

    >>> import numpy as np
    >>> from tinygrad_lite import Tensor
    >>> act = Tensor(np.array([[0.5, 1.0, 4.0, 0.0]]))  # i, f, g, o for hidden size 1
    >>> lstm_cell_state(act, Tensor(np.array([[3.0]]))).tolist()  # 1 * 3 + 0.5 * 4
    [[5.0]]
    """
    if act.shape[:-1] != c.shape[:-1] or act.shape[-1] != 4 * c.shape[-1]:
        raise ShapeError(
            f"lstm_cell_state: gate activations of shape {act.shape} do not match a cell state "
            f"of shape {c.shape}; the activations need shape (..., 4 * hidden)"
        )
    return _apply(LSTM_CELL_STATE, (act, c))


def _hidden_forward(act: np.ndarray, c: np.ndarray) -> np.ndarray:
    return act[..., 3 * c.shape[-1] :] * np.tanh(c)


def _hidden_vjp(xp, g, out, inputs, needs):
    act, c = inputs
    n = c.shape[-1]
    tanh_c = xp.tanh(c)  # recomputed: cheaper to keep one array fewer per step
    d_act = d_c = None
    if needs[0]:
        if isinstance(g, np.ndarray):  # fast path: only the o block is non-zero
            d_act = np.zeros(act.shape, dtype=np.result_type(g, act))
            np.multiply(g, tanh_c, out=d_act[..., 3 * n :])
        else:  # create_graph: the same gradient built from recorded ops
            zero = g * 0
            d_act = xp.cat([zero, zero, zero, g * tanh_c], act.ndim - 1)
    if needs[1]:
        d_c = g * act[..., 3 * n :] * (1 - tanh_c * tanh_c)
    return d_act, d_c


LSTM_HIDDEN = Op("lstm_hidden", _hidden_forward, _hidden_vjp)


def lstm_hidden(act: Tensor, c: Tensor) -> Tensor:
    """The LSTM output h' = o * tanh(c') in one node, from the gate activations `act` (blocks
    i, f, g, o on the last axis) and the new cell state `c`.

    >>> import numpy as np
    >>> from tinygrad_lite import Tensor
    >>> act = Tensor(np.array([[0.0, 0.0, 0.0, 0.5]]))  # i, f, g, o for hidden size 1
    >>> round(lstm_hidden(act, Tensor(np.array([[100.0]]))).item(), 6)  # 0.5 * tanh(100)
    0.5
    """
    if act.shape[:-1] != c.shape[:-1] or act.shape[-1] != 4 * c.shape[-1]:
        raise ShapeError(
            f"lstm_hidden: gate activations of shape {act.shape} do not match a cell state "
            f"of shape {c.shape}; the activations need shape (..., 4 * hidden)"
        )
    return _apply(LSTM_HIDDEN, (act, c))


# -- the step functions shared by cells and unrolled layers -----------------------------------


def _check_step_operands(
    step: str,
    gates: int,
    x_parts: tuple,
    h: Tensor,
    w_t: Tensor,
    b: Tensor | None,
    w: np.ndarray | None = None,
) -> None:
    """Raise a ShapeError listing every operand's shape unless they fit one fused step of
    `gates` gate blocks (1 for the Elman step, 4 for the LSTM), and `w` (if given) is w_t's
    shape transposed."""
    # A plain loop: this runs once per time step, and generators would double its cost.
    if h.ndim == 2 and x_parts:
        batch, hidden = h.shape
        width = hidden
        for x in x_parts:
            if x.ndim != 2 or x.shape[0] != batch:
                break
            width += x.shape[1]
        else:
            out = gates * hidden
            if (
                w_t.shape == (width, out)
                and (b is None or b.shape == (out,))
                and (w is None or w.shape == (out, width))
            ):
                return
    parts = ", ".join(str(x.shape) for x in x_parts) or "none"
    bias = "" if b is None else f", b {b.shape}"
    w_shape = "" if w is None else f", w {w.shape}"
    out = "hidden" if gates == 1 else f"{gates} * hidden"
    raise ShapeError(
        f"{step}: expected input parts (batch, n_i), h (batch, hidden), w_t "
        f"(sum of n_i + hidden, {out}), b ({out},) and w (w_t's shape transposed, or None); "
        f"got input parts {parts}, h {h.shape}, w_t {w_t.shape}{bias}{w_shape}"
    )


def rnn_step(
    x_parts: tuple,
    h: Tensor,
    w_t: Tensor,
    b: Tensor | None,
    relu: bool,
    w: np.ndarray | None = None,
) -> Tensor:
    """h' = act([x, h] @ w_t + b) for a batch, recorded as one node, `rnn_tanh` or `rnn_relu`
    (relu'(0) = 0, as PyTorch), whose parents are (*x_parts, h, w_t[, b]). `w_t` is
    cat([W_ih, W_hh], 1).T, `b` the summed biases (b_ih + b_hh) and `x_parts` the pieces of the
    input (a bidirectional layer below hands over its two directions unjoined). Neither the
    join [x, h] nor the pre-activation is kept: an unrolled layer holds only h' per step, and
    the VJP reads the activation's derivative from h' (all of it written against `xp`, so
    create_graph=True differentiates it again). `w`, when given, is w_t.T as a C-ordered numpy
    array that the fast-path VJP reads instead of w_t (a layer that reuses w_t at every step
    makes it once: see the comment above `_step_operands`).

    >>> import numpy as np
    >>> from tinygrad_lite import Tensor
    >>> x, h = Tensor(np.ones((1, 2))), Tensor(np.zeros((1, 1)))
    >>> w_t = Tensor(np.full((3, 1), 0.5), requires_grad=True)
    >>> out = rnn_step((x,), h, w_t, None, relu=True)
    >>> out.tolist(), out.op
    ([[1.0]], 'rnn_relu')
    """
    _check_step_operands("rnn_step", 1, x_parts, h, w_t, b, w)
    parents = (*x_parts, h, w_t) if b is None else (*x_parts, h, w_t, b)
    return _apply(RNN_RELU if relu else RNN_TANH, parents, (len(x_parts), w))


def lstm_step(
    x_parts: tuple,
    h: Tensor,
    c: Tensor,
    w_t: Tensor,
    b: Tensor | None,
    w: np.ndarray | None = None,
) -> tuple[Tensor, Tensor]:
    """One LSTM step with PyTorch's gate order (i, f, g, o):

        [i f g o] = [x, h] @ w_t + b,  i, f, o = sigmoid(.), g = tanh(.)
        c' = f * c + i * g,  h' = o * tanh(c')

    `w_t` is cat([W_ih, W_hh], 1).T of shape (input + hidden, 4 * hidden), `b` is b_ih + b_hh
    (or None) and `x_parts` the pieces of the input (a bidirectional layer below hands over its
    two directions unjoined). A step records three nodes: `lstm_gates` (the join [x, h], one
    matmul for all four gates, the bias and the activations; parents (*x_parts, h, w_t[, b]),
    in the sub-scope "gates"), `lstm_cell_state` (c') and `lstm_hidden` (h'). Neither the join
    nor the pre-activations are kept: an unrolled layer holds the gate activations, c' and h'
    per step, and the two later nodes read their gates from blocks of the one activation array
    instead of slicing them out. All VJPs are written against `xp`, so create_graph=True
    differentiates them again. `w` is optional, as in `rnn_step`.

    >>> import numpy as np
    >>> from tinygrad_lite import Tensor
    >>> x, h, c = Tensor(np.ones((1, 1))), Tensor(np.zeros((1, 1))), Tensor(np.ones((1, 1)))
    >>> w_t = Tensor(np.zeros((2, 4)), requires_grad=True)
    >>> h2, c2 = lstm_step((x,), h, c, w_t, None)
    >>> c2.tolist()  # f = 0.5 keeps half the cell, i * g = 0.5 * tanh(0) adds nothing
    [[0.5]]
    >>> h2.op, c2.op
    ('lstm_hidden', 'lstm_cell_state')
    """
    _check_step_operands("lstm_step", 4, x_parts, h, w_t, b, w)
    parents = (*x_parts, h, w_t) if b is None else (*x_parts, h, w_t, b)
    with scope("gates"):
        # sigmoid on i, f, o and tanh on g of [x, h] @ w_t + b, in one node
        act = _apply(LSTM_GATES, parents, (len(x_parts), w))
    c = lstm_cell_state(act, c)  # f * c + i * g, one node
    return lstm_hidden(act, c), c  # o * tanh(c), one node


def gru_step(
    x_parts: tuple,
    h: Tensor,
    w_ih_t: Tensor,
    w_hh_t: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
) -> Tensor:
    """One GRU step with PyTorch's gate order (r, z, n) and its candidate:

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h

    The reset gate multiplies the hidden projection *after* its bias, so the input and hidden
    projections stay two matmuls (they cannot share one as in the LSTM).

    >>> import numpy as np
    >>> from tinygrad_lite import Tensor
    >>> x, h = Tensor(np.ones((1, 1))), Tensor(np.full((1, 1), 0.5))
    >>> gru_step((x,), h, Tensor(np.zeros((1, 3))), Tensor(np.zeros((1, 3))), None, None).tolist()
    [[0.25]]
    """
    n = h.shape[-1]
    x = x_parts[0] if len(x_parts) == 1 else cat(x_parts, 1)
    with scope("gates"):
        gx = x @ w_ih_t
        if b_ih is not None:
            gx = gx + b_ih
        gh = h @ w_hh_t
        if b_hh is not None:
            gh = gh + b_hh
        rz = (gx[:, : 2 * n] + gh[:, : 2 * n]).sigmoid()
        r = rz[:, :n]
        z = rz[:, n:]
        cand = (gx[:, 2 * n :] + r * gh[:, 2 * n :]).tanh()
    # (1 - z) * n + z * h written with one multiplication fewer.
    return cand + z * (h - cand)


# -- the cell modules -------------------------------------------------------------------------


class _CellBase(Module):
    """Shared parameters and input checks of RNNCell, LSTMCell and GRUCell."""

    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        name = type(self).__name__
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(
                f"{name}: input_size and hidden_size must be positive, got {input_size} and "
                f"{hidden_size}"
            )
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.bias = bool(bias)
        rows = self._gates * self.hidden_size
        self.weight_ih = uniform_parameter((rows, self.input_size), self.hidden_size)
        self.weight_hh = uniform_parameter((rows, self.hidden_size), self.hidden_size)
        if bias:
            self.bias_ih = uniform_parameter((rows,), self.hidden_size)
            self.bias_hh = uniform_parameter((rows,), self.hidden_size)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def extra_repr(self) -> str:
        extra = "" if self.bias else ", bias=False"
        return f"{self.input_size}, {self.hidden_size}{extra}"

    def _batched_input(self, x: Tensor) -> tuple[Tensor, bool]:
        """(x as (batch, input_size), whether it was unbatched) or a clear error."""
        name = type(self).__name__
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ShapeError(
                f"{name}: expected input of shape (batch, {self.input_size}) or "
                f"({self.input_size},) unbatched, got {x.shape}"
            )
        check_float_input(name, x, self.weight_ih)
        return (x.unsqueeze(0), True) if x.ndim == 1 else (x, False)

    def _state(self, state, batch: int, unbatched: bool, what: str, like: Tensor) -> Tensor:
        """A hidden/cell state as (batch, hidden), zeros when None, or a clear error."""
        name = type(self).__name__
        if state is None:
            return zeros(batch, self.hidden_size, dtype=like.dtype)
        if not isinstance(state, Tensor):
            state = Tensor(state)
        want = (self.hidden_size,) if unbatched else (batch, self.hidden_size)
        if state.shape != want:
            raise ShapeError(f"{name}: expected {what} of shape {want}, got {state.shape}")
        check_float_input(name, state, like, what)
        return state.unsqueeze(0) if unbatched else state

    def _weights(self) -> tuple[Tensor, Tensor | None]:
        """cat([W_ih, W_hh], 1).T and b_ih + b_hh: the operands of the one-matmul step."""
        w_t = cat((self.weight_ih, self.weight_hh), 1).T
        b = self.bias_ih + self.bias_hh if self.bias else None
        return w_t, b

    def _keras_extra_parameters(self) -> set[str]:
        # Keras keeps one bias per gate; PyTorch's second bias (bias_hh) has no Keras twin.
        return {"bias_hh"} if self.bias else set()


class RNNCell(_CellBase):
    """Elman cell: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu), as torch.nn.RNNCell;
    a call records one `rnn_tanh` (or `rnn_relu`) node, see `rnn_step`.

    >>> from tinygrad_lite import nn, randn, manual_seed
    >>> manual_seed(0)
    >>> cell = nn.RNNCell(3, 4)
    >>> cell(randn(2, 3)).shape, cell(randn(3)).shape
    ((2, 4), (4,))
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"
    ) -> None:
        if nonlinearity not in _NONLINEARITIES:
            raise ValueError(
                f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        extra = "" if self.nonlinearity == "tanh" else ", nonlinearity='relu'"
        return super().extra_repr() + extra

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        x, unbatched = self._batched_input(input)
        h = self._state(hx, x.shape[0], unbatched, "hx", self.weight_ih)
        w_t, b = self._weights()
        out = rnn_step((x,), h, w_t, b, self.nonlinearity == "relu")
        return out.squeeze(0) if unbatched else out


class LSTMCell(_CellBase):
    """LSTM cell with PyTorch's gate order (i, f, g, o) and layout (weight_ih is (4*hidden,
    input)); `forward(input, (h, c))` returns (h', c'), zeros when no state is given. A call
    records three nodes, `lstm_gates`, `lstm_cell_state` and `lstm_hidden`, see `lstm_step`.

    >>> from tinygrad_lite import nn, randn, manual_seed
    >>> manual_seed(0)
    >>> cell = nn.LSTMCell(3, 4)
    >>> h, c = cell(randn(2, 3))
    >>> h.shape, c.shape, cell.weight_ih.shape
    ((2, 4), (2, 4), (16, 3))
    """

    _gates = 4

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        x, unbatched = self._batched_input(input)
        h0, c0 = (None, None) if hx is None else hx
        h = self._state(h0, x.shape[0], unbatched, "h", self.weight_ih)
        c = self._state(c0, x.shape[0], unbatched, "c", self.weight_ih)
        w_t, b = self._weights()
        h, c = lstm_step((x,), h, c, w_t, b)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(_CellBase):
    """GRU cell with PyTorch's gate order (r, z, n) and candidate
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).

    Keras' GRU defaults to reset_after=True, which is this same form with two biases per gate,
    so `num_parameters("keras")` equals the PyTorch count for the GRU layers.

    >>> from tinygrad_lite import nn, randn, manual_seed
    >>> manual_seed(0)
    >>> cell = nn.GRUCell(3, 4)
    >>> cell(randn(2, 3)).shape, cell.num_parameters("keras") == cell.num_parameters()
    ((2, 4), True)
    """

    _gates = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        x, unbatched = self._batched_input(input)
        h = self._state(hx, x.shape[0], unbatched, "hx", self.weight_ih)
        out = gru_step((x,), h, self.weight_ih.T, self.weight_hh.T, self.bias_ih, self.bias_hh)
        return out.squeeze(0) if unbatched else out

    def _keras_extra_parameters(self) -> set[str]:
        return set()  # reset_after=True: Keras keeps both biases, as PyTorch


_OUTPUT_ACTIVATIONS = ("identity", "tanh", "sigmoid")


class JordanRNNCell(Module):
    """Jordan network cell: the previous *output* (not the hidden state) feeds the recurrence.

        h_t = tanh(x_t W_ih^T + b_ih + y_{t-1} W_oh^T)        (or relu)
        y_t = act(h_t W_ho^T + b_ho)                           (act: identity, tanh or sigmoid)

    Under teacher forcing the caller passes the previous *target* as `y_prev` instead of the
    previous output (see `recurrent.JordanRNN`). Weights are drawn like PyTorch's recurrent
    weights: U(-1/sqrt(hidden), 1/sqrt(hidden)).

    >>> from tinygrad_lite import nn, randn, manual_seed
    >>> manual_seed(0)
    >>> cell = nn.JordanRNNCell(3, 5, 2)
    >>> h, y = cell(randn(4, 3))
    >>> h.shape, y.shape
    ((4, 5), (4, 2))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        output_activation: str = "identity",
    ) -> None:
        super().__init__()
        if nonlinearity not in _NONLINEARITIES:
            raise ValueError(
                f"JordanRNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        if output_activation not in _OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"JordanRNNCell: output_activation must be one of {_OUTPUT_ACTIVATIONS}, got "
                f"{output_activation!r}"
            )
        if min(input_size, hidden_size, output_size) <= 0:
            raise ValueError(
                f"JordanRNNCell: sizes must be positive, got input {input_size}, hidden "
                f"{hidden_size}, output {output_size}"
            )
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.output_size, self.bias = int(output_size), bool(bias)
        self.nonlinearity, self.output_activation = nonlinearity, output_activation
        self.weight_ih = uniform_parameter((hidden_size, input_size), hidden_size)
        self.weight_oh = uniform_parameter((hidden_size, output_size), hidden_size)
        self.weight_ho = uniform_parameter((output_size, hidden_size), hidden_size)
        if bias:
            self.bias_ih = uniform_parameter((hidden_size,), hidden_size)
            self.bias_ho = uniform_parameter((output_size,), hidden_size)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_ho", None)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, {self.output_size}"

    def step(self, x: Tensor, y_prev: Tensor) -> tuple[Tensor, Tensor]:
        """(h_t, y_t) for a batch x (batch, input) and y_prev (batch, output), no checks."""
        with scope("gates"):
            pre = cat((x, y_prev), 1) @ cat((self.weight_ih, self.weight_oh), 1).T
            if self.bias:
                pre = pre + self.bias_ih
        h = pre.relu() if self.nonlinearity == "relu" else pre.tanh()
        with scope("output"):
            y = h @ self.weight_ho.T
            if self.bias:
                y = y + self.bias_ho
            if self.output_activation == "tanh":
                y = y.tanh()
            elif self.output_activation == "sigmoid":
                y = y.sigmoid()
        return h, y

    def forward(self, input: Tensor, y_prev: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        if not isinstance(input, Tensor):
            input = Tensor(input)  # noqa: A001
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ShapeError(
                f"JordanRNNCell: expected input of shape (batch, {self.input_size}) or "
                f"({self.input_size},) unbatched, got {input.shape}"
            )
        check_float_input("JordanRNNCell", input, self.weight_ih)
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        if y_prev is None:
            y = zeros(x.shape[0], self.output_size, dtype=self.weight_ih.dtype)
        else:
            want = (self.output_size,) if unbatched else (x.shape[0], self.output_size)
            if y_prev.shape != want:
                raise ShapeError(
                    f"JordanRNNCell: expected y_prev of shape {want}, got {y_prev.shape}"
                )
            check_float_input("JordanRNNCell", y_prev, self.weight_ih, "y_prev")
            y = y_prev.unsqueeze(0) if unbatched else y_prev
        h, y = self.step(x, y)
        return (h.squeeze(0), y.squeeze(0)) if unbatched else (h, y)
