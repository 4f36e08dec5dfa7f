"""The genome: one immutable, canonical description of a CNN architecture.

A :class:`Genome` is what a search space samples, what :func:`nas.build` turns into a network, what
:func:`nas.count` prices before any training, and what reports print and exports write out. It is a
frozen dataclass of primitives: hashable, equal by value, and canonical (fields that cannot change the
network are reset, so two genomes that build the same network are equal).

Grammar of the string form (``str(genome)`` and :meth:`Genome.parse`)
--------------------------------------------------------------------
A genome string is a sequence of *groups* separated by spaces: an optional ``net`` group, the blocks
in order, and the ``head`` group. Each group is a kind followed by tokens, joined by ``_``; a token is
a key and its value written together (``k3``, ``c24``), a flag (``sep``), or a name (activations such
as ``relu6``, pooling modes). Tokens may come in any order; ``str`` writes them in the order below and
leaves out those equal to their default. ``*N`` after a block group repeats it N times (identical
consecutive blocks are written that way).

Limits: a network has at most 4096 blocks (``*N`` included); channel counts, groups and hidden
widths are at most 65536; kernels, pooling windows, strides and dilations at most 64; paddings at
most 2048; the head's pooled side at most 64. Every reference network of every space fits many times
over (the deepest, EfficientNet-B7, has 56 blocks; the widest layer, VGG's hidden one, 4096
channels); a value over a limit is refused with the token, the value and the limit.

``net_...`` (first group, optional) -- settings of the whole network:
    ``bn``            batch normalisation (default); ``eps<float>`` (default 1e-05) and
                      ``m<float>``, its running-average momentum (default 0.1), may follow.
    ``gn<G>``         group normalisation with G groups; ``eps<float>`` may follow.
    ``ln``            layer normalisation (over channels, height and width: GroupNorm with 1 group).
    ``in``            instance normalisation (per channel: GroupNorm with one group per channel).
    ``ln2d``          layer normalisation over the channels alone, at every pixel (torchvision's
                      ``LayerNorm2d``; ConvNeXt uses it with ``eps1e-06``).
    ``nonorm``        no normalisation; convolutions then carry a bias.
    ``sd<float>``     stochastic depth: the residual branch of residual block i of n (blocks
                      ``ir``, ``fir``, ``res``, ``bot`` and ``cnx``, counted from 0) is dropped with probability
                      ``sd * i / n`` in training (EfficientNet's rule). Default 0.
    ``sdlast``        with ``sd``: the rate rises to ``sd`` at the last residual block instead,
                      ``sd * i / (n - 1)`` (ConvNeXt's rule).

Keys shared by the blocks that convolve (``conv ds ir fir res bot shufflev1 shuffle cnx``):
    ``c<int>``        output channels (required).
    ``k<int>``        kernel size (default 3); ``sep`` makes it spatially separable: a k×1
                      convolution followed by a 1×k one.
    ``s<int>``        stride (default 1).        ``d<int>``  dilation (default 1).
    activation name   (default ``relu``), one of ``relu relu6 hardswish silu gelu sigmoid tanh none``.
    Padding is "same" (``(k - 1) // 2 * d``) unless said otherwise.

``conv_...`` -- convolution, normalisation, activation (a stem, a plain layer; VGG, AlexNet, LeNet):
    ``g<int>``        groups (default 1); groups equal to the channels make it depthwise.
    ``shuf``          channel shuffle after the layer, across its groups (ShuffleNetV1).
    ``p<int>``        explicit padding (AlexNet's 11×11 uses ``p2``, LeNet's 5×5 ``p0``).
    ``bias``          a bias even before a normalisation (torchvision's VGG with batch norm).
    ``pre``           pre-activation: normalisation (of the input channels) and activation come
                      before the convolution, and no normalisation after it; the convolution then has
                      a bias only with ``bias`` (DenseNet's transition: ``conv_k1_c128_pre pool_avg``;
                      ConvNeXt's downsampling, a norm and a biased convolution:
                      ``conv_k2_s2_c192_pre_bias_none``).

``ds_...`` -- depthwise-separable convolution (MobileNetV1): depthwise k×k conv, norm, activation,
then pointwise 1×1 conv, norm, activation.

``ir_...`` -- inverted residual / MBConv (MobileNetV2, MnasNet, MobileNetV3, EfficientNet): a 1×1
expansion to ``x`` channels (left out when ``x`` equals the input channels), a depthwise k×k
convolution, optional squeeze-and-excitation, and a linear 1×1 projection to ``c`` channels; the input
is added back when the stride is 1 and input and output channels agree.
    ``x<int>``        expanded channels (required).
    ``g<int>``        groups of the 1×1 convolutions (default 1), with a channel shuffle after the
                      expansion (ShuffleNet's grouped pointwise convolutions).
    ``se<int>``       squeeze-and-excitation with that many squeezed channels; written
                      ``se<int>.<act>.<gate>`` when its activation is not ``relu`` or its gate not
                      ``sigmoid`` (for example ``se24.relu.hardsigmoid`` in MobileNetV3).

``fir_...`` -- fused inverted residual / Fused-MBConv (EfficientNetV2): a k×k convolution to ``x``
channels (norm, activation) and a linear 1×1 projection to ``c``; when ``x`` equals the input channels,
a single k×k convolution to ``c`` with its activation. The input is added back as for ``ir``.
    ``x<int>``        expanded channels (required).

``res_...`` -- basic residual block (ResNet-18/34): two k×k convolutions (the first strided), the
shortcut added, then the activation. The shortcut is the identity when the stride is 1 and the
channels agree, else a strided 1×1 convolution with norm; ``proj`` forces the projection.
``se<int>`` adds squeeze-and-excitation before the addition.

``bot_...`` -- bottleneck residual block (ResNet-50, ResNeXt, Wide ResNet): 1×1 conv to ``w``
channels, k×k conv (strided, ``g`` groups), 1×1 conv to ``c`` channels, shortcut as for ``res``.
    ``w<int>``        bottleneck width (required).   ``g<int>``  groups of the k×k conv (default 1).
    ``proj``, ``se<int>`` as for ``res``.
    ``regnet``        RegNet's bottleneck (Radosavovic et al., 2020; torchvision's ``ResBottleneckBlock``):
                      the squeeze-and-excitation acts on the ``w`` channels between the k×k and the last
                      1×1 convolution (instead of on ``c`` after it), and the projection shortcut comes
                      first among the block's modules (torchvision registers it first). It changes the
                      module order even without SE (it is kept as written: whether the shortcut projects
                      depends on the input channels, which the block does not know).

``shufflev1_...`` -- ShuffleNetV1 unit (Zhang et al., 2018): a grouped 1×1 convolution to ``w`` channels
(norm, activation) and a channel shuffle, a depthwise k×k convolution (strided; norm, no activation)
and a grouped 1×1 convolution (norm, no activation). With stride 1 the input is added (``c`` must equal
the input channels); with a larger stride a 3×3 average pooling of the input (padding 1, same stride)
is concatenated before the branch, which then gives ``c`` minus the input channels. The activation
follows the addition or the concatenation. The kernel must be odd (the branch keeps the shortcut's size).
    ``w<int>``        bottleneck channels (required; the paper's are a quarter of ``c``).
    ``g<int>``        groups of both 1×1 convolutions (default 1).
    ``dense``         the first 1×1 convolution is not grouped and no shuffle follows it (the first
                      unit of ShuffleNetV1's stage 2, whose input has only 24 channels).

``shuffle_...`` -- ShuffleNetV2 unit: with stride 1 the channels are split in two halves, one passes
and the other goes through 1×1 conv, depthwise k×k conv, 1×1 conv; with stride 2 both branches see
the whole input (one depthwise k×k + 1×1, the other as above). The halves are concatenated and
shuffled. ``c`` must be even; with stride 1 it must equal the input channels.

``cnx_...`` -- ConvNeXt block (ConvNeXt): a depthwise k×k convolution with a bias, normalisation, a
linear layer to ``x`` channels, activation, a linear layer back to ``c``, each channel scaled by a
learnt layer scale, and the input added back. ``c`` must equal the input channels and the stride is 1.
With ``ln2d`` the normalisation is the paper's LayerNorm over the channels.
    ``x<int>``        expanded channels (required; ConvNeXt uses 4 × ``c``).
    ``ls<float>``     initial value of the layer scale, from 0 to 1 (default 1e-06).
    Example (a ConvNeXt-T block): ``cnx_k7_c96_x384_gelu``.

``fire_...`` -- Fire module (SqueezeNet): 1×1 squeeze, then parallel 1×1 and 3×3 expansions,
concatenated (``c`` is their sum, not written):
    ``sq<int>``       squeeze channels (required).
    ``e<int>``        channels of each expansion, or ``e<int>.<int>`` for 1×1 and 3×3 apart (required).
    activation name.

``dense_...`` -- dense layer (DenseNet-BC): pre-activation norm, activation, 1×1 convolution to
``w`` channels, norm, activation, k×k convolution to ``gr`` new channels, appended to the input: the
output has the input's channels plus ``gr`` (``c`` is not written). A run of dense layers is a dense
block; no residual branch, so stochastic depth leaves it alone.
    ``gr<int>``       growth rate: channels the layer adds (required).
    ``w<int>``        bottleneck width, ``bn_size × gr`` in torchvision (required).
    ``k<int>``        kernel of the second convolution (default 3); activation name (default ``relu``).

``inc_...`` -- Inception module (GoogLeNet, Szegedy et al., 2015; Inception-v3's modules A to E,
Szegedy et al., 2016): parallel *branches*, each a short sequence of *steps* run from the module's
input, their outputs concatenated along the channels. One token ``b<steps>`` per branch, in order
(at least one; branch order is channel order); steps are joined by ``.``, and a step may be several
*parts* side by side, joined by ``+``, that read the same input and are concatenated (Inception-v3's
module E ends two branches with a 1×3 and a 3×1 convolution side by side). A part is
    ``<int>[k<int>[x<int>]][s<int>][v]``  a convolution (norm, activation) to that many channels,
                      kernel ``k`` (default 1; ``k1x7`` is 1 high and 7 wide), stride ``s`` (default 1);
    ``max<int>[s<int>][v]``, ``avg<int>[s<int>][v]``  pooling over that window (it keeps the channels);
    padding is "same" (``(k - 1) // 2`` on each axis) unless ``v`` ("valid") makes it 0. Every branch,
    and every part of a step, must give the same map size for every input size (checked on the
    closed form of the output size). The activation name applies to every convolution. Example,
    GoogLeNet's 3a: ``inc_b64_b96.128k3_b16.32k3_bmax3.32_relu``; Inception-v3's 7b:
    ``inc_b320_b384.384k1x3+384k3x1_b448.384k3.384k1x3+384k3x1_bavg3.192_relu``. At most
    ``MAX_BRANCHES`` branches, steps per branch and parts per step.

``pool_...`` -- pooling: ``max`` or ``avg`` (required), ``k<int>`` window (default 2), ``s<int>``
stride (default: the window), ``p<int>`` padding (default 0), ``ceil`` to round the output size up.

``head_...`` (last group, required) -- the classifier: an optional normalisation and activation of the
last feature map, an optional 1×1 convolution (with norm and activation) to a wide feature, adaptive
average pooling, an optional normalisation of the pooled features, hidden linear layers, dropout, and
the final classifier (its width is ``num_classes``, chosen when building):
    ``norm``          normalisation and activation of the last feature map, before anything else
                      (DenseNet's final ``norm5`` and ReLU; pre-activation networks end that way).
    ``c<int>``        width of the 1×1 convolution (default 0: none).
    activation name   of that convolution and of ``norm`` (default ``relu``; none without either).
    ``p<int>``        side of the pooled map (default 1: global pooling; VGG uses 7, AlexNet 6).
    ``h<int>``        a hidden linear layer, once per layer; ``h<int>.<act>`` gives their activation
                      (default: the head's activation).
    ``d<float>``      dropout (default 0): after every hidden layer and before the classifier;
                      ``dfirst`` puts it before every hidden layer instead (AlexNet's order).
    ``convcls``       SqueezeNet's classifier instead: dropout, a 1×1 convolution to the classes,
                      ReLU, global pooling (no hidden layers, ``p1``).
    ``pnorm``         the network's normalisation of the pooled features, after the pooling and
                      before the rest (ConvNeXt's LayerNorm before its classifier; needs ``p1``, not
                      ``convcls``, and a norm other than ``in``; batch norm there trains on batches of
                      2 or more). ``norm`` and ``pnorm`` may both be given: before and after pooling.

Example (MobileNetV2, abridged)::

    conv_s2_c32_relu6 ir_c16_x32_relu6 ir_s2_c24_x96_relu6 ir_c24_x144_relu6 ... head_c1280_relu6_d0.2
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

__all__ = [
    "ACTIVATIONS",
    "GATES",
    "NORMS",
    "MAX_BLOCKS",
    "MAX_BRANCHES",
    "MAX_CHANNELS",
    "MAX_DILATION",
    "MAX_KERNEL",
    "MAX_PADDING",
    "MAX_POOL",
    "MAX_STRIDE",
    "POOLS",
    "Bottleneck",
    "Conv",
    "ConvNeXtBlock",
    "Dense",
    "DepthwiseSeparable",
    "Fire",
    "FusedInvertedResidual",
    "Genome",
    "Head",
    "Inception",
    "InceptionStep",
    "InvertedResidual",
    "Norm",
    "Pool",
    "Residual",
    "ShuffleUnit",
    "ShuffleV1Unit",
    "SqueezeExcite",
    "Block",
    "as_genome",
    "make_divisible",
]

ACTIVATIONS = ("relu", "relu6", "hardswish", "silu", "gelu", "sigmoid", "tanh", "none")
GATES = ("sigmoid", "hardsigmoid")
NORMS = ("batch", "group", "layer", "instance", "layer2d", "none")
POOLS = ("max", "avg")


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never more than 10% below it.

    The rule of the TensorFlow MobileNet code, used by torchvision's MobileNets, MnasNet and
    EfficientNet to derive channel counts from width multipliers.
    """
    min_value = divisor if min_value is None else min_value
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


