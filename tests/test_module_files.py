"""Module.save / Module.load / load_state_dict: what a user saved is never lost, any name
round-trips, and loading either changes every parameter or none, never runs code, and says
what was wrong with a file."""

from __future__ import annotations

import os
import pickle
import zipfile

import numpy as np
import pytest

from tinygrad_lite import nn
from tinygrad_lite.errors import DTypeError, ShapeError
from tinygrad_lite.nn import module as module_py


class Named(nn.Module):
    """Parameters with the names np.savez takes for its own arguments, and odd characters."""

    NAMES = ("allow_pickle", "file", "args", "kwds", "arr_0", "x y", "ünï", "a.npy", "a/b")

    def __init__(self, value: float = 0.0):
        super().__init__()
        for i, name in enumerate(self.NAMES):
            setattr(self, name, nn.Parameter(np.full(2, value + i, np.float32)))


def two_layers() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))


# -- save: never through a planted link, never over a file that appeared -------------------


def test_save_never_writes_through_a_link_at_the_old_predictable_temporary_name(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    path = tmp_path / "model.npz"
    (tmp_path / f"model.npz.tmp-{os.getpid()}.npz").symlink_to(victim)
    two_layers().save(path)
    assert victim.read_text() == "precious"
    assert set(np.load(path).files) == {"0.weight", "0.bias", "1.weight", "1.bias"}


def test_save_refuses_a_dangling_symlink_at_the_target(tmp_path):
    path = tmp_path / "model.npz"
    path.symlink_to(tmp_path / "elsewhere.npz")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        two_layers().save(path)
    assert path.is_symlink() and not (tmp_path / "elsewhere.npz").exists()


def test_save_never_replaces_a_file_created_while_it_was_saving(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    model = two_layers()
    real_npz_buffer = module_py._npz_buffer

    def racing_npz_buffer(state):
        path.write_bytes(b"someone else's")  # appears after any check for it
        return real_npz_buffer(state)

    monkeypatch.setattr(module_py, "_npz_buffer", racing_npz_buffer)
    with pytest.raises(FileExistsError):
        model.save(path)
    assert path.read_bytes() == b"someone else's"
    assert os.listdir(tmp_path) == ["model.npz"]


def test_save_leaves_no_temporary_file(tmp_path):
    two_layers().save(tmp_path / "m.npz")
    two_layers().save(tmp_path / "m.npz", overwrite=True)
    assert os.listdir(tmp_path) == ["m.npz"]


# -- keys round-trip whatever their names -----------------------------------------------------


def test_every_name_round_trips_including_savez_argument_names(tmp_path):
    path = tmp_path / "named.npz"
    Named(value=10.0).save(path)
    loaded = Named()
    loaded.load(path)
    for name, value in Named(value=10.0).state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], value, err_msg=name)


