"""PyTorch as the oracle for `nn.functional`'s activations, losses and similarity: the same
float64 inputs give the same values and the same gradients (first and, through
create_graph, second order) to 1e-10, for every argument form PyTorch takes; the module forms
give their functions' results; the same calls raise the same kinds of errors."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_lite import Tensor, grad, nn
from tinygrad_lite.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = {"rtol": 1e-10, "atol": 1e-12}
REDUCTIONS = ["mean", "sum", "none"]


def inputs(shape=(3, 4), seed=0, scale=2.0) -> np.ndarray:
    """Values on both sides of 0, every kink avoided (no exact 0, +-1 or +-6)."""
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    return np.where(np.abs(x) < 1e-3, 0.5, x)


def assert_matches_torch(ours_fn, theirs_fn, *arrays, second_order: bool = True):
    """Values, gradients for a random upstream gradient, and (optionally) the gradient of the
    sum of those gradients again, all equal to torch's."""
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours_fn(*xs), theirs_fn(*ts)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), **TOL)
    upstream = np.random.default_rng(7).standard_normal(y.shape)
    gs = grad(y, xs, Tensor(upstream), create_graph=second_order)
    tgs = torch.autograd.grad(ty, ts, torch.tensor(upstream), create_graph=second_order)
    for g, tg in zip(gs, tgs):
        np.testing.assert_allclose(g.data, tg.detach().numpy(), **TOL)
    if second_order:
        ggs = grad(sum(g.sum() for g in gs), xs, allow_unused=True)
        tggs = torch.autograd.grad(sum(g.sum() for g in tgs), ts, allow_unused=True)
        for x, gg, tgg in zip(xs, ggs, tggs):
            # None (unused) and zeros (torch's ZeroTensor, ours) both mean a zero derivative.
            expected = np.zeros(x.shape) if tgg is None else tgg.numpy(force=True)
            got = np.zeros(x.shape) if gg is None else gg.data
            np.testing.assert_allclose(got, expected, **TOL)


# -- activations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (F.gelu, TF.gelu),
        (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
        (F.leaky_relu, TF.leaky_relu),
        (lambda x: F.leaky_relu(x, 0.3), lambda x: TF.leaky_relu(x, 0.3)),
        (lambda x: F.leaky_relu(x, negative_slope=-2.0), lambda x: TF.leaky_relu(x, -2.0)),
        (F.elu, TF.elu),
        (lambda x: F.elu(x, alpha=0.4), lambda x: TF.elu(x, alpha=0.4)),
        (F.silu, TF.silu),
        (F.softplus, TF.softplus),
        (lambda x: F.softplus(x, beta=2.0), lambda x: TF.softplus(x, beta=2.0)),
        (lambda x: F.softplus(x, 0.5, 1.3), lambda x: TF.softplus(x, 0.5, 1.3)),
        (F.logsigmoid, TF.logsigmoid),
        (F.hardtanh, TF.hardtanh),
        (lambda x: F.hardtanh(x, -0.5, 2.5), lambda x: TF.hardtanh(x, -0.5, 2.5)),
        (lambda x: F.relu6(x * 4), lambda x: TF.relu6(x * 4)),
    ],
    ids=[
        "gelu",
        "gelu tanh",
        "leaky_relu",
        "leaky_relu 0.3",
        "leaky_relu -2",
        "elu",
        "elu 0.4",
        "silu",
        "softplus",
        "softplus beta 2",
        "softplus beta 0.5 threshold 1.3",
        "logsigmoid",
        "hardtanh",
        "hardtanh -0.5 2.5",
        "relu6",
    ],
)
def test_activation_matches_torch_to_second_order(ours, theirs):
    assert_matches_torch(ours, theirs, inputs())


