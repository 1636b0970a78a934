"""PyTorch's autograd contract, as tinygrad-lite keeps it: backward's arguments, gradient
accumulation, recording switches, leaves and retain_grad, hooks, detach, the functional
`grad()`, higher-order gradients, graph freeing, deep graphs, the backward pass as events,
named scopes and anomaly mode. Each test states one behaviour."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from hypothesis import given, settings

import tinygrad_lite as tl
from tinygrad_lite import (
    AnomalyError,
    DTypeError,
    GraphFreedError,
    ShapeError,
    Tensor,
    Value,
)
from tinygrad_lite.graph import export_graph
from tinygrad_lite.testing import expression_graphs


def vec(*values: float, requires_grad: bool = True) -> Tensor:
    """A float64 vector (float64 so that comparisons are exact to rounding)."""
    return Tensor(np.array(values, dtype=np.float64), requires_grad=requires_grad)


@pytest.fixture
def no_gc():
    """Deep chains allocate millions of cycle-free nodes; the cyclic collector would rescan
    them over and over while they are built, so it is paused for the test."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --------------------------------------------------------------------------------------------
# backward(gradient=None, retain_graph=False, create_graph=False)
# --------------------------------------------------------------------------------------------


def test_backward_of_a_scalar_seeds_with_one():
    x = vec(1.0, 2.0, 3.0)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0, 6.0])


def test_backward_of_a_non_scalar_without_gradient_raises_naming_the_shape():
    x = vec(1.0, 2.0)
    with pytest.raises(RuntimeError, match=r"scalar outputs.*shape \(2,\).*gradient="):
        (x * 2).backward()


def test_backward_of_a_non_scalar_with_gradient_is_a_vector_jacobian_product():
    x = vec(1.0, 2.0)
    (x * x).backward(gradient=vec(10.0, 100.0, requires_grad=False))
    np.testing.assert_allclose(x.grad.data, [20.0, 400.0])


def test_backward_accepts_a_numpy_gradient():
    x = vec(1.0, 2.0)
    (x * 3).backward(np.array([1.0, -1.0]))
    np.testing.assert_allclose(x.grad.data, [3.0, -3.0])


def test_backward_gradient_of_the_wrong_shape_raises_shape_error():
    x = vec(1.0, 2.0)
    with pytest.raises(ShapeError, match=r"\(3,\).*\(2,\)"):
        (x * 3).backward(np.ones(3))


def test_backward_on_a_tensor_that_does_not_require_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        vec(1.0, requires_grad=False).sum().backward()


def test_grad_accumulates_across_backward_calls():
    x = vec(1.0, 2.0)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0 + 3.0, 4.0 + 3.0])


def test_zero_grad_sets_grad_to_none_by_default():
    x = vec(1.0)
    (x * 2).sum().backward()
    x.zero_grad()
    assert x.grad is None


def test_zero_grad_without_set_to_none_keeps_a_zero_tensor():
    x = vec(1.0, 2.0)
    (x * 2).sum().backward()
    x.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])


def test_grad_has_the_dtype_of_its_tensor():
    x = Tensor([1.0, 2.0], requires_grad=True)  # Python floats -> float32
    (x * x).sum().backward()
    assert x.grad.dtype == np.float32


def test_value_grad_accumulates_across_backward_calls():
    x = Value(3.0)
    (x * x).backward()
    (x * 2).backward()
    assert x.grad == 6.0 + 2.0


def test_value_backward_with_a_gradient_scales_it():
    x = Value(3.0)
    (x * x).backward(gradient=0.5)
    assert x.grad == 3.0


def test_module_level_backward_takes_a_list_of_outputs():
    x = vec(1.0, 2.0)
    tl.backward([(x * x).sum(), x.sum()])
    np.testing.assert_allclose(x.grad.data, [3.0, 5.0])


# --------------------------------------------------------------------------------------------
# Recording switches: no_grad, enable_grad, set_grad_enabled
# --------------------------------------------------------------------------------------------


def test_no_grad_context_records_nothing():
    x = vec(1.0)
    with tl.no_grad():
        y = x * 2
    assert not y.requires_grad
    assert y.is_leaf


def test_no_grad_as_a_bare_decorator_records_nothing():
    @tl.no_grad
    def double(t):
        return t * 2

    assert not double(vec(1.0)).requires_grad


def test_no_grad_as_a_called_decorator_records_nothing():
    @tl.no_grad()
    def double(t):
        return t * 2

    assert not double(vec(1.0)).requires_grad


def test_decorated_function_keeps_its_name():
    @tl.no_grad()
    def double(t):
        return t * 2

    assert double.__name__ == "double"


def test_enable_grad_inside_no_grad_records_again():
    x = vec(1.0)
    with tl.no_grad():
        with tl.enable_grad():
            y = x * 2
    assert y.requires_grad


