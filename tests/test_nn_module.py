"""nn.Module: registration and PyTorch names, state_dict / load_state_dict (all-or-nothing,
every problem named), .npz save/load that never overwrites by accident and never unpickles,
train/eval, zero_grad, parameter counts and forward hooks."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_lite import ShapeError, Tensor, nn


def _mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 2))


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(2, 3)
        self.norm = nn.BatchNorm1d(3)
        self.head = nn.ModuleList([nn.Linear(3, 1), nn.Linear(3, 1)])
        self.scale = nn.Parameter(np.ones(1, np.float32))

    def forward(self, x):
        h = self.norm(self.encoder(x))
        return self.head[0](h) * self.scale + self.head[1](h)


# -- registration -------------------------------------------------------------------------------


def test_parameters_are_named_as_in_pytorch_in_registration_order():
    names = [n for n, _ in _Net().named_parameters()]
    assert names == [
        "scale",
        "encoder.weight",
        "encoder.bias",
        "norm.weight",
        "norm.bias",
        "head.0.weight",
        "head.0.bias",
        "head.1.weight",
        "head.1.bias",
    ]


def test_sequential_names_children_by_position():
    assert [n for n, _ in _mlp().named_parameters()] == [
        "0.weight",
        "0.bias",
        "3.weight",
        "3.bias",
    ]


def test_state_dict_holds_parameters_then_buffers():
    keys = list(_Net().state_dict())
    assert keys[-3:] == ["norm.running_mean", "norm.running_var", "norm.num_batches_tracked"]


def test_shared_parameter_is_counted_once():
    layer = nn.Linear(2, 2)
    model = nn.Sequential(layer, layer)
    assert len(list(model.parameters())) == 2 and model.num_parameters() == 6


def test_assigning_a_tensor_to_a_buffer_name_keeps_it_a_buffer():
    bn = nn.BatchNorm1d(2)
    bn.running_mean = Tensor(np.full(2, 3.0, np.float32))
    assert bn.state_dict()["running_mean"].tolist() == [3.0, 3.0]


def test_assigning_a_plain_value_unregisters_a_parameter():
    layer = nn.Linear(2, 2)
    layer.bias = None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]


def test_attribute_before_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter([1.0])

    with pytest.raises(RuntimeError, match=r"Broken: call super\(\)\.__init__\(\)"):
        Broken()


def test_keras_and_pytorch_counts_agree_for_non_recurrent_layers():
    model = nn.Sequential(nn.Conv2d(3, 32, 3), nn.Flatten(), nn.Linear(32, 10))
    assert model.num_parameters() == model.num_parameters("keras") == 896 + 330


def test_unknown_count_convention_is_rejected():
    with pytest.raises(ValueError, match="pytorch' or 'keras"):
        _mlp().num_parameters("tf")


def test_deep_nesting_does_not_hit_the_recursion_limit():
    model = nn.Linear(1, 1)
    for _ in range(3000):
        model = nn.Sequential(model)
    assert model.num_parameters() == 2


# -- load_state_dict ------------------------------------------------------------------------------


def test_state_dict_round_trip_reproduces_outputs():
    a, b = _Net(), _Net()
    b.load_state_dict(a.state_dict())
    x = Tensor(np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32))
    a.eval(), b.eval()
    assert np.array_equal(a(x).data, b(x).data)


def test_state_dict_is_a_copy_unaffected_by_later_training():
    layer = nn.Linear(2, 2)
    state = layer.state_dict()
    layer.weight.data += 1
    assert not np.array_equal(state["weight"], layer.weight.data)


def test_load_state_dict_names_every_missing_unexpected_and_misshaped_key_and_changes_nothing():
    layer = nn.Linear(3, 2)
    before = layer.weight.data.copy()
    bad = {"weight": np.zeros((3, 3), np.float32), "extra": np.zeros(1)}
    with pytest.raises(ShapeError) as info:
        layer.load_state_dict(bad)
    message = str(info.value)
    assert "missing keys ['bias']" in message
    assert "unexpected keys ['extra']" in message
    assert "weight: expected (2, 3), got (3, 3)" in message
    assert "nothing was loaded" in message
    assert np.array_equal(layer.weight.data, before)


def test_load_state_dict_non_strict_reports_but_allows_missing_and_extra_keys():
    layer = nn.Linear(3, 2)
    result = layer.load_state_dict({"weight": np.ones((2, 3)), "extra": 1.0}, strict=False)
    assert result == {"missing_keys": ["bias"], "unexpected_keys": ["extra"]}
    assert np.all(layer.weight.data == 1)


def test_load_state_dict_non_strict_still_refuses_misshaped_entries():
    layer = nn.Linear(3, 2)
    with pytest.raises(ShapeError, match="bias: expected"):
        layer.load_state_dict({"bias": np.ones(3)}, strict=False)


def test_load_state_dict_keeps_the_module_dtype():
    layer = nn.Linear(2, 2)
    layer.load_state_dict({"weight": np.ones((2, 2)), "bias": np.ones(2)})
    assert layer.weight.dtype == np.float32


def test_load_state_dict_copies_so_the_source_array_stays_independent():
    layer = nn.Linear(2, 2)
    source = {"weight": np.ones((2, 2), np.float32), "bias": np.ones(2, np.float32)}
    layer.load_state_dict(source)
    layer.weight.data += 1
    assert np.all(source["weight"] == 1)


def test_load_state_dict_stores_c_ordered_copies_of_transposed_sources():
    # As PyTorch's copy_ into the parameter: a transposed (Fortran-ordered) source must not
    # hand its layout on, or matmuls with the weight run at up to half speed.
    layer = nn.Linear(3, 2)
    weight = np.arange(6, dtype=np.float32).reshape(3, 2).T
    layer.load_state_dict({"weight": weight, "bias": np.ones(2, np.float32)})
    assert layer.weight.data.flags.c_contiguous
    np.testing.assert_array_equal(layer.weight.data, weight)


# -- save / load --------------------------------------------------------------------------------


def test_save_then_load_restores_every_parameter_and_buffer(tmp_path):
    a, b = _Net(), _Net()
    a.norm(Tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)))
    path = tmp_path / "net.npz"
    a.save(path)
    b.load(path)
    for key, value in a.state_dict().items():
        assert np.array_equal(b.state_dict()[key], value), key


def test_save_never_overwrites_an_existing_file_without_overwrite(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        _mlp().save(path)
    assert path.read_bytes() == b"precious"


def test_save_with_overwrite_replaces_the_file(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    _mlp().save(path, overwrite=True)
    assert set(np.load(path, allow_pickle=False).files) == set(_mlp().state_dict())


def test_save_requires_the_npz_suffix(tmp_path):
    with pytest.raises(ValueError, match=".npz"):
        _mlp().save(tmp_path / "model.pt")


def test_load_refuses_pickled_object_arrays(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, weight=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        nn.Linear(1, 1).load(path)


def test_load_of_a_file_with_wrong_shapes_changes_nothing(tmp_path):
    path = tmp_path / "other.npz"
    nn.Linear(3, 3).save(path)
    layer = nn.Linear(3, 2)
    before = layer.state_dict()
    with pytest.raises(ShapeError, match="nothing was loaded"):
        layer.load(path)
    assert all(np.array_equal(layer.state_dict()[k], v) for k, v in before.items())


# -- modes, gradients, hooks ---------------------------------------------------------------------


def test_train_and_eval_switch_every_submodule():
    model = _Net()
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_clears_every_parameter_gradient():
    model = _mlp().eval()
    model(Tensor(np.ones((2, 3), np.float32))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_zero_grad_without_set_to_none_leaves_zeros():
    model = _mlp().eval()
    model(Tensor(np.ones((2, 3), np.float32))).sum().backward()
    model.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.data == 0) for p in model.parameters())


def test_double_converts_parameters_and_float_buffers_but_not_counters():
    model = _Net().double()
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model.norm.running_mean.dtype == np.float64
    assert model.norm.num_batches_tracked.dtype == np.int64


def test_forward_hook_sees_output_and_can_be_removed():
    seen = []
    layer = nn.Linear(2, 1)
    handle = layer.register_forward_hook(lambda m, args, out: seen.append(out.shape))
    layer(Tensor(np.ones((3, 2), np.float32)))
    handle.remove()
    layer(Tensor(np.ones((3, 2), np.float32)))
    assert seen == [(3, 1)]


def test_repr_lists_children_with_their_settings():
    text = repr(_mlp())
    assert "(0): Linear(in_features=3, out_features=4, bias=True)" in text
    assert "(2): Dropout(p=0.5, inplace=False)" in text
