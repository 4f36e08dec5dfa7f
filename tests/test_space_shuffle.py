"""The ``shuffle`` space: exact size, the gene named when a genome is outside it, the template
torchvision's ShuffleNetV2 family fills, the network-wide activation, and ShuffleNetV1 (its unit, the
paper's numbers, a point of the space)."""

from __future__ import annotations

import dataclasses
import itertools

import optuna
import pytest
import torch
from torch import nn

import nas
from search_spaces.shuffle import (SHUFFLENET_V1_WIDTHS, SHUFFLENET_V2, ShuffleSpace, ShuffleStage, shufflenet_v1,
                                   shufflenet_v2)
from tests.conftest import flop_count_macs, n_params

SPACE = nas.get_space("shuffle")


def tiny() -> ShuffleSpace:
    # stages 1 and 2 share width 16 (told apart by the stride-2 unit), depths leave kernel genes unused;
    # V1 networks ignore the widths, V2 ones the groups and multipliers, and the multipliers 0.25 and 0.26
    # give the same widths (stem 6, stage 2 36 channels at g = 1, 60 at g = 3)
    return ShuffleSpace("tiny", stem_widths=(8, 16),
                        stages=(ShuffleStage((16,), (1, 2)), ShuffleStage((16, 32), (1, 3)), ShuffleStage((32,), (1,))),
                        kernels=(3, 5), activations=("relu", "silu"), head_widths=(0, 32), v1_groups=(1, 3),
                        v1_width_mults=(0.25, 0.26, 0.5), references={})


def test_size_counts_distinct_genomes_exactly() -> None:
    space = tiny()
    dims = space.dimensions()
    combos = list(itertools.product(*dims.values()))
    genomes = {space.genome_from_params(dict(zip(dims, values))) for values in combos}
    units = 2 * 2 * (2 + 4) * (2 + 8) * 2  # activation, head width, kernels over the depths of each stage
    v2, v1 = units * 2 * 1 * 2 * 1, units * 2 * 2  # V2: stem and stage widths; V1: (groups, widths) pairs
    assert len(genomes) == space.size() == v2 + v1
    assert sum(isinstance(g.blocks[2], nas.ShuffleV1Unit) for g in genomes) == v1
    assert space.size() < len(combos)  # unused kernel genes collapse
    for genome in itertools.islice(genomes, 0, None, 53):  # and the inverse finds each of them
        assert space.genome_from_params(space.to_params(genome)) == genome


def test_default_space_size_in_closed_form() -> None:
    kernels = (sum(3 ** d for d in range(2, 7)), sum(3 ** d for d in range(4, 11)), sum(3 ** d for d in range(2, 7)))
    v2 = 3 * 3 * 5 * (7 * kernels[0]) * (7 * kernels[1]) * (7 * kernels[2])  # act, stem, head; widths, kernels
    v1 = 3 * 5 * 25 * kernels[0] * kernels[1] * kernels[2]  # act, head, 5 groups × 5 multipliers (all distinct)
    assert SPACE.size() == v2 + v1


def test_recipes_are_torchvisions_template() -> None:
    assert str(shufflenet_v2("shufflenet_v2_x1_0")) == (
        "conv_s2_c24_relu pool_max_k3_s2_p1 shuffle_s2_c116_relu shuffle_c116_relu*3 shuffle_s2_c232_relu "
        "shuffle_c232_relu*7 shuffle_s2_c464_relu shuffle_c464_relu*3 head_c1024_relu")
    assert str(shufflenet_v2("shufflenet_v2_x2_0")).endswith("shuffle_c976_relu*3 head_c2048_relu")
    assert set(SPACE.references) == {"shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v1_x1_0_g3"}
    assert set(SPACE.torchvision_members()) == set(SHUFFLENET_V2)
    for name, (genome, builder, kwargs) in SPACE.torchvision_members().items():
        assert (builder, kwargs) == (name, {})
        params = SPACE.to_params(genome)  # every member is a point of the space
        assert [params[f"s{i}_depth"] for i in (1, 2, 3)] == [4, 8, 4]
        assert (params["stem_width"], params["act"]) == (24, "relu")
        assert SPACE.sample(optuna.trial.FixedTrial(params)) == genome
    with pytest.raises(ValueError, match="unknown ShuffleNetV2 'shufflenet_v2_x3_0'"):
        shufflenet_v2("shufflenet_v2_x3_0")


