"""Interior values no backward rule reads are released (release.py), and nothing else is.

The op-by-op check runs every case of test_ops_gradients with the limit at 0, each operand and
result made an interior node that a releasing op consumes: a wrong `reads_inputs`/`reads_out`
flag would feed a NaN placeholder to a VJP, and the gradient would differ from the one with
every value kept.
"""

import weakref

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ops_gradients import CASES, leaves

import tinygrad_lite as tl
from tinygrad_lite import Tensor
from tinygrad_lite.graph import export_graph
from tinygrad_lite.ops import OPS
from tinygrad_lite.release import is_released, set_interior_value_limit
from tinygrad_lite.versioning import SAVED
from viz.dot import to_dot


@pytest.fixture
def limit():
    """Run a test at a chosen value limit and restore the default after it."""
    previous = set_interior_value_limit(None)
    yield set_interior_value_limit
    set_interior_value_limit(previous)


def _outputs(y):
    return y if isinstance(y, tuple) else (y,)


def _grads(fn, params, arrays_, value_limit, create_graph=False):
    """Gradients of sum((fn(x * 1) + 0) * w) for fixed weights w: every operand of the op is an
    interior `*` node and its result feeds `+` (which reads no input), so both sides of the op
    are candidates. Returns the gradients and which operand nodes were released."""
    set_interior_value_limit(value_limit)
    xs = leaves(*arrays_)
    inner = [x * 1.0 for x in xs]
    refs = [weakref.ref(t) for t in inner]
    outs = _outputs(fn(params, *inner))
    del inner
    total = 0.0
    for k, y in enumerate(outs):
        w = np.linspace(0.5, 1.5, y.numel()).reshape(y.shape) + k
        total = total + ((y + 0.0) * Tensor(w)).sum()
    del outs, y
    released = [is_released(r().data) for r in refs]  # the graph holds them until backward
    grads = tl.grad(total, xs, create_graph=create_graph, allow_unused=True)
    if create_graph:  # a second derivative through the same released graph
        first = sum((g * g).sum() for g in grads if g is not None)
        grads = tl.grad(first, xs, allow_unused=True)
    return [None if g is None else g.numpy() for g in grads], released


@pytest.mark.parametrize("name", CASES)
@settings(deadline=None, max_examples=25)
@given(data=st.data())
def test_every_op_gives_the_same_gradient_with_values_released(name, data):
    fn, case = CASES[name]
    params, arrays_ = data.draw(case)
    previous = set_interior_value_limit(None)
    try:
        for create_graph in (False, True):
            kept, _ = _grads(fn, params, arrays_, None, create_graph)
            released, _ = _grads(fn, params, arrays_, 0, create_graph)
            for a, b in zip(kept, released):
                assert (a is None) == (b is None)
                if a is not None:
                    np.testing.assert_array_equal(a, b)
    finally:
        set_interior_value_limit(previous)


def test_the_operands_of_an_op_that_reads_no_input_are_released(limit):
    _, released = _grads(lambda p, a, b: a + b, {}, (np.ones((2, 3)), np.ones(3)), 0)
    assert released == [True, True]


def test_the_operands_of_an_op_that_reads_its_inputs_are_kept(limit):
    _, released = _grads(lambda p, a, b: a * b, {}, (np.ones((2, 3)), np.ones(3)), 0)
    assert released == [False, False]


def _lstm_loss(w_ih, w_hh, b, xs):
    """The cell a student writes (bench/bench_lstm_cell.py), with unnamed temporaries."""
    h = tl.zeros(4, 8)
    c = tl.zeros(4, 8)
    loss = 0.0
    for x in xs:
        gates = x @ w_ih + h @ w_hh + b
        i, f, g, o = gates.chunk(4, -1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        loss = loss + (h * h).sum()
    return loss


def test_a_hand_written_lstm_cell_releases_its_temporaries_with_equal_gradients(limit):
    rng = np.random.default_rng(0)
    shapes = {"w_ih": (5, 32), "w_hh": (8, 32), "b": (32,)}
    arrays_ = {k: rng.standard_normal(s) * 0.3 for k, s in shapes.items()}
    xs = [Tensor(rng.standard_normal((4, 5))) for _ in range(6)]
    grads = {}
    for value_limit in (None, 0):
        set_interior_value_limit(value_limit)
        params = {k: Tensor(v, requires_grad=True) for k, v in arrays_.items()}
        loss = _lstm_loss(params["w_ih"], params["w_hh"], params["b"], xs)
        released = [n for n in export_graph(loss).nodes if not n.value.kept]
        loss.backward()
        grads[value_limit] = ([p.grad.numpy() for p in params.values()], len(released))
    for a, b in zip(grads[None][0], grads[0][0]):
        np.testing.assert_array_equal(a, b)
    assert grads[None][1] == 0
    assert grads[0][1] >= 6 * 6  # per step: both matmuls, their sums, the 4 gate slices, ...


def test_a_value_the_user_holds_is_never_released(limit):
    limit(0)
    x = Tensor(np.ones((3, 3)), requires_grad=True)
    held = x * 2
    in_a_list = [x * 3]
    y = (held + in_a_list[0]).sum()
    z = (y + 1) * 2  # later ops sweep the candidates
    assert not is_released(held.data) and not is_released(in_a_list[0].data)
    np.testing.assert_array_equal(held.numpy(), 2 * np.ones((3, 3)))
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 10 * np.ones((3, 3)))


