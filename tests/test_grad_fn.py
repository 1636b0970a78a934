"""`tensor.grad_fn` as PyTorch's: None on leaves, else an object with `name()` (torch's names)
and `next_functions` (`(fn, 0)` pairs, AccumulateGrad for leaves that require grad, None for
constants), so code that walks a torch graph runs unchanged. Names are checked against torch."""

from collections import deque

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor
from tinygrad_lite.grad_fn import AccumulateGrad

try:
    import torch
except ImportError:  # pragma: no cover - torch is in the test extra
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

A0 = np.array([[0.5, -1.0], [2.0, 0.25]])
B0 = np.array([[1.5, 0.5], [-0.5, 2.0]])


def pair(m):
    if m is torch:
        return (torch.tensor(A0, requires_grad=True), torch.tensor(B0, requires_grad=True))
    return Tensor(A0, requires_grad=True), Tensor(B0, requires_grad=True)


def where(m, c, a, b):
    return torch.where(c, a, b) if m is torch else tl.where(c, a, b)


def maximum(m, a, b):
    return torch.maximum(a, b) if m is torch else tl.maximum(a, b)


def cat(m, xs):
    return torch.cat(xs) if m is torch else tl.cat(xs)


# Each expression is written once and run on both libraries (m is torch or tinygrad_lite).
EXPRESSIONS = {
    "a + b": lambda m, a, b: a + b,
    "a + 1": lambda m, a, b: a + 1,
    "a - b": lambda m, a, b: a - b,
    "1 - a": lambda m, a, b: 1 - a,
    "a * b": lambda m, a, b: a * b,
    "2 * a": lambda m, a, b: 2 * a,
    "a / b": lambda m, a, b: a / b,
    "a / 2": lambda m, a, b: a / 2,
    "a ** 2": lambda m, a, b: a**2,
    "a ** b": lambda m, a, b: a**b,
    "2 ** a": lambda m, a, b: 2**a,
    "-a": lambda m, a, b: -a,
    "a @ b": lambda m, a, b: a @ b,
    "a @ b[0]": lambda m, a, b: a @ b[0],
    "a[0] @ b[0]": lambda m, a, b: a[0] @ b[0],
    "exp": lambda m, a, b: a.exp(),
    "log": lambda m, a, b: (a * a).log(),
    "sqrt": lambda m, a, b: (a * a).sqrt(),
    "tanh": lambda m, a, b: a.tanh(),
    "sigmoid": lambda m, a, b: a.sigmoid(),
    "relu": lambda m, a, b: a.relu(),
    "abs": lambda m, a, b: a.abs(),
    "sign": lambda m, a, b: a.sign(),
    "clamp": lambda m, a, b: a.clamp(0.0, 1.0),
    "clamp(min)": lambda m, a, b: a.clamp(min=0.0),
    "sum()": lambda m, a, b: a.sum(),
    "sum(0)": lambda m, a, b: a.sum(0),
    "max()": lambda m, a, b: a.max(),
    "amax(0)": lambda m, a, b: a.amax(0),
    "logsumexp": lambda m, a, b: a.logsumexp(0),
    "norm": lambda m, a, b: a.norm(),
    "norm(dim=1)": lambda m, a, b: a.norm(dim=1),
    "softmax": lambda m, a, b: a.softmax(-1),
    "log_softmax": lambda m, a, b: a.log_softmax(-1),
    "reshape": lambda m, a, b: a.reshape(4),
    "permute": lambda m, a, b: a.permute(1, 0),
    "T": lambda m, a, b: a.T,
    "expand": lambda m, a, b: a.expand(3, 2, 2),
    "a[0]": lambda m, a, b: a[0],
    "a[:1]": lambda m, a, b: a[:1],
    "a[[0, 1]]": lambda m, a, b: a[[0, 1]],
    "clone": lambda m, a, b: a.clone(),
    "cat": lambda m, a, b: cat(m, [a, b]),
    "where": lambda m, a, b: where(m, a > 0, a, b),
    "maximum": lambda m, a, b: maximum(m, a, b),
    "a *= b (in place)": lambda m, a, b: (a * 1).mul_(b),
    "a += 1 (in place)": lambda m, a, b: (a * 1).add_(1),
    "zero_": lambda m, a, b: (a * 1).zero_(),
    "clamp_": lambda m, a, b: (a * 1).clamp_(0.0, 1.0),
}


