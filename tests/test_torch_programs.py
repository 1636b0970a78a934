"""PyTorch programs of the kind users type, run twice: once with `torch` and once with the import
swapped for `tinygrad_lite`. Each program is written once, as a function of the module object
(`def program(m): ...` called with `torch` and with `tinygrad_lite`); outputs, losses after N
steps and gradients agree to 1e-10 in float64. Skipped when torch is not installed.

Programs that need a feature still missing here are marked with a skip that names the feature.
"""

import numpy as np
import pytest

import tinygrad_lite
import tinygrad_lite.nn
import tinygrad_lite.nn.functional
import tinygrad_lite.nn.utils
import tinygrad_lite.optim
import tinygrad_lite.optim.lr_scheduler

torch = pytest.importorskip("torch")

TOL = 1e-10


def _has_max_with_indices() -> bool:
    try:
        out = tinygrad_lite.Tensor([[1.0, 2.0]]).max(1)
    except Exception:
        return False
    return hasattr(out, "indices")


def _has_format() -> bool:
    return tinygrad_lite.Tensor.__format__ is not object.__format__


def _has_nn_utils_on_import() -> bool:
    return hasattr(tinygrad_lite.nn, "utils") and hasattr(tinygrad_lite.nn.utils, "clip_grad_norm_")


needs_max_dim = pytest.mark.skipif(
    not _has_max_with_indices(), reason="needs max(dim) returning (values, indices)"
)
needs_format = pytest.mark.skipif(not _has_format(), reason="needs Tensor.__format__")
needs_nn_utils = pytest.mark.skipif(not _has_nn_utils_on_import(), reason="needs nn.utils")


# -- helpers, themselves written once for both libraries ------------------------------------


def numpy_of(x):
    """A tensor of either library (or a number) as a float64 numpy value."""
    if isinstance(x, (int, float)):
        return np.asarray(x, dtype=np.float64)
    return np.asarray(x.detach().numpy(), dtype=np.float64)


def load_same_weights(m, model, seed=0, scale=0.3):
    """Give every parameter the same values in both libraries (drawn in order of
    named_parameters, whose names and shapes are the same in both)."""
    rng = np.random.default_rng(seed)
    with m.no_grad():
        for _, p in model.named_parameters():
            p.copy_(m.tensor(rng.standard_normal(tuple(p.shape)) * scale))
    return model


