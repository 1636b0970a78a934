"""The `tinygrad-lite` command: draw the autodiff graph of an expression typed in a shell.

    tinygrad-lite draw "sqrt(x**2 + b)" --set x=3 --set b=1 -o y.svg
    tinygrad-lite draw "relu(X @ W + b)" --set "X=randn(4,3)" --set "W=randn(3,2)" \\
        --set "b=zeros(2)" -o h.svg

The expression is parsed by `viz.expr` (an `ast` whitelist, never `eval`), evaluated on
named leaves, differentiated, and drawn by `viz.draw`. Every mistake a user can make ends the
same way: exit status 2, one line on stderr, and no file written. The engine never imports
viz; this command does, lazily, inside `main`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

from . import __version__

__all__ = ["main", "build_parser"]

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
INSTALL_DOT = (
    "Graphviz's `dot` program is needed to write {fmt} files and was not found; install it "
    "with: sudo apt-get install graphviz (or write a .dot file, which needs no Graphviz)"
)


class UsageError(Exception):
    """A user mistake: reported as one line on stderr with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse prints usage plus an error (two lines or more) and exits; we want one line."""

    def error(self, message: str):  # type: ignore[override]
        hint = ""
        if "required: expression" in message or "unrecognized arguments: -" in message:
            # argparse reads an expression such as "-x" as an option.
            hint = "; an expression that starts with '-' needs a space before it: \" -x\""
        raise UsageError(f"{message}{hint} (see {self.prog} --help)")


def _seed(text: str) -> int:
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if seed < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {seed}")
    return seed


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `tinygrad-lite` (exposed for documentation and tests)."""
    parser = _Parser(
        prog="tinygrad-lite",
        description="Draw the autodiff graph of an expression: values, gradients, and how "
        "the gradient flows back to every input.",
        epilog='Example: tinygrad-lite draw "sqrt(x**2 + b)" --set x=3 --set b=1 -o y.svg',
    )
    parser.add_argument("--version", action="version", version=f"tinygrad-lite {__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    draw = commands.add_parser(
        "draw",
        help="evaluate an expression, run backward, and draw the graph",
        description="Evaluate EXPRESSION on the --set variables, run backward (from sum() of "
        "the output when it is not a scalar) and write the graph to OUTPUT (.svg, .png, .pdf "
        "or .dot by its extension) and/or print it as a tree.",
        epilog="Expressions: numbers, names, + - * / ** @, unary -, and the functions sqrt exp "
        "log tanh sigmoid relu abs max min maximum minimum sum mean logsumexp softmax "
        "log_softmax transpose; max(0, e) is relu. Values: 3, -0.5, [1, 2, 3], randn(4, 3), "
        "rand(2), zeros(3), ones(2, 2), full((2, 3), 0.5), arange(4), eye(3), @file.npy.",
    )
    draw.add_argument("expression", help='the expression, e.g. "sqrt(x**2 + b)"')
    draw.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="define a variable (repeatable): x=3, X=randn(4,3), W=@weights.npy, b=zeros(3)",
    )
    draw.add_argument("-o", "--output", help="file to write: .svg, .png, .pdf or .dot")
    draw.add_argument(
        "--backward", action="store_true", help="draw the gradient flow (arrows reversed)"
    )
    draw.add_argument(
        "--direction", choices=("LR", "TB"), default="LR", help="layout direction (default LR)"
    )
    draw.add_argument("--no-grads", action="store_true", help="do not show gradients")
    draw.add_argument("--title", help="a title above the drawing")
    draw.add_argument(
        "--print", dest="print_tree", action="store_true", help="print the graph as a tree"
    )
    draw.add_argument(
        "--overwrite", action="store_true", help="replace OUTPUT if it already exists"
    )
    draw.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="seed of randn/rand in --set values (default 0)",
    )
    from viz.cli_bptt import add_bptt_parser  # `bptt` (issue 10): viz is imported only here

    add_bptt_parser(commands)
    return parser


