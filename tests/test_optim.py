"""Optimizers, schedulers and gradient clipping against their written-out update rules.

Each optimizer minimises the quadratic f(w) = sum(a * w**2 / 2 + b * w), whose gradient is
a * w + b, and is compared step by step with a scalar loop that spells out the published rule
(the one in PyTorch's documentation) one coordinate at a time.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_lite import Tensor, no_grad
from tinygrad_lite.nn import Parameter
from tinygrad_lite.optim import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    AdamW,
    CosineAnnealingLR,
    ExponentialLR,
    RMSprop,
    StepLR,
    clip_grad_norm_,
    clip_grad_value_,
)

A = np.array([1.0, 3.0, 0.5])
B = np.array([0.5, -1.0, 2.0])
W0 = np.array([1.0, -2.0, 0.3])
STEPS = 6


def quadratic_loss(w: Tensor) -> Tensor:
    return (Tensor(A) * w * w / 2 + Tensor(B) * w).sum()


def run(make_opt, steps=STEPS):
    """Trajectory of w (float64) under the optimizer, through the engine's backward."""
    w = Parameter(W0.copy())
    opt = make_opt([w])
    out = []
    for _ in range(steps):
        opt.zero_grad()
        quadratic_loss(w).backward()
        opt.step()
        out.append(w.data.copy())
    return np.array(out)


def reference(update, state_init, steps=STEPS):
    """Trajectory of the scalar rule `update(w, g, state, t) -> w`, coordinate by coordinate."""
    out = np.zeros((steps, len(W0)))
    for i in range(len(W0)):
        w, state = float(W0[i]), dict(state_init)
        for t in range(1, steps + 1):
            g = A[i] * w + B[i]
            w = update(w, g, state, t)
            out[t - 1, i] = w
    return out


def sgd_rule(lr, momentum=0.0, dampening=0.0, wd=0.0, nesterov=False, maximize=False):
    def update(w, g, s, t):
        g = -g if maximize else g
        g = g + wd * w
        if momentum:
            s["b"] = g if t == 1 else momentum * s["b"] + (1 - dampening) * g
            g = g + momentum * s["b"] if nesterov else s["b"]
        return w - lr * g

    return update


def adam_rule(lr, b1, b2, eps, wd=0.0, amsgrad=False, decoupled=False, maximize=False):
    def update(w, g, s, t):
        g = -g if maximize else g
        if decoupled:
            w = w * (1 - lr * wd)
        else:
            g = g + wd * w
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        s["vmax"] = max(s["vmax"], s["v"])
        v = s["vmax"] if amsgrad else s["v"]
        m_hat = s["m"] / (1 - b1**t)
        return w - lr * m_hat / (math.sqrt(v) / math.sqrt(1 - b2**t) + eps)

    return update


