"""The ``mobile`` and ``mobile_full`` spaces: networks for mobile budgets.

A network is a 3×3 stride-2 stem, seven stages with strides 1, 2, 2, 2, 1, 2, 1 (the stage layout of
MobileNetV2, MnasNet and EfficientNet; MobileNetV3 leaves stage 7 empty, MobileNetV3-Small stage 1 too,
MobileNetV1 stages 5 and 7), and a head: an optional 1×1 convolution to a wide feature, global pooling,
an optional hidden linear layer, dropout 0.2 and the classifier.

``mobile_full`` searches every choice of the design card (the same parameter names every trial; a
block's genes that its type does not read are sampled and unused):

* per stage: its width and depth;
* per block: its type -- inverted residual (``ir``, MBConv), fused inverted residual (``fir``,
  Fused-MBConv, EfficientNetV2), depthwise-separable convolution (``ds``, MobileNetV1) or basic
  residual block (``res``, two k×k convolutions, ResNet) -- and its kernel, dilation and activation;
  the expansion ratio (``ir``, ``fir``); groups of the 1×1 convolutions, with a channel shuffle after
  the expansion (``ir``, ShuffleNet-style); squeeze-and-excitation on or off (``ir``, ``res``);
* the stem's width and activation; the head's width (0: no 1×1 convolution), hidden layer and
  activation;
* network-wide: the normalisation (batch norm with the references' constants, group norm with 8
  groups, layer norm, or none; instance norm on request, see ``_NORMS``), the stochastic-depth rate,
  and the squeeze-and-excitation style (MobileNetV3: ``make_divisible(expanded / 4)`` channels, ReLU,
  hard sigmoid; EfficientNet: ``input / 4`` channels, SiLU, sigmoid).

``mobile``, the default of the README's command, is its MBConv part: inverted residuals only, no
dilation or groups, batch norm, narrower stages, always a head convolution (114 parameters instead of
197). At the default compute it finds better fronts: ``benchmarks/search.py`` (3 seeds, 60,000
training images a run, TPE with successive halving) gives a median normalised hypervolume of 0.212
on validation and 0.204 on test in ``mobile``, 0.192 and 0.169 in ``mobile_full`` (README,
Benchmarks), where only about 1 random network in 30 fits 300M MACs (dense k×k convolutions of fused
and residual blocks at high resolution are expensive) against 4 in 5 in ``mobile``.

The choices contain every value the references use, so that the references are points of the space.

References (torchvision's builders, reproduced parameter for parameter; the recipes below also make
the other members of each family):

* ``mobilenet_v1`` (``mobile_full`` only) -- Howard et al., "MobileNets: Efficient Convolutional Neural
  Networks for Mobile Vision Applications", 2017 (not in torchvision; the paper's 569 M mult-adds and
  4.2 M parameters).
* ``mobilenet_v2`` -- Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", 2018.
* ``mobilenet_v3_large``, ``mobilenet_v3_small`` -- Howard et al., "Searching for MobileNetV3", 2019.
* ``mnasnet1_0`` -- Tan et al., "MnasNet: Platform-Aware Neural Architecture Search for Mobile", 2019.
* ``efficientnet_b0`` -- Tan & Le, "EfficientNet: Rethinking Model Scaling for CNNs", 2019.

EfficientNetV2-S/M/L are recipes here but not points of the space: their stages are deeper (up to 25
blocks) and wider than its choices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nas import (
    Conv,
    DepthwiseSeparable,
    FusedInvertedResidual,
    Inverse,
    Genome,
    Head,
    InvertedResidual,
    Norm,
    Residual,
    Space,
    SqueezeExcite,
    make_divisible,
    register_space,
)

__all__ = [
    "FULL",
    "MobileSpace",
    "Stage",
    "efficientnet",
    "efficientnet_v2",
    "mnasnet",
    "mobilenet_v1",
    "mobilenet_v2",
    "mobilenet_v3",
]

# ----------------------------------------------------------------------------------------------
# recipes: torchvision's families as genomes


def _ir(in_channels: int, out: int, expanded: int, kernel: int, stride: int, act: str,
        se: SqueezeExcite | None = None) -> InvertedResidual:
    del in_channels  # kept in the signature so that recipes read like torchvision's config rows
    return InvertedResidual(out=out, expanded=expanded, kernel=kernel, stride=stride, act=act, se=se)


def mobilenet_v1(width_mult: float = 1.0, *, dropout: float = 0.2) -> Genome:
    """MobileNetV1 (Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
    Applications", 2017, Table 1) with width multiplier α: a 3×3 stride-2 convolution, 13 depthwise-
    separable blocks, global pooling and the classifier. torchvision has none; the paper's Table 6 gives,
    at 224×224 and 1000 classes, 569 M mult-adds and 4.2 M parameters for α = 1, 325 M and 2.6 M for
    0.75, 149 M and 1.3 M for 0.5, 41 M and 0.5 M for 0.25, which this genome has (568,740,352 MACs and
    4,231,976 parameters at α = 1, batch-norm parameters included). The dropout before the classifier
    is not the paper's (it does not change the network's cost)."""
    def ds(out: int, stride: int = 1) -> DepthwiseSeparable:
        return DepthwiseSeparable(out=int(out * width_mult), stride=stride)

    blocks: list[Any] = [Conv(out=int(32 * width_mult), stride=2), ds(64), ds(128, 2), ds(128), ds(256, 2), ds(256),
                         ds(512, 2), *[ds(512)] * 5, ds(1024, 2), ds(1024)]
    return Genome(blocks=tuple(blocks), head=Head(dropout=dropout))


def mobilenet_v2(width_mult: float = 1.0, *, dropout: float = 0.2) -> Genome:
    """torchvision's ``mobilenet_v2(width_mult=...)``."""
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1)]
    channels = make_divisible(32 * width_mult)
    blocks: list[Any] = [Conv(out=channels, kernel=3, stride=2, act="relu6")]
    for t, c, n, s in settings:
        out = make_divisible(c * width_mult)
        for i in range(n):
            blocks.append(_ir(channels, out, int(round(channels * t)), 3, s if i == 0 else 1, "relu6"))
            channels = out
    head = Head(width=make_divisible(1280 * max(1.0, width_mult)), act="relu6", dropout=dropout)
    return Genome(blocks=tuple(blocks), head=head)


