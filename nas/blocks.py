"""The building blocks, as ``torch.nn`` modules, in the manner of torchvision: this module imports torch
only, and a block takes layers, not genes: ``norm_layer`` (channels -> module, None for no normalisation)
and ``act_layer`` (an ``nn`` activation class), as ``torchvision.ops.Conv2dNormActivation`` does, and
an ``se_layer`` (channels -> squeeze-and-excitation module, e.g. a ``partial`` of
:class:`SqueezeExcitation`) as torchvision's ``InvertedResidual(cnf, norm_layer, se_layer)``. Blocks
take explicit channel counts and never look at a genome: :mod:`nas.builder` alone maps gene names to
layers and tracks channels and strides.

:mod:`nas.export` writes the definitions a network uses from this file's source into a standalone
module, so that an exported network runs this code. Every definition here must therefore need nothing
but torch and the other definitions of this file, and stay lint-clean as a file of its own.

Absent parts are ``nn.Identity`` so that ``forward`` has no branches, and sub-modules are registered
in execution order, the order torchvision uses, so that parameters line up one to one with
torchvision's models.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["NormLayer", "instance_norm", "LayerNorm2d", "StochasticDepth", "ConvNormAct", "SqueezeExcitation",
           "DepthwiseSeparableConv", "MBConv", "FusedMBConv", "ResidualBlock", "ShuffleV1Block", "ShuffleV2Unit",
           "FireModule", "DenseLayer", "NormAct", "CNBlock", "Concat", "InceptionModule", "ClassifierHead",
           "ConvClassifier", "Net", "init_weights"]

NormLayer = Callable[[int], nn.Module]  # channels -> normalisation module


def _act(layer: type[nn.Module]) -> nn.Module:
    """An activation module, in place where that is safe (as torchvision builds them)."""
    return layer(inplace=True) if layer in (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU) else layer()


def instance_norm(channels: int, eps: float = 1e-5) -> nn.Module:
    """Instance normalisation as GroupNorm with one group per channel: the statistics of
    ``InstanceNorm2d(affine=True)``, and no error on 1×1 maps."""
    return nn.GroupNorm(channels, channels, eps=eps)


class LayerNorm2d(nn.LayerNorm):
    """Layer normalisation over the channels of an (N, C, H, W) map, at every pixel (torchvision's
    ``LayerNorm2d``, ConvNeXt's normalisation): ``LayerNorm2d(channels, eps=1e-6)``."""

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
def _norm_act(channels: int, norm_layer: NormLayer | None, act_layer: type[nn.Module]) -> OrderedDict[str, nn.Module]:
    """Norm and activation that come before a convolution (pre-activation) or alone. The activation runs
    in place only after a norm, which writes a new tensor: the input itself may still be needed (a dense
    layer concatenates it)."""
    return OrderedDict(norm=norm_layer(channels) if norm_layer is not None else nn.Identity(),
                       act=_act(act_layer) if norm_layer is not None else act_layer())


def _conv(in_channels: int, out_channels: int, kernel: int, *, stride: int, dilation: int, groups: int,
          separable: bool, bias: bool, padding: int | None) -> nn.Module:
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


class StochasticDepth(nn.Module):
    """Drops the residual branch of a random share ``p`` of the samples in training and scales up the
    rest (Huang et al., 2016), as ``torchvision.ops.StochasticDepth(p, "row")``."""

    def __init__(self, p: float, mode: str = "row") -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival_rate = 1.0 - self.p
        noise = torch.empty([x.shape[0]] + [1] * (x.ndim - 1), dtype=x.dtype, device=x.device)
        noise = noise.bernoulli_(survival_rate)
        if survival_rate > 0.0:
            noise.div_(survival_rate)
        return x * noise

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p}, mode={self.mode})"