def test_activation_and_kernels_reach_every_unit() -> None:
    params = SPACE.to_params(SPACE.references["shufflenet_v2_x0_5"])
    params.update(act="hardswish", s2_b3_kernel=7)
    genome = SPACE.sample(optuna.trial.FixedTrial(params))
    assert genome.head.act == "hardswish" and {b.act for b in genome.blocks if hasattr(b, "act")} == {"hardswish"}
    assert [b.kernel for b in genome.blocks[2:]].count(7) == 1 and genome.blocks[2 + 4 + 2].kernel == 7
    model = nas.build(genome, num_classes=10)
    kinds = {type(m) for m in model.modules()}
    assert nn.Hardswish in kinds and nn.ReLU not in kinds
    assert any(isinstance(m, nn.Conv2d) and m.kernel_size == (7, 7) and m.groups == m.in_channels > 1
               for m in model.modules())  # the 7×7 kernel is the unit's depthwise convolution


def test_to_params_names_the_gene_outside_the_space() -> None:
    ref = SPACE.references["shufflenet_v2_x1_0"]
    blocks = list(ref.blocks)
    blocks[3] = nas.ShuffleUnit(out=116, kernel=9)
    with pytest.raises(ValueError, match=r"not a point of the 'shuffle' space: block 3: s1_b2_kernel=9 is not one "
                                         r"of \(3, 5, 7\)"):
        SPACE.to_params(dataclasses.replace(ref, blocks=tuple(blocks)))
    blocks[3] = nas.ShuffleUnit(out=116, act="silu")
    with pytest.raises(ValueError, match="block 3: act='silu' differs from the network's activation 'relu'"):
        SPACE.to_params(dataclasses.replace(ref, blocks=tuple(blocks)))
    deep = ref.blocks[:14] + (nas.ShuffleUnit(out=232),) * 3 + ref.blocks[14:]  # stage 2: 11 units
    with pytest.raises(ValueError, match=r"block 16: stage 3 must start with a stride-2 unit, got stride 1 \(is "
                                         r"stage 2 deeper than 10 units\?\)"):
        SPACE.to_params(dataclasses.replace(ref, blocks=deep))
    with pytest.raises(ValueError, match="block 1: the stem must be followed by 3×3 stride-2 max pooling"):
        SPACE.to_params(dataclasses.replace(ref, blocks=ref.blocks[:1] + ref.blocks[2:]))
    with pytest.raises(ValueError, match="head: .*no dropout"):
        SPACE.to_params(dataclasses.replace(ref, head=nas.Head(width=1024, dropout=0.2)))
    with pytest.raises(ValueError, match="s1_width=120 is not one of"):
        SPACE.to_params(str(ref).replace("c116", "c120"))
    with pytest.raises(ValueError, match="net: this space uses batch norm"):
        SPACE.to_params(dataclasses.replace(ref, norm=nas.Norm(eps=1e-3)))


def test_constructor_refuses_stages_it_cannot_encode() -> None:
    with pytest.raises(ValueError, match=r"stage 2 widths \[99\] are odd"):
        ShuffleSpace("bad", stages=(ShuffleStage((48,), (1,)), ShuffleStage((98, 99), (1,))), references={})
    with pytest.raises(ValueError, match="stage 1 depths .* must all be >= 1"):
        ShuffleSpace("bad", stages=(ShuffleStage((48,), (0, 1)),), references={})


# ----------------------------------------------------------------------------------------------
# ShuffleNetV1 (Zhang et al., 2018)

V1_G3 = ("conv_s2_c24_relu pool_max_k3_s2_p1 shufflev1_s2_w60_g3_dense_c240_relu shufflev1_w60_g3_c240_relu*3 "
         "shufflev1_s2_w120_g3_c480_relu shufflev1_w120_g3_c480_relu*7 shufflev1_s2_w240_g3_c960_relu "
         "shufflev1_w240_g3_c960_relu*3 head")


