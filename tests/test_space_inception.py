"""The ``inc`` gene and the ``inception`` space: exact costs of random Inception modules, the grammar,
torchvision's GoogLeNet and Inception-v3 (and what the published metadata counts), exact size."""

from __future__ import annotations

import dataclasses
import itertools
import random

import optuna
import pytest
import torch
from torch import nn

import nas
from nas.fidelity import torchvision_fidelity
from search_spaces.inception import InceptionSpace, googlenet, inception_v3
from tests.conftest import flop_count_macs, gradient_extent, n_params, random_inception

SPACE = nas.get_space("inception")


@pytest.mark.parametrize("seed", range(40))
def test_random_inception_modules_build_run_and_count_exactly(seed: int) -> None:
    rng = random.Random(seed)
    norm = rng.choice([nas.Norm(), nas.Norm(kind="none"), nas.Norm(kind="group", groups=4)])
    blocks = (nas.Conv(out=16), random_inception(rng, "relu", ("max", "avg")), random_inception(rng, "silu", ("avg",)))
    genome = nas.Genome(blocks=blocks, head=nas.Head(), norm=norm)
    assert nas.Genome.parse(str(genome)) == genome and nas.Genome.from_json(genome.to_json()) == genome
    side = max(rng.choice([9, 16, 23]), nas.min_resolution(genome))
    model = nas.build(genome, num_classes=5).eval()
    x = torch.randn(1, 3, side, side)
    cost = nas.count(genome, resolution=side, num_classes=5)
    assert cost.macs == flop_count_macs(model, x)
    assert cost.params == n_params(model)
    assert model.features(x).shape[1:] == (genome.out_channels(), *cost.feature_size)


@pytest.mark.parametrize("seed", range(8))
def test_receptive_field_of_inception_modules_matches_the_input_gradient(seed: int) -> None:
    rng = random.Random(seed)
    genome = nas.Genome(blocks=(nas.Conv(out=8, act="tanh"), random_inception(rng, "tanh", ("avg",)),
                                random_inception(rng, "tanh", ("avg",))))
    rf = nas.count(genome, resolution=64).receptive_field
    assert gradient_extent(genome) == (rf, rf)


def test_the_grammar_reads_as_documented() -> None:
    text = "conv_c8_relu inc_b320_b384.384k1x3+384k3x1_b448.384k3.384k1x3+384k3x1_bavg3.192_relu head"
    block = nas.Genome.parse(text).blocks[1]
    step = nas.InceptionStep
    assert block.branches[1] == ((step(out=384),), (step(out=384, kernel=(1, 3)), step(out=384, kernel=(3, 1))))
    assert block.branches[3] == ((step(mode="avg", kernel=3),), (step(out=192),))
    assert block.out_channels(8) == 320 + 768 + 768 + 192
    # tokens written in full or with defaults give the same gene, written back canonically
    same = nas.Genome.parse("conv_c8 inc_b8k1x1s1_bmax3s1.8k3x3_relu head")
    assert str(same) == "conv_c8_relu inc_b8_bmax3.8k3_relu head"
    assert nas.Genome.parse("conv_c8 inc_b8s2v_bmax1s2v head").blocks[1].branches[0][0][0].valid is False
    # a pooling branch passes the input channels on
    assert nas.Genome.parse("conv_c8 inc_b16s2_bmax3s2.4+avg3_b4s2 head").blocks[1].out_channels(8) == 16 + 12 + 4
    # the blocks: branches in order, parts side by side in a Concat
    module = nas.build(text).features[1]
    assert [len(branch) for branch in module.branches] == [1, 2, 3, 2]
    assert isinstance(module.branches[1][1], nas.blocks.Concat)
    assert module.branches[1][1][0].conv.kernel_size == (1, 3) and module.branches[1][1][0].conv.padding == (0, 1)
    assert isinstance(module.branches[3][0], nn.AvgPool2d)


