"""Linear, Embedding, Dropout, Flatten, the activation modules, BatchNorm1d, LayerNorm and
nn.init: PyTorch's layouts, defaults and counts, input checks that name the layer, and
gradients against finite differences (float64, hypothesis-drawn sizes and values)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_lite import DTypeError, ShapeError, Tensor, manual_seed, nn, zeros
from tinygrad_lite.gradcheck import gradcheck, gradgradcheck
from tinygrad_lite.nn import functional as F
from tinygrad_lite.nn import init


def _x(seed, *shape, scale=1.0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape) * scale, requires_grad=True)


def _gradcheck_module(module: nn.Module, x: Tensor) -> bool:
    module.double()
    params = list(module.parameters())
    return gradcheck(lambda x, *ps: module(x), (x, *params))


# -- Linear -------------------------------------------------------------------------------------


def test_linear_weight_layout_and_parameter_count_follow_pytorch():
    layer = nn.Linear(4, 2)
    assert layer.weight.shape == (2, 4) and layer.bias.shape == (2,)
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.num_parameters() == layer.num_parameters("keras") == 10


def test_linear_without_bias_registers_no_bias():
    layer = nn.Linear(4, 2, bias=False)
    assert layer.bias is None and layer.num_parameters() == 8


def test_linear_default_init_is_uniform_within_one_over_sqrt_fan_in():
    manual_seed(0)
    layer = nn.Linear(16, 64)
    assert np.abs(layer.weight.data).max() <= 0.25
    assert np.abs(layer.bias.data).max() <= 0.25
    assert np.abs(layer.weight.data).max() > 0.2


def test_linear_wrong_last_dimension_names_layer_shape_and_fix():
    msg = r"Linear\(in_features=4, out_features=2\): expected input with last dimension 4, got "
    with pytest.raises(ShapeError, match=msg + r"shape \(3, 5\);.*in_features=5"):
        nn.Linear(4, 2)(Tensor(np.zeros((3, 5), np.float32)))


def test_linear_integer_input_is_a_dtype_error():
    with pytest.raises(DTypeError, match=r"Linear\(in_features=2.*floating point"):
        nn.Linear(2, 1)(Tensor(np.zeros((1, 2), np.int64)))


def test_linear_keeps_float32():
    assert nn.Linear(3, 2)(Tensor(np.ones((1, 3), np.float32))).dtype == np.float32


@settings(deadline=None)
@given(seed=st.integers(0, 2**16), batch=st.integers(1, 3), n_in=st.integers(1, 4))
def test_linear_gradients_match_finite_differences(seed, batch, n_in):
    manual_seed(seed)
    assert _gradcheck_module(nn.Linear(n_in, 3), _x(seed, batch, n_in))


# -- Embedding ----------------------------------------------------------------------------------


def test_embedding_parameter_count():
    assert nn.Embedding(1000, 64).num_parameters() == 64_000


def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient():
    emb = nn.Embedding(5, 3, padding_idx=0)
    assert np.all(emb.weight.data[0] == 0)
    emb(Tensor(np.array([0, 1, 0]))).sum().backward()
    assert np.all(emb.weight.grad.data[0] == 0)
    assert np.all(emb.weight.grad.data[1] == 1)


def test_embedding_repeated_index_accumulates_gradient():
    emb = nn.Embedding(4, 2)
    emb(Tensor(np.array([2, 2, 2]))).sum().backward()
    assert emb.weight.grad.data[2].tolist() == [3.0, 3.0]


def test_embedding_float_indices_are_a_dtype_error():
    with pytest.raises(TypeError, match=r"Embedding\(4, 2\).*integers"):
        nn.Embedding(4, 2)(Tensor([1.0]))


def test_embedding_out_of_range_index_names_the_layer():
    with pytest.raises(IndexError, match=r"Embedding\(4, 2\).*\[0, 4\)"):
        nn.Embedding(4, 2)(Tensor(np.array([4])))


@settings(deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 5))
def test_embedding_gradients_match_finite_differences(seed, n):
    emb = nn.Embedding(4, 3).double()
    idx = Tensor(np.random.default_rng(seed).integers(0, 4, (n, 2)))
    assert gradcheck(lambda w: F.embedding(idx, w), emb.weight)


# -- Dropout, Flatten, activations --------------------------------------------------------------


def test_dropout_is_identity_in_eval_mode():
    x = _x(0, 4, 5)
    assert nn.Dropout(0.9).eval()(x) is x


def test_dropout_zeroes_about_p_and_scales_survivors_by_one_over_keep():
    manual_seed(0)
    out = nn.Dropout(0.25)(Tensor(np.ones(10_000)))
    kept = out.data[out.data != 0]
    assert np.allclose(kept, 1 / 0.75)
    assert abs(kept.size / 10_000 - 0.75) < 0.03


def test_dropout_mask_is_reproducible_under_manual_seed():
    manual_seed(5)
    a = nn.Dropout()(Tensor(np.ones(50))).data
    manual_seed(5)
    assert np.array_equal(nn.Dropout()(Tensor(np.ones(50))).data, a)


def test_dropout_gradient_flows_only_through_kept_elements():
    manual_seed(1)
    x = Tensor(np.ones(100), requires_grad=True)
    out = nn.Dropout(0.5)(x)
    out.sum().backward()
    assert np.array_equal(x.grad.data, out.data)


def test_dropout_probability_outside_unit_interval_is_rejected():
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        nn.Dropout(1.5)


def test_flatten_keeps_the_batch_axis_by_default():
    assert nn.Flatten()(zeros(2, 3, 4)).shape == (2, 12)
    assert nn.Flatten(0, 1)(zeros(2, 3, 4)).shape == (6, 4)


def test_flatten_out_of_range_dim_names_the_layer():
    with pytest.raises(ShapeError, match=r"Flatten\(start_dim=3"):
        nn.Flatten(3)(zeros(2, 3))


def test_softmax_without_dim_warns_and_uses_pytorch_legacy_axis():
    with pytest.warns(UserWarning, match="implicit dimension"):
        out = nn.Softmax()(_x(0, 2, 3))
    assert np.allclose(out.data.sum(axis=1), 1.0)


@settings(deadline=None)
@given(seed=st.integers(0, 2**16), rows=st.integers(1, 3), cols=st.integers(1, 4))
def test_activation_gradients_match_finite_differences(seed, rows, cols):
    x = _x(seed, rows, cols)
    # keep relu's input away from its kink at 0
    x.data += np.where(x.data >= 0, 0.1, -0.1)
    layers = (nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.Softmax(dim=1), nn.LogSoftmax(dim=0))
    for layer in layers + (nn.Flatten(0), nn.Identity(), nn.Dropout(0.5).eval()):
        assert gradcheck(layer, x)


@settings(deadline=None)
@given(seed=st.integers(0, 2**16), p=st.sampled_from([0.2, 0.5]))
def test_dropout_training_gradients_match_finite_differences_for_a_fixed_mask(seed, p):
    layer = nn.Dropout(p)

    def same_mask_every_call(x):
        manual_seed(seed)
        return layer(x)

    assert gradcheck(same_mask_every_call, _x(seed, 3, 4))


# -- normalisation ------------------------------------------------------------------------------


def test_batchnorm1d_training_output_has_zero_mean_unit_variance_per_channel():
    out = nn.BatchNorm1d(3).double()(_x(0, 50, 3, scale=4.0) + 2.0)
    assert np.allclose(out.data.mean(axis=0), 0.0, atol=1e-12)
    assert np.allclose(out.data.var(axis=0), 1.0, atol=1e-3)


def test_batchnorm1d_running_stats_use_momentum_and_unbiased_variance():
    bn = nn.BatchNorm1d(1, momentum=0.5).double()
    bn(Tensor(np.array([[1.0], [3.0]])))
    assert bn.running_mean.tolist() == [0.5 * 0 + 0.5 * 2.0]
    assert bn.running_var.tolist() == [0.5 * 1 + 0.5 * 2.0]  # unbiased var of [1, 3] is 2
    assert bn.num_batches_tracked.item() == 1


def test_batchnorm1d_eval_mode_leaves_running_stats_alone():
    bn = nn.BatchNorm1d(2).eval()
    bn(_x(0, 4, 2).float())
    assert bn.running_mean.tolist() == [0.0, 0.0] and bn.num_batches_tracked.item() == 0


def test_batchnorm1d_single_sample_in_training_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"BatchNorm1d\(3\).*more than 1 value per channel"):
        nn.BatchNorm1d(3)(Tensor(np.zeros((1, 3), np.float32)))


def test_batchnorm1d_wrong_channel_count_names_the_layer():
    with pytest.raises(ShapeError, match=r"BatchNorm1d\(3\): expected input with 3 features"):
        nn.BatchNorm1d(3)(Tensor(np.zeros((4, 5), np.float32)))


def test_layernorm_wrong_trailing_shape_names_the_layer():
    with pytest.raises(ShapeError, match=r"LayerNorm\(\(4,\)\).*last dimensions are \(4,\)"):
        nn.LayerNorm(4)(Tensor(np.zeros((2, 3), np.float32)))


def test_layernorm_parameters_start_as_identity_affine():
    ln = nn.LayerNorm((2, 3))
    assert np.all(ln.weight.data == 1) and np.all(ln.bias.data == 0)
    assert ln.num_parameters() == 12


@settings(deadline=None)
@given(
    seed=st.integers(0, 2**16),
    batch=st.integers(2, 4),
    length=st.sampled_from([None, 3]),
    training=st.booleans(),
)
def test_batchnorm1d_gradients_match_finite_differences(seed, batch, length, training):
    bn = nn.BatchNorm1d(2).train(training)
    bn.weight.data[:] = [1.5, -0.5]
    bn.running_var.data[:] = [0.5, 2.0]
    shape = (batch, 2) if length is None else (batch, 2, length)
    # running stats change on every training forward; finite differences need a pure function
    bn.momentum = 0.0
    assert _gradcheck_module(bn, _x(seed, *shape))


@settings(deadline=None)
@given(seed=st.integers(0, 2**16), batch=st.integers(1, 3), shape=st.sampled_from([(3,), (2, 3)]))
def test_layernorm_gradients_match_finite_differences(seed, batch, shape):
    ln = nn.LayerNorm(shape)
    rng = np.random.default_rng(seed + 1)
    ln.weight.data[...] = rng.standard_normal(shape)
    assert _gradcheck_module(ln, _x(seed, batch, *shape))


def test_layernorm_second_derivatives_match_finite_differences():
    ln = nn.LayerNorm(4).double()
    assert gradgradcheck(lambda x, w: F.layer_norm(x, (4,), w), (_x(0, 2, 4), ln.weight))


# -- init ----------------------------------------------------------------------------------------


def test_init_functions_are_reproducible_under_manual_seed():
    for fn in (init.xavier_uniform_, init.kaiming_normal_, init.orthogonal_, init.normal_):
        manual_seed(11)
        a = fn(zeros(4, 3)).data.copy()
        manual_seed(11)
        assert np.array_equal(fn(zeros(4, 3)).data, a), fn.__name__


def test_init_functions_fill_in_place_and_keep_dtype():
    w = zeros(3, 4, dtype=np.float64)
    array = w.data
    assert init.kaiming_uniform_(w) is w
    assert w.data is array and w.dtype == np.float64


def test_xavier_uniform_bound_follows_glorot():
    manual_seed(0)
    w = init.xavier_uniform_(zeros(200, 100), gain=2.0)
    bound = 2.0 * math.sqrt(6 / 300)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.95 * bound


def test_kaiming_normal_std_follows_he_with_fan_out_mode():
    manual_seed(0)
    w = init.kaiming_normal_(zeros(400, 100, 3), mode="fan_out", nonlinearity="relu")
    assert w.data.std() == pytest.approx(math.sqrt(2) / math.sqrt(400 * 3), rel=0.02)


def test_xavier_normal_std_follows_glorot():
    manual_seed(0)
    w = init.xavier_normal_(zeros(300, 200))
    assert w.data.std() == pytest.approx(math.sqrt(2 / 500), rel=0.02)


def test_orthogonal_gives_orthonormal_rows_for_wide_matrices():
    w = init.orthogonal_(zeros(3, 5, dtype=np.float64), gain=2.0).data
    assert np.allclose(w @ w.T, 4.0 * np.eye(3))


def test_constant_zeros_ones_and_uniform_fill_as_named():
    assert init.constant_(zeros(2), 0.3).data.tolist() == pytest.approx([0.3, 0.3])
    assert init.ones_(zeros(2)).tolist() == [1.0, 1.0]
    assert init.zeros_(init.ones_(zeros(2))).tolist() == [0.0, 0.0]
    manual_seed(0)
    u = init.uniform_(zeros(1000), 2.0, 3.0).data
    assert u.min() >= 2.0 and u.max() < 3.0


def test_fan_based_init_of_a_vector_is_rejected_with_a_fix():
    with pytest.raises(ValueError, match="at least 2 dimensions.*uniform_"):
        init.xavier_uniform_(zeros(3))


def test_calculate_gain_follows_pytorch_table():
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