def test_a_name_a_zip_file_cannot_hold_is_refused_before_anything_is_written(tmp_path):
    model = nn.Module()
    setattr(model, "a\0b", nn.Parameter(np.ones(1, np.float32)))
    with pytest.raises(ValueError, match="a\\\\x00b"):
        model.save(tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


# -- load_state_dict: validate everything, then assign -----------------------------------------


def test_a_string_array_is_refused_and_nothing_is_loaded():
    model = two_layers()
    before = model.state_dict()
    state = {k: np.ones_like(v) for k, v in before.items()}
    state["1.bias"] = np.array(["x"])  # last: every other key was fine
    with pytest.raises(DTypeError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert "1.bias" in message and "<U1" in message and "nothing was loaded" in message
    for key, value in before.items():
        np.testing.assert_array_equal(model.state_dict()[key], value, err_msg=key)


@pytest.mark.parametrize(
    "bad",
    [
        np.array(["2020-01-01"], dtype="datetime64[D]"),
        np.array([1], dtype="timedelta64[s]"),
        np.array([None], dtype=object),
        np.array([b"x"]),
        np.array([1 + 2j]),
        np.array([True]),
        np.array([1], dtype=np.int64),
    ],
    ids=lambda a: str(a.dtype),
)
def test_only_real_floating_arrays_load_into_a_float_parameter(bad):
    layer = nn.Linear(1, 1)
    before = layer.weight.data.copy()
    with pytest.raises(DTypeError) as info:
        layer.load_state_dict({"weight": bad.reshape(1, 1), "bias": np.zeros(1)})
    assert "'weight'" in str(info.value) and str(bad.dtype) in str(info.value)
    assert "astype" in str(info.value)  # the fix
    np.testing.assert_array_equal(layer.weight.data, before)


def test_a_buffer_loads_its_own_dtype():
    norm = nn.BatchNorm1d(2)
    state = norm.state_dict()
    state["num_batches_tracked"] = np.array(7, dtype=np.int64)
    norm.load_state_dict(state)
    assert int(norm.num_batches_tracked.data) == 7


def test_every_problem_is_named_in_one_error_that_is_also_a_runtime_error():
    layer = nn.Linear(2, 1)
    with pytest.raises(RuntimeError) as info:  # PyTorch raises RuntimeError here
        layer.load_state_dict({"weight": np.ones((3, 3)), "bias": np.array(["b"])})
    assert isinstance(info.value, ShapeError) and isinstance(info.value, DTypeError)
    assert "weight: expected (1, 2)" in str(info.value) and "'bias'" in str(info.value)


# -- load: says what a file is, never runs code -----------------------------------------------


def test_loading_an_npy_file_says_what_it_is_and_what_was_expected(tmp_path):
    path = tmp_path / "weight.npy"
    np.save(path, np.ones(3))
    with pytest.raises(ValueError) as info:
        nn.Linear(1, 1).load(path)
    message = str(info.value)
    assert ".npy file" in message and ".npz" in message and "Module.save" in message
    assert "context manager" not in message


def test_loading_a_pickle_never_runs_it(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ValueError, match="not an .npz archive"):
        nn.Linear(1, 1).load(path)
    assert not marker.exists()


def test_loading_an_object_array_member_never_unpickles_and_names_the_key(tmp_path):
    path = tmp_path / "objects.npz"
    with zipfile.ZipFile(path, "w") as archive, archive.open("weight.npy", "w") as member:
        np.lib.format.write_array(member, np.array([object()]), allow_pickle=True)
    with pytest.raises(ValueError) as info:
        nn.Linear(1, 1).load(path)
    assert "'weight'" in str(info.value) and "never unpickled" in str(info.value)


def test_loading_a_file_that_is_not_numpy_at_all(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("hello")
    with pytest.raises(ValueError, match="not an .npz archive"):
        nn.Linear(1, 1).load(path)


def test_loading_a_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        nn.Linear(1, 1).load(tmp_path / "nope.npz")


# -- load: each entry is sized from its header before its data is read -----------------------


def forged_npz(path, key: str, shape: tuple) -> None:
    """An archive whose entry claims `shape` but holds 16 bytes (a zip bomb's cheap cousin)."""
    with zipfile.ZipFile(path, "w") as archive, archive.open(f"{key}.npy", "w") as member:
        header = {"descr": "<f4", "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(member, header)
        member.write(b"\0" * 16)


def test_an_entry_claiming_a_huge_shape_is_refused_by_its_header(tmp_path, monkeypatch):
    path = tmp_path / "forged.npz"
    forged_npz(path, "weight", (10**6, 10**6))

    def must_not_read(*args, **kwargs):
        raise AssertionError("the data was read before the shape was checked")

    monkeypatch.setattr(np.lib.format, "read_array", must_not_read)
    with pytest.raises(ShapeError, match=r"weight: expected \(1, 1\), got \(1000000, 1000000\)"):
        nn.Linear(1, 1).load(path)


def test_an_unexpected_entry_is_never_read(tmp_path, monkeypatch):
    path = tmp_path / "extra.npz"
    forged_npz(path, "not_a_parameter", (10**6, 10**6))
    monkeypatch.setattr(np.lib.format, "read_array", lambda *a, **k: pytest.fail("read"))
    layer = nn.Linear(1, 1)
    result = layer.load(path, strict=False)
    assert result["unexpected_keys"] == ["not_a_parameter"]


def test_an_entry_that_is_not_an_array_is_named(tmp_path):
    path = tmp_path / "odd.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("weight.npy", b"hello")
    with pytest.raises(ValueError, match="'weight' is not a .npy array"):
        nn.Linear(1, 1).load(path)


def test_a_damaged_archive_is_named(tmp_path):
    path = tmp_path / "cut.npz"
    two_layers().save(path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValueError, match="damaged .npz archive|is not a .npy array"):
        two_layers().load(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_loading_a_fifo_is_refused_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    with pytest.raises(ValueError, match="not a regular file"):
        nn.Linear(1, 1).load(tmp_path / "pipe.npz")


def test_loading_a_folder_is_refused(tmp_path):
    (tmp_path / "model.npz").mkdir()
    with pytest.raises((ValueError, IsADirectoryError), match="model.npz"):
        nn.Linear(1, 1).load(tmp_path / "model.npz")


def npz_of_headers(path, headers: dict) -> None:
    """An archive whose entries are bare .npy headers {key: (descr, shape)}, no data."""
    with zipfile.ZipFile(path, "w") as archive:
        for key, (descr, shape) in headers.items():
            with archive.open(f"{key}.npy", "w") as member:
                header = {"descr": descr, "fortran_order": False, "shape": shape}
                np.lib.format.write_array_header_1_0(member, header)


def test_forged_huge_dtypes_are_refused_from_the_header_without_allocating(tmp_path, monkeypatch):
    path = tmp_path / "forged.npz"
    npz_of_headers(path, {"weight": ("|V2147483647", (2, 3)), "bias": ("<U500000000", (2,))})
    real_zeros = np.zeros

    def small_zeros(shape, dtype=float, *args, **kwargs):
        assert np.dtype(dtype).itemsize <= 16, f"np.zeros of a {dtype} element"
        return real_zeros(shape, dtype, *args, **kwargs)

    monkeypatch.setattr(np, "zeros", small_zeros)
    with pytest.raises(DTypeError) as info:
        nn.Linear(3, 2).load(path)
    assert "'weight'" in str(info.value) and "V2147483647" in str(info.value)
    assert "'bias'" in str(info.value) and "U500000000" in str(info.value)


def test_an_entry_with_a_negative_dimension_is_named_as_an_invalid_shape(tmp_path):
    path = tmp_path / "neg.npz"
    npz_of_headers(path, {"weight": ("<f8", (-2, 3))})
    with pytest.raises(ValueError, match=r"the entry 'weight' has an invalid shape \(-2, 3\)"):
        nn.Linear(3, 2).load(path)


def test_a_torch_bfloat16_state_dict_loads_cast_as_torch_does():
    torch = pytest.importorskip("torch")
    source = torch.nn.Linear(3, 2).to(torch.bfloat16)
    layer = nn.Linear(3, 2)
    assert layer.load_state_dict(source.state_dict()) == {"missing_keys": [], "unexpected_keys": []}
    expected = source.weight.detach().float().numpy()
    np.testing.assert_array_equal(layer.weight.data, expected.astype(layer.weight.data.dtype))


def test_non_strict_load_skips_a_member_that_is_not_an_array(tmp_path):
    path = tmp_path / "notes.npz"
    nn.Linear(3, 2).save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("README.txt", "notes")
    assert nn.Linear(3, 2).load(path, strict=False) == {
        "missing_keys": [],
        "unexpected_keys": ["README.txt"],
    }


def test_a_torch_save_file_is_named_as_one_with_the_way_to_load_it(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), path)
    with pytest.raises(ValueError, match=r"PyTorch file \(torch.save\).*torch.load"):
        nn.Linear(3, 2).load(path)


def test_save_needs_about_one_archive_of_memory_above_the_model(tmp_path):
    import tracemalloc

    class Big(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.zeros(12_000_000, np.float32))  # 48 MB

    # numpy writes an array to a zip member in copies of up to 16 MiB: the model is larger,
    # so that the archive itself dominates what saving costs.
    model, size = Big(), 48_000_000
    tracemalloc.start()
    try:
        model.save(tmp_path / "big.npz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * size, f"{peak:,} bytes above the model for an {size:,}-byte archive"
    assert np.load(tmp_path / "big.npz")["w"].shape == (12_000_000,)
