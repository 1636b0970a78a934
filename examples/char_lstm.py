"""A character-level language model: an LSTM learns to predict the next character of the small
English text shipped with the package, trained with truncated backpropagation through time.

The model reads characters one at a time: Embedding (id -> vector) -> LSTM -> Linear (hidden
state -> one logit per character), and the loss is the cross entropy of the next character.
A model that knows nothing guesses uniformly and scores log(vocab_size) nats per character;
anything lower is something learned (letter frequencies, then common pairs, then words).

The text is one long sequence, too long to backpropagate through in one piece. Truncated BPTT
cuts it into windows of k steps: each window starts from the hidden state the previous window
ended with (so the model still *sees* the past), but that state is detached (so gradients stop
at the window's edge and each update costs O(k), however long the text). To use a batch, the
text is cut into B parallel streams, each read from start to end, so row b of every window
continues row b of the window before it.

The last tenth of the text is held out: its loss falls too, so the model learned English and
not just this text, though less than the training loss does (a 9,000-character text is soon
memorised by 25,000 parameters; watch the validation column level off).

At the end the model writes text by itself: it is fed a prompt, then repeatedly samples the next
character from its softmax (sharpened by a temperature below 1) and feeds it back in.

Run: python examples/char_lstm.py   (exits non-zero if the loss did not clearly go down)
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import tinygrad_lite as tl
from tinygrad_lite import Tensor, nn
from tinygrad_lite.data.tbptt import truncated_bptt
from tinygrad_lite.data.text import CharVocab, load_corpus
from tinygrad_lite.nn.utils import clip_grad_norm_
from tinygrad_lite.optim import Adam
from viz.console import print_summary

# Sizes: small enough to train in seconds on a CPU with numpy.
EMBED, HIDDEN = 16, 64
BATCH, WINDOW = 16, 32  # B parallel streams, k steps per truncated-BPTT window
EPOCHS = 20  # passes over the training streams (about 16 windows, i.e. updates, each)
LR, MAX_NORM = 1e-2, 1.0
VAL_FRACTION = 0.1  # the end of the text is held out to check the model did not just memorise
SAMPLE_LEN, TEMPERATURE, PROMPT = 200, 0.8, "The "


# -- the model -------------------------------------------------------------------------------


class CharLSTM(nn.Module):
    """ids (B, T) -> logits (B, T, vocab), carrying the LSTM state (h, c) in and out."""

    def __init__(self, vocab_size: int, embed: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids: Tensor, state=None):
        out, state = self.lstm(self.embed(ids), state)
        return self.head(out), state


def next_char_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Cross entropy over all B*T positions (cross_entropy wants the classes on axis 1)."""
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


# -- the data: B parallel streams of (input, next character) ---------------------------------


def streams(ids: np.ndarray, batch: int) -> tuple[Tensor, Tensor]:
    """Cut ids into `batch` contiguous rows: inputs (B, n) and targets shifted by one."""
    n = (len(ids) - 1) // batch
    x = ids[: batch * n].reshape(batch, n)
    y = ids[1 : batch * n + 1].reshape(batch, n)
    return Tensor(x), Tensor(y)


def evaluate(model: CharLSTM, x: Tensor, y: Tensor) -> float:
    """Loss per character over whole streams, one forward pass, no graph recorded."""
    model.eval()
    with tl.no_grad():
        logits, _ = model(x)
        loss = next_char_loss(logits, y).item()
    model.train()
    return float(loss)


# -- an optimizer that clips: what truncated_bptt calls once per window ----------------------


class ClippedAdam:
    """zero_grad/step as truncated_bptt expects; step clips the gradient norm, then updates,
    then reports the (pre-clip) norm so the progress bar can show it."""

    def __init__(self, model: nn.Module, lr: float, max_norm: float, on_step) -> None:
        self.params = list(model.parameters())
        self.adam = Adam(self.params, lr=lr)
        self.max_norm, self.on_step = max_norm, on_step

    def zero_grad(self) -> None:
        self.adam.zero_grad()

    def step(self) -> None:
        norm = clip_grad_norm_(self.params, self.max_norm).item()
        self.adam.step()
        self.on_step(norm)


# -- sampling ---------------------------------------------------------------------------------


