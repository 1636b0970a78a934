"""`tl.save` / `tl.load`: checkpoints of Tensors and nested containers, as torch.save is used,
in a file that loading only parses (JSON and numpy arrays, never pickle)."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import nn

torch = pytest.importorskip("torch")


def test_state_dict_round_trips_and_loads_into_a_model(tmp_path):
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    path = tmp_path / "model.tl"
    tl.save(model.state_dict(), path)
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    other.load_state_dict(tl.load(path))
    x = tl.randn(5, 3)
    np.testing.assert_array_equal(model(x).numpy(), other(x).numpy())


def test_same_checkpoint_as_torch_save_gives_the_same_structure(tmp_path):
    arrays = {"a": np.arange(6.0).reshape(2, 3), "b": np.array([1, 2], dtype=np.int64)}
    checkpoint = {
        "epoch": 3,
        "lr": 0.1,
        "name": "run-1",
        "done": False,
        "note": None,
        "tensors": [tl.from_numpy(arrays["a"]), (tl.from_numpy(arrays["b"]),)],
        "nested": {"x": {"y": tl.tensor([1.5])}},
    }
    torch_checkpoint = {
        "epoch": 3,
        "lr": 0.1,
        "name": "run-1",
        "done": False,
        "note": None,
        "tensors": [torch.from_numpy(arrays["a"]), (torch.from_numpy(arrays["b"]),)],
        "nested": {"x": {"y": torch.tensor([1.5])}},
    }
    tl.save(checkpoint, tmp_path / "ours.tl")
    torch.save(torch_checkpoint, tmp_path / "theirs.pt")
    ours, theirs = tl.load(tmp_path / "ours.tl"), torch.load(tmp_path / "theirs.pt")

    def plain(obj):
        if isinstance(obj, dict):
            return {k: plain(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(plain(v) for v in obj)
        if hasattr(obj, "numpy"):
            array = obj.detach().numpy() if hasattr(obj, "detach") else obj.numpy()
            return (array.dtype.str, array.tolist())
        return obj

    assert plain(ours) == plain(theirs)


def test_requires_grad_and_parameters_are_kept(tmp_path):
    w = nn.Parameter([1.0, 2.0])
    frozen = tl.tensor([3.0])
    tl.save({"w": w, "frozen": frozen}, tmp_path / "p.tl")
    loaded = tl.load(tmp_path / "p.tl")
    assert isinstance(loaded["w"], nn.Parameter) and loaded["w"].requires_grad
    assert not isinstance(loaded["frozen"], nn.Parameter)
    assert not loaded["frozen"].requires_grad


def test_dtypes_and_shapes_are_kept(tmp_path):
    values = [
        np.zeros((0, 3), dtype=np.float32),
        np.array(2.5),
        np.array([True, False]),
        np.arange(4, dtype=np.int32),
    ]
    tl.save([tl.from_numpy(v) for v in values] + values, tmp_path / "d.tl")
    loaded = tl.load(tmp_path / "d.tl")
    for got, want in zip(loaded, values + values):
        array = got.numpy() if isinstance(got, tl.Tensor) else got
        assert (array.dtype, array.shape) == (want.dtype, want.shape)
        np.testing.assert_array_equal(array, want)


def test_infinite_and_nan_floats_round_trip(tmp_path):
    tl.save([float("inf"), float("-inf"), float("nan")], tmp_path / "f.tl")
    a, b, c = tl.load(tmp_path / "f.tl")
    assert a == float("inf") and b == float("-inf") and c != c


def test_save_to_and_load_from_a_file_object():
    buffer = io.BytesIO()
    tl.save({"w": tl.tensor([1.0, 2.0])}, buffer)
    buffer.seek(0)
    assert tl.load(buffer)["w"].tolist() == [1.0, 2.0]


def test_save_never_overwrites_unless_asked(tmp_path):
    path = tmp_path / "ckpt.tl"
    tl.save({"v": 1}, path)
    with pytest.raises(FileExistsError):
        tl.save({"v": 2}, path)
    assert tl.load(path) == {"v": 1}
    tl.save({"v": 2}, path, overwrite=True)
    assert tl.load(path) == {"v": 2}


def test_save_refuses_objects_it_cannot_store_without_pickle(tmp_path):
    with pytest.raises(TypeError, match=r"obj\['bad'\] is a set.*never pickle"):
        tl.save({"bad": {1, 2}}, tmp_path / "x.tl")
    assert not (tmp_path / "x.tl").exists()


def test_save_refuses_object_arrays(tmp_path):
    with pytest.raises(TypeError, match="dtype object"):
        tl.save([np.array([{}], dtype=object)], tmp_path / "x.tl")


def test_save_refuses_keys_that_json_would_change(tmp_path):
    with pytest.raises(TypeError, match="keys must be str or int"):
        tl.save({(1, 2): 3}, tmp_path / "x.tl")


def test_int_keys_stay_ints(tmp_path):
    tl.save({0: "a", "0": "b"}, tmp_path / "k.tl")
    assert tl.load(tmp_path / "k.tl") == {0: "a", "0": "b"}


def test_loading_a_pickle_is_refused_and_runs_nothing(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('ran code')",))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(ValueError, match="not a zip archive.*pickle"):
        tl.load(path)


def test_loading_a_torch_save_file_is_refused(tmp_path):
    # torch.save writes a zip whose data.pkl is a pickle: no structure.json, so refused.
    path = tmp_path / "t.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(ValueError, match="no structure.json"):
        tl.load(path)


def test_pickled_array_inside_an_archive_is_refused(tmp_path):
    path = tmp_path / "evil.tl"
    with zipfile.ZipFile(path, "w") as archive:
        structure = {"format": "tinygrad_lite.save/1", "root": {"kind": "ndarray", "array": 0}}
        archive.writestr("structure.json", json.dumps(structure))
        with archive.open("arrays/0.npy", "w") as entry:
            np.save(entry, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="array 0"):
        tl.load(path)


@pytest.mark.parametrize(
    "root",
    [
        {"kind": "eval", "value": "__import__('os')"},
        {"kind": "tensor", "array": 5},
        {"kind": "json", "value": {"nested": "object"}},
        {"kind": "dict", "items": [[[1], 2]]},
    ],
    ids=["unknown-kind", "missing-array", "bad-value", "bad-key"],
)
def test_malformed_structure_is_a_clear_error(tmp_path, root):
    path = tmp_path / "bad.tl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "structure.json", json.dumps({"format": "tinygrad_lite.save/1", "root": root})
        )
    with pytest.raises(ValueError, match="not a valid tinygrad_lite.save file"):
        tl.load(path)


def test_map_location_other_than_cpu_is_an_error(tmp_path):
    tl.save([1], tmp_path / "a.tl")
    assert tl.load(tmp_path / "a.tl", map_location="cpu") == [1]
    with pytest.raises(RuntimeError, match="CPU only"):
        tl.load(tmp_path / "a.tl", map_location="cuda")


def test_array_header_claiming_more_data_than_the_file_holds_is_refused(tmp_path):
    # A few bytes that claim a 4 TB array: refused from the header, nothing allocated.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (500_000_000_000,)}
    )
    path = tmp_path / "huge.tl"
    with zipfile.ZipFile(path, "w") as archive:
        structure = {"format": "tinygrad_lite.save/1", "root": {"kind": "ndarray", "array": 0}}
        archive.writestr("structure.json", json.dumps(structure))
        archive.writestr("arrays/0.npy", header.getvalue() + b"\0" * 16)
    with pytest.raises(ValueError, match="header claims 4000000000000 bytes"):
        tl.load(path)
