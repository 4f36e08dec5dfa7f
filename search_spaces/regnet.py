"""The ``regnet`` space: RegNetX and RegNetY, Radosavovic et al., "Designing Network Design Spaces", 2020.

A RegNet is a 3×3 stride-2 stem to 32 channels, stages of RegNet's residual bottleneck blocks (1×1, 3×3
grouped convolution with ``group_width`` channels per group, squeeze-and-excitation in RegNetY, 1×1; the
first block of every stage has stride 2), global average pooling and a linear classifier (torchvision's
``RegNet``; batch norm with eps 1e-5 and momentum 0.1, ReLU).

In the paper's RegNet design space a network is a few numbers, turned into stages by its *quantized
linear* rule (Sec. 3.3), exactly as torchvision's ``BlockParams.from_init_params`` does it (see
:func:`block_widths` and :func:`stages`):

* block j (of ``depth``) gets the width ``u_j = w0 + wa · j``; with ``s_j = round(log(u_j / w0) / log(wm))``
  it is quantized to ``w0 · wm^s_j``, rounded to a multiple of 8; consecutive blocks of one width form a
  stage (so ``wm`` is the ratio of the widths of consecutive stages, ``wa`` the slope of the line);
* the bottleneck of a stage is ``width × bottleneck_multiplier`` channels (the paper's bottleneck ratio
  b is ``1 / bottleneck_multiplier``), its group width ``min(group_width, bottleneck)``, and the
  bottleneck is rounded to a multiple of the group width (``make_divisible``), the stage width with it;
* RegNetY adds squeeze-and-excitation with ``round(0.25 × the block's input channels)`` squeezed channels
  on the bottleneck; RegNetX has none.

Dimensions (fixed names, each suggested every trial): ``depth``, ``w0``, ``wa``, ``wm``, ``group_width``,
``bottleneck_multiplier`` and ``se`` (RegNetY's SE). Their choices hold every value of the 15 RegNets
torchvision builds (depths 14–27, w0 24–456, the wa and wm of each model, group widths 8–264, bottleneck
ratio 1, SE on and off) and neighbours: depths 10–28, w0 every multiple of 8 from 16 to 256 (the paper's
RegNet space has w0, wa < 256 and 1.5 ≤ wm ≤ 3, and its refinement wm ≥ 2) with the wider 320 and 456 of
the largest models, wa 8 to 256 by doublings, wm 2.75 and 3, group widths 1, 2, 4, 32 and 64, and the
bottleneck ratios b = 2 and 4 of the paper's AnyNetX (multipliers 0.5 and 0.25; RegNet keeps b = 1, its
best). Many combinations make the same network (quantization merges nearby wa and wm; a group width at
least as wide as every bottleneck means one group; ``make_divisible`` rounds nearby widths to one
multiple of the group width): :meth:`RegNetSpace.size` counts each network once.

References: the RegNets of 400 MF to 3.2 GF, the regimes of the mobile networks and of ResNet-50 (the
MACs and parameters of torchvision's weights: 0.40–3.18 GMACs, 4.3–19.4 M parameters at 224×224):

* ``regnet_x_400mf``, ``regnet_x_800mf``, ``regnet_x_1_6gf``, ``regnet_x_3_2gf`` -- RegNetX.
* ``regnet_y_400mf``, ``regnet_y_800mf``, ``regnet_y_1_6gf``, ``regnet_y_3_2gf`` -- RegNetY.

The larger ones, RegNetX-8/16/32GF and RegNetY-8/16/32/128GF (39 M to 645 M parameters, 8 to 128 GMACs
at 224×224), are members: exact like the references and points of the space too (a test checks it), but
not references. Every search prices the references and the export tests build each one and compare it
(RegNetY-128GF alone is 2.6 GB of float32 weights), for budgets of 8 GMACs and more that no search on
this framework's scale trains; a search can still reach them, as points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from nas import (
    Bottleneck,
    Conv,
    Genome,
    Head,
    Inverse,
    Norm,
    Space,
    SqueezeExcite,
    make_divisible,
    register_space,
)

__all__ = ["MODELS", "RegNetSpace", "block_widths", "regnet", "stage_block", "stages"]

QUANT = 8  # block widths are multiples of 8
STEM_WIDTH = 32
SE_RATIO = 0.25  # RegNetY: squeezed channels per input channel of the block

# torchvision's RegNets: the ``BlockParams.from_init_params`` arguments of each of its builders
MODELS: dict[str, dict[str, Any]] = {
    "regnet_x_400mf": dict(depth=22, w_0=24, w_a=24.48, w_m=2.54, group_width=16),
    "regnet_x_800mf": dict(depth=16, w_0=56, w_a=35.73, w_m=2.28, group_width=16),
    "regnet_x_1_6gf": dict(depth=18, w_0=80, w_a=34.01, w_m=2.25, group_width=24),
    "regnet_x_3_2gf": dict(depth=25, w_0=88, w_a=26.31, w_m=2.25, group_width=48),
    "regnet_x_8gf": dict(depth=23, w_0=80, w_a=49.56, w_m=2.88, group_width=120),
    "regnet_x_16gf": dict(depth=22, w_0=216, w_a=55.59, w_m=2.1, group_width=128),
    "regnet_x_32gf": dict(depth=23, w_0=320, w_a=69.86, w_m=2.0, group_width=168),
    "regnet_y_400mf": dict(depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8, se_ratio=SE_RATIO),
    "regnet_y_800mf": dict(depth=14, w_0=56, w_a=38.84, w_m=2.4, group_width=16, se_ratio=SE_RATIO),
    "regnet_y_1_6gf": dict(depth=27, w_0=48, w_a=20.71, w_m=2.65, group_width=24, se_ratio=SE_RATIO),
    "regnet_y_3_2gf": dict(depth=21, w_0=80, w_a=42.63, w_m=2.66, group_width=24, se_ratio=SE_RATIO),
    "regnet_y_8gf": dict(depth=17, w_0=192, w_a=76.82, w_m=2.19, group_width=56, se_ratio=SE_RATIO),
    "regnet_y_16gf": dict(depth=18, w_0=200, w_a=106.23, w_m=2.48, group_width=112, se_ratio=SE_RATIO),
    "regnet_y_32gf": dict(depth=20, w_0=232, w_a=115.89, w_m=2.53, group_width=232, se_ratio=SE_RATIO),
    "regnet_y_128gf": dict(depth=27, w_0=456, w_a=160.83, w_m=2.52, group_width=264, se_ratio=SE_RATIO),
}
REFERENCES = tuple(name for name in MODELS if name.endswith(("400mf", "800mf", "1_6gf", "3_2gf")))

# ----------------------------------------------------------------------------------------------
# the rule: torchvision's BlockParams.from_init_params, step by step


def block_widths(depth: int, w_0: Any, w_a: Any, w_m: Any) -> np.ndarray:
    """The quantized linear widths of blocks 0 … ``depth - 1`` (the paper's Eqs. 2–4): ``u = w0 + wa · j``,
    ``s = round(log(u / w0) / log(wm))``, width ``round(w0 · wm^s / 8) · 8`` (rounding half to even).

    The arithmetic is torchvision's, operation for operation, in torch's float32: rounding makes the last
    bit matter (with wm = 2.25 = 1.5², u / w0 = 1.5 gives s = 1/2 up to rounding, and torch's float32
    logarithm is not the correctly rounded one). ``w_0``, ``w_a``, ``w_m`` may be arrays of one shape: the
    result then has that shape and a last axis of ``depth``. Block j's width depends on j alone, not on
    ``depth``: the widths of a shallower network are a prefix of a deeper one's."""
    f32 = torch.float32
    w0 = torch.as_tensor(np.asarray(w_0, dtype=np.float64), dtype=f32)[..., None]
    wa = torch.as_tensor(np.asarray(w_a, dtype=np.float64), dtype=f32)[..., None]  # arange × float: float32
    wm = np.asarray(w_m, dtype=np.float64)
    log_wm = torch.tensor([math.log(m) for m in wm.ravel()], dtype=f32).reshape(wm.shape)[..., None]  # in float32
    capacity = torch.round(torch.log((torch.arange(depth) * wa + w0) / w0) / log_wm)
    power = torch.pow(torch.as_tensor(wm, dtype=f32)[..., None], capacity)  # torch.pow(w_m, capacity)
    return (torch.round(torch.divide(w0 * power, QUANT)) * QUANT).to(torch.int64).numpy()


def stage_block(width: int, group_width: int, bottleneck_multiplier: float) -> tuple[int, int, int]:
    """A stage's (output channels, bottleneck channels, groups) from its quantized width: torchvision's
    ``_adjust_widths_groups_compatibilty`` (the group width is at most the bottleneck, and the bottleneck a
    multiple of it) and ``BottleneckTransform`` (``w_b = round(width · multiplier)``, ``groups = w_b //
    group width``)."""
    bottleneck = int(width * bottleneck_multiplier)
    group = min(group_width, bottleneck)
    out = int(make_divisible(bottleneck, group) / bottleneck_multiplier)
    w_b = int(round(out * bottleneck_multiplier))
    return out, w_b, w_b // group


def stages(depth: int, w_0: int, w_a: float, w_m: float, group_width: int,
           bottleneck_multiplier: float = 1.0) -> list[tuple[int, int, int, int]]:
    """Per stage (output channels, blocks, bottleneck channels, groups), as torchvision's ``BlockParams``."""
    if w_a < 0 or w_0 <= 0 or w_m <= 1 or w_0 % QUANT or depth < 1 or group_width < 1 or bottleneck_multiplier <= 0:
        raise ValueError(f"invalid RegNet settings depth={depth}, w_0={w_0}, w_a={w_a}, w_m={w_m}, "
                         f"group_width={group_width}, bottleneck_multiplier={bottleneck_multiplier}: the rule "
                         "needs depth >= 1, w_0 a positive multiple of 8, w_a >= 0, w_m > 1, group_width >= 1")
    widths = block_widths(depth, w_0, w_a, w_m).tolist()
    result: list[tuple[int, int, int, int]] = []
    for j, width in enumerate(widths):
        if j and width == widths[j - 1]:
            out, blocks, w_b, groups = result[-1]
            result[-1] = (out, blocks + 1, w_b, groups)
        else:
            out, w_b, groups = stage_block(width, group_width, bottleneck_multiplier)
            result.append((out, 1, w_b, groups))
    return result


def regnet(depth: int, w_0: int, w_a: float, w_m: float, group_width: int, *, bottleneck_multiplier: float = 1.0,
           se_ratio: float | None = None) -> Genome:
    """A RegNet as torchvision builds it from ``BlockParams.from_init_params`` with these arguments:
    ``regnet(**MODELS["regnet_y_400mf"])`` is ``regnet_y_400mf``."""
    blocks: list[Any] = [Conv(out=STEM_WIDTH, kernel=3, stride=2)]
    c_in = STEM_WIDTH
    for out, n, w_b, groups in stages(depth, w_0, w_a, w_m, group_width, bottleneck_multiplier):
        for j in range(n):
            se = SqueezeExcite(int(round(se_ratio * c_in))) if se_ratio else None
            blocks.append(Bottleneck(out=out, width=w_b, groups=groups, stride=2 if j == 0 else 1, se=se, regnet=True))
            c_in = out
    return Genome(blocks=tuple(blocks), head=Head(), norm=Norm())


# ----------------------------------------------------------------------------------------------
# the space

_PUBLISHED = {key: tuple(sorted({m[key] for m in MODELS.values()})) for key in ("depth", "w_0", "w_a", "w_m",
                                                                                  "group_width")}


class RegNetSpace(Space):
    """The RegNet space; every choice set can be replaced (tests use tiny ones)."""

    description = "RegNetX and RegNetY: the quantized linear rule of depth, w0, wa, wm, group width, bottleneck, SE"
    target_resolution = 224

    def __init__(
        self,
        name: str = "regnet",
        *,
        depths: tuple[int, ...] = tuple(range(10, 29)),
        w0s: tuple[int, ...] = tuple(range(16, 257, 8)) + (320, 456),
        was: tuple[float, ...] = tuple(sorted(set(_PUBLISHED["w_a"]) | {8.0, 16.0, 32.0, 64.0, 128.0, 256.0})),
        wms: tuple[float, ...] = tuple(sorted(set(_PUBLISHED["w_m"]) | {2.75, 3.0})),
        group_widths: tuple[int, ...] = tuple(sorted(set(_PUBLISHED["group_width"]) | {1, 2, 4, 32, 64})),
        bottleneck_multipliers: tuple[float, ...] = (1.0, 0.5, 0.25),
        se: tuple[bool, ...] = (False, True),
        references: Mapping[str, Genome] | None = None,
    ) -> None:
        self.name = name
        self.depths, self.w0s, self.was, self.wms = depths, w0s, was, wms
        self.group_widths, self.bottleneck_multipliers, self.se = group_widths, bottleneck_multipliers, se
        for key, values in self.dimensions().items():
            if not values or len(set(values)) != len(values):
                raise ValueError(f"{key} needs distinct choices, got {values}")
        bad = ([f"depth={d}" for d in depths if d < 1] + [f"w0={w}" for w in w0s if w <= 0 or w % QUANT]
               + [f"wa={a}" for a in was if a < 0] + [f"wm={m}" for m in wms if m <= 1]
               + [f"group_width={g}" for g in group_widths if g < 1]
               + [f"bottleneck_multiplier={b}" for b in bottleneck_multipliers if not 0 < b <= 1]
               + [f"se={s!r}" for s in se if not isinstance(s, bool)])
        if bad:
            raise ValueError(f"choices outside the RegNet rule: {', '.join(bad)} (it needs depths >= 1, w0 positive "
                             "multiples of 8, wa >= 0, wm > 1, group widths >= 1, 0 < bottleneck multiplier <= 1, "
                             "se True or False)")
        self._grid_cache: tuple[np.ndarray, np.ndarray] | None = None
        self._size: int | None = None
        self._references = dict(references) if references is not None else {
            name: regnet(**MODELS[name]) for name in REFERENCES}

    def torchvision_members(self) -> dict[str, tuple[Genome, str, dict[str, Any]]]:
        """All 15 RegNets torchvision builds (the references and the larger ones)."""
        return {name: (self._references.get(name) or regnet(**MODELS[name]), name, {}) for name in MODELS}

    # -- dimensions ------------------------------------------------------------------------------

    def dimensions(self) -> dict[str, tuple[Any, ...]]:
        return {"depth": self.depths, "w0": self.w0s, "wa": self.was, "wm": self.wms,
                "group_width": self.group_widths, "bottleneck_multiplier": self.bottleneck_multipliers,
                "se": self.se}

    def genome_from_params(self, p: Mapping[str, Any]) -> Genome:
        return regnet(p["depth"], p["w0"], p["wa"], p["wm"], p["group_width"],
                      bottleneck_multiplier=p["bottleneck_multiplier"], se_ratio=SE_RATIO if p["se"] else None)

    # -- the grid of (w0, wa, wm): block widths at the largest depth, for size() and to_params() --------

    def _grid(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows of (w0, wa, wm), their block widths at the largest depth: one row each)."""
        if self._grid_cache is None:
            w0, wa, wm = (a.ravel() for a in np.meshgrid(np.asarray(self.w0s, dtype=np.int64),
                                                          np.asarray(self.was, dtype=np.float64),
                                                          np.asarray(self.wms, dtype=np.float64), indexing="ij"))
            rows = np.stack([w0.astype(np.float64), wa, wm], axis=1)
            self._grid_cache = rows, block_widths(max(self.depths), w0, wa, wm)
        return self._grid_cache

    def _symbols(self, widths: np.ndarray) -> tuple[np.ndarray, dict[tuple[int, ...], int]]:
        """For each (bottleneck multiplier, group width) and each quantized width in ``widths``: the id of
        the stage's (out, bottleneck, groups). Shape (multipliers, group widths, len(widths))."""
        ids: dict[tuple[int, ...], int] = {}
        table = np.array([[[ids.setdefault(stage_block(w, g, m), len(ids)) for w in widths.tolist()]
                           for g in self.group_widths] for m in self.bottleneck_multipliers], dtype=np.int64)
        return table, ids

    # -- inverse ---------------------------------------------------------------------------------

    def to_params(self, genome: Genome) -> dict[str, Any]:
        inv = Inverse(self, genome)
        genome, put, fail = inv.genome, inv.put, inv.fail
        if genome.norm != Norm():
            raise fail("net", f"RegNet's normalisation is batch norm (eps 1e-5, momentum 0.1), got {genome.norm}")
        if genome.drop_path:
            raise fail("net", f"stochastic depth {genome.drop_path} (this space has none)")
        if genome.head != Head():
            raise fail("head", f"this space's head is global pooling and a linear classifier, got {genome.head}")
        stem, body = genome.blocks[0], genome.blocks[1:]
        if stem != Conv(out=STEM_WIDTH, kernel=3, stride=2):
            raise fail("block 0", f"the stem is a 3×3 stride-2 convolution to {STEM_WIDTH} channels with ReLU, "
                                  f"got {stem}")
        for i, block in enumerate(body, 1):
            if not (isinstance(block, Bottleneck) and block.regnet and block.kernel == 3 and block.dilation == 1
                    and not block.separable and not block.project and block.act == "relu"):
                raise fail(f"block {i}", f"RegNet's blocks are 3×3 ReLU bottlenecks in RegNet's arrangement "
                                         f"(bot_..._regnet, no dilation, separable kernel or forced projection), "
                                         f"got {block}")
        put("depth", len(body), "blocks")
        put("se", body[0].se is not None, "block 1")
        # the target, block by block: (out, bottleneck, groups) and whether the block opens a stage
        target = [((b.out, b.width, b.groups), b.stride == 2) for b in body]
        if not target[0][1]:
            raise fail("block 1", "the first block of a RegNet opens a stage: its stride is 2")
        wide = [(i, w // g) for i, ((_, w, g), opens) in enumerate(target, 1) if opens and g > 1]
        group_widths = self.group_widths
        if wide:  # a stage of several groups: their width is the group width (one group: any as wide or wider)
            i, width = wide[0]
            put("group_width", width, f"block {i}")
            group_widths = (width,)
        rows, widths = self._grid()
        widths = widths[:, :len(body)]
        values, index = np.unique(widths, return_inverse=True)
        table, ids = self._symbols(values)
        opens = np.ones(widths.shape, dtype=bool)
        opens[:, 1:] = widths[:, 1:] != widths[:, :-1]
        wanted_opens = np.array([o for _, o in target])
        wanted = np.array([ids.get(s, -1) for s, _ in target])
        candidates = (opens == wanted_opens).all(axis=1)
        for a, multiplier in enumerate(self.bottleneck_multipliers):
            for b, group_width in enumerate(self.group_widths):
                if group_width not in group_widths:
                    continue
                match = candidates & (table[a, b][index.reshape(widths.shape)] == wanted).all(axis=1)
                if match.any():
                    w0, wa, wm = rows[int(np.argmax(match))].tolist()
                    inv.params.update(w0=int(w0), wa=wa, wm=wm, group_width=group_width,
                                      bottleneck_multiplier=multiplier)
                    return inv.done("some block's squeeze-and-excitation differs from RegNetY's round(0.25 × its "
                                    "input channels), or a gene this space does not vary is set")
        starts = [i for i, b in enumerate(body) if b.stride == 2] + [len(body)]
        layout = [(body[i].out, body[i].width, body[i].groups, end - i) for i, end in zip(starts, starts[1:])]
        raise fail("blocks", f"its stages (out, bottleneck, groups, blocks) {layout} follow from no w0, wa, wm, "
                             "group width and bottleneck multiplier of the space")

    # -- size ------------------------------------------------------------------------------------

    def size(self) -> int:
        """Exact count of distinct genomes.

        Depths give distinct networks (the number of blocks), and so does SE (on or off); the rest can
        collide. A network of depth d is fixed by its blocks' (out, bottleneck, groups) and where stages
        open, block by block; block j's quantized width depends on (w0, wa, wm) and j alone, so the
        networks of depth d are the distinct length-d prefixes of the sequences made by every (w0, wa,
        wm, group width, bottleneck multiplier). They are counted level by level, as the nodes of a trie:
        each prefix gets an id from its parent's id and its last block (``np.unique``)."""
        if self._size is None:
            _, widths = self._grid()
            values, index = np.unique(widths, return_inverse=True)
            index = index.reshape(widths.shape)
            table, ids = self._symbols(values)
            opens = np.ones(widths.shape, dtype=np.int64)
            opens[:, 1:] = widths[:, 1:] != widths[:, :-1]
            prefix = np.zeros(table.shape[0] * table.shape[1] * widths.shape[0], dtype=np.int64)
            depths, total = set(self.depths), 0
            for j in range(max(self.depths)):
                block = (table[:, :, index[:, j]] * 2 + opens[:, j]).ravel()
                unique, prefix = np.unique(prefix * (2 * len(ids)) + block, return_inverse=True)
                if j + 1 in depths:
                    total += len(unique)
            self._size = total * len(self.se)
        return self._size


register_space(RegNetSpace())