def data(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


def compare(program):
    theirs = program(torch)
    ours = program(tinygrad_lite)
    assert set(ours) == set(theirs)
    for key in theirs:
        want, got = theirs[key], ours[key]
        if isinstance(want, (str, bool)):
            assert got == want, key
        elif isinstance(want, list):
            np.testing.assert_allclose(
                [numpy_of(v) for v in got],
                [numpy_of(v) for v in want],
                rtol=TOL,
                atol=TOL,
                err_msg=key,
            )
        else:
            np.testing.assert_allclose(
                numpy_of(got), numpy_of(want), rtol=TOL, atol=TOL, err_msg=key
            )


# -- the programs -------------------------------------------------------------------------


def autograd_tutorial(m):
    x = m.ones(2, 2, dtype=m.float64, requires_grad=True)
    y = x + 2
    z = y * y * 3
    out = z.mean()
    out.backward()
    return {"out": out, "x.grad": x.grad, "y.grad_fn": y.grad_fn.name(), "leaf": x.is_leaf}


def vector_jacobian_product(m):
    x = m.tensor(data(1, 3), requires_grad=True)
    y = x * 2
    for _ in range(5):
        y = y * 1.5
    v = m.tensor([0.1, 1.0, 0.0001])
    y.backward(v)
    return {"y": y, "x.grad": x.grad}


def manual_sgd_under_no_grad(m):
    x = m.tensor(data(2, 32, 3))
    y = m.tensor(data(3, 32, 1))
    w = m.tensor(data(4, 3, 1) * 0.1, requires_grad=True)
    b = m.zeros(1, dtype=m.float64, requires_grad=True)
    losses = []
    for _ in range(20):
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        with m.no_grad():
            w -= 0.1 * w.grad
            b -= 0.1 * b.grad
            w.grad.zero_()
            b.grad.zero_()
        losses.append(loss.item())
    return {"losses": losses, "w": w, "b": b, "still a leaf": w.is_leaf}


def data_minus_equals_update(m):
    w = m.tensor(data(5, 4), requires_grad=True)
    losses = []
    for _ in range(10):
        loss = ((w - 1.0) ** 2).sum()
        w.grad = None
        loss.backward()
        w.data -= 0.1 * w.grad
        losses.append(loss.item())
    return {"losses": losses, "w": w}


def mlp_cross_entropy_sgd(m):
    nn = m.nn
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).double()
    load_same_weights(m, model, seed=6)
    x = m.tensor(data(7, 20, 4))
    target = m.tensor(np.random.default_rng(8).integers(0, 3, 20))
    criterion = nn.CrossEntropyLoss()
    opt = m.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = criterion(model(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"losses": losses, "weight": model[0].weight, "last grad": model[2].weight.grad}


def char_model_embedding_lstm_adam(m):
    nn = m.nn

    class CharModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 6)
            self.lstm = nn.LSTM(6, 8, batch_first=True)
            self.head = nn.Linear(8, 10)

        def forward(self, idx):
            out, _ = self.lstm(self.embed(idx))
            return self.head(out)

    model = CharModel().double()
    load_same_weights(m, model, seed=9)
    rng = np.random.default_rng(10)
    idx = m.tensor(rng.integers(0, 10, (4, 7)))
    target = m.tensor(rng.integers(0, 10, (4, 7)))
    opt = m.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        logits = model(idx)
        loss = nn.functional.cross_entropy(logits.reshape(-1, 10), target.reshape(-1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"losses": losses, "embedding": model.embed.weight}


def running_loss_with_plus_equals(m):
    w = m.tensor(data(11, 3), requires_grad=True)
    total = 0
    for k in range(4):
        total += ((w * (k + 1)) ** 2).sum()
    total.backward()
    return {"total": total, "w.grad": w.grad, "grad_fn": total.grad_fn.name()}


def in_place_ops_on_results(m):
    a = m.tensor(data(12, 2, 3), requires_grad=True)
    b = m.tensor(data(13, 3), requires_grad=True)
    h = a * 2
    h += b
    h.mul_(b)
    h.sub_(0.5)
    h.clamp_(min=-1.0)
    h /= 3
    loss = (h * h).sum()
    loss.backward()
    return {"h": h, "a.grad": a.grad, "b.grad": b.grad}


def step_before_backward_is_refused(m):
    w = m.tensor(data(14, 3), requires_grad=True)
    loss = (w**2).sum()
    loss.backward(retain_graph=True)
    m.optim.SGD([w], lr=0.1).step()
    try:
        loss.backward()
    except RuntimeError as err:
        return {"raised": "modified by an inplace operation" in str(err)}
    return {"raised": False}


def leaf_in_place_is_refused(m):
    w = m.tensor(data(15, 3), requires_grad=True)
    try:
        w.add_(1)
    except RuntimeError as err:
        return {"raised": "a leaf Variable that requires grad" in str(err)}
    return {"raised": False}


def gradient_accumulation_and_zero_grad(m):
    nn = m.nn
    model = load_same_weights(m, nn.Linear(3, 2).double(), seed=16)
    x = m.tensor(data(17, 5, 3))
    model(x).sum().backward()
    model(x * 2).sum().backward()
    accumulated = model.weight.grad.clone()
    model.zero_grad()
    return {"accumulated": accumulated, "after zero_grad is None": model.weight.grad is None}


def hessian_vector_product(m):
    x = m.tensor(data(18, 3), requires_grad=True)
    y = (x**3).sum() + (x[0] * x[1]).tanh()
    (g,) = m.autograd.grad(y, x, create_graph=True)
    v = m.tensor([1.0, -1.0, 0.5])
    (hv,) = m.autograd.grad((g * v).sum(), x)
    return {"g": g, "hv": hv}


def truncated_bptt_with_detach(m):
    nn = m.nn
    cell = load_same_weights(m, nn.RNNCell(3, 4).double(), seed=19)
    xs = m.tensor(data(20, 6, 2, 3))
    h = m.zeros(2, 4, dtype=m.float64)
    opt = m.optim.SGD(cell.parameters(), lr=0.05)
    losses = []
    for chunk in range(3):
        h = h.detach()
        opt.zero_grad()
        loss = 0
        for t in range(2):
            h = cell(xs[2 * chunk + t], h)
            loss = loss + (h * h).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"losses": losses, "h": h}


