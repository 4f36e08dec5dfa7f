"""The ``convnext`` space: ConvNeXt networks (Liu et al., "A ConvNet for the 2020s", CVPR 2022).

A network follows torchvision's ConvNeXt template: a "patchify" stem (a 4×4 stride-4 convolution with a
bias, then layer normalisation over the channels), four stages of ConvNeXt blocks (depthwise k×k
convolution, LayerNorm, inverted bottleneck of two linear layers with GELU, layer scale initialised to
1e-6, residual addition), a downsampling layer between stages (LayerNorm, then a 2×2 stride-2
convolution with a bias), and a head: global average pooling, LayerNorm, the linear classifier. Every
LayerNorm normalises over the channels with eps 1e-6. Stochastic depth follows ConvNeXt's rule: block i
of the n blocks is dropped with probability ``sd * i / (n - 1)``. In the genome grammar (ConvNeXt-T)::

    net_ln2d_eps1e-06_sd0.1_sdlast conv_k4_s4_p0_c96_bias_none cnx_k7_c96_x384_gelu*3
    conv_k2_s2_c192_pre_bias_none cnx_k7_c192_x768_gelu*3 conv_k2_s2_c384_pre_bias_none cnx_k7_c384_x1536_gelu*9
    conv_k2_s2_c768_pre_bias_none cnx_k7_c768_x3072_gelu*3 head_pnorm

Dimensions: per stage its depth, width, the kernel of its depthwise convolutions (the paper's Section
2.5 tries 3 to 11 and keeps 7) and its expansion ratio (the paper's inverted bottleneck is 4×); the
stochastic-depth rate; and one activation (the paper's GELU, or the ReLU it replaced). The choices
contain every value torchvision's four members use, so that all of them are points of the space.

References (torchvision's builders, reproduced parameter for parameter; the paper's Table 1 gives the
ImageNet-1K models at 224×224):

* ``convnext_tiny`` -- C = (96, 192, 384, 768), B = (3, 3, 9, 3), 28M parameters, 4.5 GFLOPs
  (multiply-adds); stochastic depth 0.1.
* ``convnext_small`` -- C = (96, 192, 384, 768), B = (3, 3, 27, 3), 50M, 8.7G; stochastic depth 0.4.
* ``convnext_base`` -- C = (128, 256, 512, 1024), B = (3, 3, 27, 3), 89M, 15.4G; stochastic depth 0.5.
* ``convnext_large`` -- C = (192, 384, 768, 1536), B = (3, 3, 27, 3), 198M, 34.4G; stochastic depth 0.5.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nas import Conv, ConvNeXtBlock, Genome, Head, Inverse, Norm, Space, register_space

__all__ = ["CONVNEXT", "ConvNeXtSpace", "ConvNeXtStage", "convnext"]

# ----------------------------------------------------------------------------------------------
# recipes: torchvision's ConvNeXt family as genomes

#: torchvision's members: name -> (blocks per stage, channels per stage, stochastic_depth_prob)
CONVNEXT: dict[str, tuple[tuple[int, ...], tuple[int, ...], float]] = {
    "convnext_tiny": ((3, 3, 9, 3), (96, 192, 384, 768), 0.1),
    "convnext_small": ((3, 3, 27, 3), (96, 192, 384, 768), 0.4),
    "convnext_base": ((3, 3, 27, 3), (128, 256, 512, 1024), 0.5),
    "convnext_large": ((3, 3, 27, 3), (192, 384, 768, 1536), 0.5),
}

_NORM = Norm(kind="layer2d", eps=1e-6)  # torchvision's LayerNorm2d(eps=1e-6) and LayerNorm(eps=1e-6)


def _expanded(width: int, ratio: float) -> int:
    """The hidden channels of a block's inverted bottleneck: ``round(ratio * width)``, at least 1."""
    return max(1, round(ratio * width))


def convnext(depths: tuple[int, ...], widths: tuple[int, ...], *, drop_path: float = 0.0,
             kernels: int | tuple[int, ...] = 7, expansions: float | tuple[float, ...] = 4,
             act: str = "gelu", layer_scale: float = 1e-6) -> Genome:
    """torchvision's ``ConvNeXt`` with ``depths`` blocks of ``widths`` channels per stage and
    ``stochastic_depth_prob=drop_path``; ``kernels`` (the depthwise kernel) and ``expansions`` (the
    inverted bottleneck's ratio) per stage or for all, ``act`` for every block.

    ``convnext(*CONVNEXT["convnext_tiny"][:2], drop_path=0.1)`` is ``convnext_tiny``.
    """
    n = len(depths)
    if n != len(widths) or not n:
        raise ValueError(f"depths={depths} and widths={widths} must give the same number of stages (at least one)")
    if 0 in depths:
        raise ValueError(f"depths={depths}: every stage needs at least one block")
    kernels = (kernels,) * n if isinstance(kernels, int) else tuple(kernels)
    expansions = (expansions,) * n if isinstance(expansions, (int, float)) else tuple(expansions)
    blocks: list[Any] = [Conv(out=widths[0], kernel=4, stride=4, padding=0, bias=True, act="none")]
    for i, (depth, width) in enumerate(zip(depths, widths)):
        if i:  # downsampling: LayerNorm, then a 2×2 stride-2 convolution with a bias
            blocks.append(Conv(out=width, kernel=2, stride=2, pre=True, bias=True, act="none"))
        blocks += [ConvNeXtBlock(out=width, expanded=_expanded(width, expansions[i]), kernel=kernels[i], act=act,
                                 layer_scale=layer_scale)] * depth
    return Genome(blocks=tuple(blocks), head=Head(pooled_norm=True), norm=_NORM, drop_path=drop_path,
                  drop_path_to_last=True)


