"""`save` and `load`: Tensors and nested dicts / lists / tuples of them in one file, as
`torch.save(model.state_dict(), f)` is used, without pickle.

torch.save pickles, and loading a pickle runs whatever code the file names. Here a file is a zip
archive of numpy `.npy` arrays (read back with `allow_pickle=False`) plus one JSON entry,
`structure.json`, that describes the nesting. Loading only parses JSON and array headers, so a
file from a stranger can give wrong numbers, never run code. Writing goes through
`safe_io.write_file`: an existing file is never replaced unless `overwrite=True`.

What can be saved: Tensors (their `requires_grad` and whether they were `nn.Parameter`s are kept),
numpy arrays of bool, integer or floating dtype, Python ints, floats, bools, strings and None,
and dicts (string or int keys, in order), lists and tuples of these. A Tensor that appears twice
is stored twice and loads as two Tensors.

>>> import os, tempfile
>>> import tinygrad_lite as tl
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.tl")
>>> tl.save({"step": 3, "w": tl.tensor([1.0, 2.0], requires_grad=True)}, path)
>>> ckpt = tl.load(path)
>>> ckpt["step"], ckpt["w"].tolist(), ckpt["w"].requires_grad
(3, [1.0, 2.0], True)
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np

from .safe_io import write_file
from .tensor import Tensor

__all__ = ["load", "save"]

_STRUCTURE = "structure.json"
_FORMAT = "tinygrad_lite.save/1"
_ARRAY_KINDS = "biuf"


def _encode(obj, arrays: list, where: str):
    """The JSON description of `obj`; arrays are appended to `arrays` and named by index."""
    if obj is None or isinstance(obj, (bool, str)):
        return {"kind": "json", "value": obj}
    if isinstance(obj, (int, float)) and not isinstance(obj, np.generic):
        if isinstance(obj, float) and not np.isfinite(obj):
            return {"kind": "float", "value": repr(obj)}  # JSON has no inf/nan
        return {"kind": "json", "value": obj}
    if isinstance(obj, np.generic):
        obj = np.asarray(obj)
    if isinstance(obj, Tensor):
        from .nn.module import Parameter

        kind = "parameter" if isinstance(obj, Parameter) else "tensor"
        entry = {"kind": kind, "array": _add_array(obj.data, arrays, where)}
        entry["requires_grad"] = bool(obj.requires_grad)
        return entry
    if isinstance(obj, np.ndarray):
        return {"kind": "ndarray", "array": _add_array(obj, arrays, where)}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(
                    f"save: {where} has the key {key!r} of type {type(key).__name__}; "
                    "dict keys must be str or int"
                )
            items.append([key, _encode(value, arrays, f"{where}[{key!r}]")])
        return {"kind": "dict", "items": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {
            "kind": kind,
            "items": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)],
        }
    raise TypeError(
        f"save: {where} is a {type(obj).__name__}, which save cannot store; it stores "
        "Tensors, numpy arrays, numbers, strings, None and dicts/lists/tuples of them "
        "(never pickle, so that loading a file never runs code)"
    )


def _add_array(array: np.ndarray, arrays: list, where: str) -> int:
    if array.dtype.kind not in _ARRAY_KINDS:
        raise TypeError(
            f"save: {where} has dtype {array.dtype}; only bool, integer and floating arrays "
            "are stored"
        )
    arrays.append(array)
    return len(arrays) - 1


def save(obj, f, *, overwrite: bool = False) -> None:
    """Write `obj` (Tensors and nested dicts/lists/tuples of them, see the module docstring)
    to `f`, a path or a binary file object, as `torch.save(obj, f)`.

    A path that already exists raises FileExistsError unless `overwrite=True`: a checkpoint
    someone saved is never silently replaced.
    """
    arrays: list[np.ndarray] = []
    structure = {"format": _FORMAT, "root": _encode(obj, arrays, "obj")}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(_STRUCTURE, json.dumps(structure))
        for i, array in enumerate(arrays):
            with archive.open(f"arrays/{i}.npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, np.asarray(array), allow_pickle=False)
    data = buffer.getvalue()
    if hasattr(f, "write"):
        f.write(data)
    else:
        write_file(os.fspath(f), data, overwrite=overwrite)


class _Reader:
    """Rebuilds the object from a parsed structure, checking every entry as it goes."""

    def __init__(self, archive: zipfile.ZipFile, source: str):
        self.archive = archive
        self.source = source
        self.names = set(archive.namelist())

    def fail(self, detail: str) -> ValueError:
        return ValueError(f"load: {self.source} is not a valid tinygrad_lite.save file: {detail}")

    def array(self, index) -> np.ndarray:
        name = f"arrays/{index}.npy"
        if isinstance(index, bool) or not isinstance(index, int) or name not in self.names:
            raise self.fail(f"it names an array {index!r} that it does not contain")
        size = self.archive.getinfo(name).file_size
        with self.archive.open(name) as entry:
            try:
                # The header first: an array whose header claims more data than the entry
                # holds is refused before anything that large is allocated.
                major, _ = np.lib.format.read_magic(entry)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if major == 1
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read_header(entry)
                if dtype.hasobject:
                    raise ValueError(f"dtype {dtype} would need pickle")
                claimed = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                if claimed > size:
                    raise ValueError(f"its header claims {claimed} bytes in a {size}-byte entry")
            except ValueError as err:
                raise self.fail(f"array {index}: {err}") from None
        with self.archive.open(name) as entry:
            try:
                array = np.lib.format.read_array(entry, allow_pickle=False)
            except ValueError as err:
                raise self.fail(f"array {index}: {err}") from None
        if array.dtype.kind not in _ARRAY_KINDS:
            raise self.fail(f"array {index} has dtype {array.dtype}")
        return array

    def build(self, node):
        # Recursion over the user's containers (not over a graph): as deep as their dicts.
        if not isinstance(node, dict) or "kind" not in node:
            raise self.fail(f"unexpected entry {str(node)[:80]!r}")
        kind = node["kind"]
        if kind == "json":
            value = node.get("value")
            if value is not None and not isinstance(value, (bool, int, float, str)):
                raise self.fail(f"unexpected value {str(value)[:80]!r}")
            return value
        if kind == "float":
            if node.get("value") not in ("inf", "-inf", "nan"):
                raise self.fail(f"unexpected float {node.get('value')!r}")
            return float(node["value"])
        if kind in ("tensor", "parameter"):
            array = self.array(node.get("array"))
            requires_grad = bool(node.get("requires_grad", False))
            if kind == "parameter":
                from .nn.module import Parameter

                return Parameter(array, requires_grad=requires_grad)
            t = Tensor._wrap(array)
            return t.requires_grad_(True) if requires_grad else t
        if kind == "ndarray":
            return self.array(node.get("array"))
        items = node.get("items")
        if not isinstance(items, list):
            raise self.fail(f"a {kind!r} entry without items")
        if kind == "list":
            return [self.build(v) for v in items]
        if kind == "tuple":
            return tuple(self.build(v) for v in items)
        if kind == "dict":
            out = {}
            for pair in items:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise self.fail("a dict item that is not a [key, value] pair")
                key, value = pair
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise self.fail(f"a dict key {key!r}")
                out[key] = self.build(value)
            return out
        raise self.fail(f"unknown entry kind {kind!r}")


def load(f, map_location=None, *, weights_only: bool | None = None):
    """Read what `save` wrote, from a path or a binary file object, as `torch.load(f)`.

    Only JSON and numpy arrays are parsed (no pickle), so loading never runs code; anything
    else in the file is an error that says so. `map_location` may be None or "cpu" (this engine
    runs on numpy, CPU only); `weights_only` is accepted for torch's spelling: loading is always
    weights-only here.
    """
    if map_location not in (None, "cpu"):
        raise RuntimeError(
            f"load: map_location={map_location!r}: this engine runs on numpy, CPU only; "
            "pass map_location='cpu' or leave it out"
        )
    source = repr(f) if hasattr(f, "read") else repr(os.fspath(f))
    try:
        archive = zipfile.ZipFile(f)
    except zipfile.BadZipFile:
        raise ValueError(
            f"load: {source} is not a file written by tinygrad_lite.save (not a zip archive); "
            "a file written by torch.save cannot be read here: it is a pickle, and loading "
            "a pickle can run code"
        ) from None
    with archive:
        reader = _Reader(archive, source)
        if _STRUCTURE not in reader.names:
            raise reader.fail(f"it has no {_STRUCTURE} entry")
        try:
            structure = json.loads(archive.read(_STRUCTURE).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            raise reader.fail(f"{_STRUCTURE}: {err}") from None
        if not isinstance(structure, dict) or structure.get("format") != _FORMAT:
            raise reader.fail(f"{_STRUCTURE} does not say format {_FORMAT!r}")
        try:
            return reader.build(structure.get("root"))
        except RecursionError:
            raise reader.fail("it is nested too deeply") from None