_V3_LARGE = [  # in, kernel, expanded, out, se, activation, stride (torchvision's bneck_conf rows)
    (16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2), (24, 3, 72, 24, False, "RE", 1),
    (24, 5, 72, 40, True, "RE", 2), (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
    (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
    (80, 3, 184, 80, False, "HS", 1), (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
    (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1), (160, 5, 960, 160, True, "HS", 1),
]
_V3_SMALL = [
    (16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2), (24, 3, 88, 24, False, "RE", 1),
    (24, 5, 96, 40, True, "HS", 2), (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
    (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1), (48, 5, 288, 96, True, "HS", 2),
    (96, 5, 576, 96, True, "HS", 1), (96, 5, 576, 96, True, "HS", 1),
]
_V3_NORM = Norm(eps=0.001, momentum=0.01)


def mobilenet_v3(arch: str = "large", width_mult: float = 1.0, *, dropout: float = 0.2) -> Genome:
    """torchvision's ``mobilenet_v3_large`` / ``mobilenet_v3_small`` with ``width_mult``."""
    if arch not in ("large", "small"):
        raise ValueError(f"arch={arch!r} must be 'large' or 'small'")
    rows, last = (_V3_LARGE, 1280) if arch == "large" else (_V3_SMALL, 1024)
    act = {"RE": "relu", "HS": "hardswish"}
    blocks: list[Any] = [Conv(out=make_divisible(16 * width_mult), stride=2, act="hardswish")]
    for c_in, kernel, expanded, out, se, a, stride in rows:
        expanded = make_divisible(expanded * width_mult)
        squeeze = SqueezeExcite(make_divisible(expanded // 4), "relu", "hardsigmoid") if se else None
        blocks.append(_ir(c_in, make_divisible(out * width_mult), expanded, kernel, stride, act[a], squeeze))
    last_conv = 6 * blocks[-1].out
    head = Head(width=last_conv, act="hardswish", hidden=make_divisible(last * width_mult), dropout=dropout)
    return Genome(blocks=tuple(blocks), head=head, norm=_V3_NORM)


def mnasnet(alpha: float = 1.0, *, dropout: float = 0.2) -> Genome:
    """torchvision's ``MNASNet(alpha)`` (``mnasnet0_5``, ``0_75``, ``1_0``, ``1_3``)."""
    depths = [make_divisible(d * alpha) for d in (32, 16, 24, 40, 80, 96, 192, 320)]
    stacks = [(3, 2, 3, 3), (5, 2, 3, 3), (5, 2, 6, 3), (3, 1, 6, 2), (5, 2, 6, 4), (3, 1, 6, 1)]
    # stem conv, then the separable conv (depthwise + linear 1×1: an MBConv without expansion)
    blocks: list[Any] = [Conv(out=depths[0], stride=2, act="relu"),
                         _ir(depths[0], depths[1], depths[0], 3, 1, "relu")]
    channels = depths[1]
    for out, (kernel, stride, expansion, repeats) in zip(depths[2:], stacks):
        for i in range(repeats):
            blocks.append(_ir(channels, out, channels * expansion, kernel, stride if i == 0 else 1, "relu"))
            channels = out
    # torchvision's momentum is the float 1 - 0.9997, 3e-17 away from 0.0003: the same in float32
    return Genome(blocks=tuple(blocks), head=Head(width=1280, act="relu", dropout=dropout),
                  norm=Norm(momentum=0.0003))


_EFFICIENTNET = {  # name: (width_mult, depth_mult, dropout, norm)
    "efficientnet_b0": (1.0, 1.0, 0.2, Norm()),
    "efficientnet_b1": (1.0, 1.1, 0.2, Norm()),
    "efficientnet_b2": (1.1, 1.2, 0.3, Norm()),
    "efficientnet_b3": (1.2, 1.4, 0.3, Norm()),
    "efficientnet_b4": (1.4, 1.8, 0.4, Norm()),
    "efficientnet_b5": (1.6, 2.2, 0.4, Norm(eps=0.001, momentum=0.01)),
    "efficientnet_b6": (1.8, 2.6, 0.5, Norm(eps=0.001, momentum=0.01)),
    "efficientnet_b7": (2.0, 3.1, 0.5, Norm(eps=0.001, momentum=0.01)),
}


def efficientnet(name: str = "efficientnet_b0") -> Genome:
    """torchvision's ``efficientnet_b0`` ... ``efficientnet_b7`` (EfficientNet V1)."""
    if name not in _EFFICIENTNET:
        raise ValueError(f"unknown EfficientNet {name!r}; known: {', '.join(_EFFICIENTNET)}")
    width_mult, depth_mult, dropout, norm = _EFFICIENTNET[name]
    settings = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
                (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]
    channels = make_divisible(32 * width_mult)
    blocks: list[Any] = [Conv(out=channels, stride=2, act="silu")]
    for expand, kernel, stride, _, out, layers in settings:
        out = make_divisible(out * width_mult)
        for i in range(int(math.ceil(layers * depth_mult))):
            se = SqueezeExcite(max(1, channels // 4), "silu", "sigmoid")
            blocks.append(_ir(channels, out, make_divisible(channels * expand), kernel, stride if i == 0 else 1,
                              "silu", se))
            channels = out
    return Genome(blocks=tuple(blocks), head=Head(width=4 * channels, act="silu", dropout=dropout), norm=norm,
                  drop_path=0.2)


_EFFICIENTNET_V2 = {  # name: (stages as (fused, expand ratio, kernel, stride, in, out, layers), dropout)
    "efficientnet_v2_s": ([(True, 1, 3, 1, 24, 24, 2), (True, 4, 3, 2, 24, 48, 4), (True, 4, 3, 2, 48, 64, 4),
                           (False, 4, 3, 2, 64, 128, 6), (False, 6, 3, 1, 128, 160, 9),
                           (False, 6, 3, 2, 160, 256, 15)], 0.2),
    "efficientnet_v2_m": ([(True, 1, 3, 1, 24, 24, 3), (True, 4, 3, 2, 24, 48, 5), (True, 4, 3, 2, 48, 80, 5),
                           (False, 4, 3, 2, 80, 160, 7), (False, 6, 3, 1, 160, 176, 14),
                           (False, 6, 3, 2, 176, 304, 18), (False, 6, 3, 1, 304, 512, 5)], 0.3),
    "efficientnet_v2_l": ([(True, 1, 3, 1, 32, 32, 4), (True, 4, 3, 2, 32, 64, 7), (True, 4, 3, 2, 64, 96, 7),
                           (False, 4, 3, 2, 96, 192, 10), (False, 6, 3, 1, 192, 224, 19),
                           (False, 6, 3, 2, 224, 384, 25), (False, 6, 3, 1, 384, 640, 7)], 0.4),
}


def efficientnet_v2(name: str = "efficientnet_v2_s") -> Genome:
    """torchvision's ``efficientnet_v2_s``, ``_m`` and ``_l`` (Tan & Le, "EfficientNetV2: Smaller Models
    and Faster Training", 2021): Fused-MBConv stages, then MBConv stages with squeeze-and-excitation."""
    if name not in _EFFICIENTNET_V2:
        raise ValueError(f"unknown EfficientNetV2 {name!r}; known: {', '.join(_EFFICIENTNET_V2)}")
    stages, dropout = _EFFICIENTNET_V2[name]
    channels = stages[0][4]
    blocks: list[Any] = [Conv(out=channels, stride=2, act="silu")]
    for fused, expand, kernel, stride, _, out, layers in stages:
        for i in range(layers):
            expanded, s = make_divisible(channels * expand), stride if i == 0 else 1
            if fused:
                blocks.append(FusedInvertedResidual(out=out, expanded=expanded, kernel=kernel, stride=s, act="silu"))
            else:
                se = SqueezeExcite(max(1, channels // 4), "silu", "sigmoid")
                blocks.append(_ir(channels, out, expanded, kernel, s, "silu", se))
            channels = out
    return Genome(blocks=tuple(blocks), head=Head(width=1280, act="silu", dropout=dropout), norm=Norm(eps=0.001),
                  drop_path=0.2)


# ----------------------------------------------------------------------------------------------
# the space


@dataclass(frozen=True)
class Stage:
    """One stage of the template: its first block's stride and the widths and depths to choose from."""

    stride: int
    widths: tuple[int, ...]
    depths: tuple[int, ...]


# the network-wide normalisation: batch norm with the references' constants, or another kind. Instance
# norm is not a default choice: it normalises each channel of an image over its positions, and at the
# 32×32 of CIFAR the last stages of these stride-32 networks are 1×1, where it outputs zeros (PyTorch
# refuses to train it); ``MobileSpace(norms=(..., "in"))`` offers it for larger inputs
_NORMS = {
    "bn": Norm(), "bn_eps0.001_m0.01": _V3_NORM, "bn_m0.0003": Norm(momentum=0.0003),
    "gn8": Norm(kind="group", groups=8), "ln": Norm(kind="layer"), "in": Norm(kind="instance"), "none": Norm(kind="none"),
}
_SE_STYLES = ("mobilenetv3", "efficientnet")
# block types: inverted residual (MBConv), fused inverted residual (Fused-MBConv), depthwise-separable
# convolution (MobileNetV1) and basic residual block (ResNet); the genes each one reads besides its
# kernel, dilation and activation
_BLOCK_TYPES = ("ir", "fir", "ds", "res")
_USES = {"ir": ("expand", "groups", "se"), "fir": ("expand",), "ds": (), "res": ("se",)}


class MobileSpace(Space):
    """The mobile template; every choice set can be replaced (tests use tiny ones). Its defaults are the
    ``mobile`` space (MBConv blocks only); :data:`FULL` adds the rest of the design card (``mobile_full``).
    A per-block gene with a single choice is fixed, not an Optuna parameter."""

    target_resolution = 224

    def __init__(
        self,
        name: str = "mobile",
        *,
        stem_widths: tuple[int, ...] = (16, 24, 32),
        stages: tuple[Stage, ...] = (
            Stage(1, (8, 16, 24), (0, 1, 2)),
            Stage(2, (16, 24, 32), (1, 2, 3)),
            Stage(2, (24, 32, 40, 48), (1, 2, 3, 4)),
            Stage(2, (40, 56, 64, 80), (1, 2, 3, 4)),
            Stage(1, (48, 96, 112, 128), (0, 1, 2, 3, 4)),
            Stage(2, (96, 128, 160, 192), (1, 2, 3, 4)),
            Stage(1, (256, 320), (0, 1, 2)),
        ),
        block_types: tuple[str, ...] = ("ir",),
        kernels: tuple[int, ...] = (3, 5, 7),
        dilations: tuple[int, ...] = (1,),
        groups: tuple[int, ...] = (1,),
        expansions: tuple[float, ...] = (1, 2.3, 2.5, 3, 3.67, 4, 4.5, 6),
        activations: tuple[str, ...] = ("relu", "relu6", "hardswish", "silu"),
        head_widths: tuple[int, ...] = (576, 960, 1024, 1280),
        head_hidden: tuple[int, ...] = (0, 1024, 1280),
        norms: tuple[str, ...] = ("bn", "bn_eps0.001_m0.01", "bn_m0.0003"),
        drop_paths: tuple[float, ...] = (0.0, 0.2),
        se_styles: tuple[str, ...] = _SE_STYLES,
        dropout: float = 0.2,
        references: Mapping[str, Genome] | None = None,
        description: str = "inverted-residual (MBConv) networks: MobileNetV2/V3, MnasNet, EfficientNet-B0",
        family_members: bool = True,
    ) -> None:
        self.name, self.description, self.family_members = name, description, family_members
        self.stem_widths, self.stages, self.kernels = stem_widths, stages, kernels
        self.block_types, self.dilations, self.groups = block_types, dilations, groups
        self.expansions, self.activations = expansions, activations
        self.head_widths, self.head_hidden = head_widths, head_hidden
        self.norms, self.drop_paths, self.se_styles, self.dropout = norms, drop_paths, se_styles, dropout
        for i, stage in enumerate(stages):
            # a stride-1 stage must not share a width with the stage before it, or its first block
            # would be indistinguishable from one more block of that stage (two encodings, one network)
            if stage.stride == 1 and i > 0 and set(stage.widths) & set(stages[i - 1].widths):
                raise ValueError(f"stage {i + 1} (stride 1) shares widths with stage {i}: "
                                 f"{sorted(set(stage.widths) & set(stages[i - 1].widths))}")
            if stage.stride == 1 and i > 0 and 0 in stages[i - 1].depths:
                raise ValueError(f"stage {i} may be empty, so stage {i + 1} (stride 1) cannot be told apart")
        for what, values, known in (("norms", norms, _NORMS), ("block_types", block_types, _BLOCK_TYPES)):
            if not values or set(values) - set(known):
                raise ValueError(f"{what}={values!r}: unknown or none; choose from {', '.join(known)}")
        # every width must suit every choice that groups channels, so that any sample is a valid network
        # (expanded channels are multiples of 8 by make_divisible)
        divisors = set(groups) | {n.groups for key, n in _NORMS.items() if key in norms and n.kind == "group"}
        widths = set(stem_widths) | {w for stage in stages for w in stage.widths} | set(head_widths) - {0}
        bad = sorted((w, d) for w in widths for d in divisors if w % d or 8 % d)
        if bad:
            raise ValueError(f"width {bad[0][0]} cannot be split into {bad[0][1]} groups (grouped convolutions or "
                             f"group norm); use widths that are multiples of every group count {sorted(divisors)}, "
                             "and group counts that divide 8")
        if references is None:  # the hand-designed networks that are points of these choices
            candidates = {"mobilenet_v1": mobilenet_v1(), "mobilenet_v2": mobilenet_v2(),
                          "mobilenet_v3_large": mobilenet_v3("large"), "mobilenet_v3_small": mobilenet_v3("small"),
                          "mnasnet1_0": mnasnet(1.0), "efficientnet_b0": efficientnet("efficientnet_b0")}
            references = {name: genome for name, genome in candidates.items() if self._is_point(genome)}
        self._references = dict(references)

    def _is_point(self, genome: Genome) -> bool:
        try:
            self.to_params(genome)
        except ValueError:
            return False
        return True

    def torchvision_members(self) -> dict[str, tuple[Genome, str, dict[str, Any]]]:
        """The references and (with ``family_members``) the other members of their families that
        torchvision builds."""
        members = super().torchvision_members()
        if not self.family_members:
            return members
        for w in (0.5, 0.75, 1.4):
            members[f"mobilenet_v2_w{w}"] = (mobilenet_v2(w), "mobilenet_v2", {"width_mult": w})
        for w in (0.75, 1.25):
            for arch in ("large", "small"):
                members[f"mobilenet_v3_{arch}_w{w}"] = (mobilenet_v3(arch, w), f"mobilenet_v3_{arch}",
                                                        {"width_mult": w})
        for alpha, name in ((0.5, "mnasnet0_5"), (0.75, "mnasnet0_75"), (1.3, "mnasnet1_3")):
            members[name] = (mnasnet(alpha), name, {})
        for name in _EFFICIENTNET:
            members[name] = (efficientnet(name), name, {})
        for name in _EFFICIENTNET_V2:
            members[name] = (efficientnet_v2(name), name, {})
        return members

    # -- dimensions ------------------------------------------------------------------------------

    def dimensions(self) -> dict[str, tuple[Any, ...]]:
        dims: dict[str, tuple[Any, ...]] = {
            "norm": self.norms,
            "drop_path": self.drop_paths,
            "se_style": self.se_styles,
            "stem_width": self.stem_widths,
            "stem_act": self.activations,
        }
        for i, stage in enumerate(self.stages, 1):
            dims[f"s{i}_width"] = stage.widths
            dims[f"s{i}_depth"] = stage.depths
            for j in range(1, max(stage.depths) + 1):
                dims.update({f"s{i}_b{j}_{gene}": choices for gene, choices in self._block_genes().items()
                             if len(choices) > 1})
        dims["head_width"] = self.head_widths
        dims["head_hidden"] = self.head_hidden
        dims["head_act"] = self.activations
        return dims

    def _block_genes(self) -> dict[str, tuple[Any, ...]]:
        """Each block's genes and their choices (one choice: the gene is fixed, not a parameter)."""
        return {"type": self.block_types, "kernel": self.kernels, "dilation": self.dilations, "groups": self.groups,
                "expand": self.expansions, "se": (False, True), "act": self.activations}

    def _expanded(self, channels: int, ratio: float) -> int:
        return make_divisible(channels * ratio)

    def _se(self, style: str, channels: int, expanded: int) -> SqueezeExcite:
        """Squeeze-and-excitation of a block with ``channels`` inputs and ``expanded`` channels where it
        acts (an inverted residual's expansion, a residual block's output)."""
        if style == "mobilenetv3":
            return SqueezeExcite(make_divisible(expanded // 4), "relu", "hardsigmoid")
        return SqueezeExcite(max(1, channels // 4), "silu", "sigmoid")

    def _block(self, channels: int, out: int, stride: int, p: Mapping[str, Any], b: str, se_style: str) -> Any:
        """Block ``b`` (its parameters' prefix) from ``channels`` to ``out`` channels."""
        g = {gene: p[b + gene] if len(choices) > 1 else choices[0] for gene, choices in self._block_genes().items()}
        kind = g["type"]
        spatial = {"out": out, "kernel": g["kernel"], "stride": stride, "dilation": g["dilation"], "act": g["act"]}
        if kind == "ds":
            return DepthwiseSeparable(**spatial)
        if kind == "res":
            return Residual(**spatial, se=self._se(se_style, channels, out) if g["se"] else None)
        expanded = self._expanded(channels, g["expand"])
        if kind == "fir":
            return FusedInvertedResidual(**spatial, expanded=expanded)
        se = self._se(se_style, channels, expanded) if g["se"] else None
        return InvertedResidual(**spatial, expanded=expanded, se=se, groups=g["groups"])

    def genome_from_params(self, p: Mapping[str, Any]) -> Genome:
        channels = p["stem_width"]
        blocks: list[Any] = [Conv(out=channels, stride=2, act=p["stem_act"])]
        for i, stage in enumerate(self.stages, 1):
            for j in range(1, p[f"s{i}_depth"] + 1):
                b = f"s{i}_b{j}_"
                blocks.append(self._block(channels, p[f"s{i}_width"], stage.stride if j == 1 else 1, p, b,
                                          p["se_style"]))
                channels = p[f"s{i}_width"]
        head = Head(width=p["head_width"], act=p["head_act"], hidden=p["head_hidden"], dropout=self.dropout)
        return Genome(blocks=tuple(blocks), head=head, norm=_NORMS[p["norm"]], drop_path=p["drop_path"])

    # -- inverse ---------------------------------------------------------------------------------

    def to_params(self, genome: Genome) -> dict[str, Any]:
        inv = Inverse(self, genome)
        genome, put, fail = inv.genome, inv.put, inv.fail
        norm = [key for key, value in _NORMS.items() if value == genome.norm]
        put("norm", norm[0] if norm else genome.norm, "net")
        if genome.drop_path or 0.0 in self.drop_paths:  # a rate with nothing to drop is stored as 0
            put("drop_path", genome.drop_path, "net")
        if genome.head.dropout != self.dropout:
            raise fail("head", f"dropout={genome.head.dropout} (this space fixes it at {self.dropout})")
        put("head_width", genome.head.width, "head")
        head = genome.head
        if len(head.hidden) > 1 or head.pool != 1 or head.conv_classifier:
            raise fail("head", "this space's head has at most one hidden layer, global pooling and a linear "
                               f"classifier, got {head}")
        put("head_hidden", head.hidden[0] if head.hidden else 0, "head")
        if head.width or head.hidden:  # else the head has no activation, and any choice gives it
            put("head_act", head.act if head.width else head.hidden_act, "head")
        if head.width and head.hidden and head.hidden_act != head.act:
            raise fail("head", "the hidden layer's activation must be the head's")
        stem, blocks = genome.blocks[0], list(genome.blocks[1:])
        if not (isinstance(stem, Conv) and (stem.kernel, stem.stride, stem.dilation, stem.groups, stem.separable)
                == (3, 2, 1, 1, False)):
            raise fail("block 0", f"the stem must be a plain 3×3 stride-2 conv, got {stem}")
        put("stem_width", stem.out, "block 0")
        put("stem_act", stem.act, "block 0")
        genes = self._block_genes()

        def put_gene(name: str, value: Any, where: str) -> None:
            gene = name.rsplit("_", 1)[1]
            if len(genes[gene]) > 1:
                put(name, value, where)
            elif value != genes[gene][0]:
                raise fail(where, f"{gene}={value!r} (this space fixes it at {genes[gene][0]!r})")

        channels, index, styles = stem.out, 1, set()
        for i, stage in enumerate(self.stages, 1):
            depth = 0
            while blocks and depth < max(stage.depths):
                block = blocks[0]
                first = depth == 0
                stride, out = getattr(block, "stride", None), getattr(block, "out", None)
                if (stride, out in stage.widths) != (stage.stride, True) if first else (stride, out) != (1, channels):
                    break
                where = f"block {index}"
                kind = type(block).kind
                if kind not in _USES or block.separable or (kind == "res" and block.project):
                    raise fail(where, "only inverted-residual, fused, depthwise-separable and plain residual "
                                      f"blocks belong to stages, got {block}")
                b = f"s{i}_b{depth + 1}_"
                put_gene(b + "type", kind, where)
                put_gene(b + "kernel", block.kernel, where)
                put_gene(b + "dilation", block.dilation, where)
                put_gene(b + "act", block.act, where)
                if "expand" in _USES[kind]:
                    ratios = [r for r in self.expansions if self._expanded(channels, r) == block.expanded]
                    if not ratios:
                        raise fail(where, f"{block.expanded} expanded channels from {channels} match no expansion "
                                          f"ratio of {self.expansions}")
                    put_gene(b + "expand", ratios[0], where)
                if "groups" in _USES[kind]:
                    put_gene(b + "groups", block.groups, where)
                if "se" in _USES[kind]:
                    inv.params[b + "se"] = block.se is not None
                    if block.se is not None:
                        expanded = block.expanded if kind == "ir" else block.out
                        matching = {s for s in self.se_styles if self._se(s, channels, expanded) == block.se}
                        if not matching:
                            raise fail(where, f"squeeze-and-excitation {block.se} matches no style of "
                                              f"{self.se_styles}")
                        styles = matching if not styles else styles & matching
                        if not styles:
                            raise fail(where, "its squeeze-and-excitation style differs from earlier blocks'")
                if first:
                    put(f"s{i}_width", block.out, where)
                channels = block.out
                blocks.pop(0)
                depth += 1
                index += 1
            put(f"s{i}_depth", depth, f"stage {i}")
        if blocks:
            raise fail(f"block {index}", f"{blocks[0]} fits no stage of the template "
                                         f"(strides {[s.stride for s in self.stages]})")
        if styles:
            inv.params["se_style"] = next(s for s in self.se_styles if s in styles)
        return inv.done()

    # -- size ------------------------------------------------------------------------------------

    def size(self) -> int:
        """Exact count of distinct genomes, by dynamic programming over blocks. The state after a block
        is its output channels and how far stochastic depth can act: 0 before any block with a residual
        branch class (``ir``, ``fir``, ``res``), 1 after the first such block (which gets rate 0), 2
        once a later one has a branch it could drop (``res`` always; ``ir``, ``fir`` at stride 1
        with equal channels); the rate changes the network only in state 2 and is canonically 0
        otherwise. Per block, each type counts its own genes: the kernel, dilation and activation;
        expansion ratios that round to the same channels count once; groups for ``ir``;
        squeeze-and-excitation on or off for ``ir`` and ``res``. Unused genes (of other types, of empty
        stages) change nothing. With no squeeze-and-excitation block the SE style does not change the
        genome, hence ``styles × with_any_se - (styles - 1) × with_no_se``; a head without its 1×1
        convolution and hidden layer has no activation."""
        spatial = len(self.kernels) * len(self.dilations) * len(self.activations)

        def choices(kind: str, c_in: int) -> tuple[int, int]:
            """(genomes of one block over SE on and off, genomes with SE off)."""
            n = spatial
            if "expand" in _USES[kind]:
                n *= len({self._expanded(c_in, r) for r in self.expansions})
            if "groups" in _USES[kind]:
                n *= len(self.groups)
            return (2 * n if "se" in _USES[kind] else n), n

        def step(sd: int, kind: str, branch: bool) -> int:
            if kind == "ds":
                return sd
            return 2 if sd and (kind == "res" or branch) else max(sd, 1)

        # (channels, stochastic-depth state) -> (count over every SE on/off choice, count with SE off everywhere)
        state: dict[tuple[int, int], tuple[int, int]] = {
            (c, 0): (len(self.activations), len(self.activations)) for c in self.stem_widths}
        def add(into: dict[tuple[int, int], tuple[int, int]], key: tuple[int, int], a: int, n: int) -> None:
            old = into.get(key, (0, 0))
            into[key] = (old[0] + a, old[1] + n)

        for stage in self.stages:
            nxt: dict[tuple[int, int], tuple[int, int]] = {}
            for depth in stage.depths:
                for width in stage.widths if depth else (None,):
                    current = dict(state)
                    for j in range(depth):
                        after: dict[tuple[int, int], tuple[int, int]] = {}
                        for (c_in, sd), (a, n) in current.items():
                            branch = (stage.stride == 1 or j > 0) and c_in == width
                            for kind in self.block_types:
                                ka, kn = choices(kind, c_in)
                                add(after, (width, step(sd, kind, branch)), a * ka, n * kn)
                        current = after
                    for key, (a, n) in current.items():
                        add(nxt, key, a, n)
            state = nxt
        styles = len(self.se_styles)
        total = 0
        for (_, sd), (any_se, no_se) in state.items():
            drop_paths = len(set(self.drop_paths)) if sd == 2 else 1
            total += drop_paths * (styles * any_se - (styles - 1) * no_se)
        acts = len(self.activations)
        head = sum(acts if width or hidden else 1 for width in self.head_widths for hidden in self.head_hidden)
        return len(self.norms) * head * total


# the whole design card: every block type, dilation, groups, every norm but instance, no head
# convolution, and the wider stages (64 ... 1024 channels, 6 blocks in stage 4) that MobileNetV1 needs
FULL: dict[str, Any] = dict(
    stages=(
        Stage(1, (8, 16, 24, 64), (0, 1, 2)),
        Stage(2, (16, 24, 32, 128), (1, 2, 3)),
        Stage(2, (24, 32, 40, 48, 256), (1, 2, 3, 4)),
        Stage(2, (40, 56, 64, 80, 512), (1, 2, 3, 4, 6)),
        Stage(1, (48, 96, 112, 128), (0, 1, 2, 3, 4)),
        Stage(2, (96, 128, 160, 192, 1024), (1, 2, 3, 4)),
        Stage(1, (256, 320), (0, 1, 2)),
    ),
    block_types=_BLOCK_TYPES, dilations=(1, 2), groups=(1, 2, 4), head_widths=(0, 576, 960, 1024, 1280),
    norms=tuple(key for key in _NORMS if key != "in"),
    description="every choice of the design card: MBConv, Fused-MBConv, depthwise-separable and residual blocks, "
                "dilation, groups, norms; MobileNetV1/V2/V3, MnasNet, EfficientNet-B0",
    family_members=False,  # the same families as ``mobile``, whose members are checked there
)

register_space(MobileSpace())
register_space(MobileSpace("mobile_full", **FULL))
