"""The ``vgg`` space: exact size, the inverse refusing genomes outside the space by name, and what a
user of the VGG family relies on (torchvision's layouts, the bias kept under batch norm, one
activation for the whole network). Full-size builds are left to tests/test_torchvision.py."""

from __future__ import annotations

import dataclasses
import itertools

import optuna
import pytest
import torch
from torch import nn

import nas
from search_spaces.vgg import VGG_CONFIGS, VGGSpace, vgg

TINY = dict(stage_widths=((8, 16), (16, 24)), depths=(1, 2), kernels=(3, 5), norms=("nonorm", "bn"),
            activations=("relu", "silu"), head_hidden=(16, 32), head_pools=(1, 2), references={})


def test_size_counts_distinct_genomes_exactly() -> None:
    # neighbouring stages share width 16, the bias flag is canonically dropped without a norm, and the
    # head's activation lives in its hidden layers: none of these may merge two points of the space
    tiny = VGGSpace("tiny", **TINY)
    dims = tiny.dimensions()
    combinations = list(itertools.product(*dims.values()))
    genomes = {tiny.genome_from_params(dict(zip(dims, values))) for values in combinations}
    assert len(genomes) == tiny.size() == len(combinations) == 2 * 2 * (2 * 2 * 2) ** 2 * 2 * 2


def test_default_space_size() -> None:
    space = nas.get_space("vgg")
    # norm 2 × act 4 × (depth 4 × width 3 × kernel 2) per stage ^ 5 × hidden 4 × pooled size 2
    assert space.size() == 2 * 4 * 24**5 * 4 * 2 == 509_607_936


def test_references_are_torchvision_layouts() -> None:
    space = nas.get_space("vgg")
    assert str(space.references["vgg11"]) == (
        "net_nonorm conv_c64_relu pool_max conv_c128_relu pool_max conv_c256_relu*2 pool_max "
        "conv_c512_relu*2 pool_max conv_c512_relu*2 pool_max head_p7_h4096_h4096_d0.5")
    # batch norm is the grammar's default norm; torchvision's batch-normalised convolutions keep a bias
    assert str(space.references["vgg16_bn"]) == (
        "conv_c64_bias_relu*2 pool_max conv_c128_bias_relu*2 pool_max conv_c256_bias_relu*3 pool_max "
        "conv_c512_bias_relu*3 pool_max conv_c512_bias_relu*3 pool_max head_p7_h4096_h4096_d0.5")
    for name, config in (("vgg11", "A"), ("vgg13", "B"), ("vgg16", "D"), ("vgg19", "E")):
        for suffix in ("", "_bn"):
            params = space.to_params(space.references[name + suffix])
            assert tuple(params[f"s{i}_depth"] for i in range(1, 6)) == VGG_CONFIGS[config]
            assert [params[f"s{i}_width"] for i in range(1, 6)] == [64, 128, 256, 512, 512]
            assert params["norm"] == ("bn" if suffix else "nonorm")
            assert (params["act"], params["head_hidden"], params["head_pool"]) == ("relu", 4096, 7)
    # the 3×3 convolutions of VGG-16 with their biases: 14,714,688 parameters (Simonyan & Zisserman, Table 2)
    assert nas.count("net_nonorm conv_c64_relu*2 pool_max conv_c128_relu*2 pool_max conv_c256_relu*3 pool_max "
                     "conv_c512_relu*3 pool_max conv_c512_relu*3 pool_max head_p7", num_classes=1).params \
        == 14_714_688 + 512 * 49 + 1


def test_to_params_returns_dimensions_in_order() -> None:
    space = nas.get_space("vgg")
    assert list(space.to_params(space.references["vgg19_bn"])) == list(space.dimensions())


def _replace(genome: nas.Genome, index: int, block: object) -> nas.Genome:
    blocks = list(genome.blocks)
    blocks[index] = block
    return dataclasses.replace(genome, blocks=tuple(blocks))


