"""The ``densenet`` space: densely connected networks (DenseNet-BC).

A network follows torchvision's DenseNet template (Huang et al., "Densely Connected Convolutional
Networks", CVPR 2017): a stem (7×7 stride-2 convolution, norm, ReLU, 3×3 stride-2 max pooling), four
dense blocks of dense layers (each: norm, ReLU, 1×1 convolution to ``bn_size × growth`` channels, norm,
ReLU, 3×3 convolution to ``growth`` new channels, appended to its input), a transition between blocks
(norm, ReLU, 1×1 convolution to ``⌊compression × channels⌋``, 2×2 average pooling), then a final norm
and ReLU, global average pooling and a linear classifier. In the genome grammar (DenseNet-121)::

    conv_k7_s2_c64_relu pool_max_k3_s2_p1 dense_gr32_w128_relu*6 conv_k1_c128_pre_relu pool_avg
    dense_gr32_w128_relu*12 conv_k1_c256_pre_relu pool_avg dense_gr32_w128_relu*24 conv_k1_c512_pre_relu
    pool_avg dense_gr32_w128_relu*16 head_norm_relu

Dimensions: the growth rate (the paper's k), the bottleneck factor ``bn_size`` (the paper's 4k-wide
bottleneck is ``bn_size`` 4), the stem's width (``num_init_features``, the paper's 2k), the compression
of the transitions (the paper's θ: 0.5 for DenseNet-BC, 1 for DenseNet-B), the kernel of the dense
layers' second convolution, and the number of layers of each dense block. The choices hold every
value the references use, so that they are points of the space.

References (torchvision's builders, reproduced parameter for parameter: params, MACs and logits;
torchvision's ImageNet top-1 at 224×224 in brackets):

* ``densenet121`` -- k=32, blocks (6, 12, 24, 16): 7,978,856 parameters, 2.834 GMACs (74.43%).
* ``densenet161`` -- k=48, 96 initial features, blocks (6, 12, 36, 24): 28,681,000, 7.728 GMACs (77.14%).
* ``densenet169`` -- k=32, blocks (6, 12, 32, 32): 14,149,480, 3.360 GMACs (75.60%).
* ``densenet201`` -- k=32, blocks (6, 12, 48, 32): 20,013,928, 4.291 GMACs (76.90%).

The paper reports single-crop ImageNet top-1 errors of 25.02% (121), 23.80% (169) and 22.58% (201).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from nas import Conv, Dense, Genome, Head, Inverse, Pool, Space, register_space

__all__ = ["DenseNetSpace", "densenet"]

# ----------------------------------------------------------------------------------------------
# the recipe: torchvision's DenseNets as genomes

_STEM_POOL = Pool("max", kernel=3, stride=2, padding=1)
_TRANSITION_POOL = Pool("avg", kernel=2, stride=2)
_HEAD = Head(norm_act=True)  # norm5, ReLU, global average pooling, linear classifier


def _transition_channels(channels: int, compression: float) -> int:
    """The paper's ⌊θm⌋: the channels a transition keeps (torchvision: ``num_features // 2``)."""
    return int(channels * compression)


def densenet(growth: int = 32, layers: tuple[int, ...] = (6, 12, 24, 16), init_features: int = 64, *,
             bn_size: int = 4, compression: float = 0.5, kernel: int = 3) -> Genome:
    """torchvision's ``DenseNet(growth_rate, block_config, num_init_features, bn_size)``, with the
    transitions' ``compression`` (torchvision: 0.5) and the dense layers' ``kernel`` (torchvision: 3).

    ``densenet()`` is ``densenet121``; ``densenet(48, (6, 12, 36, 24), 96)`` is ``densenet161``.

    Raises:
        ValueError: a compression outside (0, 1], or one that leaves a transition no channels.
    """
    if not 0 < compression <= 1:
        raise ValueError(f"compression={compression} must be in (0, 1]")
    blocks: list[Any] = [Conv(out=init_features, kernel=7, stride=2), _STEM_POOL]
    channels = init_features
    for i, depth in enumerate(layers):
        if i:
            out = _transition_channels(channels, compression)
            if out < 1:
                raise ValueError(f"compression={compression} leaves transition {i} none of its {channels} channels")
            blocks += [Conv(out=out, kernel=1, pre=True), _TRANSITION_POOL]
            channels = out
        blocks += [Dense(growth=growth, width=bn_size * growth, kernel=kernel)] * depth
        channels += depth * growth
    return Genome(blocks=tuple(blocks), head=_HEAD)


# ----------------------------------------------------------------------------------------------
# the space


