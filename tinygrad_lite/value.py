"""`Value`: a scalar node with micrograd's surface, differentiated by the core's driver.

Each op is a method whose local derivative rule sits right under it in `_RULES`. A rule takes
the parents and the output and returns the local derivatives; it is written so that it works on
plain floats (the fast path) *and* on Values (under `create_graph=True`, where the derivatives
must themselves be differentiable). One formula, two uses.

Values keep no closures, so a graph has no reference cycles and is freed by reference counting
alone; that is most of why it is faster than micrograd with the garbage collector on.
"""

from __future__ import annotations

import math

from .autograd import _next_id, anomaly_error, creation_site, current_state, iter_backward
from .errors import DTypeError

__all__ = ["Value", "maximum"]


def _check_number(x, op: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        try:
            import numpy as np

            if isinstance(x, np.generic) and np.issubdtype(type(x), np.number):
                return float(x)
        except ImportError:  # pragma: no cover
            pass
        if hasattr(x, "shape") and hasattr(x, "requires_grad"):  # a Tensor
            raise DTypeError(
                f"Value.{op}: cannot combine a Value with a Tensor; use Tensor(value.data) "
                "for the scalar, or .item() for a one-element Tensor"
            )
        raise DTypeError(
            f"Value.{op}: expected a Python int or float (or a Value), got {type(x).__name__} "
            f"{x!r}; wrap arrays in tinygrad_lite.Tensor instead"
        )
    return float(x)


class Value:
    """A scalar that remembers how it was computed.

    >>> from tinygrad_lite import Value
    >>> x = Value(3.0, label="x")
    >>> b = Value(1.0, label="b")
    >>> y = (x**2 + b).sqrt()
    >>> y.backward()
    >>> round(y.data, 6), round(x.grad, 6), round(b.grad, 6)
    (3.162278, 0.948683, 0.158114)
    """

    __slots__ = (
        "data",
        "grad",
        "label",
        "requires_grad",
        "_parents",
        "_op",
        "_id",
        "_scope",
        "_freed",
        "_hooks",
        "_seen_grad",
        "_trace",
        "_walk",
    )

    def __init__(
        self, data, _children=(), _op: str = "", label: str = "", requires_grad: bool = True
    ):
        # micrograd's positional order: Value(data, _children, _op), with the label its
        # lecture notebook adds fourth; a string second argument is an old-style label.
        if _children or _children.__class__ is not tuple:
            _children = _check_children(_children)
        if label.__class__ is not str:
            raise TypeError(
                f"Value: label must be a str, got {type(label).__name__} {label!r}; "
                "pass label='name' (the second positional argument is _children, as micrograd's)"
            )
        self.data = data if data.__class__ is float else _check_number(data, "__init__")
        self.grad = 0.0
        self.label = label
        self.requires_grad = requires_grad
        self._parents = _children
        self._op = _op
        self._id = _next_id()
        state = current_state()
        self._scope = state.scope
        self._freed = False
        self._hooks = None
        self._seen_grad = None
        self._walk = None
        if state.anomaly:
            self._trace = creation_site()
            if not math.isfinite(self.data) and _children:
                raise anomaly_error(self, "forward", f"the non-finite value {self.data}")

    # Every Value keeps its gradient (micrograd shows intermediate gradients): the driver
    # hands a non-float gradient (under create_graph) to `_receive` of every node.
    _retains = True

    # -- public surface -------------------------------------------------------------------

    @property
    def scope(self) -> str:
        """The scope path this Value was created in ('' at top level)."""
        return self._scope

    @property
    def op(self) -> str:
        """The op that produced this Value ('' for a leaf)."""
        return self._op

    @property
    def _prev(self) -> set:
        """micrograd's name for the parents: a set (so `a * a` has one), as its `draw_dot`
        expects. The ordered tuple, one entry per edge, is `_parents`."""
        return set(self._parents)

    @property
    def is_leaf(self) -> bool:
        """True for Values created by the user rather than by an op."""
        return not self._parents

    def __repr__(self) -> str:
        # micrograd's form; the label, when there is one, comes last.
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data}, grad={self.grad}{label})"

    def __float__(self) -> float:
        return self.data

    __hash__ = object.__hash__

    def item(self) -> float:
        """The data as a Python float (PyTorch's spelling)."""
        return self.data

    def detach(self) -> Value:
        """The same number with no history, as PyTorch's `detach`: gradients stop there
        (truncated backpropagation, a target computed from the model itself).

        >>> from tinygrad_lite import Value
        >>> x = Value(3.0)
        >>> y = x.detach() * x
        >>> y.backward()
        >>> x.grad
        3.0
        """
        return Value(self.data, (), "", self.label, False)

    def register_hook(self, hook):
        """Call `hook(grad)` when backward reaches this Value; a returned value replaces the
        gradient that flows on.

        >>> from tinygrad_lite import Value
        >>> x = Value(2.0)
        >>> _ = x.register_hook(lambda g: g * 10)
        >>> (x * 3).backward()
        >>> x.grad
        30.0
        """
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return hook

    def zero_grad(self) -> None:
        """Reset the accumulated gradient to 0."""
        self.grad = 0.0

    def backward(self, gradient=None, retain_graph: bool = False, create_graph: bool = False):
        """Backpropagate from this Value; gradients accumulate into `.grad` of every Value on
        the way (micrograd shows intermediate gradients, so Values keep them all).

        A second call through the same graph raises unless the first had retain_graph=True.
        Under create_graph=True the graph of the gradients is recorded; use
        `tinygrad_lite.grad(..., create_graph=True)` to get those gradients as Values.
        """
        seed = self._seed_grad(gradient, "backward", create_graph)
        for _ in iter_backward(
            [self],
            [seed],
            retain_graph=retain_graph or create_graph,
            create_graph=create_graph,
            events=False,
        ):
            pass

    # -- node protocol (used by autograd.iter_backward) -----------------------------------

    def _seed_grad(self, gradient, where: str, create_graph: bool):
        g = 1.0 if gradient is None else gradient
        if create_graph and not isinstance(g, Value):
            return Value(float(g), _op="", requires_grad=False)
        return g if isinstance(g, Value) else _check_number(g, where)

    def _run_hooks(self, g):
        for hook in self._hooks:
            replaced = hook(g)
            if replaced is not None:
                g = replaced
        return g

    def _receive(self, g) -> None:
        self.grad += g if g.__class__ is float else float(g)

    def _grad_as_public(self, g):
        return g if isinstance(g, Value) else Value(float(g), requires_grad=False)

    def _vjp(self, g, create_graph):
        parents = self._parents
        try:
            rule = _RULES[self._op]
        except KeyError:
            raise RuntimeError(
                f"backward: Value op {self._op!r} (node #{self._id}) has no derivative rule; "
                "a Value built by hand with _children can be drawn, but only the ops of "
                f"Value ({', '.join(sorted(_RULES))}) can be differentiated"
            ) from None
        if create_graph:
            if not isinstance(g, Value):
                g = Value(float(g), requires_grad=False)
            return rule(g, *parents, self)
        if len(parents) == 2:
            a, b = parents
            return rule(g, a.data, b.data, self.data)
        return rule(g, parents[0].data, self.data)

    # -- ops: forward here, local derivative in _RULES, side by side ----------------------

    def __add__(self, other):
        other = other if other.__class__ is Value else _const(other, "__add__")
        return _result(self.data + other.data, (self, other), "+")

    def __sub__(self, other):
        other = other if other.__class__ is Value else _const(other, "__sub__")
        return _result(self.data - other.data, (self, other), "-")

    def __mul__(self, other):
        other = other if other.__class__ is Value else _const(other, "__mul__")
        return _result(self.data * other.data, (self, other), "*")

    def __truediv__(self, other):
        other = other if other.__class__ is Value else _const(other, "__truediv__")
        return _result(_div(self.data, other.data), (self, other), "/")

    def __pow__(self, other):
        other = other if other.__class__ is Value else _const(other, "__pow__")
        try:
            out = self.data**other.data
        except ZeroDivisionError:
            out = math.inf
        except OverflowError:
            out = math.inf
        if isinstance(out, complex):  # negative base, fractional exponent: NaN, as numpy
            out = math.nan
        return _result(float(out), (self, other), "**")

    def __neg__(self):
        return _result(-self.data, (self,), "neg")

    def exp(self):
        """e**x."""
        try:
            out = math.exp(self.data)
        except OverflowError:
            out = math.inf
        return _result(out, (self,), "exp")

    def log(self):
        """Natural log; -inf at 0 and NaN below, as numpy (anomaly mode reports them)."""
        x = self.data
        out = math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)
        return _result(out, (self,), "log")

    def tanh(self):
        """Hyperbolic tangent."""
        return _result(math.tanh(self.data), (self,), "tanh")

    def sigmoid(self):
        """1 / (1 + e**-x), computed without overflow for large |x|."""
        x = self.data
        if x >= 0:
            out = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            out = e / (1.0 + e)
        return _result(out, (self,), "sigmoid")

    def relu(self):
        """max(0, x); its derivative at 0 is 0, as PyTorch's. NaN stays NaN and passes its
        gradient, as for Tensor.relu (PyTorch's threshold rule: blocked only where x <= 0)."""
        x = self.data
        return _result(0.0 if x <= 0 else x, (self,), "relu")

    def sqrt(self):
        """Square root; NaN below 0, as numpy."""
        x = self.data
        return _result(math.sqrt(x) if x >= 0 else math.nan, (self,), "sqrt")

    def abs(self):
        """|x|; its derivative at 0 is 0, as PyTorch's sign(0)."""
        return _result(abs(self.data), (self,), "abs")

    __abs__ = abs

    def sign(self):
        """-1.0, 0.0 or 1.0 by the sign of the data (0.0 for NaN), as `torch.sign`; its
        gradient is 0 everywhere, as PyTorch's."""
        return _result(_sign(self.data), (self,), "sign")

    def __radd__(self, other):
        return _const(other, "__radd__") + self

    def __rsub__(self, other):
        return _const(other, "__rsub__") - self

    def __rmul__(self, other):
        return _const(other, "__rmul__") * self

    def __rtruediv__(self, other):
        return _const(other, "__rtruediv__") / self

    def __rpow__(self, other):
        return _const(other, "__rpow__") ** self