def test_enable_grad_as_a_decorator_records_inside_no_grad():
    @tl.enable_grad
    def double(t):
        return t * 2

    with tl.no_grad():
        assert double(vec(1.0)).requires_grad


def test_set_grad_enabled_false_as_a_context_records_nothing():
    x = vec(1.0)
    with tl.set_grad_enabled(False):
        assert not tl.is_grad_enabled()
        y = x * 2
    assert not y.requires_grad
    assert tl.is_grad_enabled()


def test_set_grad_enabled_true_inside_no_grad_records():
    x = vec(1.0)
    with tl.no_grad(), tl.set_grad_enabled(True):
        y = x * 2
    assert y.requires_grad


def test_set_grad_enabled_as_a_decorator():
    @tl.set_grad_enabled(False)
    def double(t):
        return t * 2

    assert not double(vec(1.0)).requires_grad
    assert tl.is_grad_enabled()


def test_a_recursive_no_grad_function_restores_recording_on_exit():
    @tl.no_grad()
    def countdown(n):
        return 0 if n == 0 else countdown(n - 1)

    countdown(3)
    assert tl.is_grad_enabled()


def test_grad_mode_is_restored_when_the_block_raises():
    with pytest.raises(ZeroDivisionError):
        with tl.no_grad():
            1 / 0  # noqa: B018 - the exception is the point
    assert tl.is_grad_enabled()


def test_recording_resumes_after_a_no_grad_block():
    x = vec(1.0)
    with tl.no_grad():
        pass
    assert (x * 2).requires_grad


# --------------------------------------------------------------------------------------------
# Leaves, non-leaves and retain_grad
# --------------------------------------------------------------------------------------------


def test_only_leaves_keep_grad_after_backward():
    x = vec(1.0, 2.0)
    hidden = x * 3
    (hidden * hidden).sum().backward()
    assert x.grad is not None
    assert hidden.grad is None


def test_retain_grad_keeps_the_gradient_of_a_non_leaf():
    x = vec(1.0, 2.0)
    hidden = x * 3
    hidden.retain_grad()
    (hidden * hidden).sum().backward()
    np.testing.assert_allclose(hidden.grad.data, [6.0, 12.0])  # 2 * hidden


def test_retain_grad_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        vec(1.0, requires_grad=False).retain_grad()


def test_leaf_and_op_results_report_is_leaf():
    x = vec(1.0)
    assert x.is_leaf
    assert not (x + 1).is_leaf


def test_result_of_constants_only_does_not_require_grad():
    y = vec(1.0, requires_grad=False) * 2
    assert not y.requires_grad


def test_requires_grad_false_on_a_non_leaf_raises():
    y = vec(1.0) * 2
    with pytest.raises(RuntimeError, match="only leaves"):
        y.requires_grad_(False)


def test_requires_grad_on_an_integer_tensor_raises_dtype_error():
    with pytest.raises(DTypeError, match="int64"):
        Tensor(np.array([1, 2], dtype=np.int64)).requires_grad_()


def test_requires_grad_in_the_constructor_of_an_integer_tensor_raises_dtype_error():
    with pytest.raises(DTypeError, match="floating point"):
        Tensor([1, 2], requires_grad=True)


# --------------------------------------------------------------------------------------------
# Hooks
# --------------------------------------------------------------------------------------------


def test_tensor_hook_returning_a_tensor_replaces_the_leaf_gradient():
    x = vec(1.0, 2.0)
    x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [30.0, 30.0])


def test_tensor_hook_returning_none_only_observes():
    x = vec(1.0, 2.0)
    seen = []
    x.register_hook(lambda g: seen.append(g.data.copy()))
    (x * 3).sum().backward()
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])


def test_hook_on_a_non_leaf_changes_the_gradient_flowing_upstream():
    x = vec(1.0, 2.0)
    hidden = x * 3
    hidden.register_hook(lambda g: g * 0.5)
    hidden.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.5, 1.5])


def test_hooks_run_in_registration_order_each_on_the_previous_result():
    x = vec(1.0)
    x.register_hook(lambda g: g + 1)
    x.register_hook(lambda g: g * 10)
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.data, [(2.0 + 1.0) * 10.0])


def test_hook_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        vec(1.0, requires_grad=False).register_hook(lambda g: g)


def test_value_hook_replaces_the_gradient():
    x = Value(2.0)
    x.register_hook(lambda g: g * 10)
    (x * 3).backward()
    assert x.grad == 30.0


def test_retain_grad_sees_the_gradient_after_hooks():
    x = vec(1.0, 2.0)
    hidden = x * 1
    hidden.retain_grad()
    hidden.register_hook(lambda g: g * 5)
    hidden.sum().backward()
    np.testing.assert_allclose(hidden.grad.data, [5.0, 5.0])


