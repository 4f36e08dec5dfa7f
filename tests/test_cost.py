"""The cost model: exact against torch's own counters for every gene, without building anything."""

from __future__ import annotations

import random
import time

import pytest
import torch

import nas
from tests.conftest import flop_count_macs, gradient_extent, n_params, random_genome


@pytest.mark.parametrize("seed", range(80))
def test_random_genomes_build_run_and_count_exactly(seed: int) -> None:
    rng = random.Random(seed)
    genome = random_genome(rng)
    resolution = max(rng.choice([16, 24, 33]), nas.min_resolution(genome))
    in_channels = rng.choice([1, 3])
    model = nas.build(genome, num_classes=7, in_channels=in_channels).eval()
    x = torch.randn(1, in_channels, resolution, resolution)
    macs = flop_count_macs(model, x)
    cost = nas.count(genome, resolution=resolution, in_channels=in_channels, num_classes=7)
    assert cost.macs == macs
    assert cost.flops == 2 * macs
    assert cost.params == n_params(model)
    out = model(torch.randn(2, in_channels, resolution, resolution))
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()
    assert model.features(x).shape[-2:] == cost.feature_size


def test_the_course_notes_example() -> None:
    # 3×3 convolution, 64 -> 128 channels, 112×112 output: 3·3·64·112·112·128 MACs
    genome = nas.Genome.parse("conv_c128 head")
    cost = nas.count(genome, resolution=112, in_channels=64, num_classes=1)
    classifier = 128 * 1
    assert cost.macs - classifier == 924_844_032
    assert cost.params == 3 * 3 * 64 * 128 + 2 * 128 + classifier + 1


@pytest.mark.parametrize("text, resolution, in_channels, macs, params", [
    # spatially separable 3×1 + 1×3 on 10×10, 'same' padding: both convs at 10×10
    ("net_nonorm conv_k3_sep_c4_none head", 10, 2, 10 * 10 * 4 * 2 * 3 + 10 * 10 * 4 * 4 * 3 + 4 * 1,
     4 * 2 * 3 + 4 * 4 * 3 + 4 + 4 + 1),
    # depthwise 5×5, stride 2, dilation 2 on 9×9 -> 5×5
    ("conv_k5_s2_d2_g8_c8 head", 9, 8, 5 * 5 * 8 * 1 * 25 + 8, 8 * 25 + 16 + 8 + 1),
    # grouped 1×1 with 4 groups
    ("net_gn2 conv_k1_g4_c16 head", 4, 8, 4 * 4 * 16 * 2 + 16, 16 * 2 + 32 + 16 + 1),
])
def test_hand_counted_layers(text: str, resolution: int, in_channels: int, macs: int, params: int) -> None:
    genome = nas.Genome.parse(text)
    cost = nas.count(genome, resolution=resolution, in_channels=in_channels, num_classes=1)
    assert (cost.macs, cost.params) == (macs, params)
    model = nas.build(genome, num_classes=1, in_channels=in_channels)
    x = torch.randn(1, in_channels, resolution, resolution)
    assert (flop_count_macs(model, x), n_params(model)) == (macs, params)


def test_count_allocates_no_weights() -> None:
    # a 1-billion-parameter genome is counted at once (building it would need 4 GB)
    genome = nas.Genome.parse("conv_k1_c32768 conv_k1_c32768 head")
    cost = nas.count(genome, resolution=1)
    assert cost.params > 1_000_000_000


def test_peak_activations_hold_input_and_output_of_each_layer() -> None:
    # 3×8×8 input (192) -> conv stride 2 -> 8×4×4 (128): 320 alive at the peak
    assert nas.count("conv_s2_c8 head", resolution=8, num_classes=1).activations == 192 + 128
    # a residual block keeps its input alive beside the expanded maps: 8×4×4 input (128),
    # expand to 32×4×4 (512), depthwise 32×4×4 (512): 128 + 512 + 512 at the peak
    with_res = nas.count("conv_s2_c8 ir_c8_x32 head", resolution=8, num_classes=1)
    assert with_res.activations == 128 + 512 + 512
    # without the residual (output width differs) the input is freed after the expansion
    no_res = nas.count("conv_s2_c8 ir_c16_x32 head", resolution=8, num_classes=1)
    assert no_res.activations == 512 + 512
    assert nas.count("conv_s2_c8 head", resolution=8, num_classes=1).activation_bytes == 4 * 320


@pytest.mark.parametrize("seed", range(12))
def test_receptive_field_matches_the_input_gradient(seed: int) -> None:
    # the input pixels that reach the centre output pixel span exactly the receptive field
    rng = random.Random(100 + seed)
    # smooth activations and no max pooling or squeeze-and-excitation, so that no gradient is cut or spread
    genome = random_genome(rng, max_blocks=5, acts=("tanh", "silu"), norm=nas.Norm(), se=False, pools=("avg",))
    rf = nas.count(genome, resolution=64).receptive_field
    assert gradient_extent(genome) == (rf, rf)