class DenseNetSpace(Space):
    """The DenseNet space; every choice set can be replaced (tests use tiny ones)."""

    description = "DenseNet-BC: growth rate, bottleneck, stem width, compression, kernel, layers per dense block"
    target_resolution = 224

    def __init__(
        self,
        name: str = "densenet",
        *,
        growths: tuple[int, ...] = (12, 16, 24, 32, 40, 48),
        bn_sizes: tuple[int, ...] = (2, 4),
        init_features: tuple[int, ...] = (32, 48, 64, 96),
        compressions: tuple[float, ...] = (0.5, 1.0),
        kernels: tuple[int, ...] = (3, 5),
        layers: tuple[tuple[int, ...], ...] = ((2, 4, 6, 8), (4, 8, 12, 16), (8, 16, 24, 32, 36, 48),
                                               (8, 16, 24, 32)),
        references: Mapping[str, Genome] | None = None,
    ) -> None:
        self.name = name
        self.growths, self.bn_sizes, self.init_features = growths, bn_sizes, init_features
        self.compressions, self.kernels, self.layers = compressions, kernels, layers
        if not layers or any(not depths or min(depths) < 1 for depths in layers):
            raise ValueError(f"every dense block needs at least one layer to choose, got layers={layers}")
        for compression in compressions:
            # each transition gets at least 1 + growth channels: ⌊θ(1 + growth)⌋ >= 1 keeps one at least
            if not 0 < compression <= 1 or compression * (1 + min(growths)) < 1:
                raise ValueError(f"compression={compression} must be in (0, 1] and keep a channel of "
                                 f"{1 + min(growths)}: at least {1 / (1 + min(growths)):.4g}")
        self._references = dict(references) if references is not None else {
            "densenet121": densenet(32, (6, 12, 24, 16), 64),
            "densenet161": densenet(48, (6, 12, 36, 24), 96),
            "densenet169": densenet(32, (6, 12, 32, 32), 64),
            "densenet201": densenet(32, (6, 12, 48, 32), 64),
        }

    # -- dimensions ------------------------------------------------------------------------------

    def dimensions(self) -> dict[str, tuple[Any, ...]]:
        dims: dict[str, tuple[Any, ...]] = {
            "growth": self.growths,
            "bn_size": self.bn_sizes,
            "init_features": self.init_features,
            "compression": self.compressions,
            "kernel": self.kernels,
        }
        for i, depths in enumerate(self.layers, 1):
            dims[f"b{i}_layers"] = depths
        return dims

    def genome_from_params(self, p: Mapping[str, Any]) -> Genome:
        return densenet(p["growth"], tuple(p[f"b{i}_layers"] for i in range(1, len(self.layers) + 1)),
                        p["init_features"], bn_size=p["bn_size"], compression=p["compression"], kernel=p["kernel"])

    # -- inverse ---------------------------------------------------------------------------------

    def to_params(self, genome: Genome) -> dict[str, Any]:
        inv = Inverse(self, genome)
        genome, put, fail = inv.genome, inv.put, inv.fail
        blocks = genome.blocks
        stem = blocks[0]
        if not (isinstance(stem, Conv) and stem == Conv(out=stem.out, kernel=7, stride=2)):
            raise fail("block 0", f"the stem must be a 7×7 stride-2 conv with ReLU, got {stem}")
        put("init_features", stem.out, "block 0")
        if len(blocks) < 3 or blocks[1] != _STEM_POOL:
            raise fail("block 1", f"the stem's pooling must be {_STEM_POOL} and dense layers must follow, got "
                                  f"{' '.join(map(str, blocks[1:3]))}")
        first = blocks[2]
        if not isinstance(first, Dense):
            raise fail("block 2", f"the first dense block must start here, got {first}")
        put("growth", first.growth, "block 2")
        if first.width % first.growth:
            raise fail("block 2", f"bottleneck width {first.width} is not a multiple of the growth {first.growth} "
                                  "(width = bn_size × growth)")
        put("bn_size", first.width // first.growth, "block 2")
        put("kernel", first.kernel, "block 2")
        # dense blocks: runs of dense layers; between two, a transition (pre-activated 1×1 conv, average pooling)
        channels, depth, n, compressions = stem.out, 0, 1, list(self.compressions)
        i = 2
        while i < len(blocks):
            block, where = blocks[i], f"block {i}"
            if isinstance(block, Dense):
                depth, channels, i = depth + 1, block.out_channels(channels), i + 1
                continue
            if not (isinstance(block, Conv) and block.pre and depth and n < len(self.layers)
                    and blocks[i + 1:i + 2] == (_TRANSITION_POOL,)):
                raise fail(where, f"expected a dense layer, or after one a transition (conv_k1_c<int>_pre then "
                                  f"pool_avg) to dense block {n + 1} of {len(self.layers)}, got {block}")
            put(f"b{n}_layers", depth, where)
            compressions = [c for c in compressions if _transition_channels(channels, c) == block.out]
            if not compressions:
                raise fail(where, f"transition {n} keeps {block.out} of {channels} channels, which no compression "
                                  f"of {self.compressions} (the same for every transition) gives")
            channels, depth, n, i = block.out, 0, n + 1, i + 2
        if n != len(self.layers) or not depth:
            raise fail("blocks", f"{len(self.layers)} dense blocks separated by transitions are needed, got {n}, "
                                 f"the last with {depth} layers")
        put(f"b{n}_layers", depth, f"block {len(blocks) - 1}")
        put("compression", compressions[0], "transitions")
        if genome.head != _HEAD:
            raise fail("head", f"this space's head is norm, ReLU, global pooling and a linear classifier "
                               f"(head_norm_relu), got {genome.head}")
        return inv.done("some dense layer or transition differs from the first (growth, width, kernel or "
                        "activation), or a gene this space does not vary is set (normalisation, stochastic depth)")

    # -- size ------------------------------------------------------------------------------------

    def size(self) -> int:
        """Exact count of distinct genomes. Growth, bn_size (the bottleneck width is their product),
        stem width, kernel and depths all show in the genome; only two compressions can give the same
        network, when they round every transition to the same channels (always, with a single dense
        block). So, for each stem width, growth and depths of the blocks before a transition (the
        last block's depth reaches none), count the distinct tuples of transition widths the
        compressions give: a few thousand short loops at full size."""
        networks = 0
        for init, growth, *depths in itertools.product(set(self.init_features), set(self.growths),
                                                       *(set(d) for d in self.layers[:-1])):
            widths = set()
            for compression in set(self.compressions):
                channels, kept = init, []
                for depth in depths:
                    channels = _transition_channels(channels + depth * growth, compression)
                    kept.append(channels)
                widths.add(tuple(kept))
            networks += len(widths)
        return networks * len(set(self.layers[-1])) * len(set(self.bn_sizes)) * len(set(self.kernels))


register_space(DenseNetSpace())
