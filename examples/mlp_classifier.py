"""A small dense network classifies two interleaved half-moons, trained six ways.

The data set is the classic "two moons": two noisy arcs that no straight line separates, so the
model needs hidden ReLU units to bend its decision boundary. The network is
Linear(2, 32) -> ReLU -> Dropout -> Linear(32, 32) -> ReLU -> Linear(32, 1) and outputs a
logit; `binary_cross_entropy_with_logits` turns it into a loss without ever forming log(0).

The 400 points are split at random into train / validation / test sets. Mini-batches come from
`DataLoader`, and `tinygrad_lite.train.fit` runs the loop with `EarlyStopping`: it watches the
validation loss, stops after `patience` epochs without improvement, and puts the best epoch's
weights back. The same recipe is repeated for SGD, SGD with momentum, Adam, Adagrad, RMSprop and
Adadelta, each run starting from identical weights (`manual_seed` before building the model) and
seeing the same batches, so the table compares the optimizers alone.

Run: python examples/mlp_classifier.py
"""

from __future__ import annotations

import sys
import time

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

import tinygrad_lite as tl
from tinygrad_lite import nn, no_grad
from tinygrad_lite.data import DataLoader, TensorDataset, random_split
from tinygrad_lite.data.early_stopping import EarlyStopping
from tinygrad_lite.nn.functional import binary_cross_entropy_with_logits
from tinygrad_lite.optim import SGD, Adadelta, Adagrad, Adam, RMSprop
from tinygrad_lite.train import fit

N_POINTS, NOISE, DATA_SEED = 400, 0.2, 7
BATCH_SIZE, MAX_EPOCHS, PATIENCE = 32, 150, 15
MODEL_SEED, LOADER_SEED, SPLIT_SEED = 0, 1, 2
ADAM_MIN_ACCURACY = 0.85

# Each optimizer with a learning rate suited to it (Adadelta's 1.0 is its conventional default).
OPTIMIZERS = {
    "SGD": lambda p: SGD(p, lr=0.1),
    "SGD+momentum": lambda p: SGD(p, lr=0.05, momentum=0.9),
    "Adam": lambda p: Adam(p, lr=0.01),
    "Adagrad": lambda p: Adagrad(p, lr=0.05),
    "RMSprop": lambda p: RMSprop(p, lr=0.005),
    "Adadelta": lambda p: Adadelta(p, lr=1.0),
}


