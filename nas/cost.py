"""The cost model: exact MACs, parameters, peak activations and receptive field of a genome, computed
from the genome alone (no weights, no tensors) so that the search can price a candidate before it
builds it.

Conventions:
    * **MACs** are the multiply-accumulates of convolutions and linear layers at batch 1 (the
      convention of torchvision's ``_ops`` metadata and the MobileNet papers; biases, normalisation,
      activations, pooling and the squeeze-and-excitation product are not counted). They equal
      ``torch.utils.flop_counter.FlopCounterMode``'s count on the built model divided by 2.
      **FLOPs = 2 × MACs.**
    * **params** are the learnable parameters, ``sum(p.numel() for p in model.parameters())``.
    * **activations** is the peak number of activation elements alive at once in a batch-1 forward
      pass: each convolution or linear layer holds its input and its output (normalisation and
      activation run in place), and a residual block also holds its input until the addition, as
      does squeeze-and-excitation. Multiply by 4 for float32 bytes (:attr:`Cost.activation_bytes`).
    * **receptive_field** is the side, in input pixels, of the region one pixel of the last feature
      map sees through the convolutions (global pooling, in the head or in squeeze-and-excitation,
      is left out: it would make every receptive field the whole image).
"""

from __future__ import annotations

from dataclasses import dataclass

from .genome import Conv, DepthwiseSeparable, Genome, InvertedResidual, as_genome

__all__ = ["Cost", "count"]


@dataclass(frozen=True)
class Cost:
    """What :func:`count` returns; see the module docstring for the conventions."""

    macs: int
    params: int
    activations: int
    receptive_field: int
    resolution: tuple[int, int]
    feature_size: tuple[int, int]  # spatial size of the last feature map

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def activation_bytes(self) -> int:
        return 4 * self.activations


class _TooSmall(Exception):
    def __init__(self, where: str, size: tuple[int, int], why: str) -> None:
        super().__init__(where, size, why)
        self.where, self.size, self.why = where, size, why


