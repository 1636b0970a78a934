"""Shared pieces of the property tests of the fused recurrent-step ops (test_rnn_cell_op.py,
test_lstm_gates_op.py): both ops take (x_1, ..., x_k, h, w_t[, b]) and differ only in how many
gate blocks w_t has and which activation follows, so the operands are drawn, turned into leaves
and compared with the unfused primitive ops in one place."""

import numpy as np
from hypothesis import strategies as st

from tinygrad_lite import Tensor
from tinygrad_lite.testing import arrays


def draw_step_operands(draw, blocks: int) -> dict:
    """A dict: the number of input parts, whether there is a bias, the operand arrays
    (x_1, ..., x_k, h, w_t[, b]) for `blocks` gate blocks of the hidden size, which of them
    require grad (`flags`, at least one) and whether the step gets `w` (`twin`)."""
    parts = draw(st.integers(1, 2))
    bias = draw(st.booleans())
    batch, hidden = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    widths = [draw(st.integers(1, 3)) for _ in range(parts)]
    operands = [draw(arrays((batch, n))) for n in widths]
    operands.append(draw(arrays((batch, hidden))))
    operands.append(
        draw(arrays((sum(widths) + hidden, blocks * hidden), min_value=-1, max_value=1))
    )
    if bias:
        operands.append(draw(arrays((blocks * hidden,))))
    flags = draw(st.lists(st.booleans(), min_size=len(operands), max_size=len(operands)))
    if not any(flags):
        flags[draw(st.integers(0, len(operands) - 1))] = True
    # Whether the step gets w_t's C-ordered transpose `w` too, as an unrolled layer hands it.
    twin = draw(st.booleans())
    return {"parts": parts, "bias": bias, "arrays": operands, "flags": flags, "twin": twin}


def twin_of(case: dict, w_t) -> np.ndarray | None:
    """The `w` a fused step gets with this case's w_t (a Tensor or an array): its transpose as
    a C-ordered array, or None when the case draws none. Made from w_t's current values, so
    gradcheck's perturbed copies get a matching one."""
    if not case["twin"]:
        return None
    return np.ascontiguousarray(getattr(w_t, "data", w_t).T)


def leaves(case: dict) -> tuple:
    """float64 Tensors of the case's operands, requiring grad where its flags say."""
    return tuple(
        Tensor(np.array(a, dtype=np.float64), requires_grad=flag)
        for a, flag in zip(case["arrays"], case["flags"])
    )


def assert_fused_equals_unfused(fused_fn, unfused_fn, case: dict) -> None:
    """The fused node and the primitive ops give the same values and the same gradient for
    every operand that requires grad (1e-12), under a non-uniform upstream gradient."""
    fused_leaves, unfused_leaves = leaves(case), leaves(case)
    fused = fused_fn(*fused_leaves)
    unfused = unfused_fn(*unfused_leaves)
    np.testing.assert_allclose(fused.data, unfused.data, rtol=1e-12, atol=1e-12)
    weights = np.arange(fused.numel(), dtype=np.float64).reshape(fused.shape) - 1.5
    (fused * Tensor(weights)).sum().backward()
    (unfused * Tensor(weights)).sum().backward()
    for a, b in zip(fused_leaves, unfused_leaves):
        if a.requires_grad:
            np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-12, atol=1e-12)
