"""The ``resnet`` space: residual networks (ResNet, ResNeXt, Wide ResNet, SE-ResNet).

A network is a stem (a stride-2 convolution and a 3×3 stride-2 max pooling, as in torchvision), four
stages of residual blocks (the first block of stages 2–4 has stride 2; the shortcut is a strided 1×1
projection where the shapes change, the identity elsewhere), global average pooling and a linear
classifier.

Dimensions: the block type (basic: two k×k convolutions; bottleneck: 1×1, k×k, 1×1 with four times
wider outputs), the bottleneck's width and groups (named as torchvision names them: ``1x64d`` is
ResNet's bottleneck, ``1x128d`` Wide ResNet's, ``32x4d``, ``32x8d``, ``64x4d`` ResNeXt's); per stage its
depth, width (ResNet's "planes"; a bottleneck stage outputs 4× that), kernel size, dilation and
squeeze-and-excitation (SENet's, reduction 16); the stem's width and kernel; and the normalisation and
activation of the whole network.

References (torchvision's builders, reproduced parameter for parameter; the recipe below also makes
ResNet-101/152, ResNeXt-101 and Wide ResNet-50/101 exactly):

* ``resnet18``, ``resnet34``, ``resnet50`` -- He et al., "Deep Residual Learning for Image
  Recognition", 2016 (torchvision's V1.5: the stride of a bottleneck is on its 3×3 convolution).
* ``resnext50_32x4d`` -- Xie et al., "Aggregated Residual Transformations for Deep Neural Networks", 2017.

Wide ResNet: Zagoruyko & Komodakis, 2016. Squeeze-and-excitation: Hu et al., 2018.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nas import (
    Bottleneck,
    Conv,
    Inverse,
    Genome,
    Head,
    Norm,
    Pool,
    Residual,
    Space,
    SqueezeExcite,
    register_space,
)

__all__ = ["ResNetSpace", "ResNetStage", "resnet"]

# ----------------------------------------------------------------------------------------------
# the recipe: torchvision's family as genomes

_STEM_POOL = Pool("max", kernel=3, stride=2, padding=1)


def _cardinality(name: str) -> tuple[int, int]:
    """``"32x4d"`` -> (groups 32, width per group 4)."""
    groups, _, width = name.partition("x")
    return int(groups), int(width.rstrip("d"))


def _bottleneck_width(planes: int, cardinality: str) -> int:
    groups, width_per_group = _cardinality(cardinality)
    return int(planes * (width_per_group / 64.0)) * groups  # torchvision's Bottleneck


def _squeeze(out: int) -> SqueezeExcite:
    return SqueezeExcite(max(1, out // 16))  # SENet: reduction 16, ReLU, sigmoid


def resnet(block: str, layers: tuple[int, ...], *, cardinality: str = "1x64d", planes: tuple[int, ...] = (64, 128, 256, 512),
           stem_width: int = 64, stem_kernel: int = 7, kernels: tuple[int, ...] = (3, 3, 3, 3),
           dilations: tuple[int, ...] = (1, 1, 1, 1), se: tuple[bool, ...] = (False,) * 4, act: str = "relu",
           norm: Norm = Norm()) -> Genome:
    """A ResNet as torchvision builds it: ``block`` ``"basic"`` or ``"bottleneck"``, ``layers`` blocks per
    stage, ``cardinality`` ``"<groups>x<width per group>d"`` (bottleneck only).

    ``resnet("basic", (2, 2, 2, 2))`` is ``resnet18``; ``resnet("bottleneck", (3, 4, 6, 3), cardinality="32x4d")``
    is ``resnext50_32x4d``; ``cardinality="1x128d"`` gives the Wide ResNets.
    """
    if block not in ("basic", "bottleneck"):
        raise ValueError(f"block={block!r} must be 'basic' or 'bottleneck'")
    expansion = 4 if block == "bottleneck" else 1
    blocks: list[Any] = [Conv(out=stem_width, kernel=stem_kernel, stride=2, act=act), _STEM_POOL]
    for i, (depth, width) in enumerate(zip(layers, planes)):
        out = width * expansion
        for j in range(depth):
            common = dict(out=out, kernel=kernels[i], stride=2 if i > 0 and j == 0 else 1, dilation=dilations[i],
                          act=act, se=_squeeze(out) if se[i] else None)
            if block == "bottleneck":
                groups, _ = _cardinality(cardinality)
                blocks.append(Bottleneck(width=_bottleneck_width(width, cardinality), groups=groups, **common))
            else:
                blocks.append(Residual(**common))
    return Genome(blocks=tuple(blocks), head=Head(), norm=norm)


# ----------------------------------------------------------------------------------------------
# the space


@dataclass(frozen=True)
class ResNetStage:
    """One stage of the template: the depths and widths ("planes") to choose from."""

    depths: tuple[int, ...]
    planes: tuple[int, ...]


_NORMS = {"bn": Norm(), "gn32": Norm(kind="group", groups=32)}


class ResNetSpace(Space):
    """The residual space; every choice set can be replaced (tests use tiny ones)."""

    description = "residual networks: ResNet-18/34/50, ResNeXt, Wide ResNet, SE-ResNet"
    target_resolution = 224

    def __init__(
        self,
        name: str = "resnet",
        *,
        blocks: tuple[str, ...] = ("basic", "bottleneck"),
        cardinalities: tuple[str, ...] = ("1x64d", "1x128d", "32x4d", "32x8d", "64x4d"),
        stem_widths: tuple[int, ...] = (32, 64),
        stem_kernels: tuple[int, ...] = (3, 7),
        stages: tuple[ResNetStage, ...] = (
            ResNetStage((1, 2, 3), (32, 64)),
            ResNetStage((1, 2, 3, 4), (64, 96, 128)),
            ResNetStage((1, 2, 3, 4, 5, 6), (128, 192, 256)),
            ResNetStage((1, 2, 3), (256, 384, 512)),
        ),
        kernels: tuple[int, ...] = (3, 5),
        dilations: tuple[int, ...] = (1, 2),
        norms: tuple[str, ...] = tuple(_NORMS),
        activations: tuple[str, ...] = ("relu", "silu", "gelu", "hardswish"),
        references: Mapping[str, Genome] | None = None,
    ) -> None:
        self.name = name
        self.blocks, self.cardinalities = blocks, cardinalities
        self.stem_widths, self.stem_kernels, self.stages = stem_widths, stem_kernels, stages
        self.kernels, self.dilations, self.norms, self.activations = kernels, dilations, norms, activations
        unknown = set(norms) - set(_NORMS)
        if unknown:
            raise ValueError(f"unknown norms {sorted(unknown)}; known: {', '.join(_NORMS)}")
        if 0 in {d for stage in stages for d in stage.depths}:
            raise ValueError("every stage of the resnet template needs at least one block (depth 0 given)")
        self._references = dict(references) if references is not None else {
            "resnet18": resnet("basic", (2, 2, 2, 2)),
            "resnet34": resnet("basic", (3, 4, 6, 3)),
            "resnet50": resnet("bottleneck", (3, 4, 6, 3)),
            "resnext50_32x4d": resnet("bottleneck", (3, 4, 6, 3), cardinality="32x4d"),
        }


    def torchvision_members(self) -> dict[str, tuple[Genome, str, dict[str, Any]]]:
        """The references and the other ResNets, ResNeXts and Wide ResNets torchvision builds."""
        members = super().torchvision_members()
        deep = {"101": (3, 4, 23, 3), "152": (3, 8, 36, 3)}
        members["resnet101"] = (resnet("bottleneck", deep["101"]), "resnet101", {})
        members["resnet152"] = (resnet("bottleneck", deep["152"]), "resnet152", {})
        members["resnext101_32x8d"] = (resnet("bottleneck", deep["101"], cardinality="32x8d"), "resnext101_32x8d", {})
        members["resnext101_64x4d"] = (resnet("bottleneck", deep["101"], cardinality="64x4d"), "resnext101_64x4d", {})
        members["wide_resnet50_2"] = (resnet("bottleneck", (3, 4, 6, 3), cardinality="1x128d"), "wide_resnet50_2", {})
        members["wide_resnet101_2"] = (resnet("bottleneck", deep["101"], cardinality="1x128d"), "wide_resnet101_2", {})
        return members

    # -- dimensions ------------------------------------------------------------------------------

    def dimensions(self) -> dict[str, tuple[Any, ...]]:
        dims: dict[str, tuple[Any, ...]] = {
            "block": self.blocks,
            "cardinality": self.cardinalities,
            "norm": self.norms,
            "act": self.activations,
            "stem_width": self.stem_widths,
            "stem_kernel": self.stem_kernels,
        }
        for i, stage in enumerate(self.stages, 1):
            dims[f"s{i}_depth"] = stage.depths
            dims[f"s{i}_planes"] = stage.planes
            dims[f"s{i}_kernel"] = self.kernels
            dims[f"s{i}_dilation"] = self.dilations
            dims[f"s{i}_se"] = (False, True)
        return dims

    def genome_from_params(self, p: Mapping[str, Any]) -> Genome:
        n = len(self.stages)
        return resnet(
            p["block"], tuple(p[f"s{i}_depth"] for i in range(1, n + 1)), cardinality=p["cardinality"],
            planes=tuple(p[f"s{i}_planes"] for i in range(1, n + 1)), stem_width=p["stem_width"],
            stem_kernel=p["stem_kernel"], kernels=tuple(p[f"s{i}_kernel"] for i in range(1, n + 1)),
            dilations=tuple(p[f"s{i}_dilation"] for i in range(1, n + 1)),
            se=tuple(p[f"s{i}_se"] for i in range(1, n + 1)), act=p["act"], norm=_NORMS[p["norm"]],
        )

    # -- inverse ---------------------------------------------------------------------------------

    def to_params(self, genome: Genome) -> dict[str, Any]:
        inv = Inverse(self, genome)
        genome, put, fail = inv.genome, inv.put, inv.fail
        norm = [key for key, value in _NORMS.items() if value == genome.norm]
        put("norm", norm[0] if norm else genome.norm, "net")
        if genome.head != Head():
            raise fail("head", f"this space's head is global pooling and a linear classifier, got {genome.head}")
        if genome.drop_path:
            raise fail("net", f"stochastic depth {genome.drop_path} (this space has none)")
        stem, pool, body = genome.blocks[0], genome.blocks[1] if len(genome.blocks) > 1 else None, genome.blocks[2:]
        if not (isinstance(stem, Conv) and stem.stride == 2 and stem.groups == 1 and stem.dilation == 1
                and not stem.separable and not stem.bias and stem.padding == (stem.kernel - 1) // 2):
            raise fail("block 0", f"the stem must be a plain stride-2 conv, got {stem}")
        if pool != _STEM_POOL:
            raise fail("block 1", f"the stem's pooling must be {_STEM_POOL}, got {pool}")
        put("stem_width", stem.out, "block 0")
        put("stem_kernel", stem.kernel, "block 0")
        put("act", stem.act, "block 0")
        if not body or not all(type(b) is type(body[0]) for b in body) or type(body[0]) not in (Residual, Bottleneck):
            raise fail("blocks", "the stages hold residual blocks of one type (res or bot)")
        bottleneck = isinstance(body[0], Bottleneck)
        put("block", "bottleneck" if bottleneck else "basic", "block 2")
        expansion = 4 if bottleneck else 1
        # stages: a stride-2 block opens each stage after the first
        starts = [0] + [i for i, b in enumerate(body) if b.stride == 2]
        if len(starts) != len(self.stages) or body[0].stride != 1:
            raise fail("blocks", f"{len(self.stages)} stages, the first of stride 1 and the others opened by a "
                                 f"stride-2 block, are needed; the strides are {[b.stride for b in body]}")
        cardinality = None
        for i, (start, end) in enumerate(zip(starts, starts[1:] + [len(body)]), 1):
            first = body[start]
            where = f"block {start + 2}"
            put(f"s{i}_depth", end - start, where)
            if first.out % expansion:
                raise fail(where, f"{first.out} output channels are not {expansion}× a width")
            put(f"s{i}_planes", first.out // expansion, where)
            put(f"s{i}_kernel", first.kernel, where)
            put(f"s{i}_dilation", first.dilation, where)
            inv.params[f"s{i}_se"] = first.se is not None
            if bottleneck:
                matches = [c for c in self.cardinalities
                           if (_cardinality(c)[0], _bottleneck_width(first.out // 4, c)) == (first.groups, first.width)]
                if not matches:
                    raise fail(where, f"bottleneck width {first.width} with {first.groups} groups matches no "
                                      f"cardinality of {self.cardinalities}")
                if cardinality is not None and cardinality not in matches:
                    raise fail(where, "the bottleneck's width and groups differ from the earlier stages'")
                cardinality = cardinality or matches[0]
        if cardinality is not None:
            inv.params["cardinality"] = cardinality
        return inv.done("some block differs from its stage's first block (kernel, dilation, SE, activation or "
                        "width), or a gene this space does not vary is set")

    # -- size ------------------------------------------------------------------------------------

    def size(self) -> int:
        """Exact count of distinct genomes. Every choice gives a different network except the
        cardinality of basic blocks (they have no bottleneck): ``common × (basic + bottleneck ×
        cardinalities)``."""
        common = len(self.norms) * len(self.activations) * len(self.stem_widths) * len(self.stem_kernels)
        for stage in self.stages:
            common *= len(stage.depths) * len(stage.planes) * len(self.kernels) * len(self.dilations) * 2
        return common * (("basic" in self.blocks) + ("bottleneck" in self.blocks) * len(self.cardinalities))


register_space(ResNetSpace())
