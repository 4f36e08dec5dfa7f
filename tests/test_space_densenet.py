"""The densenet space and its genes: exact size, the gene named when a genome is outside the space, a
dense layer's channels and cost, pre-activation and the head's final norm, every normalisation."""

from __future__ import annotations

import itertools

import pytest
import torch

import nas
from search_spaces.densenet import DenseNetSpace, densenet
from tests.conftest import flop_count_macs, n_params

SPACE = nas.get_space("densenet")


def tiny(**kwargs: object) -> DenseNetSpace:
    choices = dict(growths=(2, 4), bn_sizes=(1, 2), init_features=(3, 4), compressions=(0.5, 0.6, 1.0),
                   kernels=(3,), layers=((1, 2), (1, 3), (1,)), references={})
    return DenseNetSpace("tiny_densenet", **{**choices, **kwargs})  # type: ignore[arg-type]


def brute_force(space: DenseNetSpace) -> tuple[int, int]:
    dims = space.dimensions()
    combos = list(itertools.product(*dims.values()))
    return len({space.genome_from_params(dict(zip(dims, values))) for values in combos}), len(combos)


def test_size_counts_distinct_genomes_exactly() -> None:
    # compressions 0.5 and 0.6 round some transitions alike (⌊0.5·7⌋ = ⌊0.6·7⌋ = 3) and not others
    distinct, combos = brute_force(tiny())
    assert distinct == tiny().size() < combos
    # a single dense block has no transition: every compression is the same network
    single = tiny(layers=((1, 2, 3),))
    assert brute_force(single)[0] == single.size() == 2 * 2 * 2 * 3
    # repeated choices are one choice
    assert brute_force(tiny(growths=(2, 2, 4)))[0] == tiny(growths=(2, 2, 4)).size() == tiny().size()


def test_full_size_is_the_product_and_fast() -> None:
    # at full size no two compressions (0.5, 1) collide: every combination is its own network
    combos = 1
    for choices in SPACE.dimensions().values():
        combos *= len(choices)
    assert SPACE.size() == combos == 73728


def test_references_are_torchvisions_densenets() -> None:
    refs = SPACE.references
    assert set(refs) == {"densenet121", "densenet161", "densenet169", "densenet201"}
    assert str(refs["densenet121"]) == (
        "conv_k7_s2_c64_relu pool_max_k3_s2_p1 dense_gr32_w128_relu*6 conv_k1_c128_pre_relu pool_avg "
        "dense_gr32_w128_relu*12 conv_k1_c256_pre_relu pool_avg dense_gr32_w128_relu*24 conv_k1_c512_pre_relu "
        "pool_avg dense_gr32_w128_relu*16 head_norm_relu")
    # torchvision's num_params and _ops metadata
    expected = {"densenet121": (7_978_856, 2.834), "densenet161": (28_681_000, 7.728),
                "densenet169": (14_149_480, 3.360), "densenet201": (20_013_928, 4.291)}
    for name, (params, gmacs) in expected.items():
        cost = nas.count(refs[name])
        assert cost.params == params and round(cost.macs / 1e9, 3) == gmacs, name
        assert nas.Genome.parse(str(refs[name])) == refs[name]
    # DenseNet-121's last feature map: 512 + 16·32 = 1024 channels (torchvision's classifier input)
    assert refs["densenet121"].out_channels() == 1024 and refs["densenet161"].out_channels() == 2208
    p161 = SPACE.to_params(refs["densenet161"])
    assert (p161["growth"], p161["init_features"], p161["b3_layers"], p161["b4_layers"]) == (48, 96, 36, 24)


def test_a_dense_layer_adds_its_growth_to_the_channels() -> None:
    layer = nas.Dense(growth=32, width=128)
    assert layer.out_channels(64) == 96 and layer.out_channels(1000) == 1032
    genome = nas.Genome.parse("conv_c16 dense_gr8_w32*3 head")
    assert genome.channels() == (3, 16, 24, 32) and genome.out_channels() == 40
    model = nas.build(genome, num_classes=5)
    assert model.features(torch.randn(1, 3, 8, 8)).shape == (1, 40, 8, 8)
    # the input passes unchanged: its channels come first, the new ones after
    x = torch.randn(1, 16, 5, 5)
    block = model.features[1].eval()
    assert torch.equal(block(x)[:, :16], x)


def test_a_dense_layer_is_priced_exactly() -> None:
    # 16 channels on 6×6, growth 8, width 32, k3: norm(16), 1×1 16→32, norm(32), 3×3 32→8
    genome = nas.Genome.parse("net_nonorm conv_k1_c16_none dense_gr8_w32_k3 head")
    cost = nas.count(genome, resolution=6, in_channels=16, num_classes=1)
    pixels = 6 * 6
    macs = pixels * 16 * 16 + pixels * 32 * 16 + pixels * 8 * 32 * 9 + 24 * 1
    params = (16 * 16 + 16) + (32 * 16 + 32) + (8 * 32 * 9 + 8) + (24 + 1)  # no norm: biased convolutions
    assert (cost.macs, cost.params) == (macs, params)
    model = nas.build(genome, num_classes=1, in_channels=16)
    assert (flop_count_macs(model, torch.randn(1, 16, 6, 6)), n_params(model)) == (macs, params)
    # with batch norm: no biases (16, 32, 8), and norms of the stem's output (16) and of the dense layer's
    # convolutions' inputs (16, 32), not of their outputs
    with_bn = nas.count("conv_k1_c16_none dense_gr8_w32 head", resolution=6, in_channels=16, num_classes=1)
    assert with_bn.params == params - (16 + 32 + 8) + 2 * 16 + 2 * (16 + 32)
    # receptive field: the 3×3 convolution; a 5×5 one sees more
    assert cost.receptive_field == 3
    assert nas.count("conv_k1_c16 dense_gr8_w32_k5 head", resolution=6).receptive_field == 5
    # peak: the input (16), its normalised copy and the bottleneck (32), then input, growth and the result
    assert cost.activations == pixels * max(16 + 16 + 32, 16 + 32 + 8, 16 + 8 + 24)