def test_hook_under_create_graph_replaces_a_differentiable_gradient():
    x = vec(1.0, 2.0)
    hidden = x * x
    hidden.register_hook(lambda g: g * 3)
    (g,) = tl.grad(hidden.sum(), x, create_graph=True)
    (gg,) = tl.grad(g.sum(), x)
    np.testing.assert_allclose(g.data, [6.0, 12.0])
    np.testing.assert_allclose(gg.data, [6.0, 6.0])


def test_value_hook_on_an_intermediate_changes_the_upstream_gradient():
    x = Value(2.0)
    hidden = x * 3
    hidden.register_hook(lambda g: -g)
    (hidden + 1).backward()
    assert x.grad == -3.0


# --------------------------------------------------------------------------------------------
# detach
# --------------------------------------------------------------------------------------------


def test_detach_gives_a_leaf_that_shares_data_and_does_not_require_grad():
    x = vec(1.0, 2.0)
    d = (x * 2).detach()
    assert d.is_leaf
    assert not d.requires_grad
    np.testing.assert_allclose(d.data, [2.0, 4.0])


def test_detach_shares_memory_with_the_original():
    x = vec(1.0, 2.0)
    assert x.detach().data is x.data


def test_no_gradient_flows_through_detach():
    x = vec(1.0, 2.0)
    y = (x * x.detach()).sum()  # d/dx = detached x only, not 2x
    y.backward()
    np.testing.assert_allclose(x.grad.data, [1.0, 2.0])


# --------------------------------------------------------------------------------------------
# grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)
# --------------------------------------------------------------------------------------------


def test_grad_returns_gradients_without_touching_dot_grad():
    x = vec(1.0, 2.0)
    (dx,) = tl.grad((x * x).sum(), x)
    np.testing.assert_allclose(dx.data, [2.0, 4.0])
    assert x.grad is None


def test_grad_of_a_single_input_still_returns_a_tuple():
    x = vec(1.0)
    result = tl.grad((x * 2).sum(), x)
    assert isinstance(result, tuple)
    assert len(result) == 1


def test_grad_returns_one_gradient_per_input_in_order():
    x, w = vec(2.0), vec(5.0)
    dx, dw = tl.grad((x * w).sum(), [x, w])
    assert dx.item() == 5.0
    assert dw.item() == 2.0


def test_grad_with_respect_to_a_non_leaf():
    x = vec(1.0, 2.0)
    hidden = x * 3
    (dh,) = tl.grad((hidden * hidden).sum(), hidden)
    np.testing.assert_allclose(dh.data, [6.0, 12.0])


def test_grad_outputs_weights_a_non_scalar_output():
    x = vec(1.0, 2.0)
    (dx,) = tl.grad(x * x, x, grad_outputs=vec(1.0, 10.0, requires_grad=False))
    np.testing.assert_allclose(dx.data, [2.0, 40.0])


def test_grad_of_a_non_scalar_output_without_grad_outputs_raises():
    x = vec(1.0, 2.0)
    with pytest.raises(RuntimeError, match=r"grad: .*scalar outputs.*\(2,\)"):
        tl.grad(x * x, x)


def test_grad_of_an_unused_input_raises_and_suggests_allow_unused():
    x, unused = vec(1.0), vec(2.0)
    with pytest.raises(RuntimeError, match=r"input 1 .*not reachable.*allow_unused=True"):
        tl.grad((x * x).sum(), [x, unused])


def test_grad_with_allow_unused_returns_none_for_an_unused_input():
    x, unused = vec(1.0), vec(2.0)
    dx, dunused = tl.grad((x * x).sum(), [x, unused], allow_unused=True)
    assert dx.item() == 2.0
    assert dunused is None


def test_grad_of_an_unused_value_input_with_allow_unused_is_none():
    a, unused = Value(1.0), Value(2.0)
    da, dunused = tl.grad(a * 3, [a, unused], allow_unused=True)
    assert (da.data, dunused) == (3.0, None)


def test_grad_with_respect_to_a_tensor_without_grad_raises():
    x = vec(1.0)
    with pytest.raises(RuntimeError, match="input 0 does not require grad"):
        tl.grad((x * 2).sum(), vec(1.0, requires_grad=False))


def test_grad_of_values():
    a, b = Value(2.0), Value(5.0)
    da, db = tl.grad(a * b + a, [a, b])
    assert (da.data, db.data) == (6.0, 2.0)


def test_gradient_without_create_graph_is_not_differentiable():
    x = vec(1.0)
    (dx,) = tl.grad((x * x * x).sum(), x)
    assert not dx.requires_grad


# --------------------------------------------------------------------------------------------
# Higher-order gradients (create_graph=True)
# --------------------------------------------------------------------------------------------


def test_create_graph_makes_the_gradient_differentiable():
    x = vec(1.0)
    (dx,) = tl.grad((x * x * x).sum(), x, create_graph=True)
    assert dx.requires_grad
    assert not dx.is_leaf


