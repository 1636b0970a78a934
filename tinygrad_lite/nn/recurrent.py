"""Recurrent layers unrolled through time: RNN, LSTM, GRU (PyTorch's torch.nn names, shapes,
parameter layouts and defaults) and a Jordan network.

Each layer runs its cell (rnn_cells.py) once per time step inside a named scope, so every node
of the graph knows its layer, direction and time step and the visualiser can lay time out left
to right. The scope scheme is

    "{name}/l{k}/t={t}"            layer k, forward direction, time step t
    "{name}/l{k}_reverse/t={t}"    layer k, backward direction (t is the input's time index,
                                   so t counts down as the reverse direction runs)
    "{name}/l{k}[_reverse]/weights"  the once-per-call weight concatenation
    "{name}/input/t={t}"           the slice of the input sequence read at step t
    "{name}/l{k}/t={t}/dropout"    dropout on layer k's output at step t (training only)
    "{name}/output"                the final join of the steps into one output tensor

with a sub-scope "gates" (and "output" in the Jordan cell) inside an LSTM, GRU or Jordan step;
an RNN step is a single node (`rnn_tanh` / `rnn_relu`) with no sub-scope. `name` defaults to
the lower-cased class name ("lstm") and can be set per layer. The Jordan network uses
"{name}/t={t}".
Steps hand their outputs to the next layer as a list, and only the user's input sequence is
sliced, once per step. When that input requires grad (the output of an Embedding, say), each
slice's gradient reaches it as an IndexedGrad that the backward driver adds into one
accumulator (indexed_grad.py), so its gradient costs O(T * batch * input_size), not the
O(T^2 * batch * input_size) of T zero-filled arrays of the whole sequence.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..autograd import scope
from ..errors import ShapeError
from ..tensor import Tensor, cat, generator, stack, zeros
from .module import Module
from .rnn_cells import (
    JordanRNNCell,
    check_float_input,
    gru_step,
    lstm_step,
    rnn_step,
    uniform_parameter,
)

__all__ = ["GRU", "LSTM", "RNN", "JordanRNN"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class _RNNBase(Module):
    """Shared construction, checks and unrolling of RNN, LSTM and GRU."""

    mode = "RNN_TANH"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        name: str | None = None,
    ) -> None:
        super().__init__()
        cls = type(self).__name__
        if input_size <= 0 or hidden_size <= 0 or num_layers <= 0:
            raise ValueError(
                f"{cls}: input_size, hidden_size and num_layers must be positive, got "
                f"{input_size}, {hidden_size} and {num_layers}"
            )
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{cls}: dropout must be a probability in [0, 1], got {dropout}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{cls}: dropout={dropout} acts between layers only, so it does nothing with "
                "num_layers=1",
                stacklevel=2,
            )
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.bias = int(num_layers), bool(bias)
        self.batch_first, self.dropout = bool(batch_first), float(dropout)
        self.bidirectional = bool(bidirectional)
        self.name = name if name is not None else cls.lower()
        directions = 2 if bidirectional else 1
        rows = _GATES[self.mode] * self.hidden_size
        # Registration order = PyTorch's state-dict order: per layer, per direction,
        # weight_ih, weight_hh, bias_ih, bias_hh.
        for k in range(self.num_layers):
            layer_in = self.input_size if k == 0 else self.hidden_size * directions
            for suffix in self._suffixes()[:directions]:
                h = self.hidden_size
                setattr(self, f"weight_ih_l{k}{suffix}", uniform_parameter((rows, layer_in), h))
                setattr(self, f"weight_hh_l{k}{suffix}", uniform_parameter((rows, h), h))
                if bias:
                    setattr(self, f"bias_ih_l{k}{suffix}", uniform_parameter((rows,), h))
                    setattr(self, f"bias_hh_l{k}{suffix}", uniform_parameter((rows,), h))

    @staticmethod
    def _suffixes() -> tuple[str, str]:
        return ("", "_reverse")

    @property
    def _directions(self) -> int:
        return 2 if self.bidirectional else 1

    def extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.hidden_size}"]
        if self.num_layers != 1:
            parts.append(f"num_layers={self.num_layers}")
        if self.mode == "RNN_RELU":
            parts.append("nonlinearity='relu'")
        for flag, default in (("bias", True), ("batch_first", False), ("bidirectional", False)):
            if getattr(self, flag) != default:
                parts.append(f"{flag}={getattr(self, flag)}")
        if self.dropout:
            parts.append(f"dropout={self.dropout}")
        return ", ".join(parts)

    def _keras_extra_parameters(self) -> set[str]:
        # Keras' SimpleRNN and LSTM keep one bias per gate: PyTorch's bias_hh has no twin.
        if not self.bias or self.mode == "GRU":
            return set()
        return {
            f"bias_hh_l{k}{s}"
            for k in range(self.num_layers)
            for s in self._suffixes()[: self._directions]
        }

    # -- checks -------------------------------------------------------------------------------

    def _check_input(self, x) -> tuple[Tensor, bool]:
        cls = type(self).__name__
        if not isinstance(x, Tensor):
            x = Tensor(x)
        batched = "(batch, seq_len, " if self.batch_first else "(seq_len, batch, "
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ShapeError(
                f"{cls}: expected input of shape {batched}{self.input_size}) "
                f"(batch_first={self.batch_first}) or (seq_len, {self.input_size}) unbatched, "
                f"got {x.shape}"
            )
        check_float_input(cls, x, self.weight_ih_l0)
        return x, x.ndim == 2

    def _initial_state(self, state, batch: int, unbatched: bool, what: str) -> Tensor | None:
        """The (layers * directions, batch, hidden) state, or None for zeros."""
        if state is None:
            return None
        cls = type(self).__name__
        if not isinstance(state, Tensor):
            state = Tensor(state)
        lead = self.num_layers * self._directions
        want = (lead, self.hidden_size) if unbatched else (lead, batch, self.hidden_size)
        if state.shape != want:
            raise ShapeError(
                f"{cls}: expected {what} of shape {want} (num_layers * num_directions"
                f"{'' if unbatched else ', batch'}, hidden_size), got {state.shape}"
            )
        check_float_input(cls, state, self.weight_ih_l0, what)
        return state.unsqueeze(1) if unbatched else state

    # -- unrolling ----------------------------------------------------------------------------

    def _run(self, x: Tensor, states: tuple):
        """Unroll every layer and direction. `states` holds the initial state tensors (h0, or
        h0 and c0) of shape (layers * directions, batch, hidden), or None for zeros. Returns
        (output, final states as a tuple matching `states`)."""
        x, unbatched = self._check_input(x)
        if unbatched:
            x = x.unsqueeze(1)  # (seq_len, 1, features): a batch of one, time-major
        time_axis = 1 if self.batch_first and not unbatched else 0
        seq_len, batch = x.shape[time_axis], x.shape[1 - time_axis]
        if seq_len == 0:
            raise ShapeError(f"{type(self).__name__}: the input sequence is empty ({x.shape})")
        states = tuple(self._initial_state(s, batch, unbatched, w) for s, w in states)
        # The time steps of the input, as a list: each layer reads its input step by step.
        steps = []
        for t in range(seq_len):
            with scope(f"{self.name}/input/t={t}"):
                steps.append((x[t] if time_axis == 0 else x[:, t],))
        finals: list[list[Tensor]] = [[] for _ in states]
        for k in range(self.num_layers):
            if k > 0 and self.dropout > 0 and self.training:
                steps = self._dropout(steps, k - 1)
            outs_by_dir = []
            for d, suffix in enumerate(self._suffixes()[: self._directions]):
                index = k * self._directions + d
                init = [None if s is None else s[index] for s in states]
                outs, last = self._direction(steps, k, suffix, init, batch)
                outs_by_dir.append(outs)
                for store, value in zip(finals, last):
                    store.append(value)
            steps = list(zip(*outs_by_dir))
        with scope(f"{self.name}/output"):
            # One cat and one reshape join all steps (cheaper than stacking T tensors), in the
            # order that needs no transpose: a C-ordered output is faster for what reads it.
            width = self._directions * self.hidden_size
            if time_axis == 0 and self._directions == 1:
                joined = cat([parts[0] for parts in steps], 0)  # (seq_len * batch, hidden)
                output = joined.reshape(seq_len, batch, width)
            else:
                joined = cat([p for parts in steps for p in parts], 1)
                output = joined.reshape(batch, seq_len, width)
                if time_axis == 0:
                    output = output.permute(1, 0, 2)
            # One layer and direction (the usual case) needs no copy of its final state.
            finals_t = tuple(f[0].unsqueeze(0) if len(f) == 1 else stack(f, 0) for f in finals)
        if unbatched:
            output = output.squeeze(1)
            finals_t = tuple(f.squeeze(1) for f in finals_t)
        return output, finals_t

    def _dropout(self, steps: list, below: int) -> list:
        """Inverted dropout on the outputs of layer `below`, a fresh mask for every step."""
        p = self.dropout
        rng = generator()
        out = []
        for t, parts in enumerate(steps):
            with scope(f"{self.name}/l{below}/t={t}/dropout"):
                dropped = []
                for part in parts:
                    if p >= 1.0:
                        mask = np.zeros(part.shape, dtype=part.dtype)
                    else:
                        keep = rng.random(part.shape) >= p
                        mask = (keep / (1.0 - p)).astype(part.dtype)
                    dropped.append(part * Tensor(mask))
                out.append(tuple(dropped))
        return out

    def _direction(self, steps: list, k: int, suffix: str, init: list, batch: int):
        """Run one direction of layer k over `steps`; returns (outputs in time order, final
        states)."""
        raise NotImplementedError

    def _weights(self, k: int, suffix: str):
        w_ih = getattr(self, f"weight_ih_l{k}{suffix}")
        w_hh = getattr(self, f"weight_hh_l{k}{suffix}")
        b_ih = getattr(self, f"bias_ih_l{k}{suffix}") if self.bias else None
        b_hh = getattr(self, f"bias_hh_l{k}{suffix}") if self.bias else None
        return w_ih, w_hh, b_ih, b_hh

    def _fused_weights(self, k: int, suffix: str):
        """(scope prefix, [W_ih W_hh]^T, b_ih + b_hh or None, [W_ih W_hh] as a C-ordered array):
        one matmul a step (RNN, LSTM). Both layouts are made once per call, because each
        step multiplies by the weights both ways, forward by w_t and backward by its
        transpose, and numpy's matmul is fastest with a C-ordered right operand (see the
        comment above `rnn_cells._step_operands`)."""
        w_ih, w_hh, b_ih, b_hh = self._weights(k, suffix)
        where = f"{self.name}/l{k}{suffix}"
        with scope(f"{where}/weights"):
            joined = cat((w_ih, w_hh), 1)
            w_t = joined.T.contiguous()
            b = b_ih + b_hh if self.bias else None
        return where, w_t, b, np.ascontiguousarray(joined.data)

    def _zeros(self, batch: int) -> Tensor:
        return zeros(batch, self.hidden_size, dtype=self.weight_ih_l0.dtype)

    def _time_order(self, suffix: str, seq_len: int) -> range:
        return range(seq_len - 1, -1, -1) if suffix else range(seq_len)


class RNN(_RNNBase):
    """Elman RNN unrolled through time, as torch.nn.RNN: `forward(input, h0=None)` returns
    (output, h_n) with output (seq_len, batch, directions * hidden) (batch first with
    batch_first=True) and h_n (num_layers * directions, batch, hidden). Each time step records
    one node (`rnn_tanh` / `rnn_relu`: matmul, bias and activation fused, see `rnn_step`), so
    the unrolled graph holds only h_t per step.

    >>> from tinygrad_lite import nn, randn, manual_seed
    >>> manual_seed(0)
    >>> rnn = nn.RNN(3, 4, num_layers=2, nonlinearity="relu", bidirectional=True)
    >>> out, h_n = rnn(randn(5, 2, 3))
    >>> out.shape, h_n.shape, out.scope, [n for n, _ in rnn.named_parameters()][:2]
    ((5, 2, 8), (4, 2, 4), 'rnn/output', ['weight_ih_l0', 'weight_hh_l0'])
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        name: str | None = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        # Set before the base constructor, which reads the mode to size the weights.
        object.__setattr__(self, "mode", "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU")
        object.__setattr__(self, "nonlinearity", nonlinearity)
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, name
        )

    def forward(self, input: Tensor, hx: Tensor | None = None):  # noqa: A002
        output, (h_n,) = self._run(input, ((hx, "h0"),))
        return output, h_n

    def _direction(self, steps, k, suffix, init, batch):
        where, w_t, b, w = self._fused_weights(k, suffix)
        h = init[0] if init[0] is not None else self._zeros(batch)
        relu = self.mode == "RNN_RELU"
        outs: list = [None] * len(steps)
        for t in self._time_order(suffix, len(steps)):
            with scope(f"{where}/t={t}"):
                h = rnn_step(steps[t], h, w_t, b, relu, w)
            outs[t] = h
        return outs, (h,)


