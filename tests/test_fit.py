"""`fit`: the training loop's history, validation, early stopping, clipping, schedules, its
progress display, and a KeyboardInterrupt that ends training on the best weights."""

import io

import numpy as np
import pytest
from rich.console import Console

from tinygrad_lite import Tensor
from tinygrad_lite.data import DataLoader, EarlyStopping, TensorDataset
from tinygrad_lite.nn import Module, Parameter
from tinygrad_lite.optim import SGD, StepLR
from tinygrad_lite.train import fit

X = np.linspace(-1.0, 1.0, 32)


class Scale(Module):
    """y = w * x with a single weight, so every trajectory can be followed by hand."""

    def __init__(self, w=0.0):
        super().__init__()
        self.w = Parameter(np.array([w]))

    def forward(self, x):
        return x * self.w


def mse(out, target):
    return ((out - target) ** 2).mean()


def loader(slope, batch_size=8):
    return DataLoader(TensorDataset(X, slope * X), batch_size=batch_size)


class WeightLog:
    """A callback recording the weight at the end of every epoch."""

    def __init__(self, model):
        self.model, self.weights = model, []

    def __call__(self, epoch, history):
        self.weights.append(self.model.w.item())


def test_fit_learns_the_slope_and_records_one_entry_per_epoch():
    model = Scale()
    history = fit(model, mse, SGD(model.parameters(), lr=0.5), loader(3.0), 15, progress=False)
    assert model.w.item() == pytest.approx(3.0, abs=1e-3)
    assert len(history["train_loss"]) == len(history["grad_norm"]) == 15
    assert history["train_loss"][-1] < 1e-3 * history["train_loss"][0]
    assert history["val_loss"] == [None] * 15
    assert not history["interrupted"] and not history["stopped_early"]


def test_fit_records_validation_loss_of_the_weights_after_each_epoch():
    model = Scale()
    log = WeightLog(model)
    history = fit(
        model,
        mse,
        SGD(model.parameters(), lr=0.1),
        loader(3.0),
        3,
        loader(1.0),
        progress=False,
        callbacks=[log],
    )
    expected = [float(np.mean((w * X - X) ** 2)) for w in log.weights]
    assert history["val_loss"] == pytest.approx(expected, rel=1e-12)


def test_fit_grad_norm_is_measured_before_clipping():
    model = Scale()
    log = WeightLog(model)
    history = fit(
        model,
        mse,
        SGD(model.parameters(), lr=1.0),
        loader(50.0, batch_size=32),
        3,
        clip_grad_norm=0.1,
        progress=False,
        callbacks=[log],
    )
    steps = np.diff([0.0] + log.weights)
    assert np.all(np.abs(steps) <= 0.1 + 1e-9)  # each clipped step moves w by at most lr*0.1
    assert history["grad_norm"][0] > 10  # the raw gradient was far larger than 0.1


def test_fit_early_stopping_stops_and_restores_the_best_weights():
    # Training drives w toward 3 while validation wants 1: validation gets worse past w = 1.
    model = Scale()
    log = WeightLog(model)
    stopper = EarlyStopping(patience=2)
    history = fit(
        model,
        mse,
        SGD(model.parameters(), lr=0.05),
        loader(3.0),
        100,
        loader(1.0),
        early_stopping=stopper,
        progress=False,
        callbacks=[log],
    )
    best = history["best_epoch"]
    assert history["stopped_early"] and len(history["train_loss"]) == best + 3
    assert history["val_loss"][best] == min(history["val_loss"])
    assert model.w.item() == log.weights[best] != log.weights[-1]


def test_keyboard_interrupt_in_the_loss_keeps_the_best_completed_epoch():
    model = Scale()
    log = WeightLog(model)
    calls = {"n": 0}

    def interrupting_loss(out, target):
        calls["n"] += 1
        if calls["n"] == 4 * 3 + 2:  # mid-way through the fourth epoch (4 batches per epoch)
            raise KeyboardInterrupt
        return mse(out, target)

    history = fit(
        model,
        interrupting_loss,
        SGD(model.parameters(), lr=0.3),
        loader(3.0),
        10,
        progress=False,
        callbacks=[log],
    )
    assert history["interrupted"] and len(history["train_loss"]) == 3
    assert model.w.item() == log.weights[history["best_epoch"]]


def test_keyboard_interrupt_from_a_callback_stops_cleanly():
    model = Scale()

    def stop_after_two(epoch, history):
        if epoch == 1:
            raise KeyboardInterrupt

    history = fit(
        model,
        mse,
        SGD(model.parameters(), lr=0.3),
        loader(3.0),
        10,
        progress=False,
        callbacks=[stop_after_two],
    )
    assert history["interrupted"] and len(history["train_loss"]) == 2


def test_keyboard_interrupt_respects_an_early_stopper_told_not_to_restore():
    model = Scale()
    log = WeightLog(model)

    def stop(epoch, history):
        if epoch == 2:
            raise KeyboardInterrupt

    fit(
        model,
        mse,
        SGD(model.parameters(), lr=0.3),
        loader(3.0),
        10,
        loader(-3.0),
        early_stopping=EarlyStopping(restore_best_weights=False),
        progress=False,
        callbacks=[log, stop],
    )
    assert model.w.item() == log.weights[-1]


def test_fit_steps_the_scheduler_once_per_epoch():
    model = Scale()
    opt = SGD(model.parameters(), lr=0.4)
    history = fit(
        model, mse, opt, loader(3.0), 4, progress=False, scheduler=StepLR(opt, 1, gamma=0.5)
    )
    assert history["lr"] == pytest.approx([0.4, 0.2, 0.1, 0.05])


def test_fit_progress_bar_shows_loss_and_gradient_norm():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=120)
    model = Scale()
    fit(model, mse, SGD(model.parameters(), lr=0.1), loader(3.0), 2, console=console)
    text = out.getvalue()
    assert "epoch 2/2" in text and "loss" in text and "|grad|" in text


def test_fit_rejects_batches_without_a_target():
    model = Scale()
    bad_loader = [Tensor(X)]
    with pytest.raises(ValueError, match="inputs..., target"):
        fit(model, mse, SGD(model.parameters(), lr=0.1), bad_loader, 1, progress=False)
