"""nas: multi-objective neural architecture search over convolutional networks.

The public API: a :class:`Genome` describes an architecture, :func:`build` makes it a PyTorch
module, :func:`count` prices it exactly without building it, and the spaces registered under
:func:`list_spaces` sample genomes for Optuna.
"""

from __future__ import annotations

import sys
import warnings


def _import_tqdm_auto_quietly() -> None:
    """Optuna imports ``tqdm.auto`` when it is imported (``optuna.progress_bar``). In a Jupyter kernel
    without ipywidgets that import warns "TqdmWarning: IProgress not found ..." into the first cell that
    imports ``nas.study`` (or anything else of nas that imports optuna), though nas never draws optuna's
    bars. Importing it first here, with that one warning silenced, keeps notebook outputs clean; tqdm
    then falls back to its text bar, as it would anyway. Outside Jupyter this does nothing."""
    if "ipykernel.zmqshell" not in sys.modules or "tqdm.auto" in sys.modules:
        return
    from tqdm.std import TqdmWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)
        import tqdm.auto  # noqa: F401


_import_tqdm_auto_quietly()

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