def _outside() -> list[tuple[nas.Genome, str]]:
    v16, v16_bn = vgg("D"), vgg("D", batch_norm=True)
    conv, pool = nas.Conv(out=128, act="relu"), nas.Pool("max")
    return [
        # block 3 is stage 2's first convolution
        (_replace(v16, 3, nas.Conv(out=128, kernel=9)), r"block 3: s2_kernel=9 is not one of \(3, 5\)"),
        (_replace(v16, 3, dataclasses.replace(conv, out=100)), r"block 3: s2_width=100 is not one of \(64, 96, 128\)"),
        (_replace(v16, 4, dataclasses.replace(conv, out=96)), r"block 4: out=96, kernel=3 differ from the first "
                                                              r"convolution of stage 2"),
        (_replace(v16, 4, dataclasses.replace(conv, act="silu")), r"block 4: act='silu' differs"),
        (_replace(v16, 0, nas.Conv(out=64, act="tanh")), r"block 0: act='tanh' is not one of"),
        (_replace(v16, 3, dataclasses.replace(conv, stride=2)), r"block 3: a convolution of this space has stride 1"),
        (_replace(v16, 3, nas.Residual(out=128)), r"block 3: only plain convolutions and max pooling"),
        (_replace(v16, 2, nas.Pool("avg")), r"block 2: a stage ends in 2×2 max pooling"),
        # torchvision's vgg*_bn convolutions have a bias: one without is another network
        (_replace(v16_bn, 0, nas.Conv(out=64)), r"block 0: a batch-normalised convolution keeps its bias"),
        (dataclasses.replace(v16, norm=nas.Norm(kind="layer")), r"net: norm=Norm\(kind='layer'"),
        (dataclasses.replace(v16, blocks=v16.blocks[:3] + (conv,) * 5 + v16.blocks[5:]),
         r"stage 2: s2_depth=5 is not one of \(1, 2, 3, 4\)"),
        (dataclasses.replace(v16, blocks=v16.blocks + (pool,)), r"block 18: .*comes after the last of the space's 5"),
        (dataclasses.replace(v16, blocks=v16.blocks[:2] + (pool,) + v16.blocks[2:]),
         r"block 3: stage 2 of 5 has no convolution"),
        (dataclasses.replace(v16, blocks=v16.blocks[:-4]), r"stage 5: the genome ends before stage 5 of 5"),
        (dataclasses.replace(v16, blocks=v16.blocks[:-1]), r"stage 5: it does not end in 2×2 max pooling"),
        (dataclasses.replace(v16, head=nas.Head(pool=7, hidden=(4096, 4096), dropout=0.2)),
         r"head: dropout=0.2 \(this space fixes it at 0.5\)"),
        (dataclasses.replace(v16, head=nas.Head(pool=7, hidden=(4096,), dropout=0.5)), r"head: hidden=\(4096,\)"),
        (dataclasses.replace(v16, head=nas.Head(pool=6, hidden=(4096, 4096), dropout=0.5)),
         r"head: head_pool=6 is not one of \(1, 7\)"),
        (dataclasses.replace(v16, head=nas.Head(pool=7, hidden=(4096, 4096), hidden_act="gelu", dropout=0.5)),
         r"head: the hidden layers' activation 'gelu' differs from the convolutions' 'relu'"),
        (dataclasses.replace(v16, head=nas.Head(width=1024, pool=7, hidden=(4096, 4096), dropout=0.5)),
         r"head: this space's head is pooling"),
    ]


@pytest.mark.parametrize("genome, message", _outside())
def test_to_params_names_the_gene_outside_the_space(genome: nas.Genome, message: str) -> None:
    with pytest.raises(ValueError, match="genome is not a point of the 'vgg' space: " + message):
        nas.get_space("vgg").to_params(genome)


def test_one_activation_and_norm_for_the_whole_network() -> None:
    tiny = VGGSpace("tiny", **TINY)
    params = {name: choices[-1] for name, choices in tiny.dimensions().items()}  # bn, silu, 2 convs per stage
    genome = tiny.sample(optuna.trial.FixedTrial(params))
    assert str(genome) == ("conv_k5_c16_bias_silu*2 pool_max conv_k5_c24_bias_silu*2 pool_max "
                           "head_p2_h32.silu_h32.silu_d0.5")
    model = nas.build(genome, num_classes=10).eval()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4 and all(c.bias is not None and c.padding == (2, 2) for c in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 4
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 2
    assert sum(isinstance(m, nn.SiLU) for m in model.modules()) == 4 + 2  # convolutions and hidden layers
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    assert model(torch.randn(1, 3, 16, 16)).shape == (1, 10)
    assert tiny.to_params(str(genome)) == params  # the string form round-trips too


def test_cheapest_point_is_cheap_and_runs() -> None:
    space = nas.get_space("vgg")
    params = {name: choices[0] for name, choices in space.dimensions().items()}
    genome = space.sample(optuna.trial.FixedTrial(params))
    cost = nas.count(genome, resolution=224)
    reference = nas.count(space.references["vgg11"], resolution=224)
    assert cost.params < reference.params / 20 and cost.macs < reference.macs / 5
    assert nas.build(genome, num_classes=10).eval()(torch.randn(1, 3, 32, 32)).shape == (1, 10)


@pytest.mark.parametrize("kwargs, message", [
    (dict(depths=(0, 1)), r"depths=\(0, 1\): \[0\] must be whole numbers >= 1"),
    (dict(kernels=(3, 4)), r"kernels=\(3, 4\): \[4\] are even"),
    (dict(stage_widths=((32, 32),)), r"stage_widths\[0\] \(stage 1\)=\(32, 32\) repeats a choice"),
    (dict(stage_widths=()), r"stage_widths=\(\) is empty"),
    (dict(norms=("bn", "gn")), r"norms=\('bn', 'gn'\): \['gn'\] not known"),
    (dict(activations=("relu", "swish")), r"\['swish'\] not known"),
    (dict(head_pools=()), r"head_pools=\(\) is empty"),
    (dict(dropout=1.5), r"Head.dropout=1.5 must be in \[0.0, 1.0\)"),
])
def test_constructor_refuses_bad_choice_sets(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VGGSpace("bad", **kwargs)


def test_vgg_recipe_refuses_unknown_configs() -> None:
    with pytest.raises(ValueError, match=r"unknown VGG configuration 'C'; known: A, B, D, E"):
        vgg("C")