def _member(name: str) -> Genome:
    depths, widths, drop_path = CONVNEXT[name]
    return convnext(depths, widths, drop_path=drop_path)


# ----------------------------------------------------------------------------------------------
# the space


@dataclass(frozen=True)
class ConvNeXtStage:
    """One stage of the template: the depths and widths to choose from."""

    depths: tuple[int, ...]
    widths: tuple[int, ...]


class ConvNeXtSpace(Space):
    """The ConvNeXt space; every choice set can be replaced (tests use tiny ones)."""

    description = "ConvNeXt-T/S/B/L: patchify stem, ConvNeXt blocks, LayerNorm + 2×2 downsampling"
    target_resolution = 224

    def __init__(
        self,
        name: str = "convnext",
        *,
        stages: tuple[ConvNeXtStage, ...] = (
            ConvNeXtStage((1, 2, 3, 4), (64, 96, 128, 192)),
            ConvNeXtStage((1, 2, 3, 4), (128, 192, 256, 384)),
            ConvNeXtStage((3, 6, 9, 12, 18, 27), (256, 384, 512, 768)),
            ConvNeXtStage((1, 2, 3, 4), (512, 768, 1024, 1536)),
        ),
        kernels: tuple[int, ...] = (3, 5, 7, 9, 11),
        expansions: tuple[float, ...] = (2, 3, 4),
        drop_paths: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
        activations: tuple[str, ...] = ("gelu", "relu"),
        references: Mapping[str, Genome] | None = None,
    ) -> None:
        self.name = name
        self.stages, self.kernels, self.expansions = stages, kernels, expansions
        self.drop_paths, self.activations = drop_paths, activations
        if not stages or any(0 in stage.depths for stage in stages):
            raise ValueError("the convnext template needs at least one stage, and every stage at least one block")
        self._references = dict(references) if references is not None else {name: _member(name) for name in CONVNEXT}

    # -- dimensions ------------------------------------------------------------------------------

    def dimensions(self) -> dict[str, tuple[Any, ...]]:
        dims: dict[str, tuple[Any, ...]] = {"act": self.activations, "drop_path": self.drop_paths}
        for i, stage in enumerate(self.stages, 1):
            dims[f"s{i}_depth"] = stage.depths
            dims[f"s{i}_width"] = stage.widths
            dims[f"s{i}_kernel"] = self.kernels
            dims[f"s{i}_expansion"] = self.expansions
        return dims

    def genome_from_params(self, p: Mapping[str, Any]) -> Genome:
        stages = range(1, len(self.stages) + 1)
        return convnext(tuple(p[f"s{i}_depth"] for i in stages), tuple(p[f"s{i}_width"] for i in stages),
                        drop_path=p["drop_path"], kernels=tuple(p[f"s{i}_kernel"] for i in stages),
                        expansions=tuple(p[f"s{i}_expansion"] for i in stages), act=p["act"])

    # -- inverse ---------------------------------------------------------------------------------

    def to_params(self, genome: Genome) -> dict[str, Any]:
        inv = Inverse(self, genome)
        genome, put, fail = inv.genome, inv.put, inv.fail
        put("drop_path", genome.drop_path, "net")
        # stages: each opened by a convolution (the stem, then the downsampling layers), then its blocks
        starts = [i for i, block in enumerate(genome.blocks) if isinstance(block, Conv)]
        if starts[:1] != [0] or len(starts) != len(self.stages):
            raise fail("blocks", f"{len(self.stages)} stages are needed, each opened by a convolution (the stem, "
                                 f"then the downsampling layers); the convolutions are at blocks {starts}")
        for i, (start, end) in enumerate(zip(starts, starts[1:] + [len(genome.blocks)]), 1):
            stage = genome.blocks[start + 1:end]
            where = f"block {start + 1}"
            if not stage or not all(isinstance(b, ConvNeXtBlock) for b in stage):
                raise fail(where, "every stage holds ConvNeXt blocks, and at least one")
            first = stage[0]
            put(f"s{i}_depth", len(stage), where)
            put(f"s{i}_width", first.out, where)
            put(f"s{i}_kernel", first.kernel, where)
            put("act", first.act, where)
            ratios = [r for r in self.expansions if _expanded(first.out, r) == first.expanded]
            if not ratios:
                raise fail(where, f"expanded channels {first.expanded} are no ratio of {self.expansions} times the "
                                  f"width {first.out}")
            put(f"s{i}_expansion", ratios[0], where)
        return inv.done("some block differs from its stage's first block (kernel, expansion, activation), or a "
                        "gene this space does not vary (stem, downsampling, head, norm, layer scale) is set")

    # -- size ------------------------------------------------------------------------------------

    def _stage_count(self, stage: ConvNeXtStage, depths: tuple[int, ...]) -> int:
        """Distinct stages with a depth in ``depths``: every width with its distinct expanded channels."""
        distinct = sum(len({_expanded(w, r) for r in self.expansions}) for w in stage.widths)
        return len(depths) * distinct * len(self.kernels)

    def size(self) -> int:
        """Exact count of distinct genomes. Every choice shows in the genome, except the expansion
        ratios that round to the same channels at some width, and the stochastic-depth rate of a
        network of one block (nothing to drop: it is reset to 0)."""
        stages = 1
        for stage in self.stages:
            stages *= self._stage_count(stage, stage.depths)
        # networks of a single block: one stage, of depth 1
        single = self._stage_count(self.stages[0], (1,)) if len(self.stages) == 1 and 1 in self.stages[0].depths else 0
        return len(self.activations) * ((stages - single) * len(set(self.drop_paths)) + single)


register_space(ConvNeXtSpace())
