"""`tinygrad-lite bptt`: watch backpropagation through time on a small recurrent model.

    tinygrad-lite bptt --cell lstm --steps 6 --hidden 4 -o bptt.html
    tinygrad-lite bptt --cell rnn --steps 9 --truncate 3 --rho 1.5 -o cuts.svg
    tinygrad-lite bptt --cell gru --steps 6 --interactive

It builds an RNN, LSTM or GRU layer with a linear head on a task from `tinygrad_lite.data` (the
Euler-discretised oscillator m x'' + gamma x' + x = F(t): predict x from F at every step; or the
adding problem: predict the sum of the two marked numbers at the last step), optionally scales
W_hh to a spectral radius, runs one forward and one backward pass, and writes the stepper page
(.html) or the unrolled drawing (.svg, .png, .dot). `--truncate K` detaches the state every K
steps (truncated BPTT: the drawing shows the cuts); `--clip MAX` runs clip_grad_norm_ and the
chart shows the norms before and after. Mistakes end as in `draw`: exit status 2, one line.
It lives in viz (it draws); `tinygrad_lite.cli` imports it only when building its parser.
"""

from __future__ import annotations

import argparse
import os

__all__ = ["add_bptt_parser", "build_bptt_model", "run_bptt"]

MAX_STEPS, MAX_HIDDEN = 1000, 256


def _whole(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def add_bptt_parser(commands) -> argparse.ArgumentParser:
    """Add the `bptt` subcommand to `tinygrad-lite`'s subparsers."""
    bptt = commands.add_parser(
        "bptt",
        help="unroll a small RNN/LSTM/GRU, backpropagate, and step through it",
        description="Build a recurrent model on a task, run one forward and backward pass and "
        "write the backward stepper (.html) or the unrolled drawing (.svg, .png, .dot); "
        "--interactive steps through it in the terminal (left/right arrows, q quits).",
        epilog="Example: tinygrad-lite bptt --cell lstm --steps 6 --hidden 4 -o bptt.html",
    )
    bptt.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="rnn")
    bptt.add_argument(
        "--steps", type=_whole(1, MAX_STEPS), default=6, help="time steps T (default 6)"
    )
    bptt.add_argument(
        "--hidden", type=_whole(1, MAX_HIDDEN), default=4, help="hidden size H (default 4)"
    )
    bptt.add_argument("--seed", type=_whole(0, 2**32 - 1), default=0, help="default 0")
    bptt.add_argument(
        "--rho", type=_positive, help="scale W_hh to this spectral radius (LSTM/GRU: candidate)"
    )
    bptt.add_argument("--clip", type=_positive, metavar="MAX", help="clip_grad_norm_ bound")
    bptt.add_argument(
        "--truncate", type=_whole(1, MAX_STEPS), metavar="K", help="detach the state every K"
    )
    bptt.add_argument("--level", choices=("cell", "gate", "op"), default="cell")
    bptt.add_argument("--task", choices=("oscillator", "adding"), default="oscillator")
    bptt.add_argument("-o", "--output", help="file to write: .html, .svg, .png, .pdf or .dot")
    bptt.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    bptt.add_argument(
        "--interactive", action="store_true", help="step through the backward pass here"
    )
    bptt.set_defaults(run=run_bptt)
    return bptt


