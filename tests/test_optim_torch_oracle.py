"""PyTorch as the oracle: the same loss, the same start, every option, float64; our parameter
trajectories, learning rates and clipped gradients must equal torch's to 1e-10.
"""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tinygrad_lite import Tensor  # noqa: E402
from tinygrad_lite import optim as ours  # noqa: E402
from tinygrad_lite.nn import Parameter  # noqa: E402

STEPS = 5
RNG = np.random.default_rng(0)
W_INIT = RNG.normal(size=(3, 2))
B_INIT = RNG.normal(size=(2,))
C = RNG.normal(size=(3, 2))


def loss_of(w, b, c):
    """A non-quadratic loss (so every optimizer's curvature handling matters)."""
    return (c * w * w).sum() + (w * w * w * w).sum() * 0.1 + (b * b * b).sum() - b.sum() * 0.5


def torch_trajectory(name, kwargs, groups):
    w = torch.tensor(W_INIT, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(B_INIT, dtype=torch.float64, requires_grad=True)
    params = [{"params": [w]}, {"params": [b], **groups}] if groups else [w, b]
    opt = getattr(torch.optim, name)(params, **kwargs)
    c = torch.tensor(C, dtype=torch.float64)
    out = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss_of(w, b, c).backward()
        opt.step()
        out.append(np.concatenate([w.detach().numpy().ravel(), b.detach().numpy().ravel()]))
    return np.array(out)


def our_trajectory(name, kwargs, groups):
    w, b = Parameter(W_INIT.copy()), Parameter(B_INIT.copy())
    params = [{"params": [w]}, {"params": [b], **groups}] if groups else [w, b]
    opt = getattr(ours, name)(params, **kwargs)
    c = Tensor(C)
    out = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss_of(w, b, c).backward()
        opt.step()
        out.append(np.concatenate([w.data.ravel(), b.data.ravel()]))
    return np.array(out)


CASES = [
    ("SGD", dict(lr=0.01), {}),
    ("SGD", dict(lr=0.01, momentum=0.9), {}),
    ("SGD", dict(lr=0.01, momentum=0.9, dampening=0.2, weight_decay=0.05), {}),
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, maximize=True), {}),
    ("SGD", dict(lr=0.01, momentum=0.5), {"lr": 0.03, "momentum": 0.0}),
    ("Adam", dict(), {}),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1), {}),
    ("Adam", dict(lr=0.05, amsgrad=True, maximize=True), {}),
    ("Adam", dict(lr=0.05), {"lr": 0.2, "amsgrad": True}),
    ("AdamW", dict(), {}),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True), {}),
    ("AdamW", dict(lr=0.05, betas=(0.5, 0.6), maximize=True), {}),
    ("Adagrad", dict(), {}),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1), {}),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.3, eps=1e-3, maximize=True), {}),
    ("RMSprop", dict(), {}),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-5, weight_decay=0.1), {}),
    ("RMSprop", dict(lr=0.01, centered=True), {}),
    ("RMSprop", dict(lr=0.01, momentum=0.8), {}),
    ("RMSprop", dict(lr=0.01, momentum=0.8, centered=True, maximize=True), {}),
    ("Adadelta", dict(), {}),
    ("Adadelta", dict(lr=0.5, rho=0.7, eps=1e-4, weight_decay=0.2, maximize=True), {}),
]


@pytest.mark.parametrize("name, kwargs, groups", CASES, ids=[f"{n}-{k}-{g}" for n, k, g in CASES])
def test_trajectory_matches_torch(name, kwargs, groups):
    np.testing.assert_allclose(
        our_trajectory(name, kwargs, groups),
        torch_trajectory(name, kwargs, groups),
        rtol=1e-10,
        atol=1e-10,
    )


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("StepLR", dict(step_size=3, gamma=0.3)),
        ("ExponentialLR", dict(gamma=0.85)),
        ("CosineAnnealingLR", dict(T_max=4, eta_min=0.01)),
    ],
)
def test_scheduler_learning_rates_match_torch(name, kwargs):
    def lrs(module, opt):
        sched = getattr(module, name)(opt, **kwargs)
        out = []
        for _ in range(13):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out

    torch_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    got = lrs(ours.lr_scheduler, ours.SGD([Parameter([0.0])], lr=0.5))
    np.testing.assert_allclose(got, lrs(torch.optim.lr_scheduler, torch_opt), atol=1e-12)


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 2.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.1, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    grads = [RNG.normal(size=(3, 2)), RNG.normal(size=(4,))]
    torch_params = []
    for g in grads:
        p = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        p.grad = torch.tensor(g)
        torch_params.append(p)
    our_params = []
    for g in grads:
        p = Parameter(np.zeros(g.shape))
        p.grad = Tensor(g.copy())
        our_params.append(p)
    expected = torch.nn.utils.clip_grad_norm_(torch_params, max_norm, norm_type).item()
    assert ours.clip_grad_norm_(our_params, max_norm, norm_type).item() == pytest.approx(
        expected, rel=1e-12
    )
    for p, q in zip(our_params, torch_params):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_optimizer_state_dict_loads_torch_state():
    """A torch Adam state dict (tensors, tensor steps) continues the same trajectory here."""
    w_t = torch.tensor(W_INIT, dtype=torch.float64, requires_grad=True)
    b_t = torch.tensor(B_INIT, dtype=torch.float64, requires_grad=True)
    opt_t = torch.optim.Adam([w_t, b_t], lr=0.05, amsgrad=True)
    c_t = torch.tensor(C)
    for _ in range(2):
        opt_t.zero_grad()
        loss_of(w_t, b_t, c_t).backward()
        opt_t.step()
    w, b = Parameter(w_t.detach().numpy().copy()), Parameter(b_t.detach().numpy().copy())
    opt = ours.Adam([w, b], lr=0.05, amsgrad=True)
    opt.load_state_dict(opt_t.state_dict())
    for _ in range(3):
        opt_t.zero_grad()
        loss_of(w_t, b_t, c_t).backward()
        opt_t.step()
        opt.zero_grad()
        loss_of(w, b, Tensor(C)).backward()
        opt.step()
    np.testing.assert_allclose(w.data, w_t.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(b.data, b_t.detach().numpy(), rtol=1e-10, atol=1e-10)
