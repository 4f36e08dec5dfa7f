"""The ``shuffle`` space: exact size, the gene named when a genome is outside it, the template
torchvision's ShuffleNetV2 family fills, and the network-wide activation."""

from __future__ import annotations

import dataclasses
import itertools

import optuna
import pytest
from torch import nn

import nas
from search_spaces.shuffle import SHUFFLENET_V2, ShuffleSpace, ShuffleStage, shufflenet_v2

SPACE = nas.get_space("shuffle")


def tiny() -> ShuffleSpace:
    # stages 1 and 2 share width 16 (told apart by the stride-2 unit), depths leave kernel genes unused
    return ShuffleSpace("tiny", stem_widths=(8, 16),
                        stages=(ShuffleStage((16,), (1, 2)), ShuffleStage((16, 32), (1, 3)), ShuffleStage((32,), (1,))),
                        kernels=(3, 5), activations=("relu", "silu"), head_widths=(32,), references={})


def test_size_counts_distinct_genomes_exactly() -> None:
    space = tiny()
    dims = space.dimensions()
    combos = list(itertools.product(*dims.values()))
    genomes = {space.genome_from_params(dict(zip(dims, values))) for values in combos}
    assert len(genomes) == space.size() == 2 * 2 * (2 + 4) * 2 * (2 + 8) * 2
    assert space.size() < len(combos)  # unused kernel genes collapse


def test_default_space_size_in_closed_form() -> None:
    stages = (7 * sum(3 ** d for d in range(2, 7)), 7 * sum(3 ** d for d in range(4, 11)),
              7 * sum(3 ** d for d in range(2, 7)))
    assert SPACE.size() == 3 * 3 * 4 * stages[0] * stages[1] * stages[2]


def test_recipes_are_torchvisions_template() -> None:
    assert str(shufflenet_v2("shufflenet_v2_x1_0")) == (
        "conv_s2_c24_relu pool_max_k3_s2_p1 shuffle_s2_c116_relu shuffle_c116_relu*3 shuffle_s2_c232_relu "
        "shuffle_c232_relu*7 shuffle_s2_c464_relu shuffle_c464_relu*3 head_c1024_relu")
    assert str(shufflenet_v2("shufflenet_v2_x2_0")).endswith("shuffle_c976_relu*3 head_c2048_relu")
    assert set(SPACE.references) == {"shufflenet_v2_x0_5", "shufflenet_v2_x1_0"}
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
