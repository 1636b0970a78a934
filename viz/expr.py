"""The safe expression language of the `tinygrad-lite` command line.

A user types `sqrt(x**2 + b)` or `relu(X @ W + b)` in a shell; we must turn it into a recorded
graph without ever handing the text to `eval`. The text is parsed with `ast` and walked, with an
explicit stack, against a whitelist: numbers, names, + - * / ** @, unary minus and plus, and
calls to a fixed table of functions. Anything else is refused with an `ExprError` whose
one-line message says what was refused and where (column and the offending text). The values of
`--set NAME=VALUE` go through the same parser with an even smaller whitelist (numbers, literal
lists, `randn(4, 3)`-style constructors) or are read from a `.npy` file with `@path`.

What an expression may cost is bounded before it is paid: every op's result (and, for `@`, the
gradients backward will form) is sized from its operands' shapes before it runs, against
MAX_ELEMENTS per node and MAX_TOTAL_ELEMENTS over the whole graph; MAX_OPS caps the number of
operations at parse time; a `.npy` file is sized from its header before its data is read.
"""

from __future__ import annotations

import ast
import keyword
import math
import operator
import os
import stat
import struct
import warnings
from collections.abc import Callable, Iterable, Mapping

import numpy as np

import tinygrad_lite as tg
from tinygrad_lite import Tensor, Value
from tinygrad_lite.value import maximum as value_maximum

__all__ = [
    "EXPRESSION_FUNCTIONS",
    "ExprError",
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "MAX_LENGTH",
    "MAX_OPS",
    "MAX_TOTAL_ELEMENTS",
    "ExprWarning",
    "VALUE_FUNCTIONS",
    "evaluate",
    "make_leaves",
    "parse_assignment",
    "parse_expression",
    "parse_value",
]

MAX_LENGTH = 1000  # characters in one expression or --set value
MAX_DEPTH = 60  # nesting of the syntax tree (parentheses, calls, operator chains)
MAX_ELEMENTS = 1_000_000  # elements in any tensor an expression may create or combine
_MAX_NPY_HEADER = 10_000  # bytes: numpy's own max_header_size for read_array
# Elements over all the nodes of one graph (leaves included): 80 MB of float64, so that with
# the gradients backward keeps a drawing stays well under a gigabyte however it is written.
MAX_TOTAL_ELEMENTS = 10_000_000
MAX_OPS = 250  # operators and calls in one expression

# name -> (fewest, most arguments, what it does); the whitelist of calls in an expression.
EXPRESSION_FUNCTIONS: dict[str, tuple[int, int, str]] = {
    "sqrt": (1, 1, "square root"),
    "exp": (1, 1, "e**x"),
    "log": (1, 1, "natural logarithm"),
    "tanh": (1, 1, "hyperbolic tangent"),
    "sigmoid": (1, 1, "1 / (1 + exp(-x))"),
    "relu": (1, 1, "max(0, x)"),
    "abs": (1, 1, "|x|"),
    "max": (1, 2, "max(a, b) elementwise (max(0, x) is relu); max(X) reduces a tensor"),
    "min": (1, 2, "min(a, b) elementwise; min(X) reduces a tensor"),
    "maximum": (2, 2, "elementwise maximum"),
    "minimum": (2, 2, "elementwise minimum"),
    "sum": (1, 2, "sum(X) or sum(X, axis)"),
    "mean": (1, 2, "mean(X) or mean(X, axis)"),
    "logsumexp": (1, 2, "log(sum(exp(X))), stably"),
    "softmax": (1, 2, "softmax(X) over the last axis, or softmax(X, axis)"),
    "log_softmax": (1, 2, "log(softmax(X))"),
    "transpose": (1, 1, "matrix transpose"),
}

# name -> (fewest, most arguments, what it makes); the whitelist of calls in a --set value.
VALUE_FUNCTIONS: dict[str, tuple[int, int, str]] = {
    "randn": (0, 8, "standard normal samples of the given shape"),
    "rand": (0, 8, "uniform samples in [0, 1)"),
    "zeros": (0, 8, "zeros of the given shape"),
    "ones": (0, 8, "ones of the given shape"),
    "full": (2, 2, "full(shape, value), e.g. full((2, 3), 0.5)"),
    "arange": (1, 3, "arange(stop) or arange(start, stop[, step])"),
    "eye": (1, 2, "eye(n) or eye(n, m)"),
}

# Functions whose second argument is an axis: it must be an integer literal.
_AXIS_FUNCTIONS = {"sum", "mean", "logsumexp", "softmax", "log_softmax", "max", "min"}