@pytest.mark.parametrize("name", ["gelu", "silu", "elu", "softplus", "logsigmoid"])
def test_activation_matches_torch_far_into_both_tails(name):
    x = np.array([-800.0, -40.0, -12.0, -1e-8, 1e-8, 12.0, 40.0, 800.0])
    assert_matches_torch(getattr(F, name), getattr(TF, name), x, second_order=False)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (nn.GELU(), torch.nn.GELU()),
        (nn.GELU("tanh"), torch.nn.GELU("tanh")),
        (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
        (nn.ELU(0.5), torch.nn.ELU(0.5)),
        (nn.SiLU(), torch.nn.SiLU()),
        (nn.Softplus(2.0, 3.0), torch.nn.Softplus(2.0, 3.0)),
        (nn.LogSigmoid(), torch.nn.LogSigmoid()),
        (nn.Hardtanh(-2.0, 1.5), torch.nn.Hardtanh(-2.0, 1.5)),
        (nn.ReLU6(), torch.nn.ReLU6()),
    ],
    ids=repr,
)
def test_activation_module_matches_torchs_module_and_prints_as_it(ours, theirs):
    assert repr(ours) == repr(theirs)
    assert_matches_torch(ours, theirs, inputs(scale=4.0), second_order=False)


# -- losses ------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("mse_loss", {}),
        ("l1_loss", {}),
        ("smooth_l1_loss", {}),
        ("smooth_l1_loss", {"beta": 0.3}),
        ("smooth_l1_loss", {"beta": 0.0}),
        ("huber_loss", {}),
        ("huber_loss", {"delta": 2.5}),
    ],
)
def test_regression_loss_matches_torch(name, kwargs, reduction):
    x, y = inputs(seed=1), inputs(seed=2)
    assert_matches_torch(
        lambda a, b: getattr(F, name)(a, b, reduction=reduction, **kwargs),
        lambda a, b: getattr(TF, name)(a, b, reduction=reduction, **kwargs),
        x,
        y,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_weighted_regression_loss_matches_torch(name, reduction):
    x, y = inputs(seed=1), inputs(seed=2)
    w = np.abs(inputs(seed=3)) + 0.1
    assert_matches_torch(
        lambda a, b: getattr(F, name)(a, b, reduction=reduction, weight=Tensor(w)),
        lambda a, b: getattr(TF, name)(a, b, reduction=reduction, weight=torch.tensor(w)),
        x,
        y,
    )


@pytest.mark.parametrize(
    "size_average, reduce", [(False, None), (True, None), (None, False), (False, True)]
)
def test_deprecated_size_average_and_reduce_pick_torchs_reduction(size_average, reduce):
    x, y = inputs(seed=1), inputs(seed=2)
    with pytest.warns(UserWarning):
        ours = F.mse_loss(Tensor(x), Tensor(y), size_average, reduce)
    with pytest.warns(UserWarning):
        theirs = TF.mse_loss(torch.tensor(x), torch.tensor(y), size_average, reduce)
    np.testing.assert_allclose(ours.data, theirs.numpy(), **TOL)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_with_weights_and_ignore_index_matches_torch(reduction):
    logp = np.log(np.random.default_rng(0).dirichlet(np.ones(5), size=6))
    target = np.array([0, 4, 2, -100, 2, 1])
    w = np.linspace(0.5, 2.0, 5)
    assert_matches_torch(
        lambda a: F.nll_loss(a, Tensor(target), weight=Tensor(w), reduction=reduction),
        lambda a: TF.nll_loss(a, torch.tensor(target), weight=torch.tensor(w), reduction=reduction),
        logp,
    )


def test_cross_entropy_called_positionally_as_torchs_signature_matches_torch():
    # (input, target, weight, size_average, ignore_index, reduce, reduction, label_smoothing)
    x = inputs((4, 3))
    target = np.array([0, 2, 1, 1])
    assert_matches_torch(
        lambda a: F.cross_entropy(a, Tensor(target), None, None, 1, None, "sum", 0.2),
        lambda a: TF.cross_entropy(a, torch.tensor(target), None, None, 1, None, "sum", 0.2),
        x,
    )


# -- cosine similarity, linear, embedding ------------------------------------------------------


@pytest.mark.parametrize(
    "shape_a, shape_b, dim",
    [((3, 4), (3, 4), 1), ((3, 4), (3, 4), 0), ((2, 3, 4), (3, 4), -1), ((4,), (2, 4), 1)],
)
def test_cosine_similarity_matches_torch_with_broadcasting(shape_a, shape_b, dim):
    assert_matches_torch(
        lambda a, b: F.cosine_similarity(a, b, dim=dim),
        lambda a, b: TF.cosine_similarity(a, b, dim=dim),
        inputs(shape_a, seed=1),
        inputs(shape_b, seed=2),
    )


def test_cosine_similarity_module_matches_torch():
    a, b = inputs((2, 5), seed=1), inputs((2, 5), seed=2)
    assert_matches_torch(
        nn.CosineSimilarity(dim=1, eps=1e-6), torch.nn.CosineSimilarity(1, 1e-6), a, b
    )


def test_linear_matches_torch_with_and_without_bias():
    x, w, b = inputs((2, 3, 4)), inputs((5, 4), seed=1), inputs((5,), seed=2)
    assert_matches_torch(F.linear, TF.linear, x, w, b)
    assert_matches_torch(F.linear, TF.linear, x, w)


def test_embedding_with_max_norm_renormalises_the_weight_as_torch():
    weight = inputs((6, 3), scale=3.0)
    idx = np.array([[0, 2, 5], [2, 2, 1]])
    ours, theirs = Tensor(weight.copy(), requires_grad=True), torch.tensor(weight.copy())
    theirs.requires_grad_(True)
    yo = F.embedding(Tensor(idx), ours, max_norm=1.5, norm_type=1.0)
    yt = TF.embedding(torch.tensor(idx), theirs, max_norm=1.5, norm_type=1.0)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), **TOL)
    np.testing.assert_allclose(yo.data, yt.detach().numpy(), **TOL)


