"""The ``vgg`` space: plain stacks of convolutions and max pooling, with VGG's wide classifier.

A network is five stages, each some k×k convolutions (stride 1, "same" padding, normalisation if
any, activation) followed by 2×2 max pooling with stride 2, so a 224×224 image leaves the features as
a 7×7 map; then adaptive average pooling, two hidden linear layers of one width, each followed by the
activation and dropout 0.5, and the linear classifier. With 3×3 kernels, the widths 64, 128, 256, 512,
512 and a 4096-wide classifier on a 7×7 pooled map this is exactly torchvision's VGG.

Dimensions:

* ``norm`` (network-wide): ``nonorm``, plain convolutions with a bias (the original VGG), or ``bn``,
  batch normalisation after every convolution. As in torchvision's ``vgg*_bn``, a batch-normalised
  convolution keeps its bias (``nn.Conv2d(..., padding=1)`` with the default ``bias=True``): in the
  grammar ``conv_c64_bias_relu``.
* ``act`` (network-wide): the activation of every convolution and of the classifier's hidden layers
  (``relu`` as in VGG, or ``silu``, ``gelu``, ``hardswish``).
* per stage ``sN_depth`` (1 to 4 convolutions), ``sN_width`` (one width for all its convolutions:
  VGG's, three quarters and half of it, for cheaper networks) and ``sN_kernel`` (3 as VGG, or 5).
* ``head_hidden``: the width of both hidden layers (4096 as VGG, or 512, 1024, 2048);
  ``head_pool``: the side of the pooled map (7 as torchvision, or 1: global pooling, which shrinks
  the first hidden layer 49-fold for small budgets). Dropout is fixed at 0.5, VGG's.

Every stage has at least one convolution and ends in pooling, so every parameter changes the network
and no two parameter combinations give the same genome: the size is the product of the numbers of
choices.

References (torchvision's builders, reproduced parameter for parameter; configurations A, B, D and E
of the paper, with and without batch normalisation):

* ``vgg11``, ``vgg13``, ``vgg16``, ``vgg19``, ``vgg11_bn``, ``vgg13_bn``, ``vgg16_bn``, ``vgg19_bn`` --
  Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015;
  batch normalisation: Ioffe & Szegedy, "Batch Normalization: Accelerating Deep Network Training by
  Reducing Internal Covariate Shift", ICML 2015.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nas import Conv, Genome, Head, Inverse, Norm, Pool, Space, register_space
from nas.genome import ACTIVATIONS

__all__ = ["VGG_CONFIGS", "VGGSpace", "vgg"]

# ----------------------------------------------------------------------------------------------
# recipes: torchvision's VGG as genomes

#: Convolutions per stage of the paper's configurations (torchvision's ``cfgs``), by letter.
VGG_CONFIGS: dict[str, tuple[int, ...]] = {
    "A": (1, 1, 2, 2, 2),  # vgg11
    "B": (2, 2, 2, 2, 2),  # vgg13
    "D": (2, 2, 3, 3, 3),  # vgg16
    "E": (2, 2, 4, 4, 4),  # vgg19
}
_VGG_WIDTHS = (64, 128, 256, 512, 512)
_BUILDERS = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}
_NORMS = {"nonorm": Norm(kind="none"), "bn": Norm()}


def vgg(config: str = "D", batch_norm: bool = False, *, dropout: float = 0.5) -> Genome:
    """torchvision's VGG: ``vgg(config, batch_norm)`` is ``VGG(make_layers(cfgs[config], batch_norm))``.

    Args:
        config: the paper's configuration, ``"A"`` (vgg11), ``"B"`` (vgg13), ``"D"`` (vgg16) or ``"E"``
            (vgg19).
        batch_norm: batch normalisation after every convolution (the ``_bn`` builders); the
            convolutions keep their bias, as torchvision's do.
        dropout: the classifier's dropout (torchvision's ``dropout`` argument).

    Returns:
        The genome, for example for ``vgg("A")``: ``net_nonorm conv_c64_relu pool_max conv_c128_relu
        pool_max conv_c256_relu*2 pool_max conv_c512_relu*2 pool_max conv_c512_relu*2 pool_max
        head_p7_h4096_h4096_d0.5``.
    """
    if config not in VGG_CONFIGS:
        raise ValueError(f"unknown VGG configuration {config!r}; known: {', '.join(VGG_CONFIGS)} "
                         "(vgg11, vgg13, vgg16, vgg19)")
    blocks: list[Any] = []
    for depth, width in zip(VGG_CONFIGS[config], _VGG_WIDTHS):
        blocks += [Conv(out=width, kernel=3, act="relu", bias=batch_norm)] * depth
        blocks.append(Pool("max", kernel=2, stride=2))
    head = Head(pool=7, hidden=(4096, 4096), dropout=dropout)
    return Genome(blocks=tuple(blocks), head=head, norm=_NORMS["bn" if batch_norm else "nonorm"])


# ----------------------------------------------------------------------------------------------
# the space


def _check_choices(name: str, choices: tuple[Any, ...], allowed: tuple[Any, ...] | None = None) -> None:
    if not choices:
        raise ValueError(f"{name}=() is empty: give at least one choice")
    if len(set(choices)) != len(choices):
        raise ValueError(f"{name}={choices} repeats a choice: give each once (Optuna would weigh it twice)")
    if allowed is not None:
        unknown = [c for c in choices if c not in allowed]
        if unknown:
            raise ValueError(f"{name}={choices}: {unknown} not known; choose from {allowed}")


def _check_positive(name: str, choices: tuple[Any, ...], minimum: int = 1) -> None:
    _check_choices(name, choices)
    bad = [c for c in choices if not isinstance(c, int) or isinstance(c, bool) or c < minimum]
    if bad:
        raise ValueError(f"{name}={choices}: {bad} must be whole numbers >= {minimum}")


class VGGSpace(Space):
    """The VGG space; every choice set can be replaced (tests use tiny ones).

    Args:
        name: the registry name.
        stage_widths: per stage, the widths to choose from; their number is the number of stages.
        depths: convolutions per stage to choose from (at least 1: every stage convolves).
        kernels: kernel sizes to choose from, per stage (odd, so that padding keeps the size).
        norms: ``"nonorm"`` and/or ``"bn"``.
        activations: network-wide activations to choose from.
        head_hidden: widths of the two hidden layers to choose from.
        head_pools: sides of the pooled map to choose from.
        dropout: the classifier's dropout (fixed).
        references: named genomes of the space (default: torchvision's eight VGGs).
    """

    description = "plain conv + max-pool stacks with VGG's two-hidden-layer classifier: VGG-11/13/16/19 (+BN)"
    target_resolution = 224

    def __init__(
        self,
        name: str = "vgg",
        *,
        stage_widths: tuple[tuple[int, ...], ...] = (
            (32, 48, 64),
            (64, 96, 128),
            (128, 192, 256),
            (256, 384, 512),
            (256, 384, 512),
        ),
        depths: tuple[int, ...] = (1, 2, 3, 4),
        kernels: tuple[int, ...] = (3, 5),
        norms: tuple[str, ...] = ("nonorm", "bn"),
        activations: tuple[str, ...] = ("relu", "silu", "gelu", "hardswish"),
        head_hidden: tuple[int, ...] = (512, 1024, 2048, 4096),
        head_pools: tuple[int, ...] = (1, 7),
        dropout: float = 0.5,
        references: Mapping[str, Genome] | None = None,
    ) -> None:
        if not stage_widths:
            raise ValueError("stage_widths=() is empty: give the widths of at least one stage")
        for i, widths in enumerate(stage_widths, 1):
            _check_positive(f"stage_widths[{i - 1}] (stage {i})", widths)
        # a stage without convolutions would leave its width and kernel unused (and pool twice in a row)
        _check_positive("depths", depths, minimum=1)
        _check_positive("kernels", kernels)
        even = [k for k in kernels if k % 2 == 0]
        if even:
            raise ValueError(f"kernels={kernels}: {even} are even; VGG's convolutions keep the map size, "
                             "which needs odd kernels")
        _check_choices("norms", norms, tuple(_NORMS))
        _check_choices("activations", activations, ACTIVATIONS)
        _check_positive("head_hidden", head_hidden)
        _check_positive("head_pools", head_pools)
        self.name = name
        self.stage_widths, self.depths, self.kernels = tuple(map(tuple, stage_widths)), depths, kernels
        self.norms, self.activations = norms, activations
        self.head_hidden, self.head_pools = head_hidden, head_pools
        self.dropout = Head(dropout=dropout).dropout  # validated, as the genome stores it
        if references is None:
            references = {**{builder: vgg(config) for builder, config in _BUILDERS.items()},
                          **{f"{builder}_bn": vgg(config, True) for builder, config in _BUILDERS.items()}}
        self._references = dict(references)


    # -- dimensions ------------------------------------------------------------------------------

    def dimensions(self) -> dict[str, tuple[Any, ...]]:
        dims: dict[str, tuple[Any, ...]] = {"norm": self.norms, "act": self.activations}
        for i, widths in enumerate(self.stage_widths, 1):
            dims[f"s{i}_depth"] = self.depths
            dims[f"s{i}_width"] = widths
            dims[f"s{i}_kernel"] = self.kernels
        dims["head_hidden"] = self.head_hidden
        dims["head_pool"] = self.head_pools
        return dims

    def genome_from_params(self, p: Mapping[str, Any]) -> Genome:
        batch_norm = p["norm"] == "bn"
        blocks: list[Any] = []
        for i in range(1, len(self.stage_widths) + 1):
            conv = Conv(out=p[f"s{i}_width"], kernel=p[f"s{i}_kernel"], act=p["act"], bias=batch_norm)
            blocks += [conv] * p[f"s{i}_depth"]
            blocks.append(Pool("max", kernel=2, stride=2))
        hidden = p["head_hidden"]
        head = Head(pool=p["head_pool"], hidden=(hidden, hidden), hidden_act=p["act"], dropout=self.dropout)
        return Genome(blocks=tuple(blocks), head=head, norm=_NORMS[p["norm"]])

    # -- inverse ---------------------------------------------------------------------------------

    def to_params(self, genome: Genome) -> dict[str, Any]:
        inv = Inverse(self, genome)
        genome, put, fail, p = inv.genome, inv.put, inv.fail, inv.params
        norm = [key for key, value in _NORMS.items() if value == genome.norm]
        put("norm", norm[0] if norm else genome.norm, "net")
        batch_norm = p["norm"] == "bn"
        blocks, index = genome.blocks, 0
        n_stages = len(self.stage_widths)
        for i in range(1, n_stages + 1):
            depth = 0
            while index < len(blocks) and not isinstance(blocks[index], Pool):
                block, where = blocks[index], f"block {index}"
                if not isinstance(block, Conv):
                    raise fail(where, f"only plain convolutions and max pooling belong to this space, got {block}")
                plain = (block.stride, block.dilation, block.groups, block.separable, block.padding)
                if plain != (1, 1, 1, False, (block.kernel - 1) // 2):
                    raise fail(where, "a convolution of this space has stride 1, dilation 1, one group, a square "
                                      f"kernel and 'same' padding, got {block}")
                if block.bias != batch_norm:  # without a norm the genome stores bias=False: it always has one
                    raise fail(where, "a batch-normalised convolution keeps its bias here, as in torchvision's "
                                      "vgg*_bn ('conv_..._bias'), got one without")
                if index == 0:
                    put("act", block.act, where)
                elif block.act != p["act"]:
                    raise fail(where, f"act={block.act!r} differs from the first convolution's {p['act']!r} "
                                      "(one activation for the whole network)")
                if depth == 0:
                    put(f"s{i}_width", block.out, where)
                    put(f"s{i}_kernel", block.kernel, where)
                elif (block.out, block.kernel) != (p[f"s{i}_width"], p[f"s{i}_kernel"]):
                    raise fail(where, f"out={block.out}, kernel={block.kernel} differ from the first convolution "
                                      f"of stage {i} (out={p[f's{i}_width']}, kernel={p[f's{i}_kernel']}): a stage "
                                      "has one width and one kernel")
                depth += 1
                index += 1
            if depth == 0 and index == len(blocks):
                raise fail(f"stage {i}", f"the genome ends before stage {i} of {n_stages}")
            if depth == 0:
                raise fail(f"block {index}", f"stage {i} of {n_stages} has no convolution before its pooling")
            put(f"s{i}_depth", depth, f"stage {i}")
            if index == len(blocks):
                raise fail(f"stage {i}", "it does not end in 2×2 max pooling with stride 2")
            if blocks[index] != Pool("max", kernel=2, stride=2):
                raise fail(f"block {index}", f"a stage ends in 2×2 max pooling with stride 2, got {blocks[index]}")
            index += 1
        if index < len(blocks):
            raise fail(f"block {index}", f"{blocks[index]} comes after the last of the space's {n_stages} stages")

        head = genome.head
        if head.width or head.conv_classifier or head.dropout_first:
            raise fail("head", "this space's head is pooling, hidden linear layers, dropout after each and a "
                               f"linear classifier (no 1×1 convolution), got {head}")
        if len(head.hidden) != 2 or head.hidden[0] != head.hidden[1]:
            raise fail("head", f"hidden={head.hidden}: this space's head has two hidden layers of one width")
        put("head_hidden", head.hidden[0], "head")
        put("head_pool", head.pool, "head")
        if head.hidden_act != p["act"]:
            raise fail("head", f"the hidden layers' activation {head.hidden_act!r} differs from the "
                               f"convolutions' {p['act']!r} (one activation for the whole network)")
        if head.dropout != self.dropout:
            raise fail("head", f"dropout={head.dropout} (this space fixes it at {self.dropout})")
        return inv.done()

    # -- size ------------------------------------------------------------------------------------

    def size(self) -> int:
        """Exact count of distinct genomes, in closed form. No two parameter combinations collide:
        every stage has at least one convolution, so its depth, width and kernel all show; the pooling
        after every stage keeps the stages apart even when neighbours share a width; the activation
        is in every convolution, and the head always has its hidden layers. The constructor refuses
        repeated choices, so the count is the product of the numbers of choices."""
        total = len(self.norms) * len(self.activations) * len(self.head_hidden) * len(self.head_pools)
        for widths in self.stage_widths:
            total *= len(self.depths) * len(widths) * len(self.kernels)
        return total


register_space(VGGSpace())
