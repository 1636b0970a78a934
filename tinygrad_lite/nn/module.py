"""`Module` and `Parameter`: PyTorch's way of organising weights, on tinygrad-lite tensors.

Parameters and sub-modules register themselves by attribute assignment, in order, so
`named_parameters()` yields PyTorch's names ("0.weight", "lstm.weight_ih_l0") and a state dict
exported from torch loads key for key. Loading is all-or-nothing: every missing, unexpected or
misshaped key is named, and nothing changes unless all of them are right.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from ..errors import ShapeError
from ..tensor import Tensor

__all__ = ["Module", "Parameter", "Sequential", "ModuleList"]


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
        for _, p in self.named_parameters():
            yield p

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
        """Load arrays (numpy, Tensors, or torch tensors) by name. All-or-nothing: with
        `strict=True` any missing or unexpected key fails; a misshaped entry always fails;
        the error names every problem and no parameter is changed."""
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
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        if misshaped:
            problems.append("wrong shapes: " + "; ".join(misshaped))
        if problems:
            raise ShapeError(
                f"load_state_dict({type(self).__name__}): "
                + ", ".join(problems)
                + "; nothing was loaded"
            )
        for k, t in targets.items():
            if k in arrays:
                # A fresh C-ordered copy, as PyTorch's copy_ into the parameter: never an alias
                # of the caller's array, and never the layout of a transposed view (an F-ordered
                # weight doubles the time of some matmuls with it in OpenBLAS).
                t.data = np.array(arrays[k], dtype=t.data.dtype, order="C")
        return {"missing_keys": missing, "unexpected_keys": unexpected}

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write the state dict to `path` (.npz). An existing file is never replaced unless
        `overwrite=True`; the file is written next to the target first and then moved, so an
        interrupted save cannot leave a half-written file where a good one was."""
        path = os.fspath(path)
        if not path.endswith(".npz"):
            raise ValueError(f"save: the file name must end in .npz, got {path!r}")
        if os.path.exists(path) and not overwrite:
            raise FileExistsError(f"save: {path} already exists; pass overwrite=True to replace it")
        tmp = f"{path}.tmp-{os.getpid()}.npz"
        np.savez(tmp, **self.state_dict())
        os.replace(tmp, path)

    def load(self, path: str | os.PathLike, strict: bool = True):
        """Load a state dict saved by `save` (read with allow_pickle=False)."""
        with np.load(os.fspath(path), allow_pickle=False) as data:
            return self.load_state_dict({k: data[k] for k in data.files}, strict=strict)

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


def _to_numpy(value) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.data
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        return value.detach().cpu().numpy()
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
