"""The builder: turns a :class:`~nas.genome.Genome` into a ``torch.nn.Module``. It alone maps gene names
to layers (an activation name to its ``nn`` class, a :class:`~nas.genome.Norm` to a ``norm_layer``, a
:class:`~nas.genome.SqueezeExcite` to an ``se_layer``) and tracks channels from block to block; blocks
are in :mod:`nas.blocks`.

:func:`plan` lists the constructor calls a network is made of (:class:`Layer`); :func:`build` makes
them, and :mod:`nas.export` writes the same calls out as source, so that the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from torch import nn

from .blocks import (
    CNBlock,
    ClassifierHead,
    ConvClassifier,
    ConvNormAct,
    DenseLayer,
    DepthwiseSeparableConv,
    FireModule,
    FusedMBConv,
    InceptionModule,
    LayerNorm2d,
    MBConv,
    Net,
    NormAct,
    NormLayer,
    ResidualBlock,
    ShuffleV1Block,
    ShuffleV2Unit,
    SqueezeExcitation,
    init_weights,
    instance_norm,
)
from .genome import (
    ACTIVATIONS,
    GATES,
    Block,
    Bottleneck,
    Conv,
    ConvNeXtBlock,
    Dense,
    DepthwiseSeparable,
    Fire,
    FusedInvertedResidual,
    Genome,
    Inception,
    InvertedResidual,
    Norm,
    Pool,
    Residual,
    ShuffleUnit,
    ShuffleV1Unit,
    SqueezeExcite,
    as_genome,
)

__all__ = ["Layer", "Plan", "act_layer", "build", "gate_layer", "norm_layer", "plan", "se_layer"]

# timm's get_act_layer in small: a gene's name -> the nn class the blocks take
_ACT_LAYERS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "hardswish": nn.Hardswish, "silu": nn.SiLU, "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "none": nn.Identity,
}
_GATE_LAYERS: dict[str, type[nn.Module]] = {"sigmoid": nn.Sigmoid, "hardsigmoid": nn.Hardsigmoid}
assert tuple(_ACT_LAYERS) == ACTIVATIONS and tuple(_GATE_LAYERS) == GATES, "nas.genome has layers the builder lacks"


def act_layer(name: str) -> type[nn.Module]:
    """The activation class called ``name`` (one of :data:`nas.genome.ACTIVATIONS`); ``"none"`` is Identity."""
    try:
        return _ACT_LAYERS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}") from None


def gate_layer(name: str) -> type[nn.Module]:
    """The squeeze-and-excitation gate class called ``name`` (``sigmoid`` or ``hardsigmoid``)."""
    try:
        return _GATE_LAYERS[name]
    except KeyError:
        raise ValueError(f"unknown gate {name!r}; known: {', '.join(GATES)}") from None


def norm_layer(norm: Norm) -> NormLayer | None:
    """The blocks' ``norm_layer`` for ``norm``: channels -> module, None for ``kind="none"``.

    Layer and instance normalisation are GroupNorm with one group, and with one group per channel:
    the same statistics as ``LayerNorm`` over (C, H, W) and ``InstanceNorm2d(affine=True)``, with no
    dependence on the resolution and no error on 1×1 maps. ``layer2d`` is :class:`~nas.blocks.LayerNorm2d`,
    over the channels alone (ConvNeXt's).
    """
    eps = {} if norm.eps == 1e-5 else {"eps": norm.eps}
    if norm.kind == "batch":
        momentum = {} if norm.momentum == 0.1 else {"momentum": norm.momentum}
        return partial(nn.BatchNorm2d, **eps, **momentum) if eps or momentum else nn.BatchNorm2d
    if norm.kind == "group":
        return partial(nn.GroupNorm, norm.groups, **eps)
    if norm.kind == "layer":
        return partial(nn.GroupNorm, 1, **eps)
    if norm.kind == "instance":
        return partial(instance_norm, **eps) if eps else instance_norm
    if norm.kind == "layer2d":
        return partial(LayerNorm2d, **eps) if eps else LayerNorm2d
    return None


def se_layer(se: SqueezeExcite | None) -> Callable[[int], nn.Module] | None:
    """The blocks' ``se_layer`` for ``se``: channels -> :class:`~nas.blocks.SqueezeExcitation`."""
    if se is None:
        return None
    return partial(SqueezeExcitation, squeeze=se.channels, act_layer=act_layer(se.act), gate_layer=gate_layer(se.gate))


@dataclass(frozen=True)
class Layer:
    """One constructor call of a network: ``factory(*args, **kwargs)``."""

    factory: Callable[..., nn.Module]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def make(self) -> nn.Module:
        return self.factory(*self.args, **self.kwargs)


@dataclass(frozen=True)
class Plan:
    """A network as constructor calls: ``Net(nn.Sequential(*features), classifier, pool=pool, genome=...)``.
    ``norm`` is the ``norm_layer`` every block gets; ``features[i]`` is ``genome.blocks[i]`` (the head's
    norm and activation, then its 1×1 convolution, follow them when it has them)."""

    genome: Genome
    features: tuple[Layer, ...]
    classifier: Layer
    pool: int | None
    norm: NormLayer | None


def plan(genome: Genome | str, *, num_classes: int = 1000, in_channels: int = 3) -> Plan:
    """The constructor calls that make ``genome``'s network (see :func:`build`)."""
    genome = as_genome(genome)
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes={num_classes!r} must be a positive int")
    norm = norm_layer(genome.norm)
    # stochastic depth rises linearly over the residual blocks: to drop_path * (n - 1) / n at the last
    # (EfficientNet's rule), or to drop_path itself with drop_path_to_last (ConvNeXt's)
    n_residual = sum(block.residual for block in genome.blocks)
    steps = n_residual - 1 if genome.drop_path_to_last else n_residual
    residual_index = 0
    layers: list[Layer] = []
    for block, c_in in zip(genome.blocks, genome.channels(in_channels)):
        drop_path = genome.drop_path * residual_index / steps if block.residual and steps else 0.0
        residual_index += block.residual
        layers.append(_block(block, c_in, norm, drop_path))
    features = genome.out_channels(in_channels)
    head = genome.head
    if head.norm_act:
        layers.append(Layer(NormAct, (features,), {"norm_layer": norm, "act_layer": act_layer(head.act)}))
    if head.width:
        layers.append(Layer(ConvNormAct, (features, head.width, 1), {"norm_layer": norm,
                                                                      "act_layer": act_layer(head.act)}))
        features = head.width
    if head.conv_classifier:
        classifier = Layer(ConvClassifier, (features, num_classes), {"dropout": head.dropout})
    else:
        classifier = Layer(ClassifierHead, (features * head.pool ** 2, num_classes), {
            "hidden": head.hidden, "act_layer": act_layer(head.hidden_act), "dropout": head.dropout,
            "dropout_first": head.dropout_first, "norm_layer": norm if head.pooled_norm else None})
    return Plan(genome, tuple(layers), classifier, None if head.conv_classifier else head.pool, norm)


def build(genome: Genome | str, *, num_classes: int = 1000, in_channels: int = 3) -> Net:
    """Build the network a genome describes.

    Args:
        genome: the architecture (a :class:`~nas.genome.Genome`, or its string form).
        num_classes: width of the final classifier.
        in_channels: channels of the input images (3 for RGB, 1 for greyscale).

    Returns:
        A :class:`~nas.blocks.Net`, initialised as torchvision initialises its MobileNets and ResNets.

    Example:
        >>> import torch, nas
        >>> model = nas.build("conv_s2_c16 ir_c16_x32 head_c64", num_classes=10)
        >>> model(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """
    p = plan(genome, num_classes=num_classes, in_channels=in_channels)
    model = Net(nn.Sequential(*(layer.make() for layer in p.features)), p.classifier.make(), pool=p.pool,
                genome=str(p.genome))
    init_weights(model)
    return model


def _block(block: Block, c_in: int, norm: NormLayer | None, drop_path: float) -> Layer:
    if isinstance(block, Pool):
        pool = nn.MaxPool2d if block.mode == "max" else nn.AvgPool2d
        return Layer(pool, (block.kernel,), {"stride": block.stride, "padding": block.padding,
                                             "ceil_mode": block.ceil})
    layers = {"norm_layer": norm, "act_layer": act_layer(block.act)}
    if isinstance(block, Fire):
        return Layer(FireModule, (c_in, block.squeeze, block.expand1, block.expand3), layers)
    if isinstance(block, Dense):
        return Layer(DenseLayer, (c_in, block.growth, block.width, block.kernel), layers)
    if isinstance(block, Inception):
        branches = tuple(tuple(tuple((part.mode, part.out, part.kernel, part.stride, part.padding) for part in step)
                               for step in branch) for branch in block.branches)
        return Layer(InceptionModule, (c_in, branches), layers)
    spatial = {"stride": block.stride, "dilation": block.dilation, "separable": block.separable, **layers}
    if isinstance(block, Conv):
        return Layer(ConvNormAct, (c_in, block.out, block.kernel), {
            "groups": block.groups, **spatial, "padding": block.padding, "bias": block.bias,
            "shuffle": block.shuffle, "pre": block.pre})
    if isinstance(block, DepthwiseSeparable):
        return Layer(DepthwiseSeparableConv, (c_in, block.out, block.kernel), spatial)
    if isinstance(block, ConvNeXtBlock):
        return Layer(CNBlock, (c_in, block.expanded, block.kernel), {
            "dilation": block.dilation, "separable": block.separable, **layers, "layer_scale": block.layer_scale,
            "drop_path": drop_path})
    if isinstance(block, FusedInvertedResidual):
        return Layer(FusedMBConv, (c_in, block.out, block.expanded, block.kernel), {**spatial, "drop_path": drop_path})
    se = {"se_layer": se_layer(getattr(block, "se", None))}
    if isinstance(block, InvertedResidual):
        return Layer(MBConv, (c_in, block.out, block.expanded, block.kernel), {
            **spatial, **se, "drop_path": drop_path, "groups": block.groups})
    if isinstance(block, Bottleneck):
        return Layer(ResidualBlock, (c_in, block.out, block.kernel), {
            "width": block.width, "groups": block.groups, **spatial, **se, "project": block.project,
            "drop_path": drop_path, "regnet": block.regnet})
    if isinstance(block, Residual):
        return Layer(ResidualBlock, (c_in, block.out, block.kernel), {**spatial, **se, "project": block.project,
                                                                       "drop_path": drop_path})
    if isinstance(block, ShuffleUnit):
        return Layer(ShuffleV2Unit, (c_in, block.out, block.kernel), spatial)
    if isinstance(block, ShuffleV1Unit):
        return Layer(ShuffleV1Block, (c_in, block.out, block.width, block.kernel), {
            "groups": block.groups, "dense": block.dense, **spatial})
    raise TypeError(f"no module for block {block!r}")  # pragma: no cover - Genome refuses other types