@pytest.mark.parametrize("net", ["net_bn", "net_gn4", "net_ln", "net_in", "net_nonorm", "net_bn_eps0.001"])
def test_new_genes_work_with_every_normalisation(net: str) -> None:
    genome = nas.Genome.parse(f"{net} conv_c16 dense_gr4_w8*2 conv_k1_c12_pre pool_avg dense_gr4_w8 head_norm_relu")
    model = nas.build(genome, num_classes=3).train()
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    out = model(x)
    out.sum().backward()  # in-place activations after no norm would break autograd or the concatenation
    assert out.shape == (2, 3) and torch.isfinite(out).all()
    cost = nas.count(genome, resolution=8, num_classes=3)
    assert cost.params == n_params(model)
    assert cost.macs == flop_count_macs(model.eval(), x[:1].detach())


def test_without_norm_the_dense_layer_keeps_its_input() -> None:
    # no norm before the first activation: an in-place ReLU would change the input it concatenates
    model = nas.build("net_nonorm conv_c8_none dense_gr4_w8 head", num_classes=2).eval()
    x = torch.randn(1, 8, 4, 4)
    assert torch.equal(model.features[1](x.clone())[:, :8], x)


def test_pre_activation_and_head_norm_in_the_grammar() -> None:
    genome = nas.Genome.parse("conv_c16 conv_k1_c8_pre_silu head_norm_silu_c32")
    assert genome.blocks[1].pre and genome.head.norm_act and genome.head.act == "silu"
    assert str(genome) == "conv_c16_relu conv_k1_c8_pre_silu head_norm_c32_silu"
    assert nas.Genome.from_json(genome.to_json()) == genome
    # pre-activation normalises the input: 16 channels, not 8
    assert nas.count(genome, num_classes=1).params == (
        nas.count("conv_c16 conv_k1_c8_silu head_norm_silu_c32", num_classes=1).params + 2 * 16 - 2 * 8)
    # the head's activation needs a convolution or norm to act on
    with pytest.raises(ValueError, match="needs its 1×1 convolution 'c<int>' or 'norm'"):
        nas.Genome.parse("conv_c16 head_silu")
    # canonical: with neither norm nor activation, pre-activation and the final norm are nothing
    assert nas.Genome.parse("net_nonorm conv_c16 conv_k1_c8_pre_none head_norm_none") == nas.Genome.parse(
        "net_nonorm conv_c16 conv_k1_c8_none head")
    assert nas.Genome.parse("net_nonorm conv_c16 head_norm_relu").head.norm_act
    with pytest.raises(ValueError, match="'gr<int>' \\(growth\\)"):
        nas.Genome.parse("conv_c16 dense_w8 head")
    with pytest.raises(ValueError, match="group norm with groups=4 must divide the 18 channels"):
        nas.build("net_gn4 conv_c16 dense_gr2_w8 head_norm")


def test_stochastic_depth_ignores_dense_layers() -> None:
    # dense layers have no residual branch: alone they give stochastic depth nothing to drop
    assert nas.Genome.parse("net_bn_sd0.2 conv_c8 dense_gr4_w8*4 head").drop_path == 0.0
    genome = nas.Genome.parse("net_bn_sd0.2 conv_c8 ir_c8_x16 dense_gr8_w8 ir_c16_x16 ir_c16_x32 head")
    assert genome.drop_path == 0.2  # the channels after the dense layer are known: 16, so the last ir adds back
    rates = [getattr(b.drop_path, "p", 0.0) for b in nas.build(genome).features if hasattr(b, "drop_path")]
    assert rates == pytest.approx([0.0, 0.2 / 3, 0.2 * 2 / 3])


def test_to_params_names_the_gene_outside_the_space() -> None:
    refs = SPACE.references
    with pytest.raises(ValueError, match=r"block 2: growth=20 is not one of"):
        SPACE.to_params(densenet(20, (6, 12, 24, 16)))
    with pytest.raises(ValueError, match=r"b3_layers=64 is not one of"):
        SPACE.to_params(densenet(32, (6, 12, 64, 48)))  # DenseNet-264
    with pytest.raises(ValueError, match="transition 1 keeps 192 of 256 channels"):
        SPACE.to_params(densenet(32, (6, 12, 24, 16), compression=0.75))
    r121 = refs["densenet121"]
    odd = nas.Genome(blocks=r121.blocks[:5] + (nas.Dense(growth=32, width=128, act="silu"),) + r121.blocks[6:],
                     head=r121.head)
    with pytest.raises(ValueError, match="differs from the first"):
        SPACE.to_params(odd)
    with pytest.raises(ValueError, match="bottleneck width 100 is not a multiple of the growth 32"):
        SPACE.to_params(nas.Genome(blocks=r121.blocks[:2] + (nas.Dense(growth=32, width=100),), head=r121.head))
    with pytest.raises(ValueError, match="4 dense blocks separated by transitions are needed, got 3"):
        SPACE.to_params(densenet(32, (6, 12, 24)))
    with pytest.raises(ValueError, match="head is norm, ReLU"):
        SPACE.to_params(nas.Genome(blocks=r121.blocks, head=nas.Head()))
    with pytest.raises(ValueError, match="compression=0.01 must be in"):
        DenseNetSpace("bad", compressions=(0.01,))