def test_grad_of_grad_of_a_cube():
    x = Tensor(np.float64(3.0), requires_grad=True)
    (d1,) = tl.grad(x**3, x, create_graph=True)
    (d2,) = tl.grad(d1, x, create_graph=True)
    (d3,) = tl.grad(d2, x)
    assert (d1.item(), d2.item(), d3.item()) == (27.0, 18.0, 6.0)


def test_second_derivative_of_tanh_matches_its_formula():
    x = vec(-0.7, 0.2, 1.5)
    (d1,) = tl.grad(x.tanh().sum(), x, create_graph=True)
    (d2,) = tl.grad(d1.sum(), x)
    t = np.tanh(x.data)
    np.testing.assert_allclose(d2.data, -2 * t * (1 - t * t), rtol=1e-12)


def _cubic(x: Tensor) -> Tensor:
    """f(x) = sum x_i^3 + x_0 x_1 x_2, whose Hessian is written out in `_cubic_hessian`."""
    return (x**3).sum() + x[0] * x[1] * x[2]


def _cubic_hessian(x: np.ndarray) -> np.ndarray:
    x0, x1, x2 = x
    return np.diag(6 * x) + np.array([[0, x2, x1], [x2, 0, x0], [x1, x0, 0]])


def test_hessian_vector_product_matches_the_explicit_hessian():
    x = vec(0.5, -1.0, 2.0)
    v = np.array([1.0, 2.0, -3.0])
    (g,) = tl.grad(_cubic(x), x, create_graph=True)
    (hv,) = tl.grad((g * Tensor(v)).sum(), x)
    np.testing.assert_allclose(hv.data, _cubic_hessian(x.data) @ v, rtol=1e-12)


def test_hessian_vector_product_via_grad_outputs():
    x = vec(0.5, -1.0, 2.0)
    v = np.array([0.0, 1.0, 0.0])
    (g,) = tl.grad(_cubic(x), x, create_graph=True)
    (hv,) = tl.grad(g, x, grad_outputs=Tensor(v))
    np.testing.assert_allclose(hv.data, _cubic_hessian(x.data)[1], rtol=1e-12)


def test_backward_with_create_graph_leaves_a_differentiable_grad():
    x = vec(2.0)
    (x**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (d2,) = tl.grad(x.grad.sum(), x)
    assert d2.item() == 12.0  # 6x


def test_backward_with_create_graph_retains_the_graph_by_default():
    x = vec(2.0)
    y = (x**3).sum()
    y.backward(create_graph=True)
    y.backward()
    assert x.grad.item() == 2 * 12.0


def test_backward_inside_no_grad_still_computes_gradients():
    x = vec(1.0, 2.0)
    y = (x * x).sum()
    with tl.no_grad():
        y.backward()
        assert not tl.is_grad_enabled()  # and backward left the switch as it found it
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0])


def test_value_second_derivative_of_a_cube():
    a = Value(3.0)
    (d1,) = tl.grad(a**3, a, create_graph=True)
    (d2,) = tl.grad(d1, a)
    assert (d1.data, d2.data) == (27.0, 18.0)


def test_value_second_derivative_of_sigmoid_matches_its_formula():
    a = Value(0.4)
    (d1,) = tl.grad(a.sigmoid(), a, create_graph=True)
    (d2,) = tl.grad(d1, a)
    s = 1 / (1 + np.exp(-0.4))
    assert d2.data == pytest.approx(s * (1 - s) * (1 - 2 * s), rel=1e-12)


def test_value_mixed_second_derivative():
    a, b = Value(2.0), Value(3.0)
    (da,) = tl.grad(a * a * b, a, create_graph=True)  # 2ab
    (dab,) = tl.grad(da, b)
    assert dab.data == 4.0  # 2a


# --------------------------------------------------------------------------------------------
# The graph is freed after backward unless retain_graph=True
# --------------------------------------------------------------------------------------------


def test_second_backward_through_a_freed_graph_raises_and_says_retain_graph():
    x = vec(1.0, 2.0)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(GraphFreedError, match=r"retain_graph=True"):
        y.backward()


def test_graph_freed_error_is_a_runtime_error():
    assert issubclass(GraphFreedError, RuntimeError)


def test_retain_graph_allows_a_second_backward():
    x = vec(1.0, 2.0)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, [4.0, 8.0])


def test_grad_frees_the_graph_by_default():
    x = vec(1.0)
    y = (x * x).sum()
    tl.grad(y, x)
    with pytest.raises(GraphFreedError, match="retain_graph=True"):
        tl.grad(y, x)


def test_grad_with_retain_graph_can_run_twice():
    x = vec(1.0)
    y = (x * x).sum()
    first = tl.grad(y, x, retain_graph=True)[0].item()
    assert tl.grad(y, x)[0].item() == first == 2.0


def test_value_second_backward_raises_graph_freed_error():
    x = Value(2.0)
    y = x * x
    y.backward()
    with pytest.raises(GraphFreedError, match="retain_graph=True"):
        y.backward()


