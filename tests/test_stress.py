"""Long and concurrent runs, sized for CI (a few seconds each): a 500-step LSTM training loop
whose memory stays flat, and four threads training separate models while a fifth runs
inference under `no_grad`, every gradient equal to the same training run alone."""

from __future__ import annotations

import gc
import sys
import threading
import tracemalloc

import numpy as np
import pytest

from tinygrad_lite import Tensor, manual_seed, nn, no_grad, optim, scope
from tinygrad_lite.nn import functional as F

# -- memory: a training loop holds nothing from one step to the next ---------------------------

STEPS = 500
WARMUP = 100  # steps before the baseline: optimizer state, caches and free lists exist
# Growth allowed over the last 400 steps: a leak of 330 bytes a step exceeds it (one step's
# graph is ~28 kB); a clean run grows ~30 kB there, Python's free lists and caches settling.
ALLOWED_GROWTH = 128 * 1024


class CharModel(nn.Module):
    """Embedding -> LSTM -> Linear, the shape of a character model, tiny."""

    def __init__(self, vocab: int = 7, hidden: int = 8):
        super().__init__()
        self.embed = nn.Embedding(vocab, 4)
        self.lstm = nn.LSTM(4, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        out, _ = self.lstm(self.embed(tokens))
        return self.head(out)


def test_a_500_step_lstm_training_loop_keeps_memory_flat():
    manual_seed(0)
    model = CharModel()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, 7, size=(2, 6)) for _ in range(8)]

    def step(i: int) -> float:
        tokens = batches[i % len(batches)]
        logits = model(Tensor(tokens[:, :-1]))
        loss = F.cross_entropy(logits.reshape(-1, 7), Tensor(tokens[:, 1:].reshape(-1)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    tracemalloc.start()
    try:
        first = [step(i) for i in range(WARMUP)]
        gc.collect()
        baseline, _ = tracemalloc.get_traced_memory()
        last = [step(i) for i in range(WARMUP, STEPS)]
        gc.collect()
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert current - baseline < ALLOWED_GROWTH, f"grew {current - baseline} bytes"
    assert np.mean(last[-50:]) < np.mean(first[:8])  # and it did train


# -- threads: four trainers and one inference loop, each as if alone ------------------------

TRAIN_STEPS = 25


def make_model(seed: int) -> nn.Module:
    manual_seed(seed)  # made in the main thread: the package generator is shared
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()


def training_data(seed: int):
    rng = np.random.default_rng(100 + seed)
    x = rng.standard_normal((TRAIN_STEPS, 5, 3))
    return x, np.sin(x.sum(-1, keepdims=True))


def train(model: nn.Module, seed: int, errors: list) -> list[list[np.ndarray]]:
    """SGD steps on the model's own data; every step's gradients, copied."""
    xs, ys = training_data(seed)
    opt = optim.SGD(model.parameters(), lr=0.1)
    grads = []
    with scope(f"trainer{seed}"):
        for x, y in zip(xs, ys):
            loss = F.mse_loss(model(Tensor(x)), Tensor(y))
            if not loss.requires_grad or loss.scope != f"trainer{seed}":
                errors.append(f"trainer {seed}: recorded={loss.requires_grad} scope={loss.scope}")
                return grads
            opt.zero_grad()
            loss.backward()
            grads.append([p.grad.data.copy() for p in model.parameters()])
            opt.step()
    return grads


@pytest.fixture
def frequent_thread_switches():
    """Switch threads every 10 us rather than 5 ms, so the threads interleave inside ops."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(previous)


def test_four_trainers_and_a_no_grad_inference_thread_get_single_threaded_gradients(
    frequent_thread_switches,
):
    seeds = [1, 2, 3, 4]
    models = {s: make_model(s) for s in seeds}
    reference_models = {s: make_model(s) for s in seeds}
    inference_model = make_model(99)
    errors: list[str] = []
    results: dict[int, list] = {}
    start, trainers_done = threading.Barrier(len(seeds) + 1), threading.Event()

    def trainer(seed: int) -> None:
        start.wait()
        try:
            results[seed] = train(models[seed], seed, errors)
        except Exception as err:  # noqa: BLE001 (reported below, in the test's thread)
            errors.append(f"trainer {seed}: {type(err).__name__}: {err}")

    def inference() -> None:
        x = Tensor(np.ones((5, 3)))
        start.wait()
        runs = 0
        while not trainers_done.is_set() or runs < 10:
            with no_grad():
                out = inference_model(x)
            if out.requires_grad:
                errors.append("inference: recorded a graph under no_grad")
                return
            runs += 1

    threads = [threading.Thread(target=trainer, args=(s,), daemon=True) for s in seeds]
    reader = threading.Thread(target=inference, daemon=True)
    for t in [*threads, reader]:
        t.start()
    for t in threads:
        t.join(60)
    trainers_done.set()
    reader.join(60)
    assert not any(t.is_alive() for t in [*threads, reader]), "a thread did not finish"
    assert errors == []

    for seed in seeds:
        alone = train(reference_models[seed], seed, errors)
        assert len(results[seed]) == len(alone) == TRAIN_STEPS
        for step, (got, expected) in enumerate(zip(results[seed], alone)):
            for g, e in zip(got, expected):
                np.testing.assert_allclose(g, e, rtol=1e-12, atol=0, err_msg=f"{seed=} {step=}")
