"""Error types. Each message names the op, the shapes involved and the fix, because the person
reading it is usually a student in the middle of an exercise, not a debugger user."""

from __future__ import annotations

__all__ = ["AnomalyError", "DTypeError", "GraphFreedError", "ShapeError"]


class ShapeError(ValueError, RuntimeError):
    """Operand shapes that the op cannot combine (broadcasting, matmul, reshape, layers).

    Also a RuntimeError, which is what PyTorch raises for these, so `except RuntimeError`
    written for PyTorch catches it; `except ValueError` keeps working."""


class DTypeError(TypeError, RuntimeError):
    """A dtype the op cannot take (e.g. requires_grad on an integer tensor); also a
    RuntimeError, as PyTorch raises for a dtype mismatch."""


class GraphFreedError(RuntimeError):
    """A second backward through a graph that the first backward already freed."""


class AnomalyError(RuntimeError):
    """Raised inside `detect_anomaly()` by the first op that produces NaN or Inf."""
