"""Zero-cost proxies: rank correlations against hand-computed values, NASWOT and synflow against
what follows from their definitions (exact kernels, monotonicity, homogeneity), on tiny networks
and the ``mobile`` references. Nothing is downloaded."""

from __future__ import annotations

import doctest
import math
import random

import pytest
import torch
from torch import nn

import nas
import nas.zerocost
from nas.zerocost import PROXIES, kendall_tau, naswot, score, spearman_rho, synflow


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def linear(weight, bias=None) -> nn.Linear:
    weight = torch.as_tensor(weight, dtype=torch.float32)
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
    return layer


# ----------------------------------------------------------------------------------------------------
# rank correlations


def test_perfect_and_reversed_order() -> None:
    a = [0.1, 0.5, 0.7, 2.0, 3.5]
    up = [1, 2, 3, 40, 50]
    assert kendall_tau(a, up) == 1.0 and spearman_rho(a, up) == pytest.approx(1.0)
    down = up[::-1]
    assert kendall_tau(a, down) == -1.0 and spearman_rho(a, down) == pytest.approx(-1.0)


def test_hand_computed_without_ties() -> None:
    # pairs (0,1) and (0,2) concordant, (1,2) discordant: (2 - 1) / 3; ranks differ by 0, 1, 1: 1 - 6·2 / (3·8)
    assert kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)
    assert spearman_rho([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)


def test_hand_computed_with_ties() -> None:
    # a ties one pair: 5 concordant pairs, tau-b = 5 / sqrt(5 · 6); average ranks 1, 2.5, 2.5, 4 -> 4.5 / sqrt(4.5 · 5)
    a, b = [1, 2, 2, 3], [1, 2, 3, 4]
    assert kendall_tau(a, b) == pytest.approx(5 / math.sqrt(30))
    assert spearman_rho(a, b) == pytest.approx(3 / math.sqrt(10))
    # ties in both, one concordant and one discordant pair: 0
    assert kendall_tau([1, 1, 2, 2], [1, 2, 1, 2]) == 0.0
    assert spearman_rho([1, 1, 2, 2], [1, 2, 1, 2]) == 0.0
    # infinities rank like any value (a NASWOT of -inf is the lowest)
    assert kendall_tau([-math.inf, 1.0, 2.0], [0.1, 0.2, 0.3]) == 1.0


def test_undefined_and_invalid() -> None:
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))
    assert math.isnan(spearman_rho([1, 2, 3], [5, 5, 5]))
    assert math.isnan(kendall_tau([1], [2])) and math.isnan(spearman_rho([1], [2]))
    with pytest.raises(ValueError, match="same length"):
        kendall_tau([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="NaN"):
        spearman_rho([1, math.nan], [1, 2])


def test_against_scipy_on_random_data_with_ties() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(0)
    for _ in range(20):
        n = rng.randint(2, 40)
        a = [rng.randint(0, 5) for _ in range(n)]
        b = [rng.randint(0, 8) + rng.random() * (rng.random() < 0.5) for _ in range(n)]
        if len(set(a)) < 2 or len(set(b)) < 2:
            continue
        assert kendall_tau(a, b) == pytest.approx(stats.kendalltau(a, b)[0], abs=1e-12)
        assert spearman_rho(a, b) == pytest.approx(stats.spearmanr(a, b)[0], abs=1e-12)


# ----------------------------------------------------------------------------------------------------
# NASWOT


def test_naswot_exact_kernel_of_one_hot_codes() -> None:
    # x = I and W = I, b = -1/2: image i switches on unit i alone. Units agreeing: B on the diagonal,
    # B - 2 off it, so K = 2·I + (B-2)·J with eigenvalues 2 (B-1 times) and 2 + B(B-2).
    b = 5
    model = nn.Sequential(linear(torch.eye(b), [-0.5] * b), nn.ReLU())
    assert naswot(model, torch.eye(b)) == pytest.approx(math.log(2 ** (b - 1) * (2 + b * (b - 2))))


def test_naswot_is_minus_infinity_when_codes_coincide() -> None:
    x = torch.randn(8, 4)
    dead = nn.Sequential(linear(torch.zeros(6, 4), [-1.0] * 6), nn.ReLU())  # every unit off for every image
    assert naswot(dead, x) == -math.inf
    assert naswot(nn.Sequential(nn.Linear(4, 6), nn.Sigmoid()), x) == -math.inf  # no rectifier: K = 0
    same = torch.randn(1, 4).repeat(8, 1)  # identical images share a code: K has equal rows
    assert naswot(nn.Sequential(nn.Linear(4, 64), nn.ReLU()), same) == -math.inf


def test_naswot_grows_with_depth_and_width() -> None:
    # More units add a nonzero PSD matrix to a positive-definite K, so log det K rises strictly.
    torch.manual_seed(0)
    x = torch.randn(16, 8)
    first = nn.Linear(8, 32)
    shallow = nn.Sequential(first, nn.ReLU())
    deeper = nn.Sequential(first, nn.ReLU(inplace=True), nn.Linear(32, 32), nn.Hardswish(), nn.Linear(32, 32),
                           nn.SiLU())
    wide = nn.Linear(8, 64)
    with torch.no_grad():
        wide.weight[:32] = first.weight
        wide.bias[:32] = first.bias
    base = naswot(shallow, x)
    assert math.isfinite(base)
    assert naswot(deeper, x) > base
    assert naswot(nn.Sequential(wide, nn.ReLU()), x) > base
    dead = nn.Sequential(linear(torch.zeros(32, 8), [-1.0] * 32), nn.ReLU())
    assert naswot(dead, x) < base


def test_naswot_uses_batch_statistics_and_no_dropout() -> None:
    torch.manual_seed(0)
    x = torch.randn(16, 8)
    plain = nn.Sequential(nn.Linear(8, 32), nn.ReLU())
    model = nn.Sequential(plain[0], nn.Dropout(0.5), nn.BatchNorm1d(32), nn.ReLU()).eval()
    # dropout off: the same value every time; batch norm on the batch's statistics: each unit is on
    # where its pre-activation exceeds the batch mean, unlike the plain network (zero threshold)
    assert naswot(model, x) == naswot(model, x)
    centred = nn.Sequential(linear(plain[0].weight, plain[0].bias - (x @ plain[0].weight.T + plain[0].bias).mean(0)),
                            nn.ReLU())
    assert naswot(model, x) == pytest.approx(naswot(centred, x), abs=1e-9)


def test_naswot_on_a_mobile_network_leaves_it_unchanged() -> None:
    torch.manual_seed(0)
    model = nas.build(nas.get_space("mobile").references["mobilenet_v3_small"], num_classes=10).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    value = naswot(model, torch.randn(16, 3, 32, 32))
    assert math.isfinite(value) and value > 0
    assert not model.training  # mode kept; the score ran on a copy in train mode
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN running stats too


# ----------------------------------------------------------------------------------------------------
# synflow


def test_synflow_hand_computed() -> None:
    # |W1| = [[1, 2], [3, .5]], |b1| = [1, 2], |W2| = [1, 4], |b2| = .5, x = [1, 1]:
    # h = [4, 5.5], R = 26.5; Σ|θ ∂R/∂θ|: W2 26, b2 .5, W1 3·1 + 3.5·4 = 17, b1 1·1 + 2·4 = 9 -> 52.5
    model = nn.Sequential(linear([[1, -2], [3, 0.5]], [-1, 2]), nn.ReLU(), linear([[-1, 4]], [0.5]))
    assert synflow(model, (1, 2)) == pytest.approx(52.5)
    # the score is proportional to the batch of ones
    assert synflow(model, (3, 2)) == pytest.approx(3 * 52.5)


def test_synflow_of_a_homogeneous_conv_net_is_depth_times_output() -> None:
    # Without biases the output R is of degree 1 in each layer's weights (ReLU is positively
    # homogeneous), so Σ θ ∂R/∂θ over one layer is R (Euler) and the score is 3·R.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, bias=False), nn.ReLU(), nn.Conv2d(3, 4, 1, bias=False), nn.Flatten(),
                          nn.Linear(4 * 4 * 4, 5, bias=False))
    w1, w2, w3 = (layer.weight.detach().double().abs() for layer in (model[0], model[2], model[4]))
    x = torch.ones(1, 2, 6, 6, dtype=torch.float64)
    h = torch.relu(nn.functional.conv2d(x, w1))
    r = float((nn.functional.conv2d(h, w2).flatten(1) @ w3.T).sum())
    assert synflow(model, (1, 2, 6, 6)) == pytest.approx(3 * r, rel=1e-12)