# Friendly names for the syntax that is refused, so the message says what the user wrote.
_REFUSED = {
    "Attribute": "attribute access is",
    "Subscript": "indexing is",
    "Lambda": "lambda is",
    "ListComp": "comprehensions are",
    "SetComp": "comprehensions are",
    "DictComp": "comprehensions are",
    "GeneratorExp": "generator expressions are",
    "Compare": "comparisons are",
    "BoolOp": "'and'/'or' are",
    "IfExp": "conditional expressions are",
    "NamedExpr": "':=' assignments are",
    "JoinedStr": "f-strings are",
    "FormattedValue": "f-strings are",
    "Starred": "'*' unpacking is",
    "Dict": "dicts are",
    "Set": "sets are",
    "List": "lists are",
    "Tuple": "tuples are",
    "Await": "await is",
    "Yield": "yield is",
    "YieldFrom": "yield is",
    "Slice": "slices are",
}
_BINARY = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.MatMult: "@",
}
_OPERATOR_WORDS = {
    ast.FloorDiv: "'//'",
    ast.Mod: "'%'",
    ast.LShift: "'<<'",
    ast.RShift: "'>>'",
    ast.BitOr: "'|'",
    ast.BitXor: "'^'",
    ast.BitAnd: "'&'",
    ast.Not: "'not'",
    ast.Invert: "'~'",
}


# What the user probably meant by an operator the language does not have.
_OPERATOR_HINTS = {ast.BitXor: "; powers are written ** (x**2, not x^2)"}


class ExprError(ValueError):
    """A refused or failing expression. `str(err)` is one line that names what went wrong and
    where; `column` (1-based, or None) and `snippet` locate it, and `caret()` draws it.

    >>> from viz.expr import parse_expression, ExprError
    >>> try:
    ...     parse_expression("x.__class__")
    ... except ExprError as err:
    ...     print(err)
    ...     print(err.caret())
    attribute access is not allowed, at column 1: x.__class__
    x.__class__
    ^^^^^^^^^^^
    """

    def __init__(
        self,
        reason: str,
        source: str = "",
        column: int | None = None,
        end_column: int | None = None,
    ):
        reason = " ".join(str(reason).split())  # always exactly one line
        self.reason = reason
        self.source = source
        self.column = column
        self.end_column = end_column
        self.snippet = ""
        if column is not None and source:
            end = end_column if end_column is not None else column
            self.snippet = source[column - 1 : max(end, column) - 1] or source[column - 1 :]
        message = reason
        if column is not None:
            # Non-printable characters are shown escaped so the message stays one line.
            shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in self.snippet)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            message = f"{reason}, at column {column}" + (f": {shown}" if shown else "")
        super().__init__(message)

    def caret(self) -> str:
        """The source with carets under the offending part (two lines)."""
        if self.column is None or not self.source:
            return self.source
        width = max(len(self.snippet), 1)
        return f"{self.source}\n{' ' * (self.column - 1)}{'^' * width}"


class ExprWarning(UserWarning):
    """A result the expression computes but probably did not mean, such as `log(x)` at a
    negative x (NaN). The message is one line in ExprError's form (what, column, text); the
    command line prints it as a warning and still draws the graph.

    >>> import warnings
    >>> from tinygrad_lite import Value
    >>> from viz.expr import evaluate
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     y = evaluate("log(x)", {"x": Value(-1.0)})
    >>> print(caught[0].message)
    log() of a negative number is NaN (x has a value below 0), at column 1: log(x)
    """


# -- parsing ------------------------------------------------------------------------------


def _span(source: str, node: ast.AST) -> tuple[int | None, int | None]:
    """1-based character columns [start, end) of a node (ast counts UTF-8 bytes)."""
    if not hasattr(node, "col_offset"):
        return None, None
    raw = source.encode("utf-8")

    def chars(offset: int) -> int:
        return len(raw[:offset].decode("utf-8", errors="ignore"))

    start = chars(node.col_offset) + 1
    end_offset = getattr(node, "end_col_offset", None)
    end = chars(end_offset) + 1 if end_offset is not None else None
    return start, end


def _error(reason: str, source: str, node: ast.AST | None = None) -> ExprError:
    if node is None:
        return ExprError(reason, source)
    start, end = _span(source, node)
    return ExprError(reason, source, start, end)


def _parse(source: str, what: str) -> ast.Expression:
    if not isinstance(source, str):
        raise ExprError(f"{what} must be text, got {type(source).__name__}")
    if not source.strip():
        raise ExprError(f"the {what} is empty")
    if len(source) > MAX_LENGTH:
        raise ExprError(f"the {what} is {len(source)} characters long; the limit is {MAX_LENGTH}")
    for i, ch in enumerate(source):
        if not ch.isprintable():
            raise ExprError(
                f"the {what} must be one line of printable text; found {ch!r}", source, i + 1
            )
    try:
        with warnings.catch_warnings():
            # SyntaxWarnings (e.g. "'int' object is not callable") would otherwise be printed
            # or, under -W error, turn into a second kind of exception.
            warnings.simplefilter("ignore")
            return ast.parse(source, mode="eval")
    except SyntaxError as err:
        column = err.offset if err.offset and 0 < err.offset <= len(source) + 1 else None
        raise ExprError(f"syntax error in the {what} ({err.msg})", source, column) from None
    except (ValueError, MemoryError, RecursionError, OverflowError) as err:
        raise ExprError(f"cannot parse the {what}: {err}", source) from None


def _operands(node: ast.AST) -> list[ast.AST]:
    """The sub-expressions of a whitelisted node, in evaluation order."""
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Call):
        return list(node.args)
    if isinstance(node, (ast.List, ast.Tuple)):
        return list(node.elts)
    return []


