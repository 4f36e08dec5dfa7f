"""The builder: turns a :class:`~nas.genome.Genome` into a ``torch.nn.Module``. It alone tracks
channels from block to block; blocks are in :mod:`nas.blocks`."""

from __future__ import annotations

from torch import nn

from .blocks import ClassifierHead, ConvNormAct, DepthwiseSeparableConv, MBConv, Net
from .genome import Conv, DepthwiseSeparable, Genome, InvertedResidual, as_genome

__all__ = ["build"]


def build(genome: Genome, *, num_classes: int = 1000, in_channels: int = 3) -> Net:
    """Build the network a genome describes.

    Args:
        genome: the architecture (a :class:`~nas.genome.Genome`, or its string form).
        num_classes: width of the final linear classifier.
        in_channels: channels of the input images (3 for RGB, 1 for greyscale).

    Returns:
        A :class:`~nas.blocks.Net`, initialised as torchvision initialises its MobileNets.

    Example:
        >>> import torch, nas
        >>> model = nas.build("conv_s2_c16 ir_c16_x32 head_c64", num_classes=10)
        >>> model(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """
    genome = as_genome(genome)
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes={num_classes!r} must be a positive int")
    norm = genome.norm
    n_ir = sum(isinstance(b, InvertedResidual) for b in genome.blocks)
    ir_index = 0
    layers: list[nn.Module] = []
    for block, c_in in zip(genome.blocks, genome.channels(in_channels)):
        common = dict(stride=block.stride, dilation=block.dilation, separable=block.separable, norm=norm,
                      act=block.act)
        if isinstance(block, Conv):
            layers.append(ConvNormAct(c_in, block.out, block.kernel, groups=block.groups, **common))
        elif isinstance(block, DepthwiseSeparable):
            layers.append(DepthwiseSeparableConv(c_in, block.out, block.kernel, **common))
        else:
            se = None if block.se is None else (block.se.channels, block.se.act, block.se.gate)
            layers.append(MBConv(c_in, block.out, block.expanded, block.kernel, se=se,
                                 drop_path=genome.drop_path * ir_index / n_ir, **common))
            ir_index += 1
    features = genome.blocks[-1].out
    head = genome.head
    if head.width:
        layers.append(ConvNormAct(features, head.width, 1, norm=norm, act=head.act))
        features = head.width
    classifier = ClassifierHead(features, num_classes, hidden=head.hidden, act=head.hidden_act,
                                dropout=head.dropout)
    model = Net(nn.Sequential(*layers), classifier, genome=str(genome))
    _init_weights(model)
    return model


def _init_weights(model: nn.Module) -> None:
    # torchvision's MobileNet initialisation: He (fan-out) for convolutions, N(0, 0.01) for linears
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
