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
      pass: each convolution, pooling or linear layer holds its input and its output (normalisation
      and activation run in place); a residual block also holds its input until the addition, as do
      squeeze-and-excitation and parallel branches until their concatenation (which, like a channel
      shuffle, writes a new tensor), and a dense layer until its concatenation (its first norm then
      writes a copy); a per-channel product (squeeze-and-excitation's, ConvNeXt's layer scale) holds its
      input and its output. Multiply by 4 for float32 bytes (:attr:`Cost.activation_bytes`).
    * **receptive_field** is the side, in input pixels, of the region one pixel of the last feature
      map sees through the convolutions and pooling windows (the longer side, should an Inception
      module's 1×k and k×1 kernels make it oblong) (global pooling, in the head or in
      squeeze-and-excitation, is left out: it would make every receptive field the whole image).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .genome import (
    Block,
    Bottleneck,
    Conv,
    ConvNeXtBlock,
    Dense,
    DepthwiseSeparable,
    Fire,
    Genome,
    FusedInvertedResidual,
    Inception,
    InvertedResidual,
    Pool,
    Residual,
    ShuffleUnit,
    ShuffleV1Unit,
    as_genome,
)

__all__ = ["Cost", "cost_label", "count", "format_count"]


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


def _out_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil: bool = False) -> int:
    span = dilation * (kernel - 1)
    if not ceil:
        return (size + 2 * padding - span - 1) // stride + 1
    out = -(-(size + 2 * padding - span - 1) // stride) + 1
    return out - 1 if (out - 1) * stride >= size + padding else out  # torch: the last window starts inside


class _Walk:
    """Walks a network layer by layer, keeping spatial size, totals and the live activations."""

    def __init__(self, channels: int, resolution: tuple[int, int], norm: bool) -> None:
        self.h, self.w = resolution
        self.macs = self.params = 0
        self.peak = channels * self.h * self.w
        self.rf, self.jump = 1, 1
        self.norm = norm
        self.where = ""

    def live(self, *elements: int) -> None:
        self.peak = max(self.peak, sum(elements))

    def size(self, c: int) -> int:
        return c * self.h * self.w

    def window(self, kernel: tuple[int, int], stride: int, padding: tuple[int, int], dilation: int = 1,
               ceil: bool = False, what: str = "layer") -> tuple[int, int]:
        """Output size of a (kh, kw) window op on the current map, checked."""
        h, w = self.h, self.w
        if stride > 1 and (h < stride or w < stride):
            raise _TooSmall(self.where, (h, w), f"its stride-{stride} {what} would not downsample")
        h_out = _out_size(h, kernel[0], stride, padding[0], dilation, ceil)
        w_out = _out_size(w, kernel[1], stride, padding[1], dilation, ceil)
        if h_out < 1 or w_out < 1:
            raise _TooSmall(self.where, (h, w), f"its {kernel[0]}×{kernel[1]} {what} would leave no output")
        return h_out, w_out

    def spatial(self, kernel: int, stride: int, padding: int, dilation: int = 1, ceil: bool = False,
                what: str = "layer") -> tuple[int, int]:
        """Output size of a window op on the current map (checked), and receptive-field bookkeeping."""
        h_out, w_out = self.window((kernel, kernel), stride, (padding, padding), dilation, ceil, what)
        self.rf += dilation * (kernel - 1) * self.jump
        self.jump *= stride
        return h_out, w_out

    def conv(self, c_in: int, c_out: int, kernel: int = 1, *, stride: int = 1, dilation: int = 1,
             groups: int = 1, separable: bool = False, padding: int | None = None, bias: bool = False,
             held: int = 0, pre: bool = False) -> int:
        """A conv + norm + act layer (with ``pre``, norm + act of the input + conv); ``held`` elements stay
        alive beside it. Returns its output size."""
        padding = (kernel - 1) // 2 * dilation if padding is None else padding
        h, w = self.h, self.w
        h_out, w_out = self.spatial(kernel, stride, padding, dilation)
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
        self.params += c_out if bias or not self.norm else 0
        self.norm_act(c_in if pre else c_out)
        self.h, self.w = h_out, w_out
        return c_out * h_out * w_out

    def norm_act(self, channels: int) -> None:
        """A norm (its scale and shift) and an activation if any, in place: only the norm's parameters count."""
        self.params += 2 * channels if self.norm else 0

    def pool(self, channels: int, pool: Pool) -> None:
        x = self.size(channels)
        self.h, self.w = self.spatial(pool.kernel, pool.stride, pool.padding, ceil=pool.ceil, what="pooling")
        self.live(x, self.size(channels))

    def squeeze_excite(self, channels: int, squeeze: int, held: int) -> None:
        x = self.size(channels)
        self.macs += 2 * channels * squeeze
        self.params += 2 * channels * squeeze + squeeze + channels
        self.live(held, x, channels, squeeze)  # pooled vector and squeezed vector beside the input
        self.live(held, x, x)  # the channel-wise product

    def linear(self, c_in: int, c_out: int) -> None:
        self.macs += c_in * c_out
        self.params += c_in * c_out + c_out
        self.live(c_in, c_out)

    def branch(self, fn: Any) -> tuple[int, int, int, int, int]:
        """Runs ``fn`` from the current map and rewinds the map: for parallel branches. Returns the
        branch's output size and (h, w, rf, jump) after it."""
        state = (self.h, self.w, self.rf, self.jump)
        out = fn()
        after = (self.h, self.w, self.rf, self.jump)
        self.h, self.w, self.rf, self.jump = state
        return (out, *after)

    def join(self, *branches: tuple[int, int, int, int, int]) -> None:
        """After parallel branches: the map of the first, the widest receptive field of all."""
        _, self.h, self.w, _, self.jump = branches[0]
        self.rf = max(b[3] for b in branches)


def _inception(walk: _Walk, block: Inception, c_in: int) -> None:
    """Parallel branches from the input x, which stays alive until the last branch has read it, beside the
    outputs of the branches done; parts of a step side by side likewise, then concatenated. The receptive
    field is tracked per axis (1×7 and 7×1 kernels) and the larger side kept."""
    h, w, rf, jump = walk.h, walk.w, walk.rf, walk.jump
    x = walk.size(c_in)
    outs: list[int] = []
    sides = []
    for branch in block.branches:
        walk.h, walk.w, walk.jump = h, w, jump
        rf_h = rf_w = rf
        channels, current = c_in, x
        for index, step in enumerate(branch):
            held = sum(outs) + (x if index else 0)  # x is the current input of a first step
            parts: list[int] = []
            ends = []
            h_in, w_in = walk.h, walk.w
            for part in step:
                walk.h, walk.w = h_in, w_in
                kind = "convolution" if part.mode == "conv" else "pooling"
                h_out, w_out = walk.window(part.kernel, part.stride, part.padding, what=kind)
                out = part.out_channels(channels)
                if part.mode == "conv":
                    walk.macs += h_out * w_out * out * channels * part.kernel[0] * part.kernel[1]
                    walk.params += out * channels * part.kernel[0] * part.kernel[1] + (2 * out if walk.norm else out)
                walk.live(held, current, sum(parts), out * h_out * w_out)
                parts.append(out * h_out * w_out)
                ends.append((h_out, w_out, rf_h + (part.kernel[0] - 1) * walk.jump,
                             rf_w + (part.kernel[1] - 1) * walk.jump))
            if len(parts) > 1:
                walk.live(held, current, sum(parts), sum(parts))  # the concatenation of the parts
            walk.h, walk.w = ends[0][:2]
            rf_h, rf_w = max(e[2] for e in ends), max(e[3] for e in ends)
            walk.jump *= step[0].stride
            channels, current = sum(part.out_channels(channels) for part in step), sum(parts)
        outs.append(current)
        sides.append(max(rf_h, rf_w))
    walk.rf = max(sides)
    walk.live(*outs, sum(outs))  # the concatenation


def _block(walk: _Walk, block: Block, c_in: int) -> None:
    if isinstance(block, Inception):
        _inception(walk, block, c_in)
        return
    if isinstance(block, Pool):
        walk.pool(c_in, block)
        return
    if isinstance(block, Fire):
        walk.conv(c_in, block.squeeze)  # the squeezed map is the input of both expansions
        e1 = walk.branch(lambda: walk.conv(block.squeeze, block.expand1))
        e3 = walk.branch(lambda: walk.conv(block.squeeze, block.expand3, 3, held=e1[0]))
        walk.join(e1, e3)
        walk.live(e1[0], e3[0], walk.size(block.out))  # the concatenation
        return
    if isinstance(block, Dense):  # the input is held for the concatenation, so its norm writes a copy
        x = walk.size(c_in)
        walk.conv(c_in, block.width, held=x, pre=True)
        new = walk.conv(block.width, block.growth, block.kernel, held=x, pre=True)
        walk.live(x, new, walk.size(block.out_channels(c_in)))  # the concatenation
        return
    spatial = dict(stride=block.stride, dilation=block.dilation, separable=block.separable)
    if isinstance(block, Conv):
        walk.conv(c_in, block.out, block.kernel, groups=block.groups, padding=block.padding, bias=block.bias,
                  pre=block.pre, **spatial)
        if block.shuffle:
            walk.live(2 * walk.size(block.out))
    elif isinstance(block, DepthwiseSeparable):
        walk.conv(c_in, c_in, block.kernel, groups=c_in, **spatial)
        walk.conv(c_in, block.out)
    elif isinstance(block, InvertedResidual):
        x = walk.size(c_in)
        held = x if block.stride == 1 and c_in == block.out else 0
        if block.expanded != c_in:
            walk.conv(c_in, block.expanded, groups=block.groups)  # its input is x itself: nothing else held
            if block.groups > 1:
                walk.live(held, 2 * walk.size(block.expanded))  # the shuffle copies
        walk.conv(block.expanded, block.expanded, block.kernel, groups=block.expanded,
                  held=held if block.expanded != c_in else 0, **spatial)
        if block.se is not None:
            walk.squeeze_excite(block.expanded, block.se.channels, held)
        out = walk.conv(block.expanded, block.out, groups=block.groups, held=held)
        walk.live(held, out)  # the in-place addition
    elif isinstance(block, FusedInvertedResidual):
        x = walk.size(c_in)
        held = x if block.stride == 1 and c_in == block.out else 0
        if block.expanded == c_in:  # no expansion: one k×k convolution straight to out
            out = walk.conv(c_in, block.out, block.kernel, held=0, **spatial)
        else:
            walk.conv(c_in, block.expanded, block.kernel, **spatial)  # its input is x itself
            out = walk.conv(block.expanded, block.out, held=held)
        walk.live(held, out)  # the in-place addition
    elif isinstance(block, Residual):  # basic or bottleneck: the input is held for the shortcut
        x = walk.size(c_in)

        def main() -> int:
            if isinstance(block, Bottleneck):
                walk.conv(c_in, block.width)
                walk.conv(block.width, block.width, block.kernel, groups=block.groups, held=x, **spatial)
                if block.regnet and block.se is not None:  # RegNet's: on the bottleneck, before the last 1×1
                    walk.squeeze_excite(block.width, block.se.channels, x)
                out = walk.conv(block.width, block.out, held=x)
            else:
                walk.conv(c_in, block.out, block.kernel, **spatial)
                out = walk.conv(block.out, block.out, block.kernel, dilation=block.dilation,
                                separable=block.separable, held=x)
            if block.se is not None and not getattr(block, "regnet", False):
                walk.squeeze_excite(block.out, block.se.channels, x)
            return out

        branches = [walk.branch(main)]
        if block.project or block.stride != 1 or c_in != block.out:  # torchvision runs it after the main path
            branches.append(walk.branch(lambda: walk.conv(c_in, block.out, stride=block.stride, held=branches[0][0])))
        walk.join(*branches)
        walk.live(x, branches[0][0])  # the addition, in place
    elif isinstance(block, ShuffleV1Unit):  # the input is held for the shortcut
        x = walk.size(c_in)
        branch_out = block.branch_out(c_in)

        def main() -> int:
            walk.conv(c_in, block.width, groups=1 if block.dense else block.groups)  # its input is x itself
            if block.groups > 1 and not block.dense:
                walk.live(x, 2 * walk.size(block.width))  # the shuffle copies
            walk.conv(block.width, block.width, block.kernel, groups=block.width, held=x, **spatial)
            return walk.conv(block.width, branch_out, groups=block.groups, held=x)

        def shortcut() -> int:  # 3×3 average pooling, padding 1, beside the branch's output
            walk.h, walk.w = walk.spatial(3, block.stride, 1, what="pooling")
            pooled = walk.size(c_in)
            walk.live(x, b[0], pooled)
            return pooled

        b = walk.branch(main)
        if block.stride == 1:
            walk.join(b)
            walk.live(x, b[0])  # the addition, in place
        else:
            s = walk.branch(shortcut)
            walk.join(b, s)
            walk.live(b[0], s[0], walk.size(block.out))  # the concatenation
    elif isinstance(block, ConvNeXtBlock):  # the input is held for the addition
        x = walk.size(c_in)
        walk.conv(c_in, c_in, block.kernel, groups=c_in, bias=True, **spatial)  # its input is x itself
        hidden = walk.size(block.expanded)
        walk.macs += 2 * walk.h * walk.w * c_in * block.expanded  # the two linear layers, at every pixel
        walk.params += 2 * c_in * block.expanded + block.expanded + c_in + c_in  # weights, biases, layer scale
        walk.live(x, x, hidden)
        walk.live(x, hidden, x)
        walk.live(x, x, x)  # the layer scale's product; the addition is in place
    elif isinstance(block, ShuffleUnit):
        x = walk.size(c_in)
        half = block.out // 2
        dw = dict(groups=half, **spatial)
        if block.stride == 1:  # x1 (half of x) waits beside branch 2
            b2 = walk.branch(lambda: (walk.conv(half, half, held=x - walk.size(half)),
                                      walk.conv(half, half, block.kernel, held=x, **dw),
                                      walk.conv(half, half, held=x))[-1])
            walk.join(b2)
            walk.live(x, b2[0], walk.size(block.out))
        else:
            b1 = walk.branch(lambda: (walk.conv(c_in, c_in, block.kernel, groups=c_in, **spatial),
                                      walk.conv(c_in, half, held=x))[-1])
            b2 = walk.branch(lambda: (walk.conv(c_in, half, held=b1[0]),
                                      walk.conv(half, half, block.kernel, held=b1[0], **dw),
                                      walk.conv(half, half, held=b1[0]))[-1])
            walk.join(b1, b2)
            walk.live(b1[0], b2[0], walk.size(block.out))
        walk.live(2 * walk.size(block.out))  # the shuffle copies
    else:  # pragma: no cover - Genome refuses other block types
        raise TypeError(f"unknown block {block!r}")


def _walk(genome: Genome, resolution: tuple[int, int], in_channels: int, num_classes: int) -> Cost:
    walk = _Walk(in_channels, resolution, norm=genome.norm.kind != "none")
    for i, (block, c_in) in enumerate(zip(genome.blocks, genome.channels(in_channels))):
        walk.where = f"block {i} ({block.kind})"
        _block(walk, block, c_in)
    feature_size = (walk.h, walk.w)
    channels = genome.out_channels(in_channels)
    head = genome.head
    if head.norm_act:
        walk.norm_act(channels)
    if head.width:
        walk.where = "head"
        walk.conv(channels, head.width)
        channels = head.width
    if head.pooled_norm:  # a norm of the pooled features, without an activation
        walk.norm_act(channels)
    if head.conv_classifier:
        walk.macs += walk.h * walk.w * channels * num_classes
        walk.params += channels * num_classes + num_classes
        walk.live(walk.size(channels), walk.size(num_classes))
    else:
        features = channels * head.pool ** 2
        walk.live(walk.size(channels), features)  # adaptive average pooling
        for width in head.hidden:
            walk.linear(features, width)
            features = width
        walk.linear(features, num_classes)
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


_LARGEST_SIDE = (1 << 16) - 1  # min_resolution looks no further


def _fits(genome: Genome, side: int, in_channels: int) -> bool:
    try:
        _walk(genome, (side, side), in_channels, 1)
        return True
    except _TooSmall:
        return False


def min_resolution(genome: Genome, *, in_channels: int = 3) -> int:
    """The smallest square input the network accepts: every strided layer must get a map at least as
    large as its stride (else it does not downsample) and every layer must leave an output.

    Every layer's output size grows (or stays) with its input size, so whether a side fits does too:
    a binary search finds the smallest in a few walks, however deep the network or large its strides."""
    if not _fits(genome, _LARGEST_SIDE, in_channels):
        raise ValueError(f"no resolution up to {_LARGEST_SIDE}×{_LARGEST_SIDE} fits genome {str(genome)!r}: its "
                         "strides and unpadded windows shrink the map too much; use fewer or smaller strides")
    low, high = 0, _LARGEST_SIDE  # low does not fit (or is 0), high fits
    while high - low > 1:
        middle = (low + high) // 2
        if _fits(genome, middle, in_channels):
            high = middle
        else:
            low = middle
    return high


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
        where = (f"resolution {size[0]}×{size[1]} is too small for this network: at {small.where} the map is "
                 f"{small.size[0]}×{small.size[1]} and {small.why}.")
        try:
            smallest = min_resolution(genome, in_channels=in_channels)
        except ValueError:
            raise ValueError(f"{where} No input up to {_LARGEST_SIDE}×{_LARGEST_SIDE} fits it; use a genome with "
                             "fewer or smaller strides.") from None
        raise ValueError(
            f"{where} The smallest input it accepts is {smallest}×{smallest}; use a larger resolution or a "
            "genome with fewer stride-2 layers."
        ) from None


def format_count(value: float, digits: int = 3) -> str:
    """A count with a K, M or G suffix (powers of 1000) and ``digits`` significant digits:
    ``format_count(68_765_736)`` -> ``"68.8M"``, ``format_count(1_593_792)`` -> ``"1.59M"``."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.{digits}g}{unit}"
    return f"{value:.{digits}g}"


# what each cost is called on axes, in tables and in Optuna's metric names; the resolution is part of the
# name of every cost that depends on it (a network's MACs at 224×224 are ~49 times its MACs at 32×32)
_COST_NAMES = {"macs": "MACs", "flops": "FLOPs", "params": "params", "latency": "latency (ms, CPU, batch 1)",
               "latency_ms": "latency (ms, CPU, batch 1)", "memory": "peak activation bytes",
               "activations": "activations"}


def cost_label(metric: str, resolution: int | None = None) -> str:
    """How a cost is named wherever it is shown: ``cost_label("macs", 224)`` -> ``"MACs at 224×224"``;
    parameters do not depend on the input size and are named without it."""
    name = _COST_NAMES.get(metric, metric)
    if metric == "params" or resolution is None:
        return name
    head, _, tail = name.partition(" (")
    return f"{head} at {resolution}×{resolution}" + (f" ({tail}" if tail else "")
