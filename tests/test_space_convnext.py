"""The convnext space: exact size, its inverse, the family's recipe and the genes ConvNeXt needs."""

from __future__ import annotations

import dataclasses
import itertools
import time

import pytest
import torch

import nas
from nas.fidelity import torchvision_fidelity
from search_spaces.convnext import CONVNEXT, ConvNeXtSpace, ConvNeXtStage, convnext
from tests.conftest import flop_count_macs, n_params


def _enumerated(space: ConvNeXtSpace) -> tuple[int, int]:
    dims = space.dimensions()
    combos = list(itertools.product(*dims.values()))
    return len({space.genome_from_params(dict(zip(dims, values))) for values in combos}), len(combos)


def test_size_counts_distinct_genomes_exactly() -> None:
    # tiny enough to enumerate; expansion ratios 1 and 1.2 round to the same channels at width 2
    # (2 and 2) but not at width 8 (8 and 10)
    tiny = ConvNeXtSpace("tiny_convnext", stages=(ConvNeXtStage((1, 2), (2, 8)), ConvNeXtStage((1,), (8, 16))),
                         kernels=(3, 7), expansions=(1, 1.2, 4), drop_paths=(0.0, 0.3), activations=("gelu", "relu"),
                         references={})
    distinct, combos = _enumerated(tiny)
    assert distinct == tiny.size() < combos


def test_size_of_a_single_block_network_ignores_stochastic_depth() -> None:
    # one stage of depth 1: a single residual block has no branch to drop, so every rate is rate 0
    single = ConvNeXtSpace("single", stages=(ConvNeXtStage((1, 2), (8,)),), kernels=(3,), expansions=(2,),
                           drop_paths=(0.0, 0.1, 0.2), activations=("gelu",), references={})
    distinct, combos = _enumerated(single)
    assert distinct == single.size() == 1 + 3 < combos


def test_full_size_is_fast_and_counts_every_choice() -> None:
    space = nas.get_space("convnext")
    start = time.perf_counter()
    size = space.size()
    assert time.perf_counter() - start < 0.1
    per_stage = [len(s.depths) * len(s.widths) * len(space.kernels) * len(space.expansions) for s in space.stages]
    # no two ratios of (2, 3, 4) round alike and every network has four blocks or more: nothing collapses
    assert size == len(space.activations) * len(space.drop_paths) * per_stage[0] * per_stage[1] * per_stage[2] * \
        per_stage[3] == 59_719_680_000


def test_every_value_the_references_use_is_a_choice() -> None:
    space = nas.get_space("convnext")
    assert set(space.references) == set(CONVNEXT)
    for name, (depths, widths, drop_path) in CONVNEXT.items():
        params = space.to_params(space.references[name])
        assert params["drop_path"] == drop_path and params["act"] == "gelu"
        assert [params[f"s{i}_depth"] for i in range(1, 5)] == list(depths)
        assert [params[f"s{i}_width"] for i in range(1, 5)] == list(widths)
        assert {params[f"s{i}_kernel"] for i in range(1, 5)} == {7}
        assert {params[f"s{i}_expansion"] for i in range(1, 5)} == {4}
    assert space.target_resolution == 224


def test_convnext_tiny_in_the_grammar() -> None:
    tiny = nas.get_space("convnext").references["convnext_tiny"]
    assert str(tiny) == (
        "net_ln2d_eps1e-06_sd0.1_sdlast conv_k4_s4_p0_c96_bias_none cnx_k7_c96_x384_gelu*3 "
        "conv_k2_s2_c192_pre_bias_none cnx_k7_c192_x768_gelu*3 conv_k2_s2_c384_pre_bias_none "
        "cnx_k7_c384_x1536_gelu*9 conv_k2_s2_c768_pre_bias_none cnx_k7_c768_x3072_gelu*3 head_pnorm")
    assert nas.Genome.parse(str(tiny)) == tiny


@pytest.mark.parametrize("name, params, gmacs", [("convnext_tiny", 28, 4.5), ("convnext_small", 50, 8.7),
                                                  ("convnext_base", 89, 15.4), ("convnext_large", 198, 34.4)])
