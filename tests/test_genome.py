"""The genome: immutable, hashable, canonical, and its string and JSON forms round-trip."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

import nas
from nas import Conv, Genome, Head, InvertedResidual, Norm, SqueezeExcite
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
])
def test_bad_genes_are_refused_with_the_value(make, error, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error) as info:
        make()
    assert fragment in str(info.value)


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