# --- The data: two noisy half-moons -------------------------------------------------------
def make_moons(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n points on two interleaved arcs plus Gaussian noise; labels 0 (upper) and 1 (lower)."""
    rng = np.random.default_rng(seed)
    n_upper = n // 2
    t_upper = rng.uniform(0, np.pi, n_upper)
    t_lower = rng.uniform(0, np.pi, n - n_upper)
    upper = np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1)
    lower = np.stack([1 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1)
    x = np.concatenate([upper, lower]) + rng.normal(0, noise, (n, 2))
    y = np.concatenate([np.zeros(n_upper), np.ones(n - n_upper)])
    # Centre the inputs roughly on 0 so the first layer's ReLUs start out mixed.
    x = x - np.array([0.5, 0.25])
    return x.astype(np.float32), y.astype(np.float32)


# --- The model ------------------------------------------------------------------------------
def make_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(2, 32),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Linear(32, 32),
        nn.ReLU(),
        nn.Linear(32, 1),  # one logit per point: P(class 1) = sigmoid(logit)
    )


def loss_fn(logits, target):
    return binary_cross_entropy_with_logits(logits, target)


def evaluate(model, subset) -> tuple[float, float]:
    """Mean loss and accuracy of `model` (in eval mode) on a whole subset."""
    x, y = subset[np.arange(len(subset))]
    model.eval()
    with no_grad():
        logits = model(x)
        loss = loss_fn(logits, y).item()
    model.train()
    # sigmoid(logit) > 0.5 exactly when logit > 0.
    accuracy = float(((logits.numpy() > 0) == (y.numpy() > 0.5)).mean())
    return loss, accuracy


def decision_map(model, x: np.ndarray, y: np.ndarray, cols: int = 64, rows: int = 18) -> Text:
    """The model's decision regions as text, with the points (x, y) drawn on top: 'o' for
    class 0, 'x' for class 1, in red where the model gets them wrong."""
    lo, hi = x.min(axis=0) - 0.2, x.max(axis=0) + 0.2
    gx = np.linspace(lo[0], hi[0], cols)
    gy = np.linspace(hi[1], lo[1], rows)  # top row = largest second coordinate
    grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2).astype(np.float32)
    model.eval()
    with no_grad():
        region = (model(tl.Tensor(grid)).numpy() > 0).reshape(rows, cols)
        predicted = model(tl.Tensor(x)).numpy()[:, 0] > 0
    model.train()
    cells = [["." if r else " " for r in row] for row in region]
    styles = [["blue" if r else "dim" for r in row] for row in region]
    col = np.clip(np.round((x[:, 0] - lo[0]) / (hi[0] - lo[0]) * (cols - 1)), 0, cols - 1)
    row = np.clip(np.round((hi[1] - x[:, 1]) / (hi[1] - lo[1]) * (rows - 1)), 0, rows - 1)
    for c, r, label, guess in zip(col.astype(int), row.astype(int), y > 0.5, predicted):
        cells[r][c] = "x" if label else "o"
        styles[r][c] = "bold green" if label == guess else "bold red"
    text = Text()
    for i, (cell_row, style_row) in enumerate(zip(cells, styles)):
        for cell, style in zip(cell_row, style_row):
            text.append(cell, style=style)
        if i < rows - 1:
            text.append("\n")
    return text


def main() -> int:
    console = Console()
    start = time.perf_counter()

    # --- Split the data: 60% train, 20% validation (early stopping), 20% test -------------
    x, y = make_moons(N_POINTS, NOISE, DATA_SEED)
    dataset = TensorDataset(x, y[:, None])  # targets (N, 1), the shape of the logits
    train_set, val_set, test_set = random_split(dataset, [0.6, 0.2, 0.2], seed=SPLIT_SEED)
    console.print(
        f"two moons: {N_POINTS} points (noise {NOISE}) split into train {len(train_set)} / "
        f"val {len(val_set)} / test {len(test_set)}"
    )

    # --- Train one model per optimizer, from the same initial weights ---------------------
    results = {}
    for name, make_optimizer in OPTIMIZERS.items():
        tl.manual_seed(MODEL_SEED)  # same weights and same dropout masks for every run
        model = make_model()
        optimizer = make_optimizer(model.parameters())
        # A fresh loader with a fixed seed: every optimizer sees the same batch order.
        train_loader = DataLoader(train_set, BATCH_SIZE, shuffle=True, seed=LOADER_SEED)
        val_loader = DataLoader(val_set, batch_size=len(val_set))
        stopper = EarlyStopping(patience=PATIENCE, restore_best_weights=True)
        history = fit(
            model,
            loss_fn,
            optimizer,
            train_loader,
            MAX_EPOCHS,
            val_loader=val_loader,
            early_stopping=stopper,
            progress=False,  # six runs of bars would bury the table
        )
        # fit has restored the best epoch's weights; measure them with dropout off.
        train_loss, train_acc = evaluate(model, train_set)
        val_loss, _ = evaluate(model, val_set)
        _, test_acc = evaluate(model, test_set)
        results[name] = dict(
            train_loss=train_loss,
            val_loss=val_loss,
            train_acc=train_acc,
            test_acc=test_acc,
            epochs=len(history["train_loss"]),
            best_epoch=history["best_epoch"] + 1,  # 1-based, like the epoch count
            stopped_early=history["stopped_early"],
            best_metric=history["best_metric"],
            model=model,
        )
        console.print(
            f"  {name:<15} {results[name]['epochs']:>3} epochs, test accuracy {test_acc:.1%}"
        )

    # --- Compare ----------------------------------------------------------------------------
    table = Table(title="One MLP, six optimizers (best epoch's weights restored)")
    table.add_column("optimizer")
    for column in ("train loss", "val loss", "train acc", "test acc", "epochs", "best"):
        table.add_column(column, justify="right")
    best_test = max(r["test_acc"] for r in results.values())
    for name, r in results.items():
        test_cell = f"{r['test_acc']:.1%}"
        if r["test_acc"] == best_test:
            test_cell = f"[bold green]{test_cell}[/]"
        epochs_cell = f"{r['epochs']}" + ("" if r["stopped_early"] else " (max)")
        table.add_row(
            name,
            f"{r['train_loss']:.4f}",
            f"{r['val_loss']:.4f}",
            f"{r['train_acc']:.1%}",
            test_cell,
            epochs_cell,
            f"{r['best_epoch']}",
        )
    console.print(table)
    console.print(
        f"batch size {BATCH_SIZE}; early stopping on the validation loss with patience "
        f"{PATIENCE}, at most {MAX_EPOCHS} epochs ('(max)': never stopped early); 'best' is the "
        f"epoch whose weights were restored. Total time {time.perf_counter() - start:.1f} s."
    )

    # --- Look at what Adam's network learned ----------------------------------------------
    test_x, test_y = (t.numpy() for t in test_set[np.arange(len(test_set))])
    console.print("Adam's decision regions ('.' = predicted class 1) with the test points:")
    console.print(decision_map(results["Adam"]["model"], test_x, test_y[:, 0]))

    # --- Checks ---------------------------------------------------------------------------
    failures = []
    adam_acc = results["Adam"]["test_acc"]
    if not adam_acc > ADAM_MIN_ACCURACY:
        failures.append(
            f"Adam reached {adam_acc:.1%} test accuracy, needed > {ADAM_MIN_ACCURACY:.0%}"
        )
    for name, r in results.items():
        # Restoring the best weights must reproduce the best validation loss fit recorded.
        if not np.isclose(r["val_loss"], r["best_metric"], rtol=1e-4, atol=1e-6):
            failures.append(
                f"{name}: val loss after restore {r['val_loss']:.6f} != best {r['best_metric']:.6f}"
            )
    for failure in failures:
        console.print(f"[bold red]FAIL[/]: {failure}")
    if failures:
        return 1
    console.print(
        f"[bold green]OK[/]: Adam test accuracy {adam_acc:.1%} > {ADAM_MIN_ACCURACY:.0%}; "
        "every run's restored weights reproduce its best validation loss"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