def _check_number(node: ast.Constant, source: str) -> None:
    value = node.value
    if isinstance(value, bool) or value is None or value is Ellipsis:
        raise _error(f"{value!r} is not a number", source, node)
    if isinstance(value, (str, bytes)):
        raise _error("strings are not allowed", source, node)
    if isinstance(value, complex):
        raise _error("complex numbers are not allowed", source, node)
    if not isinstance(value, (int, float)):  # pragma: no cover - ast has no other constants
        raise _error(f"{type(value).__name__} constants are not allowed", source, node)
    try:
        float(value)
    except OverflowError:
        raise _error("this number is too large for a float", source, node) from None


def _is_int_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int)
        and not isinstance(node.value, bool)
    )


def _validate(tree: ast.Expression, source: str, functions: Mapping, lists: bool) -> None:
    """Walk the tree (explicit stack) and refuse anything outside the whitelist."""
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _error(f"the expression is nested more than {MAX_DEPTH} levels", source, node)
        if isinstance(node, ast.Constant):
            _check_number(node, source)
        elif isinstance(node, ast.Name):
            _check_name(node, source, functions)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                word = _OPERATOR_WORDS.get(type(node.op), type(node.op).__name__)
                hint = _OPERATOR_HINTS.get(type(node.op), "")
                raise _error(f"the operator {word} is not allowed{hint}", source, node)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                word = _OPERATOR_WORDS.get(type(node.op), type(node.op).__name__)
                raise _error(f"the operator {word} is not allowed", source, node)
        elif isinstance(node, ast.Call):
            _check_call(node, source, functions)
        elif lists and isinstance(node, ast.List):
            pass
        elif lists and isinstance(node, ast.Tuple) and node in _full_shapes(tree):
            pass  # a tuple only as the shape of full((2, 3), value)
        else:
            what = _REFUSED.get(type(node).__name__, f"{type(node).__name__.lower()} is")
            raise _error(f"{what} not allowed", source, node)
        for child in reversed(_operands(node)):
            stack.append((child, depth + 1))


def _full_shapes(tree: ast.Expression) -> list[ast.AST]:
    shapes = []
    stack: list[ast.AST] = [tree.body]
    while stack:
        node = stack.pop()
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "full"
            and node.args
        ):
            shapes.append(node.args[0])
        stack.extend(_operands(node))
    return shapes


def _check_name(node: ast.Name, source: str, functions: Mapping) -> None:
    if node.id.startswith("_"):
        raise _error("names starting with '_' are not allowed", source, node)
    if not node.id.isascii():
        raise _error("names must be ASCII letters, digits and '_'", source, node)
    if node.id in functions:
        raise _error(f"{node.id} is a function; call it as {node.id}(...)", source, node)


def _check_call(node: ast.Call, source: str, functions: Mapping) -> None:
    func = node.func
    if not isinstance(func, ast.Name):
        what = _REFUSED.get(type(func).__name__, "this kind of call is")
        raise _error(f"{what} not allowed", source, func)
    if func.id.startswith("_"):
        raise _error("names starting with '_' are not allowed", source, func)
    if func.id not in functions:
        known = ", ".join(sorted(functions))
        raise _error(f"unknown function {func.id!r} (known: {known})", source, func)
    if node.keywords:
        raise _error("keyword arguments are not allowed", source, node.keywords[0] or node)
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise _error("'*' unpacking is not allowed", source, arg)
    fewest, most, _ = functions[func.id]
    if not fewest <= len(node.args) <= most:
        counts = f"{fewest}" if fewest == most else f"{fewest} to {most}"
        raise _error(
            f"{func.id}() takes {counts} argument{'s' if most != 1 else ''}, got {len(node.args)}",
            source,
            node,
        )
    if func.id in _AXIS_FUNCTIONS and len(node.args) == 2:
        if func.id in ("max", "min"):
            return  # max(a, b) is elementwise; no axis form
        if not _is_int_literal(node.args[1]):
            raise _error(f"the axis of {func.id}() must be an integer", source, node.args[1])


def parse_expression(source: str) -> ast.Expression:
    """Parse and check an expression; the tree is returned only if every part is allowed.

    >>> from viz.expr import parse_expression
    >>> type(parse_expression("sqrt(x**2 + b)").body).__name__
    'Call'
    """
    source = source.strip() if isinstance(source, str) else source
    tree = _parse(source, "expression")
    _validate(tree, source, EXPRESSION_FUNCTIONS, lists=False)
    _check_op_count(tree, source)
    return tree


def _check_op_count(tree: ast.Expression, source: str) -> None:
    """Refuse an expression with more than MAX_OPS operators and calls, before any runs."""
    count = 0
    stack: list[ast.AST] = [tree.body]
    while stack:
        node = stack.pop()
        count += isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Call))
        stack.extend(_operands(node))
    if count > MAX_OPS:
        raise ExprError(
            f"the expression has {count} operations (operators and calls); the limit is "
            f"{MAX_OPS} operations per expression"
        )


# -- evaluation ---------------------------------------------------------------------------