class LSTM(_RNNBase):
    """LSTM unrolled through time, as torch.nn.LSTM: `forward(input, (h0, c0))` returns
    (output, (h_n, c_n)); gate order (i, f, g, o). Each time step records three nodes
    (`lstm_gates`: one matmul for all four gates, bias and activations fused; `lstm_cell_state`;
    `lstm_hidden`; see `lstm_step`), so the unrolled graph holds the gate activations, c_t and
    h_t per step.

    >>> from tinygrad_lite import nn, randn, manual_seed
    >>> manual_seed(0)
    >>> lstm = nn.LSTM(64, 128)
    >>> lstm.num_parameters(), lstm.num_parameters("keras")
    (99328, 98816)
    >>> out, (h_n, c_n) = nn.LSTM(3, 4, batch_first=True)(randn(2, 5, 3))
    >>> out.shape, h_n.shape, c_n.shape
    ((2, 5, 4), (1, 2, 4), (1, 2, 4))
    """

    mode = "LSTM"

    def forward(self, input: Tensor, hx: tuple | None = None):  # noqa: A002
        h0, c0 = (None, None) if hx is None else hx
        output, (h_n, c_n) = self._run(input, ((h0, "h0"), (c0, "c0")))
        return output, (h_n, c_n)

    def _direction(self, steps, k, suffix, init, batch):
        where, w_t, b, w = self._fused_weights(k, suffix)
        h = init[0] if init[0] is not None else self._zeros(batch)
        c = init[1] if init[1] is not None else self._zeros(batch)
        outs: list = [None] * len(steps)
        for t in self._time_order(suffix, len(steps)):
            with scope(f"{where}/t={t}"):
                h, c = lstm_step(steps[t], h, c, w_t, b, w)
            outs[t] = h
        return outs, (h, c)


