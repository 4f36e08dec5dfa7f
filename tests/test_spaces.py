"""Every registered space, driven by the registry: sampled genomes build, run, round-trip and count
exactly; the references are points of their space; the registry refuses bad names."""

from __future__ import annotations

import itertools

import optuna
import pytest
import torch

import nas
from search_spaces.mobile import MobileSpace, Stage, efficientnet, mobilenet_v1
from tests.conftest import flop_count_macs, n_params

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACES = nas.list_spaces()


def sampled(space: nas.Space, n: int, seed: int = 0) -> list[tuple[optuna.trial.Trial, nas.Genome]]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append((trial, space.sample(trial)))
    return out


@pytest.mark.parametrize("name", SPACES)
def test_sampled_genomes_build_run_round_trip_and_count_exactly(name: str) -> None:
    space = nas.get_space(name)
    for trial, genome in sampled(space, 6):
        # CIFAR-sized inputs, or the smallest the network takes (AlexNet-style stems need more)
        resolution = max(32, nas.min_resolution(genome))
        assert list(trial.params) == list(space.dimensions()), "sample must suggest every dimension, in order"
        assert nas.Genome.parse(str(genome)) == genome
        assert nas.Genome.from_json(genome.to_json()) == genome
        assert space.sample(optuna.trial.FixedTrial(space.to_params(genome))) == genome
        model = nas.build(genome, num_classes=10).eval()
        x = torch.randn(1, 3, resolution, resolution)
        cost = nas.count(genome, resolution=resolution, num_classes=10)
        assert cost.macs == flop_count_macs(model, x)
        assert cost.params == n_params(model)
        model.train()
        out = model(torch.randn(2, 3, resolution, resolution))
        assert out.shape == (2, 10) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", SPACES)
def test_references_are_points_of_their_space(name: str) -> None:
    space = nas.get_space(name)
    assert space.references, f"space {name!r} has no references"
    for ref_name, genome in space.references.items():
        params = space.to_params(genome)
        assert set(params) == set(space.dimensions())
        assert space.sample(optuna.trial.FixedTrial(params)) == genome, ref_name


@pytest.mark.parametrize("name", SPACES)
def test_space_declares_what_a_search_needs(name: str) -> None:
    space = nas.get_space(name)
    assert space.name == name
    assert space.target_resolution >= 32
    assert space.size() > len(space.references)
    for param, choices in space.dimensions().items():
        assert choices, param
        assert all(isinstance(c, (int, float, str, bool)) for c in choices), param


def test_to_params_names_the_gene_outside_the_space() -> None:
    space = nas.get_space("mobile")
    with pytest.raises(ValueError, match="fits no stage"):
        space.to_params(efficientnet("efficientnet_b1"))  # five blocks in stage 6: deeper than the space
    v2 = space.references["mobilenet_v2"]
    bad = nas.Genome(blocks=(v2.blocks[0], nas.InvertedResidual(out=16, expanded=32, kernel=9)) + v2.blocks[2:],
                     head=v2.head)
    with pytest.raises(ValueError, match=r"block 1: s1_b1_kernel=9 is not one of \(3, 5, 7\)"):
        space.to_params(bad)
    with pytest.raises(ValueError, match="dropout=0.5"):
        space.to_params(nas.Genome(blocks=v2.blocks, head=nas.Head(width=1280, act="relu6", dropout=0.5)))


@pytest.mark.parametrize("alpha, mult_adds, params", [(1.0, 569, 4.2), (0.75, 325, 2.6), (0.5, 149, 1.3),
                                                       (0.25, 41, 0.5)])
def test_mobilenet_v1_has_the_papers_numbers(alpha: float, mult_adds: int, params: float) -> None:
    # Howard et al. 2017, Table 6: millions of mult-adds and of parameters at 224×224, 1000 classes
    cost = nas.count(mobilenet_v1(alpha), resolution=224, num_classes=1000)
    assert round(cost.macs / 1e6) == mult_adds and round(cost.params / 1e6, 1) == params
    assert nas.build(mobilenet_v1(alpha)).features[1].depthwise.conv.groups == int(32 * alpha)


_TINY = dict(stem_widths=(8, 16), stages=(Stage(1, (8,), (0, 1)), Stage(2, (16, 24), (1, 2))), kernels=(3,),
             block_types=("ir", "fir", "ds", "res"),
             dilations=(1,), groups=(1,), expansions=(3,), activations=("relu",), head_widths=(32,), head_hidden=(0,),
             norms=("bn",), drop_paths=(0.0, 0.2), references={})