def test_shufflenet_v1_is_table_1() -> None:
    genome = SPACE.references["shufflenet_v1_x1_0_g3"]
    assert genome == shufflenet_v1(3) and str(genome) == V1_G3
    model = nas.build(genome).eval()
    unit = model.features[2]  # stage 2's first unit: 24 -> 240 channels, 56×56 -> 28×28
    assert [type(m) for m in unit.expand] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.Identity]
    assert (unit.expand.conv.groups, unit.expand.conv.out_channels) == (1, 60)  # not grouped, a quarter of 240
    assert (unit.depthwise.conv.groups, unit.depthwise.conv.stride) == (60, (2, 2))
    assert (unit.project.conv.groups, unit.project.conv.out_channels) == (3, 240 - 24)  # concatenated to 240
    assert isinstance(unit.shortcut, nn.AvgPool2d) and isinstance(unit.depthwise.act, nn.Identity)
    later = model.features[3]
    assert later.expand.conv.groups == 3 and isinstance(later.expand.shuffle, nn.ChannelShuffle)
    assert isinstance(later.shortcut, nn.Identity)
    x = torch.randn(1, 3, 224, 224)
    sizes = [x.shape[1:]]
    for layer in model.features:
        x = layer(x)
        sizes.append(x.shape[1:])
    # Table 1's output sizes: 112, 56, then 28×28×240, 14×14×480, 7×7×960
    assert [tuple(s) for s in (sizes[1], sizes[2], sizes[6], sizes[14], sizes[18])] == [
        (24, 112, 112), (24, 56, 56), (240, 28, 28), (480, 14, 14), (960, 7, 7)]


@pytest.mark.parametrize("groups, table_1", [(1, 143), (2, 140), (3, 137), (4, 133), (8, 137)])
def test_shufflenet_v1_has_table_1s_complexity(groups: int, table_1: int) -> None:
    # Table 1 counts the convolutions' multiply-adds (not the classifier's) of ShuffleNet 1×
    genome = shufflenet_v1(groups)
    cost = nas.count(genome, resolution=224, num_classes=1000)
    classifier = 4 * SHUFFLENET_V1_WIDTHS[groups] * 1000
    assert round((cost.macs - classifier) / 1e6) == table_1
    assert genome.blocks[-1].out == 4 * SHUFFLENET_V1_WIDTHS[groups]
    assert SPACE.sample(optuna.trial.FixedTrial(SPACE.to_params(genome))) == genome  # a point at every g


def test_shufflenet_v1_g3_numbers() -> None:
    genome = shufflenet_v1(3)
    cost = nas.count(genome, resolution=224, num_classes=1000)
    assert (cost.macs, cost.params) == (137_460_672, 1_865_728)
    assert abs(cost.macs / 140e6 - 1) < 0.02  # "140 MFLOPs", the 1× family's complexity in Table 2
    assert round(cost.params / 1e5) == 19  # the "1.9 M" usually quoted
    model = nas.build(genome).eval()
    x = torch.randn(1, 3, 224, 224)
    assert (flop_count_macs(model, x), n_params(model)) == (cost.macs, cost.params)
    # 0.5× (Table 2: 38 MFLOPs) and 2× (g = 3) (524 MFLOPs): the stem scales with them
    assert [round(nas.count(shufflenet_v1(3, s)).macs / 1e6) for s in (0.5, 2.0)] == [38, 524]
    assert [shufflenet_v1(3, s).blocks[0].out for s in (0.5, 2.0)] == [12, 48]
    with pytest.raises(ValueError, match=r"groups=5 is not one of Table 1's \(1, 2, 3, 4, 8\)"):
        shufflenet_v1(5)