class ConvNormAct(nn.Sequential):
    """Convolution, normalisation, activation (torchvision's ``Conv2dNormActivation``); the convolution has
    a bias only without a norm, unless ``bias`` asks for one. ``separable`` factors a k×k kernel into k×1
    and 1×k; ``shuffle`` shuffles the channels across the groups afterwards (ShuffleNetV1, Zhang et al.,
    2018). ``pre`` puts the normalisation (of the input) and the activation first: pre-activation, as in
    DenseNet's transitions and dense layers (Huang et al., 2017); the convolution then has a bias only
    with ``bias`` (ConvNeXt's downsampling layers, Liu et al., 2022: a norm, no activation, a convolution
    with a bias)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, *, stride: int = 1,
                 dilation: int = 1, groups: int = 1, separable: bool = False,
                 norm_layer: NormLayer | None = nn.BatchNorm2d, act_layer: type[nn.Module] = nn.ReLU,
                 padding: int | None = None, bias: bool = False, shuffle: bool = False, pre: bool = False) -> None:
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        conv = _conv(in_channels, out_channels, kernel, stride=stride, dilation=dilation, groups=groups,
                     separable=separable, bias=bias or norm_layer is None, padding=padding)
        if pre:
            layers = _norm_act(in_channels, norm_layer, act_layer)
            layers["conv"] = conv
        else:
            layers = OrderedDict(conv=conv, norm=norm_layer(out_channels) if norm_layer is not None else nn.Identity(),
                                 act=_act(act_layer))
        layers["shuffle"] = nn.ChannelShuffle(groups) if shuffle and groups > 1 else nn.Identity()
        super().__init__(layers)


class NormAct(nn.Sequential):
    """Normalisation and activation alone: DenseNet's last feature map (``norm5`` and ReLU)."""

    def __init__(self, channels: int, *, norm_layer: NormLayer | None = nn.BatchNorm2d,
                 act_layer: type[nn.Module] = nn.ReLU) -> None:
        super().__init__(_norm_act(channels, norm_layer, act_layer))


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al., 2018), as ``torchvision.ops.SqueezeExcitation``: pool, 1×1
    conv to ``squeeze`` channels, ``act_layer``, 1×1 conv back, ``gate_layer``; the result scales the
    input channel-wise."""

    def __init__(self, channels: int, squeeze: int, *, act_layer: type[nn.Module] = nn.ReLU,
                 gate_layer: type[nn.Module] = nn.Sigmoid) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = _act(act_layer)
        self.scale_activation = gate_layer()

    def forward(self, x: Tensor) -> Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


class DepthwiseSeparableConv(nn.Sequential):
    """Depthwise k×k conv + norm + act, then pointwise 1×1 conv + norm + act (MobileNetV1, Howard et al.,
    2017)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, *, stride: int = 1,
                 dilation: int = 1, separable: bool = False, norm_layer: NormLayer | None = nn.BatchNorm2d,
                 act_layer: type[nn.Module] = nn.ReLU) -> None:
        super().__init__(OrderedDict(
            depthwise=ConvNormAct(in_channels, in_channels, kernel, stride=stride, dilation=dilation,
                                  groups=in_channels, separable=separable, norm_layer=norm_layer,
                                  act_layer=act_layer),
            pointwise=ConvNormAct(in_channels, out_channels, 1, norm_layer=norm_layer, act_layer=act_layer),
        ))


