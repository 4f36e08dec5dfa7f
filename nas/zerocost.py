"""Zero-cost proxies: training-free scores of an untrained network, and rank correlations to judge them.

Two scores from the literature, each a float where larger is meant to mean "will train to a better
accuracy":

* :func:`naswot` -- Mellor et al., "Neural Architecture Search without Training", ICML 2021: how
  differently the network's rectified units split one minibatch of images (the log-determinant of the
  kernel of the binary activation codes).
* :func:`synflow` -- Tanaka et al., "Pruning neural networks without any data by iteratively
  conserving synaptic flow", NeurIPS 2020, used as an architecture score by Abdelfattah et al.,
  "Zero-Cost Proxies for Lightweight NAS", ICLR 2021: the summed |θ ⊙ ∂R/∂θ| of the network with
  all weights made positive, on an all-ones input.

:func:`kendall_tau` (tau-b) and :func:`spearman_rho` compare a score's ranking of architectures with
their trained accuracy (ties get average ranks; no scipy needed). :func:`score` builds a genome's
network under a seed and scores it. ``benchmarks/zerocost.py`` measures both scores, and the #params
and MACs baselines, against the proxy-trained validation accuracy of sampled ``mobile`` networks.

Example:
    >>> import torch, nas
    >>> from nas.zerocost import naswot, synflow, kendall_tau
    >>> torch.manual_seed(0) and None
    >>> model = nas.build("conv_s2_c16 ir_c16_x32 head_c64", num_classes=10)
    >>> x = torch.randn(16, 3, 32, 32)
    >>> naswot(model, x) > 0, synflow(model, (1, 3, 32, 32)) > 0
    (True, True)
    >>> kendall_tau([1, 2, 3], [1, 3, 2])
    0.3333333333333333
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from .builder import build

__all__ = ["PROXIES", "kendall_tau", "naswot", "score", "spearman_rho", "synflow"]

# The rectifier family: each is > 0 exactly where its input is > 0, so "output > 0" is the unit's
# on/off code for every one of them (for ReLU/ReLU6 it is the paper's code). Gates (Sigmoid,
# Hardsigmoid) are left out: their output is > 0 (or ≥ 0) almost everywhere and codes nothing.
RECTIFIERS: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU,
                                           nn.SELU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish)
_NORMS: tuple[type[nn.Module], ...] = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm,
                                       nn.modules.instancenorm._InstanceNorm)
_EXACT_FP32 = 2 ** 24  # integers up to this are exact in float32: per-layer agreement counts below it


# ----------------------------------------------------------------------------------------------------
# NASWOT


@torch.no_grad()
def naswot(model: nn.Module, x: Tensor) -> float:
    """NASWOT score (Mellor et al. 2021): ``log |det K|`` of the activation-code kernel of one minibatch.

    Every rectifier-family module (:data:`RECTIFIERS`: ReLU, ReLU6, Hardswish, SiLU, GELU, ...) is
    hooked; its output thresholded at 0 gives each image a binary code ``c`` over all those units, and
    ``K = c cᵀ + (1 - c)(1 - c)ᵀ``, i.e. ``K[i, j]`` = the number of units on which images ``i`` and
    ``j`` agree (units = all hooked activation elements). The score is ``slogdet(K)``'s log-magnitude:
    high when the images get very different codes. It is ``-inf`` when ``K`` is singular, e.g. when
    two images share a code or every unit is off (then every entry of ``K`` is the number of units).

    As in the paper's code, the network is untrained and its batch norms run in **train mode**
    (normalising with the minibatch's own statistics) on one minibatch, without gradients. Everything
    else runs in eval mode: dropout and stochastic depth are off, so that the codes are a function of
    the images alone (the paper's NAS-Bench networks have neither). It runs on a deep copy, so
    ``model``'s weights, batch-norm running statistics and train/eval mode are left as they were.

    Args:
        model: the (untrained) network.
        x: one minibatch, B×C×H×W (or any shape the model takes), normalised as for training;
            ``B`` ≥ 2 and smaller than the number of units, or ``K`` is singular.

    Returns:
        The log-determinant as a float (``-inf`` for a singular kernel, e.g. a network with no
        rectifier at all).
    """
    net = copy.deepcopy(model).eval()
    for m in net.modules():
        if isinstance(m, _NORMS):
            m.train()
    batch = len(x)
    kernel = torch.zeros(batch, batch, dtype=torch.float64)

    def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        codes = (output.detach() > 0).reshape(batch, -1)
        units = codes.shape[1]
        dtype = torch.float32 if units < _EXACT_FP32 else torch.float64
        c = codes.to(dtype)
        on = c.sum(1, dtype=torch.float64)  # units on, per image
        # (1 - c)(1 - c)ᵀ = units - on_i - on_j + c cᵀ: one matrix product instead of two
        both_on = (c @ c.T).to(torch.float64)
        kernel.add_(2 * both_on - on[:, None] - on[None, :] + units)

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, RECTIFIERS)]
    try:
        net(x)
    finally:
        for h in handles:
            h.remove()
    sign, logabsdet = torch.linalg.slogdet(kernel)
    return float(logabsdet) if float(sign) != 0 else -math.inf


# ----------------------------------------------------------------------------------------------------
# SynFlow


def synflow(model: nn.Module, x_shape: Sequence[int], *, relu6_as_relu: bool = False) -> float:
    """SynFlow score (Tanaka et al. 2020; as a NAS proxy, Abdelfattah et al. 2021).

    On a deep copy of the model: every normalisation layer (batch, group, layer, instance norm) is
    replaced by the identity -- the zero-cost paper disables batch norm for synflow (with a constant
    input, batch statistics would zero every channel); the copy is put in eval mode (no dropout, no
    stochastic depth) and converted to **float64** (products of many positive layers overflow float32);
    every parameter is replaced by its absolute value. With ``R = sum(net(ones(x_shape)))`` the score
    is ``Σ_θ Σ |θ ⊙ ∂R/∂θ|`` over all parameters. ``model`` itself is not changed.

    A saturating activation stops the flow: with positive weights the pre-activations grow layer
    by layer, so a ReLU6 clamps nearly every unit at 6 and passes no gradient, and the score then
    counts little more than the head (MobileNetV2 at 32×32 scores ~6e2 where MobileNetV3 scores
    ~1e22). ``relu6_as_relu=True`` runs ReLU6 as ReLU (a variant, not the papers' score).

    Args:
        model: the network (untrained, usually).
        x_shape: the input shape, N×C×H×W; the papers use N = 1 (the score is proportional to N).
        relu6_as_relu: replace every ``nn.ReLU6`` of the copy by ``nn.ReLU`` (see above).

    Returns:
        The score, a positive float (``inf`` if even float64 overflows).
    """
    net = copy.deepcopy(model)
    _replace(net, _NORMS, nn.Identity)
    if relu6_as_relu:
        _replace(net, (nn.ReLU6,), nn.ReLU)
    net = net.eval().double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    params = [p for p in net.parameters() if p.requires_grad]
    x = torch.ones(tuple(x_shape), dtype=torch.float64)
    output = net(x).sum()
    grads = torch.autograd.grad(output, params, allow_unused=True)
    total = sum(float((p.detach() * g).abs().sum()) for p, g in zip(params, grads) if g is not None)
    return float(total)


def _replace(net: nn.Module, kinds: tuple[type[nn.Module], ...], new: Callable[[], nn.Module]) -> None:
    for name, child in list(net.named_children()):
        if isinstance(child, kinds):
            setattr(net, name, new())
        else:
            _replace(child, kinds, new)


# ----------------------------------------------------------------------------------------------------
# Rank correlations


def _ranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n, tied values sharing the average of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _pair(a: Sequence[float], b: Sequence[float]) -> tuple[list[float], list[float]]:
    a, b = [float(v) for v in a], [float(v) for v in b]
    if len(a) != len(b):
        raise ValueError(f"rank correlation needs two sequences of the same length, got {len(a)} and {len(b)}")
    if any(math.isnan(v) for v in a + b):
        raise ValueError("rank correlation got NaN values; drop them first")
    return a, b


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b: ``(concordant - discordant) / sqrt((n0 - ties_a)(n0 - ties_b))`` over all
    ``n0 = n(n-1)/2`` pairs (a pair tied in both counts in both tie terms). ``nan`` when either
    sequence is constant or shorter than 2."""
    a, b = _pair(a, b)
    s = untied_a = untied_b = 0
    for i in range(len(a)):
        for j in range(i):
            da = (a[i] > a[j]) - (a[i] < a[j])
            db = (b[i] > b[j]) - (b[i] < b[j])
            s += da * db
            untied_a += da != 0
            untied_b += db != 0
    return s / math.sqrt(untied_a * untied_b) if untied_a and untied_b else math.nan


def spearman_rho(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho: the Pearson correlation of the ranks (average ranks for ties). ``nan`` when
    either sequence is constant or shorter than 2."""
    a, b = _pair(a, b)
    ra, rb = _ranks(a), _ranks(b)
    n = len(ra)
    if n < 2:
        return math.nan
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = sum((x - ma) ** 2 for x in ra)
    vb = sum((y - mb) ** 2 for y in rb)
    return cov / math.sqrt(va * vb) if va and vb else math.nan


# ----------------------------------------------------------------------------------------------------
# Scoring a genome


def _synflow_proxy(model: nn.Module, x: Tensor) -> float:
    return synflow(model, (1, *x.shape[1:]))  # batch 1, as the papers


PROXIES: dict[str, Callable[[nn.Module, Tensor], float]] = {"naswot": naswot, "synflow": _synflow_proxy}
"""Each proxy as ``f(model, x) -> float`` where ``x`` is a minibatch of inputs (synflow uses only its shape)."""


def score(genome: object, name: str, *, num_classes: int = 10, in_channels: int = 3, resolution: int = 32,
          batch: int = 64, seed: int = 0, x: Tensor | None = None) -> float:
    """Build ``genome`` under ``torch.manual_seed(seed)`` (``nas.build``) and score it with proxy ``name``.

    Args:
        genome: a :class:`~nas.genome.Genome` or its string form.
        name: a key of :data:`PROXIES` (``"naswot"`` or ``"synflow"``).
        num_classes, in_channels: as for :func:`nas.build`.
        resolution: the input side in pixels.
        batch: the minibatch size for NASWOT (synflow uses one all-ones image).
        seed: seeds the initial weights and, when ``x`` is not given, the random inputs.
        x: the minibatch (normalised images, B×C×H×W); ``None`` draws ``batch`` standard-normal
            images of ``in_channels``×``resolution``×``resolution`` from ``seed``.
    """
    if name not in PROXIES:
        raise ValueError(f"unknown zero-cost proxy {name!r}; known: {', '.join(PROXIES)}")
    torch.manual_seed(seed)
    model = build(genome, num_classes=num_classes, in_channels=in_channels)  # type: ignore[arg-type]
    if x is None:
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(batch, in_channels, resolution, resolution, generator=g)
    return PROXIES[name](model, x)