_new_object = object.__new__


def _result(data: float, parents: tuple, op: str) -> Value:
    """The Value an op returns: `Value.__init__` without its argument checks and class call
    (a forward op's result is always a float), which is a tenth of a scalar op's cost.

    Under `no_grad()` nothing is recorded, as for Tensor: the result is a leaf that does not
    require grad (no parents, no op)."""
    v = _new_object(Value)
    v.data = data
    v.grad = 0.0
    v.label = ""
    v._id = _next_id()
    state = current_state()  # read once: grad mode, scope and anomaly mode
    v._scope = state.scope
    if state.grad_enabled:
        v.requires_grad = True
        v._parents = parents
        v._op = op
    else:
        v.requires_grad = False
        v._parents = ()
        v._op = ""
    v._freed = False
    v._hooks = None
    v._seen_grad = None
    v._walk = None
    if state.anomaly:
        v._trace = creation_site()
        if not math.isfinite(data):
            v._op = op  # name the op in the message even when nothing was recorded
            raise anomaly_error(v, "forward", f"the non-finite value {data}")
    return v


def _check_children(children) -> tuple:
    """micrograd's `_children` argument as our ordered parents tuple, or a clear TypeError."""
    if isinstance(children, str):
        raise TypeError(
            f"Value: the second argument is micrograd's _children (a tuple of parent Values), "
            f"got the string {children!r}; pass a label as label={children!r}"
        )
    try:
        parents = tuple(children)
    except TypeError:
        raise TypeError(
            f"Value: _children must be a tuple of Values, got {type(children).__name__}"
        ) from None
    for p in parents:
        if p.__class__ is not Value:
            raise TypeError(f"Value: _children must hold Values, got {type(p).__name__} {p!r}")
    return parents