def test_the_papers_numbers(name: str, params: int, gmacs: float) -> None:
    # Liu et al. 2022, Table 1 (ImageNet-1K, 224×224): millions of parameters (ConvNeXt-T's 28.6M is
    # written 28M there, ConvNeXt-B's 88.6M 89M), GFLOPs (multiply-adds)
    cost = nas.count(nas.get_space("convnext").references[name], resolution=224)
    assert abs(cost.params / 1e6 - params) < 1
    assert round(cost.macs / 1e9, 1) == gmacs


def test_stochastic_depth_follows_convnext_not_efficientnet() -> None:
    # torchvision: block i of n gets stochastic_depth_prob * i / (n - 1); the last one gets the whole rate
    from torchvision.models import convnext_tiny

    genome = nas.get_space("convnext").references["convnext_tiny"]
    with torch.device("meta"):
        ours = [getattr(m.drop_path, "p", 0.0) for m in nas.build(genome).modules() if isinstance(m, nas.blocks.CNBlock)]
        theirs = [m.stochastic_depth.p for m in convnext_tiny().modules() if type(m).__name__ == "CNBlock"]
    assert ours == theirs and len(ours) == 18 and ours[-1] == 0.1
    efficientnet = nas.build(dataclasses.replace(genome, drop_path_to_last=False))
    rates = [getattr(m.drop_path, "p", 0.0) for m in efficientnet.modules() if isinstance(m, nas.blocks.CNBlock)]
    assert rates[-1] == pytest.approx(0.1 * 17 / 18)
    assert "sdlast" not in str(dataclasses.replace(genome, drop_path_to_last=False))


def test_a_convnext_block_priced_by_hand() -> None:
    # 8 channels at 4×4: depthwise 3×3 with bias, LayerNorm over channels, 8 -> 32 -> 8 linear, layer scale
    genome = nas.Genome.parse("net_ln2d_eps1e-06 conv_k1_c8_bias_none cnx_c8_x32_gelu head_pnorm")
    hw = 4 * 4
    block_macs = hw * 8 * 9 + 2 * hw * 8 * 32
    block_params = 8 * 9 + 8 + 2 * 8 + (8 * 32 + 32) + (32 * 8 + 8) + 8
    stem_macs, stem_params = hw * 8 * 3, 8 * 3 + 8 + 2 * 8
    head_params = 2 * 8 + 8 * 1 + 1
    cost = nas.count(genome, resolution=4, num_classes=1)
    assert (cost.macs, cost.params) == (stem_macs + block_macs + 8, stem_params + block_params + head_params)
    model = nas.build(genome, num_classes=1).eval()
    x = torch.randn(1, 3, 4, 4)
    assert (flop_count_macs(model, x), n_params(model)) == (cost.macs, cost.params)
    assert cost.receptive_field == 3
    # the block's parameters in torchvision's order: the layer scale first
    names = [name for name, _ in model.features[1].named_parameters()]
    assert names[0] == "layer_scale" and model.features[1].layer_scale.flatten().tolist() == pytest.approx([1e-6] * 8)


def test_pre_norm_convolution_and_pooled_norm() -> None:
    # ConvNeXt's downsampling: a pre-activated convolution without activation, with a bias
    model = nas.build("net_ln2d conv_c8 conv_k2_s2_c16_pre_bias_none head_pnorm", num_classes=3)
    down = model.features[1]
    assert list(down._modules) == ["norm", "act", "conv", "shuffle"]
    assert down.norm.normalized_shape == (8,) and down.conv.bias is not None
    assert isinstance(down.act, torch.nn.Identity)
    assert isinstance(model.classifier[1], nas.blocks.LayerNorm2d)
    # DenseNet's transition: the same gene without bias has none
    assert nas.build("net_ln2d conv_c8 conv_k2_s2_c16_pre_none head").features[1].conv.bias is None
    # the head's norm before pooling (DenseNet's) and after it (ConvNeXt's) are different genes
    both = nas.Genome.parse("net_ln2d conv_c8_relu head_norm_gelu_pnorm")
    assert both.head.norm_act and both.head.pooled_norm and str(both) == "net_ln2d conv_c8_relu head_norm_gelu_pnorm"
    model = nas.build(both, num_classes=3)
    assert isinstance(model.features[1].norm, nas.blocks.LayerNorm2d)
    assert isinstance(model.classifier[1], nas.blocks.LayerNorm2d)
    # without a normalisation the flags say nothing: the same network as without them
    assert nas.Genome.parse("net_nonorm conv_c8 conv_k2_s2_c16_pre_bias_none head_pnorm") == \
        nas.Genome.parse("net_nonorm conv_c8 conv_k2_s2_c16_none head")
    assert str(nas.Genome.parse("net_nonorm conv_c8 conv_k2_s2_c16_pre_bias head_pnorm")) == \
        "net_nonorm conv_c8_relu conv_k2_s2_c16_pre_relu head"
    # existing networks keep their module trees: conv, norm, act, shuffle
    assert list(nas.build("conv_c8 head").features[0]._modules) == ["conv", "norm", "act", "shuffle"]


