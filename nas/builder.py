"""The builder: turns a :class:`~nas.genome.Genome` into a ``torch.nn.Module``. It alone tracks
channels from block to block; blocks are in :mod:`nas.blocks`."""

from __future__ import annotations

from torch import nn

from .blocks import (
    ClassifierHead,
    ConvClassifier,
    ConvNormAct,
    DepthwiseSeparableConv,
    FireModule,
    MBConv,
    Net,
    ResidualBlock,
    ShuffleV2Unit,
)
from .genome import (
    Block,
    Bottleneck,
    Conv,
    DepthwiseSeparable,
    Fire,
    Genome,
    InvertedResidual,
    Norm,
    Pool,
    Residual,
    ShuffleUnit,
    as_genome,
)

__all__ = ["build"]


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
    genome = as_genome(genome)
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes={num_classes!r} must be a positive int")
    n_residual = sum(block.residual for block in genome.blocks)
    residual_index = 0
    layers: list[nn.Module] = []
    for block, c_in in zip(genome.blocks, genome.channels(in_channels)):
        drop_path = genome.drop_path * residual_index / n_residual if block.residual else 0.0
        residual_index += block.residual
        layers.append(_block(block, c_in, genome.norm, drop_path))
    features = genome.out_channels(in_channels)
    head = genome.head
    if head.width:
        layers.append(ConvNormAct(features, head.width, 1, norm=genome.norm, act=head.act))
        features = head.width
    if head.conv_classifier:
        classifier: nn.Module = ConvClassifier(features, num_classes, dropout=head.dropout)
    else:
        classifier = ClassifierHead(features * head.pool ** 2, num_classes, hidden=head.hidden, act=head.hidden_act,
                                    dropout=head.dropout, dropout_first=head.dropout_first)
    model = Net(nn.Sequential(*layers), classifier, pool=None if head.conv_classifier else head.pool,
                genome=str(genome))
    _init_weights(model)
    return model


def _block(block: Block, c_in: int, norm: Norm, drop_path: float) -> nn.Module:
    if isinstance(block, Pool):
        pool = nn.MaxPool2d if block.mode == "max" else nn.AvgPool2d
        return pool(block.kernel, block.stride, block.padding, ceil_mode=block.ceil)
    if isinstance(block, Fire):
        return FireModule(c_in, block.squeeze, block.expand1, block.expand3, norm=norm, act=block.act)
    common = dict(stride=block.stride, dilation=block.dilation, separable=block.separable, norm=norm, act=block.act)
    se = getattr(block, "se", None)
    se = None if se is None else (se.channels, se.act, se.gate)
    if isinstance(block, Conv):
        return ConvNormAct(c_in, block.out, block.kernel, groups=block.groups, padding=block.padding,
                           bias=block.bias, shuffle=block.shuffle, **common)
    if isinstance(block, DepthwiseSeparable):
        return DepthwiseSeparableConv(c_in, block.out, block.kernel, **common)
    if isinstance(block, InvertedResidual):
        return MBConv(c_in, block.out, block.expanded, block.kernel, se=se, drop_path=drop_path, **common)
    if isinstance(block, Bottleneck):
        return ResidualBlock(c_in, block.out, block.kernel, width=block.width, groups=block.groups, se=se,
                             project=block.project, drop_path=drop_path, **common)
    if isinstance(block, Residual):
        return ResidualBlock(c_in, block.out, block.kernel, se=se, project=block.project, drop_path=drop_path,
                             **common)
    if isinstance(block, ShuffleUnit):
        return ShuffleV2Unit(c_in, block.out, block.kernel, **common)
    raise TypeError(f"no module for block {block!r}")  # pragma: no cover - Genome refuses other types


def _init_weights(model: nn.Module) -> None:
    # torchvision's MobileNet and ResNet initialisation: He (fan-out) for convolutions, N(0, 0.01) for linears
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
    for m in model.modules():
        if isinstance(m, ConvClassifier):  # SqueezeNet: a small start for the classifier, as a linear layer gets
            nn.init.normal_(m[1].weight, 0, 0.01)
