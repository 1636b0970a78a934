"""`fit`: a plain training loop with a rich progress bar, a history of what happened, early
stopping, gradient clipping, and a Ctrl-C that ends training cleanly on the best weights seen.

The loop is ordinary PyTorch practice written once, so examples and the CLI do not each grow
their own: zero_grad, forward, loss, backward, (clip), step; then validate under no_grad.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from .autograd import no_grad
from .data.early_stopping import EarlyStopping
from .optim.clip import clip_grad_norm_, get_total_norm

__all__ = ["fit"]


def _split_batch(batch) -> tuple[tuple, Any]:
    """(model inputs, target) from a batch (x, ..., y) as yielded by DataLoader."""
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise ValueError(
            "fit: each batch must be a tuple (inputs..., target), e.g. from "
            f"DataLoader(TensorDataset(x, y)); got {type(batch).__name__}"
        )
    return tuple(batch[:-1]), batch[-1]


def _batch_size(batch) -> int:
    first = batch[0]
    return int(first.shape[0]) if getattr(first, "ndim", 0) else 1


def _evaluate(model, loss_fn, loader) -> float:
    total, count = 0.0, 0
    with no_grad():
        for batch in loader:
            inputs, target = _split_batch(batch)
            n = _batch_size(batch)
            total += float(loss_fn(model(*inputs), target).item()) * n
            count += n
    return total / max(count, 1)


class _NoProgress:
    """Stands in for rich's Progress when progress=False."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, *args, **kwargs):
        return 0

    def update(self, *args, **kwargs):
        pass

    def reset(self, *args, **kwargs):
        pass


def _make_progress(console):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4g}  |grad| {task.fields[grad_norm]:.3g}"),
        TextColumn("{task.fields[extra]}"),
        TimeElapsedColumn(),
        console=console,
    )


def fit(
    model,
    loss_fn: Callable,
    optimizer,
    train_loader: Iterable,
    epochs: int,
    val_loader: Iterable | None = None,
    early_stopping: EarlyStopping | None = None,
    clip_grad_norm: float | None = None,
    progress: bool = True,
    *,
    scheduler=None,
    callbacks: Iterable[Callable[[int, dict], None]] = (),
    console=None,
) -> dict[str, Any]:
    """Train `model` for `epochs` passes over `train_loader`; return the history.

    Each batch is `(inputs..., target)`: the loss is `loss_fn(model(*inputs), target)`. The
    gradient norm shown and recorded is the total 2-norm *before* clipping. The monitored
    metric is the validation loss when `val_loader` is given, else the training loss.
    `scheduler.step()` runs after each epoch, then each `callback(epoch, history)`.

    History keys: "train_loss", "val_loss", "grad_norm" (mean over the epoch's batches),
    "lr" (per completed epoch), "best_epoch", "best_metric", "stopped_early", "interrupted".

    Best weights: a copy of the state dict is kept for the best epoch. With `early_stopping`
    whose `restore_best_weights` is set, they are loaded back at the end. A KeyboardInterrupt
    (Ctrl-C, or raised by a callback or the loss) ends training without a traceback, drops the
    unfinished epoch, and loads the best completed epoch's weights (unless the early stopper
    was told not to restore); the history says "interrupted": True.

    >>> import numpy as np
    >>> from tinygrad_lite import nn
    >>> from tinygrad_lite.data import DataLoader, TensorDataset
    >>> from tinygrad_lite.optim import SGD
    >>> class Scale(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = nn.Parameter([0.0])
    ...     def forward(self, x):
    ...         return x * self.w
    >>> x = np.linspace(-1, 1, 16, dtype=np.float32)
    >>> loader = DataLoader(TensorDataset(x, 3 * x), batch_size=4)
    >>> model = Scale()
    >>> mse = lambda out, y: ((out - y) ** 2).mean()
    >>> history = fit(model, mse, SGD(model.parameters(), lr=0.5), loader, 20, progress=False)
    >>> round(model.w.item(), 3), history["train_loss"][-1] < history["train_loss"][0]
    (3.0, True)
    """
    if epochs < 0:
        raise ValueError(f"fit: epochs must be >= 0, got {epochs}")
    params = list(model.parameters())
    # Without a user stopper, track the best weights anyway so Ctrl-C can fall back on them.
    tracker = early_stopping or EarlyStopping(patience=max(epochs, 1) + 1)
    history: dict[str, Any] = {
        "train_loss": [],
        "val_loss": [],
        "grad_norm": [],
        "lr": [],
        "best_epoch": None,
        "best_metric": None,
        "stopped_early": False,
        "interrupted": False,
    }
    bar = _make_progress(console) if progress else _NoProgress()
    try:
        with bar:
            task = bar.add_task("epoch 1", total=None, loss=math.nan, grad_norm=math.nan, extra="")
            for epoch in range(epochs):
                total_batches = len(train_loader) if hasattr(train_loader, "__len__") else None
                bar.reset(task, total=total_batches, description=f"epoch {epoch + 1}/{epochs}")
                model.train()
                loss_sum, count, norms = 0.0, 0, []
                for batch in train_loader:
                    inputs, target = _split_batch(batch)
                    optimizer.zero_grad()
                    loss = loss_fn(model(*inputs), target)
                    loss.backward()
                    if clip_grad_norm is not None:
                        norm = float(clip_grad_norm_(params, clip_grad_norm).item())
                    else:
                        grads = [p.grad for p in params if p.grad is not None]
                        norm = float(get_total_norm(grads).item())
                    optimizer.step()
                    n = _batch_size(batch)
                    loss_sum += float(loss.item()) * n
                    count += n
                    norms.append(norm)
                    bar.update(task, advance=1, loss=loss_sum / count, grad_norm=norm)
                train_loss = loss_sum / max(count, 1)
                model.eval()
                val_loss = None if val_loader is None else _evaluate(model, loss_fn, val_loader)
                history["train_loss"].append(train_loss)
                history["val_loss"].append(val_loss)
                history["grad_norm"].append(sum(norms) / max(len(norms), 1))
                history["lr"].append(optimizer.param_groups[0]["lr"])
                metric = train_loss if val_loss is None else val_loss
                stop = tracker.step(metric, model)
                history["best_epoch"], history["best_metric"] = tracker.best_epoch, tracker.best
                if val_loss is not None:
                    bar.update(task, extra=f"val {val_loss:.4g}")
                if scheduler is not None:
                    scheduler.step()
                for callback in callbacks:
                    callback(epoch, history)
                if early_stopping is not None and stop:
                    history["stopped_early"] = True
                    break
    except KeyboardInterrupt:
        history["interrupted"] = True
        if tracker.restore_best_weights:
            tracker.restore(model)
        return history
    finally:
        model.train()
    if early_stopping is not None and early_stopping.restore_best_weights:
        early_stopping.restore(model)
    return history
