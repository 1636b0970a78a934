"""PyTorch as the oracle for the recurrent layers and cells: after loading torch's state dict,
outputs, final states and the gradients with respect to the input, the initial states and every
parameter agree with torch in float64 to 1e-8."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_lite import Tensor, grad, nn

torch = pytest.importorskip("torch")

ATOL = 1e-8
SEQ, BATCH, INPUT, HIDDEN = 4, 3, 5, 6

LAYERS = {
    "rnn_tanh": (nn.RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTM, torch.nn.LSTM, {}),
    "gru": (nn.GRU, torch.nn.GRU, {}),
}


def _pair(kind: str, seed: int, **kwargs):
    """A torch layer (float64) and our layer with torch's state dict loaded."""
    ours_cls, torch_cls, extra = LAYERS[kind]
    torch.manual_seed(seed)
    theirs = torch_cls(INPUT, HIDDEN, **extra, **kwargs).double()
    ours = ours_cls(INPUT, HIDDEN, **extra, **kwargs).double()
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _assert_close(ours: Tensor, theirs, what: str) -> None:
    np.testing.assert_allclose(
        ours.data, theirs.detach().numpy(), rtol=0, atol=ATOL, err_msg=f"{what} differs"
    )


def _random_states(rng, kind: str, lead: int, batch_shape: tuple):
    shape = (lead, *batch_shape, HIDDEN)
    h0 = rng.standard_normal(shape)
    return (h0, rng.standard_normal(shape)) if kind == "lstm" else (h0,)


def _compare_layer(kind: str, seed: int, x_shape: tuple, **kwargs) -> None:
    ours, theirs = _pair(kind, seed, **kwargs)
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal(x_shape)
    lead = ours.num_layers * (2 if ours.bidirectional else 1)
    batch_shape = () if len(x_shape) == 2 else (x_shape[0 if ours.batch_first else 1],)
    states_np = _random_states(rng, kind, lead, batch_shape)

    x = Tensor(x_np, requires_grad=True)
    states = [Tensor(s, requires_grad=True) for s in states_np]
    tx = torch.tensor(x_np, requires_grad=True)
    tstates = [torch.tensor(s, requires_grad=True) for s in states_np]
    if kind == "lstm":
        out, (h_n, c_n) = ours(x, tuple(states))
        tout, (th_n, tc_n) = theirs(tx, tuple(tstates))
        finals, tfinals = [h_n, c_n], [th_n, tc_n]
    else:
        out, h_n = ours(x, states[0])
        tout, th_n = theirs(tx, tstates[0])
        finals, tfinals = [h_n], [th_n]

    _assert_close(out, tout, "output")
    for i, (a, b) in enumerate(zip(finals, tfinals)):
        _assert_close(a, b, f"final state {i}")

    # A random linear functional of every result, so each output element is checked.
    weights = [rng.standard_normal(t.shape) for t in [out, *finals]]
    loss = sum(((t * Tensor(w)).sum() for t, w in zip([out, *finals], weights)), Tensor(0.0))
    tloss = sum((t * torch.tensor(w)).sum() for t, w in zip([tout, *tfinals], weights))
    loss.backward()
    tloss.backward()
    _assert_close(x.grad, tx.grad, "grad of the input")
    for i, (s, ts) in enumerate(zip(states, tstates)):
        _assert_close(s.grad, ts.grad, f"grad of initial state {i}")
    theirs_params = dict(theirs.named_parameters())
    names = [n for n, _ in ours.named_parameters()]
    assert names == list(theirs_params)
    for name, p in ours.named_parameters():
        _assert_close(p.grad, theirs_params[name].grad, f"grad of {name}")


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_two_layer_bidirectional_layer_matches_torch(kind):
    _compare_layer(kind, 0, (SEQ, BATCH, INPUT), num_layers=2, bidirectional=True)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_single_layer_forward_direction_matches_torch(kind):
    _compare_layer(kind, 1, (SEQ, BATCH, INPUT))


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_batch_first_layer_matches_torch(kind):
    _compare_layer(kind, 2, (BATCH, SEQ, INPUT), num_layers=2, batch_first=True)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_unbatched_bidirectional_layer_matches_torch(kind):
    _compare_layer(kind, 3, (SEQ, INPUT), bidirectional=True)


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
def test_layer_without_bias_matches_torch(kind):
    _compare_layer(kind, 4, (SEQ, BATCH, INPUT), num_layers=2, bias=False)


CELLS = {
    "rnn_tanh": (nn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (nn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTMCell, torch.nn.LSTMCell, {}),
    "gru": (nn.GRUCell, torch.nn.GRUCell, {}),
}


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_cell_matches_torch(kind):
    ours_cls, torch_cls, extra = CELLS[kind]
    torch.manual_seed(5)
    theirs = torch_cls(INPUT, HIDDEN, **extra).double()
    ours = ours_cls(INPUT, HIDDEN, **extra).double()
    ours.load_state_dict(theirs.state_dict())
    rng = np.random.default_rng(5)
    x_np = rng.standard_normal((BATCH, INPUT))
    states_np = [rng.standard_normal((BATCH, HIDDEN)) for _ in range(2 if kind == "lstm" else 1)]
    x = Tensor(x_np, requires_grad=True)
    states = [Tensor(s, requires_grad=True) for s in states_np]
    tx = torch.tensor(x_np, requires_grad=True)
    tstates = [torch.tensor(s, requires_grad=True) for s in states_np]
    if kind == "lstm":
        outs, touts = ours(x, tuple(states)), theirs(tx, tuple(tstates))
    else:
        outs, touts = (ours(x, states[0]),), (theirs(tx, tstates[0]),)
    weights = [rng.standard_normal(o.shape) for o in outs]
    for o, to in zip(outs, touts):
        _assert_close(o, to, "cell output")
    sum(((o * Tensor(w)).sum() for o, w in zip(outs, weights)), Tensor(0.0)).backward()
    sum((o * torch.tensor(w)).sum() for o, w in zip(touts, weights)).backward()
    _assert_close(x.grad, tx.grad, "grad of the input")
    for s, ts in zip(states, tstates):
        _assert_close(s.grad, ts.grad, "grad of the state")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _assert_close(p.grad, theirs_params[name].grad, f"grad of {name}")


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_second_order_gradients_of_a_layer_match_torch(kind):
    """A gradient penalty: the squared norm of d(out)/d(x), differentiated again with respect
    to every parameter (create_graph). For a relu RNN the biases reach the penalty only through
    relu's mask, whose derivative is 0: torch reports that 0, and so must we (not "unused")."""
    ours, theirs = _pair(kind, 6)
    x_np = np.random.default_rng(6).standard_normal((SEQ, BATCH, INPUT))
    x = Tensor(x_np, requires_grad=True)
    tx = torch.tensor(x_np, requires_grad=True)
    (gx,) = grad(ours(x)[0].sum(), x, create_graph=True)
    (tgx,) = torch.autograd.grad(theirs(tx)[0].sum(), tx, create_graph=True)
    _assert_close(gx, tgx, "first-order grad of the input")
    params = list(ours.parameters())
    tparams = list(theirs.parameters())
    for i, (a, b) in enumerate(
        zip(grad((gx * gx).sum(), params), torch.autograd.grad((tgx * tgx).sum(), tparams))
    ):
        _assert_close(a, b, f"second-order grad of parameter {i}")