ADAM_STATE = {"m": 0.0, "v": 0.0, "vmax": 0.0}


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(lr=0.1),
        dict(lr=0.1, momentum=0.9),
        dict(lr=0.1, momentum=0.9, dampening=0.3),
        dict(lr=0.1, momentum=0.8, nesterov=True),
        dict(lr=0.1, momentum=0.5, weight_decay=0.2),
        dict(lr=0.05, maximize=True, weight_decay=0.1),
    ],
)
def test_sgd_follows_its_update_rule_step_by_step(kwargs):
    got = run(lambda p: SGD(p, **kwargs))
    rule = sgd_rule(
        kwargs["lr"],
        kwargs.get("momentum", 0.0),
        kwargs.get("dampening", 0.0),
        kwargs.get("weight_decay", 0.0),
        kwargs.get("nesterov", False),
        kwargs.get("maximize", False),
    )
    np.testing.assert_allclose(got, reference(rule, {}), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(lr=0.1, betas=(0.8, 0.9), eps=1e-3),
        dict(lr=0.1, weight_decay=0.3),
        dict(lr=0.1, amsgrad=True),
        dict(lr=0.1, maximize=True),
    ],
)
def test_adam_follows_its_update_rule_step_by_step(kwargs):
    got = run(lambda p: Adam(p, **kwargs))
    b1, b2 = kwargs.get("betas", (0.9, 0.999))
    rule = adam_rule(
        kwargs.get("lr", 1e-3),
        b1,
        b2,
        kwargs.get("eps", 1e-8),
        kwargs.get("weight_decay", 0.0),
        kwargs.get("amsgrad", False),
        maximize=kwargs.get("maximize", False),
    )
    np.testing.assert_allclose(got, reference(rule, ADAM_STATE), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs", [dict(), dict(lr=0.1, weight_decay=0.5, amsgrad=True)])
def test_adamw_decays_weights_outside_the_moments(kwargs):
    got = run(lambda p: AdamW(p, **kwargs))
    rule = adam_rule(
        kwargs.get("lr", 1e-3),
        0.9,
        0.999,
        1e-8,
        kwargs.get("weight_decay", 1e-2),
        kwargs.get("amsgrad", False),
        decoupled=True,
    )
    np.testing.assert_allclose(got, reference(rule, ADAM_STATE), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(lr=0.3, lr_decay=0.1),
        dict(lr=0.3, weight_decay=0.2, initial_accumulator_value=0.5),
        dict(lr=0.3, eps=0.1, maximize=True),
    ],
)
def test_adagrad_follows_its_update_rule_step_by_step(kwargs):
    lr, decay = kwargs.get("lr", 1e-2), kwargs.get("lr_decay", 0.0)
    wd, eps = kwargs.get("weight_decay", 0.0), kwargs.get("eps", 1e-10)
    sign = -1.0 if kwargs.get("maximize") else 1.0

    def update(w, g, s, t):
        g = sign * g + wd * w
        s["sum"] += g * g
        return w - lr / (1 + (t - 1) * decay) * g / (math.sqrt(s["sum"]) + eps)

    expected = reference(update, {"sum": kwargs.get("initial_accumulator_value", 0.0)})
    np.testing.assert_allclose(
        run(lambda p: Adagrad(p, **kwargs)), expected, rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(lr=0.05, alpha=0.9, eps=1e-4),
        dict(lr=0.05, centered=True),
        dict(lr=0.05, momentum=0.7),
        dict(lr=0.05, momentum=0.7, centered=True, weight_decay=0.1, maximize=True),
    ],
)
def test_rmsprop_follows_its_update_rule_step_by_step(kwargs):
    lr, alpha, eps = kwargs.get("lr", 1e-2), kwargs.get("alpha", 0.99), kwargs.get("eps", 1e-8)
    wd, mu = kwargs.get("weight_decay", 0.0), kwargs.get("momentum", 0.0)
    sign = -1.0 if kwargs.get("maximize") else 1.0

    def update(w, g, s, t):
        g = sign * g + wd * w
        s["v"] = alpha * s["v"] + (1 - alpha) * g * g
        s["gavg"] = alpha * s["gavg"] + (1 - alpha) * g
        v = s["v"] - s["gavg"] ** 2 if kwargs.get("centered") else s["v"]
        step = g / (math.sqrt(v) + eps)
        if mu:
            s["buf"] = mu * s["buf"] + step
            step = s["buf"]
        return w - lr * step

    expected = reference(update, {"v": 0.0, "gavg": 0.0, "buf": 0.0})
    np.testing.assert_allclose(
        run(lambda p: RMSprop(p, **kwargs)), expected, rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize(
    "kwargs", [dict(), dict(lr=0.5, rho=0.5, eps=1e-3, weight_decay=0.1, maximize=True)]
)
def test_adadelta_follows_its_update_rule_step_by_step(kwargs):
    lr, rho, eps = kwargs.get("lr", 1.0), kwargs.get("rho", 0.9), kwargs.get("eps", 1e-6)
    wd, sign = kwargs.get("weight_decay", 0.0), -1.0 if kwargs.get("maximize") else 1.0

    def update(w, g, s, t):
        g = sign * g + wd * w
        s["v"] = rho * s["v"] + (1 - rho) * g * g
        delta = math.sqrt(s["u"] + eps) / math.sqrt(s["v"] + eps) * g
        s["u"] = rho * s["u"] + (1 - rho) * delta * delta
        return w - lr * delta

    expected = reference(update, {"v": 0.0, "u": 0.0})
    np.testing.assert_allclose(
        run(lambda p: Adadelta(p, **kwargs)), expected, rtol=1e-12, atol=1e-12
    )


def test_defaults_match_pytorch():
    p = [Parameter([0.0])]
    assert SGD(p).defaults["lr"] == 1e-3
    assert Adam(p).defaults["betas"] == (0.9, 0.999) and Adam(p).defaults["eps"] == 1e-8
    assert AdamW(p).defaults["weight_decay"] == 1e-2
    assert Adagrad(p).defaults["lr"] == 1e-2 and Adagrad(p).defaults["eps"] == 1e-10
    assert RMSprop(p).defaults["alpha"] == 0.99 and RMSprop(p).defaults["lr"] == 1e-2
    assert Adadelta(p).defaults["lr"] == 1.0 and Adadelta(p).defaults["rho"] == 0.9


def test_parameters_without_grad_are_left_alone():
    used, unused = Parameter([1.0]), Parameter([5.0])
    opt = SGD([used, unused], lr=0.1, momentum=0.9)
    (used * used).sum().backward()
    opt.step()
    assert unused.tolist() == [5.0] and unused not in opt.state
    assert used.item() == pytest.approx(0.8)


def test_step_records_no_graph_and_keeps_the_parameter_a_leaf():
    w = Parameter([1.0, 2.0])
    opt = Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    assert w.is_leaf and w.requires_grad and w.op == ""


def test_step_works_under_no_grad():
    w = Parameter([1.0])
    opt = SGD([w], lr=0.5)
    (w * w).sum().backward()
    with no_grad():
        opt.step()
    assert w.item() == 0.0


def test_step_keeps_the_parameter_dtype():
    w = Parameter(np.array([1.0, 2.0], dtype=np.float32))
    opt = Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    assert w.dtype == np.float32


def test_param_groups_use_their_own_learning_rates():
    a, b = Parameter([1.0]), Parameter([1.0])
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    (a * a + b * b).sum().backward()
    opt.step()
    assert a.item() == pytest.approx(0.8) and b.item() == pytest.approx(0.0)


def test_zero_grad_sets_none_by_default_and_zeros_on_request():
    w = Parameter([1.0])
    opt = SGD([w], lr=0.1)
    (w * 3).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0]
    opt.zero_grad()
    assert w.grad is None


