"""Data utilities: batching, splits, early stopping, truncated BPTT and the generated and
bundled data sets."""

import numpy as np
import pytest

from tinygrad_lite import Tensor, stack, zeros
from tinygrad_lite.data import (
    CharVocab,
    DataLoader,
    EarlyStopping,
    TensorDataset,
    adding_problem,
    char_sequences,
    copy_task,
    detach_state,
    euler_oscillator,
    iter_windows,
    kfold,
    load_corpus,
    make_windows,
    oscillator_dataset,
    random_split,
    sine_forcing,
    truncated_bptt,
)
from tinygrad_lite.errors import ShapeError
from tinygrad_lite.nn import Module, Parameter
from tinygrad_lite.optim import SGD


def numbered_dataset(n=10):
    return TensorDataset(np.arange(n, dtype=np.float64), np.arange(n) * 10)


# -- DataLoader ----------------------------------------------------------------------------


def test_loader_yields_tensor_batches_in_order_without_shuffle():
    batches = list(DataLoader(numbered_dataset(), batch_size=4))
    assert all(isinstance(t, Tensor) for batch in batches for t in batch)
    assert [x.tolist() for x, _ in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [y.tolist() for _, y in batches][-1] == [80, 90]


def test_loader_length_counts_the_last_partial_batch_unless_dropped():
    assert len(DataLoader(numbered_dataset(), batch_size=4)) == 3
    loader = DataLoader(numbered_dataset(), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [len(x) for x, _ in loader] == [4, 4]


def test_loader_shuffle_with_a_seed_is_reproducible():
    def epochs(seed):
        loader = DataLoader(numbered_dataset(), batch_size=3, shuffle=True, seed=seed)
        return [[x.tolist() for x, _ in loader] for _ in range(2)]

    assert epochs(7) == epochs(7)
    assert epochs(7) != epochs(8)


def test_loader_reshuffles_every_epoch_and_covers_each_item_once():
    loader = DataLoader(numbered_dataset(20), batch_size=6, shuffle=True, seed=0)
    first = np.concatenate([x.data for x, _ in loader])
    second = np.concatenate([x.data for x, _ in loader])
    assert sorted(first.tolist()) == list(range(20)) == sorted(second.tolist())
    assert first.tolist() != second.tolist()


def test_loader_accepts_a_numpy_generator():
    a = DataLoader(numbered_dataset(), 5, shuffle=True, generator=np.random.default_rng(3))
    b = DataLoader(numbered_dataset(), 5, shuffle=True, seed=3)
    assert [x.tolist() for x, _ in a] == [x.tolist() for x, _ in b]


def test_loader_keeps_inputs_and_targets_paired_under_shuffle():
    for x, y in DataLoader(numbered_dataset(), batch_size=3, shuffle=True, seed=1):
        np.testing.assert_array_equal(y.data, x.data * 10)


def test_loader_collates_a_plain_list_dataset():
    data = [(np.array([i, i]), i) for i in range(5)]
    x, y = next(iter(DataLoader(data, batch_size=2)))
    assert x.shape == (2, 2) and y.tolist() == [0, 1]


def test_tensor_dataset_rejects_tensors_of_different_lengths():
    with pytest.raises(ShapeError, match="same size along axis 0"):
        TensorDataset(np.zeros(3), np.zeros(4))


# -- random_split and kfold ----------------------------------------------------------------


def test_random_split_by_counts_is_disjoint_and_complete():
    parts = random_split(numbered_dataset(10), [6, 3, 1], seed=0)
    idx = [set(p.indices.tolist()) for p in parts]
    assert [len(s) for s in idx] == [6, 3, 1]
    assert set.union(*idx) == set(range(10)) and sum(len(s) for s in idx) == 10


def test_random_split_by_fractions_hands_out_the_remainder_first():
    parts = random_split(numbered_dataset(11), [0.5, 0.3, 0.2], seed=0)
    # floor(5.5)=5, floor(3.3)=3, floor(2.2)=2; one left over goes to the first part
    assert [len(p) for p in parts] == [6, 3, 2]


def test_random_split_with_a_seed_is_reproducible():
    a = random_split(numbered_dataset(), [0.7, 0.3], seed=5)
    b = random_split(numbered_dataset(), [0.7, 0.3], seed=5)
    assert a[0].indices.tolist() == b[0].indices.tolist()


def test_random_split_subsets_batch_through_a_loader():
    train, _ = random_split(numbered_dataset(), [8, 2], seed=0)
    x, y = next(iter(DataLoader(train, batch_size=8)))
    assert sorted(x.tolist()) == sorted(train.indices.tolist())
    np.testing.assert_array_equal(y.data, x.data * 10)


def test_random_split_rejects_lengths_that_do_not_add_up():
    with pytest.raises(ValueError, match="summing"):
        random_split(numbered_dataset(10), [4, 4])


@pytest.mark.parametrize("n, k, shuffle", [(10, 3, False), (10, 3, True), (7, 7, True)])
def test_kfold_validation_folds_are_disjoint_and_complete(n, k, shuffle):
    folds = kfold(n, k, shuffle=shuffle, seed=0)
    assert len(folds) == k
    vals = np.concatenate([val for _, val in folds])
    assert sorted(vals.tolist()) == list(range(n))
    for train, val in folds:
        assert not set(train.tolist()) & set(val.tolist())
        assert sorted(np.concatenate([train, val]).tolist()) == list(range(n))


def test_kfold_first_folds_take_the_extra_items():
    assert [len(val) for _, val in kfold(11, 3)] == [4, 4, 3]


def test_kfold_rejects_more_folds_than_items():
    with pytest.raises(ValueError, match="2 <= k <= n"):
        kfold(3, 4)


# -- EarlyStopping ---------------------------------------------------------------------------


class Scalar(Module):
    def __init__(self):
        super().__init__()
        self.w = Parameter([0.0])


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    stopper = EarlyStopping(patience=2)
    decisions = [stopper.step(m) for m in [5.0, 4.0, 4.5, 4.2]]
    assert decisions == [False, False, False, True] and stopper.best_epoch == 1


def test_early_stopping_min_delta_ignores_tiny_improvements():
    stopper = EarlyStopping(patience=1, min_delta=0.1)
    assert stopper.step(1.0) is False
    assert stopper.step(0.95) is True  # not better by more than 0.1
    assert stopper.best == 1.0


def test_early_stopping_max_mode_tracks_the_largest_metric():
    stopper = EarlyStopping(patience=3, mode="max")
    for m in [0.1, 0.7, 0.5]:
        stopper.step(m)
    assert stopper.best == 0.7 and stopper.best_epoch == 1


def test_early_stopping_restores_the_best_weights():
    model, stopper = Scalar(), EarlyStopping(patience=2)
    for epoch, loss in enumerate([3.0, 1.0, 2.0, 2.5]):
        model.w.data[:] = 10.0 * epoch
        stopper.step(loss, model)
    assert model.w.item() == 30.0
    assert stopper.restore(model) is True
    assert model.w.item() == 10.0


def test_early_stopping_keeps_a_copy_that_later_training_cannot_change():
    model, stopper = Scalar(), EarlyStopping()
    stopper.step(1.0, model)
    model.w.data += 5.0  # in place, as an optimizer does
    stopper.restore(model)
    assert model.w.item() == 0.0


# -- truncated BPTT --------------------------------------------------------------------------


class LinearRecurrence(Module):
    """h_t = tanh(w * h_{t-1} + u * x_t), with a (h, c) pair state to exercise tuple states."""

    def __init__(self):
        super().__init__()
        self.w = Parameter(np.array([0.8]))
        self.u = Parameter(np.array([0.5]))

    def step(self, x, state):
        h, c = state if state is not None else (zeros(1, 1, dtype=np.float64),) * 2
        outs = []
        for t in range(x.shape[1]):
            h = (h * self.w + x[:, t] * self.u).tanh()
            c = c + h
            outs.append(h)
        return stack(outs, dim=1), (h, c)


def mse(out, target):
    return ((out - target) ** 2).sum()


def test_iter_windows_covers_the_sequence_with_a_short_last_window():
    assert [(s.start, s.stop) for s in iter_windows(10, 4)] == [(0, 4), (4, 8), (8, 10)]


def test_detach_state_cuts_tensors_inside_nested_tuples():
    h = Tensor([1.0], requires_grad=True) * 2
    state = detach_state((h, [h * 3]))
    assert isinstance(state, tuple) and isinstance(state[1], list)
    assert state[0].is_leaf and not state[1][0].requires_grad
    assert state[1][0].tolist() == [6.0]


def test_no_gradient_crosses_a_tbptt_window_boundary():
    model = LinearRecurrence()
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(1, 6, 1)), requires_grad=True)
    y = Tensor(rng.normal(size=(1, 6, 1)))
    truncated_bptt(model.step, mse, x, y, k=3)
    # Window 1 alone, from the same start: x[:, :3] must get exactly this gradient and no more.
    x1 = Tensor(x.data.copy(), requires_grad=True)
    out, _ = model.step(x1[:, :3], None)
    mse(out, y[:, :3]).backward()
    np.testing.assert_allclose(x.grad.data[:, :3], x1.grad.data[:, :3], rtol=0, atol=0)
    assert np.all(x.grad.data[:, 3:] != 0)


