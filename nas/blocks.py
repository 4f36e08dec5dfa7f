"""The building blocks, as ``torch.nn`` modules. Blocks are modules only: they take explicit channel
counts and never look at a genome; :mod:`nas.builder` tracks channels and strides.

Absent parts are ``nn.Identity`` so that ``forward`` has no branches, and sub-modules are registered
in execution order, the order torchvision uses, so that parameters line up one to one with
torchvision's models.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn
from torchvision.ops import StochasticDepth

from .genome import Norm
from .layers import make_activation, make_gate, make_norm

__all__ = ["ConvNormAct", "SqueezeExcitation", "DepthwiseSeparableConv", "MBConv", "ClassifierHead", "Net"]


def _conv(in_channels: int, out_channels: int, kernel: int, *, stride: int, dilation: int, groups: int,
          separable: bool, bias: bool) -> nn.Module:
    padding = (kernel - 1) // 2 * dilation
    if not separable:
        return nn.Conv2d(in_channels, out_channels, kernel, stride, padding, dilation, groups, bias=bias)
    # spatially separable: k×1 then 1×k, each striding and dilating along its own axis
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, (kernel, 1), (stride, 1), (padding, 0), (dilation, 1), groups,
                  bias=False),
        nn.Conv2d(out_channels, out_channels, (1, kernel), (1, stride), (0, padding), (1, dilation), groups,
                  bias=bias),
    )


class ConvNormAct(nn.Sequential):
    """Convolution, normalisation, activation; the convolution has a bias only without a norm
    (as ``torchvision.ops.Conv2dNormActivation``). ``separable`` factors a k×k kernel into k×1 and 1×k."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, *, stride: int = 1,
                 dilation: int = 1, groups: int = 1, separable: bool = False, norm: Norm = Norm(),
                 act: str = "relu") -> None:
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        super().__init__(OrderedDict(
            conv=_conv(in_channels, out_channels, kernel, stride=stride, dilation=dilation, groups=groups,
                       separable=separable, bias=norm.kind == "none"),
            norm=make_norm(norm, out_channels),
            act=make_activation(act),
        ))


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al., 2018), as ``torchvision.ops.SqueezeExcitation``."""

    def __init__(self, channels: int, squeeze: int, *, act: str = "relu", gate: str = "sigmoid") -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = make_activation(act)
        self.scale_activation = make_gate(gate)

    def forward(self, x: Tensor) -> Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


class DepthwiseSeparableConv(nn.Sequential):
    """Depthwise k×k conv + norm + act, then pointwise 1×1 conv + norm + act (MobileNetV1,
    Howard et al., 2017)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, *, stride: int = 1,
                 dilation: int = 1, separable: bool = False, norm: Norm = Norm(), act: str = "relu") -> None:
        super().__init__(OrderedDict(
            depthwise=ConvNormAct(in_channels, in_channels, kernel, stride=stride, dilation=dilation,
                                  groups=in_channels, separable=separable, norm=norm, act=act),
            pointwise=ConvNormAct(in_channels, out_channels, 1, norm=norm, act=act),
        ))


class MBConv(nn.Module):
    """Inverted residual with linear bottleneck (MobileNetV2, Sandler et al., 2018), optionally with
    squeeze-and-excitation (MnasNet, MobileNetV3, EfficientNet) and stochastic depth on the residual
    branch (EfficientNet). The expansion is left out when ``expanded == in_channels``."""

    def __init__(self, in_channels: int, out_channels: int, expanded: int, kernel: int = 3, *, stride: int = 1,
                 dilation: int = 1, separable: bool = False, norm: Norm = Norm(), act: str = "relu",
                 se: tuple[int, str, str] | None = None, drop_path: float = 0.0) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and in_channels == out_channels
        # expand
        self.expand = (ConvNormAct(in_channels, expanded, 1, norm=norm, act=act)
                       if expanded != in_channels else nn.Identity())
        # depthwise
        self.depthwise = ConvNormAct(expanded, expanded, kernel, stride=stride, dilation=dilation,
                                     groups=expanded, separable=separable, norm=norm, act=act)
        # squeeze and excitation
        self.se = (SqueezeExcitation(expanded, se[0], act=se[1], gate=se[2]) if se is not None
                   else nn.Identity())
        # project (linear bottleneck: no activation)
        self.project = ConvNormAct(expanded, out_channels, 1, norm=norm, act="none")
        self.drop_path = (StochasticDepth(drop_path, "row") if self.use_res_connect and drop_path > 0
                          else nn.Identity())

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(self.se(self.depthwise(self.expand(x))))
        if self.use_res_connect:
            out = self.drop_path(out) + x
        return out


class ClassifierHead(nn.Sequential):
    """Optional hidden linear layer with activation, dropout, and the linear classifier (the part of
    the head after global pooling)."""

    def __init__(self, in_features: int, num_classes: int, *, hidden: int = 0, act: str = "relu",
                 dropout: float = 0.0) -> None:
        layers: list[tuple[str, nn.Module]] = []
        if hidden:
            layers += [("hidden", nn.Linear(in_features, hidden)), ("act", make_activation(act))]
            in_features = hidden
        layers += [("dropout", nn.Dropout(dropout, inplace=True)), ("fc", nn.Linear(in_features, num_classes))]
        super().__init__(OrderedDict(layers))


class Net(nn.Module):
    """A built genome: ``features`` (every block and the head's 1×1 conv), global average pooling,
    ``classifier``. ``genome`` keeps the genome string the network was built from."""

    def __init__(self, features: nn.Sequential, classifier: nn.Module, genome: str = "") -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = classifier
        self.genome = genome

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    def extra_repr(self) -> str:
        return f"genome={self.genome!r}" if self.genome else ""
