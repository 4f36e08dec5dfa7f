"""The genome: immutable, hashable, canonical, and its string and JSON forms round-trip."""

from __future__ import annotations

import dataclasses
import json
import random
import time

import pytest

import nas
from nas import Conv, Genome, Head, InvertedResidual, Norm, SqueezeExcite
from nas.genome import _LIMITS, MAX_BLOCKS
from tests.conftest import random_genome

MOBILE_LIKE = ("net_bn_eps0.001_m0.01_sd0.2 conv_s2_c16_hardswish ir_c16_x16_relu "
               "ir_k5_c16_x72_se24.relu.hardsigmoid_hardswish*2 ds_k7_sep_c32_gelu head_c64_relu6_h32.tanh_d0.2")


@pytest.mark.parametrize("seed", range(80))
def test_random_genomes_round_trip_through_string_and_json(seed: int) -> None:
    genome = random_genome(random.Random(seed))
    text = str(genome)
    assert Genome.parse(text) == genome
    assert str(Genome.parse(text)) == text
    assert Genome.from_json(genome.to_json()) == genome
    assert Genome.from_dict(json.loads(json.dumps(genome.to_dict()))) == genome


def test_string_form_reads_as_documented() -> None:
    genome = Genome.parse(MOBILE_LIKE)
    assert genome.norm == Norm(eps=0.001, momentum=0.01)
    assert genome.drop_path == 0.2
    assert len(genome.blocks) == 5  # "*2" repeats the block
    assert genome.blocks[2] == genome.blocks[3] == InvertedResidual(
        out=16, expanded=72, kernel=5, act="hardswish", se=SqueezeExcite(24, "relu", "hardsigmoid"))
    ds = genome.blocks[4]
    assert (ds.kind, ds.kernel, ds.separable, ds.out, ds.act) == ("ds", 7, True, 32, "gelu")
    assert genome.head == Head(width=64, act="relu6", hidden=32, hidden_act="tanh", dropout=0.2)
    assert str(genome) == MOBILE_LIKE


def test_tokens_may_come_in_any_order_and_defaults_may_be_written() -> None:
    a = Genome.parse("conv_c16_s2_k3_d1_g1_relu head_d0.1")
    b = Genome.parse("net_bn_eps1e-05_m0.1 conv_s2_c16 head_d0.1")
    assert a == b and hash(a) == hash(b)
    assert str(a) == "conv_s2_c16_relu head_d0.1"


