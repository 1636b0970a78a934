"""Neural-network building blocks with PyTorch's names, shapes and parameter layouts."""

from .module import Module, ModuleList, Parameter, Sequential

__all__ = ["Module", "ModuleList", "Parameter", "Sequential"]