def test_resolution_too_small_names_the_smallest_that_works() -> None:
    genome = nas.get_space("mobile").references["mobilenet_v2"]
    assert nas.min_resolution(genome) == 17  # 17 -> 9 -> 5 -> 3 -> 2 -> 1: each stride-2 layer halves
    nas.count(genome, resolution=17)
    with pytest.raises(ValueError) as info:
        nas.count(genome, resolution=16)
    message = str(info.value)
    assert "resolution 16×16 is too small" in message
    assert "stride-2" in message
    assert "smallest input it accepts is 17×17" in message


@pytest.mark.parametrize("text, smallest", [
    ("conv_s2_c8*14 head", 8193),  # 8193 -> 4097 -> ... -> 2 -> 1
    ("conv_s64_c8*2 head", 63 * 64 + 1),  # the second needs 64 pixels: (4033 - 1) // 64 + 1
    ("conv_s2_c8*20 head", None),  # would need 2**19 + 1 pixels
    ("conv_s64_c8*3 head", None),
])
def test_deep_or_strided_networks_get_their_smallest_input_at_once(text: str, smallest: int | None) -> None:
    # min_resolution tried every side from 1 up: thousands of walks through the network, seconds
    start = time.perf_counter()
    with pytest.raises(ValueError) as info:
        nas.count(text, resolution=32)
    if smallest is None:
        assert "No input up to 65535×65535 fits it; use a genome with fewer or smaller strides" in str(info.value)
        with pytest.raises(ValueError, match="no resolution up to 65535×65535 fits genome"):
            nas.min_resolution(nas.Genome.parse(text))
    else:
        assert f"The smallest input it accepts is {smallest}×{smallest}" in str(info.value)
        assert nas.min_resolution(nas.Genome.parse(text)) == smallest
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("seed", range(40))
def test_min_resolution_is_the_smallest_side_that_fits(seed: int) -> None:
    genome = random_genome(random.Random(seed), max_blocks=8)
    side = nas.min_resolution(genome)
    nas.count(genome, resolution=side)
    if side > 1:
        with pytest.raises(ValueError, match=f"smallest input it accepts is {side}×{side}"):
            nas.count(genome, resolution=side - 1)


def test_unpadded_layers_that_would_leave_no_output_are_refused() -> None:
    # even kernels get no 'same' padding: a 2×2 kernel on a 1-pixel-high map leaves nothing
    with pytest.raises(ValueError, match="its 2×2 layer would leave no output.*smallest input it accepts is 2×2"):
        nas.count("conv_k2_c8 head", resolution=(1, 40))
    assert nas.count("conv_k2_c8 head", resolution=(2, 40)).feature_size == (1, 39)


@pytest.mark.parametrize("call, error, fragment", [
    (lambda: nas.count("conv_c8 head", resolution=0), ValueError, "resolution=(0, 0) must be positive"),
    (lambda: nas.count("conv_c8 head", resolution=2.5), TypeError, "resolution must be an int"),
    (lambda: nas.count("conv_c8 head", num_classes=0), ValueError, "num_classes=0"),
    (lambda: nas.count("conv_c8 head", in_channels=0), ValueError, "in_channels=0 must be >= 1"),
    (lambda: nas.count("conv_g4_c8 head"), ValueError, "groups=4 must divide in_channels=3 and out_channels=8"),
    (lambda: nas.build("conv_c8 conv_g3_c9 head"), ValueError, "block 1 (conv_g3_c9_relu): groups=3 must divide"),
    (lambda: nas.count("conv_c24 ir_c24_x36_g8 head"), ValueError,
     "block 1 (ir_c24_x36_g8_relu): groups=8 must divide in_channels=24, expanded=36 and out_channels=24"),
    (lambda: nas.build("net_gn16 conv_c8 head"), ValueError, "group norm with groups=16 must divide its 8"),
    (lambda: nas.build("conv_c8 head", num_classes=-1), ValueError, "num_classes=-1"),
    (lambda: nas.build(42), TypeError, "expected a nas.Genome or a genome string, got int"),  # type: ignore[arg-type]
])
def test_bad_inputs_give_clear_errors(call, error, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error) as info:
        call()
    assert fragment in str(info.value)


def test_stochastic_depth_follows_efficientnet() -> None:
    genome = nas.Genome.parse("net_bn_sd0.2 conv_c8 ir_c8_x16*4 head")
    model = nas.build(genome)
    rates = [getattr(block.drop_path, "p", 0.0) for block in model.features[1:]]
    assert rates == pytest.approx([0.0, 0.05, 0.1, 0.15])


def test_format_count() -> None:
    from nas.cost import format_count

    assert format_count(68_765_736) == "68.8M"
    assert format_count(1_593_792) == "1.59M"
    assert format_count(300_000_000) == "300M"
    assert format_count(4_089_184_256) == "4.09G"
    assert format_count(61_706) == "61.7K"
    assert format_count(512) == "512"
    assert format_count(299_507_072, digits=4) == "299.5M"