def test_synflow_disables_batch_norm_and_counts_a_saturated_relu6_as_dead() -> None:
    torch.manual_seed(0)
    a, b = nn.Linear(3, 4), nn.Linear(4, 2)
    bn = nn.BatchNorm1d(4)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    assert synflow(nn.Sequential(a, bn, nn.ReLU(), b), (1, 3)) == pytest.approx(
        synflow(nn.Sequential(a, nn.ReLU(), b), (1, 3)))
    # 1 -> 10 -> ReLU6 clamps at 6 (no gradient to the first layer) -> 6: score 1·6; as ReLU: 2·R = 20
    clamped = nn.Sequential(linear([[10.0]]), nn.ReLU6(), linear([[1.0]]))
    assert synflow(clamped, (1, 1)) == pytest.approx(6.0)
    assert synflow(clamped, (1, 1), relu6_as_relu=True) == pytest.approx(20.0)


@pytest.mark.parametrize("name", sorted(nas.get_space("mobile").references))
def test_synflow_finite_on_mobile_references_and_model_untouched(name: str) -> None:
    torch.manual_seed(0)
    model = nas.build(nas.get_space("mobile").references[name], num_classes=10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    value = synflow(model, (1, 3, 32, 32))
    assert math.isfinite(value) and value > 0
    assert math.isfinite(synflow(model, (1, 3, 32, 32), relu6_as_relu=True))
    assert model.training and all(p.dtype == torch.float32 and p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# ----------------------------------------------------------------------------------------------------
# scoring a genome


def test_score_is_seeded_and_names_proxies() -> None:
    genome = "conv_s2_c16 ir_c16_x32 head_c64"
    assert set(PROXIES) == {"naswot", "synflow"}
    for name in PROXIES:
        first = score(genome, name, num_classes=10, in_channels=3, resolution=16, batch=8, seed=1)
        assert first == score(genome, name, num_classes=10, in_channels=3, resolution=16, batch=8, seed=1)
        assert math.isfinite(first)
    assert score(genome, "naswot", num_classes=10, in_channels=3, resolution=16, batch=8, seed=1) != \
        score(genome, "naswot", num_classes=10, in_channels=3, resolution=16, batch=8, seed=2)
    x = torch.randn(8, 1, 16, 16)
    assert math.isfinite(score(genome, "naswot", num_classes=3, in_channels=1, resolution=16, batch=8, seed=0, x=x))
    with pytest.raises(ValueError, match="unknown zero-cost proxy"):
        score(genome, "jacov", num_classes=10, in_channels=3, resolution=16, batch=8, seed=0)


def test_module_examples() -> None:
    result = doctest.testmod(nas.zerocost)
    assert result.attempted > 0 and result.failed == 0
