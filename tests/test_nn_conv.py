"""Conv1d (padding, stride, dilation, causal), Conv2d, MaxPool2d and AvgPool2d: shapes,
parameter counts, the causal property, input checks, dtype preservation and gradients against
finite differences (float64, hypothesis-drawn sizes and values)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_lite import DTypeError, ShapeError, Tensor, grad, manual_seed, nn
from tinygrad_lite.gradcheck import gradcheck, gradgradcheck
from tinygrad_lite.nn import functional as F


def _x(rng, *shape):
    return Tensor(rng.standard_normal(shape), requires_grad=True)


def _gradcheck_module(module: nn.Module, x: Tensor, fast_mode: bool = True) -> bool:
    module.double()
    params = list(module.parameters())
    return gradcheck(lambda x, *ps: module(x), (x, *params), fast_mode=fast_mode)


# -- parameter counts and shapes --------------------------------------------------------------


def test_conv2d_parameter_counts_match_pytorch_and_keras():
    assert nn.Conv2d(3, 32, 3).num_parameters() == 896
    assert nn.Conv2d(32, 64, 3).num_parameters() == 18_496
    assert nn.Conv2d(32, 64, 3).num_parameters("keras") == 18_496


def test_conv1d_weight_layout_is_out_in_kernel():
    conv = nn.Conv1d(3, 5, 4)
    assert conv.weight.shape == (5, 3, 4) and conv.bias.shape == (5,)


def test_conv2d_output_size_follows_the_convolution_arithmetic():
    conv = nn.Conv2d(1, 2, 3, stride=2, padding=1)
    # floor((9 + 2*1 - 3) / 2) + 1 = 5
    assert conv(Tensor(np.zeros((1, 1, 9, 9), np.float32))).shape == (1, 2, 5, 5)


def test_conv1d_same_padding_keeps_length():
    conv = nn.Conv1d(2, 2, 4, padding="same", dilation=2)
    assert conv(Tensor(np.zeros((1, 2, 10), np.float32))).shape == (1, 2, 10)


def test_conv_default_init_is_uniform_within_one_over_sqrt_fan_in():
    manual_seed(0)
    conv = nn.Conv2d(4, 8, 3)
    bound = 1 / np.sqrt(4 * 9)
    assert np.abs(conv.weight.data).max() <= bound
    assert np.abs(conv.bias.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.8 * bound  # spread out, not all near zero


def test_conv_init_is_reproducible_under_manual_seed():
    manual_seed(3)
    a = nn.Conv1d(2, 3, 3).weight.data.copy()
    manual_seed(3)
    assert np.array_equal(nn.Conv1d(2, 3, 3).weight.data, a)


# -- semantics ----------------------------------------------------------------------------------


def test_conv1d_computes_a_cross_correlation_not_a_flipped_convolution():
    x = Tensor(np.array([[[1.0, 2.0, 4.0]]]))
    w = Tensor(np.array([[[1.0, 0.0]]]))  # picks the first tap of each window
    assert F.conv1d(x, w).tolist() == [[[1.0, 2.0]]]


def test_conv1d_stride_and_dilation_pick_the_expected_taps():
    x = Tensor(np.arange(8.0).reshape(1, 1, 8))
    w = Tensor(np.array([[[1.0, 10.0]]]))
    # windows start at 0, 3; taps at offsets 0 and 2
    assert F.conv1d(x, w, stride=3, dilation=2).tolist() == [[[20.0, 53.0]]]


def test_causal_conv1d_output_at_t_does_not_depend_on_later_inputs():
    rng = np.random.default_rng(0)
    conv = nn.Conv1d(2, 3, 3, dilation=2, causal=True).double()
    x = _x(rng, 1, 2, 12)
    out = conv(x)
    assert out.shape == (1, 3, 12)
    (g,) = grad(out[:, :, 5].sum(), [x])
    assert np.all(g.data[:, :, 6:] == 0)
    assert np.any(g.data[:, :, [1, 3, 5]] != 0)  # taps t, t-2, t-4


def test_causal_conv1d_rejects_explicit_padding():
    with pytest.raises(ValueError, match="causal=True"):
        nn.Conv1d(1, 1, 3, padding=1, causal=True)


def test_max_pool2d_padding_never_wins_the_max():
    x = Tensor(-np.ones((1, 1, 2, 2)))
    assert np.all(F.max_pool2d(x, 3, stride=1, padding=1).data == -1)


def test_avg_pool2d_count_include_pad_false_averages_only_real_elements():
    x = Tensor(np.ones((1, 1, 2, 2)))
    out = F.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False)
    assert np.allclose(out.data, 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_and_pool_layers_preserve_dtype(dtype):
    x = Tensor(np.ones((1, 2, 6, 6), dtype))
    conv = nn.Conv2d(2, 3, 3) if dtype == np.float32 else nn.Conv2d(2, 3, 3).double()
    assert conv(x).dtype == dtype
    assert nn.MaxPool2d(2)(x).dtype == dtype
    assert nn.AvgPool2d(2)(x).dtype == dtype
    c1 = nn.Conv1d(2, 3, 3) if dtype == np.float32 else nn.Conv1d(2, 3, 3).double()
    assert c1(Tensor(np.ones((1, 2, 6), dtype))).dtype == dtype


def test_unbatched_conv2d_input_gives_unbatched_output():
    conv = nn.Conv2d(2, 3, 3)
    assert conv(Tensor(np.zeros((2, 5, 5), np.float32))).shape == (3, 3, 3)


# -- input checks ---------------------------------------------------------------------------------


def test_conv2d_wrong_channel_count_names_the_layer_and_the_fix():
    with pytest.raises(ShapeError, match=r"Conv2d\(3, 8, kernel_size=\(3, 3\)\).*3 channels"):
        nn.Conv2d(3, 8, 3)(Tensor(np.zeros((1, 4, 5, 5), np.float32)))


def test_conv1d_wrong_ndim_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"Conv1d\(2, 2, kernel_size=3\).*\(N, C, L\)"):
        nn.Conv1d(2, 2, 3)(Tensor(np.zeros((1, 1, 2, 8), np.float32)))


def test_conv1d_input_shorter_than_kernel_span_is_a_shape_error():
    with pytest.raises(ShapeError, match="shorter than the kernel"):
        nn.Conv1d(1, 1, 3, dilation=3)(Tensor(np.zeros((1, 1, 5), np.float32)))


def test_conv2d_integer_input_is_a_dtype_error():
    with pytest.raises(DTypeError, match="Conv2d.*floating point"):
        nn.Conv2d(1, 1, 2)(Tensor(np.zeros((1, 1, 3, 3), np.int64)))


def test_conv2d_float64_input_to_float32_layer_is_a_dtype_error_naming_the_fix():
    with pytest.raises(DTypeError, match="double"):
        nn.Conv2d(1, 1, 2)(Tensor(np.zeros((1, 1, 3, 3))))


def test_pool_kernel_larger_than_input_is_a_shape_error():
    with pytest.raises(ShapeError, match="MaxPool2d"):
        nn.MaxPool2d(4)(Tensor(np.zeros((1, 1, 3, 3), np.float32)))


# -- gradients against finite differences ------------------------------------------------------


@settings(deadline=None)
@given(
    seed=st.integers(0, 2**16),
    length=st.integers(5, 9),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
    causal=st.booleans(),
)
def test_conv1d_gradients_match_finite_differences(
    seed, length, kernel, stride, padding, dilation, causal
):
    rng = np.random.default_rng(seed)
    manual_seed(seed)
    conv = nn.Conv1d(2, 2, kernel, stride, 0 if causal else padding, dilation, causal=causal)
    assert _gradcheck_module(conv, _x(rng, 2, 2, length))


@settings(deadline=None)
@given(
    seed=st.integers(0, 2**16),
    size=st.integers(5, 6),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=st.integers(0, 1),
    dilation=st.integers(1, 2),
)
def test_conv2d_gradients_match_finite_differences(seed, size, kernel, stride, padding, dilation):
    rng = np.random.default_rng(seed)
    manual_seed(seed)
    conv = nn.Conv2d(2, 2, kernel, stride, padding, dilation)
    assert _gradcheck_module(conv, _x(rng, 1, 2, size, size + 1))


@settings(deadline=None)
@given(
    seed=st.integers(0, 2**16),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=st.integers(0, 1),
    include_pad=st.booleans(),
)
def test_pool_gradients_match_finite_differences(seed, kernel, stride, padding, include_pad):
    rng = np.random.default_rng(seed)
    padding = min(padding, kernel // 2)
    # A permutation of well separated values: no ties, so max is differentiable.
    x = Tensor(rng.permutation(2 * 5 * 5).reshape(1, 2, 5, 5) * 0.1, requires_grad=True)
    assert gradcheck(lambda t: F.max_pool2d(t, kernel, stride, padding), x)
    pool = nn.AvgPool2d(kernel, stride, padding, count_include_pad=include_pad)
    assert gradcheck(pool, x)


def test_conv2d_second_derivatives_match_finite_differences():
    rng = np.random.default_rng(0)
    w = _x(rng, 2, 1, 2, 2)
    x = _x(rng, 1, 1, 4, 4)
    assert gradgradcheck(lambda x, w: F.conv2d(x, w, stride=1, padding=1).tanh(), (x, w))