def adamw_step_lr_bce(m):
    nn = m.nn
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1)).double()
    load_same_weights(m, model, seed=21)
    x = m.tensor(data(22, 16, 3))
    y = m.tensor((np.random.default_rng(23).random((16, 1)) > 0.5).astype(np.float64))
    opt = m.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.1)
    sched = m.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    criterion = nn.BCEWithLogitsLoss()
    losses = []
    for _ in range(9):
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return {"losses": losses, "bias": model[2].bias}


def evaluate_under_no_grad(m):
    nn = m.nn
    model = load_same_weights(m, nn.Linear(3, 2).double(), seed=24)
    x = m.tensor(data(25, 4, 3))
    with m.no_grad():
        out = model(x)
    return {"out": out, "requires_grad": out.requires_grad, "grad_fn is None": out.grad_fn is None}


def accuracy_with_max_indices(m):
    nn = m.nn
    model = load_same_weights(m, nn.Linear(3, 4).double(), seed=26)
    x = m.tensor(data(27, 10, 3))
    labels = m.tensor(np.random.default_rng(28).integers(0, 4, 10))
    out = model(x)
    _, pred = out.max(1)
    correct = (pred == labels).sum().item()
    return {"accuracy": correct / 10, "argmax agrees": bool((out.argmax(1) == pred).all())}


def clip_grad_norm_training(m):
    nn = m.nn
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    load_same_weights(m, model, seed=29, scale=1.0)
    x = m.tensor(data(30, 12, 3) * 3)
    y = m.tensor(data(31, 12, 1))
    opt = m.optim.SGD(model.parameters(), lr=0.1)
    norms, losses = [], []
    for _ in range(6):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        norms.append(nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5))
        opt.step()
        losses.append(loss.item())
    return {"losses": losses, "norms": norms}


def formatted_loss(m):
    loss = ((m.tensor(data(32, 4)) - 1) ** 2).mean()
    return {"text": f"{loss:.6f}"}


def frozen_first_layer(m):
    nn = m.nn
    model = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    load_same_weights(m, model, seed=33)
    for p in model[0].parameters():
        p.requires_grad_(False)
    frozen = model[0].weight.clone()
    x = m.tensor(data(34, 8, 3))
    opt = m.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.2)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {
        "losses": losses,
        "first layer unchanged": bool((model[0].weight == frozen).all()),
        "no grad on frozen": model[0].weight.grad is None,
        "head": model[2].weight,
    }


def init_and_fill_under_no_grad(m):
    nn = m.nn
    layer = nn.Linear(4, 3).double()
    nn.init.constant_(layer.weight, 0.25)
    nn.init.zeros_(layer.bias)
    with m.no_grad():
        layer.weight[0].fill_(-1.0)
        layer.bias.add_(m.tensor([0.1, 0.2, 0.3]))
    x = m.tensor(data(35, 5, 4))
    out = layer(x).sum()
    out.backward()
    return {"out": out, "weight": layer.weight, "weight.grad": layer.weight.grad}


def zero_grad_keeps_zeros_then_accumulates(m):
    w = m.tensor(data(36, 3), requires_grad=True)
    (w * w).sum().backward()
    w.grad.zero_()
    zeros = w.grad.clone()
    (w * 3).sum().backward()
    return {"zeros": zeros, "grad": w.grad}


PROGRAMS = [
    autograd_tutorial,
    vector_jacobian_product,
    manual_sgd_under_no_grad,
    data_minus_equals_update,
    mlp_cross_entropy_sgd,
    char_model_embedding_lstm_adam,
    running_loss_with_plus_equals,
    in_place_ops_on_results,
    step_before_backward_is_refused,
    leaf_in_place_is_refused,
    gradient_accumulation_and_zero_grad,
    hessian_vector_product,
    truncated_bptt_with_detach,
    adamw_step_lr_bce,
    evaluate_under_no_grad,
    frozen_first_layer,
    init_and_fill_under_no_grad,
    zero_grad_keeps_zeros_then_accumulates,
    pytest.param(accuracy_with_max_indices, marks=needs_max_dim),
    pytest.param(clip_grad_norm_training, marks=needs_nn_utils),
    pytest.param(formatted_loss, marks=needs_format),
]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: getattr(p, "__name__", str(p)))
def test_program_gives_the_same_results_as_torch(program):
    compare(program)


def test_the_programs_that_must_raise_do_raise_in_torch():
    assert step_before_backward_is_refused(torch) == {"raised": True}
    assert leaf_in_place_is_refused(torch) == {"raised": True}
