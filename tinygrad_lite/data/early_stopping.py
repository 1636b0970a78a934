"""Early stopping: watch a validation metric, stop after `patience` epochs without improvement,
and put back the weights of the best epoch (a copy of its state dict is kept in memory).
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict

__all__ = ["EarlyStopping"]


class EarlyStopping:
    """Track the best value of a metric and say when to stop.

    An epoch improves on the best if its metric is lower by more than `min_delta` (mode "min")
    or higher by more than `min_delta` (mode "max"); NaN never improves. `step` returns True
    once `patience` epochs in a row have not improved. With `restore_best_weights` the best
    epoch's state dict is copied, and `restore(model)` loads it back.

    >>> from tinygrad_lite import nn
    >>> class Scalar(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = nn.Parameter([0.0])
    >>> model, stopper = Scalar(), EarlyStopping(patience=1)
    >>> for epoch, loss in enumerate([3.0, 1.0, 2.0, 2.5]):
    ...     model.w.data[:] = epoch
    ...     if stopper.step(loss, model):
    ...         break
    >>> epoch, stopper.best, stopper.best_epoch
    (2, 1.0, 1)
    >>> stopper.restore(model), model.w.tolist()
    (True, [1.0])
    """

    def __init__(
        self,
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "min",
        restore_best_weights: bool = True,
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        if patience < 0 or min_delta < 0:
            raise ValueError(
                f"EarlyStopping: patience ({patience}) and min_delta ({min_delta}) must be >= 0"
            )
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.mode = mode
        self.restore_best_weights = restore_best_weights
        self.reset()

    def reset(self) -> None:
        """Forget everything seen so far (to reuse the object for another run)."""
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.best_state: OrderedDict | None = None
        self.num_bad_epochs = 0
        self.epoch = -1
        self.should_stop = False

    def is_improvement(self, metric: float) -> bool:
        """Whether `metric` beats the best so far by more than `min_delta`."""
        if math.isnan(metric):
            return False
        if self.mode == "min":
            return metric < self.best - self.min_delta
        return metric > self.best + self.min_delta

    def step(self, metric: float, model=None) -> bool:
        """Record one epoch's metric (and the model's weights if it is the best); return
        True when training should stop."""
        metric = float(metric)
        self.epoch += 1
        if self.is_improvement(metric):
            self.best, self.best_epoch, self.num_bad_epochs = metric, self.epoch, 0
            if self.restore_best_weights and model is not None:
                # state_dict already copies; deepcopy also protects against a model whose
                # state_dict returns views.
                self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.num_bad_epochs += 1
        self.should_stop = self.num_bad_epochs >= self.patience
        return self.should_stop

    __call__ = step

    def restore(self, model) -> bool:
        """Load the best epoch's weights into `model`; False if none were kept."""
        if self.best_state is None:
            return False
        model.load_state_dict(self.best_state)
        return True