def _const(x, op: str) -> Value:
    """A Python number met in an expression: a constant node, drawn as such, never updated."""
    return Value(_check_number(x, op), (), "", "", False)


def maximum(a, b):
    """Elementwise maximum of two Values (or a Value and a number); ties split the gradient
    evenly between both sides, as PyTorch's `torch.maximum`.

    >>> from tinygrad_lite import Value
    >>> from tinygrad_lite.value import maximum
    >>> x = Value(2.0)
    >>> y = maximum(x, 2.0)
    >>> y.backward()
    >>> x.grad
    0.5
    """
    a = a if isinstance(a, Value) else _const(a, "maximum")
    b = b if isinstance(b, Value) else _const(b, "maximum")
    return _result(max(a.data, b.data), (a, b), "maximum")


def _log(x):
    if isinstance(x, Value):
        return x.log()
    return math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)


def _div(x, y):
    """x / y with IEEE-754 results for floats (Python raises at 0; gradients want inf/NaN)."""
    if y.__class__ is float and y == 0.0:
        x = float(x)
        return math.copysign(math.inf, x) * math.copysign(1.0, y) if x else math.nan
    return x / y


def _step(cond: bool) -> float:
    return 1.0 if cond else 0.0


# relu's and abs's local derivatives. On floats (the fast path) they are plain numbers; on
# Values (create_graph) they are ops of zero derivative that stay connected to x, as PyTorch's
# threshold_backward and sgn are, so that a second derivative there is 0 rather than "unused".
def _relu_pass(x):
    if x.__class__ is Value:
        return _result(_relu_pass(x.data), (x,), "relu_mask")
    return 0.0 if x <= 0 else 1.0


