"""`tinygrad_lite.nn.utils`: gradient clipping where PyTorch users look for it
(`torch.nn.utils.clip_grad_norm_`); the implementation lives in `tinygrad_lite.optim.clip`.

>>> from tinygrad_lite.nn.utils import clip_grad_norm_, clip_grad_value_
>>> callable(clip_grad_norm_) and callable(clip_grad_value_)
True
"""

from ..optim.clip import (
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]
