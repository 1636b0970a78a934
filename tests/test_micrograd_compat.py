"""micrograd code runs unchanged on tinygrad_lite: its test_engine.py, its demo's training loop
and the draw_dot of its trace_graph notebook, with only the imports swapped.

Each program is written once, taking the engine (Value class and nn module) as an argument, and
run against micrograd 0.1.0 itself; results must agree to 1e-12.
"""

from __future__ import annotations

import gc
import math
import random

import pytest

from tinygrad_lite import Value, nn
from tinygrad_lite.nn import micro

micrograd_engine = pytest.importorskip("micrograd.engine")
micrograd_nn = pytest.importorskip("micrograd.nn")
MicroValue = micrograd_engine.Value

ENGINES = [(Value, micro), (MicroValue, micrograd_nn)]


# -- micrograd's test/test_engine.py, as functions of the Value class ----------------------


def sanity_check(V):
    x = V(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    return y.data, x.grad


def more_ops(V):
    a = V(-4.0)
    b = V(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    return g.data, a.grad, b.grad


def unary(V, fn, x):
    xv = V(x)
    yv = fn(xv)
    yv.backward()
    return yv.data, xv.grad


def test_sanity_check_matches_micrograd():
    assert sanity_check(Value) == pytest.approx(sanity_check(MicroValue), rel=1e-12, abs=1e-12)


def test_more_ops_matches_micrograd():
    assert more_ops(Value) == pytest.approx(more_ops(MicroValue), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", ["tanh", "exp"])
@pytest.mark.parametrize("x", [-1.0, 0.123, 2.0])
def test_unary_functions_match_torch(name, x):
    # micrograd 0.1.0 has no tanh/exp on Value; its test checks them against torch.
    torch = pytest.importorskip("torch")
    xt = torch.tensor([x], dtype=torch.float64, requires_grad=True)
    yt = getattr(torch.Tensor, name)(xt)
    yt.backward()
    ours = unary(Value, getattr(Value, name), x)
    assert ours == pytest.approx((yt.item(), xt.grad.item()), rel=1e-12, abs=1e-12)


def test_sanity_check_matches_torch():
    torch = pytest.importorskip("torch")
    x = torch.tensor([-4.0], dtype=torch.float64, requires_grad=True)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    assert sanity_check(Value) == (y.item(), x.grad.item())


# -- micrograd's demo.ipynb training loop, 20 steps --------------------------------------


def moons(n=40, noise=0.1, seed=0):
    """A fixed two-moons set (sklearn's make_moons layout, labels -1/+1), as plain floats."""
    rng = random.Random(seed)
    xs, ys = [], []
    for i in range(n):
        t = math.pi * (i // 2) / (n // 2 - 1)
        if i % 2 == 0:
            x, y, label = math.cos(t), math.sin(t), -1
        else:
            x, y, label = 1 - math.cos(t), 0.5 - math.sin(t), 1
        xs.append([x + rng.gauss(0, noise), y + rng.gauss(0, noise)])
        ys.append(label)
    return xs, ys


def demo_training(V, nn_module, steps=20):
    """The demo notebook's cells, unchanged but for the engine passed in."""
    random.seed(1337)
    X, y = moons()
    model = nn_module.MLP(2, [16, 16, 1])  # 2-layer neural network

    def loss():
        inputs = [list(map(V, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        alpha = 1e-4
        reg_loss = alpha * sum(p * p for p in model.parameters())
        total_loss = data_loss + reg_loss
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
        return total_loss, sum(accuracy) / len(accuracy)

    history = []
    for k in range(steps):
        total_loss, acc = loss()
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        history.append((total_loss.data, acc))
    return history, [p.data for p in model.parameters()]


@pytest.fixture
def no_cyclic_gc():
    """micrograd's graphs are cycles: with the collector on, its 20 steps take ten times as
    long, and nothing here depends on when garbage is collected."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def test_demo_training_loop_matches_micrograd_for_20_steps(no_cyclic_gc):
    ours, our_weights = demo_training(Value, micro)
    theirs, their_weights = demo_training(MicroValue, micrograd_nn)
    assert [a for _, a in ours] == [a for _, a in theirs]
    assert [loss for loss, _ in ours] == pytest.approx(
        [loss for loss, _ in theirs], rel=1e-12, abs=1e-12
    )
    assert our_weights == pytest.approx(their_weights, rel=1e-12, abs=1e-12)
    assert ours[-1][0] < ours[0][0]  # and it trains


def test_micro_mlp_draws_micrograds_weights():
    random.seed(0)
    ours = micro.MLP(3, [4, 2])
    random.seed(0)
    theirs = micrograd_nn.MLP(3, [4, 2])
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]
    assert repr(ours) == repr(theirs)


def test_micro_zero_grad_resets_every_parameter():
    model = micro.MLP(2, [3, 1])
    model([Value(1.0), Value(2.0)]).backward()
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_micro_module_has_no_parameters_by_default():
    assert micro.Module().parameters() == []


# -- the trace_graph notebook's draw_dot, as written ---------------------------------------


def trace(root):
    nodes, edges = set(), set()

    def build(v):
        if v not in nodes:
            nodes.add(v)
            for child in v._prev:
                edges.add((child, v))
                build(child)

    build(root)
    return nodes, edges


def draw_dot(root, format="svg", rankdir="LR"):
    """
    format: png | svg | ...
    rankdir: TB (top to bottom graph) | LR (left to right)
    """
    from graphviz import Digraph

    assert rankdir in ["LR", "TB"]
    nodes, edges = trace(root)
    dot = Digraph(format=format, graph_attr={"rankdir": rankdir})

    for n in nodes:
        dot.node(
            name=str(id(n)),
            label="{ data %.4f | grad %.4f }" % (n.data, n.grad),  # noqa: UP031 (as written)
            shape="record",
        )
        if n._op:
            dot.node(name=str(id(n)) + n._op, label=n._op)
            dot.edge(str(id(n)) + n._op, str(id(n)))

    for n1, n2 in edges:
        dot.edge(str(id(n1)), str(id(n2)) + n2._op)

    return dot


def drawn_neuron(V, nn_module):
    """The notebook's second cell: a 2D neuron, drawn; returns its record labels and op names."""
    random.seed(1337)
    n = nn_module.Neuron(2)
    x = [V(1.0), V(-2.0)]
    y = n(x)
    y.backward()
    dot = draw_dot(y)
    records = sorted(line.split('"')[1] for line in dot.body if "shape=record" in line)
    ops = sorted(n._op.lower() for n in trace(y)[0] if n._op)
    return records, ops, len(trace(y)[1])


def test_draw_dot_from_the_trace_graph_notebook_draws_what_micrograd_draws():
    pytest.importorskip("graphviz")
    records, ops, edges = drawn_neuron(Value, micro)
    # 2 weights, 2 inputs, the bias and 5 results; the same data and gradients as micrograd's.
    assert len(records) == 10 and edges == 9
    assert (records, ops, edges) == drawn_neuron(MicroValue, micrograd_nn)


def test_draw_dot_renders_with_graphviz():
    graphviz = pytest.importorskip("graphviz")
    x = Value(1.0)
    y = (x * 2 + 1).relu()
    y.backward()
    try:
        svg = draw_dot(y).pipe(format="svg").decode()
    except graphviz.ExecutableNotFound:
        pytest.skip("Graphviz dot is not installed")
    # x, the constants 2 and 1, and three results; plus one box per op (*, +, relu).
    assert svg.count('class="node"') == 6 + 3
    assert "data 3.0000" in svg


# -- the constructor, _prev, repr ------------------------------------------------------------


def test_second_positional_argument_is_children_as_micrograds():
    a, b = Value(2.0), Value(3.0)
    out = Value(a.data * b.data, (a, b), "*")
    assert out._prev == {a, b}
    assert out.op == "*" and out._op == "*"


def test_hand_built_value_with_a_known_op_differentiates():
    a, b = Value(2.0), Value(3.0)
    out = Value(a.data * b.data, (a, b), "*")
    out.backward()
    assert (a.grad, b.grad) == (3.0, 2.0)


def test_hand_built_value_with_an_unknown_op_says_it_has_no_rule():
    a = Value(2.0)
    out = Value(a.data**2, (a,), "**2")
    with pytest.raises(RuntimeError, match=r"'\*\*2'.*no derivative rule"):
        out.backward()


def test_label_is_the_fourth_positional_argument():
    assert Value(1.0, (), "", "w").label == "w"


def test_a_string_second_argument_is_a_type_error_naming_label():
    with pytest.raises(TypeError, match=r"_children.*label='w'"):
        Value(1.0, "w")


def test_a_non_string_label_is_a_type_error():
    with pytest.raises(TypeError, match="label must be a str"):
        Value(1.0, label=3)


def test_children_must_be_values():
    with pytest.raises(TypeError, match="_children must hold Values"):
        Value(1.0, (1.0,))


def test_prev_is_a_set_so_a_squared_has_one_parent():
    a = Value(2.0)
    assert (a * a)._prev == {a}
    assert (a * a)._parents == (a, a)  # the ordered edges stay two


def test_repr_is_micrograds():
    assert repr(Value(2.0)) == repr(MicroValue(2.0)).replace("grad=0", "grad=0.0")
    assert repr(Value(2.0)) == "Value(data=2.0, grad=0.0)"


# -- nn.Module never silently drops Values ---------------------------------------------------


def test_tensor_module_rejects_a_value_attribute():
    class Scalar(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = Value(1.0)

    with pytest.raises(TypeError, match=r"Scalar\.w.*nn\.micro"):
        Scalar()


def test_tensor_module_rejects_a_list_of_values():
    class Scalars(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = [Value(1.0), Value(2.0)]

    with pytest.raises(TypeError, match=r"Scalars\.ws"):
        Scalars()


def test_parameters_raise_for_values_added_to_a_list_later():
    class Filled(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = []
            self.ws.append(Value(1.0))

    with pytest.raises(TypeError, match=r"Filled\.ws"):
        list(Filled().parameters())


def test_module_without_parameters_still_gives_an_empty_list():
    assert list(nn.ReLU().parameters()) == []


# -- why ours frees its graphs without the cyclic collector ----------------------------------


def test_a_value_op_adds_two_gc_tracked_objects_and_no_cycle():
    # The result and its parents tuple; no closure, no dict (micrograd adds a closure, its cell
    # and a set per op). Fewer tracked objects mean fewer and shorter gc passes per step.
    a, b = Value(2.0), Value(3.0)
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        before = len(gc.get_objects())
        out = [a * b for _ in range(1000)]
        tracked = len(gc.get_objects()) - before - 1  # less the list `out` itself
    finally:
        if was_enabled:
            gc.enable()
    assert tracked == 2000
    gc.collect()  # anything else's garbage first
    del out  # freed by reference counting: the collector finds nothing left
    assert gc.collect() == 0
