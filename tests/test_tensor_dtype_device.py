"""dtypes and the device, as PyTorch's names: `tl.float32`/`tl.float`, `tl.float64`/`tl.double`,
`tl.int64`/`tl.long`, `tl.int32`/`tl.int`, `tl.bool`; casts; the default float dtype (creation
and nn layers); "cpu" accepted everywhere, any other device and float16 refused clearly.
"""

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import DTypeError, Tensor, nn
from tinygrad_lite.tensor import DeviceError


@pytest.fixture
def float64_default():
    tl.set_default_dtype(tl.float64)
    yield
    tl.set_default_dtype(tl.float32)


def test_dtype_names_are_torchs_aliases():
    assert tl.float is tl.float32 and tl.double is tl.float64
    assert tl.long is tl.int64 and tl.int is tl.int32
    assert Tensor([True]).dtype == tl.bool


@pytest.mark.parametrize(
    "method, dtype",
    [
        ("float", tl.float32),
        ("double", tl.float64),
        ("long", tl.int64),
        ("int", tl.int32),
        ("bool", tl.bool),
    ],
)
def test_cast_methods_give_their_dtype(method, dtype):
    assert getattr(Tensor([1.5, 0.0]), method)().dtype == dtype


def test_to_and_type_cast_like_astype():
    x = Tensor([1.0, 2.0])
    assert x.to(tl.float64).dtype == tl.float64
    assert x.to(dtype=tl.int64).dtype == tl.int64
    assert x.to("cpu", tl.float64).dtype == tl.float64
    assert x.to(Tensor([1], dtype=tl.int32)).dtype == tl.int32
    assert x.type(tl.float64).dtype == tl.float64
    assert x.type() == "tinygrad_lite.FloatTensor" and x.long().type() == "tinygrad_lite.LongTensor"


def test_a_float_cast_passes_the_gradient_back_in_the_input_dtype():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x.double() * 3).sum().backward()
    assert x.grad.dtype == tl.float32 and x.grad.tolist() == [3.0, 3.0]


def test_an_integer_cast_carries_no_gradient_as_torch():
    assert not Tensor([1.5], requires_grad=True).long().requires_grad


def test_cpu_is_accepted_everywhere():
    x = Tensor([1.0], device="cpu")
    assert x.to("cpu") is x and x.cpu() is x and x.to(tl.device("cpu")) is x
    assert x.device == "cpu" and str(x.device) == "cpu" and not x.is_cuda
    assert tl.zeros(2, device="cpu").shape == (2,)
    assert tl.tensor([1.0], device="cpu:0").device == tl.device("cpu")


@pytest.mark.parametrize(
    "make",
    [
        lambda: Tensor([1.0]).to("cuda"),
        lambda: Tensor([1.0]).cuda(),
        lambda: Tensor([1.0], device="mps"),
        lambda: tl.zeros(2, device="cuda:0"),
        lambda: tl.device("cuda"),
    ],
)
def test_any_other_device_is_a_runtime_error_saying_cpu_only(make):
    with pytest.raises(DeviceError, match="CPU only") as info:
        make()
    assert isinstance(info.value, RuntimeError)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Tensor([1.0]).half(),
        lambda: Tensor([1.0]).to(np.float16),
        lambda: Tensor([1.0], dtype=np.float16),
        lambda: tl.zeros(2, dtype=np.float16),
    ],
)
def test_float16_is_refused_with_the_reason(make):
    with pytest.raises(DTypeError, match="float16"):
        make()


@pytest.mark.parametrize("name", ["half", "float16"])
def test_naming_tl_half_raises_at_once(name):
    with pytest.raises(DTypeError, match="float16 is not supported"):
        getattr(tl, name)


def test_the_default_dtype_is_float32():
    assert tl.get_default_dtype() == tl.float32
    assert Tensor([1.5]).dtype == tl.float32 and tl.randn(2).dtype == tl.float32


def test_set_default_dtype_governs_float_creation(float64_default):
    assert tl.get_default_dtype() == tl.float64
    for t in (
        Tensor([1.5]),
        tl.tensor(2.0),
        tl.zeros(2),
        tl.ones(2),
        tl.full((2,), 3.0),
        tl.eye(2),
        tl.rand(2),
        tl.randn(2),
        tl.arange(0.0, 1.0, 0.5),
    ):
        assert t.dtype == tl.float64
    assert tl.arange(3).dtype == tl.int64 and Tensor([1]).dtype == tl.int64


def test_set_default_dtype_governs_nn_layers(float64_default):
    layers = [nn.Linear(2, 3), nn.Embedding(4, 2), nn.RNN(2, 3), nn.LSTM(2, 3)]
    for layer in layers:
        assert all(p.dtype == tl.float64 for p in layer.parameters())


def test_set_default_dtype_refuses_integers_as_torch():
    with pytest.raises(DTypeError, match="floating-point"):
        tl.set_default_dtype(tl.int64)
    assert tl.get_default_dtype() == tl.float32


def test_new_tensors_take_selfs_dtype_as_torch():
    x = Tensor([1.0], dtype=tl.float64)
    assert x.new_zeros(2, 3).shape == (2, 3) and x.new_zeros(2).dtype == tl.float64
    assert x.new_ones((2,)).tolist() == [1.0, 1.0]
    assert x.new_full((2,), 7.0).tolist() == [7.0, 7.0]
    assert x.new_tensor([1, 2]).dtype == tl.float64
    assert x.new_tensor([1, 2], dtype=tl.int64).dtype == tl.int64
    assert x.new_zeros(2, requires_grad=True).requires_grad
