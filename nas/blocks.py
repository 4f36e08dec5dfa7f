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

__all__ = ["ConvNormAct", "SqueezeExcitation", "DepthwiseSeparableConv", "MBConv", "ResidualBlock", "ShuffleV2Unit",
           "FireModule", "ClassifierHead", "ConvClassifier", "Net"]


def _conv(in_channels: int, out_channels: int, kernel: int, *, stride: int, dilation: int, groups: int,
          separable: bool, bias: bool, padding: int | None = None) -> nn.Module:
    padding = (kernel - 1) // 2 * dilation if padding is None else padding
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
    (as ``torchvision.ops.Conv2dNormActivation``) unless ``bias`` asks for one. ``separable`` factors a
    k×k kernel into k×1 and 1×k; ``shuffle`` shuffles the channels across the groups afterwards
    (ShuffleNetV1, Zhang et al., 2018)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, *, stride: int = 1,
                 dilation: int = 1, groups: int = 1, separable: bool = False, norm: Norm = Norm(),
                 act: str = "relu", padding: int | None = None, bias: bool = False, shuffle: bool = False) -> None:
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        super().__init__(OrderedDict(
            conv=_conv(in_channels, out_channels, kernel, stride=stride, dilation=dilation, groups=groups,
                       separable=separable, bias=bias or norm.kind == "none", padding=padding),
            norm=make_norm(norm, out_channels),
            act=make_activation(act),
            shuffle=nn.ChannelShuffle(groups) if shuffle and groups > 1 else nn.Identity(),
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


class ResidualBlock(nn.Module):
    """Residual block (ResNet, He et al., 2016): basic (two k×k convolutions) when ``width`` is 0, else
    bottleneck (1×1 to ``width``, k×k with ``groups``, 1×1). The shortcut is the identity when shapes
    allow (and ``project`` is off), else a strided 1×1 convolution with norm; optional squeeze-and-
    excitation before the addition, stochastic depth on the residual branch, activation after it."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, *, width: int = 0, groups: int = 1,
                 stride: int = 1, dilation: int = 1, separable: bool = False, norm: Norm = Norm(),
                 act: str = "relu", se: tuple[int, str, str] | None = None, project: bool = False,
                 drop_path: float = 0.0) -> None:
        super().__init__()
        spatial = dict(stride=stride, dilation=dilation, separable=separable, norm=norm)
        if width:
            self.conv1 = ConvNormAct(in_channels, width, 1, norm=norm, act=act)
            self.conv2 = ConvNormAct(width, width, kernel, groups=groups, act=act, **spatial)
            self.conv3 = ConvNormAct(width, out_channels, 1, norm=norm, act="none")
        else:
            self.conv1 = ConvNormAct(in_channels, out_channels, kernel, act=act, **spatial)
            self.conv2 = ConvNormAct(out_channels, out_channels, kernel, dilation=dilation, separable=separable,
                                     norm=norm, act="none")
            self.conv3 = nn.Identity()
        self.se = SqueezeExcitation(out_channels, se[0], act=se[1], gate=se[2]) if se else nn.Identity()
        needs_projection = project or stride != 1 or in_channels != out_channels
        self.shortcut = (ConvNormAct(in_channels, out_channels, 1, stride=stride, norm=norm, act="none")
                         if needs_projection else nn.Identity())
        self.drop_path = StochasticDepth(drop_path, "row") if drop_path > 0 else nn.Identity()
        self.act = make_activation(act)

    def forward(self, x: Tensor) -> Tensor:
        out = self.se(self.conv3(self.conv2(self.conv1(x))))
        return self.act(self.drop_path(out) + self.shortcut(x))


class ShuffleV2Unit(nn.Module):
    """ShuffleNetV2 unit (Ma et al., 2018), as torchvision's ``shufflenetv2.InvertedResidual``: with
    stride 1, half the channels pass and half go through 1×1, depthwise k×k, 1×1; with stride 2 both
    branches see the whole input. The halves are concatenated and shuffled."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, *, stride: int = 1,
                 dilation: int = 1, separable: bool = False, norm: Norm = Norm(), act: str = "relu") -> None:
        super().__init__()
        half = out_channels // 2
        spatial = dict(stride=stride, dilation=dilation, separable=separable, norm=norm, act="none")
        self.stride = stride
        if stride > 1:
            self.branch1: nn.Module = nn.Sequential(
                ConvNormAct(in_channels, in_channels, kernel, groups=in_channels, **spatial),
                ConvNormAct(in_channels, half, 1, norm=norm, act=act),
            )
        else:
            self.branch1 = nn.Identity()
        self.branch2 = nn.Sequential(
            ConvNormAct(in_channels if stride > 1 else half, half, 1, norm=norm, act=act),
            ConvNormAct(half, half, kernel, groups=half, **spatial),
            ConvNormAct(half, half, 1, norm=norm, act=act),
        )
        self.shuffle = nn.ChannelShuffle(2)

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return self.shuffle(out)


class FireModule(nn.Module):
    """Fire module (SqueezeNet, Iandola et al., 2016): 1×1 squeeze, then 1×1 and 3×3 expansions side
    by side, concatenated."""

    def __init__(self, in_channels: int, squeeze: int, expand1: int, expand3: int, *, norm: Norm = Norm(),
                 act: str = "relu") -> None:
        super().__init__()
        self.squeeze = ConvNormAct(in_channels, squeeze, 1, norm=norm, act=act)
        self.expand1x1 = ConvNormAct(squeeze, expand1, 1, norm=norm, act=act)
        self.expand3x3 = ConvNormAct(squeeze, expand3, 3, norm=norm, act=act)

    def forward(self, x: Tensor) -> Tensor:
        x = self.squeeze(x)
        return torch.cat((self.expand1x1(x), self.expand3x3(x)), dim=1)


class ClassifierHead(nn.Sequential):
    """What follows the pooled, flattened features: hidden linear layers with their activation,
    dropout (after every hidden layer and before the classifier, or with ``dropout_first`` before
    every hidden layer, AlexNet's order), and the linear classifier."""

    def __init__(self, in_features: int, num_classes: int, *, hidden: tuple[int, ...] = (), act: str = "relu",
                 dropout: float = 0.0, dropout_first: bool = False) -> None:
        layers: list[nn.Module] = []
        for width in hidden:
            if dropout_first:
                layers.append(nn.Dropout(dropout))
            layers += [nn.Linear(in_features, width), make_activation(act)]
            if not dropout_first:
                layers.append(nn.Dropout(dropout))
            in_features = width
        if not hidden:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(in_features, num_classes))
        super().__init__(*layers)


class ConvClassifier(nn.Sequential):
    """SqueezeNet's classifier: dropout, 1×1 convolution to the classes, ReLU, global average pooling."""

    def __init__(self, in_channels: int, num_classes: int, *, dropout: float = 0.0) -> None:
        super().__init__(nn.Dropout(dropout), nn.Conv2d(in_channels, num_classes, 1), nn.ReLU(inplace=True),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(1))


class Net(nn.Module):
    """A built genome: ``features`` (every block and the head's 1×1 conv), adaptive average pooling,
    flattening, ``classifier``. ``genome`` keeps the genome string the network was built from."""

    def __init__(self, features: nn.Sequential, classifier: nn.Module, *, pool: int | None = 1,
                 genome: str = "") -> None:
        super().__init__()
        self.features = features
        # a convolutional classifier pools by itself: then there is nothing to pool or flatten here
        self.avgpool = nn.AdaptiveAvgPool2d(pool) if pool else nn.Identity()
        self.flatten = nn.Flatten(1) if pool else nn.Identity()
        self.classifier = classifier
        self.genome = genome

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.flatten(self.avgpool(self.features(x))))

    def extra_repr(self) -> str:
        return f"genome={self.genome!r}" if self.genome else ""