# ----------------------------------------------------------------------------------------------
# limits: generous, so that every reference network of every space (EfficientNet-B7, VGG-19,
# ResNeXt-101 and the other torchvision members included) fits many times over, but finite, so that a
# typo or a hostile string such as "ir_c16_x64*99999999999" or "s99999999999" is refused at once
# instead of exhausting memory or making the cost model scan for seconds.

MAX_BLOCKS = 4096  # blocks in a network; the deepest reference, EfficientNet-B7, has 56
MAX_CHANNELS = 65536  # any channel count, group count or hidden width; the largest reference one is 4096
MAX_KERNEL = 64  # kernel and pooling window side; AlexNet's 11 is the largest reference one
MAX_STRIDE = 64  # AlexNet's 4 is the largest reference stride
MAX_DILATION = 64  # the resnet space's 2 is the largest reference dilation
MAX_PADDING = 2048  # above the "same" padding of the largest kernel at the largest dilation (31 × 64)
MAX_POOL = 64  # side of the head's pooled map; VGG's 7 is the largest reference one
MAX_BRANCHES = 64  # branches of an Inception module, steps per branch, parts per step; the references use 4, 5, 2

_CHANNEL_FIELDS = ("out", "expanded", "width", "groups", "squeeze", "expand1", "expand3", "channels", "hidden",
                   "growth")
_LIMITS: dict[str, int] = {
    **dict.fromkeys(_CHANNEL_FIELDS, MAX_CHANNELS),
    "kernel": MAX_KERNEL, "stride": MAX_STRIDE, "dilation": MAX_DILATION, "padding": MAX_PADDING, "pool": MAX_POOL,
}


# ----------------------------------------------------------------------------------------------
# validation helpers: TypeError for a wrong type, ValueError for a wrong value, value in message


