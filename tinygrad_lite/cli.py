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
import shlex
import shutil
import sys
import warnings

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
        "rand(2), zeros(3), ones(2, 2), full((2, 3), 0.5), arange(4), eye(3), @file.npy. "
        "Limits, checked before anything is computed: 1,000,000 elements in any tensor (the "
        "gradients @ forms included), 10,000,000 over all nodes, 250 operations.",
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


def _shown(text: object) -> str:
    """Text for the terminal: control characters (an ANSI escape in a file name or in an
    unrecognized argument) written as Python escapes, so they are seen, not obeyed."""
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode()
        for ch in str(text)
    )


def _check_set_spacing(argv: list[str]) -> None:
    """`--set x 3`, `--set x = 3`, `--set x= 3` and `--set x =3` all mean `--set x=3`: say so,
    rather than "unrecognized arguments: 3" or "--set needs NAME=VALUE"."""
    for i, token in enumerate(argv[:-1]):
        if token != "--set":
            continue
        name, following = argv[i + 1], argv[i + 2 : i + 4]
        if "=" in name and not name.endswith("="):
            continue  # NAME=VALUE as one word
        if name.endswith("="):  # --set x= 3
            name, value = name[:-1], following[0] if following else None
        elif following and following[0] == "=":  # --set x = 3
            value = following[1] if len(following) > 1 else None
        elif following and following[0].startswith("="):  # --set x =3
            value = following[0][1:]
        else:  # --set x 3 (a value may start with one '-': --set x -3)
            value = following[0] if following else None
        if not value or (value.startswith("-") and not value[1:2].isdigit()):
            continue  # an option, not a value: parse_assignment says NAME=VALUE
        if not _parses_as_value(value, name):  # e.g. the expression, after `--set b`
            raise UsageError(f"--set needs NAME=VALUE, got {name!r}")
        raise UsageError(
            "--set takes NAME=VALUE as one word, without spaces: write --set "
            + shlex.quote(f"{name}={value}")
        )


def _parses_as_value(value: str, name: str) -> bool:
    """Whether `--set NAME=value` would be accepted (so that suggesting it helps); an
    `@file.npy` is taken as one without reading the file."""
    if value.startswith("@"):
        return True
    from viz.expr import ExprError, parse_value

    try:
        parse_value(value, name)
    except (ExprError, ValueError, TypeError, MemoryError):
        return False
    return True


def check_writable(path: str, overwrite: bool, example: str = "graph.svg") -> None:
    """Refuse, before any work is done, an output path that is a folder, exists (without
    --overwrite) or lies in a folder that is missing or not writable. Shared by every
    subcommand that writes a file."""
    if os.path.isdir(path):
        raise UsageError(f"{path!r} is a directory; give a file name such as {path}/{example}")
    if os.path.lexists(path) and not overwrite:
        raise UsageError(f"{path!r} already exists; pass --overwrite to replace it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"the folder {folder!r} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {path!r}: the folder {folder!r} is not writable")


def _check_output(path: str, overwrite: bool) -> str:
    """Validate the output path before any work is done; returns the format."""
    extension = os.path.splitext(path)[1].lower()
    if extension not in FORMATS:
        known = ", ".join(sorted(set(FORMATS) - {".gv"}))
        raise UsageError(f"cannot tell the format of {path!r}: use one of {known}")
    check_writable(path, overwrite)
    fmt = FORMATS[extension]
    if fmt != "dot" and shutil.which("dot") is None:
        raise UsageError(INSTALL_DOT.format(fmt=fmt.upper()))
    return fmt


def _write(path: str, data: bytes, overwrite: bool) -> None:
    """Publish the file whole through safe_io: never over a file (or a dangling symlink)
    unless --overwrite, even one that appeared while the drawing was made."""
    from .safe_io import write_file

    try:
        write_file(path, data, overwrite=overwrite)
    except FileExistsError:
        raise UsageError(f"{path!r} already exists; pass --overwrite to replace it") from None
    except OSError as err:
        raise UsageError(f"cannot write {path!r}: {err.strerror or err}") from None


def _render(drawing, fmt: str) -> bytes:
    import graphviz

    if fmt == "dot":
        return drawing.source.encode("utf-8")
    try:
        return drawing.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise UsageError(INSTALL_DOT.format(fmt=fmt.upper())) from None
    except OSError as err:  # e.g. a broken pipe: dot stopped reading and exited
        raise UsageError(
            f"Graphviz's dot failed to render {fmt.upper()}: {err.strerror or err}"
        ) from None
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
    from viz.expr import ExprError, ExprWarning, evaluate, make_leaves

    if not args.output and not args.print_tree:
        raise UsageError("nothing to do: give -o FILE (.svg, .png, .pdf, .dot) or --print")
    fmt = _check_output(args.output, args.overwrite) if args.output else None
    manual_seed(args.seed)
    try:
        leaves = make_leaves(args.assignments)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ExprWarning)
            output = evaluate(args.expression, leaves)
    except ExprError as err:
        raise UsageError(str(err)) from None
    for warning in caught:  # e.g. log(x) at a negative x: drawn as NaN, said here
        if issubclass(warning.category, ExprWarning):
            print(f"tinygrad-lite: warning: {_shown(warning.message)}", file=sys.stderr)
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
    written = None
    try:
        if drawing is not None:
            _write(args.output, _render(drawing, fmt), args.overwrite)
            written = args.output
            print(f"wrote {_shown(args.output)}")
        if args.print_tree:
            print_tree(target)
    except BrokenPipeError:  # graphviz's pipe has its own message (_render): this is stdout
        raise _StdoutClosed(written) from None
    return 0


class _StdoutClosed(Exception):
    """Standard output was closed by its reader (`| head`) after `written` (a path, or None)
    was written."""

    def __init__(self, written: str | None) -> None:
        super().__init__(written)
        self.written = written


def main(argv: list[str] | None = None) -> int:
    """Run the command with `argv` (default: sys.argv[1:]) and return the exit status:
    0 on success, 2 for any user error (one line on stderr, nothing written).

    Example, from a shell: `tinygrad-lite draw "x*x" --set x=2 --print`.
    """
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        try:
            args = parser.parse_args(argv)
        except UsageError:
            _check_set_spacing(argv)  # the likelier mistake, said first
            raise
        if args.command is None:
            raise UsageError(f"choose a command: draw or bptt (see {parser.prog} --help)")
        if args.command == "bptt":
            return args.run(args)
        _check_set_spacing(argv)
        return _draw(args)
    except UsageError as err:
        print(f"{parser.prog}: error: {_shown(' '.join(str(err).split()))}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            f"{parser.prog}: error: not enough memory for this drawing; use smaller --set "
            "values or a shorter expression",
            file=sys.stderr,
        )
        return 2
    except SystemExit as done:  # --help and --version print and exit with status 0
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    except (_StdoutClosed, BrokenPipeError) as err:  # stdout closed early (`| head`)
        if sys.stdout is sys.__stdout__:  # keep the flush at exit from failing a second time
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):
                pass
        written = getattr(err, "written", None)
        print(
            f"{parser.prog}: error: standard output was closed (e.g. by | head) before "
            "everything was printed" + (f"; {_shown(written)} was written" if written else ""),
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
