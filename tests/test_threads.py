"""Grad mode, anomaly mode and the current scope belong to a thread, as in PyTorch: what one
thread switches never changes what another records, and a new thread starts with grad mode on,
anomaly mode off and no scope. The interior-gradient limit is one setting for the process; what
a backward pass counts against it is that pass's own.

Each test runs real threads and orders their steps with events, so the interleaving that broke
the old process-wide switches happens every time, not by luck."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite
from tinygrad_lite import (
    Tensor,
    Value,
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    scope,
    set_grad_enabled,
    set_interior_grad_limit,
)
from tinygrad_lite.autograd import STATE, current_scope
from tinygrad_lite.graph import export_graph

WAIT = 10.0  # seconds: a step that does not come by then is a failure, never a hang


def wait(event: threading.Event) -> None:
    assert event.wait(WAIT), "the other thread never reached its step"


class Worker(threading.Thread):
    """A thread that keeps what its target returned or raised, for the test to check."""

    def __init__(self, target):
        super().__init__(daemon=True)
        self._target_fn = target
        self.result = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._target_fn()
        except BaseException as err:  # noqa: BLE001 (re-raised in the test's thread)
            self.error = err

    def finish(self):
        self.join(WAIT)
        assert not self.is_alive(), "the worker thread did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def start(target) -> Worker:
    worker = Worker(target)
    worker.start()
    return worker


def leaf() -> Tensor:
    return Tensor(np.array([1.0, 2.0]), requires_grad=True)


# --------------------------------------------------------------------------------------------
# Grad mode
# --------------------------------------------------------------------------------------------


def test_no_grad_in_one_thread_leaves_recording_on_in_another():
    entered, checked = threading.Event(), threading.Event()

    def inference():
        with no_grad():
            entered.set()
            wait(checked)

    worker = start(inference)
    wait(entered)
    try:
        y = leaf() * 2
        assert is_grad_enabled()
        assert y.requires_grad and y.op == "*"
    finally:
        checked.set()
        worker.finish()


def test_interleaved_no_grad_blocks_of_two_threads_leave_grad_mode_on_for_the_process():
    # A enters, B enters, A exits, B exits: with one process-wide switch B saved A's "off"
    # and restored it last, so recording stayed off for everyone afterwards.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def thread_a():
        with no_grad():
            a_in.set()
            wait(b_in)
        a_out.set()

    def thread_b():
        wait(a_in)
        with no_grad():
            b_in.set()
            wait(a_out)

    workers = [start(thread_a), start(thread_b)]
    for worker in workers:
        worker.finish()
    assert is_grad_enabled()
    assert (leaf() * 2).requires_grad
    assert start(is_grad_enabled).finish() is True


def test_a_thread_started_inside_no_grad_starts_with_grad_mode_on():
    with no_grad():
        assert start(is_grad_enabled).finish() is True
        assert start(lambda: (leaf() * 2).requires_grad).finish() is True


def test_enable_grad_in_a_thread_does_not_turn_recording_on_in_a_no_grad_thread():
    entered, checked = threading.Event(), threading.Event()

    def training():
        with enable_grad():
            entered.set()
            wait(checked)

    with no_grad():
        worker = start(training)
        wait(entered)
        try:
            assert not (leaf() * 2).requires_grad
        finally:
            checked.set()
            worker.finish()


def test_a_function_decorated_with_enable_grad_restores_each_callers_own_mode():
    # One decorator object, two threads inside it at once: each call must restore the mode
    # its own caller had (a shared stack of saved modes handed A the mode B had saved).
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    @enable_grad()
    def step(first: threading.Event, then: threading.Event):
        first.set()
        wait(then)

    def thread_a():
        with no_grad():
            step(a_in, b_in)
            mode_after = is_grad_enabled()
        a_out.set()
        return mode_after

    def thread_b():
        wait(a_in)
        step(b_in, a_out)
        return is_grad_enabled()

    workers = [start(thread_a), start(thread_b)]
    assert [worker.finish() for worker in workers] == [False, True]


def test_backward_in_one_thread_leaves_recording_on_in_another():
    # The driver runs VJPs with recording off (create_graph=False); that is its own thread's
    # business. A hook pauses the walk while the main thread records an op.
    in_walk, checked = threading.Event(), threading.Event()

    def train():
        x = leaf()
        h = x * 3

        def hook(grad):
            in_walk.set()
            wait(checked)
            return grad

        h.register_hook(hook)
        h.sum().backward()
        return x.grad.data.tolist()

    worker = start(train)
    wait(in_walk)
    try:
        assert (leaf() * 2).requires_grad
    finally:
        checked.set()
    assert worker.finish() == [3.0, 3.0]


def test_value_ops_record_in_a_thread_while_another_is_in_no_grad():
    entered, checked = threading.Event(), threading.Event()

    def inference():
        with no_grad():
            entered.set()
            wait(checked)

    worker = start(inference)
    wait(entered)
    try:
        x = Value(3.0)
        y = x * x
        y.backward()
        assert x.grad == 6.0
    finally:
        checked.set()
        worker.finish()


# --------------------------------------------------------------------------------------------
# Anomaly mode and scopes
# --------------------------------------------------------------------------------------------


def test_detect_anomaly_in_one_thread_does_not_check_another():
    entered, checked = threading.Event(), threading.Event()

    def debugging():
        with detect_anomaly():
            entered.set()
            wait(checked)

    worker = start(debugging)
    wait(entered)
    try:
        assert not is_anomaly_enabled()
        with np.errstate(invalid="ignore"):
            y = Tensor([-1.0], requires_grad=True).log()  # NaN, but no AnomalyError here
        assert np.isnan(y.data[0])
    finally:
        checked.set()
        worker.finish()


def test_a_thread_started_inside_detect_anomaly_starts_with_anomaly_mode_off():
    with detect_anomaly():
        assert start(is_anomaly_enabled).finish() is False


def test_a_scope_entered_in_one_thread_does_not_tag_nodes_of_another():
    entered, checked = threading.Event(), threading.Event()

    def layer():
        with scope("worker"):
            entered.set()
            wait(checked)
            return (leaf() * 2).scope

    worker = start(layer)
    wait(entered)
    try:
        assert (leaf() * 2).scope == ""
        with scope("main"):
            assert (leaf() * 2).scope == "main"
    finally:
        checked.set()
    assert worker.finish() == "worker"


def test_a_thread_started_inside_a_scope_starts_with_no_scope():
    with scope("outer"):
        assert start(current_scope).finish() == ""


def test_the_old_state_object_reads_and_sets_the_calling_threads_switches():
    entered, checked = threading.Event(), threading.Event()

    def switch_off():
        STATE.grad_enabled = False
        try:
            entered.set()
            wait(checked)
            return STATE.grad_enabled
        finally:
            STATE.grad_enabled = True

    worker = start(switch_off)
    wait(entered)
    try:
        assert STATE.grad_enabled is True
    finally:
        checked.set()
    assert worker.finish() is False


# --------------------------------------------------------------------------------------------
# The interior-gradient limit: one setting, counted per pass
# --------------------------------------------------------------------------------------------


@pytest.fixture
def interior_limit():
    """Set the limit for a test and put the previous one back after it."""
    previous = set_interior_grad_limit(None)
    yield set_interior_grad_limit
    set_interior_grad_limit(previous)


def test_the_interior_grad_limit_set_in_one_thread_holds_in_every_thread(interior_limit):
    interior_limit(0)

    def train():
        x = leaf()
        h = x * 2
        h.sum().backward()
        return export_graph(h).node(h._id).grad_kept

    assert start(train).finish() is False


def test_backward_passes_running_at_once_each_count_their_own_gradients(interior_limit):
    # A limit of 10 elements: a pass over 2-element gradients keeps them, one over
    # 6-element gradients (18 in all) does not, even while the two walks interleave.
    interior_limit(10)
    small_in, big_done = threading.Event(), threading.Event()

    def small():
        x = leaf()
        h = x * 2
        k = h * 3

        def hook(grad):
            small_in.set()
            wait(big_done)
            return grad

        h.register_hook(hook)
        k.sum().backward()
        return export_graph(k).node(h._id).grad_kept

    def big():
        wait(small_in)
        try:
            x = Tensor(np.ones(6), requires_grad=True)
            h = x * 2
            k = (h * 3) * 4
            k.sum().backward()
            return export_graph(k).node(h._id).grad_kept
        finally:
            big_done.set()

    workers = [start(small), start(big)]
    assert [worker.finish() for worker in workers] == [True, False]


# --------------------------------------------------------------------------------------------
# Each switch restores only its own field (blocks left out of order, within one thread)
# --------------------------------------------------------------------------------------------


def test_leaving_no_grad_out_of_order_restores_grad_mode_and_keeps_the_inner_scope():
    outer, inner = no_grad(), scope("inner")
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)
    assert is_grad_enabled() and current_scope() == "inner"
    inner.__exit__(None, None, None)
    assert is_grad_enabled() and current_scope() == ""


def test_leaving_a_scope_out_of_order_restores_the_scope_and_keeps_grad_mode():
    outer, inner = scope("outer"), no_grad()
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)
    assert current_scope() == "" and not is_grad_enabled()
    inner.__exit__(None, None, None)
    assert current_scope() == "" and is_grad_enabled()


# --------------------------------------------------------------------------------------------
# set_grad_enabled as PyTorch's: the call itself switches this thread's mode
# --------------------------------------------------------------------------------------------


def test_a_plain_set_grad_enabled_call_switches_recording_off_and_on():
    set_grad_enabled(False)
    try:
        assert not is_grad_enabled() and not (leaf() * 2).requires_grad
    finally:
        set_grad_enabled(True)
    assert is_grad_enabled() and (leaf() * 2).requires_grad


def test_a_plain_set_grad_enabled_call_in_a_thread_leaves_other_threads_recording():
    def switch_off():
        set_grad_enabled(False)
        return is_grad_enabled()

    assert start(switch_off).finish() is False
    assert is_grad_enabled()


def test_set_grad_enabled_as_a_block_restores_the_mode_from_before_the_call():
    with no_grad():
        with set_grad_enabled(True):
            assert is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_set_grad_enabled_as_a_decorator_leaves_the_mode_alone_until_called():
    @set_grad_enabled(False)
    def double(t):
        assert not is_grad_enabled()
        return t * 2

    assert is_grad_enabled()
    assert not double(leaf()).requires_grad
    assert is_grad_enabled()


def test_engine_modules_read_the_switches_through_current_state_not_the_slow_view():
    # `autograd.STATE` still works (per thread) for old code, but each read is a property
    # call: an op that read three switches through it would cost ~0.3 us more. Every reader
    # in the package goes through `current_state()` instead.
    package = Path(tinygrad_lite.__file__).parent
    readers = [
        f"{path.relative_to(package)}:{n}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "autograd.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bSTATE\b", line)
    ]
    assert readers == []
