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


def test_size_counts_distinct_genomes_exactly() -> None:
    # a tiny version of the space, small enough to enumerate every parameter combination; expansion
    # ratios 2.5 and 3 round to the same channels from 8 inputs, empty stages leave genes unused,
    # the SE style only matters when a block has SE, and stochastic depth only when a stage has two
    # blocks or more: all of these collapse
    tiny = MobileSpace(
        "tiny", stem_widths=(8, 16),
        stages=(Stage(1, (8,), (0, 1)), Stage(2, (16, 24), (1, 2)), Stage(1, (32,), (0, 1))),
        kernels=(3,), expansions=(2, 2.5, 3), activations=("relu",), head_widths=(32,), head_hidden=(0,),
        norms=("bn",), drop_paths=(0.0, 0.2), references={},
    )
    dims = tiny.dimensions()
    genomes = {tiny.genome_from_params(dict(zip(dims, values))) for values in itertools.product(*dims.values())}
    assert len(genomes) == tiny.size()
    assert tiny.size() < len(list(itertools.product(*dims.values())))


def test_mobile_space_size_is_exact_and_reported() -> None:
    size = nas.get_space("mobile").size()
    assert isinstance(size, int) and 10**59 < size < 10**61


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