def test_layer_norm_2d_is_torchvisions() -> None:
    from torchvision.models.convnext import LayerNorm2d

    ours, theirs = nas.blocks.LayerNorm2d(6, eps=1e-6), LayerNorm2d(6, eps=1e-6)
    torch.nn.init.uniform_(ours.weight)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 6, 5, 3)
    assert torch.equal(ours(x), theirs(x))


def test_a_different_layer_norm_is_caught() -> None:
    # with torchvision's constants (LayerNorm 1/0, layer scale 1e-6) the blocks would barely show; the
    # check randomises them, so that a LayerNorm eps of 1e-5 instead of 1e-6 shows in the logits
    tiny = nas.get_space("convnext").references["convnext_tiny"]
    f = torchvision_fidelity(dataclasses.replace(tiny, norm=nas.Norm(kind="layer2d", eps=1e-5)), "convnext_tiny")
    assert f.params == f.torchvision_params and f.macs == f.torchvision_macs
    assert f.max_logit_diff > 1e-5 and not f.exact


@pytest.mark.parametrize("text, fragment", [
    ("conv_c8 cnx_c16_x32 head", "a ConvNeXt block keeps its channels, but gets 8 and gives 16"),
    ("conv_c8 cnx_s2_c8_x32 head", "ConvNeXtBlock.stride=2 must be 1"),
    ("conv_c8 cnx_c8 head", "a cnx block needs 'x<int>' (expanded)"),
    ("conv_c8 cnx_c8_x32_ls1.5 head", "ConvNeXtBlock.layer_scale=1.5 must be in [0.0, 1.0]"),
    ("conv_c8 head_p2_pnorm", "Head.pooled_norm normalises the globally pooled features: it needs pool=1"),
    ("net_in conv_c8 head_pnorm", "Head.pooled_norm with instance normalisation"),
    ("net_gn4 conv_c8 conv_c6_pre head_pnorm", "head: group norm with groups=4 must divide the 6 pooled channels"),
    ("net_sdlast conv_c8 cnx_c8_x8*2 head", "'sdlast' sets the rule of stochastic depth: it needs a rate"),
])
def test_bad_convnext_genes_give_clear_errors(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        nas.Genome.parse(text).channels()
    assert fragment in str(info.value)


def test_to_params_names_what_the_space_cannot_make() -> None:
    space = nas.get_space("convnext")
    tiny = space.references["convnext_tiny"]
    with pytest.raises(ValueError, match=r"s1_depth=5 is not one of"):
        space.to_params(convnext((5, 3, 9, 3), (96, 192, 384, 768), drop_path=0.1))
    with pytest.raises(ValueError, match="expanded channels 96 are no ratio"):
        space.to_params(convnext((3, 3, 9, 3), (96, 192, 384, 768), expansions=1, drop_path=0.1))
    with pytest.raises(ValueError, match="a gene this space does not vary"):
        space.to_params(convnext((3, 3, 9, 3), (96, 192, 384, 768), drop_path=0.1, layer_scale=0.1))
    with pytest.raises(ValueError, match="4 stages are needed"):
        space.to_params(nas.Genome(blocks=tiny.blocks[:5], head=tiny.head, norm=tiny.norm))
    with pytest.raises(ValueError, match="every stage needs at least one block"):
        convnext((0, 3, 9, 3), (96, 192, 384, 768))