def walk(fn):
    """Names of every function reachable from `fn`, breadth first, with each function's inputs
    as (name or None) tuples: the shape of the graph a user sees when walking it."""
    out, queue, seen = [], deque([fn]), set()
    while queue:
        f = queue.popleft()
        if f is None or f in seen:
            continue
        seen.add(f)
        nexts = f.next_functions
        out.append((f.name(), tuple(None if g is None else g.name() for g, _ in nexts)))
        queue.extend(g for g, _ in nexts)
    return out


@needs_torch
@pytest.mark.parametrize("expr", list(EXPRESSIONS))
def test_grad_fn_graph_matches_torch(expr):
    build = EXPRESSIONS[expr]
    ours = build(tl, *pair(tl))
    theirs = build(torch, *pair(torch))
    assert walk(ours.grad_fn) == walk(theirs.grad_fn)


def test_leaves_have_no_grad_fn():
    assert Tensor([1.0], requires_grad=True).grad_fn is None
    assert Tensor([1.0]).grad_fn is None


def test_results_recorded_under_no_grad_have_no_grad_fn():
    x = Tensor([1.0], requires_grad=True)
    with tl.no_grad():
        y = x * 2
    assert y.grad_fn is None and y.is_leaf


def test_names_of_common_ops_without_torch():
    a, b = pair(tl)
    assert (a * b).grad_fn.name() == "MulBackward0"
    assert (a + b).grad_fn.name() == "AddBackward0"
    assert (a @ b).grad_fn.name() == "MmBackward0"
    assert a.sum().grad_fn.name() == "SumBackward0"
    assert a.tanh().grad_fn.name() == "TanhBackward0"


def test_next_functions_pair_each_input_with_index_0():
    a, b = pair(tl)
    y = a * b + 1
    (mul, i), (const, j) = y.grad_fn.next_functions
    assert (mul.name(), i, const, j) == ("MulBackward0", 0, None, 0)


def test_accumulate_grad_holds_the_leaf_as_variable():
    a, b = pair(tl)
    acc = (a * b).grad_fn.next_functions[1][0]
    assert isinstance(acc, AccumulateGrad)
    assert acc.variable is b and acc.next_functions == ()
    assert acc.name() == "torch::autograd::AccumulateGrad"


def test_two_views_of_the_same_function_are_equal():
    a, b = pair(tl)
    y = a * b
    assert y.grad_fn == y.grad_fn and hash(y.grad_fn) == hash(y.grad_fn)
    assert y.grad_fn != (a * b).grad_fn


def test_repr_names_the_function_as_torch():
    a, _ = pair(tl)
    assert repr(a.exp().grad_fn).startswith("<ExpBackward0 object at 0x")


def test_walking_a_deep_graph_reaches_every_leaf():
    x = Tensor([0.5], requires_grad=True)
    y = x
    for _ in range(50):
        y = (y * 0.9).tanh()
    leaves = [f.variable for f in _all_functions(y.grad_fn) if isinstance(f, AccumulateGrad)]
    assert leaves == [x]


def _all_functions(fn):
    stack, seen, out = [fn], set(), []
    while stack:
        f = stack.pop()
        if f is None or f in seen:
            continue
        seen.add(f)
        out.append(f)
        stack.extend(g for g, _ in f.next_functions)
    return out


@needs_torch
def test_printed_tensor_names_its_grad_fn_as_torch_prints_it():
    ours = repr(tl.tensor([1.0, 2.0], requires_grad=True) * 2)
    theirs = repr(torch.tensor([1.0, 2.0], requires_grad=True) * 2)
    assert ours == theirs == "tensor([2., 4.], grad_fn=<MulBackward0>)"