def test_closure_is_evaluated_and_its_loss_returned():
    w = Parameter([2.0])
    opt = SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 4.0
    assert w.item() == 1.0


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: SGD(p, lr=-1.0), "invalid lr"),
        (lambda p: SGD(p, lr=0.1, nesterov=True), "Nesterov"),
        (lambda p: Adam(p, betas=(1.0, 0.9)), "beta"),
        (lambda p: SGD([], lr=0.1), "empty parameter list"),
        (lambda p: SGD(p + p, lr=0.1), "more than once"),
        (lambda p: SGD([p[0] * 2], lr=0.1), "non-leaf"),
    ],
)
def test_bad_hyperparameters_and_params_raise_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make([Parameter([1.0])])


@pytest.mark.parametrize(
    "make",
    [
        lambda p: SGD(p, lr=0.1, momentum=0.9),
        lambda p: Adam(p, lr=0.1, amsgrad=True),
        lambda p: Adagrad(p, lr=0.1),
        lambda p: RMSprop(p, lr=0.01, momentum=0.5, centered=True),
        lambda p: Adadelta(p),
    ],
)
def test_state_dict_round_trip_continues_the_same_trajectory(make):
    w = Parameter(W0.copy())
    opt = make([w])
    for _ in range(3):
        opt.zero_grad()
        quadratic_loss(w).backward()
        opt.step()
    saved_w, saved_opt = w.data.copy(), opt.state_dict()

    def continue_from(optimizer, param):
        for _ in range(3):
            optimizer.zero_grad()
            quadratic_loss(param).backward()
            optimizer.step()
        return param.data.copy()

    expected = continue_from(opt, w)
    w2 = Parameter(saved_w)
    opt2 = make([w2])
    opt2.load_state_dict(saved_opt)
    np.testing.assert_array_equal(continue_from(opt2, w2), expected)


def test_state_dict_is_a_copy_not_a_view():
    w = Parameter([1.0])
    opt = SGD([w], lr=0.1, momentum=0.9)
    (w * w).sum().backward()
    opt.step()
    saved = opt.state_dict()
    before = saved["state"][0]["momentum_buffer"].copy()
    opt.step()
    np.testing.assert_array_equal(saved["state"][0]["momentum_buffer"], before)