def test_equal_by_value_hashable_and_immutable() -> None:
    a, b = Genome.parse(MOBILE_LIKE), Genome.parse(MOBILE_LIKE)
    assert a == b and a is not b
    assert len({a, b}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.drop_path = 0.5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.blocks[0].out = 3  # type: ignore[misc]


@pytest.mark.parametrize("a, b", [
    # genes that cannot change the network are dropped
    (Head(width=0, act="silu"), Head(width=0)),
    (Head(width=8, act="silu", hidden=0, hidden_act="tanh"), Head(width=8, act="silu")),
    (Head(width=8, act="silu", hidden=4), Head(width=8, act="silu", hidden=4, hidden_act="silu")),
    (Norm(kind="layer", momentum=0.5), Norm(kind="layer")),
    (Norm(kind="none", eps=0.1), Norm(kind="none")),
    (Conv(out=8, kernel=1, separable=True), Conv(out=8, kernel=1)),
    (Conv(out=8, kernel=1, dilation=2), Conv(out=8, kernel=1)),
    (Norm(kind="group", groups=1), Norm(kind="layer")),
    # stochastic depth without a residual branch after the first inverted-residual block (whose
    # rate is always 0) drops nothing
    (Genome.parse("net_bn_sd0.2 conv_c8 ir_c8_x16 ir_s2_c8_x16 ir_c16_x16 head"),
     Genome.parse("conv_c8 ir_c8_x16 ir_s2_c8_x16 ir_c16_x16 head")),
])
def test_canonical_form(a: object, b: object) -> None:
    assert a == b


def test_stochastic_depth_is_kept_where_it_acts() -> None:
    assert Genome.parse("net_bn_sd0.2 conv_c8 ir_c8_x16 ir_c8_x16 head").drop_path == 0.2


def test_a_list_of_blocks_is_stored_as_a_tuple() -> None:
    genome = Genome(blocks=[Conv(out=8)], head=Head())  # type: ignore[arg-type]
    assert isinstance(genome.blocks, tuple)
    assert hash(genome) == hash(Genome(blocks=(Conv(out=8),), head=Head()))


@pytest.mark.parametrize("text, token, why", [
    ("conv_c16_q3 head", "q3", "unknown token"),
    ("conv_c16_k3x head", "k3x", "whole number"),
    ("conv_c16_relu7 head", "relu7", "unknown token"),
    ("conv_c16_c8 head", "c8", "given twice"),
    ("conv_k3 head", "conv_k3", "needs 'c<int>'"),
    ("ir_c16 head", "ir_c16", "needs 'x<int>'"),
    ("conv_c0 head", "conv_c0", "must be >= 1"),
    ("conv_c16", None, "no head group"),
    ("head_c16", None, "no blocks"),
    ("conv_c16 head mlp_c4", "mlp_c4", "nothing may follow the head"),
    ("conv_c16 mlp_c4 head", "mlp_c4", "unknown group kind"),
    ("conv_c16*0 head", "conv_c16*0", "repeat"),
    ("conv_c16__s2 head", "conv_c16__s2", "empty token"),
    ("conv_c16 ir_c16_x32_se8.relu head", "se8.relu", "se<int>.<act>.<gate>"),
    ("conv_c16 ir_c16_x32_se8.relu.softmax head", "se8.relu.softmax", "gate='softmax'"),
    ("net_bn_sd1.5 conv_c16 head", "sd1.5", "drop_path=1.5"),
    ("net_gn conv_c16 head", "gn", "whole number"),
    ("net_bn_ln conv_c16 head", "ln", "given twice"),
    ("conv_c16 net_bn head", "net_bn", "once, first"),
    ("conv_c16 head_relu", "head_relu", "needs its 1×1 convolution"),
    ("conv_c16 head_d2", "head_d2", "dropout=2.0"),
    ("", None, "empty genome string"),
])
def test_malformed_strings_name_the_token_and_the_whole_string(text: str, token: str | None, why: str) -> None:
    with pytest.raises(ValueError) as info:
        Genome.parse(text)
    message = str(info.value)
    assert why in message
    assert repr(text) in message
    if token is not None:
        assert repr(token) in message


@pytest.mark.parametrize("make, error, fragment", [
    (lambda: Conv(out=8.0), TypeError, "Conv.out must be an int, got 8.0"),  # type: ignore[arg-type]
    (lambda: Conv(out=True), TypeError, "Conv.out must be an int"),  # type: ignore[arg-type]
    (lambda: Conv(out=8, stride=0), ValueError, "Conv.stride=0 must be >= 1"),
    (lambda: Conv(out=8, act="swish"), ValueError, "Conv.act='swish' is not one of relu"),
    (lambda: InvertedResidual(out=8, expanded=0), ValueError, "expanded=0 must be >= 1"),
    (lambda: SqueezeExcite(4, gate="relu"), ValueError, "gate='relu' is not one of sigmoid, hardsigmoid"),
    (lambda: Norm(kind="batchnorm"), ValueError, "Norm.kind='batchnorm'"),
    (lambda: Norm(kind="group"), ValueError, "Norm.groups=0 must be >= 1"),
    (lambda: Norm(kind="batch", groups=2), ValueError, "only applies to kind='group'"),
    (lambda: Head(dropout=1.0), ValueError, "Head.dropout=1.0 must be in [0.0, 1.0)"),
    (lambda: Genome(blocks=()), ValueError, "Genome.blocks is empty"),
    (lambda: Genome(blocks=("conv_c8",)), TypeError, "Genome.blocks[0] must be one of"),  # type: ignore[arg-type]
    # genes over their limits: refused where they are made, not when the network is counted or built
    (lambda: Conv(out=8, stride=99999999999), ValueError, "Conv.stride=99999999999 is over the limit of 64"),
    (lambda: Conv(out=8, kernel=65), ValueError, "Conv.kernel=65 is over the limit of 64; use a value from 1 to 64"),
    (lambda: Conv(out=8, padding=10**6), ValueError, "Conv.padding=1000000 is over the limit of 2048"),
    (lambda: InvertedResidual(out=8, expanded=10**9), ValueError, "expanded=1000000000 is over the limit of 65536"),
    (lambda: nas.Pool("max", stride=100), ValueError, "Pool.stride=100 is over the limit of 64"),
    (lambda: nas.Fire(8, 8, 70000), ValueError, "Fire.expand3=70000 is over the limit of 65536"),
    (lambda: SqueezeExcite(10**7), ValueError, "SqueezeExcite.channels=10000000 is over the limit of 65536"),
    (lambda: Head(hidden=(4096, 10**8)), ValueError, "Head.hidden=100000000 is over the limit of 65536"),
    (lambda: Head(pool=1000), ValueError, "Head.pool=1000 is over the limit of 64"),
    (lambda: Norm(kind="group", groups=10**6), ValueError, "Norm.groups=1000000 is over the limit of 65536"),
    (lambda: Genome(blocks=(Conv(out=8),) * 5000), ValueError,
     "Genome.blocks has 5000 blocks, over the limit of 4096; use at most 4096"),
])
def test_bad_genes_are_refused_with_the_value(make, error, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error) as info:
        make()
    assert fragment in str(info.value)


@pytest.mark.parametrize("text, token, value, limit", [
    ("conv_c8 ir_c16_x64_relu*99999999999 head", "ir_c16_x64_relu*99999999999", "repeat 99999999999", 4096),
    ("conv_c8*3000 conv_c16*3000 head", "conv_c16*3000", "6000 blocks", 4096),
    ("conv_c8*" + "9" * 5000 + " head", "conv_c8*" + "9" * 5000, "repeat " + "9" * 5000, 4096),
    ("conv_c8_s99999999999 head", "s99999999999", "stride 99999999999", 64),
    ("conv_k99_c8 head", "k99", "kernel size 99", 64),
    ("conv_d100_c8 head", "d100", "dilation 100", 64),
    ("conv_p5000_c8 head", "p5000", "padding 5000", 2048),
    ("pool_max_s1000 conv_c8 head", "s1000", "stride 1000", 64),
    ("conv_c" + "9" * 5000 + " head", "c" + "9" * 5000, "channel count " + "9" * 5000, 65536),
    ("conv_c8 ir_c8_x99999999_se8 head", "x99999999", "expanded channel count 99999999", 65536),
    ("conv_c8 ir_c8_x16_se99999999 head", "se99999999", "channel count 99999999", 65536),
    ("conv_c8 bot_w99999999_c8 head", "w99999999", "width 99999999", 65536),
    ("conv_c8 fire_sq8_e8.99999999 head", "e8.99999999", "expansion channel count 99999999", 65536),
    ("net_gn99999999 conv_c8 head", "gn99999999", "group count 99999999", 65536),
    ("conv_c8 head_c99999999", "c99999999", "width 99999999", 65536),
    ("conv_c8 head_h4096_h99999999", "h99999999", "hidden width 99999999", 65536),
    ("conv_c8 head_p99999999", "p99999999", "pooled side 99999999", 64),
])
def test_oversized_repeats_and_genes_are_refused_at_once(text: str, token: str, value: str, limit: int) -> None:
    # a repeat used to build a list of that many blocks (MemoryError or a hang), a huge stride made
    # nas.count scan 65535 resolutions, and 5000 digits hit Python's int-conversion limit
    start = time.perf_counter()
    with pytest.raises(ValueError) as info:
        nas.count(text)
    assert time.perf_counter() - start < 1.0
    message = str(info.value)
    assert f"bad token {token!r}" in message
    assert value in message
    assert f"over the limit of {limit}" in message and f"use at most {limit}" in message
    assert repr(text) in message


def test_the_limits_themselves_are_accepted() -> None:
    largest = nas.Genome.parse("conv_k64_s64_d64_p2048_c65536*4095 pool_max_k64_s64 head_c65536_p64_h65536")
    assert len(largest.blocks) == 4096
    assert (largest.blocks[0].kernel, largest.blocks[0].stride, largest.blocks[0].dilation) == (64, 64, 64)


def _every_reference() -> dict[str, Genome]:
    genomes = {}
    for space_name in nas.list_spaces():
        space = nas.get_space(space_name)
        genomes.update(space.references)
        if hasattr(space, "torchvision_members"):
            genomes.update({name: member[0] for name, member in space.torchvision_members().items()})
    return genomes


def test_every_reference_network_fits_the_limits_many_times_over() -> None:
    genomes = _every_reference()
    assert {"efficientnet_b7", "vgg19", "vgg19_bn", "resnet152", "alexnet"} <= set(genomes)
    for name, genome in genomes.items():
        assert Genome.parse(str(genome)) == genome, name
        assert Genome.from_dict(genome.to_dict()) == genome, name
        assert 10 * len(genome.blocks) <= MAX_BLOCKS, name
        genes = [dataclasses.asdict(block) for block in genome.blocks] + [dataclasses.asdict(genome.head)]
        for gene in genes:
            for field, value in gene.items():
                values = value if isinstance(value, tuple) else (value,)
                for v in values:
                    if field in _LIMITS and isinstance(v, int):
                        assert 4 * v <= _LIMITS[field], (name, field, v)


def test_bad_json_is_refused() -> None:
    data = Genome.parse("conv_c8 head").to_dict()
    data["blocks"][0]["type"] = "lstm"
    with pytest.raises(ValueError, match="blocks\\[0\\] has type 'lstm'"):
        Genome.from_dict(data)
    with pytest.raises(ValueError, match="unknown genome format"):
        Genome.from_dict({"format": "timm"})


def test_make_divisible_follows_the_tensorflow_rule() -> None:
    assert nas.make_divisible(32 * 0.75) == 24
    assert nas.make_divisible(1280 * 1.4) == 1792
    assert nas.make_divisible(88.08) == 88
    assert nas.make_divisible(3) == 8  # never below the divisor
    assert nas.make_divisible(36.8) == 40
    assert nas.make_divisible(18) == 24  # 16 would be more than 10% below 18
