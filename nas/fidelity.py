"""Checks that a genome is exactly a torchvision network: parameter count, MACs, and logits once
torchvision's parameters and buffers are copied in, in order. Used by the tests and by
``benchmarks/cost.py``; handy to verify a new recipe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from .builder import build
from .cost import count, min_resolution
from .genome import Genome

__all__ = ["PUBLISHED_KWARGS", "Fidelity", "describes_published", "flop_counter_macs", "torchvision_fidelity"]

# builder kwargs that leave the network of the published weights unchanged in eval mode, so that the
# weights' metadata still describes it: the initialisation; the input re-normalisation of GoogLeNet and
# Inception-v3 (a per-channel affine map: no parameters, no MACs); and their auxiliary classifiers, which
# run only in training (no MACs in eval) but hold parameters, which torchvision's googlenet drops when it
# loads the weights and its inception_v3 keeps: ``Fidelity.aux_params`` counts them.
PUBLISHED_KWARGS: dict[str, Any] = {"aux_logits": False, "init_weights": False, "transform_input": False}


def describes_published(kwargs: dict[str, Any]) -> bool:
    """Whether ``get_model(builder, **kwargs)`` is the network the builder's published weights describe
    (up to the auxiliary classifiers, see :data:`PUBLISHED_KWARGS`)."""
    return all(key in PUBLISHED_KWARGS and value == PUBLISHED_KWARGS[key] for key, value in kwargs.items())


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
    meta_params: int | None  # weights.meta["num_params"] (published member only, describes_published)
    meta_gmacs: float | None  # weights.meta["_ops"], published to three decimals
    max_logit_diff: float  # max |ours - theirs| / max |theirs|, eval mode, random input
    aux_params: int = 0  # parameters of torchvision's auxiliary classifiers that aux_logits=False left out

    @property
    def exact(self) -> bool:
        # the published count is that of the network with or without the auxiliary classifiers (see
        # PUBLISHED_KWARGS); the tests say which for each builder
        meta_ok = self.meta_params is None or (
            self.meta_params in (self.params, self.params + self.aux_params)
            and abs(self.macs / 1e9 - self.meta_gmacs) <= 0.0005 + 1e-12)
        return (self.params == self.torchvision_params and self.macs == self.torchvision_macs and meta_ok
                and self.max_logit_diff <= 1e-5)


def torchvision_fidelity(genome: Genome, builder: str, *, logit_resolution: int = 64, seed: int = 0,
                         **kwargs: Any) -> Fidelity:
    """Compare ``genome`` with ``torchvision.models.get_model(builder, **kwargs)``.

    Costs are taken at the crop size of the builder's first weights (when ``kwargs`` leave the member
    those weights describe, :func:`describes_published`) or 224; logits at ``logit_resolution`` (or the
    smallest input the network takes, when larger: Inception-v3's 75), after giving the batch-norm
    layers random statistics and affine parameters, the layer-norm layers random affine parameters and
    ConvNeXt's layer scales (initialised to 1e-6, which would hide its blocks) random values of order 1,
    so that every constant matters.
    """
    from torchvision.models import get_model, get_model_weights

    weights = next(iter(get_model_weights(builder)))
    published = describes_published(kwargs)
    resolution = weights.transforms().crop_size[0] if published else 224

    torch.manual_seed(seed)
    reference = get_model(builder, **kwargs).eval()
    theirs_params = sum(p.numel() for p in reference.parameters())
    # torch's count at the weights' crop, on data-less copies of the tensors (the largest networks cost
    # hundreds of GMACs there: counted, not computed)
    state = {name: torch.empty_like(t, device="meta") for name, t in
             [*reference.named_parameters(), *reference.named_buffers()]}
    with FlopCounterMode(display=False) as counter:
        torch.func.functional_call(reference, state, (torch.empty(1, 3, resolution, resolution, device="meta"),))
    theirs_macs = counter.get_total_flops() // 2
    aux_params = 0
    if kwargs.get("aux_logits") is False:
        with torch.device("meta"):
            with_aux = get_model(builder, **{**kwargs, "aux_logits": True})
        aux_params = sum(p.numel() for p in with_aux.parameters()) - theirs_params
    cost = count(genome, resolution=resolution)
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
    with torch.device("meta"):  # every tensor is copied from torchvision's below: no initialisation to pay for
        ours = build(genome).eval()
    ours = ours.to_empty(device="cpu")
    src = list(reference.parameters()) + list(reference.buffers())
    dst = list(ours.parameters()) + list(ours.buffers())
    if [t.shape for t in src] != [t.shape for t in dst]:
        diff = float("inf")
    else:
        with torch.no_grad():
            for a, b in zip(src, dst):
                b.copy_(a)
            side = max(logit_resolution, min_resolution(genome))  # Inception-v3 needs 75
            x = torch.randn(2, 3, side, side)
            expected, got = reference(x), ours(x)
        diff = ((got - expected).abs().max() / expected.abs().max()).item()
    return Fidelity(
        builder=builder, resolution=resolution, params=cost.params, torchvision_params=theirs_params,
        macs=cost.macs, torchvision_macs=theirs_macs,
        meta_params=weights.meta["num_params"] if published else None,
        meta_gmacs=weights.meta["_ops"] if published else None, max_logit_diff=diff, aux_params=aux_params,
    )
