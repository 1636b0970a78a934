"""`Module` and `Parameter`: PyTorch's way of organising weights, on tinygrad-lite tensors.

Parameters and sub-modules register themselves by attribute assignment, in order, so
`named_parameters()` yields PyTorch's names ("0.weight", "lstm.weight_ih_l0") and a state dict
exported from torch loads key for key. Loading is all-or-nothing: every missing, unexpected or
misshaped key is named, and nothing changes unless all of them are right.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from ..errors import DTypeError, ShapeError
from ..safe_io import write_file
from ..tensor import Tensor
from ..value import Value

__all__ = ["LoadStateDictError", "Module", "Parameter", "Sequential", "ModuleList"]


class Parameter(Tensor):
    """A leaf Tensor that a Module registers as a weight (requires_grad by default).

    >>> from tinygrad_lite.nn import Parameter
    >>> p = Parameter([1.0, 2.0])
    >>> p.requires_grad, p.is_leaf
    (True, True)
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, dtype=None, name: str | None = None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def _reject_values(module, name: str, value) -> None:
    """Scalar `Value`s (or lists of them) are not Parameters: registering them silently as
    nothing would train nothing, so say where they belong instead."""
    if isinstance(value, Value) or (
        isinstance(value, (list, tuple)) and any(isinstance(v, Value) for v in value)
    ):
        raise TypeError(
            f"{type(module).__name__}.{name}: nn.Module holds Tensor Parameters, not scalar "
            "Values, so parameters() would not find it; use tinygrad_lite.nn.micro.Module "
            "(micrograd's Module) for a model of Values, or nn.Parameter for a Tensor weight"
        )