def test_tbptt_second_window_starts_from_the_carried_state_value():
    model = LinearRecurrence()
    x = Tensor(np.ones((1, 4, 1)))
    y = Tensor(np.zeros((1, 4, 1)))
    losses, (h, c) = truncated_bptt(model.step, mse, x, y, k=2)
    full, (h_full, c_full) = model.step(x, None)
    np.testing.assert_allclose(h.data, h_full.data, rtol=1e-15)
    np.testing.assert_allclose(c.data, c_full.data, rtol=1e-15)
    assert losses[1] == pytest.approx(float(mse(full[:, 2:], y[:, 2:]).item()))
    assert h.is_leaf and c.is_leaf


def test_tbptt_with_an_optimizer_updates_after_every_window():
    model = LinearRecurrence()
    seen = []

    class Recording(SGD):
        def step(self, closure=None):
            seen.append(self.param_groups[0]["params"][0].grad.item())
            return super().step(closure)

    x, y = Tensor(np.ones((1, 6, 1))), Tensor(np.zeros((1, 6, 1)))
    truncated_bptt(model.step, mse, x, y, k=2, optimizer=Recording(model.parameters(), lr=0.1))
    assert len(seen) == 3 and model.w.item() != 0.8


# -- oscillator ------------------------------------------------------------------------------


