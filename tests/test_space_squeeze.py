"""The ``squeeze`` space: exact size, the gene named when a genome is outside it, SqueezeNet 1.0 and
1.1 as the same Fire modules with the poolings moved, and the network-wide norm and activation."""

from __future__ import annotations

import dataclasses
import itertools

import optuna
import pytest
import torch
from torch import nn

import nas
from search_spaces.squeeze import SqueezeSpace, squeezenet

SPACE = nas.get_space("squeeze")


def tiny() -> SqueezeSpace:
    # stages 1 and 3 may be empty (two poolings side by side, their Fire genes unused), stage 2 may
    # leave its second slot unused
    return SqueezeSpace("tiny", stem_kernels=(3, 7), stem_widths=(8,), depths=((0, 1), (1, 2), (0, 2)),
                        squeezes=(4, 8), expands=(8,), norms=("none", "bn"), activations=("relu",), references={})


def test_size_counts_distinct_genomes_exactly() -> None:
    space = tiny()
    dims = space.dimensions()
    combos = list(itertools.product(*dims.values()))
    genomes = {space.genome_from_params(dict(zip(dims, values))) for values in combos}
    assert len(genomes) == space.size() == 2 * 2 * (1 + 2) * (2 + 4) * (1 + 4)
    assert space.size() < len(combos)


def test_default_space_size() -> None:
    # 16 (squeeze, expand) pairs per Fire module; depths 1-4 in each of the three stages
    networks = sum(16 ** (a + b + c) for a, b, c in itertools.product(range(1, 5), repeat=3))
    assert SPACE.size() == 2 * 2 * 2 * 2 * networks


def test_references_are_torchvisions_squeezenets() -> None:
    v10, v11 = SPACE.references["squeezenet1_0"], SPACE.references["squeezenet1_1"]
    assert str(v10) == (
        "net_nonorm conv_k7_s2_p0_c96_relu pool_max_k3_s2_ceil fire_sq16_e64_relu*2 fire_sq32_e128_relu "
        "pool_max_k3_s2_ceil fire_sq32_e128_relu fire_sq48_e192_relu*2 fire_sq64_e256_relu pool_max_k3_s2_ceil "
        "fire_sq64_e256_relu head_d0.5_convcls")
    assert str(v11) == (
        "net_nonorm conv_s2_p0_c64_relu pool_max_k3_s2_ceil fire_sq16_e64_relu*2 pool_max_k3_s2_ceil "
        "fire_sq32_e128_relu*2 pool_max_k3_s2_ceil fire_sq48_e192_relu*2 fire_sq64_e256_relu*2 head_d0.5_convcls")
    # the same eight Fire modules; 1.1 has a smaller stem and pools earlier
    assert [b for b in v10.blocks if isinstance(b, nas.Fire)] == [b for b in v11.blocks if isinstance(b, nas.Fire)]
    p10, p11 = SPACE.to_params(v10), SPACE.to_params(v11)
    assert [p10[f"s{i}_depth"] for i in (1, 2, 3)] == [3, 4, 1]
    assert [p11[f"s{i}_depth"] for i in (1, 2, 3)] == [2, 2, 4]
    assert (p10["stem_kernel"], p10["stem_width"], p11["stem_kernel"], p11["stem_width"]) == (7, 96, 3, 64)
    assert squeezenet("1_1", dropout=0.2).head.dropout == 0.2
    with pytest.raises(ValueError, match="unknown SqueezeNet version '1_2'"):
        squeezenet("1_2")


def test_batch_norm_and_silu_reach_every_fire_module() -> None:
    params = SPACE.to_params(SPACE.references["squeezenet1_1"])
    params.update(norm="bn", act="silu")
    genome = SPACE.sample(optuna.trial.FixedTrial(params))
    assert str(genome).startswith("conv_s2_p0_c64_silu pool_max_k3_s2_ceil fire_sq16_e64_silu*2")
    model = nas.build(genome).eval()
    convs = [m for m in model.features.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 1 + 3 * 8 and all(c.bias is None for c in convs)  # batch norm takes the bias
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == len(convs)
    assert not any(isinstance(m, nn.ReLU) for m in model.features.modules())
    classifier = [m for m in model.classifier if isinstance(m, (nn.Conv2d, nn.ReLU, nn.Dropout))]
    assert [type(m) for m in classifier] == [nn.Dropout, nn.Conv2d, nn.ReLU]  # SqueezeNet's head stays
    assert classifier[0].p == 0.5 and classifier[1].bias is not None
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def test_to_params_names_the_gene_outside_the_space() -> None:
    ref = SPACE.references["squeezenet1_0"]
    blocks = list(ref.blocks)
    blocks[3] = nas.Fire(squeeze=24, expand1=64, expand3=64)
    with pytest.raises(ValueError, match=r"not a point of the 'squeeze' space: block 3: s1_b2_squeeze=24 is not "
                                         r"one of \(16, 32, 48, 64\)"):
        SPACE.to_params(dataclasses.replace(ref, blocks=tuple(blocks)))
    blocks[3] = nas.Fire(squeeze=16, expand1=64, expand3=128)
    with pytest.raises(ValueError, match="block 3: the 1×1 and 3×3 expansions must be as wide, got 64 and 128"):
        SPACE.to_params(dataclasses.replace(ref, blocks=tuple(blocks)))
    blocks[3] = nas.Fire(squeeze=16, expand1=64, expand3=64, act="silu")
    with pytest.raises(ValueError, match="block 3: act='silu' differs from the network's activation 'relu'"):
        SPACE.to_params(dataclasses.replace(ref, blocks=tuple(blocks)))
    five = ref.blocks[:6] + (nas.Fire(squeeze=32, expand1=128, expand3=128),) * 5 + ref.blocks[10:]
    with pytest.raises(ValueError, match="block 10: stage 2 has more than 4 Fire modules"):
        SPACE.to_params(dataclasses.replace(ref, blocks=five))
    blocks = list(ref.blocks)
    blocks[5] = nas.Pool(mode="avg", kernel=3, stride=2, ceil=True)
    with pytest.raises(ValueError, match="block 5: stage 2 must start with 3×3 stride-2 max pooling"):
        SPACE.to_params(dataclasses.replace(ref, blocks=tuple(blocks)))
    with pytest.raises(ValueError, match="block 0: the stem must be a plain stride-2 conv without padding"):
        SPACE.to_params(str(ref).replace("conv_k7_s2_p0", "conv_k7_s2"))
    with pytest.raises(ValueError, match="block 0: stem_kernel=5 is not one of"):
        SPACE.to_params(str(ref).replace("conv_k7_s2_p0", "conv_k5_s2_p0"))
    with pytest.raises(ValueError, match="head: this space fixes SqueezeNet's head"):
        SPACE.to_params(dataclasses.replace(ref, head=nas.Head(dropout=0.2, conv_classifier=True)))
    with pytest.raises(ValueError, match="net: norm=Norm.kind='layer'"):
        SPACE.to_params(dataclasses.replace(ref, norm=nas.Norm(kind="layer")))


def test_constructor_refuses_what_it_cannot_encode() -> None:
    with pytest.raises(ValueError, match="unknown norms \\['gn'\\]"):
        SqueezeSpace("bad", norms=("none", "gn"), references={})
    with pytest.raises(ValueError, match="stage 2 depths \\(-1, 1\\) must be non-empty and >= 0"):
        SqueezeSpace("bad", depths=((1,), (-1, 1), (1,)), references={})