def _check_int(owner: str, name: str, value: Any, *, minimum: int = 1) -> None:
    """An int of at least ``minimum`` and at most the limit of its field (:data:`_LIMITS`, by name)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{owner}.{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{owner}.{name}={value} must be >= {minimum}")
    maximum = _LIMITS.get(name)
    if maximum is not None and value > maximum:
        raise ValueError(f"{owner}.{name}={value} is over the limit of {maximum}; use a value from {minimum} "
                         f"to {maximum}")


def _check_bool(owner: str, name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}.{name} must be a bool, got {value!r}")


def _check_float(owner: str, name: str, value: Any, *, low: float, high: float, high_open: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner}.{name} must be a float, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not (low <= value < high if high_open else low <= value <= high) or math.isnan(value):
        bracket = ")" if high_open else "]"
        raise ValueError(f"{owner}.{name}={value} must be in [{low}, {high}{bracket}")
    return value


def _check_choice(owner: str, name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{owner}.{name}={value!r} is not one of {', '.join(choices)}")


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


# ----------------------------------------------------------------------------------------------
# genes


@dataclass(frozen=True)
class SqueezeExcite:
    """Squeeze-and-excitation (Hu et al., 2018): pool, 1×1 conv to ``channels``, ``act``, 1×1 conv
    back, ``gate``; the result scales the input channel-wise."""

    channels: int
    act: str = "relu"
    gate: str = "sigmoid"

    def __post_init__(self) -> None:
        _check_int("SqueezeExcite", "channels", self.channels)
        _check_choice("SqueezeExcite", "act", self.act, ACTIVATIONS)
        _check_choice("SqueezeExcite", "gate", self.gate, GATES)


@dataclass(frozen=True)
class _Spatial:
    """Fields shared by every block with a k×k (possibly separable) convolution."""

    out: int
    kernel: int = 3
    stride: int = 1
    dilation: int = 1
    separable: bool = False
    act: str = "relu"

    kind: ClassVar[str] = ""
    residual: ClassVar[bool] = False  # counted for stochastic depth

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for name in ("out", "kernel", "stride", "dilation"):
            _check_int(owner, name, getattr(self, name))
        _check_bool(owner, "separable", self.separable)
        _check_choice(owner, "act", self.act, ACTIVATIONS)
        if self.kernel == 1:
            # a 1×1 kernel has nothing to separate or dilate: keep one encoding of that network
            _set(self, "separable", False)
            _set(self, "dilation", 1)
        se = getattr(self, "se", None)
        if se is not None and not isinstance(se, SqueezeExcite):
            raise TypeError(f"{owner}.se must be a SqueezeExcite or None, got {se!r}")

    def out_channels(self, in_channels: int) -> int:
        return self.out


@dataclass(frozen=True)
class Conv(_Spatial):
    """Convolution, normalisation, activation (``torchvision.ops.Conv2dNormActivation``); with ``pre``,
    normalisation and activation first (pre-activation, as DenseNet's transitions, Huang et al., 2017),
    and ``bias`` the convolution's own (ConvNeXt's downsampling layers, Liu et al., 2022: a norm, no
    activation, a convolution with a bias)."""

    groups: int = 1
    shuffle: bool = False
    padding: int | None = None
    bias: bool = False
    pre: bool = False  # pre-activation: norm and activation before the convolution
    kind: ClassVar[str] = "conv"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_int("Conv", "groups", self.groups)
        _check_bool("Conv", "shuffle", self.shuffle)
        _check_bool("Conv", "bias", self.bias)
        _check_bool("Conv", "pre", self.pre)
        if self.padding is None:
            _set(self, "padding", (self.kernel - 1) // 2 * self.dilation)
        _check_int("Conv", "padding", self.padding, minimum=0)
        if self.groups == 1:
            _set(self, "shuffle", False)  # nothing to shuffle across


@dataclass(frozen=True)
class DepthwiseSeparable(_Spatial):
    """Depthwise k×k convolution then pointwise 1×1 convolution, each with norm and activation
    (MobileNetV1, Howard et al., 2017)."""

    kind: ClassVar[str] = "ds"


@dataclass(frozen=True)
class _Expanded(_Spatial):
    """Fields shared by the inverted residuals, fused or not: the expanded channels."""

    expanded: int = 0
    residual: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_int(type(self).__name__, "expanded", self.expanded)


@dataclass(frozen=True)
class InvertedResidual(_Expanded):
    """Inverted residual with linear bottleneck, MBConv (MobileNetV2, Sandler et al., 2018; with
    squeeze-and-excitation as in MnasNet, MobileNetV3 and EfficientNet). ``groups`` makes its 1×1
    convolutions grouped, with a channel shuffle after the expansion (ShuffleNet, Zhang et al., 2018)."""

    se: SqueezeExcite | None = None
    groups: int = 1
    kind: ClassVar[str] = "ir"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_int("InvertedResidual", "groups", self.groups)


@dataclass(frozen=True)
class FusedInvertedResidual(_Expanded):
    """Fused inverted residual, Fused-MBConv (EfficientNetV2, Tan & Le, 2021): a k×k convolution to
    ``expanded`` channels (it does the expansion and the spatial work of MBConv's 1×1 and depthwise
    convolutions at once) and a linear 1×1 projection to ``out``; with ``expanded`` equal to the input
    channels, a single k×k convolution to ``out`` with its activation. The input is added back when the
    stride is 1 and input and output channels agree."""

    kind: ClassVar[str] = "fir"


@dataclass(frozen=True)
class ConvNeXtBlock(_Expanded):
    """ConvNeXt block (Liu et al., "A ConvNet for the 2020s", CVPR 2022; torchvision's ``CNBlock``): a
    depthwise k×k convolution with a bias (the paper's 7×7), normalisation (the paper's LayerNorm over
    the channels), a linear layer to ``expanded`` channels (the paper's inverted bottleneck, 4×), the
    activation (GELU), a linear layer back, a per-channel layer scale initialised to ``layer_scale``
    (Touvron et al., 2021; the paper's 1e-6), and the input added back. It keeps its channels and
    resolution: ``out`` must equal the input channels and ``stride`` is 1."""

    layer_scale: float = 1e-6
    kind: ClassVar[str] = "cnx"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.stride != 1:
            raise ValueError(f"ConvNeXtBlock.stride={self.stride} must be 1: the block adds its input back "
                             "(downsample with a conv block before it)")
        _set(self, "layer_scale", _check_float("ConvNeXtBlock", "layer_scale", self.layer_scale, low=0.0, high=1.0,
                                               high_open=False))


@dataclass(frozen=True)
class Residual(_Spatial):
    """Basic residual block, two k×k convolutions (ResNet, He et al., 2016)."""

    se: SqueezeExcite | None = None
    project: bool = False
    kind: ClassVar[str] = "res"
    residual: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_bool(type(self).__name__, "project", self.project)


@dataclass(frozen=True)
class Bottleneck(Residual):
    """Bottleneck residual block, 1×1 - k×k (grouped) - 1×1 (ResNet-50, He et al., 2016; ResNeXt, Xie
    et al., 2017; Wide ResNet, Zagoruyko & Komodakis, 2016). ``regnet`` arranges it as RegNet's
    (Radosavovic et al., 2020): squeeze-and-excitation on ``width`` before the last 1×1 convolution,
    projection shortcut registered first."""

    width: int = 0
    groups: int = 1
    regnet: bool = False
    kind: ClassVar[str] = "bot"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_int("Bottleneck", "width", self.width)
        _check_int("Bottleneck", "groups", self.groups)
        _check_bool("Bottleneck", "regnet", self.regnet)
        if self.width % self.groups:
            raise ValueError(f"Bottleneck.groups={self.groups} must divide width={self.width}")


@dataclass(frozen=True)
class ShuffleV1Unit(_Spatial):
    """ShuffleNetV1 unit (Zhang et al., 2018, Figure 2 (b) and (c)): grouped 1×1 convolution to
    ``width`` channels, channel shuffle, depthwise k×k convolution, grouped 1×1 convolution; the input
    is added (stride 1) or, average-pooled, concatenated (larger strides). ``dense`` leaves the first
    1×1 convolution ungrouped (and unshuffled), as in the first unit of the paper's stage 2."""

    width: int = 0
    groups: int = 1
    dense: bool = False
    kind: ClassVar[str] = "shufflev1"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_int("ShuffleV1Unit", "width", self.width)
        _check_int("ShuffleV1Unit", "groups", self.groups)
        _check_bool("ShuffleV1Unit", "dense", self.dense)
        if self.kernel % 2 == 0:
            raise ValueError(f"ShuffleV1Unit.kernel={self.kernel} must be odd: with an even kernel the branch "
                             f"would not keep the size of its shortcut")
        if self.width % self.groups:
            raise ValueError(f"ShuffleV1Unit.groups={self.groups} must divide width={self.width}")
        if self.groups == 1:
            _set(self, "dense", False)  # nothing is grouped: the flag cannot change the network

    def branch_out(self, in_channels: int) -> int:
        """Channels of the branch: all of them with stride 1, those the concatenation adds otherwise."""
        return self.out if self.stride == 1 else self.out - in_channels


@dataclass(frozen=True)
class ShuffleUnit(_Spatial):
    """ShuffleNetV2 unit: channel split, two branches, concatenation, channel shuffle (Ma et al., 2018)."""

    kind: ClassVar[str] = "shuffle"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.out % 2:
            raise ValueError(f"ShuffleUnit.out={self.out} must be even (two halves)")


@dataclass(frozen=True)
class Fire:
    """Fire module: 1×1 squeeze, parallel 1×1 and 3×3 expansions, concatenated (SqueezeNet,
    Iandola et al., 2016)."""

    squeeze: int
    expand1: int
    expand3: int
    act: str = "relu"
    kind: ClassVar[str] = "fire"
    residual: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for name in ("squeeze", "expand1", "expand3"):
            _check_int("Fire", name, getattr(self, name))
        _check_choice("Fire", "act", self.act, ACTIVATIONS)

    @property
    def out(self) -> int:
        return self.expand1 + self.expand3

    def out_channels(self, in_channels: int) -> int:
        return self.out


@dataclass(frozen=True)
class Dense:
    """Dense layer of DenseNet-BC (Huang et al., 2017, "Densely Connected Convolutional Networks"):
    norm, act, 1×1 conv to ``width``, norm, act, k×k conv to ``growth`` channels, concatenated to the
    input. DenseNet-121 uses growth 32 and width 128 (``bn_size`` 4)."""

    growth: int
    width: int
    kernel: int = 3
    act: str = "relu"
    kind: ClassVar[str] = "dense"
    residual: ClassVar[bool] = False  # a concatenation, not a residual branch: stochastic depth skips it

    def __post_init__(self) -> None:
        for name in ("growth", "width", "kernel"):
            _check_int("Dense", name, getattr(self, name))
        _check_choice("Dense", "act", self.act, ACTIVATIONS)

    def out_channels(self, in_channels: int) -> int:
        return in_channels + self.growth


@dataclass(frozen=True)
class Pool:
    """Max or average pooling over ``kernel``×``kernel`` windows (``stride`` 0 means the window)."""

    mode: str
    kernel: int = 2
    stride: int = 0
    padding: int = 0
    ceil: bool = False
    kind: ClassVar[str] = "pool"
    residual: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_choice("Pool", "mode", self.mode, POOLS)
        _check_int("Pool", "kernel", self.kernel)
        if self.stride == 0:
            _set(self, "stride", self.kernel)
        _check_int("Pool", "stride", self.stride)
        _check_int("Pool", "padding", self.padding, minimum=0)
        _check_bool("Pool", "ceil", self.ceil)
        if self.padding > self.kernel // 2:
            raise ValueError(f"Pool.padding={self.padding} must be at most half the kernel ({self.kernel})")

    def out_channels(self, in_channels: int) -> int:
        return in_channels


@dataclass(frozen=True)
class InceptionStep:
    """One part of a step of an :class:`Inception` branch: a convolution (``mode="conv"``, with the
    module's norm and activation) to ``out`` channels, or ``max``/``avg`` pooling (``out`` is 0: it
    keeps the channels), over a ``kernel`` of (height, width), with ``stride``; padding "same",
    ``(k - 1) // 2`` per axis, unless ``valid`` (padding 0). Pooling windows are square."""

    mode: str = "conv"
    out: int = 0
    kernel: tuple[int, int] = (1, 1)
    stride: int = 1
    valid: bool = False

    def __post_init__(self) -> None:
        _check_choice("InceptionStep", "mode", self.mode, ("conv",) + POOLS)
        kernel = self.kernel
        if isinstance(kernel, int) and not isinstance(kernel, bool):
            kernel = (kernel, kernel)
        if isinstance(kernel, list):
            kernel = tuple(kernel)
        if not isinstance(kernel, tuple) or len(kernel) != 2:
            raise TypeError(f"InceptionStep.kernel must be an int or a (height, width) tuple, got {self.kernel!r}")
        for side in kernel:
            _check_int("InceptionStep", "kernel", side)
        _check_int("InceptionStep", "stride", self.stride)
        _check_bool("InceptionStep", "valid", self.valid)
        if self.mode == "conv":
            _check_int("InceptionStep", "out", self.out)
        elif self.out:
            raise ValueError(f"InceptionStep.out={self.out}: pooling keeps the channels; leave out at 0")
        elif kernel[0] != kernel[1]:
            raise ValueError(f"InceptionStep.kernel={kernel}: pooling windows are square")
        _set(self, "kernel", kernel)
        if kernel == (1, 1):
            _set(self, "valid", False)  # nothing to pad: one encoding

    @property
    def padding(self) -> tuple[int, int]:
        return (0, 0) if self.valid else ((self.kernel[0] - 1) // 2, (self.kernel[1] - 1) // 2)

    def out_channels(self, in_channels: int) -> int:
        return self.out if self.mode == "conv" else in_channels


def _map_size(form: tuple[int, int], step: InceptionStep, axis: int) -> tuple[int, int]:
    """The output side of a chain of windows, ``floor((n + a) / m)`` for input side ``n``, as ``(a, m)``,
    after one more window: ``floor((floor((n + a) / m) + 2p - k) / s) + 1`` is
    ``floor((n + a + m (2p - k + s)) / (m s))``. Two chains give the same side for every input side
    exactly when their forms are equal."""
    a, m = form
    return a + m * (2 * step.padding[axis] - step.kernel[axis] + step.stride), m * step.stride


@dataclass(frozen=True)
class Inception:
    """Inception module: parallel branches concatenated along the channels (GoogLeNet, Szegedy et al.,
    2015; Inception-v3, Szegedy et al., 2016). ``branches`` holds, per branch, its steps in order;
    each step is a tuple of :class:`InceptionStep` side by side (usually one) that read the step's
    input and are concatenated. ``act`` is the activation of every convolution."""

    branches: tuple[tuple[tuple[InceptionStep, ...], ...], ...]
    act: str = "relu"
    kind: ClassVar[str] = "inc"
    residual: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_choice("Inception", "act", self.act, ACTIVATIONS)

        def tuples(value: Any, what: str) -> tuple:
            if isinstance(value, list):
                value = tuple(value)
            if not isinstance(value, tuple) or not value:
                raise TypeError(f"Inception.{what} must be a non-empty tuple, got {value!r}")
            if len(value) > MAX_BRANCHES:
                raise ValueError(f"Inception.{what} has {len(value)} entries, over the limit of {MAX_BRANCHES}")
            return value

        branches = tuple(tuple(tuple(step) if isinstance(step, (tuple, list)) else (step,)
                               for step in tuples(branch, "branches[i]"))
                         for branch in tuples(self.branches, "branches"))
        forms = []
        for i, branch in enumerate(branches):
            form = ((0, 1), (0, 1))
            for j, step in enumerate(branch):
                tuples(step, f"branches[{i}][{j}]")
                ends = set()
                for part in step:
                    if not isinstance(part, InceptionStep):
                        raise TypeError(f"Inception.branches[{i}][{j}] must hold InceptionSteps, got {part!r}")
                    ends.add(tuple(_map_size(form[axis], part, axis) for axis in (0, 1)))
                if len(ends) > 1:
                    raise ValueError(f"Inception branch {i}, step {j}: its parts give maps of different sizes")
                form = ends.pop()
            forms.append(form)
        for i, form in enumerate(forms):
            if form != forms[0]:
                raise ValueError(f"Inception: branches 0 and {i} give maps of different sizes for some inputs; match "
                                 "their strides, kernels and paddings")
        if not any(part.mode == "conv" for branch in branches for step in branch for part in step):
            raise ValueError("Inception: at least one part must be a convolution")
        _set(self, "branches", branches)

    def out_channels(self, in_channels: int) -> int:
        total = 0
        for branch in self.branches:
            channels = in_channels
            for step in branch:
                channels = sum(part.out_channels(channels) for part in step)
            total += channels
        return total


Block = Union[Conv, DepthwiseSeparable, InvertedResidual, FusedInvertedResidual, Residual, Bottleneck, ShuffleUnit,
              ShuffleV1Unit, Fire, Dense, Pool, Inception, ConvNeXtBlock]
BLOCK_TYPES: dict[str, type] = {cls.kind: cls for cls in (Conv, DepthwiseSeparable, InvertedResidual,
                                                          FusedInvertedResidual, Residual, Bottleneck, ShuffleUnit,
                                                          ShuffleV1Unit, Fire, Dense, Pool, Inception, ConvNeXtBlock)}


@dataclass(frozen=True)
class Head:
    """Classifier head: optional norm and ``act`` of the last feature map (``norm_act``, DenseNet's),
    optional 1×1 conv to ``width`` (norm, ``act``), adaptive average pooling to
    ``pool``×``pool``, with ``pooled_norm`` the network's normalisation of the pooled features
    (ConvNeXt's), ``hidden`` linear layers (``hidden_act``), dropout, linear classifier; or, with
    ``conv_classifier``, SqueezeNet's dropout, 1×1 conv to the classes, ReLU, global pooling."""

    width: int = 0
    act: str = "relu"
    pool: int = 1
    hidden: tuple[int, ...] = ()
    hidden_act: str = ""
    dropout: float = 0.0
    dropout_first: bool = False
    conv_classifier: bool = False
    norm_act: bool = False
    pooled_norm: bool = False

    def __post_init__(self) -> None:
        hidden = self.hidden
        if isinstance(hidden, int) and not isinstance(hidden, bool):
            hidden = (hidden,) if hidden else ()  # Head(hidden=1280) reads as one hidden layer
        if isinstance(hidden, list):
            hidden = tuple(hidden)
        if not isinstance(hidden, tuple):
            raise TypeError(f"Head.hidden must be a tuple of ints, got {self.hidden!r}")
        for width in hidden:
            _check_int("Head", "hidden", width)
        _check_int("Head", "width", self.width, minimum=0)
        _check_int("Head", "pool", self.pool)
        _check_choice("Head", "act", self.act, ACTIVATIONS)
        hidden_act = self.hidden_act or self.act
        _check_choice("Head", "hidden_act", hidden_act, ACTIVATIONS)
        dropout = _check_float("Head", "dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        _check_bool("Head", "dropout_first", self.dropout_first)
        _check_bool("Head", "conv_classifier", self.conv_classifier)
        _check_bool("Head", "norm_act", self.norm_act)
        _check_bool("Head", "pooled_norm", self.pooled_norm)
        if self.pooled_norm and (self.conv_classifier or self.pool != 1):
            raise ValueError("Head.pooled_norm normalises the globally pooled features: it needs pool=1 and no "
                             f"conv_classifier, got pool={self.pool}, conv_classifier={self.conv_classifier}")
        if self.conv_classifier and (hidden or self.pool != 1):
            raise ValueError("Head.conv_classifier (SqueezeNet's) takes no hidden layers and pool=1, got "
                             f"hidden={hidden}, pool={self.pool}")
        # canonical form: genes that cannot change the network take their defaults
        _set(self, "hidden", hidden)
        _set(self, "act", self.act if self.width or self.norm_act else "relu")
        _set(self, "hidden_act", hidden_act if hidden else "relu")
        _set(self, "dropout", dropout)
        _set(self, "dropout_first", self.dropout_first and bool(hidden) and dropout > 0)


@dataclass(frozen=True)
class Norm:
    """Normalisation used after every convolution: ``kind`` in :data:`NORMS`, its ``eps``, the
    running-average ``momentum`` (batch norm only) and ``groups`` (group norm only)."""

    kind: str = "batch"
    eps: float = 1e-5
    momentum: float = 0.1
    groups: int = 0

    def __post_init__(self) -> None:
        _check_choice("Norm", "kind", self.kind, NORMS)
        eps = _check_float("Norm", "eps", self.eps, low=0.0, high=1.0, high_open=True)
        momentum = _check_float("Norm", "momentum", self.momentum, low=0.0, high=1.0, high_open=False)
        if eps <= 0 and self.kind != "none":
            raise ValueError(f"Norm.eps={eps} must be > 0")
        if self.kind == "group":
            _check_int("Norm", "groups", self.groups)
        elif self.groups:
            raise ValueError(f"Norm.groups={self.groups} only applies to kind='group', not {self.kind!r}")
        if self.kind == "group" and self.groups == 1:
            _set(self, "kind", "layer")  # GroupNorm with one group is layer norm
            _set(self, "groups", 0)
        if self.kind != "batch":
            momentum = 0.1
        if self.kind == "none":
            eps = 1e-5
        _set(self, "eps", eps)
        _set(self, "momentum", momentum)


@dataclass(frozen=True)
class Genome:
    """A CNN architecture: ``blocks`` (the feature extractor, in order), the ``head``, the network-wide
    ``norm``, the stochastic-depth rate ``drop_path`` and its rule (``drop_path_to_last``: residual block
    i of n gets ``drop_path * i / (n - 1)``, ConvNeXt's rule, instead of ``drop_path * i / n``,
    EfficientNet's). See the module docstring for the grammar.

    Example:
        >>> g = Genome.parse("conv_k3_s2_c16_hardswish ir_c16_x64_se16_relu head_c64_d0.1")
        >>> Genome.parse(str(g)) == g
        True
    """

    blocks: tuple[Block, ...]
    head: Head = field(default_factory=Head)
    norm: Norm = field(default_factory=Norm)
    drop_path: float = 0.0
    drop_path_to_last: bool = False

    def __post_init__(self) -> None:
        blocks = self.blocks
        if isinstance(blocks, list):
            blocks = tuple(blocks)
        if not isinstance(blocks, tuple):
            raise TypeError(f"Genome.blocks must be a tuple of blocks, got {type(blocks).__name__}")
        if not blocks:
            raise ValueError("Genome.blocks is empty: a network needs at least one block")
        if len(blocks) > MAX_BLOCKS:
            raise ValueError(f"Genome.blocks has {len(blocks)} blocks, over the limit of {MAX_BLOCKS}; use at most "
                             f"{MAX_BLOCKS}")
        for i, block in enumerate(blocks):
            if type(block) not in BLOCK_TYPES.values():
                raise TypeError(f"Genome.blocks[{i}] must be one of {', '.join(BLOCK_TYPES)}, got {block!r}")
        if all(isinstance(b, Pool) for b in blocks):
            raise ValueError("Genome.blocks holds only pooling: a network needs at least one block that convolves")
        if not isinstance(self.head, Head):
            raise TypeError(f"Genome.head must be a Head, got {self.head!r}")
        if not isinstance(self.norm, Norm):
            raise TypeError(f"Genome.norm must be a Norm, got {self.norm!r}")
        head = self.head
        if self.norm.kind == "none":  # every convolution has a bias then: the flag says nothing
            blocks = tuple(dataclasses.replace(b, bias=False) if isinstance(b, Conv) and b.bias else b
                           for b in blocks)
            # with neither norm nor activation, a pre-activation is nothing: the same network without it
            blocks = tuple(dataclasses.replace(b, pre=False) if isinstance(b, Conv) and b.pre and b.act == "none"
                           else b for b in blocks)
            if head.norm_act and head.act == "none":
                head = dataclasses.replace(head, norm_act=False)
            head = dataclasses.replace(head, pooled_norm=False)  # nothing normalises the pooled features
        if head.pooled_norm and self.norm.kind == "instance":
            raise ValueError("Head.pooled_norm with instance normalisation would normalise each pooled feature alone "
                             "(to a constant); use another norm or no pooled norm")
        drop_path = _check_float("Genome", "drop_path", self.drop_path, low=0.0, high=1.0, high_open=True)
        _check_bool("Genome", "drop_path_to_last", self.drop_path_to_last)
        if not _drops_paths(blocks):
            drop_path = 0.0  # no residual branch it could drop: the rate cannot change the network
        _set(self, "blocks", blocks)
        _set(self, "head", head)
        _set(self, "drop_path", drop_path)
        _set(self, "drop_path_to_last", self.drop_path_to_last and drop_path > 0)

    def channels(self, in_channels: int = 3) -> tuple[int, ...]:
        """The input channels of each block for an image with ``in_channels`` channels, after checking
        what only the channel flow can tell: groups that divide the channels, group-norm groups,
        ShuffleNet halves."""
        _check_int("build/count argument", "in_channels", in_channels)
        result = []
        for i, block in enumerate(self.blocks):
            result.append(in_channels)
            where = f"block {i} ({_format_block(block)})"
            out = block.out_channels(in_channels)
            if isinstance(block, Conv) and (in_channels % block.groups or out % block.groups):
                raise ValueError(f"{where}: groups={block.groups} must divide in_channels={in_channels} and "
                                 f"out_channels={out}")
            grouped = (in_channels, block.expanded, out) if isinstance(block, InvertedResidual) else ()
            if any(c % block.groups for c in grouped):
                raise ValueError(f"{where}: groups={block.groups} must divide in_channels={in_channels}, "
                                 f"expanded={block.expanded} and out_channels={out}")
            if isinstance(block, (ShuffleUnit, ShuffleV1Unit)) and block.stride == 1 and in_channels != out:
                raise ValueError(f"{where}: a stride-1 ShuffleNet unit keeps its channels, but gets "
                                 f"{in_channels} and gives {out}; use stride 2 to change them")
            if isinstance(block, ShuffleV1Unit):
                if block.stride > 1 and out <= in_channels:
                    raise ValueError(f"{where}: a strided ShuffleNetV1 unit concatenates its {in_channels} input "
                                     f"channels with its branch, so its output channels must exceed them, got {out}")
                grouped = {"in_channels": 0 if block.dense else in_channels, "width": block.width,
                           "branch channels": block.branch_out(in_channels)}
                bad = {name: c for name, c in grouped.items() if c % block.groups}
                if bad:
                    name, channels = next(iter(bad.items()))
                    raise ValueError(f"{where}: groups={block.groups} must divide the grouped convolutions' "
                                     f"{name}={channels}")
            if isinstance(block, ConvNeXtBlock) and in_channels != out:
                raise ValueError(f"{where}: a ConvNeXt block keeps its channels, but gets {in_channels} and "
                                 f"gives {out}; change them with a conv block before it")
            if self.norm.kind == "group":
                for channels in _normalised(block, in_channels):
                    if channels % self.norm.groups:
                        raise ValueError(f"{where}: group norm with groups={self.norm.groups} must divide its "
                                         f"{channels} channels")
            in_channels = out
        if self.norm.kind == "group" and self.head.width % self.norm.groups:
            raise ValueError(f"head: group norm with groups={self.norm.groups} must divide its "
                             f"{self.head.width} channels")
        if self.norm.kind == "group" and self.head.norm_act and in_channels % self.norm.groups:
            raise ValueError(f"head: group norm with groups={self.norm.groups} must divide the {in_channels} "
                             "channels of the last feature map it normalises (norm)")
        pooled = self.head.width or in_channels
        if self.norm.kind == "group" and self.head.pooled_norm and pooled % self.norm.groups:
            raise ValueError(f"head: group norm with groups={self.norm.groups} must divide the {pooled} pooled "
                             "channels it normalises (pnorm)")
        return tuple(result)

    def out_channels(self, in_channels: int = 3) -> int:
        """Channels of the last feature map (before the head)."""
        for block in self.blocks:
            in_channels = block.out_channels(in_channels)
        return in_channels

    # -- string form ---------------------------------------------------------------------------

    def __str__(self) -> str:
        net = _format_net(self)
        groups = [net] if net != "net_bn" else []
        run: list[str] = []
        for block in self.blocks:
            text = _format_block(block)
            if run and run[-1].split("*")[0] == text:
                n = int(run[-1].split("*")[1]) if "*" in run[-1] else 1
                run[-1] = f"{text}*{n + 1}"
            else:
                run.append(text)
        return " ".join(groups + run + [_format_head(self.head)])

    @classmethod
    def parse(cls, text: str) -> Genome:
        """Parse the string form (see the module docstring). Raises ``ValueError`` naming the bad
        token and the whole string."""
        if not isinstance(text, str):
            raise TypeError(f"Genome.parse expects a str, got {type(text).__name__}")
        return _Parser(text).parse()

    # -- JSON ----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` inverts it."""
        head = dataclasses.asdict(self.head)
        head["hidden"] = list(head["hidden"])
        return {
            "format": "nas.genome/1",
            "norm": dataclasses.asdict(self.norm),
            "drop_path": self.drop_path,
            "drop_path_to_last": self.drop_path_to_last,
            "blocks": [{"type": block.kind, **dataclasses.asdict(block)} for block in self.blocks],
            "head": head,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Genome:
        if not isinstance(data, dict):
            raise TypeError(f"Genome.from_dict expects a dict, got {type(data).__name__}")
        if data.get("format") != "nas.genome/1":
            raise ValueError(f"unknown genome format {data.get('format')!r}; expected 'nas.genome/1'")
        blocks = []
        for i, entry in enumerate(data["blocks"]):
            entry = dict(entry)
            kind = entry.pop("type", None)
            if kind not in BLOCK_TYPES:
                raise ValueError(f"blocks[{i}] has type {kind!r}; known types: {', '.join(BLOCK_TYPES)}")
            if entry.get("se") is not None:
                entry["se"] = SqueezeExcite(**entry["se"])
            if kind == "inc":
                entry["branches"] = tuple(tuple(tuple(InceptionStep(**part) for part in step) for step in branch)
                                          for branch in entry["branches"])
            blocks.append(BLOCK_TYPES[kind](**entry))
        head = dict(data["head"])
        head["hidden"] = tuple(head.get("hidden", ()))
        return cls(blocks=tuple(blocks), head=Head(**head), norm=Norm(**data["norm"]), drop_path=data["drop_path"],
                   drop_path_to_last=data.get("drop_path_to_last", False))

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: str) -> Genome:
        return cls.from_dict(json.loads(text))


def as_genome(genome: Genome | str) -> Genome:
    """``genome`` itself, or the genome its string form describes."""
    if isinstance(genome, str):
        return Genome.parse(genome)
    if not isinstance(genome, Genome):
        raise TypeError(f"expected a nas.Genome or a genome string, got {type(genome).__name__}")
    return genome


def _normalised(block: Block, in_channels: int) -> list[int]:
    """Channel counts of the feature maps a block normalises."""
    if isinstance(block, Pool):
        return []
    if isinstance(block, Fire):
        return [block.squeeze, block.expand1, block.expand3]
    if isinstance(block, Dense):  # pre-activation: the input, then the bottleneck
        return [in_channels, block.width]
    if isinstance(block, Conv) and block.pre:
        return [in_channels]
    if isinstance(block, Inception):
        return [part.out for branch in block.branches for step in branch for part in step if part.mode == "conv"]
    if isinstance(block, FusedInvertedResidual):  # without expansion, one convolution straight to out
        return [block.out] + ([block.expanded] if block.expanded != in_channels else [])
    if isinstance(block, ShuffleV1Unit):  # the concatenated shortcut is pooled, not normalised
        return [block.width, block.branch_out(in_channels)]
    extra = {DepthwiseSeparable: [in_channels], InvertedResidual: [getattr(block, "expanded", 0)],
             Bottleneck: [getattr(block, "width", 0)], ShuffleUnit: [in_channels, block.out // 2]}
    return [block.out] + extra.get(type(block), [])


def _drops_paths(blocks: tuple[Block, ...]) -> bool:
    """Whether stochastic depth can act: some residual block after the first (the first gets rate 0)
    has a residual branch (``res``, ``bot`` and ``cnx`` always; ``ir`` and ``fir`` with stride 1 and the same
    channels in and out, where the input channels are known from the genome)."""
    seen_first = False
    channels: int | None = None  # unknown until a block fixes them
    for block in blocks:
        if block.residual:
            if seen_first and (not isinstance(block, (InvertedResidual, FusedInvertedResidual)) or
                               (block.stride == 1 and channels in (None, block.out))):
                return True
            seen_first = True
        if isinstance(block, Dense):  # adds to the channels, known or not
            channels = None if channels is None else block.out_channels(channels)
        elif isinstance(block, Inception):  # its pooling branches pass the input channels on
            fixed = block.out_channels(0) == block.out_channels(1)
            channels = block.out_channels(channels or 0) if channels is not None or fixed else None
        elif not isinstance(block, Pool):
            channels = block.out
    return False


# ----------------------------------------------------------------------------------------------
# the token table: (key, field) in the order str() writes them. Keys are letters and take an int,
# except flags (FLAGS) and the special keys handled by name ("se", "e").

_TOKENS: dict[type, tuple[tuple[str, str], ...]] = {
    Conv: (("k", "kernel"), ("sep", "separable"), ("s", "stride"), ("d", "dilation"), ("p", "padding"),
           ("g", "groups"), ("shuf", "shuffle"), ("c", "out"), ("pre", "pre"), ("bias", "bias")),
    DepthwiseSeparable: (("k", "kernel"), ("sep", "separable"), ("s", "stride"), ("d", "dilation"), ("c", "out")),
    InvertedResidual: (("k", "kernel"), ("sep", "separable"), ("s", "stride"), ("d", "dilation"), ("c", "out"),
                       ("x", "expanded"), ("g", "groups"), ("se", "se")),
    FusedInvertedResidual: (("k", "kernel"), ("sep", "separable"), ("s", "stride"), ("d", "dilation"),
                            ("c", "out"), ("x", "expanded")),
    Residual: (("k", "kernel"), ("sep", "separable"), ("s", "stride"), ("d", "dilation"), ("c", "out"),
               ("se", "se"), ("proj", "project")),
    Bottleneck: (("k", "kernel"), ("sep", "separable"), ("s", "stride"), ("d", "dilation"), ("w", "width"),
                 ("g", "groups"), ("c", "out"), ("se", "se"), ("proj", "project"), ("regnet", "regnet")),
    ShuffleUnit: (("k", "kernel"), ("sep", "separable"), ("s", "stride"), ("d", "dilation"), ("c", "out")),
    ShuffleV1Unit: (("k", "kernel"), ("sep", "separable"), ("s", "stride"), ("d", "dilation"), ("w", "width"),
                    ("g", "groups"), ("dense", "dense"), ("c", "out")),
    Fire: (("sq", "squeeze"), ("e", "expand")),
    Dense: (("k", "kernel"), ("gr", "growth"), ("w", "width")),
    Pool: (("k", "kernel"), ("s", "stride"), ("p", "padding"), ("ceil", "ceil")),
    ConvNeXtBlock: (("k", "kernel"), ("sep", "separable"), ("s", "stride"), ("d", "dilation"), ("c", "out"),
                    ("x", "expanded"), ("ls", "layer_scale")),
}
_FLAGS = {"sep", "shuf", "bias", "proj", "ceil", "pre", "regnet", "dense"}
_REQUIRED: dict[type, tuple[str, ...]] = {
    Conv: ("out",), DepthwiseSeparable: ("out",), InvertedResidual: ("out", "expanded"),
    FusedInvertedResidual: ("out", "expanded"), Residual: ("out",),
    Bottleneck: ("out", "width"), ShuffleUnit: ("out",), Fire: ("squeeze", "expand"), Dense: ("growth", "width"),
    Pool: ("mode",), ShuffleV1Unit: ("out", "width"), ConvNeXtBlock: ("out", "expanded"),
}


def _num(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _format_net(genome: Genome) -> str:
    norm = genome.norm
    tokens = ["net", {"batch": "bn", "group": f"gn{norm.groups}", "layer": "ln", "instance": "in",
                      "layer2d": "ln2d", "none": "nonorm"}[norm.kind]]
    if norm.eps != 1e-5:
        tokens.append(f"eps{_num(norm.eps)}")
    if norm.momentum != 0.1:
        tokens.append(f"m{_num(norm.momentum)}")
    if genome.drop_path:
        tokens.append(f"sd{_num(genome.drop_path)}")
    if genome.drop_path_to_last:
        tokens.append("sdlast")
    return "_".join(tokens)


def _format_part(part: InceptionStep) -> str:
    height, width = part.kernel
    text = f"{part.mode}{height}" if part.mode != "conv" else str(part.out) + (
        "" if part.kernel == (1, 1) else f"k{height}" if height == width else f"k{height}x{width}")
    return text + (f"s{part.stride}" if part.stride != 1 else "") + ("v" if part.valid else "")


def _format_block(block: Block) -> str:
    if isinstance(block, Inception):
        branches = [".".join("+".join(_format_part(part) for part in step) for step in branch)
                    for branch in block.branches]
        return "_".join([block.kind] + [f"b{branch}" for branch in branches] + [block.act])
    tokens = [block.kind] + ([block.mode] if isinstance(block, Pool) else [])
    kernel = getattr(block, "kernel", 3)
    if isinstance(block, Pool):
        defaults = {"kernel": 2, "stride": kernel, "padding": 0}
    else:
        defaults = {"kernel": 3, "stride": 1, "dilation": 1, "groups": 1,
                    "padding": (kernel - 1) // 2 * getattr(block, "dilation", 1)}
    for key, name in _TOKENS[type(block)]:
        if name == "expand":
            tokens.append(f"e{block.expand1}" if block.expand1 == block.expand3 else
                          f"e{block.expand1}.{block.expand3}")
            continue
        value = getattr(block, name)
        if key in _FLAGS:
            if value:
                tokens.append(key)
        elif name == "layer_scale":
            if value != 1e-6:
                tokens.append(f"ls{_num(value)}")
        elif name == "se":
            if value is not None:
                extra = "" if (value.act, value.gate) == ("relu", "sigmoid") else f".{value.act}.{value.gate}"
                tokens.append(f"se{value.channels}{extra}")
        elif name in _REQUIRED[type(block)] or value != defaults[name]:
            tokens.append(f"{key}{value}")
    if not isinstance(block, Pool):
        tokens.append(block.act)
    return "_".join(tokens)


def _format_head(head: Head) -> str:
    tokens = ["head"]
    if head.norm_act:
        tokens.append("norm")
    if head.width:
        tokens.append(f"c{head.width}")
    if head.width or head.norm_act:
        tokens.append(head.act)
    if head.pool != 1:
        tokens.append(f"p{head.pool}")
    if head.pooled_norm:
        tokens.append("pnorm")
    suffix = "" if head.hidden_act == head.act else f".{head.hidden_act}"
    tokens += [f"h{width}{suffix}" for width in head.hidden]
    if head.dropout_first:
        tokens.append("dfirst")
    if head.dropout:
        tokens.append(f"d{_num(head.dropout)}")
    if head.conv_classifier:
        tokens.append("convcls")
    return "_".join(tokens)


# ----------------------------------------------------------------------------------------------
# parsing

_INT = re.compile(r"[0-9]+")
_FLOAT = re.compile(r"[0-9]*\.?[0-9]+(e-?[0-9]+)?")
_KEY = re.compile(r"([a-z]+)(.*)")


_WORDS = {"out": "channel count", "expanded": "expanded channel count", "width": "width", "groups": "group count",
          "squeeze": "squeeze channel count", "expand1": "expansion channel count",
          "expand3": "expansion channel count", "channels": "squeeze-and-excitation channel count",
          "hidden": "hidden width", "kernel": "kernel size", "pool": "pooled side", "repeat": "repeat",
          "growth": "growth rate"}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text

    def error(self, token: str, why: str) -> ValueError:
        return ValueError(f"bad token {token!r} in genome string {self.text!r}: {why}")

    def integer(self, token: str, value: str, name: str = "", *, limit: int | None = None) -> int:
        """The whole number ``value`` of ``token``, at most ``limit`` (default: the limit of the field
        ``name``), refused before converting it when it is longer than any limit."""
        if not _INT.fullmatch(value):
            raise self.error(token, f"expected a whole number after the key, got {value!r}")
        limit = _LIMITS.get(name) if limit is None else limit
        if limit is not None and (len(value.lstrip("0")) > len(str(limit)) or int(value) > limit):
            what = _WORDS.get(name, name)
            raise self.error(token, f"{what} {value} is over the limit of {limit}; use at most {limit}")
        return int(value)

    def number(self, token: str, value: str) -> float:
        if not _FLOAT.fullmatch(value):
            raise self.error(token, f"expected a number after the key, got {value!r}")
        return float(value)

    def build(self, token: str, factory: Any, **kwargs: Any) -> Any:
        try:
            return factory(**kwargs)
        except (TypeError, ValueError) as exc:
            raise self.error(token, str(exc)) from None

    @staticmethod
    def key_value(token: str) -> tuple[str, str]:
        match = _KEY.fullmatch(token)
        return (match.group(1), match.group(2)) if match else ("", token)

    def tokens(self, body: str) -> list[str]:
        tokens = body.split("_")[1:]
        if any(not t for t in tokens):
            raise self.error(body, "empty token (doubled or trailing '_')")
        return tokens

    def parse(self) -> Genome:
        groups = self.text.split()
        if not groups:
            raise ValueError(f"empty genome string {self.text!r}: expected blocks and a head group")
        net: dict[str, Any] = {"norm": Norm(), "drop_path": 0.0}
        blocks: list[Block] = []
        head: Head | None = None
        for index, group in enumerate(groups):
            body, star, repeat = group.partition("*")
            times = 1
            if star:
                if not _INT.fullmatch(repeat) or not repeat.lstrip("0"):
                    raise self.error(group, f"a repeat must be '*' and a positive whole number, got {repeat!r}")
                times = self.integer(group, repeat, "repeat", limit=MAX_BLOCKS)
            kind = body.split("_")[0]
            if head is not None:
                raise self.error(group, "nothing may follow the head group")
            if kind == "net":
                if index != 0 or times != 1:
                    raise self.error(group, "the net group comes once, first")
                net = self.net(body)
            elif kind == "head":
                if times != 1:
                    raise self.error(group, "the head group cannot be repeated")
                head = self.head(body)
            elif kind in BLOCK_TYPES:
                if len(blocks) + times > MAX_BLOCKS:
                    raise self.error(group, f"it makes the network {len(blocks) + times} blocks long, over the limit "
                                            f"of {MAX_BLOCKS} blocks; use at most {MAX_BLOCKS} blocks in all")
                blocks.extend([self.block(body, BLOCK_TYPES[kind])] * times)
            else:
                known = ", ".join(["net", *BLOCK_TYPES, "head"])
                raise self.error(group, f"unknown group kind {kind!r}; known kinds: {known}")
        if head is None:
            raise ValueError(f"genome string {self.text!r} has no head group (for example 'head_c1280_d0.2')")
        if not blocks:
            raise ValueError(f"genome string {self.text!r} has no blocks before the head")
        return self.build(self.text, Genome, blocks=tuple(blocks), head=head, **net)

    def net(self, body: str) -> dict[str, Any]:
        names = {"bn": "batch", "gn": "group", "ln": "layer", "in": "instance", "ln2d": "layer2d", "nonorm": "none"}
        norm: dict[str, Any] = {}
        drop_path = 0.0
        to_last = False
        seen: set[str] = set()
        for token in self.tokens(body):
            key, value = (token, "") if token in ("ln2d", "sdlast") else self.key_value(token)
            slot = "norm" if key in names else key
            if slot in seen:
                raise self.error(token, "given twice")
            seen.add(slot)
            if key in names:
                norm["kind"] = names[key]
                if key == "gn":
                    norm["groups"] = self.integer(token, value, "groups")
                elif value:
                    raise self.error(token, f"{key!r} takes no value")
            elif key == "eps":
                norm["eps"] = self.number(token, value)
            elif key == "m":
                norm["momentum"] = self.number(token, value)
            elif key == "sd":
                drop_path = self.build(token, _check_float, owner="Genome", name="drop_path",
                                       value=self.number(token, value), low=0.0, high=1.0, high_open=True)
            elif key == "sdlast":
                to_last = True
            else:
                raise self.error(token, "unknown key in the net group; known: bn, gn<G>, ln, in, ln2d, nonorm, "
                                        "eps<float>, m<float>, sd<float>, sdlast")
        if to_last and not drop_path:
            raise self.error(body, "'sdlast' sets the rule of stochastic depth: it needs a rate 'sd<float>'")
        return {"norm": self.build(body, Norm, **norm), "drop_path": drop_path, "drop_path_to_last": to_last}

    _PART = re.compile(r"(?:(max|avg)([0-9]+)|([0-9]+)(?:k([0-9]+)(?:x([0-9]+))?)?)(?:s([0-9]+))?(v?)")

    def inception(self, body: str) -> Inception:
        branches: list[tuple[tuple[InceptionStep, ...], ...]] = []
        act = None
        for token in self.tokens(body):
            if token in ACTIVATIONS:
                if act is not None:
                    raise self.error(token, "given twice")
                act = token
                continue
            if not token.startswith("b") or len(token) == 1:
                raise self.error(token, "unknown token for an inc block; known: b<steps> (a branch: steps joined "
                                        "by '.', parts by '+'), an activation (" + " ".join(ACTIVATIONS) + ")")
            steps = []
            for step in token[1:].split("."):
                parts = []
                for text in step.split("+"):
                    match = self._PART.fullmatch(text)
                    if not text or not match:
                        raise self.error(token, f"bad part {text!r}: expected <channels>[k<h>[x<w>]][s<stride>][v] "
                                                "or max<k>/avg<k>[s<stride>][v]")
                    mode, window, out, height, width, stride, valid = match.groups()
                    height = window or height
                    kernel = self.integer(token, height or "1", "kernel")
                    parts.append(self.build(token, InceptionStep, mode=mode or "conv",
                                            out=self.integer(token, out, "out") if out else 0,
                                            kernel=(kernel, self.integer(token, width, "kernel") if width else kernel),
                                            stride=self.integer(token, stride, "stride") if stride else 1,
                                            valid=bool(valid)))
                steps.append(tuple(parts))
            branches.append(tuple(steps))
        if not branches:
            raise self.error(body, "an inc block needs at least one branch 'b<steps>'")
        return self.build(body, Inception, branches=tuple(branches), act=act or "relu")

    def block(self, body: str, cls: type) -> Block:
        if cls is Inception:
            return self.inception(body)
        keys = dict(_TOKENS[cls])
        kwargs: dict[str, Any] = {}
        for token in self.tokens(body):
            key, value = self.key_value(token)
            if token in ACTIVATIONS and cls is not Pool:
                name, parsed = "act", token
            elif token in POOLS and cls is Pool:
                name, parsed = "mode", token
            elif token in _FLAGS and token in keys:
                name, parsed = keys[token], True
            elif key == "se" and "se" in keys:
                name, parsed = "se", self.squeeze_excite(token, value)
            elif key == "ls" and "ls" in keys:
                name, parsed = "layer_scale", self.number(token, value)
            elif key == "e" and cls is Fire:
                first, _, second = value.partition(".")
                name, parsed = "expand", (self.integer(token, first, "expand1"),
                                          self.integer(token, second or first, "expand3"))
            elif key in keys and key not in _FLAGS:
                name, parsed = keys[key], self.integer(token, value, keys[key])
            else:
                known = [k if k in _FLAGS else f"{k}<float>" if k == "ls" else f"{k}<int>" for k in keys]
                known += ["max or avg"] if cls is Pool else ["an activation (" + " ".join(ACTIVATIONS) + ")"]
                raise self.error(token, f"unknown token for a {cls.kind} block; known: {', '.join(known)}")
            if name in kwargs:
                raise self.error(token, "given twice")
            kwargs[name] = parsed
        for required in _REQUIRED[cls]:
            if required not in kwargs:
                key = {v: k for k, v in keys.items()}.get(required)
                what = "'max' or 'avg'" if required == "mode" else f"'{key}<int>' ({required})"
                raise self.error(body, f"a {cls.kind} block needs {what}")
        if "expand" in kwargs:
            kwargs["expand1"], kwargs["expand3"] = kwargs.pop("expand")
        return self.build(body, cls, **kwargs)

    def squeeze_excite(self, token: str, value: str) -> SqueezeExcite:
        parts = value.split(".")
        if len(parts) not in (1, 3):
            raise self.error(token, "squeeze-and-excitation is 'se<int>' or 'se<int>.<act>.<gate>'")
        kwargs: dict[str, Any] = {"channels": self.integer(token, parts[0], "channels")}
        if len(parts) == 3:
            kwargs["act"], kwargs["gate"] = parts[1], parts[2]
        return self.build(token, SqueezeExcite, **kwargs)

    def head(self, body: str) -> Head:
        kwargs: dict[str, Any] = {}
        hidden: list[int] = []
        for token in self.tokens(body):
            key, value = self.key_value(token)
            if token in ACTIVATIONS:
                name, parsed = "act", token
            elif token in ("dfirst", "convcls", "norm", "pnorm"):
                flags = {"dfirst": "dropout_first", "convcls": "conv_classifier", "norm": "norm_act",
                         "pnorm": "pooled_norm"}
                name, parsed = flags[token], True
            elif key == "c":
                name, parsed = "width", self.integer(token, value, "width")
            elif key == "p":
                name, parsed = "pool", self.integer(token, value, "pool")
            elif key == "h":
                width, _, act = value.partition(".")
                hidden.append(self.integer(token, width, "hidden"))
                if act:
                    if kwargs.setdefault("hidden_act", act) != act:
                        raise self.error(token, f"hidden layers share one activation, got {kwargs['hidden_act']!r} "
                                                f"and {act!r}")
                continue
            elif key == "d":
                name, parsed = "dropout", self.number(token, value)
            else:
                raise self.error(token, "unknown token for the head; known: norm, c<int>, p<int>, pnorm, "
                                        "h<int>[.act], d<float>, dfirst, convcls, an activation ("
                                        + " ".join(ACTIVATIONS) + ")")
            if name in kwargs:
                raise self.error(token, "given twice")
            kwargs[name] = parsed
        if "act" in kwargs and not kwargs.get("width") and not kwargs.get("norm_act"):
            raise self.error(body, "an activation in the head needs its 1×1 convolution 'c<int>' or 'norm'")
        return self.build(body, Head, hidden=tuple(hidden), **kwargs)