def test_shufflenet_v1_to_params_names_the_gene_outside_the_space() -> None:
    ref = SPACE.references["shufflenet_v1_x1_0_g3"]
    params = SPACE.to_params(ref)
    assert (params["unit"], params["v1_groups"], params["v1_width_mult"], params["head_width"]) == ("v1", 3, 1.0, 0)
    assert [params[f"s{i}_depth"] for i in (1, 2, 3)] == [4, 8, 4]

    def with_block(i: int, block: object) -> nas.Genome:
        return dataclasses.replace(ref, blocks=ref.blocks[:i] + (block,) + ref.blocks[i + 1:])

    cases = [
        (with_block(3, nas.ShuffleV1Unit(out=240, width=60, groups=3, kernel=9)), r"block 3: s1_b2_kernel=9"),
        (with_block(3, nas.ShuffleV1Unit(out=240, width=48, groups=3)), r"block 3: stage 1's ShuffleNetV1 units have "
                                                                        r"\(channels, bottleneck, groups, ungrouped "
                                                                        r"first 1×1\) = \(240, 60, 3, False\)"),
        (with_block(3, nas.ShuffleV1Unit(out=240, width=60, groups=3, dense=True)), r"block 3: stage 1's"),
        (with_block(6, nas.ShuffleV1Unit(out=480, width=120, groups=4, stride=2)), r"block 6: stage 2's"),
        (with_block(3, nas.ShuffleUnit(out=240)), r"block 3: only plain ShuffleNetV1 units belong to stages"),
        (with_block(2, nas.ShuffleV1Unit(out=252, width=63, groups=3, dense=True, stride=2)),
         r"block 2: a 24-channel stem and 252 channels in stage 1 are not ShuffleNetV1's"),
        (with_block(2, nas.ShuffleV1Unit(out=240, width=60, groups=5, dense=True, stride=2)),
         r"block 2: v1_groups=5 is not one of"),
        (dataclasses.replace(ref, head=nas.Head(width=1024, act="silu")), r"head: act='silu' differs"),
    ]
    for genome, message in cases:
        with pytest.raises(ValueError, match=r"genome is not a point of the 'shuffle' space: " + message):
            SPACE.to_params(genome)
    # ShuffleNetV2 without conv5, and V1 with it, are points too
    for genome in (dataclasses.replace(SPACE.references["shufflenet_v2_x1_0"], head=nas.Head()),
                   dataclasses.replace(ref, head=nas.Head(width=1024))):
        assert SPACE.sample(optuna.trial.FixedTrial(SPACE.to_params(genome))) == genome


def test_shufflenet_v1_unit_gene() -> None:
    unit = nas.Genome.parse("conv_c12 shufflev1_s2_w8_g4_dense_c28 shufflev1_k5_w8_g4_c28_silu head").blocks[1:]
    assert unit == (nas.ShuffleV1Unit(out=28, width=8, groups=4, dense=True, stride=2),
                    nas.ShuffleV1Unit(out=28, width=8, groups=4, kernel=5, act="silu"))
    assert nas.ShuffleV1Unit(out=8, width=4, groups=1, dense=True) == nas.ShuffleV1Unit(out=8, width=4)  # canonical
    assert str(nas.Genome.parse("conv_c8 shufflev1_g1_dense_w4_c8 head")) == "conv_c8_relu shufflev1_w4_c8_relu head"
    model = nas.build("conv_c12 shufflev1_s2_w8_g4_dense_c28 head", num_classes=3).eval()
    x = torch.randn(2, 3, 9, 9)
    block, features = model.features[1], model.features[0](x)
    # the pooled input first, then the branch; the activation after the concatenation
    expected = torch.relu(torch.cat((nn.functional.avg_pool2d(features, 3, 2, 1),
                                     block.project(block.depthwise(block.expand(features)))), 1))
    assert torch.equal(block(features), expected) and expected.shape == (2, 28, 5, 5)
    for text, message in [
        ("conv_c8 shufflev1_k4_w4_c8 head", "kernel=4 must be odd"),
        ("conv_c8 shufflev1_w6_g4_c8 head", "groups=4 must divide width=6"),
        ("conv_c8 shufflev1_c8 head", r"needs 'w<int>' \(width\)"),
        ("conv_c8 shufflev1_w4_c16 head", "a stride-1 ShuffleNet unit keeps its channels"),
        ("conv_c8 shufflev1_s2_w4_c8 head", "its output channels must exceed them, got 8"),
        ("conv_c6 shufflev1_s2_w4_g2_c12 head", None),  # 6 input channels, 6 in the branch: fine
        ("conv_c8 shufflev1_s2_w4_g4_dense_c14 head", "groups=4 must divide the grouped convolutions' branch "
                                                     "channels=6"),
        ("conv_c6 shufflev1_s2_w8_g4_c22 head", "groups=4 must divide the grouped convolutions' in_channels=6"),
    ]:
        if message is None:
            nas.count(text)
            continue
        with pytest.raises(ValueError, match=message):
            nas.count(text)
