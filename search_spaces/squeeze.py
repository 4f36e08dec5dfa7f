"""The ``squeeze`` space: SqueezeNet networks (Fire modules, late downsampling, convolutional classifier).

A network follows torchvision's SqueezeNet template: a stride-2 convolution without padding (the
stem), 3×3 stride-2 max pooling that rounds up (``ceil_mode``), then three stages of Fire modules
separated by the same pooling, and SqueezeNet's classifier: dropout 0.5, a 1×1 convolution to the
classes, ReLU and global average pooling. In the genome grammar (SqueezeNet 1.0)::

    net_nonorm conv_k7_s2_p0_c96_relu pool_max_k3_s2_ceil fire_sq16_e64_relu*2 fire_sq32_e128_relu
    pool_max_k3_s2_ceil fire_sq32_e128_relu fire_sq48_e192_relu*2 fire_sq64_e256_relu
    pool_max_k3_s2_ceil fire_sq64_e256_relu head_d0.5_convcls

Dimensions: the stem's kernel (SqueezeNet 1.0's 7×7 or 1.1's 3×3) and width; the depth of each stage,
which says where the two inner poolings go (1.0 has 3/4/1 Fire modules, 1.1 moves the poolings
earlier, 2/2/4, and costs 2.4 times fewer MACs for the same accuracy); per Fire module its squeeze
width and its expansion width (the 1×1 and 3×3 expansions have the same width, as in both
references); and two network-wide settings: normalisation (none, as in the paper, with biased
convolutions; or batch norm, which SqueezeNet predates) and the activation (ReLU or SiLU). The head
is fixed. The choices contain every value the references use, so that they are points of the space.

References (torchvision's builders, reproduced parameter for parameter):

* ``squeezenet1_0``, ``squeezenet1_1`` -- Iandola et al., "SqueezeNet: AlexNet-level accuracy with
  50x fewer parameters and <0.5MB model size", 2016 (1.1 from the authors' SqueezeNet v1.1 release).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from nas import Conv, Fire, Genome, Head, Inverse, Norm, Pool, Space, register_space

__all__ = ["SqueezeSpace", "squeezenet"]

# ----------------------------------------------------------------------------------------------
# recipes: torchvision's SqueezeNets as genomes

# torchvision's pooling between stages: 3×3, stride 2, no padding, output size rounded up
_POOL = Pool(mode="max", kernel=3, stride=2, ceil=True)
_NO_NORM = Norm(kind="none")

_SQUEEZENET = {  # version: (stem kernel, stem width, stages of (squeeze, expand) Fire modules)
    "1_0": (7, 96, (((16, 64), (16, 64), (32, 128)),
                    ((32, 128), (48, 192), (48, 192), (64, 256)),
                    ((64, 256),))),
    "1_1": (3, 64, (((16, 64), (16, 64)),
                    ((32, 128), (32, 128)),
                    ((48, 192), (48, 192), (64, 256), (64, 256)))),
}


def squeezenet(version: str = "1_0", *, dropout: float = 0.5) -> Genome:
    """torchvision's ``SqueezeNet(version, dropout=...)``: ``squeezenet1_0`` or ``squeezenet1_1``.

    Raises:
        ValueError: for a version other than ``"1_0"`` and ``"1_1"``.
    """
    if version not in _SQUEEZENET:
        raise ValueError(f"unknown SqueezeNet version {version!r}; known: {', '.join(_SQUEEZENET)}")
    kernel, width, stages = _SQUEEZENET[version]
    blocks: list[Any] = [Conv(out=width, kernel=kernel, stride=2, padding=0, act="relu")]
    for stage in stages:
        blocks.append(_POOL)
        blocks += [Fire(squeeze=sq, expand1=e, expand3=e, act="relu") for sq, e in stage]
    return Genome(blocks=tuple(blocks), head=Head(dropout=dropout, conv_classifier=True), norm=_NO_NORM)


# ----------------------------------------------------------------------------------------------
# the space

_NORMS = {"none": _NO_NORM, "bn": Norm()}


class SqueezeSpace(Space):
    """The SqueezeNet space; every choice set can be replaced (tests use tiny ones)."""

    description = "SqueezeNet networks: stem, where the poolings go, Fire module widths, norm, activation"
    target_resolution = 224

    def __init__(
        self,
        name: str = "squeeze",
        *,
        stem_kernels: tuple[int, ...] = (3, 7),
        stem_widths: tuple[int, ...] = (64, 96),
        depths: tuple[tuple[int, ...], ...] = ((1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4)),
        squeezes: tuple[int, ...] = (16, 32, 48, 64),
        expands: tuple[int, ...] = (64, 128, 192, 256),
        norms: tuple[str, ...] = ("none", "bn"),
        activations: tuple[str, ...] = ("relu", "silu"),
        dropout: float = 0.5,
        references: Mapping[str, Genome] | None = None,
    ) -> None:
        self.name = name
        self.stem_kernels, self.stem_widths, self.depths = stem_kernels, stem_widths, depths
        self.squeezes, self.expands = squeezes, expands
        self.norms, self.activations, self.dropout = norms, activations, dropout
        for i, stage in enumerate(depths, 1):
            if not stage or min(stage) < 0:
                raise ValueError(f"stage {i} depths {stage} must be non-empty and >= 0 (a stage of depth 0 "
                                 f"leaves two poolings side by side)")
        unknown = set(norms) - set(_NORMS)
        if unknown:
            raise ValueError(f"unknown norms {sorted(unknown)}; known: {', '.join(_NORMS)}")
        self._references = dict(references) if references is not None else {
            "squeezenet1_0": squeezenet("1_0", dropout=dropout),
            "squeezenet1_1": squeezenet("1_1", dropout=dropout),
        }


    def _head(self) -> Head:
        return Head(dropout=self.dropout, conv_classifier=True)

    # -- dimensions ------------------------------------------------------------------------------

    def dimensions(self) -> dict[str, tuple[Any, ...]]:
        dims: dict[str, tuple[Any, ...]] = {
            "norm": self.norms,
            "act": self.activations,
            "stem_kernel": self.stem_kernels,
            "stem_width": self.stem_widths,
        }
        for i, depths in enumerate(self.depths, 1):
            dims[f"s{i}_depth"] = depths
            for j in range(1, max(depths) + 1):
                dims[f"s{i}_b{j}_squeeze"] = self.squeezes
                dims[f"s{i}_b{j}_expand"] = self.expands
        return dims

    def genome_from_params(self, p: Mapping[str, Any]) -> Genome:
        act = p["act"]
        blocks: list[Any] = [Conv(out=p["stem_width"], kernel=p["stem_kernel"], stride=2, padding=0, act=act)]
        for i in range(1, len(self.depths) + 1):
            blocks.append(_POOL)
            for j in range(1, p[f"s{i}_depth"] + 1):
                expand = p[f"s{i}_b{j}_expand"]
                blocks.append(Fire(squeeze=p[f"s{i}_b{j}_squeeze"], expand1=expand, expand3=expand, act=act))
        return Genome(blocks=tuple(blocks), head=self._head(), norm=_NORMS[p["norm"]])

    # -- inverse ---------------------------------------------------------------------------------

    def to_params(self, genome: Genome) -> dict[str, Any]:
        inv = Inverse(self, genome)
        genome, put, fail = inv.genome, inv.put, inv.fail

        norm = [key for key, value in _NORMS.items() if value == genome.norm]
        put("norm", norm[0] if norm else genome.norm, "net")
        if genome.head != self._head():
            raise fail("head", f"this space fixes SqueezeNet's head (dropout {self.dropout}, 1×1 conv classifier), "
                               f"got {genome.head}")
        stem = genome.blocks[0]
        if not (isinstance(stem, Conv) and (stem.stride, stem.dilation, stem.groups, stem.separable, stem.padding,
                                            stem.bias) == (2, 1, 1, False, 0, False)):
            raise fail("block 0", f"the stem must be a plain stride-2 conv without padding, got {stem}")
        put("stem_kernel", stem.kernel, "block 0")
        put("stem_width", stem.out, "block 0")
        put("act", stem.act, "block 0")
        act = stem.act
        blocks, index = list(genome.blocks[1:]), 1
        for i, depths in enumerate(self.depths, 1):
            if not blocks or blocks[0] != _POOL:
                got = blocks[0] if blocks else "the head"
                raise fail(f"block {index}", f"stage {i} must start with 3×3 stride-2 max pooling that rounds up, "
                                             f"got {got}")
            blocks.pop(0)
            index += 1
            depth = 0
            while blocks and isinstance(blocks[0], Fire):
                block, where = blocks.pop(0), f"block {index}"
                depth += 1
                if depth > max(depths):
                    raise fail(where, f"stage {i} has more than {max(depths)} Fire modules")
                if block.expand1 != block.expand3:
                    raise fail(where, f"the 1×1 and 3×3 expansions must be as wide, got {block.expand1} and "
                                      f"{block.expand3}")
                if block.act != act:
                    raise fail(where, f"act={block.act!r} differs from the network's activation {act!r}")
                put(f"s{i}_b{depth}_squeeze", block.squeeze, where)
                put(f"s{i}_b{depth}_expand", block.expand1, where)
                index += 1
            put(f"s{i}_depth", depth, f"stage {i}")
        if blocks:
            raise fail(f"block {index}", f"{blocks[0]} fits no stage of the template ({len(self.depths)} stages "
                                         f"of Fire modules, each after a pooling)")
        return inv.done()

    # -- size ------------------------------------------------------------------------------------

    def size(self) -> int:
        """Exact count of distinct genomes. Every choice shows in the genome (the poolings mark the
        stage boundaries, so different depths never give the same genome), so nothing collapses but
        the widths of Fire slots beyond a stage's depth (unused genes) and repeated values in a
        choice set. Dynamic programming over stages on the number of Fire modules so far: each
        module adds ``squeezes × expands`` choices."""
        per_fire = len(set(self.squeezes)) * len(set(self.expands))
        fires: Counter[int] = Counter({0: 1})  # number of Fire modules -> ways to place them in stages
        for depths in self.depths:
            nxt: Counter[int] = Counter()
            for total, ways in fires.items():
                for depth in set(depths):
                    nxt[total + depth] += ways
            fires = nxt
        networks = sum(ways * per_fire ** total for total, ways in fires.items())
        stem = len(set(self.stem_kernels)) * len(set(self.stem_widths))
        return len(set(self.norms)) * len(set(self.activations)) * stem * networks


register_space(SqueezeSpace())