def _walk_evaluate(tree: ast.Expression, apply: Callable[[ast.AST, list], object]):
    """Post-order evaluation with an explicit stack: children first, left to right."""
    results: list = []
    stack: list[tuple[ast.AST, bool]] = [(tree.body, False)]
    while stack:
        node, ready = stack.pop()
        children = _operands(node)
        if not ready:
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(children))
            continue
        count = len(children)
        args = results[len(results) - count :] if count else []
        del results[len(results) - count :]
        results.append(apply(node, args))
    return results[0]


def _kind(x) -> str:
    if isinstance(x, Tensor):
        return f"a tensor of shape {x.shape}"
    if isinstance(x, Value):
        return "a scalar"
    return "a number"


# The four operators that act the same on numbers and on tensors; "**" is the rest.
_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def _number_op(symbol: str, a: float, b: float) -> float:
    """Arithmetic on two plain numbers. Python floats raise where numpy would give inf/NaN;
    here an overflow is refused (9**9**9 must not hang or fill the graph with inf)."""
    op = _ARITHMETIC.get(symbol)
    if op is not None:
        return op(a, b)
    out = a**b
    return math.nan if isinstance(out, complex) else float(out)


def _check_size(shape: tuple, what: str) -> None:
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        raise ValueError(
            f"{what} would have shape {shape} ({count:,} elements); the limit is {MAX_ELEMENTS:,}"
        )


class _Budget:
    """The elements held by all the nodes of the graph being built, charged before each op."""

    def __init__(self) -> None:
        self.elements = 0

    def charge(self, shape: tuple, what: str) -> None:
        _check_size(shape, what)
        total = self.elements + math.prod(shape)
        if total > MAX_TOTAL_ELEMENTS:
            raise ValueError(
                f"{what} would bring the graph to {total:,} elements; the limit over all nodes "
                f"is {MAX_TOTAL_ELEMENTS:,} (use smaller --set values or a shorter expression)"
            )
        self.elements = total


def _shape_of(x) -> tuple | None:
    """The shape of the node an operand is, or None for a plain number (folded, no node)."""
    if isinstance(x, Tensor):
        return tuple(x.shape)
    if isinstance(x, Value):
        return ()
    return None


def _broadcast(a: tuple, b: tuple) -> tuple:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        # The engine's own message suggests reshape/unsqueeze, which the command line lacks.
        raise ValueError(
            f"cannot combine shapes {a} and {b}: each trailing axis must be equal, or 1 in one "
            "of them; --set operands whose shapes match (this language has no reshape)"
        ) from None


def _matmul_shapes(a: tuple, b: tuple) -> tuple[tuple, tuple, tuple]:
    """numpy's matmul rule: (result, a's gradient before summing, b's gradient before summing).
    The gradient of an operand with fewer batch axes is formed at the full batch shape and
    then summed, so it can be far larger than the operand or the result."""
    if not a or not b:
        raise ValueError(
            f"matmul needs operands with at least one axis, got shapes {a} and {b}; use * to "
            "multiply by a scalar"
        )
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ValueError(
            f"shapes {a} and {b} do not line up for matmul: the last axis of the left operand "
            f"({a2[-1]}) must equal the second-to-last of the right ({b2[-2]}); transpose an "
            "operand with transpose(X), or check the --set shapes"
        )
    try:
        batch = tuple(np.broadcast_shapes(a2[:-2], b2[:-2]))
    except ValueError:
        raise ValueError(
            f"the batch axes of shapes {a} and {b} do not broadcast for matmul: each must be "
            "equal, or 1 in one of them"
        ) from None
    result = batch + (a2[-2],) * (len(a) > 1) + (b2[-1],) * (len(b) > 1)
    return result, batch + a2[-2:], batch + b2[-2:]


def _reduced(shape: tuple, axis: int | None) -> tuple:
    if axis is None:
        return ()
    if -len(shape) <= axis < len(shape):
        return shape[: axis % len(shape)] + shape[axis % len(shape) + 1 :]
    return ()  # out of range: the engine's op names the axis and the shape


def _result_shape(node: ast.AST, args: list) -> tuple | None:
    """The shape of the node an op will make, from its operands' shapes, before it runs
    (None: a plain number, or an op that makes no node). Raises ValueError for shapes that
    cannot combine, and for an `@` whose gradients would exceed MAX_ELEMENTS."""
    shapes = [_shape_of(a) for a in args]
    if all(s is None for s in shapes):
        return None
    if isinstance(node, ast.UnaryOp):
        return shapes[0] if isinstance(node.op, ast.USub) else None
    if isinstance(node, ast.BinOp):
        a, b = shapes
        if a is None or b is None:
            return a if b is None else b
        if isinstance(node.op, ast.MatMult):
            if not (isinstance(args[0], Tensor) and isinstance(args[1], Tensor)):
                return None  # refused by _binary, which says what @ needs
            result, grad_a, grad_b = _matmul_shapes(a, b)
            _check_size(result, "the product")
            _check_size(grad_a, "the gradient of the left operand of @ (before summing)")
            _check_size(grad_b, "the gradient of the right operand of @ (before summing)")
            return result
        return _broadcast(a, b)
    name = node.func.id
    known = [s for s in shapes if s is not None]
    if name in ("max", "min", "maximum", "minimum") and len(args) == 2:
        return _broadcast(*known) if len(known) == 2 else known[0]
    if name in ("max", "min", "sum", "mean", "logsumexp"):
        if shapes[0] is None:
            return None
        return _reduced(shapes[0], int(args[1]) if len(args) == 2 else None)
    if name == "transpose":
        return shapes[0][::-1]
    return shapes[0]  # elementwise functions, softmax and log_softmax keep the shape