class Module:
    """Base class of every layer; subclasses set attributes in `__init__` and define `forward`.

    >>> from tinygrad_lite import nn, randn
    >>> class Tiny(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = nn.Parameter([[1.0], [2.0]])
    ...     def forward(self, x):
    ...         return x @ self.w
    >>> m = Tiny()
    >>> [name for name, _ in m.named_parameters()], m(randn(3, 2)).shape
    (['w'], (3, 1))
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_forward_hooks", [])
        object.__setattr__(self, "training", True)

    # -- registration ---------------------------------------------------------------------

    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        # A plain Tensor assigned to a buffer's name replaces the buffer (PyTorch's rule), so
        # `self.running_mean = new` keeps it in the state dict.
        if name in self._buffers and not isinstance(value, (Parameter, Module)):
            self._buffers[name] = value
            object.__setattr__(self, name, value)
            return
        _reject_values(self, name, value)
        for table in (self._parameters, self._modules, self._buffers):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._modules, self._buffers):
            table.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register `param` under `name` (None keeps the name with no parameter, e.g. bias)."""
        if param is None:
            object.__setattr__(self, name, None)
            self._parameters.pop(name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, value: Tensor) -> None:
        """State that is saved in `state_dict` but not trained (e.g. BatchNorm's running mean)."""
        object.__setattr__(self, name, value)
        self._buffers[name] = value

    def add_module(self, name: str, module: Module) -> None:
        setattr(self, name, module)

    # -- calling --------------------------------------------------------------------------

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        out = self.forward(*args, **kwargs)
        for hook in self._forward_hooks:
            replaced = hook(self, args, out)
            if replaced is not None:
                out = replaced
        return out

    def register_forward_hook(self, hook):
        """Call `hook(module, inputs, output)` after every forward (the summary uses it).
        Returns a handle whose `remove()` unregisters the hook."""
        self._forward_hooks.append(hook)
        hooks = self._forward_hooks

        class _Handle:
            def remove(self_inner) -> None:
                if hook in hooks:
                    hooks.remove(hook)

        return _Handle()

    # -- traversal (iterative, so deep nestings never hit the recursion limit) ------------

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every sub-module, depth first, with dotted names."""
        stack = [(prefix, self)]
        seen: set[int] = set()
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = list(module._modules.items())
            for child_name, child in reversed(children):
                if child is not None:
                    stack.append((f"{name}.{child_name}" if name else child_name, child))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every parameter once, with PyTorch's dotted names, in registration order."""
        seen: set[int] = set()
        for mod_name, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> Iterator[Parameter]:
        found = False
        for _, p in self.named_parameters():
            found = True
            yield p
        if not found:  # never a silent []: Values put into lists after assignment
            for module in self.modules():
                for name, value in vars(module).items():
                    _reject_values(module, name, value)

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        for mod_name, module in self.named_modules():
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def num_parameters(self, convention: str = "pytorch") -> int:
        """Number of trainable scalars. `convention="keras"` counts one bias per gate in the
        recurrent layers (Keras' layout) where PyTorch keeps two (bias_ih and bias_hh)."""
        if convention not in ("pytorch", "keras"):
            raise ValueError(
                f"num_parameters: convention must be 'pytorch' or 'keras', got {convention!r}"
            )
        total = 0
        for _, module in self.named_modules():
            for name, p in module._parameters.items():
                if p is None:
                    continue
                if convention == "keras" and name in module._keras_extra_parameters():
                    continue
                total += p.numel()
        return total

    def _keras_extra_parameters(self) -> set[str]:
        """Names of parameters that Keras' layout of this layer does not have (none here)."""
        return set()

    # -- modes and gradients --------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            p.zero_grad(set_to_none=set_to_none)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def double(self) -> Module:
        """Convert every parameter and buffer to float64 in place (for gradcheck)."""
        return self._cast(np.float64)

    def float(self) -> Module:
        return self._cast(np.float32)

    def _cast(self, dtype) -> Module:
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None
        for _, b in self.named_buffers():
            if b.data.dtype.kind == "f":
                b.data = b.data.astype(dtype)
        return self

    # -- state ----------------------------------------------------------------------------

    def state_dict(self) -> OrderedDict:
        """Parameter and buffer arrays by PyTorch name (copies: later training never changes
        a state dict already taken)."""
        state = OrderedDict((n, p.data.copy()) for n, p in self.named_parameters())
        state.update((n, b.data.copy()) for n, b in self.named_buffers())
        return state

    def load_state_dict(self, state_dict, strict: bool = True):
        """Load arrays (numpy, Tensors, or torch tensors) by name. All-or-nothing: every entry
        is checked before any is assigned, and the error (a `LoadStateDictError`: a
        RuntimeError as in PyTorch, also a ShapeError and a DTypeError) names every problem;
        then no parameter is changed. With `strict=True` a missing or unexpected key fails; a
        misshaped entry always fails; an entry must hold real floating numbers (any float
        width, cast to the parameter's dtype) or the parameter's own dtype (an int64 counter):
        strings, dates, objects, complex, bool and integers into a float parameter are refused.

        >>> from tinygrad_lite import nn
        >>> import numpy as np
        >>> layer = nn.Linear(2, 1)
        >>> layer.load_state_dict({"weight": np.ones((1, 2)), "bias": np.zeros(1)})
        {'missing_keys': [], 'unexpected_keys': []}
        """
        targets = dict(self.named_parameters())
        targets.update(self.named_buffers())
        arrays = {k: _to_numpy(v) for k, v in state_dict.items()}
        missing = [k for k in targets if k not in arrays]
        unexpected = [k for k in arrays if k not in targets]
        misshaped = [
            f"{k}: expected {targets[k].shape}, got {arrays[k].shape}"
            for k in targets
            if k in arrays and arrays[k].shape != targets[k].shape
        ]
        wrong_dtypes = [
            _dtype_problem(k, arrays[k].dtype, targets[k].data.dtype)
            for k in targets
            if k in arrays and not _loads_into(arrays[k].dtype, targets[k].data.dtype)
        ]
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        if misshaped:
            problems.append("wrong shapes: " + "; ".join(misshaped))
        if wrong_dtypes:
            problems.append("wrong dtypes: " + "; ".join(wrong_dtypes))
        if problems:
            raise LoadStateDictError(
                f"load_state_dict({type(self).__name__}): "
                + ", ".join(problems)
                + "; nothing was loaded"
            )
        # Every copy is made before the first assignment, so a failure while copying (memory)
        # also leaves the module as it was.
        # A fresh C-ordered copy, as PyTorch's copy_ into the parameter: never an alias of the
        # caller's array, and never the layout of a transposed view (an F-ordered weight
        # doubles the time of some matmuls with it in OpenBLAS).
        copies = {
            k: np.array(arrays[k], dtype=t.data.dtype, order="C")
            for k, t in targets.items()
            if k in arrays
        }
        for k, data in copies.items():
            targets[k].data = data
        return {"missing_keys": missing, "unexpected_keys": unexpected}

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write the state dict to `path` (.npz, readable by `np.load`). An existing file, or
        one that appears while saving, is never replaced unless `overwrite=True`; the archive
        is published whole (through `tinygrad_lite.safe_io`), so an interrupted save cannot
        leave a half-written file where a good one was. Every name round-trips, even those
        `np.savez` takes for its own arguments ("file", "allow_pickle").

        >>> import os, tempfile
        >>> from tinygrad_lite import nn
        >>> path = os.path.join(tempfile.mkdtemp(), "layer.npz")
        >>> nn.Linear(2, 1).save(path)
        >>> nn.Linear(2, 1).load(path)
        {'missing_keys': [], 'unexpected_keys': []}
        """
        path = os.fspath(path)
        if not path.endswith(".npz"):
            raise ValueError(f"save: the file name must end in .npz, got {path!r}")
        if not overwrite and os.path.lexists(path):  # fail before the work; write_file rechecks
            raise FileExistsError(f"save: {path} already exists; pass overwrite=True to replace it")
        # The arrays themselves, not state_dict()'s copies, and the archive's buffer as a view:
        # saving costs one archive's worth of memory above the model, as np.savez.
        arrays = [(n, p.data) for n, p in self.named_parameters()]
        arrays += [(n, b.data) for n, b in self.named_buffers()]
        archive = _npz_buffer(dict(arrays))
        try:
            write_file(path, archive.getbuffer(), overwrite=overwrite)
        except FileExistsError:
            raise FileExistsError(
                f"save: {path} already exists (it appeared while saving); pass overwrite=True "
                "to replace it"
            ) from None

    def load(self, path: str | os.PathLike, strict: bool = True):
        """Load a state dict saved by `save` (an .npz archive), all-or-nothing as
        `load_state_dict`. Never unpickles (`allow_pickle=False`): a file holding Python objects
        is refused, as is anything that is not an .npz archive, with what it is instead (a
        torch.save file is named as one: load it with torch.load and pass the state dict to
        `load_state_dict`). Each entry is sized from its header first: the data of an entry
        with an unexpected name, shape or dtype is never read, and a dtype that could never
        load is refused from the header (a forged header cannot make it allocate). With
        `strict=False` a member that is not an array (a README) is an unexpected key."""
        path = os.fspath(path)
        _check_npz(path)
        targets = dict(self.named_parameters())
        targets.update(self.named_buffers())
        try:
            arrays = _read_npz(path, targets, strict)
        except zipfile.BadZipFile as err:
            raise ValueError(f"load: {path} is a damaged .npz archive ({err})") from None
        return self.load_state_dict(arrays, strict=strict)

    # -- display --------------------------------------------------------------------------

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        children = list(self.named_children())
        if not children:
            return lines[0] + ")"
        for name, child in children:
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        return "\n".join(lines) + "\n)"


class LoadStateDictError(ShapeError, DTypeError, RuntimeError):
    """What `load_state_dict` raises: every missing, unexpected, misshaped or ill-typed entry,
    in one message. A RuntimeError as PyTorch's, and a ShapeError and a DTypeError so that
    code catching either still does."""


def _loads_into(source: np.dtype, target: np.dtype) -> bool:
    """Real floating numbers load into any parameter (cast to its dtype, as PyTorch's copy_);
    otherwise only the parameter's own dtype (an int64 counter such as num_batches_tracked)."""
    return source.kind == "f" or source == target


def _dtype_problem(key: str, source: np.dtype, target: np.dtype) -> str:
    what = {
        "U": "text",
        "S": "bytes",
        "O": "Python objects",
        "M": "dates",
        "m": "time spans",
        "c": "complex numbers",
        "b": "booleans",
        "V": "raw or structured records",
    }.get(source.kind, "integers" if source.kind in "iu" else source.kind)
    return (
        f"{key!r} holds {what} ({source}), but a {target} entry loads only real floating "
        f"arrays (or {target} itself); convert it first, e.g. "
        f"state[{key!r}].astype(np.{target.name})"
    )


def _npz_buffer(state: dict) -> io.BytesIO:
    """An .npz archive as np.savez writes it (one `key.npy` member per array, stored), with
    the keys as given: np.savez takes them as keyword arguments, which drops "allow_pickle"
    and fails on "file"."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, array in state.items():
            if "\0" in key:  # a zip member name ends at a NUL: the key would come back cut
                raise ValueError(
                    f"save: the name {key!r} contains a NUL character, which an .npz archive "
                    "cannot hold; rename the parameter"
                )
            with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    return buffer


def _check_npz(path: str) -> None:
    """Say what a file is when it is not the .npz archive `load` expects (np.load would
    return a bare array for a .npy file, or take unknown bytes for a pickle)."""
    # O_NONBLOCK: a FIFO (or a device) must not make load wait for a writer; it is refused.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(f"load: {path} is a folder; give the .npz file itself")
        if not stat.S_ISREG(mode):
            raise ValueError(f"load: {path} is not a regular file; give the .npz file itself")
        start = os.read(fd, 8)
    finally:
        os.close(fd)
    if start.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return
    if start.startswith(b"\x93NUMPY"):
        raise ValueError(
            f"load: {path} is a .npy file (one array, as np.save writes); Module.load expects "
            "an .npz archive of named arrays, as Module.save writes (load one array with np.load "
            "and pass {name: array} to load_state_dict)"
        )
    raise ValueError(
        f"load: {path} is not an .npz archive (it does not start like a zip file); Module.load "
        "reads the .npz archives Module.save writes, and never unpickles"
    )


def _read_npz(path: str, targets: dict, strict: bool = True) -> dict:
    """The entries of an .npz archive that can load into `targets`, read; the others sized
    from their headers only, never read. An entry with a wanted name but a shape that does not
    fit stands in as a zero-strided view of one element (its dtype is a float of at most 16
    bytes by then, so that costs nothing); one with an unexpected name as an empty array; the
    dtypes that could never load (text, records, integers into a float parameter...) are
    refused from the header, with every such entry named, before anything is allocated."""
    arrays = {}
    wrong_dtypes = []
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        if any(i.filename == "data.pkl" or i.filename.endswith("/data.pkl") for i in infos):
            raise ValueError(
                f"load: {path} is a PyTorch file (torch.save), which Module.load never "
                "unpickles; load it with torch.load(path) and pass the state dict to "
                "load_state_dict"
            )
        for info in infos:
            name = info.filename
            if not name.endswith(".npy") and not strict:
                arrays[name] = _UNREAD  # not an array (a README...): an unexpected key
                continue
            key = name[:-4] if name.endswith(".npy") else name
            target = targets.get(key)
            if target is None:
                arrays[key] = _UNREAD  # named in unexpected_keys; its data are never needed
                continue
            with archive.open(info) as member:
                dtype, shape = _npy_member_header(member, path, key)
            if any(d < 0 for d in shape):
                raise ValueError(f"load: {path}: the entry {key!r} has an invalid shape {shape}")
            if not _header_loads_into(dtype, target.data.dtype):
                wrong_dtypes.append(_dtype_problem(key, dtype, target.data.dtype))
                continue
            if target.shape != shape:
                # Its name, shape and dtype are all load_state_dict needs to refuse it.
                arrays[key] = np.broadcast_to(np.zeros((), dtype), shape)
                continue
            with archive.open(info) as member:
                try:
                    arrays[key] = np.lib.format.read_array(member, allow_pickle=False)
                except (ValueError, EOFError) as err:
                    raise ValueError(f"load: {path}: the entry {key!r}: {err}") from None
    if wrong_dtypes:
        raise LoadStateDictError(
            f"load: {path}: wrong dtypes: " + "; ".join(wrong_dtypes) + "; nothing was loaded"
        )
    return arrays


# What an entry that is never read stands for (an unexpected key): no data, no cost.
_UNREAD = np.empty(0)


def _header_loads_into(source: np.dtype, target: np.dtype) -> bool:
    """`_loads_into`, for a dtype read from a header (which may be forged): a float of at most
    16 bytes (float128), or the parameter's own dtype."""
    return (source.kind == "f" and source.itemsize <= 16) or source == target


def _npy_member_header(member, path: str, key: str) -> tuple[np.dtype, tuple]:
    """(dtype, shape) of one archive entry from its .npy header (parsed by numpy without
    running code); object arrays are refused here, before anything could unpickle them."""
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"version {version} (structured arrays) is not loadable")
    except ValueError as err:
        raise ValueError(f"load: {path}: the entry {key!r} is not a .npy array ({err})") from None
    if dtype.hasobject:
        raise ValueError(
            f"load: {path}: the entry {key!r} holds Python objects, which are never unpickled "
            "(allow_pickle=False); save plain numeric arrays"
        )
    return dtype, tuple(int(d) for d in shape)


def _to_numpy(value) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.data
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":  # numpy has no bfloat16; torch's copy_ casts
            value = value.float()
        return value.numpy()
    return np.asarray(value)


class _ModuleSequence(Module):
    """Sub-modules registered as "0", "1", ...: indexing, len() and iteration in that order."""

    def __getitem__(self, index: int) -> Module:
        return list(self._modules.values())[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(_ModuleSequence):
    """Modules applied one after another, named "0", "1", ... as in PyTorch.

    >>> from tinygrad_lite import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    >>> [n for n, _ in model.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(_ModuleSequence):
    """A list of sub-modules, registered as "0", "1", ..."""

    def __init__(self, modules=()) -> None:
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        setattr(self, str(len(self._modules)), module)
        return self
