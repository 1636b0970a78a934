"""Gradient checking against central finite differences, as a feature for users.

`gradcheck` compares the Jacobian the engine computes (one vector-Jacobian product per output
element) with the one measured by central differences, in float64, with PyTorch's contract:
an element passes when |analytic - numeric| <= atol + rtol * |numeric|. `fast_mode` compares
only v^T J u for random u and v (one backward, two forwards per input), and when that fails it
re-runs the full check to name the element at fault. `gradgradcheck` runs the same check on the
gradient itself, built with create_graph=True.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from .autograd import enable_grad, no_grad
from .autograd import grad as autograd_grad
from .tensor import Tensor

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]


class GradcheckError(AssertionError):
    """The analytic and numeric gradients disagree; the message says where and by how much."""


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(fn: Callable, inputs: Sequence[Tensor]) -> tuple[Tensor, ...]:
    outs = _as_tuple(fn(*inputs))
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(
                f"gradcheck: output {i} of the function is a {type(o).__name__}; the function "
                "must return a Tensor or a tuple of Tensors"
            )
    return outs


def _check_inputs(inputs: Sequence[Tensor], where: str) -> list[int]:
    diff = []
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"{where}: input {i} is a {type(x).__name__}, expected a Tensor")
        if x.requires_grad:
            if x.dtype != np.float64:
                warnings.warn(
                    f"{where}: input {i} is {x.dtype}; finite differences need float64 "
                    "(create it with dtype=float64) or the check is unreliable",
                    stacklevel=3,
                )
            diff.append(i)
    if not diff:
        raise ValueError(f"{where}: no input requires grad; nothing to check")
    return diff


def _numeric_column(fn, inputs, i, flat_index, eps) -> list[np.ndarray]:
    """d outputs / d inputs[i].flat[flat_index] by central differences."""
    x = inputs[i].data
    original = x.flat[flat_index]
    x.flat[flat_index] = original + eps
    with no_grad():
        plus = [o.data.astype(np.float64) for o in _outputs(fn, inputs)]
    x.flat[flat_index] = original - eps
    with no_grad():
        minus = [o.data.astype(np.float64) for o in _outputs(fn, inputs)]
    x.flat[flat_index] = original
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


def _analytic_rows(fn, inputs, diff, out_index, flat_out) -> list[np.ndarray]:
    """Row `flat_out` of d outputs[out_index] / d inputs, one array per differentiable input."""
    outs = _outputs(fn, inputs)
    seed = np.zeros(outs[out_index].shape)
    seed.flat[flat_out] = 1.0
    if not outs[out_index].requires_grad:
        return [np.zeros(inputs[i].shape) for i in diff]
    grads = autograd_grad(
        outs[out_index], [inputs[i] for i in diff], grad_outputs=Tensor(seed), allow_unused=True
    )
    return [np.zeros(inputs[i].shape) if g is None else g.data for i, g in zip(diff, grads)]


def _fail(message: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(message)
    return False


def _slow_check(fn, inputs, diff, eps, atol, rtol, raise_exception) -> bool:
    outs = _outputs(fn, inputs)
    for k, i in enumerate(diff):
        numeric = [np.zeros((inputs[i].numel(), o.numel())) for o in outs]
        for j in range(inputs[i].numel()):
            for o, col in enumerate(_numeric_column(fn, inputs, i, j, eps)):
                numeric[o][j] = col.ravel()
        for o, out in enumerate(outs):
            analytic = np.zeros((inputs[i].numel(), out.numel()))
            for r in range(out.numel()):
                analytic[:, r] = _analytic_rows(fn, inputs, diff, o, r)[k].ravel()
            bad = np.abs(analytic - numeric[o]) > atol + rtol * np.abs(numeric[o])
            if bad.any():
                j, r = (int(v) for v in np.argwhere(bad)[0])
                element = np.unravel_index(j, inputs[i].shape)
                return _fail(
                    f"gradcheck: Jacobian mismatch for output {o} (element "
                    f"{tuple(int(v) for v in np.unravel_index(r, out.shape))}) with respect to "
                    f"input {i} at element index {tuple(int(v) for v in element)}: analytic "
                    f"{analytic[j, r]:.10g} vs numeric {numeric[o][j, r]:.10g} "
                    f"(atol={atol}, rtol={rtol})",
                    raise_exception,
                )
    return True


def _fast_check(fn, inputs, diff, eps, atol, rtol, raise_exception, seed) -> bool:
    rng = np.random.default_rng(seed)
    outs = _outputs(fn, inputs)
    vs = [rng.standard_normal(o.shape) for o in outs]
    for i in diff:
        u = rng.standard_normal(inputs[i].shape)
        x = inputs[i].data
        original = x.copy()
        x[...] = original + eps * u
        with no_grad():
            plus = [o.data for o in _outputs(fn, inputs)]
        x[...] = original - eps * u
        with no_grad():
            minus = [o.data for o in _outputs(fn, inputs)]
        x[...] = original
        numeric = sum(float(np.sum(v * (p - m))) / (2 * eps) for v, p, m in zip(vs, plus, minus))
        outs = _outputs(fn, inputs)
        pairs = [(o, Tensor(v)) for o, v in zip(outs, vs) if o.requires_grad]
        analytic = 0.0
        if pairs:
            (g,) = autograd_grad(
                [o for o, _ in pairs], [inputs[i]], [v for _, v in pairs], allow_unused=True
            )
            analytic = 0.0 if g is None else float(np.sum(g.data * u))
        if abs(analytic - numeric) > atol + rtol * abs(numeric):
            # Name the element at fault: the full check finds it (or passes, if the fast one
            # was unlucky with rounding, in which case report the projection).
            if not _slow_check(fn, inputs, [i], eps, atol, rtol, raise_exception):
                return False
            return _fail(
                f"gradcheck (fast_mode): v^T J u mismatch for input {i}: analytic "
                f"{analytic:.10g} vs numeric {numeric:.10g}",
                raise_exception,
            )
    return True


def gradcheck(
    fn: Callable,
    inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    seed: int = 0,
) -> bool:
    """Check the gradients of `fn` at `inputs` against central finite differences.

    `inputs` is a Tensor or a tuple of Tensors; those with requires_grad are checked (use
    float64). Returns True, or raises `GradcheckError` naming the output, the input, the element
    index and both values (or returns False with `raise_exception=False`).

    >>> import numpy as np
    >>> from tinygrad_lite import Tensor
    >>> from tinygrad_lite.gradcheck import gradcheck
    >>> x = Tensor(np.array([0.5, -1.2, 2.0]), requires_grad=True)
    >>> gradcheck(lambda t: (t * t.tanh()).sum(), x)
    True
    """
    inputs = _as_tuple(inputs)
    diff = _check_inputs(inputs, "gradcheck")
    if fast_mode:
        return _fast_check(fn, inputs, diff, eps, atol, rtol, raise_exception, seed)
    return _slow_check(fn, inputs, diff, eps, atol, rtol, raise_exception)


def gradgradcheck(
    fn: Callable,
    inputs,
    grad_outputs=None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    seed: int = 0,
) -> bool:
    """Check second derivatives: gradcheck applied to x, v -> (dfn/dx)^T v, whose gradient
    the engine builds with create_graph=True. `grad_outputs` (the v) defaults to random.

    >>> import numpy as np
    >>> from tinygrad_lite import Tensor
    >>> from tinygrad_lite.gradcheck import gradgradcheck
    >>> x = Tensor(np.array([0.3, 0.7]), requires_grad=True)
    >>> gradgradcheck(lambda t: t.sigmoid() * t, x)
    True
    """
    inputs = _as_tuple(inputs)
    diff = _check_inputs(inputs, "gradgradcheck")
    outs = _outputs(fn, inputs)
    rng = np.random.default_rng(seed)
    if grad_outputs is None:
        vs = [Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outs]
    else:
        vs = [
            v if isinstance(v, Tensor) else Tensor(np.asarray(v, dtype=np.float64))
            for v in _as_tuple(grad_outputs)
        ]
        vs = [v if v.requires_grad else Tensor(v.data, requires_grad=True) for v in vs]
    n = len(inputs)

    # enable_grad: gradcheck evaluates this under no_grad for its finite differences, but the
    # first derivative can only be built from a recorded graph.
    @enable_grad()
    def first_derivative(*args):
        xs, v = args[:n], args[n:]
        outputs = _outputs(fn, xs)
        used = [(o, g) for o, g in zip(outputs, v) if o.requires_grad]
        grads = autograd_grad(
            [o for o, _ in used],
            [xs[i] for i in diff],
            [g for _, g in used],
            create_graph=True,
            allow_unused=True,
        )
        # An input the gradient does not depend on still needs a Tensor here; 0 * x keeps
        # it in the graph so the check sees a zero second derivative, not a missing one.
        return tuple(g if g is not None else xs[i] * 0.0 for g, i in zip(grads, diff))

    # gradcheck below only tests that the recorded first derivative is consistent with its
    # own second derivative. That it has the right *values* is checked here, against the
    # plain backward: a VJP that branches on the backend could otherwise be wrong under
    # create_graph=True alone and pass.
    recorded = first_derivative(*inputs, *vs)
    used = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
    plain = autograd_grad(
        [o for o, _ in used],
        [inputs[i] for i in diff],
        [Tensor(v.data) for _, v in used],
        allow_unused=True,
    )
    for i, r, p in zip(diff, recorded, plain):
        expected = np.zeros(inputs[i].shape) if p is None else p.data
        bad = ~np.isclose(r.data, expected, rtol=rtol, atol=atol, equal_nan=True)
        if np.any(bad):
            index = tuple(int(k) for k in np.argwhere(bad)[0])
            return _fail(
                f"gradgradcheck: for input {i}, the gradient built with create_graph=True "
                f"differs from the plain backward at index {index}: {float(r.data[index])!r} vs "
                f"{float(expected[index])!r}; an op's VJP computes something else on the Tensor "
                "backend (xp) than on numpy",
                raise_exception,
            )
    return gradcheck(
        first_derivative,
        tuple(inputs) + tuple(vs),
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        fast_mode=fast_mode,
        seed=seed,
    )