def test_value_retain_graph_allows_a_second_backward():
    x = Value(2.0)
    y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad == 8.0


def test_backward_through_a_freed_subgraph_from_a_new_output_raises():
    x = vec(1.0)
    hidden = x * x
    hidden.sum().backward()
    with pytest.raises(GraphFreedError):
        (hidden * 2).sum().backward()


# --------------------------------------------------------------------------------------------
# Graph walks are iterative
# --------------------------------------------------------------------------------------------


def test_a_chain_of_a_million_values_backpropagates(no_gc):
    x, step = Value(1.0), Value(0.5)
    out = x
    for _ in range(1_000_000):
        out = out + step
    out.backward()
    assert x.grad == 1.0
    assert step.grad == 1_000_000.0


def test_a_chain_of_a_hundred_thousand_tensors_backpropagates(no_gc):
    x, step = vec(1.0, 2.0), vec(0.5, 0.5)
    out = x
    for _ in range(100_000):
        out = out + step
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])
    np.testing.assert_array_equal(step.grad.data, [100_000.0, 100_000.0])


def test_create_graph_through_a_deep_chain_does_not_recurse(no_gc):
    x = vec(0.5)
    out = x
    for _ in range(5_000):
        out = out * 1.0
    (g,) = tl.grad((out * out).sum(), x, create_graph=True)
    (h,) = tl.grad(g.sum(), x)
    assert h.item() == 2.0


# --------------------------------------------------------------------------------------------
# The backward pass as an iterator of events
# --------------------------------------------------------------------------------------------


def _small_tensor_graph():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="a")
    b = Tensor(np.array([3.0, -1.0]), requires_grad=True, name="b")
    hidden = (a * b).tanh()
    out = (hidden * a + b).sum()
    return a, b, out


def test_backward_events_are_in_reverse_topological_order():
    *_, out = _small_tensor_graph()
    events = tl.backward_events(out)
    position = {id(e.node): i for i, e in enumerate(events)}
    for i, event in enumerate(events):
        for parent in event.node._parents:
            if id(parent) in position:  # leaves send no events of their own
                assert position[id(parent)] > i


def test_backward_events_start_at_the_root_with_its_seed():
    *_, out = _small_tensor_graph()
    first = tl.backward_events(out)[0]
    assert first.node is out
    assert float(np.asarray(first.grad)) == 1.0


def test_every_node_with_parents_appears_once_in_the_events():
    *_, out = _small_tensor_graph()
    events = tl.backward_events(out)
    ids = [e.node._id for e in events]
    assert len(ids) == len(set(ids))
    op_ids = {n.id for n in export_graph(out).nodes if n.kind == "op"}
    assert set(ids) == op_ids


def test_event_parent_grads_are_the_gradients_sent_to_each_parent():
    a = Value(2.0)
    b = Value(5.0)
    (event,) = tl.backward_events(a * b)
    assert event.node.op == "*"
    assert event.grad == 1.0
    assert event.parent_grads == (5.0, 2.0)


def test_event_grad_is_the_sum_of_everything_the_node_received():
    a = Value(2.0)
    hidden = a * 3
    out = hidden * hidden  # hidden receives 2 * hidden from two edges
    events = tl.backward_events(out)
    received = {e.node._id: e.grad for e in events}
    assert received[hidden._id] == 2 * hidden.data


def test_consuming_iter_backward_gives_the_same_grads_as_backward():
    a1, b1, out1 = _small_tensor_graph()
    out1.backward()
    a2, b2, out2 = _small_tensor_graph()
    for _ in tl.iter_backward([out2], [np.ones(())]):
        pass
    np.testing.assert_array_equal(a1.grad.data, a2.grad.data)
    np.testing.assert_array_equal(b1.grad.data, b2.grad.data)


def test_backward_events_give_the_same_grads_as_backward():
    a1, b1, out1 = _small_tensor_graph()
    out1.backward()
    a2, b2, out2 = _small_tensor_graph()
    tl.backward_events(out2)
    np.testing.assert_array_equal(a1.grad.data, a2.grad.data)
    np.testing.assert_array_equal(b1.grad.data, b2.grad.data)


def test_iter_backward_is_lazy_until_consumed():
    a, _, out = _small_tensor_graph()
    events = tl.iter_backward([out], [np.ones(())])
    assert a.grad is None
    next(events)
    assert a.grad is None  # a receives its gradient only when the '*' nodes run
    for _ in events:
        pass
    assert a.grad is not None


@settings(deadline=None, max_examples=30)
@given(expression_graphs(max_depth=4, n_inputs=3))
def test_events_of_random_graphs_match_backward_and_visit_each_node_once(graph):
    expected = graph.make_inputs()
    graph.fn(*expected).sum().backward()
    inputs = graph.make_inputs()
    out = graph.fn(*inputs).sum()
    events = tl.backward_events(out)
    position = {e.node._id: i for i, e in enumerate(events)}
    assert len(position) == len(events)
    for i, event in enumerate(events):
        assert all(position.get(p._id, len(events)) > i for p in event.node._parents)
    for want, got in zip(expected, inputs):
        np.testing.assert_array_equal(got.grad.data, want.grad.data)