def reference_oscillator(force, dt, m, gamma, k, x0, v0):
    """The explicit Euler loop, written out with Python floats."""
    xs, x, v = [], x0, v0
    for f in force:
        xs.append(x)
        x_next = x + dt * v
        v_next = v + dt * (f - gamma * v - k * x) / m
        x, v = x_next, v_next
    return xs


def test_oscillator_matches_the_reference_euler_loop():
    force = sine_forcing(300, 0.02, amplitudes=[1.0, 0.4], frequencies=[0.3, 1.1])
    got = euler_oscillator(force, dt=0.02, mass=2.0, damping=0.3, stiffness=1.5, x0=0.5, v0=-1)
    expected = reference_oscillator(force.tolist(), 0.02, 2.0, 0.3, 1.5, 0.5, -1.0)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_oscillator_batch_rows_are_independent_trajectories():
    forces = np.random.default_rng(0).normal(size=(3, 50))
    batch = euler_oscillator(forces, dt=0.1)
    for row, f in zip(batch, forces):
        np.testing.assert_allclose(row, euler_oscillator(f, dt=0.1), rtol=0, atol=0)


@pytest.mark.parametrize("forcing", ["sines", "smooth"])
def test_oscillator_dataset_shapes_and_targets(forcing):
    F, x = oscillator_dataset(4, 64, dt=0.05, damping=0.2, forcing=forcing, seed=3)
    assert F.shape == x.shape == (4, 64, 1) and F.dtype == np.float32
    expected = euler_oscillator(F.data[..., 0].astype(np.float64), dt=0.05, damping=0.2)
    np.testing.assert_allclose(x.data[..., 0], expected, rtol=1e-5, atol=1e-6)


def test_oscillator_dataset_is_reproducible_from_its_seed():
    a, _ = oscillator_dataset(2, 20, seed=9)
    b, _ = oscillator_dataset(2, 20, seed=9)
    np.testing.assert_array_equal(a.data, b.data)


def test_make_windows_cuts_a_long_trajectory():
    F, x = make_windows(np.arange(10.0), np.arange(10.0) * 2, window=4, stride=3)
    assert F.shape == (3, 4, 1)
    assert F.data[:, :, 0].tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    np.testing.assert_array_equal(x.data, F.data * 2)


# -- adding and copy tasks -------------------------------------------------------------------


def test_adding_problem_target_is_the_sum_of_the_two_marked_values():
    x, y = adding_problem(50, 20, seed=1)
    assert x.shape == (50, 20, 2) and y.shape == (50, 1)
    markers = x.data[..., 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :10].sum(axis=1) == 1)  # one marker in each half
    expected = (x.data[..., 0] * markers).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(y.data, expected, rtol=1e-6)


def test_copy_task_targets_repeat_the_symbols_after_the_marker():
    length, delay, symbols = 5, 7, 6
    x, y = copy_task(8, length, delay=delay, num_symbols=symbols, seed=2)
    assert x.shape == y.shape == (8, 2 * length + delay)
    seq = x.data[:, :length]
    assert seq.min() >= 1 and seq.max() <= symbols
    assert np.all(x.data[:, length : length + delay] == 0)
    assert np.all(x.data[:, length + delay] == symbols + 1)
    assert np.all(y.data[:, : length + delay] == 0)
    np.testing.assert_array_equal(y.data[:, length + delay :], seq)


def test_tasks_are_reproducible_from_their_seed():
    assert np.array_equal(
        adding_problem(3, 8, seed=4)[0].data, adding_problem(3, 8, seed=4)[0].data
    )
    assert np.array_equal(copy_task(3, 4, seed=4)[0].data, copy_task(3, 4, seed=4)[0].data)


# -- text ------------------------------------------------------------------------------------


def test_corpus_loads_and_round_trips_through_the_vocabulary():
    text = load_corpus()
    assert 5_000 <= len(text.encode("utf-8")) <= 20_000
    vocab = CharVocab(text)
    ids = vocab.encode(text)
    assert ids.dtype == np.int64 and ids.max() == len(vocab) - 1
    assert vocab.decode(ids) == text


def test_vocab_encode_names_an_unknown_character():
    with pytest.raises(ValueError, match="'z' is not in the vocabulary"):
        CharVocab("abc").encode("abz")


def test_char_sequences_targets_are_inputs_shifted_by_one():
    x, y = char_sequences(np.arange(20), seq_len=5, stride=4)
    np.testing.assert_array_equal(y.data[:, :-1], x.data[:, 1:])
    assert x.shape == (4, 5) and x.data[:, 0].tolist() == [0, 4, 8, 12]
