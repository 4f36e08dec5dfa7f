"""Checks that a genome is exactly a torchvision network: parameter count, MACs, and logits once
torchvision's parameters and buffers are copied in, in order. Used by the tests and by
``benchmarks/cost.py``; handy to verify a new recipe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from .builder import build
from .cost import count
from .genome import Genome

__all__ = ["Fidelity", "flop_counter_macs", "torchvision_fidelity"]


def flop_counter_macs(model: torch.nn.Module, x: torch.Tensor) -> int:
    """MACs by torch's own counter: ``FlopCounterMode``'s total divided by 2."""
    with FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() // 2


@dataclass(frozen=True)
class Fidelity:
    """A genome against a torchvision builder, at ``resolution``."""

    builder: str
    resolution: int
    params: int  # nas.count
    torchvision_params: int
    macs: int  # nas.count
    torchvision_macs: int  # FlopCounterMode / 2 on torchvision's model
    meta_params: int | None  # weights.meta["num_params"] (default member only)
    meta_gmacs: float | None  # weights.meta["_ops"], published to three decimals
    max_logit_diff: float  # max |ours - theirs| / max |theirs|, eval mode, random input

    @property
    def exact(self) -> bool:
        meta_ok = self.meta_params is None or (
            self.meta_params == self.params and abs(self.macs / 1e9 - self.meta_gmacs) <= 0.0005 + 1e-12)
        return (self.params == self.torchvision_params and self.macs == self.torchvision_macs and meta_ok
                and self.max_logit_diff <= 1e-5)


def torchvision_fidelity(genome: Genome, builder: str, *, logit_resolution: int = 64, seed: int = 0,
                         **kwargs: Any) -> Fidelity:
    """Compare ``genome`` with ``torchvision.models.get_model(builder, **kwargs)``.

    Costs are taken at the crop size of the builder's first weights (when ``kwargs`` is empty, the
    member those weights describe) or 224; logits at ``logit_resolution``, after giving the batch-norm
    layers random statistics and affine parameters, the layer-norm layers random affine parameters and
    ConvNeXt's layer scales (initialised to 1e-6, which would hide its blocks) random values of order 1,
    so that every constant matters.
    """
    from torchvision.models import get_model, get_model_weights

    weights = next(iter(get_model_weights(builder)))
    resolution = weights.transforms().crop_size[0] if not kwargs else 224
    with torch.device("meta"):
        meta_model = get_model(builder, **kwargs)
    theirs_macs = flop_counter_macs(meta_model, torch.empty(1, 3, resolution, resolution, device="meta"))
    theirs_params = sum(p.numel() for p in meta_model.parameters())
    cost = count(genome, resolution=resolution)

    torch.manual_seed(seed)
    reference = get_model(builder, **kwargs).eval()
    for m in reference.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
            torch.nn.init.uniform_(m.bias, -0.2, 0.2)
        elif isinstance(m, torch.nn.LayerNorm):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
            torch.nn.init.uniform_(m.bias, -0.2, 0.2)
        if isinstance(getattr(m, "layer_scale", None), torch.nn.Parameter):
            torch.nn.init.uniform_(m.layer_scale, 0.5, 1.5)
    ours = build(genome).eval()
    src = list(reference.parameters()) + list(reference.buffers())
    dst = list(ours.parameters()) + list(ours.buffers())
    if [t.shape for t in src] != [t.shape for t in dst]:
        diff = float("inf")
    else:
        with torch.no_grad():
            for a, b in zip(src, dst):
                b.copy_(a)
            x = torch.randn(2, 3, logit_resolution, logit_resolution)
            expected, got = reference(x), ours(x)
        diff = ((got - expected).abs().max() / expected.abs().max()).item()
    return Fidelity(
        builder=builder, resolution=resolution, params=cost.params, torchvision_params=theirs_params,
        macs=cost.macs, torchvision_macs=theirs_macs,
        meta_params=None if kwargs else weights.meta["num_params"],
        meta_gmacs=None if kwargs else weights.meta["_ops"], max_logit_diff=diff,
    )
