"""Shared helpers: a generator of random genomes that exercises every gene of the grammar."""

from __future__ import annotations

import random

import pytest
import torch

import nas
from nas.fidelity import flop_counter_macs
from nas.genome import ACTIVATIONS, GATES

CHANNELS = (8, 16, 24, 32)


def random_genome(rng: random.Random, *, max_blocks: int = 5, acts: tuple[str, ...] = ACTIVATIONS,
                  norm: nas.Norm | None = None, se: bool = True) -> nas.Genome:
    """A random valid genome using every block kind, kernel 1/3/5/7, separable kernels, strides,
    dilations, groups (depthwise included), every norm, activation and gate, and every head option."""
    if norm is None:
        norm = rng.choice([nas.Norm(), nas.Norm(eps=1e-3, momentum=0.01), nas.Norm(kind="group", groups=4),
                           nas.Norm(kind="layer"), nas.Norm(kind="instance"), nas.Norm(kind="none")])
    blocks = []
    channels = 3
    for i in range(rng.randint(1, max_blocks)):
        kind = "conv" if i == 0 else rng.choice(["conv", "ds", "ir"])
        out = rng.choice(CHANNELS)
        spatial = dict(kernel=rng.choice([1, 3, 5, 7]), stride=rng.choice([1, 1, 2]), dilation=rng.choice([1, 1, 2]),
                       separable=rng.random() < 0.3, act=rng.choice(acts))
        if kind == "conv":
            groups = 1 if i == 0 else rng.choice([g for g in (1, 2, 4, 8, channels) if channels % g == 0 and out % g == 0])
            blocks.append(nas.Conv(out=out, groups=groups, **spatial))
        elif kind == "ds":
            blocks.append(nas.DepthwiseSeparable(out=out, **spatial))
        else:
            expanded = rng.choice([channels, channels * 2, channels * 4, 40])
            squeeze = None
            if se and rng.random() < 0.5:
                squeeze = nas.SqueezeExcite(rng.choice([1, 4, 8]), rng.choice(acts), rng.choice(GATES))
            if rng.random() < 0.5:  # make the residual path likely
                out, spatial["stride"] = channels, 1
            blocks.append(nas.InvertedResidual(out=out, expanded=expanded, se=squeeze, **spatial))
        channels = out
    head = nas.Head(width=rng.choice([0, 16, 64]), act=rng.choice(acts), hidden=rng.choice([0, 24]),
                    hidden_act=rng.choice(acts), dropout=rng.choice([0.0, 0.2]))
    return nas.Genome(blocks=tuple(blocks), head=head, norm=norm, drop_path=rng.choice([0.0, 0.1]))


flop_count_macs = flop_counter_macs


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture
def rng() -> random.Random:
    return random.Random(0)
