"""Backpropagation through time, step by step: stepper pages, gradient-flow charts, and cuts.

A recurrent net applies one cell at every time step, so its backward pass runs back through the
steps, multiplying the gradient by the step Jacobian dh_t/dh_{t-1} each time. For a linear
recurrence h_t = W h_{t-1} + U x_t that Jacobian is W itself: the gradient reaching step t from
step T is (W^T)^(T-t) dL/dh_T, and on W's eigenvectors (h_t = W^t h_0 = sum_i a_i lambda_i^t w_i)
the largest |lambda_i|, the spectral radius rho, wins: ||dL/dh_t|| ~ rho^(T-t). rho > 1 explodes
going back in time, rho < 1 vanishes.

This script writes, into out/ (open the .html files in a browser: no network needed):
  1. out/bptt_lstm.html: the backward pass of a 6-step LSTM on the driven oscillator
     m x'' + gamma x' + x = F(t), one event per frame, with the gradient-flow chart filling in;
  2. out/exploding.html and out/vanishing.html: a 6-step tanh RNN with W_hh scaled to
     rho = 1.5 and to rho = 0.5, and their charts out/exploding_flow.svg, out/vanishing_flow.svg;
  3. out/bptt_truncated.svg and .png: a 9-step RNN trained with truncated BPTT (K = 3), the
     state detached every 3 steps: the drawing shows the two cuts no gradient crosses.

Run: python examples/bptt_stepper.py   (rerunnable: it replaces only the files it writes)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import graphviz
import numpy as np
from rich.console import Console

import tinygrad_lite as tl
import viz
from tinygrad_lite import cat, nn
from tinygrad_lite.data import oscillator_dataset
from tinygrad_lite.nn import functional as F
from viz.console_flow import print_gradient_flow
from viz.flow import scale_spectral_radius

OUT = Path(__file__).resolve().parent.parent / "out"
console = Console()
# Every file below is this script's own output in out/: overwrite=True is what makes the script
# rerunnable (`make demo` twice). Anything else a user saved is never touched.
OWN_FILE = {"overwrite": True}


def oscillator(steps: int, seed: int = 0):
    """The force F (input) and position x (target) of one trajectory, time first: (T, 1, 1)."""
    force, position = oscillator_dataset(1, steps, seed=seed)  # (1, T, 1) each
    return force.permute(1, 0, 2), position.permute(1, 0, 2)


def write_stepper(loss, model, path: Path, level: str = "cell"):
    """The stepper page of `loss`'s backward pass (which `loss.backward(retain_graph=True)`
    ran, so the frames replay it): one frame per backward event, the gradient-flow chart
    (with rho of `model`'s W_hh) beside the graph. Returns the frames."""
    frames = viz.bptt_frames(loss, level=level, model=model)
    viz.save_stepper(frames, path, **OWN_FILE)
    console.print(f"wrote {path.relative_to(OUT.parent)} ({len(frames)} frames)")
    return frames


def lstm_on_the_oscillator(failures: list[str]) -> None:
    console.rule("[bold]1. A 6-step LSTM on the oscillator: out/bptt_lstm.html")
    tl.manual_seed(0)
    lstm, head = nn.LSTM(1, 4), nn.Linear(4, 1)
    x, y = oscillator(6)
    out, _ = lstm(x)  # every step runs under scope("lstm/l0/t={t}")
    loss = F.mse_loss(head(out), y, reduction="sum")  # the position at every step
    loss.backward(retain_graph=True)  # the stepper and the chart replay this very pass
    flow = viz.gradient_flow(loss, model=lstm)
    print_gradient_flow(flow, console=console)
    frames = write_stepper(loss, lstm, OUT / "bptt_lstm.html", level="gate")
    if len(frames) != len(frames.trace.events):
        failures.append("the LSTM's stepper does not have one frame per backward event")
    if len(flow.norms) != 6 or not all(v > 0 for v in flow.norms):
        failures.append(f"the LSTM's gradient did not reach every step: {flow.norms}")


def tanh_rnn(rho: float):
    """A 6-step tanh RNN whose W_hh is rho times an orthogonal matrix (every eigenvalue then
    has |lambda| = rho, so no other eigenvalue muddles the first steps back), no biases, and a
    small force (x 0.02): tanh stays near its linear part, where the eigenvalue argument holds.
    The loss reads the last step only, so everything earlier steps get came back through W."""
    tl.manual_seed(0)
    rnn, head = nn.RNN(1, 4), nn.Linear(4, 1)
    nn.init.orthogonal_(rnn.weight_hh_l0)
    scale_spectral_radius(rnn.weight_hh_l0, rho)
    nn.init.zeros_(rnn.bias_ih_l0)
    nn.init.zeros_(rnn.bias_hh_l0)
    x, y = oscillator(6)
    out, _ = rnn(x * 0.02)
    loss = F.mse_loss(head(out[-1]), y[-1])
    loss.backward(retain_graph=True)
    return rnn, loss


def exploding_and_vanishing(failures: list[str]) -> None:
    console.rule("[bold]2. A tanh RNN with rho(W_hh) = 1.5 and 0.5: exploding and vanishing")
    for rho, name in ((1.5, "exploding"), (0.5, "vanishing")):
        rnn, loss = tanh_rnn(rho)
        flow = viz.gradient_flow(loss, model=rnn)
        print_gradient_flow(flow, console=console)
        flow.save(OUT / f"{name}_flow.svg", **OWN_FILE)
        write_stepper(loss, rnn, OUT / f"{name}.html")
        factor = flow.stacks[0].factor_per_step()
        console.print(
            f"rho = {rho}: measured x{factor:.3f} per step back in time, "
            f"||dL/dh_0|| / ||dL/dh_5|| = {flow.norms[0] / flow.norms[-1]:.3g} "
            f"(rho^5 = {rho**5:.3g})\n"
        )
        if abs(factor - rho) > 0.05 * rho:
            failures.append(f"rho = {rho}: the gradient changed by x{factor:.3f} per step")


def truncated_rnn(failures: list[str]) -> None:
    console.rule("[bold]3. Truncated BPTT (K = 3) over 9 steps: the cuts")
    tl.manual_seed(0)
    rnn, head = nn.RNN(1, 4), nn.Linear(4, 1)
    x, y = oscillator(9)
    state, outputs = None, []
    for start in range(0, 9, 3):
        if state is not None:
            # The value of the state goes on; its history, and so the gradient, stops here.
            state = state.detach()
        out, state = rnn(x[start : start + 3], state)
        outputs.append(out)
    loss = F.mse_loss(head(cat(outputs, 0)), y, reduction="sum")
    loss.backward(retain_graph=True)
    flow = viz.gradient_flow(loss, model=rnn)
    print_gradient_flow(flow, console=console)
    drawing = viz.draw_unrolled(loss)
    cuts = len(drawing.layout.cuts)
    try:
        paths = viz.save(drawing, OUT / "bptt_truncated", ("svg", "png"), **OWN_FILE)
        console.print("wrote", ", ".join(str(p.relative_to(OUT.parent)) for p in paths))
    except graphviz.ExecutableNotFound:
        console.print("Graphviz's dot is missing: no drawing (apt-get install graphviz)")
    console.print(
        f"{cuts} cuts: no gradient crosses from a window of 3 steps into the one before\n"
    )
    if cuts != 2:
        failures.append(f"expected 2 truncation cuts in the drawing, found {cuts}")


def main() -> int:
    start = time.perf_counter()
    OUT.mkdir(exist_ok=True)
    failures: list[str] = []
    with np.errstate(all="ignore"):
        lstm_on_the_oscillator(failures)
        exploding_and_vanishing(failures)
        truncated_rnn(failures)
    console.print(f"runtime {time.perf_counter() - start:.1f} s")
    for failure in failures:
        console.print(f"[bold red]CHECK FAILED:[/] {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
