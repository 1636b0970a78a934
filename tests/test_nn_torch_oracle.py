"""PyTorch as the oracle: every layer and loss, given the same weights (torch's state dict loaded
into ours) and the same float64 input, gives the same outputs and the same gradients for the
input and every parameter, to 1e-8."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_lite import Tensor, grad, nn
from tinygrad_lite.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = {"rtol": 1e-8, "atol": 1e-8}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def assert_layer_matches_torch(ours: nn.Module, theirs, x: np.ndarray, rounds: int = 1):
    """Same outputs, input gradients and parameter gradients (and buffers) as torch."""
    theirs = theirs.double()
    ours.double()
    ours.load_state_dict(theirs.state_dict())
    their_params = dict(theirs.named_parameters())
    for r in range(rounds):
        xt = torch.tensor(x, requires_grad=True)
        xo = Tensor(x.copy(), requires_grad=True)
        yt, yo = theirs(xt), ours(xo)
        np.testing.assert_allclose(yo.data, yt.detach().numpy(), **TOL)
        seed = _rng(r + 1).standard_normal(yo.shape)
        theirs.zero_grad()
        ours.zero_grad()
        yt.backward(torch.tensor(seed))
        yo.backward(seed)
        np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), **TOL)
        for name, p in ours.named_parameters():
            np.testing.assert_allclose(p.grad.data, their_params[name].grad.numpy(), **TOL)
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), **TOL)


# -- layers ---------------------------------------------------------------------------------


def test_linear_matches_torch_on_batched_3d_input():
    x = _rng().standard_normal((2, 3, 4))
    assert_layer_matches_torch(nn.Linear(4, 5), torch.nn.Linear(4, 5), x)


def test_linear_without_bias_matches_torch():
    x = _rng().standard_normal((3, 4))
    assert_layer_matches_torch(nn.Linear(4, 2, bias=False), torch.nn.Linear(4, 2, bias=False), x)


def test_embedding_matches_torch_including_padding_idx_gradient():
    theirs = torch.nn.Embedding(6, 3, padding_idx=2).double()
    ours = nn.Embedding(6, 3, padding_idx=2).double()
    ours.load_state_dict(theirs.state_dict())
    idx = np.array([[0, 2, 5], [2, 2, 1]])
    yt, yo = theirs(torch.tensor(idx)), ours(Tensor(idx))
    np.testing.assert_allclose(yo.data, yt.detach().numpy(), **TOL)
    seed = _rng().standard_normal(yo.shape)
    yt.backward(torch.tensor(seed))
    yo.backward(seed)
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), **TOL)


@pytest.mark.parametrize(
    "stride, padding, dilation",
    [(1, 0, 1), (2, 1, 1), (1, 2, 2), (3, 0, 2), (1, "same", 2), (1, "valid", 1)],
)
def test_conv1d_matches_torch(stride, padding, dilation):
    x = _rng().standard_normal((2, 3, 11))
    args = dict(stride=stride, padding=padding, dilation=dilation)
    assert_layer_matches_torch(nn.Conv1d(3, 4, 3, **args), torch.nn.Conv1d(3, 4, 3, **args), x)


def test_conv1d_unbatched_input_matches_torch():
    x = _rng().standard_normal((3, 9))
    assert_layer_matches_torch(nn.Conv1d(3, 2, 4), torch.nn.Conv1d(3, 2, 4), x)


def test_causal_conv1d_equals_torch_conv1d_on_left_padded_input():
    theirs = torch.nn.Conv1d(2, 3, 3, dilation=2).double()
    ours = nn.Conv1d(2, 3, 3, dilation=2, causal=True).double()
    ours.load_state_dict(theirs.state_dict())
    x = _rng().standard_normal((2, 2, 8))
    expected = theirs(TF.pad(torch.tensor(x), (4, 0))).detach().numpy()
    np.testing.assert_allclose(ours(Tensor(x)).data, expected, **TOL)


@pytest.mark.parametrize(
    "kernel, stride, padding, dilation",
    [(3, 1, 0, 1), (3, 2, 1, 1), ((2, 3), (1, 2), (1, 0), 1), (3, 1, 2, 2)],
)
def test_conv2d_matches_torch(kernel, stride, padding, dilation):
    x = _rng().standard_normal((2, 2, 7, 8))
    args = dict(stride=stride, padding=padding, dilation=dilation)
    assert_layer_matches_torch(
        nn.Conv2d(2, 3, kernel, **args), torch.nn.Conv2d(2, 3, kernel, **args), x
    )


@pytest.mark.parametrize("kernel, stride, padding", [(2, None, 0), (3, 2, 1), ((2, 3), 1, 0)])
def test_max_pool2d_matches_torch(kernel, stride, padding):
    x = _rng().standard_normal((2, 3, 7, 6))
    assert_layer_matches_torch(
        nn.MaxPool2d(kernel, stride, padding), torch.nn.MaxPool2d(kernel, stride, padding), x
    )


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("kernel, stride, padding", [(2, None, 0), (3, 2, 1), ((2, 3), 1, 1)])
def test_avg_pool2d_matches_torch(kernel, stride, padding, count_include_pad):
    x = _rng().standard_normal((2, 3, 7, 6))
    args = dict(count_include_pad=count_include_pad)
    assert_layer_matches_torch(
        nn.AvgPool2d(kernel, stride, padding, **args),
        torch.nn.AvgPool2d(kernel, stride, padding, **args),
        x,
    )


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6)])
def test_batchnorm1d_training_matches_torch_outputs_gradients_and_running_stats(shape):
    x = _rng().standard_normal(shape) * 2 + 1
    assert_layer_matches_torch(nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3), x, rounds=3)


def test_batchnorm1d_cumulative_average_momentum_none_matches_torch():
    x = _rng().standard_normal((6, 3))
    ours, theirs = nn.BatchNorm1d(3, momentum=None), torch.nn.BatchNorm1d(3, momentum=None)
    assert_layer_matches_torch(ours, theirs, x, rounds=3)


def test_batchnorm1d_eval_uses_running_stats_as_torch():
    theirs = torch.nn.BatchNorm1d(3).double()
    with torch.no_grad():
        theirs.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
        theirs.running_var.copy_(torch.tensor([2.0, 0.5, 1.5]))
        theirs.weight.copy_(torch.tensor([1.5, 0.5, -1.0]))
    x = _rng().standard_normal((4, 3, 2))
    assert_layer_matches_torch(nn.BatchNorm1d(3).eval(), theirs.eval(), x)


@pytest.mark.parametrize("normalized_shape", [5, (3, 5)])
def test_layernorm_matches_torch(normalized_shape):
    theirs = torch.nn.LayerNorm(normalized_shape).double()
    with torch.no_grad():
        theirs.weight.normal_()
        theirs.bias.normal_()
    x = _rng().standard_normal((2, 3, 5))
    assert_layer_matches_torch(nn.LayerNorm(normalized_shape), theirs, x)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (nn.ReLU(), torch.nn.ReLU()),
        (nn.Tanh(), torch.nn.Tanh()),
        (nn.Sigmoid(), torch.nn.Sigmoid()),
        (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
        (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)),
        (nn.Flatten(), torch.nn.Flatten()),
        (nn.Identity(), torch.nn.Identity()),
        (nn.Dropout(0.5).eval(), torch.nn.Dropout(0.5).eval()),
    ],
    ids=lambda m: type(m).__name__,
)
def test_parameter_free_layers_match_torch(ours, theirs):
    x = _rng().standard_normal((3, 4, 2))
    assert_layer_matches_torch(ours, theirs, x)


def test_sequential_cnn_state_dict_loads_and_matches_torch():
    def build(m):
        return m.Sequential(
            m.Conv2d(1, 4, 3, padding=1),
            m.ReLU(),
            m.MaxPool2d(2),
            m.Flatten(),
            m.Linear(4 * 3 * 3, 2),
        )

    x = _rng().standard_normal((2, 1, 6, 6))
    assert_layer_matches_torch(build(nn), build(torch.nn), x)


# -- losses ---------------------------------------------------------------------------------


def assert_loss_matches_torch(ours, theirs, x: np.ndarray, target, **kwargs):
    xt = torch.tensor(x, requires_grad=True)
    xo = Tensor(x.copy(), requires_grad=True)
    target_t = torch.tensor(target)
    yt, yo = theirs(xt, target_t, **kwargs), ours(xo, Tensor(target), **kwargs)
    np.testing.assert_allclose(yo.data, yt.detach().numpy(), **TOL)
    seed = _rng(7).standard_normal(yo.shape)
    yt.backward(torch.tensor(seed))
    yo.backward(seed)
    np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), **TOL)


REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "ours, theirs", [(F.mse_loss, TF.mse_loss), (F.l1_loss, TF.l1_loss)], ids=["mse", "l1"]
)
def test_regression_losses_match_torch(ours, theirs, reduction):
    rng = _rng()
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    assert_loss_matches_torch(ours, theirs, x, y, reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_torch(reduction):
    rng = _rng()
    p, y = rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0, 1, (4, 3))
    weight = torch.tensor(rng.uniform(0.5, 2, 3))
    assert_loss_matches_torch(
        lambda a, b, **k: F.binary_cross_entropy(a, b, weight=Tensor(weight.numpy()), **k),
        lambda a, b, **k: TF.binary_cross_entropy(a, b, weight=weight, **k),
        p,
        y,
        reduction=reduction,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_binary_cross_entropy_with_logits_matches_torch_with_weights(reduction, scale):
    rng = _rng()
    x, y = rng.standard_normal((4, 3)) * scale, rng.uniform(0, 1, (4, 3))
    w, pw = rng.uniform(0.5, 2, 3), rng.uniform(0.5, 3, 3)
    assert_loss_matches_torch(
        lambda a, b, **k: F.binary_cross_entropy_with_logits(
            a, b, weight=Tensor(w), pos_weight=Tensor(pw), **k
        ),
        lambda a, b, **k: TF.binary_cross_entropy_with_logits(
            a, b, weight=torch.tensor(w), pos_weight=torch.tensor(pw), **k
        ),
        x,
        y,
        reduction=reduction,
    )


def test_binary_cross_entropy_with_logits_gradient_at_zero_logit_matches_torch():
    x, y = np.zeros(3), np.array([0.0, 0.3, 1.0])
    assert_loss_matches_torch(
        F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, x, y
    )


CE_CASES = {
    "plain": dict(),
    "ignore_index": dict(ignore_index=1),
    "label_smoothing": dict(label_smoothing=0.2),
    "weight": dict(weight=[0.5, 2.0, 1.0, 3.0]),
    "weight+ignore+smoothing": dict(
        weight=[0.5, 2.0, 1.0, 3.0], ignore_index=0, label_smoothing=0.1
    ),
}


def _split_weight(kwargs):
    kwargs = dict(kwargs)
    w = kwargs.pop("weight", None)
    if w is None:
        return kwargs, kwargs
    theirs = torch.tensor(w, dtype=torch.float64)
    return dict(kwargs, weight=Tensor(np.array(w))), dict(kwargs, weight=theirs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", list(CE_CASES), ids=list(CE_CASES))
@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 2)], ids=["2d", "kdim"])
def test_cross_entropy_with_class_indices_matches_torch(case, reduction, shape):
    rng = _rng()
    x = rng.standard_normal(shape) * 3
    target = rng.integers(0, 4, (shape[0],) + shape[2:])
    target.flat[0], target.flat[1] = 0, 1  # make sure ignore_index occurs
    ours_kw, theirs_kw = _split_weight(CE_CASES[case])
    assert_loss_matches_torch(
        lambda a, b, **k: F.cross_entropy(a, b, **ours_kw, **k),
        lambda a, b, **k: TF.cross_entropy(a, b, **theirs_kw, **k),
        x,
        target,
        reduction=reduction,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", ["plain", "label_smoothing", "weight"])
def test_cross_entropy_with_class_probabilities_matches_torch(case, reduction):
    rng = _rng()
    x = rng.standard_normal((5, 4))
    probs = rng.dirichlet(np.ones(4), 5)
    ours_kw, theirs_kw = _split_weight(CE_CASES[case])
    assert_loss_matches_torch(
        lambda a, b, **k: F.cross_entropy(a, b, **ours_kw, **k),
        lambda a, b, **k: TF.cross_entropy(a, b, **theirs_kw, **k),
        x,
        probs,
        reduction=reduction,
    )


def test_cross_entropy_with_logits_of_1e4_matches_torch():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]])
    assert_loss_matches_torch(F.cross_entropy, TF.cross_entropy, x, np.array([1, 1]))


def test_cross_entropy_unbatched_input_matches_torch():
    x = _rng().standard_normal(4)
    assert_loss_matches_torch(F.cross_entropy, TF.cross_entropy, x, np.array(2))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", ["plain", "ignore_index", "weight"])
def test_nll_loss_matches_torch(case, reduction):
    rng = _rng()
    x = np.log(rng.dirichlet(np.ones(4), 6))
    target = rng.integers(0, 4, 6)
    target[:2] = [0, 1]
    ours_kw, theirs_kw = _split_weight(CE_CASES[case])
    assert_loss_matches_torch(
        lambda a, b, **k: F.nll_loss(a, b, **ours_kw, **k),
        lambda a, b, **k: TF.nll_loss(a, b, **theirs_kw, **k),
        x,
        target,
        reduction=reduction,
    )


@pytest.mark.parametrize(
    "ours, theirs, target",
    [
        (nn.MSELoss(), torch.nn.MSELoss(), "float"),
        (nn.L1Loss(reduction="sum"), torch.nn.L1Loss(reduction="sum"), "float"),
        (nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss(), "prob"),
        (
            nn.CrossEntropyLoss(label_smoothing=0.1),
            torch.nn.CrossEntropyLoss(label_smoothing=0.1),
            "index",
        ),
        (nn.NLLLoss(ignore_index=0), torch.nn.NLLLoss(ignore_index=0), "index"),
    ],
    ids=["MSELoss", "L1Loss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss"],
)
def test_loss_modules_match_torch(ours, theirs, target):
    rng = _rng()
    x = rng.standard_normal((5, 3))
    y = {
        "float": rng.standard_normal((5, 3)),
        "prob": rng.uniform(0, 1, (5, 3)),
        "index": rng.integers(0, 3, 5),
    }[target]
    assert_loss_matches_torch(ours, theirs, x, y)


def test_bce_loss_module_matches_torch():
    rng = _rng()
    p, y = rng.uniform(0.1, 0.9, (5, 3)), rng.integers(0, 2, (5, 3)).astype(float)
    assert_loss_matches_torch(nn.BCELoss(), torch.nn.BCELoss(), p, y)


# -- second order: gradients of gradients (create_graph) through layers and losses -------------

_R = np.random.default_rng(7)
_X, _Y = _R.standard_normal((4, 5)), _R.standard_normal((4, 5))
_P = _R.uniform(0.05, 0.95, (4, 5))
_BITS = (_R.uniform(size=(4, 5)) > 0.5).astype(float)
_CLASSES = _R.integers(0, 5, 4)
_X1, _W1 = _R.standard_normal((2, 3, 8)), _R.standard_normal((4, 3, 3))
_X2, _W2 = _R.standard_normal((2, 3, 6, 6)), _R.standard_normal((4, 3, 3, 3))
_V5 = _R.standard_normal(5)

SECOND_ORDER = {
    # name: (ours, theirs, arrays); both take (functional module, *tensors)
    "mse_loss": (lambda f, a, b: f.mse_loss(a, b), (_X, _Y)),
    "l1_loss": (lambda f, a, b: f.l1_loss(a, b), (_X, _Y)),
    "binary_cross_entropy": (
        lambda f, a, t: f.binary_cross_entropy(a, t),
        (_P, _BITS),
    ),
    "binary_cross_entropy_with_logits": (
        lambda f, a, t: f.binary_cross_entropy_with_logits(a, t),
        (_X, _BITS),
    ),
    "cross_entropy": (lambda f, a: f.cross_entropy(a, _target(f, _CLASSES)), (_X,)),
    "layer_norm": (lambda f, a, w, b: f.layer_norm(a, (5,), w, b), (_X, _V5, _V5[::-1])),
    "batch_norm (training)": (
        lambda f, a, w, b: f.batch_norm(a, None, None, w, b, training=True),
        (_X, _V5, _V5[::-1]),
    ),
    "conv1d": (lambda f, a, w: f.conv1d(a, w, stride=2, padding=1), (_X1, _W1)),
    "conv2d": (lambda f, a, w: f.conv2d(a, w, padding=1), (_X2, _W2)),
    "max_pool2d": (lambda f, a: f.max_pool2d(a, 2), (_X2,)),
    "avg_pool2d": (lambda f, a: f.avg_pool2d(a, 2), (_X2,)),
}


def _target(f, classes):
    return torch.tensor(classes) if f is TF else classes


def _differentiable(arrays_, name):
    """Which operands are differentiated: targets of the losses are not."""
    keep = len(arrays_) - 1 if name.startswith("binary") else len(arrays_)
    return [i < keep for i in range(len(arrays_))]


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_second_order_gradients_of_losses_and_layers_match_torch(name):
    fn, arrays_ = SECOND_ORDER[name]
    flags = _differentiable(arrays_, name)
    ours = [Tensor(a.copy(), requires_grad=f) for a, f in zip(arrays_, flags)]
    theirs = [torch.tensor(a.copy(), requires_grad=f) for a, f in zip(arrays_, flags)]
    yo, yt = fn(F, *ours), fn(TF, *theirs)
    w = _rng(1).standard_normal(yo.shape)
    lo, lt = (yo * Tensor(w)).sum(), (yt * torch.from_numpy(w)).sum()
    xs, ts = [o for o, f in zip(ours, flags) if f], [t for t, f in zip(theirs, flags) if f]
    firsts = grad(lo, xs, create_graph=True)
    tfirsts = torch.autograd.grad(lt, ts, create_graph=True)
    vs = [_rng(2 + i).standard_normal(x.shape) for i, x in enumerate(xs)]
    penalty = sum(((g * Tensor(v)).sum() for g, v in zip(firsts, vs)), Tensor(0.0))
    tpenalty = sum((g * torch.from_numpy(v)).sum() for g, v in zip(tfirsts, vs))
    seconds = grad(penalty, xs, allow_unused=True)
    tseconds = torch.autograd.grad(tpenalty, ts, allow_unused=True)
    for x, a, b in zip(xs, seconds, tseconds):  # None (not reached) is the zeros it stands for
        mine = np.zeros(x.shape) if a is None else a.data
        ref = np.zeros(x.shape) if b is None else b.detach().numpy(force=True)
        np.testing.assert_allclose(mine, ref, **TOL)