def _binary(symbol: str, a, b):
    if isinstance(a, float) and isinstance(b, float):
        return _number_op(symbol, a, b)
    if symbol == "@" and not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        raise TypeError(
            f"@ needs two tensors, got {_kind(a)} and {_kind(b)}; set matrices with "
            "--set X=randn(2,3)"
        )
    op = _ARITHMETIC.get(symbol)
    if op is not None:
        return op(a, b)
    return a @ b if symbol == "@" else a**b


def _as_constant_value(x: float) -> Value:
    return Value(x, requires_grad=False)


def _unary_function(name: str, x):
    if isinstance(x, float):  # a function of a plain number: computed, not recorded
        return getattr(_as_constant_value(x), name)().data
    return getattr(x, name)()


def _elementwise_max(a, b, largest: bool):
    if isinstance(a, float) and isinstance(b, float):
        return max(a, b) if largest else min(a, b)
    if isinstance(a, Value) or isinstance(b, Value):
        if largest:
            return value_maximum(a, b)
        # Values have no minimum op; min(a, b) = -max(-a, -b) keeps the same gradient rule.
        return -value_maximum(-a, -b)
    return tg.maximum(a, b) if largest else tg.minimum(a, b)


def _needs_tensor(name: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}() needs a tensor, got {_kind(x)}; set one with --set X=randn(3)")


def _call(node: ast.Call, args: list):
    name = node.func.id
    if name in ("sqrt", "exp", "log", "tanh", "sigmoid", "relu", "abs"):
        return _unary_function(name, args[0])
    if name in ("max", "min") and len(args) == 2:
        if name == "max":
            # max(0, x) and max(x, 0) are relu, drawn as one relu node (gradient 0 at 0).
            for zero, other in ((0, 1), (1, 0)):
                arg = node.args[zero]
                if isinstance(arg, ast.Constant) and arg.value == 0:
                    return _unary_function("relu", args[other])
        return _elementwise_max(args[0], args[1], name == "max")
    if name in ("maximum", "minimum"):
        return _elementwise_max(args[0], args[1], name == "maximum")
    if name in ("max", "min", "sum", "mean"):
        if not isinstance(args[0], Tensor):  # the sum of one scalar is itself
            if len(args) == 2:
                raise TypeError(f"{name}() of {_kind(args[0])} takes no axis")
            return args[0]
        axis = int(args[1]) if len(args) == 2 else None
        return getattr(args[0], name)(axis)
    if name in ("logsumexp", "softmax", "log_softmax"):
        _needs_tensor(name, args[0])
        if len(args) == 2:
            return getattr(args[0], name)(int(args[1]))
        return getattr(args[0], name)() if name != "logsumexp" else args[0].logsumexp()
    if name == "transpose":
        return args[0].T if isinstance(args[0], Tensor) else args[0]
    raise AssertionError(f"no rule for {name}")  # pragma: no cover - table and rules agree


def _evaluation_failure(node: ast.AST, err: BaseException) -> str:
    if isinstance(node, ast.Call):
        where = f"{node.func.id}()"
    elif isinstance(node, ast.BinOp):
        where = _BINARY[type(node.op)]
    else:
        where = "-"
    if isinstance(err, OverflowError):
        return f"{where}: the result is too large (overflow)"
    if isinstance(err, ZeroDivisionError):
        return f"{where}: division by zero"
    if isinstance(err, MemoryError):
        return f"{where}: not enough memory for the result"
    text = str(err) or type(err).__name__
    return text if text.startswith(where.rstrip("()")) else f"{where}: {text}"