def build_bptt_model(
    cell: str = "rnn",
    steps: int = 6,
    hidden: int = 4,
    *,
    seed: int = 0,
    rho: float | None = None,
    truncate: int | None = None,
    task: str = "oscillator",
):
    """(layer, head, loss): the model the `bptt` command backpropagates, with its forward pass
    done. The layer is named after its cell ("rnn", "lstm", "gru"), so its steps are scoped
    "rnn/l0/t={t}"; with `truncate=K` it runs in windows of K steps, the state detached between
    them (one graph, one backward: the cuts are where no gradient crosses).

    >>> layer, head, loss = build_bptt_model("lstm", 4, 3, rho=0.9)
    >>> type(layer).__name__, loss.shape, loss.scope
    ('LSTM', (), '')
    """
    import numpy as np

    from tinygrad_lite import Tensor, cat, manual_seed, nn
    from tinygrad_lite.data import adding_problem, oscillator_dataset
    from tinygrad_lite.nn import functional as F

    from .flow import scale_spectral_radius

    manual_seed(seed)
    inputs = 1 if task == "oscillator" else 2
    layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](inputs, hidden)
    head = nn.Linear(hidden, 1)
    if rho is not None:
        scale_spectral_radius(layer.weight_hh_l0, rho)
    if task == "oscillator":
        x, y = oscillator_dataset(1, steps, seed=seed)  # (1, T, 1): force in, position out
        x, y = x.permute(1, 0, 2), y.permute(1, 0, 2)  # time first, as the layer expects
    else:
        x, y = adding_problem(1, max(steps, 2), seed=seed)
        x = Tensor(np.ascontiguousarray(x.data[:, :steps].transpose(1, 0, 2)))
    window = truncate or steps
    state, outputs = None, []
    for start in range(0, steps, window):
        if state is not None:
            # Truncated BPTT: the value goes on, the gradient stops here (drawn as a cut).
            state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        out, state = layer(x[start : start + window], state)
        outputs.append(out)
    if task == "oscillator":  # the position at every step
        loss = F.mse_loss(head(cat(outputs, 0)), y, reduction="sum")
    else:  # the sum of the two marked numbers, at the last step
        loss = F.mse_loss(head(outputs[-1][-1]), y)
    return layer, head, loss


def _stdin_is_terminal() -> bool:
    import sys

    return sys.stdin.isatty()


def run_bptt(args: argparse.Namespace) -> int:
    """Run `tinygrad-lite bptt` with parsed `args`: check everything a user can get wrong
    before any work (raising `tinygrad_lite.cli.UsageError`, which the command reports as one
    line with exit status 2), build the model, run one backward pass, write the file and print
    the gradient-flow table; `--interactive` then steps through the frames here."""
    import numpy as np

    from tinygrad_lite.cli import (
        FORMATS,
        UsageError,
        _check_output,
        _render,
        _shown,
        _write,
        check_writable,
    )
    from tinygrad_lite.optim import clip_grad_norm_

    if not args.output and not args.interactive:
        raise UsageError("nothing to do: give -o FILE (.html, .svg, .png, .dot) or --interactive")
    if args.interactive and not _stdin_is_terminal():
        raise UsageError("--interactive needs a terminal (stdin is not one); write -o FILE.html")
    if args.truncate is not None and args.truncate >= args.steps:
        raise UsageError(
            f"--truncate {args.truncate} cuts nothing in {args.steps} steps; give K < --steps"
        )
    fmt = None
    if args.output:
        extension = os.path.splitext(args.output)[1].lower()
        if extension == ".html":
            check_writable(args.output, args.overwrite, example="bptt.html")
            fmt = "html"
        elif extension in FORMATS:
            fmt = _check_output(args.output, args.overwrite)
        else:
            known = ", ".join(sorted({*FORMATS, ".html"} - {".gv"}))
            raise UsageError(f"cannot tell the format of {args.output!r}: use one of {known}")

    import viz
    from viz.html import stepper_html

    from .console_flow import print_gradient_flow, run_terminal_stepper

    layer, head, loss = build_bptt_model(
        args.cell,
        args.steps,
        args.hidden,
        seed=args.seed,
        rho=args.rho,
        truncate=args.truncate,
        task=args.task,
    )
    params = list(layer.parameters()) + list(head.parameters())
    with np.errstate(all="ignore"):  # an exploding run is something to show, not to warn about
        loss.backward(retain_graph=True)  # the frames, the chart and the drawing replay it
        clip = {}
        if args.clip is not None:
            clip = {"total_norm": clip_grad_norm_(params, args.clip), "max_norm": args.clip}
        frames = None
        if fmt == "html" or args.interactive:
            frames = viz.bptt_frames(loss, level=args.level, model=layer)
        flow = viz.gradient_flow(frames.trace if frames else loss, model=layer, **clip)
        if fmt == "html":  # the chart with the clipped norms, when --clip ran
            data = stepper_html(frames, flow=flow).encode("utf-8")
        elif fmt is not None:
            data = _render(viz.draw_unrolled(loss, level=args.level), fmt)
    if fmt is not None:
        _write(args.output, data, args.overwrite)
        print(f"wrote {_shown(args.output)}")
    print_gradient_flow(flow)
    if args.interactive:
        run_terminal_stepper(frames, flow=flow)
    return 0