def test_load_state_dict_rejects_mismatched_groups():
    opt = SGD([Parameter([1.0]), Parameter([2.0])], lr=0.1)
    other = SGD([Parameter([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="group sizes"):
        opt.load_state_dict(other.state_dict())


def test_load_state_dict_restores_hyperparameters():
    w = Parameter([1.0])
    opt = SGD([w], lr=0.1)
    saved = opt.state_dict()
    opt.param_groups[0]["lr"] = 7.0
    opt.load_state_dict(saved)
    assert opt.param_groups[0]["lr"] == 0.1


# -- schedulers -------------------------------------------------------------------------------


def lrs_over(make_sched, epochs=12, lr=0.8):
    opt = SGD([Parameter([0.0])], lr=lr)
    sched = make_sched(opt)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        sched.step()
    return out


def test_step_lr_matches_its_closed_form():
    got = lrs_over(lambda o: StepLR(o, step_size=3, gamma=0.5))
    assert got == pytest.approx([0.8 * 0.5 ** (e // 3) for e in range(12)], rel=1e-15)


def test_exponential_lr_matches_its_closed_form():
    got = lrs_over(lambda o: ExponentialLR(o, gamma=0.9))
    assert got == pytest.approx([0.8 * 0.9**e for e in range(12)], rel=1e-14)


def test_cosine_annealing_lr_matches_its_closed_form():
    got = lrs_over(lambda o: CosineAnnealingLR(o, T_max=5, eta_min=0.1))
    expected = [0.1 + 0.7 * (1 + math.cos(math.pi * e / 5)) / 2 for e in range(12)]
    assert got == pytest.approx(expected, rel=1e-14)
    assert got[5] == pytest.approx(0.1)


def test_scheduler_scales_each_group_from_its_own_base_lr():
    a, b = Parameter([0.0]), Parameter([0.0])
    opt = SGD([{"params": [a], "lr": 1.0}, {"params": [b], "lr": 0.1}])
    sched = StepLR(opt, step_size=1, gamma=0.5)
    sched.step()
    assert sched.get_last_lr() == pytest.approx([0.5, 0.05])


# -- clipping ---------------------------------------------------------------------------------


def with_grads(*grads):
    params = []
    for g in grads:
        p = Parameter(np.zeros_like(np.asarray(g, dtype=np.float64)))
        p.grad = Tensor(np.asarray(g, dtype=np.float64))
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, math.inf])
def test_clip_grad_norm_returns_the_norm_before_clipping(norm_type):
    g1, g2 = np.array([3.0, -4.0]), np.array([[1.0, 2.0], [-2.0, 0.5]])
    params = with_grads(g1, g2)
    flat = np.concatenate([g1.ravel(), g2.ravel()])
    expected = np.abs(flat).max() if math.isinf(norm_type) else np.linalg.norm(flat, norm_type)
    total = clip_grad_norm_(params, max_norm=0.5, norm_type=norm_type)
    assert isinstance(total, Tensor) and total.shape == ()
    assert total.item() == pytest.approx(expected, rel=1e-12)


@settings(deadline=None)
@given(
    st.lists(st.floats(-10, 10), min_size=1, max_size=6),
    st.floats(0.01, 20),
    st.sampled_from([1.0, 2.0, math.inf]),
)
def test_clip_grad_norm_rescales_to_max_norm_when_above(values, max_norm, norm_type):
    g = np.array(values)
    (p,) = with_grads(g)
    total = clip_grad_norm_([p], max_norm, norm_type=norm_type).item()
    clipped = p.grad.data
    scale = max_norm / (total + 1e-6)  # PyTorch's coefficient, applied only when below 1
    if scale < 1:
        np.testing.assert_allclose(clipped, g * scale, rtol=1e-12, atol=1e-300)
        new_norm = (
            np.abs(clipped).max() if math.isinf(norm_type) else np.linalg.norm(clipped, norm_type)
        )
        assert new_norm <= max_norm
    else:
        np.testing.assert_array_equal(clipped, g)


def test_clip_grad_norm_accepts_a_single_tensor_and_skips_missing_grads():
    p, missing = with_grads([0.0, 10.0])[0], Parameter([1.0])
    assert clip_grad_norm_(p, 1.0).item() == 10.0
    assert clip_grad_norm_([p, missing], 1.0).item() == pytest.approx(1.0, rel=1e-6)
    assert missing.grad is None


def test_clip_grad_norm_raises_on_nonfinite_when_asked():
    params = with_grads([1.0, np.inf])
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)


def test_clip_grad_value_clamps_every_entry():
    (p,) = with_grads([-3.0, 0.2, 5.0])
    clip_grad_value_([p], 1.0)
    assert p.grad.tolist() == [-1.0, 0.2, 1.0]


def test_clip_functions_are_importable_from_nn_utils():
    from tinygrad_lite.nn.utils import clip_grad_norm_ as from_nn

    assert from_nn is clip_grad_norm_