class MBConv(nn.Module):
    """Inverted residual with linear bottleneck (MobileNetV2, Sandler et al., 2018), optionally with
    squeeze-and-excitation (``se_layer``: MnasNet, MobileNetV3, EfficientNet) and stochastic depth on
    the residual branch (EfficientNet). The expansion is left out when ``expanded == in_channels``.
    ``groups`` groups the 1×1 convolutions, with a channel shuffle after the expansion (ShuffleNet)."""

    def __init__(self, in_channels: int, out_channels: int, expanded: int, kernel: int = 3, *, stride: int = 1,
                 dilation: int = 1, separable: bool = False, norm_layer: NormLayer | None = nn.BatchNorm2d,
                 act_layer: type[nn.Module] = nn.ReLU, se_layer: Callable[[int], nn.Module] | None = None,
                 drop_path: float = 0.0, groups: int = 1) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and in_channels == out_channels
        layers = {"norm_layer": norm_layer, "act_layer": act_layer}
        # expand
        self.expand = (ConvNormAct(in_channels, expanded, 1, groups=groups, shuffle=True, **layers)
                       if expanded != in_channels else nn.Identity())
        # depthwise
        self.depthwise = ConvNormAct(expanded, expanded, kernel, stride=stride, dilation=dilation, groups=expanded,
                                     separable=separable, **layers)
        # squeeze and excitation
        self.se = se_layer(expanded) if se_layer is not None else nn.Identity()
        # project (linear bottleneck: no activation)
        self.project = ConvNormAct(expanded, out_channels, 1, groups=groups, norm_layer=norm_layer,
                                   act_layer=nn.Identity)
        self.drop_path = (StochasticDepth(drop_path, "row") if self.use_res_connect and drop_path > 0
                          else nn.Identity())

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(self.se(self.depthwise(self.expand(x))))
        if self.use_res_connect:
            out = self.drop_path(out) + x
        return out


class FusedMBConv(nn.Module):
    """Fused inverted residual, Fused-MBConv (EfficientNetV2, Tan & Le, 2021), as torchvision's
    ``FusedMBConv``: a k×k convolution to ``expanded`` channels and a linear 1×1 projection, or, when
    ``expanded == in_channels``, a single k×k convolution to ``out_channels`` with its activation;
    stochastic depth on the residual branch."""

    def __init__(self, in_channels: int, out_channels: int, expanded: int, kernel: int = 3, *, stride: int = 1,
                 dilation: int = 1, separable: bool = False, norm_layer: NormLayer | None = nn.BatchNorm2d,
                 act_layer: type[nn.Module] = nn.ReLU, drop_path: float = 0.0) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and in_channels == out_channels
        spatial = {"stride": stride, "dilation": dilation, "separable": separable, "norm_layer": norm_layer}
        if expanded != in_channels:
            self.expand = ConvNormAct(in_channels, expanded, kernel, act_layer=act_layer, **spatial)
            self.project: nn.Module = ConvNormAct(expanded, out_channels, 1, norm_layer=norm_layer,
                                                  act_layer=nn.Identity)
        else:
            self.expand = ConvNormAct(in_channels, out_channels, kernel, act_layer=act_layer, **spatial)
            self.project = nn.Identity()
        self.drop_path = (StochasticDepth(drop_path, "row") if self.use_res_connect and drop_path > 0
                          else nn.Identity())

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(self.expand(x))
        if self.use_res_connect:
            out = self.drop_path(out) + x
        return out


