"""First-order optimizers with PyTorch's update rules, defaults, names and state layout.

Each optimizer updates `param.data` in place from `param.grad`, outside the graph: an update is
bookkeeping, not a computation to differentiate, so nothing is recorded whatever the grad mode.
State keys ("momentum_buffer", "exp_avg", "sum", ...) match `torch.optim`, so a state dict moves
between the two with its meaning intact.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd import enable_grad
from ..tensor import Tensor
from ..versioning import mark_modified

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adadelta"]


def _array(value) -> np.ndarray:
    """A numpy copy of a state entry (ours are arrays; torch's are tensors)."""
    if isinstance(value, Tensor):
        return value.data.copy()
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        return value.detach().cpu().numpy().copy()
    return np.array(value, copy=True)


class Optimizer:
    """Base class: parameter groups, per-parameter state, `zero_grad`, `step`, state dicts.

    Subclasses set their defaults and implement `_update(group, param, grad, state)`, which
    changes `param.data` in place.

    >>> from tinygrad_lite import Tensor
    >>> from tinygrad_lite.optim import SGD
    >>> w = Tensor([1.0, 2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w.tolist()
    [0.0, 0.0]
    """

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        if isinstance(params, Tensor):
            raise TypeError(
                f"{self._name}: params must be an iterable of Tensors or of dicts, got a single "
                "Tensor; wrap it in a list: [tensor]"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (missing ones take the
        optimizer's defaults), e.g. a smaller learning rate for a pretrained layer."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a param group must be a dict, got {param_group!r}")
        group = dict(param_group)
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name}: can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(
                    f"{self._name}: can't optimize a non-leaf Tensor (op '{p.op}'); optimize "
                    "the leaves it was computed from, or .detach().requires_grad_() it"
                )
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError(
                f"{self._name}: some parameters appear more than once (in this group or in "
                "another); give each parameter to exactly one group"
            )
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Reject hyperparameters PyTorch rejects, naming the optimizer and the value."""
        for key in ("lr", "eps", "weight_decay", "momentum", "lr_decay"):
            if key in group and group[key] < 0:
                raise ValueError(f"{self._name}: invalid {key} {group[key]} (must be >= 0)")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (None by default, zeros if set_to_none=False)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.zero_grad(set_to_none=set_to_none)

    def step(self, closure: Callable[[], Any] | None = None):
        """Apply one update to every parameter that has a gradient. `closure`, if given,
        re-evaluates the loss (with gradients recorded) and its value is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.data
                if group.get("maximize", False):
                    grad = -grad
                self._update(group, p, grad, self.state.setdefault(p, {}))
                mark_modified(p, f"{self._name}.step()")  # as PyTorch's in-place update
        return loss

    def _update(self, group, param: Tensor, grad: np.ndarray, state: dict[str, Any]) -> None:
        raise NotImplementedError(f"{self._name} must define _update()")

    # -- state dicts (PyTorch's layout: parameters are numbered across groups) -------------

    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {name: array}}, "param_groups": [{..., "params": [index]}]}, with
        copies, so later steps never change a state dict already taken."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index[id(p)] = len(index)
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {
            index[id(p)]: {k: copy.deepcopy(v) for k, v in s.items()}
            for p, s in self.state.items()
            if id(p) in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by `state_dict` (ours or torch's). The
        groups must have the same sizes as this optimizer's; nothing changes on a mismatch."""
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ValueError(
                f"{self._name}.load_state_dict: the state dict has {len(saved)} param groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        sizes = [len(g["params"]) for g in self.param_groups]
        saved_sizes = [len(g["params"]) for g in saved]
        if sizes != saved_sizes:
            raise ValueError(
                f"{self._name}.load_state_dict: group sizes {saved_sizes} in the state dict do "
                f"not match this optimizer's {sizes}"
            )
        by_index = {}
        for group, saved_group in zip(self.param_groups, saved):
            for p, i in zip(group["params"], saved_group["params"]):
                by_index[i] = p
        new_state: dict[Tensor, dict[str, Any]] = {}
        for i, entries in state_dict["state"].items():
            p = by_index[int(i)]
            new_state[p] = {}
            for k, v in entries.items():
                if k == "step":
                    new_state[p][k] = int(float(_array(v)))
                else:
                    arr = _array(v)
                    if arr.shape != p.shape:
                        raise ValueError(
                            f"{self._name}.load_state_dict: state '{k}' of parameter {i} has "
                            f"shape {arr.shape}, the parameter has shape {p.shape}"
                        )
                    new_state[p][k] = arr.astype(p.data.dtype)
        for group, saved_group in zip(self.param_groups, saved):
            for k, v in saved_group.items():
                if k != "params":
                    group[k] = copy.deepcopy(v)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        return "\n".join(lines) + "\n)"


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay,
    as `torch.optim.SGD`: g += wd*p; b = mu*b + (1-dampening)*g (b = g on the first step);
    g = g + mu*b (Nesterov) or b; p -= lr*g.

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([1.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
    >>> round(w.item(), 4)  # 1 - 0.2 = 0.8, then 0.8 - 0.1*(0.9*2 + 1.6) = 0.46
    0.46
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _update(self, group, param, grad, state) -> None:
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param.data
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # PyTorch starts the buffer at the first gradient, undamped.
                buf = state["momentum_buffer"] = np.array(grad, dtype=param.data.dtype)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param.data -= group["lr"] * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, L2 weight decay added to the gradient, and the
    AMSGrad variant, as `torch.optim.Adam`:
    m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
    p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([1.0, -1.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()  # the first Adam step moves each coordinate by about lr
    >>> [round(x, 4) for x in w.tolist()]
    [0.9, -0.9]
    """

    _decoupled = False

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(
                    f"{type(self).__name__}: invalid beta parameter at index {i}: {beta} "
                    "(must be in [0, 1))"
                )
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _update(self, group, param, grad, state) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        wd = group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param.data)
            state["exp_avg_sq"] = np.zeros_like(param.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param.data)
        state["step"] += 1
        step = state["step"]
        if wd != 0:
            if self._decoupled:
                param.data *= 1 - lr * wd  # AdamW: decay the weights, not the gradient
            else:
                grad = grad + wd * param.data
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - beta1) * (grad - m)  # m = b1*m + (1-b1)*g, written as PyTorch's lerp
        v *= beta2
        v += (1 - beta2) * grad * grad
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = math.sqrt(1 - beta2**step)
        if group["amsgrad"]:
            # AMSGrad keeps the running maximum of v, so the step size never grows back.
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        denom = np.sqrt(v) / bias_correction2_sqrt + eps
        param.data -= (lr / bias_correction1) * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as `torch.optim.AdamW`:
    p *= 1 - lr*wd before the Adam step; the decay never enters the moment estimates.

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([2.0], requires_grad=True)
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = Tensor([0.0])
    >>> opt.step()  # zero gradient: only the decay acts, 2 * (1 - 0.05)
    >>> round(w.item(), 4)
    1.9
    """

    _decoupled = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)


class Adagrad(Optimizer):
    """Adagrad, as `torch.optim.Adagrad`: g += wd*p; s += g^2;
    p -= lr/(1 + (t-1)*lr_decay) * g / (sqrt(s) + eps), with s starting at
    `initial_accumulator_value`.

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([3.0], requires_grad=True)
    >>> opt = Adagrad([w], lr=0.5)
    >>> w.grad = Tensor([2.0])
    >>> opt.step()  # 3 - 0.5 * 2 / sqrt(4)
    >>> round(w.item(), 4)
    2.5
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        if initial_accumulator_value < 0:
            raise ValueError(
                f"Adagrad: invalid initial_accumulator_value {initial_accumulator_value} "
                "(must be >= 0)"
            )
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=maximize,
        )
        super().__init__(params, defaults)
        # PyTorch fills the accumulator at construction, so it appears in the state dict at once.
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = {
                    "step": 0,
                    "sum": np.full_like(p.data, group["initial_accumulator_value"]),
                }

    def _update(self, group, param, grad, state) -> None:
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(param.data, group["initial_accumulator_value"])
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param.data
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        param.data -= clr * grad / (np.sqrt(state["sum"]) + group["eps"])


class RMSprop(Optimizer):
    """RMSprop, as `torch.optim.RMSprop`: v = alpha*v + (1-alpha)*g^2; with `centered` the
    running mean of g is subtracted (v - mean^2); the step g/(sqrt(.) + eps) goes through a
    momentum buffer when momentum > 0.

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([1.0], requires_grad=True)
    >>> opt = RMSprop([w], lr=0.01, alpha=0.0, eps=0.0)
    >>> w.grad = Tensor([5.0])
    >>> opt.step()  # with alpha=0 the step is lr * g / |g|
    >>> round(w.item(), 4)
    0.99
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        if alpha < 0:
            raise ValueError(f"RMSprop: invalid alpha {alpha} (must be >= 0)")
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _update(self, group, param, grad, state) -> None:
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param.data)
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(param.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(param.data)
        state["step"] += 1
        alpha = group["alpha"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param.data
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (1 - alpha) * (grad - grad_avg)
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg = avg + group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += grad / avg
            param.data -= group["lr"] * buf
        else:
            param.data -= group["lr"] * grad / avg


class Adadelta(Optimizer):
    """Adadelta (Zeiler), as `torch.optim.Adadelta`: v = rho*v + (1-rho)*g^2;
    d = sqrt(u + eps)/sqrt(v + eps) * g; u = rho*u + (1-rho)*d^2; p -= lr*d.

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([1.0], requires_grad=True, dtype="float64")
    >>> opt = Adadelta([w], rho=0.0, eps=1e-6)
    >>> w.grad = Tensor([1.0], dtype="float64")
    >>> opt.step()  # rho=0: d = sqrt(1e-6)/sqrt(1 + 1e-6) * 1, about 1e-3
    >>> round(1.0 - w.item(), 6)
    0.001
    """

    def __init__(
        self,
        params,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: invalid rho {rho} (must be in [0, 1])")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, group, param, grad, state) -> None:
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param.data)
            state["acc_delta"] = np.zeros_like(param.data)
        state["step"] += 1
        rho, eps = group["rho"], group["eps"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param.data
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        param.data -= group["lr"] * delta
