"""The ``classic`` space (LeNet-5, AlexNet, ZFNet): exact size, the inverse naming genes outside the space,
every point valid at the target resolution, LeNet-5 as users know it, and ZFNet as the paper draws it."""

from __future__ import annotations

import dataclasses
import itertools

import optuna
import pytest
import torch

import nas
from search_spaces.classic import ClassicSpace, alexnet, lenet5, zfnet
from tests.conftest import flop_count_macs, n_params

SPACE = nas.get_space("classic")

# the genes that decide the map sizes; widths, activation, norm and head do not
SPATIAL = ("pool_kernel", "pool_ceil", "conv1_kernel", "conv1_stride", "conv1_padding", "conv2_kernel",
           "conv2_stride", "conv2_padding", "s3_depth", "s3_b1_padding", "s3_b1_kernel", "s3_b2_kernel", "s3_b3_kernel",
           "s3_pool")


def spatial_variants(space: ClassicSpace) -> set[nas.Genome]:
    """One genome for every distinct combination of the spatial genes."""
    dims = space.dimensions()
    base = {name: choices[0] for name, choices in dims.items()}
    return {space.genome_from_params(dict(base, **dict(zip(SPATIAL, values))))
            for values in itertools.product(*(dims[name] for name in SPATIAL))}


def fits(genome: nas.Genome, resolution: int) -> bool:
    try:
        nas.count(genome, resolution=resolution)
    except ValueError as exc:
        assert "too small" in str(exc)
        return False
    return True


def test_size_counts_distinct_genomes_exactly() -> None:
    # every collapse the closed form accounts for occurs here: stage-3 slots beyond the depth and the
    # final pooling of an empty third stage are unused, a 1×1 kernel pads 0 both "same" and "none",
    # the dropout order means nothing without hidden layers or without dropout, and a stride-4 first
    # convolution leaves the second unstrided
    tiny = ClassicSpace(
        "tiny", norms=("none", "batch"), activations=("relu",), pool_modes=("max",), pool_kernels=(2,),
        pool_ceils=(False, True), conv1_kernels=(5,), conv1_strides=(1, 4), conv1_paddings=(0, 2), conv1_widths=(6,),
        conv2_kernels=(3, 5), conv2_strides=(1, 2), conv2_widths=(16,), s3_depths=(0, 1, 2), s3_kernels=(1, 3),
        s3_widths=(8,), head_pools=(1,), head_hidden=((), (84,)), head_dropouts=(0.0, 0.5), references={},
    )
    dims = tiny.dimensions()
    combos = list(itertools.product(*dims.values()))
    genomes = {tiny.genome_from_params(dict(zip(dims, values))) for values in combos}
    assert len(genomes) == tiny.size()
    assert tiny.size() < len(combos)
    for genome in itertools.islice(genomes, 0, None, 97):  # and the inverse finds each of them
        assert tiny.genome_from_params(tiny.to_params(genome)) == genome


def test_default_size_is_the_product_of_its_parts() -> None:
    network = 2 * 2 * 2 * 2 * 2  # norm, activation, pooling mode, pooling window, pooling rounding
    conv1 = 3 * 3 * 5  # kernel, padding, width
    strides = 2 + 2 + 1  # of the first two convolutions: 1 × (1 or 2), 2 × (1 or 2), 4 × 1
    conv2 = 2 * 2 * 5  # kernel, padding, width
    stage3 = 1 + (2 * 2 * 6) * 2 + (2 * 2 * 6) * (2 * 6) * 2 + (2 * 2 * 6) * (2 * 6) ** 2 * 2  # depth 0..3
    head = 2 * (2 + 3 * (1 + 2))  # pooled size; no hidden: 2 dropouts; hidden: no dropout, or 2 orders
    assert SPACE.size() == network * conv1 * strides * conv2 * stage3 * head == 23_877_216_000