@pytest.mark.parametrize("text, fragment", [
    ("inc_b8_b8k3s2", "branches 0 and 1 give maps of different sizes"),
    ("inc_b8k3s2v_b8k3s2", "branches 0 and 1 give maps of different sizes"),
    ("inc_b8k3+8k3s2", "its parts give maps of different sizes"),
    ("inc_bmax3_bavg3", "at least one part must be a convolution"),
    ("inc_bmax3x3", "bad part 'max3x3'"),
    ("inc_b8.", "bad part ''"),
    ("inc_b", "unknown token for an inc block"),
    ("inc_relu", "needs at least one branch"),
    ("inc_b8k99", "kernel size 99 is over the limit of 64"),
    ("inc_b8_relu_silu", "given twice"),
])
def test_bad_inception_genes_name_the_token(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(")):
        nas.Genome.parse(f"conv_c8 {text} head")


def test_inception_steps_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="pooling keeps the channels"):
        nas.InceptionStep(mode="max", out=8, kernel=3)
    with pytest.raises(ValueError, match="pooling windows are square"):
        nas.InceptionStep(mode="avg", kernel=(1, 3))
    with pytest.raises(ValueError, match="InceptionStep.mode='sum' is not one of conv, max, avg"):
        nas.InceptionStep(mode="sum", out=8)
    with pytest.raises(ValueError, match="over the limit of 64"):
        nas.Inception(branches=(((nas.InceptionStep(out=8),),),) * 65)


def test_googlenet_is_torchvisions_and_its_metadata_leaves_the_aux_classifiers_out() -> None:
    genome, builder, kwargs = SPACE.torchvision_members()["googlenet"]
    f = torchvision_fidelity(genome, builder, **kwargs)
    assert f.exact and f.max_logit_diff <= 1e-5
    assert f.params == f.meta_params == 6_624_904 and f.aux_params == 6_379_984
    assert f.macs == 1_498_376_192 and f.resolution == 224
    # the third branch is 3×3 in torchvision (its known quirk); the paper's 5×5 is the other choice
    assert {b.branches[2][1][0].kernel for b in genome.blocks if isinstance(b, nas.Inception)} == {(3, 3)}
    paper = googlenet(b3_kernel=5)
    assert SPACE.to_params(paper)["g_b3_kernel"] == 5
    assert nas.count(paper).params - nas.count(genome).params == 16 * sum(
        b.branches[2][0][0].out * b.branches[2][1][0].out for b in genome.blocks if isinstance(b, nas.Inception))


def test_inception_v3_is_torchvisions_and_its_metadata_counts_the_aux_classifier() -> None:
    genome, builder, kwargs = SPACE.torchvision_members()["inception_v3"]
    f = torchvision_fidelity(genome, builder, **kwargs)
    assert f.exact and f.max_logit_diff <= 1e-5
    assert f.resolution == 299 and f.macs == 5_713_216_096
    assert f.params == 23_834_568 and f.meta_params == f.params + f.aux_params == 27_161_264
    assert nas.min_resolution(genome) == 75  # torchvision's meta["min_size"]


def test_references_and_their_parameters() -> None:
    g, v3 = SPACE.to_params(SPACE.references["googlenet"]), SPACE.to_params(SPACE.references["inception_v3"])
    assert (g["template"], g["act"], g["g_b3_kernel"]) == ("googlenet", "relu", 3)
    assert [g[f"g_s{i}_depth"] for i in (3, 4, 5)] == [2, 5, 2]
    assert [g[f"g_s4_m5_{key}"] for key in ("b1", "b2r", "b2", "b3r", "b3", "pool")] == [256, 160, 320, 32, 128, 128]
    assert (v3["template"], v3["v3_a_depth"], v3["v3_c_depth"], v3["v3_e_depth"]) == ("inception_v3", 3, 4, 2)
    assert [v3[f"v3_a{j}_pool"] for j in (1, 2, 3)] == [32, 64, 64]
    assert [v3[f"v3_c{j}_width"] for j in (1, 2, 3, 4)] == [128, 160, 160, 192]
    assert str(SPACE.references["googlenet"]).startswith(
        "net_bn_eps0.001 conv_k7_s2_c64_relu pool_max_k3_s2_ceil conv_k1_c64_relu conv_c192_relu pool_max_k3_s2_ceil "
        "inc_b64_b96.128k3_b16.32k3_bmax3.32_relu inc_b128_b128.192k3_b32.96k3_bmax3.64_relu pool_max_k3_s2_ceil")
    assert inception_v3(e_depth=1).blocks[-1] == SPACE.references["inception_v3"].blocks[-1]


def test_silu_reaches_every_convolution() -> None:
    params = SPACE.to_params(SPACE.references["inception_v3"])
    params["act"] = "silu"
    model = nas.build(SPACE.sample(optuna.trial.FixedTrial(params)))
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    convs = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    assert sum(isinstance(m, nn.SiLU) for m in model.modules()) == convs


def tiny() -> InceptionSpace:
    # GoogLeNet: stage 3 may be empty, stage 5 has one or two modules; two values for one of the six widths
    widths = {"b1": (8, 16), "b2r": (8,), "b2": (8,), "b3r": (4,), "b3": (4,), "pool": (4,)}
    return InceptionSpace("tiny", activations=("relu", "relu"), g_depths=((0, 1), (1,), (1, 2)), g_widths=widths,
                          g_b3_kernels=(3, 5),
                          v3_a_depths=(1, 2), v3_a_pools=(32, 64), v3_c_depths=(1,), v3_c_widths=(128, 128),
                          v3_e_depths=(1, 2), references={})


def test_size_counts_distinct_genomes_exactly() -> None:
    space = tiny()
    dims = space.dimensions()
    combos = list(itertools.product(*dims.values()))
    genomes = {space.genome_from_params(dict(zip(dims, values))) for values in combos}
    per_module = 2
    googlenet_networks = 2 * (1 + per_module) * per_module * (per_module + per_module ** 2)
    v3_networks = (2 + 4) * 1 * 2
    assert len(genomes) == space.size() == googlenet_networks + v3_networks
    assert space.size() < len(combos)


def test_size_collapses_the_kernel_of_a_network_without_modules() -> None:
    space = InceptionSpace("empty", templates=("googlenet",), activations=("relu",), g_depths=((0,), (0,), (0, 1)),
                           g_widths={key: (8,) for key in ("b1", "b2r", "b2", "b3r", "b3", "pool")}, references={})
    dims = space.dimensions()
    genomes = {space.genome_from_params(dict(zip(dims, values))) for values in itertools.product(*dims.values())}
    assert len(genomes) == space.size() == 1 + 2


def test_default_space_size_is_fast_and_exact() -> None:
    dims = SPACE.dimensions()
    per_module = 1
    for key in ("b1", "b2r", "b2", "b3r", "b3", "pool"):
        per_module *= len(dims[f"g_s3_m1_{key}"])
    assert per_module == 7 * 6 * 8 * 4 * 5 * 3
    google = 2 * sum(per_module ** d for d in (1, 2, 3)) ** 2 * sum(per_module ** d for d in (2, 3, 4, 5, 6))
    v3 = sum(2 ** d for d in (1, 2, 3)) * sum(3 ** d for d in (1, 2, 3, 4)) * 2
    assert SPACE.size() == 2 * (google + v3)


def test_to_params_names_the_gene_outside_the_space() -> None:
    ref = SPACE.references["googlenet"]
    blocks = list(ref.blocks)
    blocks[5] = dataclasses.replace(blocks[5], act="silu")
    with pytest.raises(ValueError, match="block 5: act='silu' differs from the network's activation 'relu'"):
        SPACE.to_params(dataclasses.replace(ref, blocks=tuple(blocks)))
    text = str(ref).replace("inc_b64_b96.128k3", "inc_b72_b96.128k3")
    with pytest.raises(ValueError, match=r"block 5: g_s3_m1_b1=72 is not one of \(64, 112"):
        SPACE.to_params(text)
    with pytest.raises(ValueError, match="block 5: not a GoogLeNet module"):
        SPACE.to_params(str(ref).replace("inc_b64_b96.128k3_b16.32k3_bmax3.32_relu", "inc_b64_b96.128k3_relu"))
    seven = ref.blocks[:13] + ref.blocks[8:10] + ref.blocks[13:]
    with pytest.raises(ValueError, match="stage 4 has more than 6 modules"):
        SPACE.to_params(dataclasses.replace(ref, blocks=seven))
    v3 = SPACE.references["inception_v3"]
    with pytest.raises(ValueError, match="v3_c_depth=0 is not one of"):
        SPACE.to_params(str(v3).replace("b128.128k1x7", "b144.144k1x7").replace("b160.160k1x7", "b144.144k1x7")
                        .replace("b192.192k1x7.192k7x1_b192", "b144.144k1x7.192k7x1_b144"))
    with pytest.raises(ValueError, match="templates"):
        InceptionSpace("bad", templates=("vgg",), references={})
