"""The resnet space: exact size, its inverse, and the family's knobs."""

from __future__ import annotations

import itertools

import pytest

import nas
from search_spaces.resnet import ResNetSpace, ResNetStage, resnet


def test_size_counts_distinct_genomes_exactly() -> None:
    # tiny enough to enumerate; the cardinality of basic blocks is the collapse to account for
    tiny = ResNetSpace("tiny_resnet", cardinalities=("1x64d", "32x4d"), stem_widths=(32,), stem_kernels=(3, 7),
                       stages=(ResNetStage((1, 2), (32,)), ResNetStage((1,), (64, 96))), kernels=(3,), dilations=(1,),
                       norms=("bn",), activations=("relu", "silu"), references={})
    dims = tiny.dimensions()
    combos = list(itertools.product(*dims.values()))
    genomes = {tiny.genome_from_params(dict(zip(dims, values))) for values in combos}
    assert len(genomes) == tiny.size() < len(combos)


def test_resnext_and_wide_resnet_widths_follow_torchvision() -> None:
    # torchvision: width = int(planes * width_per_group / 64) * groups, stride on the 3×3 (V1.5)
    resnext = nas.get_space("resnet").references["resnext50_32x4d"]
    first = resnext.blocks[2]
    assert (first.width, first.groups, first.out, first.stride) == (128, 32, 256, 1)
    wide = resnet("bottleneck", (3, 4, 6, 3), cardinality="1x128d")
    assert wide.blocks[2].width == 128 and wide.blocks[2].groups == 1
    assert [b.stride for b in resnext.blocks[2:]].count(2) == 3


def test_squeeze_excitation_and_dilation_are_real_knobs() -> None:
    plain = resnet("basic", (1, 1, 1, 1))
    se = resnet("basic", (1, 1, 1, 1), se=(True, True, True, True))
    dilated = resnet("basic", (1, 1, 1, 1), dilations=(1, 1, 2, 2))
    assert nas.count(se).params > nas.count(plain).params  # SENet's two 1×1 convolutions per block
    assert se.blocks[2].se.channels == 64 // 16
    assert nas.count(dilated).receptive_field > nas.count(plain).receptive_field
    assert nas.count(dilated).params == nas.count(plain).params


def test_to_params_names_what_the_space_cannot_make() -> None:
    space = nas.get_space("resnet")
    with pytest.raises(ValueError, match=r"s3_depth=23 is not one of"):
        space.to_params(space.torchvision_members()["resnet101"][0])
    r18 = space.references["resnet18"]
    odd = nas.Genome(blocks=r18.blocks[:2] + (nas.Residual(out=64, kernel=3, act="silu"),) + r18.blocks[3:],
                     head=r18.head)
    with pytest.raises(ValueError, match="differs from its stage's first block"):
        space.to_params(odd)
    with pytest.raises(ValueError, match="head is global pooling and a linear classifier"):
        space.to_params(nas.Genome(blocks=r18.blocks, head=nas.Head(dropout=0.2)))
    with pytest.raises(ValueError, match="block must be 'basic' or 'bottleneck'|block='dense'"):
        resnet("dense", (1, 1, 1, 1))