@pytest.mark.parametrize("choices", [
    # every block type; stochastic depth only matters once a second block with a residual branch
    # follows a first (depthwise-separable blocks have none; the stem-wide stride-1 stage gives one);
    # the SE style only when a block has SE
    {},
    # expansion ratios 2.5 and 3 round to the same channels from 8 inputs; groups of the 1×1 convs
    {"block_types": ("ir", "fir"), "groups": (1, 2), "expansions": (2, 2.5, 3), "stages": (Stage(2, (16,), (1, 2)),)},
    {"block_types": ("ds", "res"), "dilations": (1, 2), "activations": ("relu", "silu"),
     "stages": (Stage(1, (8, 16), (1, 2)),)},
    # a head without its 1×1 convolution and hidden layer has no activation; every norm kind
    {"block_types": ("ds",), "head_widths": (0, 32), "head_hidden": (0, 16), "activations": ("relu", "relu6", "silu"),
     "norms": ("bn", "gn8", "ln", "in", "none"), "stages": (Stage(2, (16,), (1,)),)},
], ids=["types-depth-se", "expansion-groups", "res-ds-dilation", "head-norms"])
def test_size_counts_distinct_genomes_exactly(choices: dict) -> None:
    # tiny versions of the space, small enough to enumerate every parameter combination: unused genes
    # (of other block types, of empty stages) and genes that cannot change the network collapse
    tiny = MobileSpace("tiny", **{**_TINY, **choices})
    dims = tiny.dimensions()
    genomes = {tiny.genome_from_params(dict(zip(dims, values))) for values in itertools.product(*dims.values())}
    assert len(genomes) == tiny.size()
    assert tiny.size() < len(list(itertools.product(*dims.values())))


def test_mobile_space_size_is_exact_and_reported() -> None:
    size = nas.get_space("mobile").size()
    assert isinstance(size, int) and 10**59 < size < 10**61
    assert 10**86 < nas.get_space("mobile_full").size() < 10**88


def test_mobile_is_the_mbconv_part_of_mobile_full() -> None:
    # the default space keeps MBConv blocks only (it searches better at the default budget: README,
    # Benchmarks); its parameters are a subset of mobile_full's, and the fixed genes are not parameters
    mobile, full = nas.get_space("mobile"), nas.get_space("mobile_full")
    assert set(mobile.dimensions()) < set(full.dimensions())
    assert not any(name.endswith(("_type", "_dilation", "_groups")) for name in mobile.dimensions())
    assert set(full.references) - set(mobile.references) == {"mobilenet_v1"}
    for genome in mobile.references.values():
        assert full.sample(optuna.trial.FixedTrial(full.to_params(genome))) == genome
    with pytest.raises(ValueError, match=r"block 4: type='ds' \(this space fixes it at 'ir'\)"):
        mobile.to_params(full.genome_from_params({**full.to_params(mobile.references["mobilenet_v2"]),
                                                  "s3_b1_type": "ds"}))


@pytest.mark.parametrize("gene, values", [("type", ("ir", "fir", "ds", "res")), ("dilation", (1, 2)),
                                          ("groups", (1, 2, 4))])
def test_mobile_searches_every_choice_of_the_design_card(gene: str, values: tuple) -> None:
    # block type, dilation and groups per block, the normalisation network-wide: each value makes the
    # network it names, priced exactly
    space = nas.get_space("mobile_full")
    assert space.dimensions()[f"s3_b1_{gene}"] == values
    assert set(space.dimensions()["norm"]) >= {"bn", "gn8", "ln", "none"}
    params = space.to_params(space.references["mobilenet_v2"])
    kinds = {"ir": nas.InvertedResidual, "fir": nas.FusedInvertedResidual, "ds": nas.DepthwiseSeparable,
             "res": nas.Residual}
    for value, norm in zip(values, ("gn8", "ln", "none", "bn")):
        genome = space.genome_from_params({**params, f"s3_b1_{gene}": value, "norm": norm})
        block = genome.blocks[4]  # stem, stage 1 (1 block), stage 2 (2 blocks), then stage 3's first
        assert type(block) is kinds[value] if gene == "type" else getattr(block, gene) == value
        assert space.to_params(genome)[f"s3_b1_{gene}"] == value
        model = nas.build(genome, num_classes=10).eval()
        x = torch.randn(1, 3, 32, 32)
        assert nas.count(genome, resolution=32, num_classes=10).macs == flop_count_macs(model, x)


def test_mobilenet_v1_is_a_reference_of_mobile_full() -> None:
    space = nas.get_space("mobile_full")
    assert space.references["mobilenet_v1"] == mobilenet_v1()
    params = space.to_params(mobilenet_v1())
    assert (params["s4_depth"], params["s4_width"], params["s4_b6_type"], params["head_width"]) == (6, 512, "ds", 0)


def test_registry_refuses_duplicates_and_lists_known_names() -> None:
    with pytest.raises(ValueError, match="a space named 'mobile' is already registered"):
        nas.register_space(MobileSpace())
    with pytest.raises(ValueError) as info:
        nas.get_space("mobilenet")
    assert "unknown space 'mobilenet'; known spaces: " in str(info.value)
    assert "mobile" in str(info.value).split("known spaces: ")[1]
    with pytest.raises(TypeError, match="expects a nas.Space instance"):
        nas.register_space("mobile")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stage 3 .stride 1. shares widths with stage 2"):
        MobileSpace("bad", stages=(Stage(2, (16,), (1,)), Stage(2, (24,), (1,)), Stage(1, (24, 32), (1,))))
