"""The ``inception`` space: Inception networks, GoogLeNet's template or Inception-v3's.

Both are stems followed by Inception modules (genome kind ``inc``: parallel branches of convolutions
and poolings, concatenated), all convolutions with batch norm (eps 0.001) and ReLU, and a head of
global pooling, dropout and a linear classifier. Their templates differ too much for one: GoogLeNet
stacks one kind of module in three stages separated by max pooling, Inception-v3 three kinds (A, C,
E, with factorised 5×5, 1×7/7×1 and 1×3/3×1 convolutions) separated by two fixed reduction modules (B,
D). So the first dimension, ``template``, picks one, and the dimensions of the other go unused (every
trial suggests every parameter, as for the unused slots of a stage). In the genome grammar, GoogLeNet::

    net_bn_eps0.001 conv_k7_s2_c64_relu pool_max_k3_s2_ceil conv_k1_c64_relu conv_c192_relu pool_max_k3_s2_ceil
    inc_b64_b96.128k3_b16.32k3_bmax3.32_relu inc_b128_b128.192k3_b32.96k3_bmax3.64_relu pool_max_k3_s2_ceil
    ... pool_max_ceil ... inc_b384_b192.384k3_b48.128k3_bmax3.128_relu head_d0.2

(``pool_max_ceil`` is 2×2 stride-2 pooling. The pooling branch's 3×3 stride-1 max pooling is ceil_mode in
torchvision, which changes nothing at stride 1 with padding 1: ``max3`` builds it without.)

Dimensions:

* ``template`` (``googlenet``, ``inception_v3``) and ``act``, the activation of every convolution
  (ReLU as in both papers, or SiLU).
* GoogLeNet (``g_...``): the number of modules of stages 3, 4 and 5 (the paper's 2, 5, 2); per module
  the six widths of its branches (``b1`` the 1×1 branch; ``b2r``/``b2`` the 1×1 reduction and the 3×3
  convolution; ``b3r``/``b3`` the same for the third branch; ``pool`` the 1×1 projection after 3×3 max
  pooling), each from a choice set holding every value of the paper's table 1 for that column; and
  ``g_b3_kernel``, the kernel of the third branch in every module: the paper's 5×5, or torchvision's 3×3
  (torchvision's GoogLeNet has 3×3 there, a known quirk kept for its ported weights; the reference
  reproduces it).
* Inception-v3 (``v3_...``): the number of A modules (35×35, the paper's 3), each with its pooling
  branch's width (32 or 64); of C modules (17×17, the paper's 4), each with the width of its factorised
  7×7 branches (128, 160 or 192); and of E modules (8×8, the paper's 2). The stem and the reduction
  modules B and D are fixed, as are the widths the paper does not vary.

Budgets are counted at 224×224 (``target_resolution``), GoogLeNet's input, where Inception-v3 costs 2.84G
MACs (5.71G at its own 299×299). Inception-v3's template needs inputs of at least 75×75 (torchvision's
``min_size``): search with ``--resolution 75`` or more, or its candidates fail as too small for the
training resolution (GoogLeNet's template takes 32×32).

References (torchvision's builders without the auxiliary classifiers and without ``transform_input``,
reproduced parameter for parameter; see ``torchvision_members``):

* ``googlenet`` -- Szegedy et al., "Going Deeper with Convolutions", CVPR 2015: 6.8M parameters and 1.5G
  mult-adds in the paper (torchvision's: 6,624,904 parameters, 1.498G MACs, 224×224).
* ``inception_v3`` -- Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR
  2016: "5 billion multiply-adds ... less than 25 million parameters" in the paper; torchvision's:
  23,834,568 parameters without the auxiliary classifier (27,161,264 with it), 5.713G MACs at 299×299.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from nas import Genome, Head, Inception, InceptionStep, Inverse, Norm, Pool, Space, register_space

__all__ = ["InceptionSpace", "googlenet", "inception_v3"]

# ----------------------------------------------------------------------------------------------
# recipes: torchvision's networks as genomes

_NORM = Norm(eps=1e-3)  # torchvision's BasicConv2d: BatchNorm2d(eps=0.001)
_GOOGLENET_STEM = "conv_k7_s2_c64_{act} pool_max_k3_s2_ceil conv_k1_c64_{act} conv_c192_{act} pool_max_k3_s2_ceil"
# before stages 3 (none: the stem ends in pooling), 4 and 5
_GOOGLENET_POOLS = (None, Pool(mode="max", kernel=3, stride=2, ceil=True),
                    Pool(mode="max", kernel=2, stride=2, ceil=True))
_GOOGLENET_WIDTHS = ("b1", "b2r", "b2", "b3r", "b3", "pool")
# the paper's table 1 (torchvision's Inception(...) arguments): stages 3, 4, 5 of (1×1, 3×3 reduce, 3×3,
# 5×5 reduce, 5×5, pool proj)
_GOOGLENET = (
    ((64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64)),
    ((192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64), (128, 128, 256, 24, 64, 64),
     (112, 144, 288, 32, 64, 64), (256, 160, 320, 32, 128, 128)),
    ((256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128)),
)

_V3_STEM = ("conv_k3_s2_p0_c32_{act} conv_k3_p0_c32_{act} conv_c64_{act} pool_max_k3_s2 conv_k1_c80_{act} "
            "conv_k3_p0_c192_{act} pool_max_k3_s2")
_V3_A = "inc_b64_b48.64k5_b64.96k3.96k3_bavg3.{pool}_{act}"  # torchvision's InceptionA(pool_features)
_V3_B = "inc_b384k3s2v_b64.96k3.96k3s2v_bmax3s2v_{act}"  # InceptionB: 35×35 to 17×17
_V3_C = "inc_b192_b{c}.{c}k1x7.192k7x1_b{c}.{c}k7x1.{c}k1x7.{c}k7x1.192k1x7_bavg3.192_{act}"  # InceptionC(c7)
_V3_D = "inc_b192.320k3s2v_b192.192k1x7.192k7x1.192k3s2v_bmax3s2v_{act}"  # InceptionD: 17×17 to 8×8
_V3_E = "inc_b320_b384.384k1x3+384k3x1_b448.384k3.384k1x3+384k3x1_bavg3.192_{act}"  # InceptionE
_V3_POOLS, _V3_WIDTHS, _V3_E_DEPTH = (32, 64, 64), (128, 160, 160, 192), 2  # Mixed_5b-d, Mixed_6b-e, Mixed_7b-c


@functools.lru_cache(maxsize=None)
def _googlenet_module(widths: tuple[int, ...], kernel: int, act: str) -> Inception:
    b1, b2r, b2, b3r, b3, pool = widths
    conv = InceptionStep
    return Inception(branches=(
        ((conv(out=b1),),),
        ((conv(out=b2r),), (conv(out=b2, kernel=3),)),
        ((conv(out=b3r),), (conv(out=b3, kernel=kernel),)),
        ((InceptionStep(mode="max", kernel=3),), (conv(out=pool),)),
    ), act=act)


def _genome(text: str, act: str, *modules: list[Any], dropout: float) -> Genome:
    """The stem ``text`` (with ``act``), then the blocks of ``modules``, then the head."""
    stem = _stem(text, act)
    return Genome(blocks=stem + tuple(b for blocks in modules for b in blocks), head=Head(dropout=dropout), norm=_NORM)


@functools.lru_cache(maxsize=None)
def _stem(text: str, act: str) -> tuple[Any, ...]:
    return Genome.parse(text.format(act=act) + " head").blocks


@functools.lru_cache(maxsize=None)
def _block(text: str, **values: Any) -> Any:
    """The block ``text`` (a template of this module, filled with ``values``) describes."""
    return Genome.parse(text.format(**values) + " head").blocks[0]


def googlenet(stages: tuple[tuple[tuple[int, ...], ...], ...] = _GOOGLENET, *, b3_kernel: int = 3,
              act: str = "relu", dropout: float = 0.2) -> Genome:
    """torchvision's ``googlenet(aux_logits=False, transform_input=False)``; ``stages`` holds the six
    widths of each module of stages 3, 4, 5 (default: the paper's table 1), ``b3_kernel`` the kernel of
    their third branch (torchvision's 3; the paper's 5)."""
    blocks: list[Any] = []
    for pool, stage in zip(_GOOGLENET_POOLS, stages):
        blocks += [pool] if pool else []
        blocks += [_googlenet_module(widths, b3_kernel, act) for widths in stage]
    return _genome(_GOOGLENET_STEM, act, blocks, dropout=dropout)


def inception_v3(pools: tuple[int, ...] = _V3_POOLS, widths: tuple[int, ...] = _V3_WIDTHS,
                 e_depth: int = _V3_E_DEPTH, *, act: str = "relu", dropout: float = 0.5) -> Genome:
    """torchvision's ``inception_v3(aux_logits=False, transform_input=False)``: one A module per width of
    its pooling branch in ``pools``, reduction B, one C module per 7×7 width in ``widths``, reduction D,
    ``e_depth`` E modules. Its input is 299×299."""
    blocks = ([_block(_V3_A, pool=pool, act=act) for pool in pools] + [_block(_V3_B, act=act)]
              + [_block(_V3_C, c=c, act=act) for c in widths] + [_block(_V3_D, act=act)]
              + [_block(_V3_E, act=act)] * e_depth)
    return _genome(_V3_STEM, act, blocks, dropout=dropout)


# ----------------------------------------------------------------------------------------------
# the space

_TEMPLATES = ("googlenet", "inception_v3")


def _values(column: int) -> tuple[int, ...]:
    return tuple(sorted({module[column] for stage in _GOOGLENET for module in stage}))


class InceptionSpace(Space):
    """The Inception space; every choice set can be replaced (tests use tiny ones)."""

    description = "Inception networks: GoogLeNet's or Inception-v3's template, modules per stage, branch widths"
    target_resolution = 224

    def __init__(
        self,
        name: str = "inception",
        *,
        templates: tuple[str, ...] = _TEMPLATES,
        activations: tuple[str, ...] = ("relu", "silu"),
        g_depths: tuple[tuple[int, ...], ...] = ((1, 2, 3), (2, 3, 4, 5, 6), (1, 2, 3)),
        g_widths: Mapping[str, tuple[int, ...]] | None = None,
        g_b3_kernels: tuple[int, ...] = (3, 5),
        v3_a_depths: tuple[int, ...] = (1, 2, 3),
        v3_a_pools: tuple[int, ...] = (32, 64),
        v3_c_depths: tuple[int, ...] = (1, 2, 3, 4),
        v3_c_widths: tuple[int, ...] = (128, 160, 192),
        v3_e_depths: tuple[int, ...] = (1, 2),
        references: Mapping[str, Genome] | None = None,
    ) -> None:
        self.name = name
        unknown = set(templates) - set(_TEMPLATES)
        if not templates or unknown:
            raise ValueError(f"templates {templates} must be non-empty, from {', '.join(_TEMPLATES)}")
        self.templates, self.activations = templates, activations
        self.g_depths, self.g_b3_kernels = g_depths, g_b3_kernels
        self.g_widths = dict(g_widths) if g_widths is not None else {
            key: _values(i) for i, key in enumerate(_GOOGLENET_WIDTHS)}
        if set(self.g_widths) != set(_GOOGLENET_WIDTHS):
            raise ValueError(f"g_widths must give choices for {', '.join(_GOOGLENET_WIDTHS)}, got "
                             f"{sorted(self.g_widths)}")
        if len(g_depths) != 3:
            raise ValueError(f"g_depths must give the depths of GoogLeNet's 3 stages, got {g_depths}")
        depth_sets = {"g_depths": [d for stage in g_depths for d in stage], "v3_a_depths": v3_a_depths,
                      "v3_c_depths": v3_c_depths, "v3_e_depths": v3_e_depths}
        for what, depths in depth_sets.items():
            if not depths or min(depths) < (0 if what == "g_depths" else 1):
                raise ValueError(f"{what}={depths} must be non-empty depths >= {0 if what == 'g_depths' else 1}")
        self.v3_a_depths, self.v3_a_pools = v3_a_depths, v3_a_pools
        self.v3_c_depths, self.v3_c_widths, self.v3_e_depths = v3_c_depths, v3_c_widths, v3_e_depths
        self._references = dict(references) if references is not None else {
            "googlenet": googlenet(), "inception_v3": inception_v3()}

    def torchvision_members(self) -> dict[str, tuple[Genome, str, dict[str, Any]]]:
        """The references, against torchvision's builders without the auxiliary classifiers (they run
        only in training; our networks have one classifier) and without ``transform_input`` (the
        re-normalisation of ImageNet-normalised inputs its ported weights expect), with
        ``init_weights=False`` (initialisation does not matter: the check copies the weights). The
        published metadata still describes these networks (``nas.fidelity.PUBLISHED_KWARGS``):
        googlenet's ``num_params`` leaves the auxiliary classifiers out, inception_v3's counts them."""
        kwargs = {"aux_logits": False, "transform_input": False, "init_weights": False}
        return {name: (genome, name, dict(kwargs)) for name, genome in self.references.items()
                if name in _TEMPLATES}

    # -- dimensions ------------------------------------------------------------------------------

    def dimensions(self) -> dict[str, tuple[Any, ...]]:
        dims: dict[str, tuple[Any, ...]] = {"template": self.templates, "act": self.activations}
        if "googlenet" in self.templates:
            dims["g_b3_kernel"] = self.g_b3_kernels
            for i, depths in enumerate(self.g_depths, 3):
                dims[f"g_s{i}_depth"] = depths
                for j in range(1, max(depths) + 1):
                    for key in _GOOGLENET_WIDTHS:
                        dims[f"g_s{i}_m{j}_{key}"] = self.g_widths[key]
        if "inception_v3" in self.templates:
            dims["v3_a_depth"] = self.v3_a_depths
            dims.update({f"v3_a{j}_pool": self.v3_a_pools for j in range(1, max(self.v3_a_depths) + 1)})
            dims["v3_c_depth"] = self.v3_c_depths
            dims.update({f"v3_c{j}_width": self.v3_c_widths for j in range(1, max(self.v3_c_depths) + 1)})
            dims["v3_e_depth"] = self.v3_e_depths
        return dims

    def genome_from_params(self, p: Mapping[str, Any]) -> Genome:
        act = p["act"]
        if p["template"] == "googlenet":
            stages = tuple(tuple(tuple(p[f"g_s{i}_m{j}_{key}"] for key in _GOOGLENET_WIDTHS)
                                 for j in range(1, p[f"g_s{i}_depth"] + 1)) for i in (3, 4, 5))
            return googlenet(stages, b3_kernel=p["g_b3_kernel"], act=act)
        return inception_v3(tuple(p[f"v3_a{j}_pool"] for j in range(1, p["v3_a_depth"] + 1)),
                            tuple(p[f"v3_c{j}_width"] for j in range(1, p["v3_c_depth"] + 1)),
                            p["v3_e_depth"], act=act)

    # -- inverse ---------------------------------------------------------------------------------

    def to_params(self, genome: Genome) -> dict[str, Any]:
        inv = Inverse(self, genome)
        genome, put, fail = inv.genome, inv.put, inv.fail
        stem = genome.blocks[0]
        act = getattr(stem, "act", "relu")
        put("act", act, "block 0")
        template = "googlenet" if getattr(stem, "kernel", 0) == 7 else "inception_v3"
        put("template", template, "block 0")
        for i, block in enumerate(genome.blocks):
            if getattr(block, "act", act) != act:
                raise fail(f"block {i}", f"act={block.act!r} differs from the network's activation {act!r}")
        modules = [(i, b) for i, b in enumerate(genome.blocks) if isinstance(b, Inception)]
        if template == "googlenet":
            if modules:  # the kernel of the first module's third branch (inv.done checks the others)
                try:
                    kernel = modules[0][1].branches[2][1][0].kernel[0]
                except IndexError:
                    raise fail(f"block {modules[0][0]}", f"not a GoogLeNet module: {modules[0][1]}") from None
                put("g_b3_kernel", kernel, f"block {modules[0][0]}")
            stage, depths = 3, {3: 0, 4: 0, 5: 0}
            for i, block in enumerate(genome.blocks[5:], 5):
                if not isinstance(block, Inception):
                    stage += 1
                    if stage > 5:
                        raise fail(f"block {i}", "GoogLeNet's template has 3 stages of modules")
                    continue
                depths[stage] += 1
                if depths[stage] > max(self.g_depths[stage - 3]):
                    raise fail(f"block {i}", f"stage {stage} has more than {max(self.g_depths[stage - 3])} modules")
                try:
                    widths = [block.branches[b][s][0].out for b, s in ((0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (3, 1))]
                except IndexError:
                    raise fail(f"block {i}", f"not a GoogLeNet module: {block}") from None
                for key, width in zip(_GOOGLENET_WIDTHS, widths):
                    put(f"g_s{stage}_m{depths[stage]}_{key}", width, f"block {i}")
            for stage, depth in depths.items():
                put(f"g_s{stage}_depth", depth, f"stage {stage}")
        else:
            kinds: dict[str, list[tuple[int, Any]]] = {"a": [], "c": [], "e": []}
            known = {_block(_V3_A, pool=pool, act=act): ("a", pool) for pool in self.v3_a_pools}
            known.update({_block(_V3_C, c=c, act=act): ("c", c) for c in self.v3_c_widths})
            known[_block(_V3_E, act=act)] = ("e", None)
            for i, block in modules:
                if block in known:
                    kind, value = known[block]
                    kinds[kind].append((i, value))
            put("v3_a_depth", len(kinds["a"]), "the A modules")
            put("v3_c_depth", len(kinds["c"]), "the C modules")
            put("v3_e_depth", len(kinds["e"]), "the E modules")
            for j, (i, pool) in enumerate(kinds["a"], 1):
                put(f"v3_a{j}_pool", pool, f"block {i}")
            for j, (i, width) in enumerate(kinds["c"], 1):
                put(f"v3_c{j}_width", width, f"block {i}")
        return inv.done()

    # -- size ------------------------------------------------------------------------------------

    def size(self) -> int:
        """Exact count of distinct genomes. The two templates never give the same genome (their stems
        differ); within one, every choice shows in the genome (poolings and reduction modules mark the
        stage boundaries, so different depths never collide), so nothing collapses but the widths of
        slots beyond a stage's depth (unused genes) and repeated values in a choice set. A sum over
        the depths of each stage of the choices per module to the power of the number of modules."""
        total = 0
        if "googlenet" in self.templates:
            per_module = 1
            for key in _GOOGLENET_WIDTHS:
                per_module *= len(set(self.g_widths[key]))
            networks, empty = 1, 1  # all networks; those without modules, where the kernel cannot show
            for depths in self.g_depths:
                networks *= sum(per_module ** d for d in set(depths))
                empty *= 0 in depths
            total += len(set(self.g_b3_kernels)) * (networks - empty) + empty
        if "inception_v3" in self.templates:
            a = sum(len(set(self.v3_a_pools)) ** d for d in set(self.v3_a_depths))
            c = sum(len(set(self.v3_c_widths)) ** d for d in set(self.v3_c_depths))
            total += a * c * len(set(self.v3_e_depths))
        return len(set(self.activations)) * total


register_space(InceptionSpace())
