"""viz: drawings of tinygrad-lite graphs. Reads the engine only through
`tinygrad_lite.graph.export_graph`.

>>> from tinygrad_lite import Value
>>> import viz
>>> viz.draw(Value(1.0) + 2).source.count("->")
3
"""

from .dot import Drawing, draw, save, to_dot
from .flow import GradientFlow, gradient_flow
from .frames import BPTTFrames, Frame, bptt_frames, save_frames
from .html import Stepper, save_stepper, stepper_html
from .unrolled import UnrolledDrawing, UnrolledLayout, draw_unrolled, layout_unrolled

__all__ = ["Drawing", "draw", "save", "to_dot"]
__all__ += ["GradientFlow", "gradient_flow"]
__all__ += ["UnrolledDrawing", "UnrolledLayout", "draw_unrolled", "layout_unrolled"]
__all__ += ["BPTTFrames", "Frame", "Stepper", "bptt_frames", "save_frames", "save_stepper"]
__all__ += ["stepper_html"]
