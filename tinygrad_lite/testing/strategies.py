"""Hypothesis strategies that draw inputs for gradient tests: float arrays kept away from the
points where a derivative misbehaves, shapes that broadcast together, and random expression
graphs over the engine's ops.

Finite differences are only trustworthy where a function is smooth and well scaled, so every
strategy here can keep its draws away from the trouble spots: zero for `log` and division, the
kinks of `relu` and `abs`, ties of `maximum`, overflow of `exp`. The project's own test suite
draws from these strategies, and so can users testing functions of their own.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

try:
    from hypothesis import reject
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as err:  # pragma: no cover - hypothesis is a test extra
    raise ImportError(
        "tinygrad_lite.testing needs hypothesis; install it with: pip install 'tinygrad-lite[test]'"
    ) from err

from ..autograd import no_grad
from ..tensor import Tensor, maximum, minimum

__all__ = [
    "GRAPH_OPS",
    "ExpressionGraph",
    "GraphOp",
    "Step",
    "arrays",
    "broadcastable_shapes",
    "expression_graphs",
]

SearchStrategy = st.SearchStrategy


# ------------------------------------------------------------------------------------------
# Arrays
# ------------------------------------------------------------------------------------------


def _hole(p: float, margin: float) -> tuple[float, float]:
    """The open interval of numbers closer than `margin` to `p`, its edges moved outward until
    the distance computed in floating point is >= margin (0.3 - 0.25 < 0.05 in binary)."""
    lo, hi = p - margin, p + margin
    while p - lo < margin:
        lo = math.nextafter(lo, -math.inf)
    while hi - p < margin:
        hi = math.nextafter(hi, math.inf)
    return lo, hi


def _allowed_intervals(
    min_value: float, max_value: float, min_magnitude: float, avoid: Sequence[float], margin
) -> list[tuple[float, float]]:
    """[min_value, max_value] minus the open balls around 0 (radius min_magnitude) and around
    each avoided point (radius margin), as a list of closed intervals."""
    holes = [_hole(p, margin) for p in avoid]
    if min_magnitude > 0:
        holes.append((-min_magnitude, min_magnitude))
    intervals = [(float(min_value), float(max_value))]
    for lo_hole, hi_hole in holes:
        kept = []
        for lo, hi in intervals:
            if hi <= lo_hole or lo >= hi_hole:  # no overlap with the open hole
                kept.append((lo, hi))
                continue
            if lo <= lo_hole:
                kept.append((lo, lo_hole))
            if hi >= hi_hole:
                kept.append((hi_hole, hi))
        intervals = kept
    return intervals


def _inward(lo: float, hi: float, dtype: np.dtype) -> tuple[float, float]:
    """Bounds rounded inward to numbers the dtype can hold (hypothesis needs exact bounds)."""
    if dtype == np.float64:
        return lo, hi
    lo_d, hi_d = dtype.type(lo), dtype.type(hi)
    if lo_d < lo:
        lo_d = np.nextafter(lo_d, dtype.type(np.inf))
    if hi_d > hi:
        hi_d = np.nextafter(hi_d, dtype.type(-np.inf))
    return float(lo_d), float(hi_d)


def _min_gap(a: np.ndarray) -> float:
    if a.size < 2:
        return math.inf
    return float(np.min(np.diff(np.sort(a, axis=None))))


def arrays(
    shape: tuple[int, ...] | SearchStrategy | None = None,
    dtype: DTypeLike = np.float64,
    min_value: float = -3.0,
    max_value: float = 3.0,
    min_magnitude: float = 0.0,
    avoid: Sequence[float] | None = None,
    margin: float = 1e-3,
    unique: bool = False,
    min_gap: float = 0.0,
) -> SearchStrategy[np.ndarray]:
    """Float arrays with every element in [min_value, max_value] and kept out of trouble:

    - `min_magnitude`: |element| >= min_magnitude (keeps `log`, `sqrt` and division away from 0);
    - `avoid`: points to stay at least `margin` away from (kinks: 0 for relu and abs, the bounds
      of a clip);
    - `unique` / `min_gap`: all elements distinct, or at least `min_gap` apart (max/min
      reductions, where a tie is a kink).

    `shape` is a tuple, a strategy of tuples, or None for any shape with up to 3 axes of up to 4
    elements. No draw is ever filtered except for `min_gap`: the allowed set is built as a union
    of intervals and drawn from directly.

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> from tinygrad_lite.testing import arrays
    >>> @settings(max_examples=20)
    ... @given(arrays((2, 3), min_magnitude=0.5, avoid=[2.0], margin=0.1))
    ... def check(a):
    ...     assert a.shape == (2, 3) and a.dtype == np.float64
    ...     assert np.all(np.abs(a) >= 0.5) and np.all(np.abs(a - 2.0) >= 0.1)
    >>> check()
    """
    return _arrays(
        tuple(shape) if isinstance(shape, list) else shape,
        np.dtype(dtype),
        float(min_value),
        float(max_value),
        float(min_magnitude),
        tuple(float(p) for p in (avoid or ())),
        float(margin),
        bool(unique),
        float(min_gap),
    )


# Tests draw arrays inside composite strategies, once per example: building the hypothesis
# strategy is the expensive part, so identical requests share one.
@functools.lru_cache(maxsize=1024)
def _arrays(shape, dtype, min_value, max_value, min_magnitude, avoid, margin, unique, min_gap):
    if dtype.kind != "f" or dtype.itemsize not in (4, 8):
        raise ValueError(f"arrays: dtype must be float32 or float64, got {dtype}")
    if not (math.isfinite(min_value) and math.isfinite(max_value) and min_value <= max_value):
        raise ValueError(
            f"arrays: need finite min_value <= max_value, got [{min_value}, {max_value}]"
        )
    if min_magnitude < 0 or margin < 0 or min_gap < 0:
        raise ValueError("arrays: min_magnitude, margin and min_gap must be >= 0")
    intervals = []
    for lo, hi in _allowed_intervals(min_value, max_value, min_magnitude, avoid, margin):
        lo, hi = _inward(lo, hi, dtype)
        if lo <= hi:
            intervals.append((lo, hi))
    if not intervals:
        raise ValueError(
            f"arrays: nothing is left of [{min_value}, {max_value}] once |x| >= {min_magnitude} "
            f"and the points {avoid} (margin {margin}) are excluded; widen the range"
        )
    width = 32 if dtype.itemsize == 4 else 64
    elements = st.one_of(
        [
            st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=width)
            for lo, hi in intervals
        ]
    )
    if shape is None:
        shape = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
    strategy = hnp.arrays(dtype, shape, elements=elements, unique=unique or min_gap > 0)
    if min_gap > 0:
        strategy = strategy.filter(lambda a: _min_gap(a) >= min_gap)
    return strategy


# ------------------------------------------------------------------------------------------
# Broadcastable shapes
# ------------------------------------------------------------------------------------------


def broadcastable_shapes(
    num_shapes: int = 2,
    min_dims: int = 0,
    max_dims: int = 3,
    min_side: int = 1,
    max_side: int = 4,
) -> SearchStrategy[tuple[tuple[int, ...], ...]]:
    """Tuples of `num_shapes` shapes that numpy broadcasting accepts together.

    A result shape is drawn first; each operand then keeps some trailing part of it (missing
    leading axes) and sets any of the kept axes to 1 (size-1 axes), the two ways broadcasting
    stretches an operand. Each shape has between `min_dims` and `max_dims` axes.

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> from tinygrad_lite.testing import broadcastable_shapes
    >>> @settings(max_examples=20)
    ... @given(broadcastable_shapes(3))
    ... def check(shapes):
    ...     assert len(shapes) == 3
    ...     np.broadcast_shapes(*shapes)  # raises if they do not broadcast
    >>> check()
    """
    if num_shapes < 1:
        raise ValueError(f"broadcastable_shapes: num_shapes must be >= 1, got {num_shapes}")
    if not 0 <= min_dims <= max_dims:
        raise ValueError(
            f"broadcastable_shapes: need 0 <= min_dims <= max_dims, got {min_dims}, {max_dims}"
        )
    if not 1 <= min_side <= max_side:
        raise ValueError(
            f"broadcastable_shapes: need 1 <= min_side <= max_side, got {min_side}, {max_side}"
        )

    @st.composite
    def draw_shapes(draw):
        ndim = draw(st.integers(min_dims, max_dims))
        result = [draw(st.integers(min_side, max_side)) for _ in range(ndim)]
        shapes = []
        for _ in range(num_shapes):
            kept = draw(st.integers(min_dims, ndim))  # axes left after dropping leading ones
            shape = tuple(1 if draw(st.booleans()) else n for n in result[ndim - kept :])
            shapes.append(shape)
        return tuple(shapes)

    return draw_shapes()


# ------------------------------------------------------------------------------------------
# Expression graphs
# ------------------------------------------------------------------------------------------

MAX_MAGNITUDE = 1e3  # intermediate values stay below this: finite differences stay accurate


@dataclass(frozen=True)
class GraphOp:
    """One op an expression graph may use.

    `template` renders it (str.format with the operands' descriptions), `apply` computes it on
    Tensors, and `admits` says whether it is well-conditioned on the given operand arrays (None:
    always)."""

    name: str
    arity: int
    template: str
    apply: Callable[..., Tensor]
    admits: Callable[..., bool] | None = None


def _all_above(bound: float) -> Callable[[np.ndarray], bool]:
    return lambda a: bool(np.min(a) >= bound)


def _away_from_zero(bound: float) -> Callable[[np.ndarray], bool]:
    return lambda a: bool(np.min(np.abs(a)) >= bound)


def _untied(a: np.ndarray, b: np.ndarray) -> bool:
    # maximum/minimum have a kink where a == b: finite differences there are meaningless.
    return bool(np.min(np.abs(a - b)) >= 1e-3)


def _has_axis(a: np.ndarray) -> bool:
    return a.ndim >= 1


_OPS = [
    GraphOp("+", 2, "({0} + {1})", lambda a, b: a + b),
    GraphOp("-", 2, "({0} - {1})", lambda a, b: a - b),
    GraphOp("*", 2, "({0} * {1})", lambda a, b: a * b),
    GraphOp("/", 2, "({0} / {1})", lambda a, b: a / b, lambda a, b: _away_from_zero(0.25)(b)),
    GraphOp(
        "**",
        2,
        "({0} ** {1})",
        lambda a, b: a**b,
        lambda a, b: bool(np.min(a) >= 0.25 and np.max(np.abs(b)) <= 2),
    ),
    GraphOp("maximum", 2, "maximum({0}, {1})", maximum, _untied),
    GraphOp("minimum", 2, "minimum({0}, {1})", minimum, _untied),
    GraphOp("neg", 1, "(-{0})", lambda a: -a),
    GraphOp("exp", 1, "exp({0})", Tensor.exp, lambda a: bool(np.max(a) <= 3)),
    GraphOp("log", 1, "log({0})", Tensor.log, _all_above(0.1)),
    GraphOp("sqrt", 1, "sqrt({0})", Tensor.sqrt, _all_above(0.1)),
    GraphOp("tanh", 1, "tanh({0})", Tensor.tanh),
    GraphOp("sigmoid", 1, "sigmoid({0})", Tensor.sigmoid),
    GraphOp("relu", 1, "relu({0})", Tensor.relu, _away_from_zero(1e-3)),
    GraphOp("abs", 1, "abs({0})", Tensor.abs, _away_from_zero(1e-3)),
    GraphOp("square", 1, "({0} ** 2)", lambda a: a**2),
    GraphOp("scale", 1, "(0.5 * {0})", lambda a: 0.5 * a),
    GraphOp("rsub", 1, "(1 - {0})", lambda a: 1 - a),
    GraphOp("reciprocal", 1, "(1 / {0})", lambda a: 1 / a, _away_from_zero(0.25)),
    GraphOp(
        "sum", 1, "sum({0}, axis=-1, keepdims=True)", lambda a: a.sum(-1, keepdims=True), _has_axis
    ),
    GraphOp(
        "mean",
        1,
        "mean({0}, axis=-1, keepdims=True)",
        lambda a: a.mean(-1, keepdims=True),
        _has_axis,
    ),
    GraphOp(
        "logsumexp",
        1,
        "logsumexp({0}, axis=-1, keepdims=True)",
        lambda a: a.logsumexp(-1, keepdims=True),
        _has_axis,
    ),
    GraphOp("softmax", 1, "softmax({0}, axis=-1)", lambda a: a.softmax(-1), _has_axis),
    GraphOp("log_softmax", 1, "log_softmax({0}, axis=-1)", lambda a: a.log_softmax(-1), _has_axis),
]

GRAPH_OPS: dict[str, GraphOp] = {op.name: op for op in _OPS}
"""The ops `expression_graphs` draws from, by name. Reductions keep their axis (keepdims) so
every node's shape still broadcasts against every other node's."""


class Step(tuple):
    """One node of an `ExpressionGraph`: `(op, args)`, where `args` index the graph's value list
    (the inputs first, then the result of each earlier step)."""

    __slots__ = ()

    def __new__(cls, op: str, args: tuple[int, ...]):
        return super().__new__(cls, (op, tuple(args)))

    @property
    def op(self) -> str:
        return self[0]

    @property
    def args(self) -> tuple[int, ...]:
        return self[1]


@dataclass(frozen=True, repr=False)
class ExpressionGraph:
    """A drawn expression: straight-line code over `inputs`, one `Step` per op.

    `fn(*tensors)` evaluates it with the engine; `replay(table, *inputs)` evaluates it with any
    other implementation of the ops (e.g. torch), looked up by op name, so a second framework
    can mirror it op by op. `description` is the expression as text.

    >>> import numpy as np
    >>> from tinygrad_lite import Tensor
    >>> g = ExpressionGraph(
    ...     inputs=(np.array([0.5, 1.0]), np.array([2.0, 3.0])),
    ...     steps=(Step("*", (0, 1)), Step("exp", (0,)), Step("+", (2, 3)), Step("tanh", (4,))),
    ...     description="tanh((x0 * x1) + exp(x0))",
    ... )
    >>> np.round(g.fn(*g.make_inputs()).data, 4).tolist()
    [0.99, 1.0]
    """

    inputs: tuple[np.ndarray, ...]
    steps: tuple[Step, ...]
    description: str

    def __repr__(self) -> str:
        # What hypothesis prints for a failing example: enough to rebuild it by hand.
        inputs = ", ".join(f"x{i}={x.tolist()!r}" for i, x in enumerate(self.inputs))
        return f"ExpressionGraph({self.description!r}, {inputs})"

    @property
    def ops(self) -> tuple[str, ...]:
        """The op of each step, in order."""
        return tuple(s.op for s in self.steps)

    def replay(self, table: Mapping[str, Callable[..., Any]], *inputs: Any) -> Any:
        """Evaluate the steps with `table[op](*operands)`; returns the last step's result."""
        if len(inputs) != len(self.inputs):
            raise ValueError(
                f"ExpressionGraph: expected {len(self.inputs)} inputs, got {len(inputs)}"
            )
        values = list(inputs)
        for step in self.steps:  # straight-line code: a loop, no recursion
            values.append(table[step.op](*(values[i] for i in step.args)))
        return values[-1]

    def fn(self, *tensors: Tensor) -> Tensor:
        """Evaluate with the engine's ops (pass one Tensor per input)."""
        return self.replay(_ENGINE_TABLE, *tensors)

    def make_inputs(self, requires_grad: bool = True) -> tuple[Tensor, ...]:
        """Fresh Tensor leaves holding copies of `inputs`."""
        return tuple(Tensor(x.copy(), requires_grad=requires_grad) for x in self.inputs)


_ENGINE_TABLE = {name: op.apply for name, op in GRAPH_OPS.items()}


def _bare(text: str) -> str:
    """`text` without one pair of parentheses around all of it (for readable descriptions)."""
    if not (text.startswith("(") and text.endswith(")")):
        return text
    depth = 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and i < len(text) - 1:
            return text  # "(a) + (b)": the first parenthesis closes early
    return text[1:-1]


def _render(op: GraphOp, texts: Sequence[str]) -> str:
    # A function call's own parentheses already group its operands: tanh(x0 + x1).
    if op.template[0].isalpha():
        texts = [_bare(t) for t in texts]
    return op.template.format(*texts)


def _well_scaled(a: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(a)) and np.max(np.abs(a), initial=0.0) <= MAX_MAGNITUDE)


