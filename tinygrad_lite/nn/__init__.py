"""Neural-network building blocks with PyTorch's names, shapes and parameter layouts."""

from . import functional, init, micro, utils
from .activations import (
    ELU,
    GELU,
    CosineSimilarity,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    ReLU6,
    SiLU,
    Softplus,
)
from .conv import AvgPool2d, Conv1d, Conv2d, MaxPool2d
from .layers import (
    Dropout,
    Embedding,
    Flatten,
    Identity,
    Linear,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from .module import Module, ModuleList, Parameter, Sequential
from .norm import BatchNorm1d, LayerNorm
from .recurrent import GRU, LSTM, RNN, JordanRNN
from .rnn_cells import GRUCell, JordanRNNCell, LSTMCell, RNNCell

__all__ = ["Module", "ModuleList", "Parameter", "Sequential"]
# Layers, convolutions, normalisation, losses (nn/layers.py, conv.py, norm.py, losses.py).
__all__ += ["AvgPool2d", "BatchNorm1d", "Conv1d", "Conv2d", "Dropout", "Embedding", "Flatten"]
__all__ += ["Identity", "LayerNorm", "Linear", "LogSoftmax", "MaxPool2d", "ReLU", "Sigmoid"]
__all__ += ["Softmax", "Tanh", "functional", "init"]
__all__ += ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "L1Loss", "MSELoss", "NLLLoss"]
# Recurrent layers (nn/recurrent.py, nn/rnn_cells.py).
__all__ += ["GRU", "GRUCell", "JordanRNN", "JordanRNNCell", "LSTM", "LSTMCell", "RNN", "RNNCell"]
# Activations and losses from nn.functional's second batch (nn/activations.py, losses.py).
__all__ += ["CosineSimilarity", "ELU", "GELU", "Hardtanh", "LeakyReLU", "LogSigmoid", "ReLU6"]
__all__ += ["SiLU", "Softplus", "HuberLoss", "SmoothL1Loss"]