def evaluate(source: str, variables: Mapping[str, object]):
    """Evaluate an expression on named Values or Tensors; the result records the graph.

    Plain numbers in the text are constants. Errors (undefined names, shape mismatches,
    overflow) raise ExprError pointing at the part of the text that failed.

    >>> from tinygrad_lite import Value
    >>> from viz.expr import evaluate
    >>> x, b = Value(3.0, label="x"), Value(1.0, label="b")
    >>> y = evaluate("sqrt(x**2 + b)", {"x": x, "b": b})
    >>> y.backward()
    >>> round(y.data, 4), round(x.grad, 4)
    (3.1623, 0.9487)
    """
    # Surrounding spaces are dropped (ast would call a leading space an indent); columns in
    # messages count from the first non-space character.
    source = source.strip() if isinstance(source, str) else source
    tree = parse_expression(source)
    for node in _names(tree):
        if node.id not in variables:
            defined = ", ".join(sorted(variables)) or "none"
            raise _error(
                f"undefined name {node.id!r} (defined: {defined}); set it with --set {node.id}=...",
                source,
                node,
            )

    # Every node's size is charged before the op that makes it runs: the leaves first.
    budget = _Budget()
    for name in dict.fromkeys(node.id for node in _names(tree)):
        shape = _shape_of(variables[name])
        if shape is not None:
            try:
                budget.charge(shape, f"the variable {name!r}")
            except ValueError as err:
                raise ExprError(str(err)) from None

    def apply(node: ast.AST, args: list):
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return _variable(node, variables[node.id], source)
        try:
            shape = _result_shape(node, args)
            if shape is not None:
                budget.charge(shape, "the result")
            if isinstance(node, ast.UnaryOp):
                return -args[0] if isinstance(node.op, ast.USub) else args[0]
            if isinstance(node, ast.BinOp):
                symbol = _BINARY[type(node.op)]
                if symbol == "**":
                    _warn_if_nan_power(node, args, source)
                return _binary(symbol, args[0], args[1])
            if node.func.id in _DOMAINS:
                _warn_outside_domain(node, args[0], source)
            return _call(node, args)
        except (ArithmeticError, ValueError, TypeError, IndexError, MemoryError) as err:
            raise _error(_evaluation_failure(node, err), source, node) from None

    with np.errstate(all="ignore"):  # inf/NaN are results to draw, not warnings
        return _walk_evaluate(tree, apply)


# Functions with a domain: below it the result is NaN (or -Inf at log's edge), which the
# drawing shows; a warning says why before the user goes looking.
_DOMAINS = {"log", "sqrt"}


def _numbers(x) -> np.ndarray | None:
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, Value):
        return np.asarray(x.data)
    return np.asarray(x) if isinstance(x, float) else None


def _warn(reason: str, source: str, node: ast.AST) -> None:
    message = str(_error(reason, source, node))
    warnings.warn(ExprWarning(message), stacklevel=4)


def _operand_text(source: str, node: ast.AST) -> str:
    start, end = _span(source, node)
    text = source[start - 1 : end - 1] if start is not None and end is not None else "x"
    return text if len(text) <= 30 else text[:27] + "..."


def _warn_outside_domain(node: ast.Call, x, source: str) -> None:
    values = _numbers(x)
    if values is None:
        return
    name, what = node.func.id, _operand_text(source, node.args[0])
    which = "a value" if values.size == 1 else "values"
    if np.any(values < 0):
        _warn(f"{name}() of a negative number is NaN ({what} has {which} below 0)", source, node)
    elif name == "log" and np.any(values == 0):
        _warn(f"log(0) is -Inf ({what} has {which} equal to 0)", source, node)


def _warn_if_nan_power(node: ast.BinOp, args: list, source: str) -> None:
    base, exponent = _numbers(args[0]), _numbers(args[1])
    if isinstance(args[0], float) and isinstance(args[1], float):
        return  # two plain numbers are folded by _number_op
    try:
        fractional = np.broadcast_arrays(base < 0, exponent != np.round(exponent))
    except ValueError:
        return  # the shapes do not combine: the op itself reports it
    if np.any(fractional[0] & fractional[1]):
        what = _operand_text(source, node.left)
        which = "a value" if base.size == 1 else "values"
        _warn(
            f"a negative number to a fractional power is NaN ({what} has {which} below 0)",
            source,
            node,
        )


def _variable(node: ast.Name, value, source: str):
    """A variable's value as the evaluator needs it: Values and Tensors as they are, plain
    numbers as floats (so `n**n**n` with an int n cannot become a huge exact integer)."""
    if isinstance(value, (Value, Tensor)):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    ):
        return float(value)
    raise _error(
        f"the variable {node.id!r} is a {type(value).__name__}; pass a Value, a Tensor or a number",
        source,
        node,
    )


def _names(tree: ast.Expression) -> Iterable[ast.Name]:
    """Every variable name in the tree, left to right."""
    found = []
    stack: list[ast.AST] = [tree.body]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            found.append(node)
        stack.extend(reversed(_operands(node)))
    return found


# -- --set values -------------------------------------------------------------------------


def parse_assignment(text: str) -> tuple[str, str]:
    """Split `NAME=VALUE` and check that NAME can be used in an expression.

    >>> from viz.expr import parse_assignment
    >>> parse_assignment("X = randn(4, 3)")
    ('X', 'randn(4, 3)')
    """
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep:
        raise ExprError(f"--set needs NAME=VALUE, got {text!r}")
    if not name.isidentifier() or not name.isascii():
        raise ExprError(f"--set {text!r}: {name!r} is not a valid name (letters, digits, _)")
    if keyword.iskeyword(name):
        raise ExprError(f"--set {text!r}: {name!r} is a Python keyword; choose another name")
    if name.startswith("_"):
        raise ExprError(f"--set {text!r}: names starting with '_' are not allowed")
    if name in EXPRESSION_FUNCTIONS:
        raise ExprError(f"--set {text!r}: {name!r} is a function name; choose another name")
    if not value:
        raise ExprError(f"--set {text!r}: the value after '=' is empty")
    return name, value