def test_every_point_fits_the_target_resolution() -> None:
    variants = spatial_variants(SPACE)
    assert len(variants) == 41_040
    assert SPACE.target_resolution == 224
    assert all(fits(g, 224) for g in variants)
    # the worst point needs 163×163: stride-4 unpadded 11×11, 3×3 pooling rounded down, unpadded 5×5 convolutions
    assert all(fits(g, 163) for g in variants) and not all(fits(g, 162) for g in variants)
    # a third-stage slot after the first could not be unpadded: three 5×5 would make the map vanish
    worst = nas.Genome.parse("conv_k11_s4_p0_c64 pool_max_k3_s2 conv_k5_p0_c192 pool_max_k3_s2 "
                             "conv_k5_p0_c384 conv_k5_p0_c256 conv_k5_p0_c256 head")
    assert not fits(worst, 224)
    with pytest.raises(ValueError, match=r"block 5: padding 0: only the first convolution of the third stage"):
        SPACE.to_params(worst)
    # nor could the second convolution stride by 2 after a stride-4 first one: 224 -> 54 -> 26 -> 11 -> 5 -> 1
    # after an unpadded 5×5, and the last 3×3 pooling would get a 1×1 map
    too_strided = nas.Genome.parse("conv_k11_s4_p0_c64 pool_max_k3_s2 conv_k5_s2_p0_c192 pool_max_k3_s2 "
                                   "conv_k5_p0_c384 pool_max_k3_s2 head")
    assert not fits(too_strided, 224)
    with pytest.raises(ValueError, match=r"block 2: stride=2: the first two convolutions stride at most 4 together"):
        SPACE.to_params(too_strided)


def test_alexnet_is_not_valid_at_32() -> None:
    # why the space cannot promise 32×32: AlexNet itself needs 63×63 (torchvision's meta "min_size")
    assert nas.min_resolution(alexnet()) == 63
    assert fits(alexnet(), 63) and not fits(alexnet(), 62)


def test_references_are_the_documented_genomes() -> None:
    assert str(SPACE.references["alexnet"]) == (
        "net_nonorm conv_k11_s4_p2_c64_relu pool_max_k3_s2 conv_k5_c192_relu pool_max_k3_s2 conv_c384_relu "
        "conv_c256_relu*2 pool_max_k3_s2 head_p6_h4096_h4096_dfirst_d0.5")
    assert str(SPACE.references["zfnet"]) == (
        "net_nonorm conv_k7_s2_p1_c96_relu pool_max_k3_s2_ceil conv_k5_s2_p0_c256_relu pool_max_k3_s2_ceil "
        "conv_c384_relu*2 conv_c256_relu pool_max_k3_s2_ceil head_p6_h4096_h4096_dfirst_d0.5")
    assert str(SPACE.references["zfnet_512_1024_512"]) == str(SPACE.references["zfnet"]).replace(
        "conv_c384_relu*2 conv_c256_relu", "conv_c512_relu conv_c1024_relu conv_c512_relu")
    assert str(SPACE.references["lenet5"]) == (
        "net_nonorm conv_k5_p0_c6_tanh pool_avg conv_k5_p0_c16_tanh pool_avg conv_k5_p0_c120_tanh head_h84.tanh")
    a, le = SPACE.to_params(alexnet()), SPACE.to_params(lenet5())
    assert (a["s3_depth"], a["s3_pool"], a["head_hidden"], a["head_dropout_first"]) == (3, True, "4096-4096", True)
    assert (le["s3_depth"], le["s3_b1_padding"], le["s3_pool"], le["act"]) == (1, "none", False, "tanh")
    z = SPACE.to_params(zfnet())
    assert (z["conv1_stride"], z["conv1_padding"], z["conv2_stride"], z["conv2_padding"], z["pool_ceil"]) == (
        2, 1, 2, "none", True)
    assert "lenet5" not in SPACE.torchvision_members()  # torchvision has no LeNet, nor ZFNet
    assert set(SPACE.torchvision_members()) == {"alexnet"}


def test_lenet5_is_lenet5_on_greyscale_digits() -> None:
    genome = lenet5()
    model = nas.build(genome, num_classes=10, in_channels=1).eval()
    x = torch.randn(2, 1, 32, 32)
    assert model(x).shape == (2, 10)
    assert n_params(model) == 61_706  # LeNet-5 with full C1-C3 connectivity and a linear output
    cost = nas.count(genome, resolution=32, in_channels=1, num_classes=10)
    assert cost.params == 61_706 and cost.feature_size == (1, 1)  # C5 sees the whole 5×5 map
    assert cost.macs == flop_count_macs(model, x[:1]) == 416_520
    kinds = [type(m) for m in model.modules() if isinstance(m, (torch.nn.Tanh, torch.nn.ReLU, torch.nn.AvgPool2d,
                                                                torch.nn.MaxPool2d, torch.nn.BatchNorm2d))]
    assert kinds == [torch.nn.Tanh, torch.nn.AvgPool2d, torch.nn.Tanh, torch.nn.AvgPool2d, torch.nn.Tanh,
                     torch.nn.Tanh]  # three convolutions and the hidden layer; no normalisation