def _prune(steps: list[Step], n_inputs: int) -> list[Step]:
    """The steps the last one depends on, renumbered (an operand that was passed through can
    leave a sibling's steps unused)."""
    last = n_inputs + len(steps) - 1
    needed = {last}
    for i in range(last, n_inputs - 1, -1):  # operands always come before their step
        if i in needed:
            needed.update(steps[i - n_inputs].args)
    renumber = {i: i for i in range(n_inputs)}
    kept: list[Step] = []
    for i in range(n_inputs, last + 1):
        if i in needed:
            renumber[i] = n_inputs + len(kept)
            kept.append(
                Step(steps[i - n_inputs].op, tuple(renumber[j] for j in steps[i - n_inputs].args))
            )
    return kept


def expression_graphs(
    ops: Sequence[str] | None = None,
    max_depth: int = 3,
    n_inputs: int = 2,
    min_depth: int = 2,
    shapes: SearchStrategy | None = None,
    dtype: DTypeLike = np.float64,
    min_value: float = -2.0,
    max_value: float = 2.0,
) -> SearchStrategy[ExpressionGraph]:
    """Random, well-conditioned expression graphs over the engine's ops (`GRAPH_OPS`).

    A tree of `min_depth` to `max_depth` levels of ops is drawn top-down with a work list (no
    recursion); its leaves are inputs or, now and then, a result computed elsewhere in the tree,
    so values fan out (a DAG, not just a tree). Ops are then chosen bottom-up, and only ops that
    are well-conditioned on their operands' actual values are offered: no log or sqrt below
    0.1, no division by numbers under 0.25, no relu/abs within 1e-3 of their kink, no
    maximum/minimum within 1e-3 of a tie, no value above 1e3. Inputs the expression does not
    use are added to it at the end, so every input has a gradient. The inputs' shapes broadcast
    together (`shapes`, a strategy of tuples of shapes, defaults to
    `broadcastable_shapes(n_inputs, max_dims=2, max_side=3)`); values lie in
    [min_value, max_value]. A node where no allowed op fits passes its first operand through,
    and a draw whose root does so is rejected: a short `ops` list needs inputs in its ops'
    domain (`ops=["log", "*"]` wants `min_value=0.5`, say). Reductions act on the last axis
    with keepdims=True, so every intermediate shape still broadcasts against the others.

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> from tinygrad_lite.gradcheck import gradcheck
    >>> from tinygrad_lite.testing import expression_graphs
    >>> @settings(max_examples=10)
    ... @given(expression_graphs(ops=["*", "exp", "tanh", "+"], max_depth=3))
    ... def check(graph):
    ...     assert gradcheck(graph.fn, graph.make_inputs()), graph.description
    >>> check()
    """
    names = list(GRAPH_OPS) if ops is None else list(ops)
    unknown = [n for n in names if n not in GRAPH_OPS]
    if unknown or not names:
        raise ValueError(
            f"expression_graphs: unknown ops {unknown}; choose from {sorted(GRAPH_OPS)}"
        )
    if n_inputs < 1 or not 1 <= min_depth <= max_depth:
        raise ValueError(
            "expression_graphs: need n_inputs >= 1 and 1 <= min_depth <= max_depth, got "
            f"{n_inputs}, {min_depth}, {max_depth}"
        )
    arities = sorted({GRAPH_OPS[n].arity for n in names})
    if shapes is None:
        shapes = broadcastable_shapes(n_inputs, min_dims=0, max_dims=2, min_side=1, max_side=3)

    @st.composite
    def draw_graph(draw) -> ExpressionGraph:
        input_shapes = draw(shapes)
        if len(input_shapes) != n_inputs:
            raise ValueError(
                f"expression_graphs: `shapes` drew {len(input_shapes)} shapes for {n_inputs} inputs"
            )
        inputs = [draw(arrays(s, dtype, min_value, max_value)) for s in input_shapes]

        # 1. The tree's skeleton, top-down: each node is [level, arity, children]; arity 0 is
        #    a leaf. A parent is always listed before its children.
        skeleton: list[list] = []
        todo = [(0, None)]  # (level, parent node)
        while todo:
            level, parent = todo.pop()
            if level == max_depth:
                arity = 0
            else:
                # 0 (a leaf) is where hypothesis shrinks to; no leaf above min_depth.
                choices = arities if level < min_depth else [0, *arities]
                arity = draw(st.sampled_from(choices))
            node = [level, arity, []]
            skeleton.append(node)
            if parent is not None:
                parent[2].append(node)
            todo.extend((level + 1, node) for _ in range(arity))

        # 2. Bottom-up (reverse listing order: children before parents), give each node a
        #    value: leaves pick an input or an earlier result, ops pick an op that is
        #    well-conditioned on the children's values.
        values = list(inputs)
        texts = [f"x{i}" for i in range(n_inputs)]
        heights = [0] * n_inputs
        steps: list[Step] = []
        slot: dict[int, int] = {}  # id(node) -> index into values
        with no_grad():
            for node in reversed(skeleton):
                level, arity, children = node
                if arity == 0:
                    reusable = [
                        i for i in range(n_inputs, len(values)) if heights[i] <= max_depth - level
                    ]
                    if reusable and draw(st.integers(0, 3)) == 3:
                        slot[id(node)] = draw(st.sampled_from(reusable))
                    else:
                        slot[id(node)] = draw(st.integers(0, n_inputs - 1))
                    continue
                args = tuple(slot[id(child)] for child in reversed(children))
                operands = [values[i] for i in args]
                offered, results = [], {}
                for name in names:
                    op = GRAPH_OPS[name]
                    if op.arity != arity or (op.admits is not None and not op.admits(*operands)):
                        continue
                    out = op.apply(*(Tensor(x) for x in operands)).data
                    if _well_scaled(out):
                        offered.append(name)
                        results[name] = out
                if not offered:  # nothing fits these values: pass the first operand through
                    slot[id(node)] = args[0]
                    continue
                name = draw(st.sampled_from(offered))
                steps.append(Step(name, args))
                values.append(results[name])
                texts.append(_render(GRAPH_OPS[name], [texts[i] for i in args]))
                heights.append(1 + max(heights[i] for i in args))
                slot[id(node)] = len(values) - 1
        if not steps:
            reject()  # no op fits these values (e.g. only "log" and negative inputs)
        root = slot[id(skeleton[0])]
        if root != len(values) - 1:
            reject()  # the root passed its operand through: the expression is not the last step

        # 3. Every input gets a gradient: add the unused ones to the result.
        text = texts[root]
        steps = _prune(steps, n_inputs)
        used = {i for step in steps for i in step.args if i < n_inputs}
        for i in range(n_inputs):
            if i not in used:
                steps.append(Step("+", (n_inputs + len(steps) - 1, i)))
                text = f"({text} + x{i})"
        return ExpressionGraph(tuple(inputs), tuple(steps), _bare(text))

    return draw_graph()