def _shape(node: ast.Call, args: list) -> tuple[int, ...]:
    shape = []
    for arg, value in zip(node.args, args):
        if not _is_int_literal(arg) or value < 0:
            raise ValueError("sizes must be non-negative integers")
        shape.append(int(value))
    _check_size(tuple(shape), "the tensor")
    return tuple(shape)


def _construct(node: ast.Call, args: list) -> np.ndarray:
    name = node.func.id
    if name in ("randn", "rand", "zeros", "ones"):
        shape = _shape(node, args)
        maker = {"randn": tg.randn, "rand": tg.rand, "zeros": tg.zeros, "ones": tg.ones}[name]
        return maker(*shape, dtype=np.float64).data
    if name == "full":
        size, fill = node.args[0], args[1]
        if isinstance(size, ast.Tuple):
            shape = _shape(ast.Call(func=node.func, args=size.elts, keywords=[]), args[0])
        else:
            shape = _shape(ast.Call(func=node.func, args=[size], keywords=[]), [args[0]])
        if not isinstance(fill, float):
            raise ValueError("the fill value must be a number")
        return np.full(shape, fill, dtype=np.float64)
    if name == "arange":
        if not all(isinstance(a, float) for a in args):
            raise ValueError("arange() takes numbers")
        start, stop, step = (0.0, args[0], 1.0) if len(args) == 1 else (*args, 1.0)[:3]
        if step == 0:
            raise ValueError("the step must not be 0")
        count = max(math.ceil((stop - start) / step), 0)
        _check_size((count,), "arange()")
        return np.arange(start, stop, step, dtype=np.float64)
    # eye
    if not all(_is_int_literal(a) for a in node.args) or min(args) < 0:
        raise ValueError("eye() takes non-negative integers")
    n = int(args[0])
    m = int(args[1]) if len(args) == 2 else n
    _check_size((n, m), "eye()")
    return np.eye(n, m, dtype=np.float64)


