"""The regnet space: exact size, its inverse, torchvision's rule, and RegNet's bottleneck arrangement."""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import replace

import optuna
import pytest
import torchvision
from torchvision.models.regnet import BlockParams

import nas
from search_spaces.regnet import MODELS, REFERENCES, RegNetSpace, regnet, stages


def test_size_counts_distinct_genomes_exactly() -> None:
    # tiny enough to enumerate; it has every collision of the full space: wa and wm that quantize to the
    # same widths (wa 0 leaves one stage whatever wm), group widths at least as wide as every bottleneck
    # (one group), widths that make_divisible rounds to the same multiple of the group width
    tiny = RegNetSpace("tiny_regnet", depths=(1, 3, 4), w0s=(8, 16, 24, 32), was=(0.0, 6.0, 16.0),
                       wms=(1.5, 2.0, 2.5), group_widths=(8, 16, 48), bottleneck_multipliers=(1.0, 0.5),
                       se=(False, True), references={})
    dims = tiny.dimensions()
    combos = list(itertools.product(*dims.values()))
    genomes = {tiny.genome_from_params(dict(zip(dims, values))) for values in combos}
    assert len(genomes) == tiny.size() < len(combos)


def test_full_size_is_fast_and_counts_each_network_once() -> None:
    space = RegNetSpace("fresh_regnet")  # nothing cached
    start = time.perf_counter()
    size = space.size()
    assert time.perf_counter() - start < 3.0
    assert size % 2 == 0  # SE on or off always makes a different network
    combos = 1
    for choices in space.dimensions().values():
        combos *= len(choices)
    assert 10**7 < size < combos


def test_the_rule_is_torchvisions() -> None:
    # torchvision's BlockParams on random points of the space (widths, depths, group widths, bottlenecks)
    space = nas.get_space("regnet")
    rng = random.Random(0)
    for _ in range(300):
        d, w0, wa, wm, g, m = (rng.choice(space.depths), rng.choice(space.w0s), rng.choice(space.was),
                               rng.choice(space.wms), rng.choice(space.group_widths),
                               rng.choice(space.bottleneck_multipliers))
        theirs = BlockParams.from_init_params(depth=d, w_0=w0, w_a=wa, w_m=wm, group_width=g, bottleneck_multiplier=m)
        expected = [(w, n, round(w * b), round(w * b) // gw) for w, n, gw, b in
                    zip(theirs.widths, theirs.depths, theirs.group_widths, theirs.bottleneck_multipliers)]
        assert stages(d, w0, wa, wm, g, m) == expected, (d, w0, wa, wm, g, m)
    # wm = 2.25 = 1.5²: u / w0 = 1.5 gives s = 1/2 but for rounding; torch's float32 logarithm decides it
    assert stages(10, 16, 8.0, 2.25, 8) == [(16, 1, 16, 2), (32, 4, 32, 4), (80, 5, 80, 10)]
    with pytest.raises(ValueError, match="w_0=20.*multiple of 8"):
        regnet(16, 20, 27.89, 2.09, 8)


def test_all_fifteen_regnets_are_points_and_the_small_ones_references() -> None:
    space = nas.get_space("regnet")
    members = space.torchvision_members()
    assert set(members) == set(MODELS) == {n for n in torchvision.models.list_models() if n.startswith("regnet_")}
    assert set(space.references) == set(REFERENCES) and len(REFERENCES) == 8
    for name, (genome, builder, _) in members.items():
        assert builder == name
        params = space.to_params(genome)
        assert space.sample(optuna.trial.FixedTrial(params)) == genome, name
    # the published settings are choices themselves
    for settings in MODELS.values():
        assert settings["depth"] in space.depths and settings["w_0"] in space.w0s
        assert settings["w_a"] in space.was and settings["w_m"] in space.wms
        assert settings["group_width"] in space.group_widths


def test_regnety_squeeze_follows_the_blocks_input_and_acts_on_the_bottleneck() -> None:
    genome = regnet(**MODELS["regnet_y_400mf"])
    first, second, third = genome.blocks[1:4]
    # stage 1 (48 channels) gets the stem's 32; stage 2 (104) gets 48, then its own 104
    assert (first.out, first.se.channels) == (48, 8)
    assert (second.out, second.width, second.se.channels) == (104, 104, 12)
    assert (third.se.channels, third.stride) == (26, 1)
    model = nas.build(genome)
    se = model.features[2].se
    assert (se.fc1.in_channels, se.fc1.out_channels) == (104, 12)
    theirs = torchvision.models.regnet_y_400mf().trunk_output.block2[0].f.se
    assert se.fc1.weight.shape == theirs.fc1.weight.shape
    assert "se" not in str(regnet(**MODELS["regnet_x_400mf"]))  # RegNetX has none


def test_regnet_arrangement_registers_the_shortcut_first() -> None:
    regnet_block = nas.build("conv_c8 bot_s2_c16_w8_se4_regnet head").features[1]
    resnet_block = nas.build("conv_c8 bot_s2_c16_w8_se4 head").features[1]
    assert list(regnet_block._modules) == ["shortcut", "conv1", "conv2", "se", "conv3", "drop_path", "act"]
    assert list(resnet_block._modules) == ["conv1", "conv2", "conv3", "se", "shortcut", "drop_path", "act"]
    assert regnet_block.se.fc1.in_channels == 8 and resnet_block.se.fc1.in_channels == 16
    # the squeeze-and-excitation is priced where it acts: 2 × 8 × 4 against 2 × 16 × 4 weights
    assert nas.count("conv_c8 bot_s2_c16_w8_se4 head").params - nas.count(
        "conv_c8 bot_s2_c16_w8_se4_regnet head").params == 2 * (16 - 8) * 4 + (16 - 8)
    assert str(nas.Genome.parse("conv_c8 bot_regnet_c16_w8 head")) == "conv_c8_relu bot_w8_c16_regnet_relu head"


def test_to_params_names_what_the_space_cannot_make() -> None:
    space = nas.get_space("regnet")
    with pytest.raises(ValueError, match=r"blocks: depth=40 is not one of"):
        space.to_params(regnet(40, 24, 24.48, 2.54, 16))
    with pytest.raises(ValueError, match=r"block 1: group_width=12 is not one of"):
        space.to_params(regnet(16, 48, 27.89, 2.09, 12))
    with pytest.raises(ValueError, match=r"follow from no w0, wa, wm"):
        space.to_params(regnet(16, 504, 27.89, 2.09, 8))  # w0 504: a first stage no w0 of the space makes
    y400 = space.references["regnet_y_400mf"]
    resnet_style = [replace(b, regnet=False) if isinstance(b, nas.Bottleneck) else b for b in y400.blocks]
    with pytest.raises(ValueError, match=r"block 1: RegNet's blocks are 3×3 ReLU bottlenecks"):
        space.to_params(nas.Genome(blocks=tuple(resnet_style), head=y400.head))
    with pytest.raises(ValueError, match=r"head: this space's head is global pooling"):
        space.to_params(nas.Genome(blocks=y400.blocks, head=nas.Head(dropout=0.2)))
    odd_se = y400.blocks[:2] + (replace(y400.blocks[2], se=nas.SqueezeExcite(13)),)
    with pytest.raises(ValueError, match=r"squeeze-and-excitation differs from RegNetY's"):
        space.to_params(nas.Genome(blocks=odd_se + y400.blocks[3:], head=y400.head))