class GRU(_RNNBase):
    """GRU unrolled through time, as torch.nn.GRU: `forward(input, h0=None)` returns
    (output, h_n); gate order (r, z, n) with PyTorch's candidate
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).

    Keras' GRU defaults to reset_after=True, the same form with two biases, so
    `num_parameters("keras")` is the PyTorch count here (unlike RNN and LSTM).

    >>> from tinygrad_lite import nn, randn, manual_seed
    >>> manual_seed(0)
    >>> gru = nn.GRU(3, 4, bidirectional=True)
    >>> out, h_n = gru(randn(6, 3))  # unbatched: (seq_len, features)
    >>> out.shape, h_n.shape, gru.num_parameters("keras") == gru.num_parameters()
    ((6, 8), (2, 4), True)
    """

    mode = "GRU"

    def forward(self, input: Tensor, hx: Tensor | None = None):  # noqa: A002
        output, (h_n,) = self._run(input, ((hx, "h0"),))
        return output, h_n

    def _direction(self, steps, k, suffix, init, batch):
        w_ih, w_hh, b_ih, b_hh = self._weights(k, suffix)
        where = f"{self.name}/l{k}{suffix}"
        with scope(f"{where}/weights"):
            w_ih_t, w_hh_t = w_ih.T, w_hh.T
        h = init[0] if init[0] is not None else self._zeros(batch)
        outs: list = [None] * len(steps)
        for t in self._time_order(suffix, len(steps)):
            with scope(f"{where}/t={t}"):
                h = gru_step(steps[t], h, w_ih_t, w_hh_t, b_ih, b_hh)
            outs[t] = h
        return outs, (h,)