def test_a_value_stays_when_its_consumer_is_dropped_and_the_user_holds_it(limit):
    limit(0)
    x = Tensor(np.ones((3, 3)), requires_grad=True)
    held = x * 2
    consumer = held + 1  # notes held: its only other reference is the user's name
    del consumer
    for _ in range(3):
        (x * 3 + 1).sum()  # later ops sweep
    np.testing.assert_array_equal(held.numpy(), 2 * np.ones((3, 3)))


def test_a_value_read_by_another_consumer_is_kept(limit):
    limit(0)
    x = Tensor(np.full((3, 3), 2.0), requires_grad=True)
    loss = ((x * 2).tanh() * (x * 2 + 0.0)).sum()  # each x * 2 feeds one op reading it
    t = x * 2
    u = t.tanh()  # tanh reads no input: t is a candidate, but the * below reads it
    v = (u * t).sum() + loss
    v.backward()
    assert not is_released(t.data)
    expected = 2 * (2 * (1 - np.tanh(4.0) ** 2) * 4 + np.tanh(4.0) * 2)
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 3), expected))


def test_named_tensors_and_leaves_are_kept(limit):
    limit(0)
    x = Tensor(np.ones((4, 4)), requires_grad=True)
    t = x * 2
    t.name = "t"
    u = t + x  # notes neither: t has a name, x is a leaf
    del t
    y = (u + 1).sum() + 0.0
    assert not any(is_released(p.data) for p in u._parents)
    assert y.item() == 64.0


def test_small_values_are_kept_by_default():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = ((x * 2) + 1).sum() + 0.0
    assert all(n.value.kept for n in export_graph(y).nodes)


def test_large_values_are_released_by_default():
    x = Tensor(np.ones((40, 40)), requires_grad=True)
    h = (x * 2) + 1
    y = (h + 0.0).sum()  # the next large op that reads no input releases x * 2
    assert [n.op for n in export_graph(y).nodes if not n.value.kept] == ["*"]


def test_a_drawing_says_value_not_kept(limit):
    limit(0)
    x = Tensor(np.ones((3, 3)), requires_grad=True)
    y = ((x * 2) + 1).sum() + 0.0
    graph = export_graph(y)
    released = [n for n in graph.nodes if not n.value.kept]
    assert [(n.op, n.shape) for n in released] == [("*", (3, 3)), ("+", (3, 3))]
    assert "value not kept" in to_dot(graph).source


def test_limit_none_keeps_every_value_and_the_setter_returns_the_previous(limit):
    assert limit(None) is None
    x = Tensor(np.ones((40, 40)), requires_grad=True)
    y = ((x * 2) + 1).sum() + 0.0
    assert all(n.value.kept for n in export_graph(y).nodes)
    assert limit(7) is None and limit(None) == 7


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
def test_a_bad_limit_is_refused(bad):
    with pytest.raises((TypeError, ValueError), match="set_interior_value_limit"):
        set_interior_value_limit(bad)


def test_the_op_flags_follow_what_each_vjp_reads():
    for name, op in OPS.items():
        rule, out = SAVED.get(name, ("all", True))
        assert op.reads_inputs == (rule != "none"), name
        assert op.reads_out == (out is not False), name


def test_an_in_place_op_on_overlapping_views_still_raises_at_the_default_limit():
    # A released parent would hide that a and b share memory: the write to a would then be
    # recorded, and b's gradient would silently ignore it (reviewer's case; PyTorch: 72.0).
    x = Tensor(np.ones((1, 4000)), requires_grad=True)
    p = x * 2
    a, _b = p[:, :3000], p[:, 1000:]  # _b: the overlapping view the user keeps
    del p
    for _ in range(6):
        a + 0.0  # later ops look at the candidates again
    with pytest.raises(tl.versioning.InplaceError):
        a *= 3


def test_threads_building_graphs_at_once_do_not_trip_the_bookkeeping(limit):
    import sys
    import threading

    limit(0)
    errors = []

    def work():
        x = Tensor(np.ones((8, 8)), requires_grad=True)
        try:
            for _ in range(3000):
                p = x * 2
                (p + 1).sum()
                (p + 2).sum()
        except Exception as err:  # noqa: BLE001 (any error is the failure)
            errors.append(repr(err))

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(previous)
    assert errors == []
