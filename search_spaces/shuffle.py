"""The ``shuffle`` space: ShuffleNetV2 networks (channel split, depthwise convolutions, channel shuffle).

A network follows torchvision's ShuffleNetV2 template: a 3×3 stride-2 convolution (``conv1``), 3×3
stride-2 max pooling, three stages of ShuffleNetV2 units (torchvision's ``stage2``, ``stage3`` and
``stage4``, called ``s1``, ``s2`` and ``s3`` here) whose first unit has stride 2 and the others
stride 1, and a head: a 1×1 convolution to a wide feature (``conv5``), global average pooling and
the linear classifier, without dropout. In the genome grammar (ShuffleNetV2 1.0×)::

    conv_s2_c24_relu pool_max_k3_s2_p1 shuffle_s2_c116_relu shuffle_c116_relu*3
    shuffle_s2_c232_relu shuffle_c232_relu*7 shuffle_s2_c464_relu shuffle_c464_relu*3 head_c1024_relu

Dimensions: the stem's width; per stage its width (even: a unit splits its channels in two halves)
and depth (at least one unit, the strided one); per unit the kernel of its depthwise convolutions
(3, 5 or 7, as in ShuffleNetV2+ and the ShuffleNet search spaces of Guo et al., 2020); the head's
width; and one activation for the whole network (the paper's ReLU, or hard swish or SiLU as in
ShuffleNetV2+). The depthwise convolutions stay linear, as in the paper. Batch normalisation is
fixed to PyTorch's defaults, which torchvision's ShuffleNetV2 uses. The choices contain every value
torchvision's four members use, so that all of them are points of the space.

References (torchvision's builders, reproduced parameter for parameter):

* ``shufflenet_v2_x0_5``, ``shufflenet_v2_x1_0`` -- Ma et al., "ShuffleNet V2: Practical Guidelines
  for Efficient CNN Architecture Design", ECCV 2018. ``torchvision_members`` adds
  ``shufflenet_v2_x1_5`` and ``shufflenet_v2_x2_0``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nas import Conv, Genome, Head, Inverse, Norm, Pool, ShuffleUnit, Space, register_space

__all__ = ["SHUFFLENET_V2", "ShuffleSpace", "ShuffleStage", "shufflenet_v2"]

# ----------------------------------------------------------------------------------------------
# recipes: torchvision's ShuffleNetV2 family as genomes

#: torchvision's members: name -> (stage repeats, stages_out_channels [conv1, stage2-4, conv5])
SHUFFLENET_V2: dict[str, tuple[tuple[int, int, int], tuple[int, int, int, int, int]]] = {
    "shufflenet_v2_x0_5": ((4, 8, 4), (24, 48, 96, 192, 1024)),
    "shufflenet_v2_x1_0": ((4, 8, 4), (24, 116, 232, 464, 1024)),
    "shufflenet_v2_x1_5": ((4, 8, 4), (24, 176, 352, 704, 1024)),
    "shufflenet_v2_x2_0": ((4, 8, 4), (24, 244, 488, 976, 2048)),
}

# torchvision's maxpool after conv1: 3×3, stride 2, padding 1 (floor rounding)
_MAXPOOL = Pool(mode="max", kernel=3, stride=2, padding=1)


def _shufflenet(repeats: tuple[int, ...], channels: tuple[int, ...], *, kernel: int = 3,
                act: str = "relu") -> Genome:
    """torchvision's ``ShuffleNetV2(stages_repeats, stages_out_channels)`` with every depthwise kernel
    ``kernel`` and every activation ``act``."""
    blocks: list[Any] = [Conv(out=channels[0], kernel=3, stride=2, act=act), _MAXPOOL]
    for n, out in zip(repeats, channels[1:-1]):
        blocks += [ShuffleUnit(out=out, kernel=kernel, stride=2 if i == 0 else 1, act=act) for i in range(n)]
    # conv5 is the head's 1×1 convolution; the pooled feature goes straight to the classifier
    return Genome(blocks=tuple(blocks), head=Head(width=channels[-1], act=act))


def shufflenet_v2(name: str = "shufflenet_v2_x1_0") -> Genome:
    """torchvision's ``shufflenet_v2_x0_5``, ``_x1_0``, ``_x1_5`` or ``_x2_0``.

    Raises:
        ValueError: for a name not in :data:`SHUFFLENET_V2`.
    """
    if name not in SHUFFLENET_V2:
        raise ValueError(f"unknown ShuffleNetV2 {name!r}; known: {', '.join(SHUFFLENET_V2)}")
    return _shufflenet(*SHUFFLENET_V2[name])


# ----------------------------------------------------------------------------------------------
# the space


@dataclass(frozen=True)
class ShuffleStage:
    """One stage of the template (its first unit has stride 2): the widths and depths to choose from."""

    widths: tuple[int, ...]
    depths: tuple[int, ...]


class ShuffleSpace(Space):
    """The ShuffleNetV2 space; every choice set can be replaced (tests use tiny ones)."""

    description = "ShuffleNetV2 networks: stage widths and depths, depthwise kernels, activation, head width"
    target_resolution = 224

    def __init__(
        self,
        name: str = "shuffle",
        *,
        stem_widths: tuple[int, ...] = (16, 24, 32),
        stages: tuple[ShuffleStage, ...] = (
            ShuffleStage((48, 64, 96, 116, 144, 176, 244), (2, 3, 4, 5, 6)),
            ShuffleStage((96, 128, 192, 232, 288, 352, 488), (4, 5, 6, 7, 8, 9, 10)),
            ShuffleStage((192, 256, 384, 464, 576, 704, 976), (2, 3, 4, 5, 6)),
        ),
        kernels: tuple[int, ...] = (3, 5, 7),
        activations: tuple[str, ...] = ("relu", "hardswish", "silu"),
        head_widths: tuple[int, ...] = (512, 1024, 1536, 2048),
        references: Mapping[str, Genome] | None = None,
    ) -> None:
        self.name = name
        self.stem_widths, self.stages, self.kernels = stem_widths, stages, kernels
        self.activations, self.head_widths = activations, head_widths
        for i, stage in enumerate(stages, 1):
            odd = [w for w in stage.widths if w % 2]
            if odd:
                raise ValueError(f"stage {i} widths {odd} are odd; a ShuffleNetV2 unit splits its channels in "
                                 f"two halves, so use even widths")
            if not stage.depths or min(stage.depths) < 1:
                # the strided first unit is what tells one stage from the next in a genome
                raise ValueError(f"stage {i} depths {stage.depths} must all be >= 1: every stage starts with "
                                 f"its stride-2 unit")
        self._references = dict(references) if references is not None else {
            name: shufflenet_v2(name) for name in ("shufflenet_v2_x0_5", "shufflenet_v2_x1_0")}


    def torchvision_members(self) -> dict[str, tuple[Genome, str, dict[str, Any]]]:
        """The references and the two larger members of the family, ``x1_5`` and ``x2_0``."""
        members = super().torchvision_members()
        for name in ("shufflenet_v2_x1_5", "shufflenet_v2_x2_0"):
            members[name] = (shufflenet_v2(name), name, {})
        return members

    # -- dimensions ------------------------------------------------------------------------------

    def dimensions(self) -> dict[str, tuple[Any, ...]]:
        dims: dict[str, tuple[Any, ...]] = {"act": self.activations, "stem_width": self.stem_widths}
        for i, stage in enumerate(self.stages, 1):
            dims[f"s{i}_width"] = stage.widths
            dims[f"s{i}_depth"] = stage.depths
            for j in range(1, max(stage.depths) + 1):
                dims[f"s{i}_b{j}_kernel"] = self.kernels
        dims["head_width"] = self.head_widths
        return dims

    def genome_from_params(self, p: Mapping[str, Any]) -> Genome:
        act = p["act"]
        blocks: list[Any] = [Conv(out=p["stem_width"], kernel=3, stride=2, act=act), _MAXPOOL]
        for i in range(1, len(self.stages) + 1):
            for j in range(1, p[f"s{i}_depth"] + 1):
                blocks.append(ShuffleUnit(out=p[f"s{i}_width"], kernel=p[f"s{i}_b{j}_kernel"],
                                          stride=2 if j == 1 else 1, act=act))
        return Genome(blocks=tuple(blocks), head=Head(width=p["head_width"], act=act))

    # -- inverse ---------------------------------------------------------------------------------

    def to_params(self, genome: Genome) -> dict[str, Any]:
        inv = Inverse(self, genome)
        genome, put, fail = inv.genome, inv.put, inv.fail

        if genome.norm != Norm():
            raise fail("net", f"this space uses batch norm with PyTorch's defaults, got {genome.norm}")
        head = genome.head
        if head.width == 0 or head.hidden or head.pool != 1 or head.dropout or head.conv_classifier:
            raise fail("head", f"this space's head is a 1×1 conv, global pooling and a linear classifier "
                               f"(no hidden layer, no dropout), got {head}")
        stem = genome.blocks[0]
        if not (isinstance(stem, Conv) and (stem.kernel, stem.stride, stem.dilation, stem.groups, stem.separable,
                                            stem.padding, stem.bias) == (3, 2, 1, 1, False, 1, False)):
            raise fail("block 0", f"the stem must be a plain 3×3 stride-2 conv, got {stem}")
        put("act", stem.act, "block 0")
        act = stem.act
        put("stem_width", stem.out, "block 0")
        if genome.blocks[1:2] != (_MAXPOOL,):
            got = genome.blocks[1] if len(genome.blocks) > 1 else "nothing"
            raise fail("block 1", f"the stem must be followed by 3×3 stride-2 max pooling with padding 1, got {got}")
        if head.act != act:
            raise fail("head", f"act={head.act!r} differs from the network's activation {act!r}")
        put("head_width", head.width, "head")
        blocks, index = list(genome.blocks[2:]), 2
        for i, stage in enumerate(self.stages, 1):
            depth = 0
            while blocks and depth < max(stage.depths):
                block = blocks[0]
                # a stride-2 unit opens the next stage; only the first unit of a stage may have one
                if depth > 0 and getattr(block, "stride", 1) != 1:
                    break
                where = f"block {index}"
                if not isinstance(block, ShuffleUnit) or block.dilation != 1 or block.separable:
                    raise fail(where, f"only plain ShuffleNetV2 units belong to stages, got {block}")
                if depth == 0 and block.stride != 2:
                    hint = f" (is stage {i - 1} deeper than {max(self.stages[i - 2].depths)} units?)" if i > 1 else ""
                    raise fail(where, f"stage {i} must start with a stride-2 unit, got stride {block.stride}{hint}")
                if block.act != act:
                    raise fail(where, f"act={block.act!r} differs from the network's activation {act!r}")
                put(f"s{i}_b{depth + 1}_kernel", block.kernel, where)
                if depth == 0:
                    put(f"s{i}_width", block.out, where)
                blocks.pop(0)
                depth += 1
                index += 1
            if depth == 0:
                raise fail(f"block {index}", f"stage {i} has no units")
            put(f"s{i}_depth", depth, f"stage {i}")
        if blocks:
            raise fail(f"block {index}", f"{blocks[0]} fits no stage of the template ({len(self.stages)} stages "
                                         f"of at most {[max(s.depths) for s in self.stages]} units)")
        return inv.done()

    # -- size ------------------------------------------------------------------------------------

    def size(self) -> int:
        """Exact count of distinct genomes, in closed form. Every choice shows in the genome, so
        nothing collapses but the kernels of units beyond a stage's depth (unused genes) and
        repeated values in a choice set: a stage of depth d adds ``widths × kernels^d``."""
        kernels = len(set(self.kernels))
        total = len(set(self.stem_widths)) * len(set(self.activations)) * len(set(self.head_widths))
        for stage in self.stages:
            total *= len(set(stage.widths)) * sum(kernels ** d for d in set(stage.depths))
        return total


register_space(ShuffleSpace())