@pytest.mark.parametrize("widths, params, macs", [((384, 384, 256), 62_357_608, 1_168_032_896),
                                                  ((512, 1024, 512), 107_627_624, 2_476_704_896)])
def test_zfnet_is_figure_3(widths: tuple[int, int, int], params: int, macs: int) -> None:
    genome = zfnet(widths)
    cost = nas.count(genome, resolution=224, num_classes=1000)
    assert (cost.params, cost.macs) == (params, macs)
    conv_weights = (7 * 7 * 3 * 96 + 5 * 5 * 96 * 256 + 3 * 3 * 256 * widths[0] + 3 * 3 * widths[0] * widths[1]
                    + 3 * 3 * widths[1] * widths[2])
    head_weights = 6 * 6 * widths[2] * 4096 + 4096 * 4096 + 4096 * 1000
    assert params == conv_weights + head_weights + 96 + 256 + sum(widths) + 4096 + 4096 + 1000  # and the biases
    if widths == (384, 384, 256):  # the 107M-parameter model's shapes are the same but for the widths
        model = nas.build(genome).eval()
        x = torch.randn(1, 3, 224, 224)
        shapes = []
        for layer in model.features:
            x = layer(x)
            shapes.append(tuple(x.shape[1:]))
        # Figure 3: 110×110×96 after conv1, 55 after pooling, 26×26×256 after conv2, 13 after pooling,
        # 13×13 through conv3-5, 6×6×256 after the last pooling
        assert shapes == [(96, 110, 110), (96, 55, 55), (256, 26, 26), (256, 13, 13), (384, 13, 13),
                          (384, 13, 13), (256, 13, 13), (256, 6, 6)]
        assert (n_params(model), flop_count_macs(model, x.new_zeros(1, 3, 224, 224))) == (params, macs)
        # pooling rounded down (torch's default) would give 54, 25, 12 and 5, not the paper's 55, 26, 13 and 6
        floor = tuple(dataclasses.replace(b, ceil=False) if isinstance(b, nas.Pool) else b for b in genome.blocks)
        assert nas.count(dataclasses.replace(genome, blocks=floor)).feature_size == (5, 5)
    assert SPACE.sample(optuna.trial.FixedTrial(SPACE.to_params(genome))) == genome


def test_collapsed_genes_round_trip() -> None:
    # an empty third stage, no hidden layer: the slots, final pooling and dropout order are unused
    genome = nas.Genome.parse("conv_k7_s2_p2_c32_tanh pool_avg_k3_s2 conv_k5_p0_c64_tanh pool_avg_k3_s2 head_p6_d0.5")
    params = SPACE.to_params(genome)
    assert params["s3_depth"] == 0 and params["head_dropout"] == 0.5
    for changed in ({"s3_pool": True, "s3_b1_kernel": 5}, {"head_dropout_first": True}):
        assert SPACE.sample(optuna.trial.FixedTrial({**params, **changed})) == genome
    # after a stride-4 first convolution the second does not stride, whatever its gene
    params = SPACE.to_params(alexnet())
    assert params["conv2_stride"] == 1
    assert SPACE.sample(optuna.trial.FixedTrial({**params, "conv2_stride": 2})) == alexnet()