def _check_output(path: str, overwrite: bool) -> str:
    """Validate the output path before any work is done; returns the format."""
    extension = os.path.splitext(path)[1].lower()
    if extension not in FORMATS:
        known = ", ".join(sorted(set(FORMATS) - {".gv"}))
        raise UsageError(f"cannot tell the format of {path!r}: use one of {known}")
    if os.path.isdir(path):
        raise UsageError(f"{path!r} is a directory; give a file name such as {path}/graph.svg")
    if os.path.lexists(path) and not overwrite:
        raise UsageError(f"{path!r} already exists; pass --overwrite to replace it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"the folder {folder!r} does not exist; create it first")
    fmt = FORMATS[extension]
    if fmt != "dot" and shutil.which("dot") is None:
        raise UsageError(INSTALL_DOT.format(fmt=fmt.upper()))
    return fmt


def _write_atomically(path: str, data: bytes, overwrite: bool) -> None:
    """Write next to the target and move into place, so no partial file is ever left; without
    overwrite, a hard link refuses to replace a file that appeared meanwhile."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        if overwrite:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise UsageError(f"{path!r} already exists; pass --overwrite to replace it") from None
        except OSError:  # a file system without hard links: check, then move
            if os.path.lexists(path):
                raise UsageError(
                    f"{path!r} already exists; pass --overwrite to replace it"
                ) from None
            os.replace(tmp, path)
    except OSError as err:
        raise UsageError(f"cannot write {path!r}: {err.strerror or err}") from None
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _render(drawing, fmt: str) -> bytes:
    import graphviz

    if fmt == "dot":
        return drawing.source.encode("utf-8")
    try:
        return drawing.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise UsageError(INSTALL_DOT.format(fmt=fmt.upper())) from None
    except graphviz.CalledProcessError as err:
        detail = err.stderr.decode(errors="replace") if isinstance(err.stderr, bytes) else ""
        first = (
            detail.strip().splitlines()[0] if detail.strip() else f"exit status {err.returncode}"
        )
        raise UsageError(f"Graphviz's dot failed to render {fmt.upper()}: {first}") from None


def _draw(args: argparse.Namespace) -> int:
    import numpy as np

    from tinygrad_lite import Tensor, manual_seed
    from viz import draw
    from viz.console import print_tree
    from viz.expr import ExprError, evaluate, make_leaves

    if not args.output and not args.print_tree:
        raise UsageError("nothing to do: give -o FILE (.svg, .png, .pdf, .dot) or --print")
    fmt = _check_output(args.output, args.overwrite) if args.output else None
    manual_seed(args.seed)
    try:
        leaves = make_leaves(args.assignments)
        output = evaluate(args.expression, leaves)
    except ExprError as err:
        raise UsageError(str(err)) from None
    if isinstance(output, float):
        raise UsageError(
            f"{args.expression!r} uses no variable, so there is nothing to differentiate; "
            "define one with --set, e.g. --set x=3"
        )
    target = output
    # inf and NaN are results to show in the drawing, not warnings to print on stderr.
    with np.errstate(all="ignore"):
        if isinstance(output, Tensor) and output.ndim != 0:
            target = output.sum()  # backward needs a scalar to start from
            print(f"note: the output has shape {output.shape}; backward starts from its sum()")
        try:
            target.backward()
        except (ArithmeticError, ValueError, RuntimeError) as err:
            raise UsageError(f"backward failed: {' '.join(str(err).split())}") from None
        drawing = None
        if args.output:
            drawing = draw(
                target,
                values=True,
                grads=not args.no_grads,
                direction=args.direction,
                backward=args.backward,
                title=args.title,
            )
    if drawing is not None:
        _write_atomically(args.output, _render(drawing, fmt), args.overwrite)
        print(f"wrote {args.output}")
    if args.print_tree:
        print_tree(target)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command with `argv` (default: sys.argv[1:]) and return the exit status:
    0 on success, 2 for any user error (one line on stderr, nothing written).

    Example, from a shell: `tinygrad-lite draw "x*x" --set x=2 --print`.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise UsageError(f"choose a command: draw or bptt (see {parser.prog} --help)")
        return args.run(args) if args.command == "bptt" else _draw(args)
    except UsageError as err:
        print(f"{parser.prog}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except SystemExit as done:  # --help and --version print and exit with status 0
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