class JordanRNN(Module):
    """A Jordan network unrolled through time: the previous output feeds the next hidden state
    (equations in `JordanRNNCell`). `forward(input, y0=None, teacher_forcing=None)` returns
    (outputs, y_n) with outputs (seq_len, batch, output_size) (batch first with batch_first).

    With `teacher_forcing` targets (the shape of the outputs), step t reads the *target*
    y*_{t-1} instead of its own previous output y_{t-1} (step 0 reads y0, zeros by default):
    training then needs no backpropagation through the output recurrence, and the drawing
    shows the chain cut between steps.

    >>> from tinygrad_lite import nn, randn, zeros, manual_seed
    >>> manual_seed(0)
    >>> net = nn.JordanRNN(3, 8, 2)
    >>> out, y_n = net(randn(5, 4, 3), teacher_forcing=zeros(5, 4, 2))
    >>> out.shape, y_n.shape, out.scope
    ((5, 4, 2), (4, 2), 'jordan/output')
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        output_activation: str = "identity",
        batch_first: bool = False,
        name: str = "jordan",
    ) -> None:
        super().__init__()
        self.cell = JordanRNNCell(
            input_size, hidden_size, output_size, bias, nonlinearity, output_activation
        )
        self.batch_first = bool(batch_first)
        self.name = name

    def extra_repr(self) -> str:
        return f"batch_first={self.batch_first}" if self.batch_first else ""

    def forward(
        self,
        input: Tensor,  # noqa: A002
        y0: Tensor | None = None,
        teacher_forcing: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        cell = self.cell
        if not isinstance(input, Tensor):
            input = Tensor(input)  # noqa: A001
        layout = "(batch, seq_len, " if self.batch_first else "(seq_len, batch, "
        if input.ndim != 3 or input.shape[-1] != cell.input_size:
            raise ShapeError(
                f"JordanRNN: expected input of shape {layout}{cell.input_size}), got {input.shape}"
            )
        check_float_input("JordanRNN", input, cell.weight_ih)
        axis = 1 if self.batch_first else 0
        seq_len, batch = input.shape[axis], input.shape[1 - axis]
        out_shape = (
            (batch, seq_len, cell.output_size)
            if self.batch_first
            else (seq_len, batch, cell.output_size)
        )
        if teacher_forcing is not None:
            if teacher_forcing.shape != out_shape:
                raise ShapeError(
                    f"JordanRNN: expected teacher_forcing targets of shape {out_shape}, got "
                    f"{teacher_forcing.shape}"
                )
            check_float_input("JordanRNN", teacher_forcing, cell.weight_ih, "teacher_forcing")
        if y0 is None:
            y = zeros(batch, cell.output_size, dtype=cell.weight_ih.dtype)
        elif y0.shape != (batch, cell.output_size):
            raise ShapeError(
                f"JordanRNN: expected y0 of shape {(batch, cell.output_size)}, got {y0.shape}"
            )
        else:
            y = y0
        outs = []
        for t in range(seq_len):
            with scope(f"{self.name}/t={t}"):
                if teacher_forcing is not None and t > 0:
                    prev = t - 1
                    y = teacher_forcing[prev] if axis == 0 else teacher_forcing[:, prev]
                x_t = input[t] if axis == 0 else input[:, t]
                _, y = cell.step(x_t, y)
            outs.append(y)
        with scope(f"{self.name}/output"):
            output = stack(outs, axis)
        return output, y