def sample(
    model: CharLSTM, vocab: CharVocab, prompt: str, length: int, temperature: float, seed: int
) -> str:
    """Feed the prompt, then draw `length` characters one at a time from softmax(logits / T)."""
    rng = np.random.default_rng(seed)
    model.eval()
    chars = []
    with tl.no_grad():
        logits, state = model(Tensor(vocab.encode(prompt)[None, :]))
        for _ in range(length):
            probs = (logits[0, -1] / temperature).softmax(-1).numpy().astype(np.float64)
            next_id = int(rng.choice(len(vocab), p=probs / probs.sum()))
            chars.append(vocab.itos[next_id])
            logits, state = model(Tensor(np.array([[next_id]], dtype=np.int64)), state)
    model.train()
    return prompt + "".join(chars)


def main() -> int:
    console = Console()
    tl.manual_seed(0)

    # -- data ---------------------------------------------------------------------------------
    text = load_corpus()
    vocab = CharVocab(text)
    ids = vocab.encode(text)
    split = int(len(ids) * (1 - VAL_FRACTION))
    x_train, y_train = streams(ids[:split], BATCH)
    x_val, y_val = streams(ids[split:], 1)
    uniform = math.log(len(vocab))
    console.print(
        f"corpus: {len(text):,} characters, vocabulary of {len(vocab)}; "
        f"train {BATCH} streams x {x_train.shape[1]} steps, validation {x_val.shape[1]} steps"
    )

    # -- model --------------------------------------------------------------------------------
    model = CharLSTM(len(vocab), EMBED, HIDDEN)
    print_summary(model, x_train[:, :WINDOW], console=console)

    start_train, start_val = evaluate(model, x_train, y_train), evaluate(model, x_val, y_val)

    # -- training: truncated BPTT, one call per pass over the streams -------------------------
    windows_per_epoch = math.ceil(x_train.shape[1] / WINDOW)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}  |grad| {task.fields[grad_norm]:.2f}"),
        TimeElapsedColumn(),
        console=console,
    )
    task = progress.add_task("TBPTT", total=EPOCHS * windows_per_epoch, loss=uniform, grad_norm=0)
    window_losses: list[float] = []

    def loss_fn(logits: Tensor, targets: Tensor) -> Tensor:
        loss = next_char_loss(logits, targets)
        window_losses.append(float(loss.item()))
        return loss

    def on_step(norm: float) -> None:
        recent = window_losses[-windows_per_epoch:]  # a running mean over about one pass
        progress.update(task, advance=1, loss=sum(recent) / len(recent), grad_norm=norm)

    optimizer = ClippedAdam(model, LR, MAX_NORM, on_step)

    def step(x_window: Tensor, state):
        return model(x_window, state)

    history = Table(title="Loss per pass (mean over its windows)", title_justify="left")
    for column in ("epoch", "train (TBPTT windows)", "validation"):
        history.add_column(column, justify="right")
    started = time.perf_counter()
    with progress:
        for epoch in range(1, EPOCHS + 1):
            # Each pass starts the streams from a fresh (zero) state; within it, the state is
            # carried from window to window and detached at every window edge.
            losses, _ = truncated_bptt(
                step, loss_fn, x_train, y_train, k=WINDOW, optimizer=optimizer, state=None
            )
            if epoch == 1 or epoch % 5 == 0:
                val = evaluate(model, x_val, y_val)
                history.add_row(str(epoch), f"{np.mean(losses):.3f}", f"{val:.3f}")
    elapsed = time.perf_counter() - started
    console.print(history)

    end_train, end_val = evaluate(model, x_train, y_train), evaluate(model, x_val, y_val)

    # -- results ------------------------------------------------------------------------------
    results = Table(
        title="Cross entropy per character",
        caption=f"{len(window_losses)} updates in {elapsed:.1f} s",
    )
    results.add_column("")
    results.add_column("start", justify="right")
    results.add_column("end", justify="right")
    results.add_row("uniform guess, log(vocab)", f"{uniform:.3f}", f"{uniform:.3f}")
    results.add_row("train", f"{start_train:.3f}", f"{end_train:.3f}")
    results.add_row("validation (held out)", f"{start_val:.3f}", f"{end_val:.3f}")
    console.print(results)

    generated = sample(model, vocab, PROMPT, SAMPLE_LEN, TEMPERATURE, seed=0)
    console.print(
        Panel(generated, title=f"sample, temperature {TEMPERATURE}", expand=False),
        highlight=False,
        markup=False,
    )

    # -- checks -------------------------------------------------------------------------------
    checks = {
        "end train loss at least 0.5 nats below the start": end_train < start_train - 0.5,
        "end train loss at least 0.5 nats below log(vocab)": end_train < uniform - 0.5,
        "end validation loss below log(vocab)": end_val < uniform,
    }
    failed = [name for name, ok in checks.items() if not ok]
    for name, ok in checks.items():
        console.print(("[green]ok  [/green]" if ok else "[red]FAIL[/red]") + f" {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