def test_dropout_in_eval_mode_is_the_identity_as_torchs():
    x = inputs()
    np.testing.assert_array_equal(
        F.dropout(Tensor(x), 0.3, training=False).data,
        TF.dropout(torch.tensor(x), 0.3, training=False).numpy(),
    )


# -- the same errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda f, t: f.gelu(t.ones(3), approximate="exact"),
        lambda f, t: f.hardtanh(t.ones(3), 2.0, 1.0),
        lambda f, t: f.smooth_l1_loss(t.ones(3), t.ones(3), beta=-0.5),
        lambda f, t: f.huber_loss(t.ones(3), t.ones(3), delta=-1.0),
        lambda f, t: f.mse_loss(t.ones(3), t.ones(3), reduction="average"),
        lambda f, t: f.dropout(t.ones(3), p=1.5),
    ],
    ids=["gelu", "hardtanh", "smooth_l1_loss", "huber_loss", "reduction", "dropout"],
)
def test_bad_arguments_raise_the_error_type_torch_raises(call):
    import tinygrad_lite

    with pytest.raises(Exception) as theirs:
        call(TF, torch)
    with pytest.raises(Exception) as ours:
        call(F, tinygrad_lite)
    assert isinstance(ours.value, theirs.type), (ours.value, theirs.value)


# -- softmax's signature ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4,), (2, 3), (2, 3, 4), (2, 3, 4, 5)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_without_dim_picks_torchs_legacy_axis_with_a_warning(name, shape):
    x = inputs(shape)
    with pytest.warns(UserWarning, match="implicit dimension choice"):
        ours = getattr(F, name)(Tensor(x))
    with pytest.warns(UserWarning):
        theirs = getattr(TF, name)(torch.tensor(x))
    np.testing.assert_allclose(ours.data, theirs.numpy(), **TOL)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_dtype_argument_casts_the_input_first_as_torch(name):
    x = inputs((2, 3)).astype(np.float32)
    ours = getattr(F, name)(Tensor(x), dim=1, dtype=np.float64)
    theirs = getattr(TF, name)(torch.tensor(x), dim=1, dtype=torch.float64)
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours.data, theirs.numpy(), **TOL)