def _load_npy(path: str, text: str) -> np.ndarray:
    """Read one array from a .npy file, sizing it from the header before reading any data: a
    header may claim any shape, and the data is only read once the shape is within the
    limit, the dtype numeric and the file long enough to hold it. Never unpickles."""
    shown = f"--set {text}"
    path = os.path.expanduser(path)
    try:
        # O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer; it is refused.
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        with open(os.open(path, flags), "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise ExprError(f"{shown}: {path!r} is a directory, not a .npy file")
            if not stat.S_ISREG(mode):
                raise ExprError(f"{shown}: {path!r} is not a regular file")
            dtype, shape, offset = _npy_header(handle, shown, path)
            count = math.prod(shape)
            if dtype.kind not in "biuf":
                what = (
                    "Python objects, which are never unpickled"
                    if dtype.hasobject
                    else f"{dtype} data; a numeric array is needed"
                )
                raise ExprError(f"{shown}: {path!r} holds {what}")
            if count > MAX_ELEMENTS:
                raise ExprError(
                    f"{shown}: {path!r} has shape {shape} ({count:,} elements); the limit is "
                    f"{MAX_ELEMENTS:,}"
                )
            size = os.fstat(handle.fileno()).st_size
            if size < offset + count * dtype.itemsize:
                raise ExprError(
                    f"{shown}: {path!r} is truncated: its header says {shape} {dtype} "
                    f"({count * dtype.itemsize:,} bytes) but {max(size - offset, 0):,} follow"
                )
            handle.seek(0)
            loaded = np.lib.format.read_array(handle, allow_pickle=False)
    except ExprError:
        raise
    except FileNotFoundError:
        raise ExprError(f"{shown}: no such file {path!r}") from None
    except IsADirectoryError:
        raise ExprError(f"{shown}: {path!r} is a directory, not a .npy file") from None
    except PermissionError:
        raise ExprError(f"{shown}: no permission to read {path!r}") from None
    except ValueError as err:
        raise ExprError(f"{shown}: cannot load {path!r}: it is not a .npy file ({err})") from None
    except (OSError, EOFError) as err:
        raise ExprError(f"{shown}: cannot read {path!r}: {err}") from None
    return loaded.astype(np.float64)


def _npy_header(handle, shown: str, path: str) -> tuple[np.dtype, tuple, int]:
    """(dtype, shape, data offset) from a .npy header, which numpy parses without running
    code (`ast.literal_eval` under a size limit)."""
    start = handle.read(6)
    handle.seek(0)
    if start[:4] == b"PK\x03\x04":  # a zip file: np.savez writes those
        raise ExprError(
            f"{shown}: {path!r} is an .npz archive (several arrays); save one array with "
            "np.save to a .npy file"
        )
    if start != b"\x93NUMPY":
        raise ExprError(f"{shown}: {path!r} is not a .npy file (it does not start like one)")
    version = np.lib.format.read_magic(handle)
    if version not in ((1, 0), (2, 0)):
        # 3.0 only adds UTF-8 field names, i.e. structured arrays, which are refused anyway
        raise ExprError(
            f"{shown}: {path!r} is a .npy file of version {version}; save a plain "
            "numeric array with np.save"
        )
    # The header's length comes first (2 bytes in 1.0, 4 in 2.0): check it against numpy's
    # limit and the file's size before numpy reads (and allocates) that many bytes.
    length_format = "<H" if version == (1, 0) else "<I"
    length_bytes = handle.read(struct.calcsize(length_format))
    if len(length_bytes) < struct.calcsize(length_format):
        raise ExprError(f"{shown}: {path!r} is truncated: it ends inside its .npy header")
    (length,) = struct.unpack(length_format, length_bytes)
    if length > _MAX_NPY_HEADER:
        raise ExprError(
            f"{shown}: {path!r}: the header is too large ({length:,} bytes; numpy reads at most "
            f"{_MAX_NPY_HEADER:,}); save a plain numeric array with np.save"
        )
    if handle.tell() + length > os.fstat(handle.fileno()).st_size:
        raise ExprError(
            f"{shown}: {path!r} is truncated: its header claims {length:,} bytes, more than "
            "the file holds"
        )
    handle.seek(8)  # just after the magic string and the version
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    return dtype, tuple(int(d) for d in shape), handle.tell()


def parse_value(text: str, name: str = "value") -> float | np.ndarray:
    """The value of one `--set`: a number, a literal list, a constructor call such as
    `randn(4, 3)`, `zeros(3)`, `ones(2, 2)`, `rand(3)`, `full((2, 3), 0.5)`, `arange(4)`,
    `eye(3)`, or `@file.npy`. Numbers come back as floats, everything else as float64 arrays.

    >>> from viz.expr import parse_value
    >>> parse_value("-3"), parse_value("[1, 2, 3]").tolist(), parse_value("zeros(2, 1)").shape
    (-3.0, [1.0, 2.0, 3.0], (2, 1))
    """
    if text.startswith("@"):
        return _load_npy(text[1:].strip(), f"{name}={text}")
    try:
        return _parse_value(text)
    except ExprError as err:  # say which --set failed; the column is within its value
        raise ExprError(f"--set {name}: {err.reason}", text, err.column, err.end_column) from None


def _parse_value(text: str) -> float | np.ndarray:
    text = text.strip()
    tree = _parse(text, "value")
    _validate(tree, text, VALUE_FUNCTIONS, lists=True)
    if _names(tree):
        node = _names(tree)[0]
        raise _error(
            f"a --set value cannot use the name {node.id!r}; use a number, a list or one of "
            f"{', '.join(sorted(VALUE_FUNCTIONS))}",
            text,
            node,
        )

    def apply(node: ast.AST, args: list):
        if isinstance(node, ast.Constant):
            return float(node.value)
        try:
            if isinstance(node, ast.UnaryOp):
                if not isinstance(args[0], float):
                    raise ValueError("'-' applies to numbers here")
                return -args[0] if isinstance(node.op, ast.USub) else args[0]
            if isinstance(node, ast.BinOp):
                if not (isinstance(args[0], float) and isinstance(args[1], float)):
                    raise ValueError("arithmetic in a --set value applies to numbers only")
                return _number_op(_BINARY[type(node.op)], args[0], args[1])
            if isinstance(node, ast.Tuple):
                return list(args)
            if isinstance(node, ast.List):
                return np.array(args, dtype=np.float64)
            return _construct(node, args)
        except (ArithmeticError, ValueError, TypeError, MemoryError) as err:
            if isinstance(node, ast.List):
                reason = "the list is not rectangular (rows of different lengths)"
            elif isinstance(node, ast.Call):
                reason = f"{node.func.id}(): {err}"
            else:
                reason = _evaluation_failure(node, err)
            raise _error(reason, text, node) from None

    with np.errstate(all="ignore"):
        return _walk_evaluate(tree, apply)


def make_leaves(assignments: Iterable[str]) -> dict[str, Value | Tensor]:
    """Turn `--set` texts into named leaves that require grad. If any value is an array,
    every value becomes a float64 Tensor (scalars 0-d) so they combine; otherwise all are
    Values. Leaves carry their names as labels.

    >>> from viz.expr import make_leaves
    >>> leaves = make_leaves(["x=3", "b=1"])
    >>> leaves["x"]
    Value(data=3.0, grad=0.0, label='x')
    >>> {k: v.shape for k, v in make_leaves(["X=ones(2, 3)", "c=2"]).items()}
    {'X': (2, 3), 'c': ()}
    """
    raw: dict[str, float | np.ndarray] = {}
    total = 0
    for text in assignments:
        name, value = parse_assignment(text)
        if name in raw:
            raise ExprError(f"--set {text!r}: {name!r} is set twice")
        raw[name] = parse_value(value, name)
        total += np.size(raw[name])
        if total > MAX_TOTAL_ELEMENTS:
            raise ExprError(
                f"--set {name}: the --set values hold {total:,} elements together; the limit "
                f"over all nodes is {MAX_TOTAL_ELEMENTS:,}"
            )
    if any(isinstance(v, np.ndarray) for v in raw.values()):
        return {
            name: Tensor(np.asarray(v, dtype=np.float64), requires_grad=True, name=name)
            for name, v in raw.items()
        }
    return {name: Value(v, label=name) for name, v in raw.items()}