def test_iter_backward_from_several_roots_sums_their_gradients():
    x = vec(1.0, 2.0)
    roots = [x * 2, x * 3]
    for _ in tl.iter_backward(roots, [np.ones(2), np.ones(2)]):
        pass
    np.testing.assert_allclose(x.grad.data, [5.0, 5.0])


def test_recording_stays_on_while_a_backward_walk_is_paused():
    _, _, out = _small_tensor_graph()
    events = tl.iter_backward([out], [np.ones(())])
    next(events)
    assert tl.is_grad_enabled()
    assert (vec(1.0) * 2).requires_grad
    for _ in events:
        pass
    assert tl.is_grad_enabled()


def test_a_paused_create_graph_walk_still_records_its_gradients():
    x = vec(1.0, 2.0)
    y = (x * x * x).sum()
    events = tl.iter_backward([y], [Tensor(np.float64(1.0))], create_graph=True)
    with tl.no_grad():
        next(events)  # the consumer's no_grad does not leak into the walk
    for _ in events:
        pass
    assert tl.is_grad_enabled()
    assert x.grad.requires_grad
    np.testing.assert_allclose(x.grad.data, 3 * x.data**2)


def test_event_is_a_named_tuple_with_node_grad_parent_grads():
    (event,) = tl.backward_events(Value(1.0) * 2)
    node, g, parent_grads = event
    assert (event.node, event.grad, event.parent_grads) == (node, g, parent_grads)


# --------------------------------------------------------------------------------------------
# Named scopes
# --------------------------------------------------------------------------------------------


def test_nested_scopes_join_with_a_slash():
    with tl.scope("a"):
        with tl.scope("b"):
            y = Value(1.0) * 2
    assert y.scope == "a/b"


def test_scope_applies_to_tensor_ops():
    x = vec(1.0)
    with tl.scope("encoder"):
        y = x * 2
    assert y.scope == "encoder"
    assert x.scope == ""


def test_scope_is_restored_after_the_block_even_on_error():
    with pytest.raises(KeyError):
        with tl.scope("a"):
            raise KeyError("boom")
    assert (Value(1.0) * 2).scope == ""


def test_scope_yields_its_full_path():
    with tl.scope("rnn"):
        with tl.scope("t=3") as path:
            assert path == "rnn/t=3"


def test_one_scope_object_entered_inside_itself_unwinds_level_by_level():
    layer = tl.scope("layer")
    with layer:
        with layer:
            inner = Value(1.0) * 2
        outer = Value(1.0) * 2
    assert (inner.scope, outer.scope, (Value(1.0) * 2).scope) == ("layer/layer", "layer", "")


def test_scope_decorates_a_function_like_no_grad():
    @tl.scope("block")
    def block(x):
        return x * 2

    assert block(Value(1.0)).scope == "block"
    assert block(block(Value(1.0))).scope == "block"
    assert (Value(1.0) * 2).scope == ""


def test_export_carries_scopes():
    x = Value(1.0, label="x")
    with tl.scope("a"):
        with tl.scope("b"):
            y = x * 2
        z = y + 1
    graph = export_graph(z)
    assert graph.node(y._id).scope == "a/b"
    assert graph.node(z._id).scope == "a"
    assert graph.node(x._id).scope == ""
    assert graph.scopes == ["a", "a/b"]


# --------------------------------------------------------------------------------------------
# Anomaly mode
# --------------------------------------------------------------------------------------------


def _log_of(x):
    return x.log()


_LOG_LINE = _log_of.__code__.co_firstlineno + 1


def _divide(x, y):
    return x / y


_DIVIDE_LINE = _divide.__code__.co_firstlineno + 1


def _sqrt_of(x):
    return x.sqrt()


_SQRT_LINE = _sqrt_of.__code__.co_firstlineno + 1


def test_anomaly_in_forward_names_the_op_and_the_creating_line():
    with tl.detect_anomaly(), pytest.raises(AnomalyError) as info:
        _log_of(vec(-1.0))
    message = str(info.value)
    assert "'log'" in message
    assert "forward" in message
    assert f"{__file__}:{_LOG_LINE}" in message


def test_anomaly_for_zero_divided_by_zero_names_division():
    zero = vec(0.0)
    with tl.detect_anomaly(), pytest.raises(AnomalyError) as info:
        _divide(zero, zero)
    assert "'/'" in str(info.value)
    assert f"{__file__}:{_DIVIDE_LINE}" in str(info.value)


def test_anomaly_names_the_scope():
    with tl.detect_anomaly(), pytest.raises(AnomalyError, match=r"scope 'encoder/t=2'"):
        with tl.scope("encoder"), tl.scope("t=2"):
            _log_of(vec(-1.0))


