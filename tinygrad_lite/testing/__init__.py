"""Property-testing helpers: hypothesis strategies for gradient tests (needs `hypothesis`,
installed by the `test` extra).

How to property-test a function of your own
-------------------------------------------
Say which inputs are valid with the strategies, then let `gradcheck` compare the engine's
gradient with central finite differences in float64. Keep inputs away from points where your
function is not smooth (`min_magnitude`, `avoid`), or the finite differences are meaningless
there, not your gradient. Broadcasting deserves its own draw: `broadcastable_shapes` gives
operands that are stretched along missing and size-1 axes, where gradients must be summed back.

>>> import numpy as np
>>> from hypothesis import given, settings, strategies as st
>>> from tinygrad_lite import Tensor
>>> from tinygrad_lite.gradcheck import gradcheck, gradgradcheck
>>> from tinygrad_lite.testing import arrays, broadcastable_shapes
>>> def softplus_ratio(x, y):  # the function under test
...     return (1 + x.exp()).log() / y
>>> @st.composite
... def operands(draw):
...     x_shape, y_shape = draw(broadcastable_shapes(2, max_dims=2, max_side=3))
...     x = draw(arrays(x_shape, min_value=-3, max_value=3))
...     y = draw(arrays(y_shape, min_value=-2, max_value=2, min_magnitude=0.5))
...     return Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
>>> @settings(max_examples=25, deadline=None)
... @given(operands())
... def test_softplus_ratio_gradients(xy):
...     assert gradcheck(softplus_ratio, xy)
...     assert gradgradcheck(softplus_ratio, xy)
>>> test_softplus_ratio_gradients()

`expression_graphs` draws whole random programs over the engine's ops; use it to test code that
consumes graphs (an optimiser pass, a visualiser, another engine compared op by op).
"""

from .strategies import (
    GRAPH_OPS,
    ExpressionGraph,
    GraphOp,
    Step,
    arrays,
    broadcastable_shapes,
    expression_graphs,
)

__all__ = [
    "GRAPH_OPS",
    "ExpressionGraph",
    "GraphOp",
    "Step",
    "arrays",
    "broadcastable_shapes",
    "expression_graphs",
]
