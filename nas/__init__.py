"""nas: multi-objective neural architecture search over convolutional networks.

The public API: a :class:`Genome` describes an architecture, :func:`build` makes it a PyTorch
module, :func:`count` prices it exactly without building it, and the spaces registered under
:func:`list_spaces` sample genomes for Optuna.
"""

from __future__ import annotations

from .builder import build
from .cost import Cost, count, min_resolution
from .genome import (
    Bottleneck,
    Conv,
    ConvNeXtBlock,
    Dense,
    DepthwiseSeparable,
    Fire,
    FusedInvertedResidual,
    Genome,
    Head,
    Inception,
    InceptionStep,
    InvertedResidual,
    Norm,
    Pool,
    Residual,
    ShuffleUnit,
    ShuffleV1Unit,
    SqueezeExcite,
    as_genome,
    make_divisible,
)
from .space import Inverse, Space, get_space, list_spaces, register_space

__all__ = [
    "Bottleneck",
    "Conv",
    "ConvNeXtBlock",
    "Cost",
    "Dense",
    "DepthwiseSeparable",
    "Fire",
    "FusedInvertedResidual",
    "Genome",
    "Head",
    "Inception",
    "InceptionStep",
    "InvertedResidual",
    "Inverse",
    "Norm",
    "Pool",
    "Residual",
    "ShuffleUnit",
    "ShuffleV1Unit",
    "Space",
    "SqueezeExcite",
    "as_genome",
    "build",
    "count",
    "get_space",
    "list_spaces",
    "make_divisible",
    "min_resolution",
    "register_space",
]

__version__ = "0.1.0"