@pytest.mark.parametrize("genome, message", [
    (dataclasses.replace(alexnet(), norm=nas.Norm(eps=1e-3)), r"net: norm=Norm\(kind='batch', eps=0.001"),
    (nas.Genome(blocks=(nas.Conv(out=64, kernel=9, stride=4),) + alexnet().blocks[1:], head=alexnet().head,
                norm=nas.Norm(kind="none")), r"block 0: conv1_kernel=9 is not one of \(5, 7, 11\)"),
    (nas.Genome.parse("net_nonorm conv_k11_s4_p2_c64 pool_max_k3_s2 conv_k7_c192 pool_max_k3_s2 head"),
     r"block 2: conv2_kernel=7 is not one of \(3, 5\)"),
    (nas.Genome.parse("conv_k5_p0_c6 pool_avg conv_k5_p1_c16 pool_avg head"),
     r"block 2: conv2_padding: padding 1 with a 5×5 kernel is none of 'same' = 2, 'none' = 0"),
    (nas.Genome.parse("conv_k5_p0_c6 pool_avg conv_k5_p0_c16 pool_max head"),
     r"block 3: pooling is network-wide"),
    (nas.Genome.parse("conv_k5_p0_c6 pool_avg conv_k5_c16 pool_avg conv_s2_c120 head"),
     r"block 4: stride=2: only the first two convolutions stride"),
    (nas.Genome.parse("conv_k5_s4_c6 pool_avg conv_k5_s2_c16 pool_avg head"),
     r"block 2: stride=2: the first two convolutions stride at most 4 together, and the first strides 4"),
    (nas.Genome.parse("conv_k5_p0_c6 pool_avg_ceil conv_k5_c16 pool_avg head"), r"block 3: pooling is network-wide"),
    (nas.Genome.parse("conv_k5_p0_c6 pool_avg conv_k5_c16_tanh pool_avg head"),
     r"block 2: activation 'tanh' differs from the network-wide 'relu'"),
    (nas.Genome.parse("conv_k5_c6 pool_avg conv_c16 pool_avg conv_c120*4 head"),
     r"block 7: the third stage holds at most 3 convolutions"),
    (nas.Genome.parse("conv_k5_c6 pool_avg conv_c16 pool_avg conv_c100 head"),
     r"block 4: s3_b1_width=100 is not one of \(120, 192, 256, 384, 512, 1024\)"),
    (nas.Genome.parse("conv_k5_c6 pool_avg conv_c16 pool_avg pool_avg head"),
     r"block 4: pooling right after pooling"),
    (nas.Genome.parse("conv_k5_c6 pool_avg conv_c16 pool_avg conv_c120 pool_avg conv_c120 head"),
     r"block 6: .* fits no slot of the template"),
    (nas.Genome.parse("conv_k5_c6 pool_avg conv_c16 ir_c16_x32 head"), r"block 3: the template needs pooling"),
    (nas.Genome.parse("conv_k5_c6 pool_avg conv_c16 head"), r"block 3: the template needs pooling here, but"),
    (nas.Genome.parse("conv_k5_c6 pool_avg conv_c16 pool_avg head_h84_d0.2"),
     r"head: head_dropout=0.2 is not one of \(0.0, 0.5\)"),
    (nas.Genome.parse("conv_k5_c6 pool_avg conv_c16 pool_avg head_h84.tanh"),
     r"head: hidden activation 'tanh' differs from the network-wide 'relu'"),
    (nas.Genome.parse("conv_k5_c6 pool_avg conv_c16 pool_avg head_h512"),
     r"head: head_hidden='512' is not one of \('none', '84', '1024-1024', '4096-4096'\)"),
    (nas.Genome.parse("conv_k5_c6 pool_avg conv_c16 pool_avg head_c1280"), r"head: this space's head has no 1×1"),
    (nas.get_space("mobile").references["mobilenet_v2"], r"block 0: act='relu6' is not one of \('relu', 'tanh'\)"),
])
def test_to_params_names_the_gene_outside_the_space(genome: nas.Genome, message: str) -> None:
    with pytest.raises(ValueError, match=r"genome is not a point of the 'classic' space: " + message):
        SPACE.to_params(genome)


def test_bad_choice_sets_are_refused() -> None:
    with pytest.raises(ValueError, match=r"conv1_widths=\(6, 6\) repeats a choice"):
        ClassicSpace("bad", conv1_widths=(6, 6))
    with pytest.raises(ValueError, match=r"norms=\('layer',\): 'layer' is not one of \('none', 'batch'\)"):
        ClassicSpace("bad", norms=("layer",))
    with pytest.raises(ValueError, match=r"conv2_paddings=\('valid',\): 'valid' is not one of"):
        ClassicSpace("bad", conv2_paddings=("valid",))
    with pytest.raises(ValueError, match=r"s3_widths=\(\) is empty"):
        ClassicSpace("bad", s3_widths=())