def test_anomaly_in_backward_names_the_op_whose_gradient_is_not_finite():
    x = vec(0.0, 4.0)
    with tl.detect_anomaly():
        y = _sqrt_of(x).sum()  # sqrt(0) = 0 is fine forward; its gradient is inf
        with pytest.raises(AnomalyError) as info:
            y.backward()
    message = str(info.value)
    assert "'sqrt'" in message
    assert "backward" in message
    assert f"{__file__}:{_SQRT_LINE}" in message


def test_anomaly_in_backward_names_the_scope_of_the_op():
    x = vec(0.0)
    with tl.detect_anomaly():
        with tl.scope("decoder"):
            y = _sqrt_of(x).sum()
        with pytest.raises(AnomalyError, match=r"'sqrt'.*scope 'decoder'"):
            y.backward()


def test_anomaly_for_value_zero_divided_by_zero_names_division():
    with tl.detect_anomaly(), pytest.raises(AnomalyError, match="'/'"):
        _divide(Value(0.0), Value(0.0))


def test_anomaly_in_value_forward_names_the_op_and_line():
    with tl.detect_anomaly(), pytest.raises(AnomalyError) as info:
        _log_of(Value(-1.0))
    assert "'log'" in str(info.value)
    assert f"{__file__}:{_LOG_LINE}" in str(info.value)


def test_anomaly_in_value_backward_names_sqrt():
    with tl.detect_anomaly():
        y = _sqrt_of(Value(0.0))
        with pytest.raises(AnomalyError, match=r"'sqrt'.*backward"):
            y.backward()


def test_anomaly_reports_the_first_bad_op_not_later_ones():
    with tl.detect_anomaly(), pytest.raises(AnomalyError, match="'log'"):
        _log_of(vec(-1.0)).exp().sum()


def test_anomaly_mode_is_checked_even_under_no_grad():
    with tl.detect_anomaly(), tl.no_grad(), pytest.raises(AnomalyError, match="'log'"):
        _log_of(vec(-1.0))


def test_outside_detect_anomaly_non_finite_results_raise_nothing():
    zero = vec(0.0)
    assert np.isnan(_log_of(vec(-1.0)).item())
    assert np.isnan(_divide(zero, zero).item())
    x = vec(0.0)
    _sqrt_of(x).sum().backward()
    assert np.isinf(x.grad.item())


def test_outside_detect_anomaly_values_produce_nan_quietly():
    assert np.isnan(_log_of(Value(-1.0)).data)


def test_detect_anomaly_switches_itself_off_on_exit():
    with tl.detect_anomaly():
        assert tl.is_anomaly_enabled()
    assert not tl.is_anomaly_enabled()


def test_finite_computations_pass_under_detect_anomaly():
    x = vec(1.0, 2.0)
    with tl.detect_anomaly():
        (x.log() * x.sqrt()).sum().backward()
    np.testing.assert_allclose(
        x.grad.data, 1 / np.sqrt(x.data) + np.log(x.data) / (2 * np.sqrt(x.data))
    )


# -- gradients from several consumers are summed in place only in arrays the driver made ------


def test_fan_in_sums_in_place_without_touching_gradients_other_nodes_hold():
    # w is used five times. The products are made first and `s = w + 1` last, so backward
    # reaches s first, and the first gradient w receives is the very array that s holds (an
    # add passes its gradient through). Summing the products' gradients into that array in
    # place would change the gradient shown for s (and for the adds that share it).
    w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    products = [w * float(k) for k in range(2, 6)]
    s = w + 1.0
    y = s
    for t in products:
        y = t + y
    upstream = np.array([1.0, 10.0, 100.0])
    (y * Tensor(upstream)).sum().backward()
    graph = export_graph(y)
    assert graph.node(s._id).grad.numbers == tuple(upstream)
    assert graph.node(y._id).grad.numbers == tuple(upstream)
    np.testing.assert_array_equal(w.grad.data, upstream * (1 + 2 + 3 + 4 + 5))


# -- which interior gradients a pass keeps (set_interior_grad_limit) --------------------------


@pytest.fixture
def grad_limit():
    """Set the interior-gradient limit for one test and restore it after."""
    saved = tl.set_interior_grad_limit(None)
    tl.set_interior_grad_limit(saved)
    yield tl.set_interior_grad_limit
    tl.set_interior_grad_limit(saved)


def _mlp_graph():
    x = vec(1.0, -2.0, 3.0)
    w = Tensor(np.arange(9.0).reshape(3, 3) / 10, requires_grad=True)
    h = (x @ w).tanh()
    h.retain_grad()
    z = h * h
    y = z.sum()
    return x, w, h, z, y