def _sign(x):
    if x.__class__ is Value:
        return x.sign()
    return _step(x > 0) - _step(x < 0)


def _pow(x, e):
    """x ** e with numpy's results for floats (Python raises at 0.0 ** -0.5; numpy says inf)."""
    if isinstance(x, Value) or isinstance(e, Value):
        return x**e
    try:
        out = x**e
    except ZeroDivisionError:
        return math.inf
    except OverflowError:  # only a negative base to an odd power overflows to -inf
        return -math.inf if x < 0 and float(e).is_integer() and e % 2 else math.inf
    return math.nan if isinstance(out, complex) else out


def _pow_rule(g, a, b, out):
    # d/db a**b = a**b log a; at a == 0 PyTorch defines it as 0 (the limit for b > 0).
    # d/da = b * a**(b-1) is kept as a function of b even at b == 0 (its derivative in b is
    # what create_graph needs there); only at 0**0 is it defined as 0, as PyTorch does.
    da = b * _pow(a, b - 1) if float(b) != 0 or float(a) != 0 else 0 * a
    db = out * _log(a) if float(a) != 0 else 0 * out
    return g * da, g * db


def _maximum_rule(g, a, b, out):
    fa, fb = float(a), float(b)
    share = 0.5 if fa == fb else _step(fa > fb)
    return g * share, g * (1.0 - share)


# op -> rule(upstream, parents..., out) -> the gradient for each parent (the upstream gradient
# times the local derivative). Written once, it runs on floats (fast path) and on Values
# (create_graph=True). The driver ignores entries for parents that do not require grad.
_RULES = {
    "+": lambda g, a, b, out: (g, g),
    "-": lambda g, a, b, out: (g, -g),
    "*": lambda g, a, b, out: (g * b, g * a),
    "/": lambda g, a, b, out: (g * _div(1.0, b), g * _div(-out, b)),
    "**": _pow_rule,
    "neg": lambda g, a, out: (-g,),
    "exp": lambda g, a, out: (g * out,),
    "log": lambda g, a, out: (g * _div(1.0, a),),
    "tanh": lambda g, a, out: (g * (1.0 - out * out),),
    "sigmoid": lambda g, a, out: (g * (out * (1.0 - out)),),
    "relu": lambda g, a, out: (g * _relu_pass(a),),
    "relu_mask": lambda g, a, out: (0.0,),
    "sign": lambda g, a, out: (0.0,),
    "sqrt": lambda g, a, out: (g * _div(0.5, out),),
    "abs": lambda g, a, out: (g * _sign(a),),
    "maximum": _maximum_rule,
}