class ResidualBlock(nn.Module):
    """Residual block (ResNet, He et al., 2016): basic (two k×k convolutions) when ``width`` is 0, else
    bottleneck (1×1 to ``width``, k×k with ``groups``, 1×1). The shortcut is the identity when shapes
    allow (and ``project`` is off), else a strided 1×1 convolution with norm; optional squeeze-and-
    excitation (``se_layer``) before the addition, stochastic depth on the residual branch, activation
    after it. ``regnet`` (bottleneck only) arranges it as RegNet's (Radosavovic et al., 2020), as
    torchvision's ``ResBottleneckBlock``: the shortcut is registered first and the squeeze-and-excitation
    acts on ``width`` channels, between the k×k and the last 1×1 convolution."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, *, width: int = 0, groups: int = 1,
                 stride: int = 1, dilation: int = 1, separable: bool = False,
                 norm_layer: NormLayer | None = nn.BatchNorm2d, act_layer: type[nn.Module] = nn.ReLU,
                 se_layer: Callable[[int], nn.Module] | None = None, project: bool = False,
                 drop_path: float = 0.0, regnet: bool = False) -> None:
        super().__init__()
        if regnet and not width:
            raise ValueError("regnet=True arranges a bottleneck: it needs a width")
        self.regnet = regnet
        spatial = {"stride": stride, "dilation": dilation, "separable": separable, "norm_layer": norm_layer}
        linear = {"norm_layer": norm_layer, "act_layer": nn.Identity}  # no activation before the addition
        needs_projection = project or stride != 1 or in_channels != out_channels
        shortcut = (ConvNormAct(in_channels, out_channels, 1, stride=stride, **linear)
                    if needs_projection else nn.Identity())
        if regnet:
            self.shortcut = shortcut  # first, as torchvision's ResBottleneckBlock registers its projection
        if width:
            self.conv1 = ConvNormAct(in_channels, width, 1, norm_layer=norm_layer, act_layer=act_layer)
            self.conv2 = ConvNormAct(width, width, kernel, groups=groups, act_layer=act_layer, **spatial)
            if regnet:
                self.se = se_layer(width) if se_layer is not None else nn.Identity()
            self.conv3 = ConvNormAct(width, out_channels, 1, **linear)
        else:
            self.conv1 = ConvNormAct(in_channels, out_channels, kernel, act_layer=act_layer, **spatial)
            self.conv2 = ConvNormAct(out_channels, out_channels, kernel, dilation=dilation, separable=separable,
                                     **linear)
            self.conv3 = nn.Identity()
        if not regnet:
            self.se = se_layer(out_channels) if se_layer is not None else nn.Identity()
        self.shortcut = shortcut  # a module assigned again keeps its place
        self.drop_path = StochasticDepth(drop_path, "row") if drop_path > 0 else nn.Identity()
        self.act = _act(act_layer)

    def forward(self, x: Tensor) -> Tensor:
        if self.regnet:
            out = self.conv3(self.se(self.conv2(self.conv1(x))))
        else:
            out = self.se(self.conv3(self.conv2(self.conv1(x))))
        return self.act(self.drop_path(out) + self.shortcut(x))


class ShuffleV1Block(nn.Module):
    """ShuffleNetV1 unit (Zhang et al., 2018, Figure 2 (b) and (c)): grouped 1×1 convolution to
    ``width`` channels + norm + activation and a channel shuffle across its groups, depthwise k×k
    convolution (strided) + norm, grouped 1×1 convolution + norm. With stride 1 the input is added; with
    a larger stride a 3×3 average pooling of the input is concatenated before the branch, which then
    gives ``out_channels - in_channels`` channels. The activation follows. ``dense`` leaves the first
    1×1 convolution ungrouped (and so unshuffled), as in the first unit of the paper's stage 2."""

    def __init__(self, in_channels: int, out_channels: int, width: int, kernel: int = 3, *, groups: int = 1,
                 dense: bool = False, stride: int = 1, dilation: int = 1, separable: bool = False,
                 norm_layer: NormLayer | None = nn.BatchNorm2d, act_layer: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.stride = stride
        branch = out_channels if stride == 1 else out_channels - in_channels
        linear = {"norm_layer": norm_layer, "act_layer": nn.Identity}
        self.expand = ConvNormAct(in_channels, width, 1, groups=1 if dense else groups, shuffle=True,
                                  norm_layer=norm_layer, act_layer=act_layer)
        self.depthwise = ConvNormAct(width, width, kernel, stride=stride, dilation=dilation, groups=width,
                                     separable=separable, **linear)
        self.project = ConvNormAct(width, branch, 1, groups=groups, **linear)
        self.shortcut = nn.AvgPool2d(3, stride, 1) if stride > 1 else nn.Identity()
        self.act = _act(act_layer)

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        if self.stride == 1:
            return self.act(out + x)
        return self.act(torch.cat((self.shortcut(x), out), dim=1))


class ShuffleV2Unit(nn.Module):
    """ShuffleNetV2 unit (Ma et al., 2018), as torchvision's ``shufflenetv2.InvertedResidual``: with
    stride 1, half the channels pass and half go through 1×1, depthwise k×k, 1×1; with stride 2 both
    branches see the whole input. The halves are concatenated and shuffled."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, *, stride: int = 1,
                 dilation: int = 1, separable: bool = False, norm_layer: NormLayer | None = nn.BatchNorm2d,
                 act_layer: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        half = out_channels // 2
        pointwise = {"norm_layer": norm_layer, "act_layer": act_layer}
        spatial = {"stride": stride, "dilation": dilation, "separable": separable, "norm_layer": norm_layer,
                   "act_layer": nn.Identity}
        self.stride = stride
        if stride > 1:
            self.branch1: nn.Module = nn.Sequential(
                ConvNormAct(in_channels, in_channels, kernel, groups=in_channels, **spatial),
                ConvNormAct(in_channels, half, 1, **pointwise),
            )
        else:
            self.branch1 = nn.Identity()
        self.branch2 = nn.Sequential(
            ConvNormAct(in_channels if stride > 1 else half, half, 1, **pointwise),
            ConvNormAct(half, half, kernel, groups=half, **spatial),
            ConvNormAct(half, half, 1, **pointwise),
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

    def __init__(self, in_channels: int, squeeze: int, expand1: int, expand3: int, *,
                 norm_layer: NormLayer | None = nn.BatchNorm2d, act_layer: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        layers = {"norm_layer": norm_layer, "act_layer": act_layer}
        self.squeeze = ConvNormAct(in_channels, squeeze, 1, **layers)
        self.expand1x1 = ConvNormAct(squeeze, expand1, 1, **layers)
        self.expand3x3 = ConvNormAct(squeeze, expand3, 3, **layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.squeeze(x)
        return torch.cat((self.expand1x1(x), self.expand3x3(x)), dim=1)


class DenseLayer(nn.Module):
    """Dense layer of DenseNet-BC (Huang et al., 2017), as torchvision's ``_DenseLayer``: norm, act, 1×1
    conv to ``width`` (torchvision's ``bn_size * growth_rate``), norm, act, k×k conv to ``growth``
    channels; the output is the input with those channels appended (torchvision concatenates a whole
    dense block's outputs at once: the same tensor)."""

    def __init__(self, in_channels: int, growth: int, width: int, kernel: int = 3, *,
                 norm_layer: NormLayer | None = nn.BatchNorm2d, act_layer: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        layers = {"norm_layer": norm_layer, "act_layer": act_layer, "pre": True}
        self.conv1 = ConvNormAct(in_channels, width, 1, **layers)
        self.conv2 = ConvNormAct(width, growth, kernel, **layers)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat((x, self.conv2(self.conv1(x))), dim=1)
class CNBlock(nn.Module):
    """ConvNeXt block (Liu et al., "A ConvNet for the 2020s", 2022), as torchvision's ``CNBlock``: a
    depthwise k×k convolution with a bias, ``norm_layer`` (``LayerNorm2d``: over the channels), then,
    channels last, a linear layer to ``expanded`` channels, ``act_layer``, a linear layer back; each
    channel scaled by ``layer_scale`` (a parameter, registered first as torchvision's is), stochastic
    depth, and the input added back."""

    def __init__(self, channels: int, expanded: int, kernel: int = 7, *, dilation: int = 1, separable: bool = False,
                 norm_layer: NormLayer | None = LayerNorm2d, act_layer: type[nn.Module] = nn.GELU,
                 layer_scale: float = 1e-6, drop_path: float = 0.0) -> None:
        super().__init__()
        self.layer_scale = nn.Parameter(torch.full((channels, 1, 1), layer_scale))
        self.depthwise = _conv(channels, channels, kernel, stride=1, dilation=dilation, groups=channels,
                               separable=separable, bias=True, padding=None)
        self.norm = norm_layer(channels) if norm_layer is not None else nn.Identity()
        self.expand = nn.Linear(channels, expanded)
        self.act = _act(act_layer)
        self.project = nn.Linear(expanded, channels)
        self.drop_path = StochasticDepth(drop_path, "row") if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = self.norm(self.depthwise(x)).permute(0, 2, 3, 1)
        out = self.project(self.act(self.expand(out))).permute(0, 3, 1, 2)
        return self.drop_path(self.layer_scale * out) + x


class Concat(nn.ModuleList):
    """Modules side by side on the same input, their outputs concatenated along the channels."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([module(x) for module in self], dim=1)


class InceptionModule(nn.Module):
    """Inception module (GoogLeNet, Szegedy et al., 2015; Inception-v3's modules A to E, Szegedy et
    al., 2016): parallel branches from the same input, concatenated along the channels, as
    torchvision's ``googlenet.Inception`` and ``inception.InceptionA`` ... ``InceptionE``.

    ``branches`` holds, per branch, its steps; a step is a tuple of parts side by side (a
    :class:`Concat` when there are several, as the 1×3 and 3×1 convolutions of module E), and a part is
    ``(op, out, (kh, kw), stride, (ph, pw))``: ``op`` ``"conv"`` is a convolution, norm and activation
    to ``out`` channels, ``"max"`` or ``"avg"`` pooling (``out`` unused: it keeps the channels)."""

    def __init__(self, in_channels: int, branches: tuple, *, norm_layer: NormLayer | None = nn.BatchNorm2d,
                 act_layer: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.branches = nn.ModuleList()
        for branch in branches:
            steps, channels = [], in_channels
            for step in branch:
                parts: list[nn.Module] = []
                for op, out, kernel, stride, padding in step:
                    if op == "conv":
                        parts.append(ConvNormAct(channels, out, kernel, stride=stride, padding=padding,
                                                 norm_layer=norm_layer, act_layer=act_layer))
                    else:
                        pool = nn.MaxPool2d if op == "max" else nn.AvgPool2d
                        parts.append(pool(kernel, stride, padding))
                channels = sum(out if op == "conv" else channels for op, out, *_ in step)
                steps.append(parts[0] if len(parts) == 1 else Concat(parts))
            self.branches.append(nn.Sequential(*steps))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class ClassifierHead(nn.Sequential):
    """What follows the pooled, flattened features: ``norm_layer`` on them (seen as a 1×1 map;
    ConvNeXt's), hidden linear layers with their activation, dropout (after every hidden layer and
    before the classifier, or with ``dropout_first`` before every hidden layer, AlexNet's order), and
    the linear classifier."""

    def __init__(self, in_features: int, num_classes: int, *, hidden: tuple[int, ...] = (),
                 act_layer: type[nn.Module] = nn.ReLU, dropout: float = 0.0, dropout_first: bool = False,
                 norm_layer: NormLayer | None = None) -> None:
        layers: list[nn.Module] = []
        if norm_layer is not None:
            layers += [nn.Unflatten(1, (in_features, 1, 1)), norm_layer(in_features), nn.Flatten(1)]
        for width in hidden:
            if dropout_first:
                layers.append(nn.Dropout(dropout))
            layers += [nn.Linear(in_features, width), _act(act_layer)]
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
    """The network: ``features`` (every block and the head's 1×1 conv), adaptive average pooling,
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


def init_weights(model: Net) -> None:
    """torchvision's initialisation of its MobileNets and ResNets: He (fan-out) for convolutions,
    N(0, 0.01) for linear layers; a classifier that ends in a convolution (SqueezeNet's) starts small
    there too, as a linear layer does."""
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
    last = [m for m in model.classifier.modules() if isinstance(m, (nn.Conv2d, nn.Linear))][-1]
    if isinstance(last, nn.Conv2d):
        nn.init.normal_(last.weight, 0, 0.01)