def test_interior_gradients_are_kept_for_a_pass_under_the_limit(grad_limit):
    grad_limit(100)
    x, w, h, z, y = _mlp_graph()
    y.backward()
    graph = export_graph(y)
    assert graph.node(z._id).grad is not None and graph.node(z._id).grad_kept
    assert graph.node(y._id).grad.numbers == (1.0,)


def test_over_the_limit_no_interior_gradient_is_kept_but_leaves_and_retained_are(grad_limit):
    x, w, h, z, y = _mlp_graph()
    y.backward(retain_graph=True)
    expected_w, expected_x, expected_h = w.grad.data.copy(), x.grad.data.copy(), h.grad.data
    for t in (x, w, h):
        t.zero_grad()
    # 3 + 3 + 1 interior elements (h, z, y and the matmul result): over a limit of 4, and the
    # nodes processed before the pass went over (y, z) are forgotten too, not just the rest.
    grad_limit(4)
    y.backward()
    graph = export_graph(y)
    for node in (y, z, h):
        info = graph.node(node._id)
        assert info.grad_kept is (node is h)  # h keeps its retain_grad() copy
    assert graph.node(z._id).grad is None
    assert graph.node(h._id).grad is not None
    np.testing.assert_array_equal(w.grad.data, expected_w)
    np.testing.assert_array_equal(x.grad.data, expected_x)
    np.testing.assert_array_equal(h.grad.data, expected_h)
    assert graph.node(w._id).grad_kept and graph.node(w._id).grad is not None


def test_a_limit_of_none_keeps_every_interior_gradient(grad_limit):
    grad_limit(None)
    big = Tensor(np.ones((2000, 1000)), requires_grad=True)
    mid = big * 2.0
    y = mid.sum()
    y.backward()
    assert export_graph(y).node(mid._id).grad.norm == pytest.approx(np.sqrt(2e6))


def test_a_limit_of_zero_keeps_none_and_the_drawing_says_not_kept(grad_limit):
    import viz

    grad_limit(0)
    x = vec(1.0, 2.0)
    y = (x * 3.0).sum()
    y.backward()
    source = viz.draw(y).source
    assert "grad: not kept" in source
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_unreached_nodes_still_say_not_reached_under_a_zero_limit(grad_limit):
    grad_limit(0)
    x = vec(1.0, 2.0)
    y = (x * 3.0).sum()
    info = export_graph(y).node(y._id)
    assert info.grad is None and info.grad_kept


def test_events_carry_every_gradient_whatever_the_limit(grad_limit):
    grad_limit(0)
    x = vec(1.0, 2.0)
    y = (x * 3.0).sum()
    events = tl.backward_events(y)
    assert [e.node.op for e in events] == ["sum", "*"]
    np.testing.assert_array_equal(events[1].grad, [1.0, 1.0])


def test_values_keep_every_gradient_whatever_the_limit(grad_limit):
    grad_limit(0)
    a = Value(2.0)
    b = a * a
    c = b + 1.0
    c.backward()
    assert b.grad == 1.0 and a.grad == 4.0
    assert export_graph(c).node(b._id).grad.numbers == (1.0,)


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True])
def test_the_limit_must_be_a_non_negative_int_or_none(grad_limit, bad):
    with pytest.raises((TypeError, ValueError), match="set_interior_grad_limit"):
        grad_limit(bad)


def test_an_accumulator_replaced_by_an_out_of_place_sum_is_never_written_again():
    # x's accumulator (float32, owned by the driver) meets a float64 contribution, so the sum
    # is made out of place and the old accumulator is freed. CPython hands its address to the
    # next array made; if the driver still believed that address was its own, it would add
    # into whatever array lives there now: here the one gradient that `t6 = q + z` hands to
    # both q and z, which would then leak q's other gradient into z.grad.
    f32 = np.float32
    for _ in range(3):
        z = Tensor(np.zeros((2, 2), f32), requires_grad=True)
        u = Tensor(np.ones(4, f32), requires_grad=True)
        x = Tensor(np.ones(4, f32), requires_grad=True)
        q = Tensor(np.ones(4, f32), requires_grad=True)
        t7 = q * 3.0
        t6 = (q.reshape(2, 2) + z).reshape(2, 2)
        t5 = u * 2.0
        t4 = (x * np.full(4, 5.0)).float()  # the one float64 gradient x receives
        t1, t2, t3 = x * 1.0, x * 2.0, x * 3.0
        w6 = Tensor(np.array([[10.0, 20.0], [30.0, 40.0]], f32))
        parts = [t7.sum(), (t6 * w6).sum(), t5.sum(), t4.sum(), t1.sum(), t2.sum(), t3.sum()]
        loss = parts[0]
        for p in parts[1:]:
            loss = loss + p
        loss.backward()
        np.testing.assert_array_equal(z.grad.data.ravel(), [10.0, 20.0, 30.0, 40.0])
        np.testing.assert_array_equal(q.grad.data, [13.0, 23.0, 33.0, 43.0])
        np.testing.assert_array_equal(x.grad.data, [11.0] * 4)