class _Walk:
    """Walks a network layer by layer, keeping spatial size, totals and the live activations."""

    def __init__(self, channels: int, resolution: tuple[int, int], norm_params: bool) -> None:
        self.h, self.w = resolution
        self.macs = self.params = 0
        self.peak = channels * self.h * self.w
        self.rf, self.jump = 1, 1
        self.norm_params = norm_params
        self.where = ""

    def live(self, *elements: int) -> None:
        self.peak = max(self.peak, sum(elements))

    def conv(self, c_in: int, c_out: int, kernel: int = 1, *, stride: int = 1, dilation: int = 1,
             groups: int = 1, separable: bool = False, held: int = 0) -> int:
        """A conv + norm + act layer; ``held`` elements stay alive beside it. Returns output size."""
        h, w = self.h, self.w
        if stride > 1 and (h < stride or w < stride):
            raise _TooSmall(self.where, (h, w), f"its stride-{stride} layer would not downsample")
        span = dilation * (kernel - 1)
        pad = (kernel - 1) // 2 * dilation
        h_out = (h + 2 * pad - span - 1) // stride + 1
        w_out = (w + 2 * pad - span - 1) // stride + 1
        if h_out < 1 or w_out < 1:
            raise _TooSmall(self.where, (h, w), f"its {kernel}×{kernel} layer would leave no output")
        if separable:  # k×1 (striding rows), then 1×k (striding columns)
            mid = c_out * h_out * w
            self.macs += h_out * w * c_out * (c_in // groups) * kernel
            self.macs += h_out * w_out * c_out * (c_out // groups) * kernel
            self.params += c_out * (c_in // groups) * kernel + c_out * (c_out // groups) * kernel
            self.live(held, c_in * h * w, mid)
            self.live(held, mid, c_out * h_out * w_out)
        else:
            self.macs += h_out * w_out * c_out * (c_in // groups) * kernel * kernel
            self.params += c_out * (c_in // groups) * kernel * kernel
            self.live(held, c_in * h * w, c_out * h_out * w_out)
        self.params += 2 * c_out if self.norm_params else c_out  # norm weight and bias, or the conv's bias
        self.rf += span * self.jump
        self.jump *= stride
        self.h, self.w = h_out, w_out
        return c_out * h_out * w_out

    def squeeze_excite(self, channels: int, squeeze: int, held: int) -> None:
        x = channels * self.h * self.w
        self.macs += 2 * channels * squeeze
        self.params += 2 * channels * squeeze + squeeze + channels
        self.live(held, x, channels, squeeze)  # pooled vector and squeezed vector beside the input
        self.live(held, x, x)  # the channel-wise product

    def linear(self, c_in: int, c_out: int) -> None:
        self.macs += c_in * c_out
        self.params += c_in * c_out + c_out
        self.live(c_in, c_out)


def _walk(genome: Genome, resolution: tuple[int, int], in_channels: int, num_classes: int) -> Cost:
    norm = genome.norm.kind != "none"
    walk = _Walk(in_channels, resolution, norm_params=norm)
    for i, (block, c_in) in enumerate(zip(genome.blocks, genome.channels(in_channels))):
        walk.where = f"block {i} ({block.kind}, stride {block.stride})"
        spatial = dict(stride=block.stride, dilation=block.dilation, separable=block.separable)
        if isinstance(block, Conv):
            walk.conv(c_in, block.out, block.kernel, groups=block.groups, **spatial)
        elif isinstance(block, DepthwiseSeparable):
            walk.conv(c_in, c_in, block.kernel, groups=c_in, **spatial)
            walk.conv(c_in, block.out)
        elif isinstance(block, InvertedResidual):
            x = c_in * walk.h * walk.w
            residual = block.stride == 1 and c_in == block.out
            held = x if residual else 0
            if block.expanded != c_in:
                walk.conv(c_in, block.expanded)  # its input is x itself: nothing else held
                walk.conv(block.expanded, block.expanded, block.kernel, groups=block.expanded, held=held,
                          **spatial)
            else:
                walk.conv(c_in, c_in, block.kernel, groups=c_in, **spatial)
            if block.se is not None:
                walk.squeeze_excite(block.expanded, block.se.channels, held)
            out = walk.conv(block.expanded, block.out, held=held)
            walk.live(held, out)  # the in-place addition
        else:  # pragma: no cover - Genome refuses other block types
            raise TypeError(f"unknown block {block!r}")
    feature_size = (walk.h, walk.w)
    channels = genome.blocks[-1].out
    head = genome.head
    if head.width:
        walk.where = "head"
        walk.conv(channels, head.width)
        channels = head.width
    walk.live(channels * walk.h * walk.w, channels)  # global average pooling
    if head.hidden:
        walk.linear(channels, head.hidden)
        channels = head.hidden
    walk.linear(channels, num_classes)
    return Cost(macs=walk.macs, params=walk.params, activations=walk.peak, receptive_field=walk.rf,
                resolution=resolution, feature_size=feature_size)


def _resolution(resolution: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(resolution, int) and not isinstance(resolution, bool):
        resolution = (resolution, resolution)
    if (not isinstance(resolution, tuple) or len(resolution) != 2
            or not all(isinstance(r, int) and not isinstance(r, bool) for r in resolution)):
        raise TypeError(f"resolution must be an int or a (height, width) tuple of ints, got {resolution!r}")
    if min(resolution) < 1:
        raise ValueError(f"resolution={resolution} must be positive")
    return resolution


def min_resolution(genome: Genome, *, in_channels: int = 3) -> int:
    """The smallest square input the network accepts: every strided layer must get a map at least as
    large as its stride (else it does not downsample) and every layer must leave an output."""
    for side in range(1, 1 << 16):
        try:
            _walk(genome, (side, side), in_channels, 1)
            return side
        except _TooSmall:
            continue
    raise ValueError(f"no resolution up to 65535 fits genome {str(genome)!r}")  # pragma: no cover


def count(genome: Genome | str, *, resolution: int | tuple[int, int] = 224, in_channels: int = 3,
          num_classes: int = 1000) -> Cost:
    """Count a genome's cost exactly, without building it.

    Args:
        genome: the architecture (a :class:`~nas.genome.Genome` or its string form).
        resolution: input side in pixels, or ``(height, width)``.
        in_channels: channels of the input image.
        num_classes: width of the classifier.

    Returns:
        A :class:`Cost` with ``macs``, ``flops``, ``params``, ``activations`` and ``receptive_field``.

    Raises:
        ValueError: a resolution too small for the network's downsampling (the message gives the
            smallest one it accepts), or groups that do not divide the channels.

    Example:
        >>> import nas
        >>> nas.count("conv_c128 head", resolution=112, in_channels=64, num_classes=1).macs
        924844160
    """
    genome = as_genome(genome)
    size = _resolution(resolution)
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes={num_classes!r} must be a positive int")
    try:
        return _walk(genome, size, in_channels, num_classes)
    except _TooSmall as small:
        smallest = min_resolution(genome, in_channels=in_channels)
        raise ValueError(
            f"resolution {size[0]}×{size[1]} is too small for this network: at {small.where} the map is "
            f"{small.size[0]}×{small.size[1]} and {small.why}. The smallest input it accepts is "
            f"{smallest}×{smallest}; use a larger resolution or a genome with fewer stride-2 layers."
        ) from None
