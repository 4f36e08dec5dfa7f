"""The ``shuffle`` space: ShuffleNet networks, V2 (channel split) or V1 (grouped 1×1 convolutions), with
depthwise convolutions and channel shuffles.

A network follows torchvision's ShuffleNetV2 template: a 3×3 stride-2 convolution (``conv1``), 3×3
stride-2 max pooling, three stages of ShuffleNetV2 units (torchvision's ``stage2``, ``stage3`` and
``stage4``, called ``s1``, ``s2`` and ``s3`` here) whose first unit has stride 2 and the others
stride 1, and a head: a 1×1 convolution to a wide feature (``conv5``), global average pooling and
the linear classifier, without dropout. In the genome grammar (ShuffleNetV2 1.0×)::

    conv_s2_c24_relu pool_max_k3_s2_p1 shuffle_s2_c116_relu shuffle_c116_relu*3
    shuffle_s2_c232_relu shuffle_c232_relu*7 shuffle_s2_c464_relu shuffle_c464_relu*3 head_c1024_relu

The units are all ShuffleNetV2 units or all ShuffleNetV1 units (``unit``). ShuffleNetV1 networks
follow Table 1 of Zhang et al. (2018): the same stem and stages, units with grouped 1×1 convolutions
(``v1_groups`` groups; the first 1×1 convolution of the very first unit is not grouped), bottlenecks a
quarter of the unit's output, and widths set by the groups and a width multiplier (``v1_width_mult``,
the paper's "ShuffleNet s×", which scales every layer): the stem has ``make_divisible(24 s, g)``
channels and stage 2 ``make_divisible(s × w_g, 4g)``, where w_g is Table 1's 144, 200, 240, 272 or 384
for g = 1, 2, 3, 4 or 8 (so Table 1 itself at 1×, and every grouped convolution divides evenly at any
s), stages 3 and 4 twice and four times that. The paper's ShuffleNetV1 has no ``conv5``: head width 0
(none) is a choice, for both kinds of unit. ShuffleNet 1× (g = 3)::

    conv_s2_c24_relu pool_max_k3_s2_p1 shufflev1_s2_w60_g3_dense_c240_relu shufflev1_w60_g3_c240_relu*3
    shufflev1_s2_w120_g3_c480_relu shufflev1_w120_g3_c480_relu*7 shufflev1_s2_w240_g3_c960_relu
    shufflev1_w240_g3_c960_relu*3 head

Dimensions: the kind of unit (``v2`` or ``v1``); for V1 units the groups and the width multiplier
(the stem's and the stages' widths follow); for V2 units the stem's width and per stage its width
(even: a unit splits its channels in two halves); per stage its depth (at least one unit, the strided
one); per unit the kernel of its depthwise convolutions (3, 5 or 7, as in ShuffleNetV2+ and the
ShuffleNet search spaces of Guo et al., 2020); the head's width; and one activation for the whole
network (the paper's ReLU, or hard swish or SiLU as in ShuffleNetV2+). The depthwise convolutions stay
linear, as in the paper. Batch normalisation is fixed to PyTorch's defaults, which torchvision's
ShuffleNetV2 uses. The choices contain every value torchvision's four members use, so that all of them
are points of the space, and ShuffleNetV1 0.25× to 2× at every g of Table 1.

References (torchvision's builders, reproduced parameter for parameter):

* ``shufflenet_v2_x0_5``, ``shufflenet_v2_x1_0`` -- Ma et al., "ShuffleNet V2: Practical Guidelines
  for Efficient CNN Architecture Design", ECCV 2018. ``torchvision_members`` adds
  ``shufflenet_v2_x1_5`` and ``shufflenet_v2_x2_0``.
* ``shufflenet_v1_x1_0_g3`` -- ShuffleNet 1× (g = 3) of Zhang, Zhou, Lin & Sun, "ShuffleNet: An
  Extremely Efficient Convolutional Neural Network for Mobile Devices", CVPR 2018 (torchvision has no
  ShuffleNetV1; see :func:`shufflenet_v1` for the paper's numbers and how ours compare).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nas import (Conv, Genome, Head, Inverse, Norm, Pool, ShuffleUnit, ShuffleV1Unit, Space, make_divisible,
                 register_space)

__all__ = ["SHUFFLENET_V1_WIDTHS", "SHUFFLENET_V2", "ShuffleSpace", "ShuffleStage", "shufflenet_v1", "shufflenet_v2"]

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


def _network(stem: int, stages: list[tuple[int, list[int]]], head: int, *, act: str, unit: str = "v2",
             groups: int = 1) -> Genome:
    """The template: the stem, max pooling, and per stage (width, kernel of each unit) its units, the
    first strided; V1 units (``unit="v1"``) get ``groups`` groups and bottlenecks of a quarter of their
    width, and the very first one an ungrouped first 1×1 convolution (Table 1 of Zhang et al.)."""
    blocks: list[Any] = [Conv(out=stem, kernel=3, stride=2, act=act), _MAXPOOL]
    for i, (out, kernels) in enumerate(stages):
        for j, kernel in enumerate(kernels):
            stride = 2 if j == 0 else 1
            if unit == "v1":
                blocks.append(ShuffleV1Unit(out=out, width=out // 4, groups=groups, dense=i == j == 0, kernel=kernel,
                                            stride=stride, act=act))
            else:
                blocks.append(ShuffleUnit(out=out, kernel=kernel, stride=stride, act=act))
    # conv5 is the head's 1×1 convolution (none when 0); the pooled feature goes straight to the classifier
    return Genome(blocks=tuple(blocks), head=Head(width=head, act=act))


def _shufflenet(repeats: tuple[int, ...], channels: tuple[int, ...], *, kernel: int = 3,
                act: str = "relu") -> Genome:
    """torchvision's ``ShuffleNetV2(stages_repeats, stages_out_channels)`` with every depthwise kernel
    ``kernel`` and every activation ``act``."""
    stages = [(out, [kernel] * n) for n, out in zip(repeats, channels[1:-1])]
    return _network(channels[0], stages, channels[-1], act=act)


def shufflenet_v2(name: str = "shufflenet_v2_x1_0") -> Genome:
    """torchvision's ``shufflenet_v2_x0_5``, ``_x1_0``, ``_x1_5`` or ``_x2_0``.

    Raises:
        ValueError: for a name not in :data:`SHUFFLENET_V2`.
    """
    if name not in SHUFFLENET_V2:
        raise ValueError(f"unknown ShuffleNetV2 {name!r}; known: {', '.join(SHUFFLENET_V2)}")
    return _shufflenet(*SHUFFLENET_V2[name])


#: Table 1 of Zhang et al. (2018): output channels of stage 2 of ShuffleNet 1× for each number of groups g
#: (stages 3 and 4 have twice and four times as many); the stem has 24 channels whatever g
SHUFFLENET_V1_WIDTHS: dict[int, int] = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}
_V1_STEM = 24
_V1_REPEATS = (4, 8, 4)


def _v1_widths(groups: int, width_mult: float) -> tuple[int, int]:
    """The stem's and stage 2's channels of ShuffleNet s× with g groups: s times Table 1's, the stem to a
    multiple of g and stage 2 to a multiple of 4g (so that the quarter-width bottleneck and every grouped
    convolution divide evenly, the first unit's too); Table 1 itself at 1×."""
    return (make_divisible(width_mult * _V1_STEM, groups),
            make_divisible(width_mult * SHUFFLENET_V1_WIDTHS[groups], 4 * groups))


def shufflenet_v1(groups: int = 3, width_mult: float = 1.0) -> Genome:
    """ShuffleNet s× with g groups, of Zhang, Zhou, Lin & Sun, "ShuffleNet: An Extremely Efficient
    Convolutional Neural Network for Mobile Devices", CVPR 2018, Table 1: a 3×3 stride-2 convolution to
    24 channels, 3×3 stride-2 max pooling, stages 2, 3 and 4 of 4, 8 and 4 units (the first of each with
    stride 2, its average-pooled input concatenated), global pooling and the 1000-way classifier. The
    first 1×1 convolution of stage 2's first unit is not grouped (its input has only 24 channels), and
    every bottleneck has a quarter of its unit's output channels (240 / 4 = 60 in that unit too, as in
    the authors' code). s× scales every layer, the stem included (see the module docstring's rounding).

    The paper's numbers, at 224×224 (its FLOPs are multiply-adds), and ours (:func:`nas.count`:
    multiply-adds of the convolutions and the classifier; not batch norm, activations, max pooling, the
    shortcuts' average pooling, channel shuffles, additions, concatenations or biases):

    * Table 1, complexity of ShuffleNet 1× for g = 1, 2, 3, 4, 8: 143, 140, 137, 133, 137 MFLOPs. Ours
      without the classifier (576,000 to 1,536,000 multiply-adds): 142.50, 140.04, 136.50, 133.25,
      136.83 M, Table 1 to the nearest million for every g: Table 1 counts the convolutions. With the
      classifier: 143.08, 140.84, 137.46, 134.34, 138.37 M.
    * ShuffleNet 1× (g = 3), "140 MFLOPs" in Table 2 and the comparisons, where 140 stands for the
      whole 1× family of Table 1 (133 to 143 M): ours 137,460,672 (137.5 M, 1.8% below; Table 1 gives
      137 M for this very network).
    * Table 2's ShuffleNet 0.5× (38 MFLOPs) and the comparisons' 2× (g = 3) (524 MFLOPs): ours, with the
      classifier, 37.59 M and 524.05 M at g = 3 (stems of 12 and 48 channels; with Table 1's 24 they
      would be 42.7 M and 507.6 M, which is why s× scales the stem).
    * The paper gives no parameter count; ShuffleNet 1× (g = 3) has 1,865,728 parameters (the "1.9 M"
      usually quoted; 961,000 of them in the classifier; batch norm's weights and biases, 2 per
      channel, included; running statistics not).

    ``tests/test_space_shuffle.py`` checks these numbers.

    Raises:
        ValueError: for groups not in Table 1 or a width multiplier that leaves stage 2 no wider than the
            stem.
    """
    if groups not in SHUFFLENET_V1_WIDTHS:
        raise ValueError(f"ShuffleNetV1 groups={groups!r} is not one of Table 1's {tuple(SHUFFLENET_V1_WIDTHS)}")
    stem, width = _v1_widths(groups, width_mult)
    if width <= stem:
        raise ValueError(f"ShuffleNetV1 width_mult={width_mult} gives stage 2 {width} channels; its first unit "
                         f"concatenates the stem's {stem}, so use a larger multiplier")
    stages = [(width * 2 ** i, [3] * n) for i, n in enumerate(_V1_REPEATS)]
    return _network(stem, stages, 0, act="relu", unit="v1", groups=groups)


# ----------------------------------------------------------------------------------------------
# the space


@dataclass(frozen=True)
class ShuffleStage:
    """One stage of the template (its first unit has stride 2): the widths and depths to choose from."""

    widths: tuple[int, ...]
    depths: tuple[int, ...]


class ShuffleSpace(Space):
    """The ShuffleNetV2 space; every choice set can be replaced (tests use tiny ones)."""

    description = ("ShuffleNet networks, V2 or V1 units: stage widths (V1: groups and width multiplier) and depths, "
                   "depthwise kernels, activation, head width")
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
        head_widths: tuple[int, ...] = (0, 512, 1024, 1536, 2048),
        units: tuple[str, ...] = ("v2", "v1"),
        v1_groups: tuple[int, ...] = (1, 2, 3, 4, 8),
        v1_width_mults: tuple[float, ...] = (0.25, 0.5, 1.0, 1.5, 2.0),
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
        self.units, self.v1_groups, self.v1_width_mults = units, v1_groups, v1_width_mults
        bad = [u for u in units if u not in ("v1", "v2")]
        if bad or not units:
            raise ValueError(f"units={units}: each must be 'v1' or 'v2', and at least one given")
        for g in v1_groups:
            if g not in SHUFFLENET_V1_WIDTHS:
                raise ValueError(f"v1_groups={v1_groups}: {g!r} is not one of Table 1's {tuple(SHUFFLENET_V1_WIDTHS)}")
            narrow = [s for s in v1_width_mults if _v1_widths(g, s)[1] <= _v1_widths(g, s)[0]]
            if narrow:
                raise ValueError(f"v1_width_mults={v1_width_mults}: {narrow[0]} gives stage 2 of ShuffleNetV1 with "
                                 f"g={g} no more channels than the stem it concatenates")
        self._references = dict(references) if references is not None else {
            **{name: shufflenet_v2(name) for name in ("shufflenet_v2_x0_5", "shufflenet_v2_x1_0")},
            "shufflenet_v1_x1_0_g3": shufflenet_v1(3)}


    def torchvision_members(self) -> dict[str, tuple[Genome, str, dict[str, Any]]]:
        """The references and the two larger members of the family, ``x1_5`` and ``x2_0``."""
        members = super().torchvision_members()
        for name in ("shufflenet_v2_x1_5", "shufflenet_v2_x2_0"):
            members[name] = (shufflenet_v2(name), name, {})
        return members

    # -- dimensions ------------------------------------------------------------------------------

    def dimensions(self) -> dict[str, tuple[Any, ...]]:
        dims: dict[str, tuple[Any, ...]] = {"act": self.activations, "unit": self.units, "v1_groups": self.v1_groups,
                                            "v1_width_mult": self.v1_width_mults, "stem_width": self.stem_widths}
        for i, stage in enumerate(self.stages, 1):
            dims[f"s{i}_width"] = stage.widths
            dims[f"s{i}_depth"] = stage.depths
            for j in range(1, max(stage.depths) + 1):
                dims[f"s{i}_b{j}_kernel"] = self.kernels
        dims["head_width"] = self.head_widths
        return dims

    def _widths(self, p: Mapping[str, Any]) -> tuple[int, list[int]]:
        """The stem's and the stages' widths: chosen for V2 units, from the groups and the width multiplier
        (Table 1) for V1 units."""
        if p["unit"] == "v1":
            stem, width = _v1_widths(p["v1_groups"], p["v1_width_mult"])
            return stem, [width * 2 ** i for i in range(len(self.stages))]
        return p["stem_width"], [p[f"s{i}_width"] for i in range(1, len(self.stages) + 1)]

    def genome_from_params(self, p: Mapping[str, Any]) -> Genome:
        stem, widths = self._widths(p)
        stages = [(width, [p[f"s{i}_b{j}_kernel"] for j in range(1, p[f"s{i}_depth"] + 1)])
                  for i, width in enumerate(widths, 1)]
        return _network(stem, stages, p["head_width"], act=p["act"], unit=p["unit"], groups=p["v1_groups"])

    # -- inverse ---------------------------------------------------------------------------------

    def to_params(self, genome: Genome) -> dict[str, Any]:
        inv = Inverse(self, genome)
        genome, put, fail = inv.genome, inv.put, inv.fail

        if genome.norm != Norm():
            raise fail("net", f"this space uses batch norm with PyTorch's defaults, got {genome.norm}")
        head = genome.head
        if head.hidden or head.pool != 1 or head.dropout or head.conv_classifier:
            raise fail("head", f"this space's head is an optional 1×1 conv, global pooling and a linear classifier "
                               f"(no hidden layer, no dropout), got {head}")
        stem = genome.blocks[0]
        if not (isinstance(stem, Conv) and (stem.kernel, stem.stride, stem.dilation, stem.groups, stem.separable,
                                            stem.padding, stem.bias) == (3, 2, 1, 1, False, 1, False)):
            raise fail("block 0", f"the stem must be a plain 3×3 stride-2 conv, got {stem}")
        put("act", stem.act, "block 0")
        act = stem.act
        if genome.blocks[1:2] != (_MAXPOOL,):
            got = genome.blocks[1] if len(genome.blocks) > 1 else "nothing"
            raise fail("block 1", f"the stem must be followed by 3×3 stride-2 max pooling with padding 1, got {got}")
        v1 = len(genome.blocks) > 2 and isinstance(genome.blocks[2], ShuffleV1Unit)
        unit, kind = (ShuffleV1Unit, "ShuffleNetV1") if v1 else (ShuffleUnit, "ShuffleNetV2")
        put("unit", "v1" if v1 else "v2", "block 2")
        if not v1:
            put("stem_width", stem.out, "block 0")
        if head.width and head.act != act:
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
                if type(block) is not unit or block.dilation != 1 or block.separable:
                    raise fail(where, f"only plain {kind} units belong to stages (units of one kind), got {block}")
                if depth == 0 and block.stride != 2:
                    hint = f" (is stage {i - 1} deeper than {max(self.stages[i - 2].depths)} units?)" if i > 1 else ""
                    raise fail(where, f"stage {i} must start with a stride-2 unit, got stride {block.stride}{hint}")
                if block.act != act:
                    raise fail(where, f"act={block.act!r} differs from the network's activation {act!r}")
                put(f"s{i}_b{depth + 1}_kernel", block.kernel, where)
                if v1:
                    self._v1_unit(inv, block, i, depth, where)
                elif depth == 0:
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

    def _v1_unit(self, inv: Inverse, block: ShuffleV1Unit, stage: int, depth: int, where: str) -> None:
        """Checks a ShuffleNetV1 unit against the template; the network's first one sets the groups and
        the width multiplier."""
        if stage == 1 and depth == 0:
            inv.put("v1_groups", block.groups, where)
            # (stem, stage 1) channels at each multiplier
            widths = {s: _v1_widths(block.groups, s) for s in self.v1_width_mults}
            got = (inv.genome.blocks[0].out, block.out)
            mults = [s for s, pair in widths.items() if pair == got]
            if not mults:
                raise inv.fail(where, f"a {got[0]}-channel stem and {got[1]} channels in stage 1 are not "
                                      f"ShuffleNetV1's (stem, stage 1) widths with g={block.groups} at any "
                                      f"v1_width_mult: {widths}")
            inv.put("v1_width_mult", mults[0], where)
        out = self._widths(inv.params)[1][stage - 1]
        groups = inv.params["v1_groups"]
        expected = (out, out // 4, groups, stage == 1 and depth == 0 and groups > 1)
        if (block.out, block.width, block.groups, block.dense) != expected:
            raise inv.fail(where, f"stage {stage}'s ShuffleNetV1 units have (channels, bottleneck, groups, ungrouped "
                                  f"first 1×1) = {expected}, got {block}")

    # -- size ------------------------------------------------------------------------------------

    def size(self) -> int:
        """Exact count of distinct genomes, in closed form: V2 networks plus V1 networks (their units
        differ). Every choice shows in the genome, so nothing collapses but the kernels of units beyond
        a stage's depth (unused genes), the genes of the other kind of unit (V2: the groups and width
        multiplier; V1: the stem's and stages' widths), width multipliers that give the same widths at
        the same groups, and repeated values in a choice set: a V2 stage of depth d adds
        ``widths × kernels^d``, a V1 stage ``kernels^d``, and V1 networks count each distinct (groups,
        widths) once."""
        kernels = len(set(self.kernels))
        shared = len(set(self.activations)) * len(set(self.head_widths))
        depths = [sum(kernels ** d for d in set(stage.depths)) for stage in self.stages]
        total = 0
        if "v2" in self.units:
            v2 = shared * len(set(self.stem_widths))
            for stage, n in zip(self.stages, depths):
                v2 *= len(set(stage.widths)) * n
            total += v2
        if "v1" in self.units:
            v1 = shared * len({(g, _v1_widths(g, s)) for g in self.v1_groups for s in self.v1_width_mults})
            for n in depths:
                v1 *= n
            total += v1
        return total


register_space(ShuffleSpace())
