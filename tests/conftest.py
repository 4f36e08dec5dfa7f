"""Shared helpers: a generator of random genomes that exercises every gene of the grammar."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import nas
from nas.fidelity import flop_counter_macs
from nas.genome import ACTIVATIONS, GATES

CHANNELS = (8, 16, 24, 32)


def random_genome(rng: random.Random, *, max_blocks: int = 5, acts: tuple[str, ...] = ACTIVATIONS,
                  norm: nas.Norm | None = None, se: bool = True, pools: tuple[str, ...] = ("max", "avg"),
                  kernels: tuple[int, ...] = (1, 3, 5, 7)) -> nas.Genome:
    """A random valid genome using every block kind and every gene: kernels 1/3/5/7, separable
    kernels, strides, dilations, paddings, groups (depthwise included), channel shuffle, pre-activation
    (with and without a bias), every norm, activation and gate, residual blocks with and without projection
    (bottlenecks in ResNet's and RegNet's arrangement), ShuffleNetV1 units, ConvNeXt blocks, dense layers,
    Inception modules, pooling, every head option (both norms) and both stochastic-depth rules."""
    if norm is None:
        norm = rng.choice([nas.Norm(), nas.Norm(eps=1e-3, momentum=0.01), nas.Norm(kind="group", groups=4),
                           nas.Norm(kind="layer"), nas.Norm(kind="instance"), nas.Norm(kind="none"),
                           nas.Norm(kind="layer2d", eps=1e-6)])
    kinds = ["conv", "ds", "ir", "fir", "res", "bot", "shuffle", "shufflev1", "fire", "dense", "inc", "cnx"]
    kinds += ["pool"] if pools else []
    blocks = []
    channels = 3
    for i in range(rng.randint(1, max_blocks)):
        kind = "conv" if i == 0 else rng.choice(kinds)
        out = rng.choice(CHANNELS)
        spatial = dict(kernel=rng.choice(kernels), stride=rng.choice([1, 1, 2]), dilation=rng.choice([1, 1, 2]),
                       separable=rng.random() < 0.3, act=rng.choice(acts))
        squeeze = None
        if se and rng.random() < 0.4:
            squeeze = nas.SqueezeExcite(rng.choice([1, 4, 8]), rng.choice(acts), rng.choice(GATES))
        if kind == "conv":
            groups = 1 if i == 0 else rng.choice([g for g in (1, 2, 4, 8, channels) if channels % g == 0 and out % g == 0])
            padding = rng.choice([None, None, 0, spatial["kernel"] // 2])
            block = nas.Conv(out=out, groups=groups, shuffle=rng.random() < 0.5, padding=padding,
                             bias=rng.random() < 0.3, pre=i > 0 and rng.random() < 0.5, **spatial)
        elif kind == "ds":
            block = nas.DepthwiseSeparable(out=out, **spatial)
        elif kind == "ir":
            expanded = rng.choice([channels, channels * 2, channels * 4, 40])
            if rng.random() < 0.5:  # make the residual path likely
                out, spatial["stride"] = channels, 1
            groups = rng.choice([g for g in (1, 1, 2, 4) if not (channels % g or expanded % g or out % g)])
            block = nas.InvertedResidual(out=out, expanded=expanded, se=squeeze, groups=groups, **spatial)
        elif kind == "fir":
            expanded = rng.choice([channels, channels * 2, channels * 4, 40])
            if rng.random() < 0.5:  # make the residual path likely
                out, spatial["stride"] = channels, 1
            block = nas.FusedInvertedResidual(out=out, expanded=expanded, **spatial)
        elif kind in ("res", "bot"):
            if rng.random() < 0.5:
                out, spatial["stride"] = channels, 1
            extra = (dict(width=rng.choice([8, 16, 32]), groups=rng.choice([1, 2, 8]), regnet=rng.random() < 0.3)
                     if kind == "bot" else {})
            cls = nas.Bottleneck if kind == "bot" else nas.Residual
            block = cls(out=out, se=squeeze, project=rng.random() < 0.3, **extra, **spatial)
        elif kind == "shuffle":
            if rng.random() < 0.5:
                out, spatial["stride"] = channels, 1
            else:
                spatial["stride"] = 2
            block = nas.ShuffleUnit(out=out, **spatial)
        elif kind == "shufflev1":
            groups = rng.choice([g for g in (1, 2, 4) if channels % g == 0])
            dense = rng.random() < 0.3
            if rng.random() < 0.5:
                out, spatial["stride"] = channels, 1
            else:
                spatial["stride"] = 2
                out = channels + rng.choice([8, 16])  # the branch's channels, divisible by the groups
            spatial["kernel"] = rng.choice([k for k in kernels if k % 2] or [3])  # the unit takes odd kernels
            block = nas.ShuffleV1Unit(out=out, width=rng.choice([8, 12, 16]) if groups < 4 else 16, groups=groups,
                                      dense=dense, **spatial)
        elif kind == "inc":
            block = random_inception(rng, spatial["act"], pools)
        elif kind == "cnx":  # keeps its channels, stride 1
            spatial["stride"] = 1
            block = nas.ConvNeXtBlock(out=channels, expanded=rng.choice([channels, channels * 4, 40]),
                                      layer_scale=rng.choice([1e-6, 0.5, 1.0]), **spatial)
        elif kind == "fire":
            block = nas.Fire(squeeze=rng.choice([4, 8]), expand1=rng.choice([4, 8, 16]), expand3=rng.choice([4, 8, 16]),
                             act=spatial["act"])
        elif kind == "dense":
            block = nas.Dense(growth=rng.choice([4, 8]), width=rng.choice([8, 16]), kernel=spatial["kernel"],
                              act=spatial["act"])
        else:
            k = rng.choice([2, 3])
            block = nas.Pool(mode=rng.choice(pools), kernel=k, stride=rng.choice([1, 2]),
                             padding=rng.choice([0, k // 2]), ceil=rng.random() < 0.5)
        blocks.append(block)
        channels = block.out_channels(channels)
    conv_classifier = rng.random() < 0.2
    pool = 1 if conv_classifier else rng.choice([1, 1, 2])
    head = nas.Head(width=rng.choice([0, 16, 64]), act=rng.choice(acts), pool=pool,
                    hidden=() if conv_classifier else tuple(rng.choice([(), (24,), (24, 12)])),
                    hidden_act=rng.choice(acts), dropout=rng.choice([0.0, 0.2]), dropout_first=rng.random() < 0.5,
                    conv_classifier=conv_classifier, norm_act=rng.random() < 0.3,
                    pooled_norm=not conv_classifier and pool == 1 and norm.kind != "instance" and rng.random() < 0.4)
    return nas.Genome(blocks=tuple(blocks), head=head, norm=norm, drop_path=rng.choice([0.0, 0.1]),
                      drop_path_to_last=rng.random() < 0.5)


def random_inception(rng: random.Random, act: str, pools: tuple[str, ...]) -> nas.Inception:
    """A random Inception module: 1 to 4 branches among a 1×1 convolution, a reduction and a k×k
    convolution, a factorised k×k (1×k then k×1), pooling then a 1×1 projection, a reduction then 1×3 and
    3×1 side by side, pooling alone; stride 1 or 2, "same" (the last step of every branch strides) or
    "valid" (every branch ends in a 3×3 stride-2 unpadded convolution or pooling). Its asymmetric kernels
    come in pairs, so that the receptive field is the same along both axes."""
    step = nas.InceptionStep
    stride, valid = rng.choice([(1, False), (1, False), (2, False), (2, True)])

    def width() -> int:
        return rng.choice(CHANNELS)

    kinds = ["1x1", "kxk", "factorised", "split"] + (["pool-proj", "pool"] if pools else [])
    branches = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(kinds)
        k = rng.choice([3, 5, 7])
        if kind == "1x1":
            steps = [[step(out=width())]]
        elif kind == "kxk":
            steps = [[step(out=width())], [step(out=width(), kernel=k)]]
        elif kind == "factorised":
            steps = [[step(out=width())], [step(out=width(), kernel=(1, k))], [step(out=width(), kernel=(k, 1))]]
        elif kind == "split":
            steps = [[step(out=width())], [step(out=width(), kernel=(1, 3)), step(out=width(), kernel=(3, 1))]]
        elif kind == "pool-proj":
            steps = [[step(mode=rng.choice(pools), kernel=3)], [step(out=width())]]
        else:
            steps = [[step(mode=rng.choice(pools), kernel=3)]]
        if valid:
            pooled = pools and rng.random() < 0.3
            last = step(mode=rng.choice(pools), kernel=3) if pooled else step(out=width(), kernel=3)
            steps.append([dataclasses.replace(last, stride=2, valid=True)])
        elif stride == 2:
            steps[-1] = [dataclasses.replace(part, stride=2) for part in steps[-1]]
        branches.append(tuple(tuple(s) for s in steps))
    if not any(part.mode == "conv" for branch in branches for s in branch for part in s):
        branches.append(((step(out=width(), stride=stride, kernel=3 if valid else 1, valid=valid),),))
    return nas.Inception(branches=tuple(branches), act=act)


flop_count_macs = flop_counter_macs


def gradient_extent(genome: nas.Genome) -> tuple[int, int]:
    """Rows and columns of input pixels that reach the centre output pixel of the features, measured by
    backpropagation in float64 on an input larger than twice the computed receptive field."""
    side = 2 * nas.count(genome, resolution=64).receptive_field + 33
    model = nas.build(genome).double().eval()
    x = torch.randn(1, 3, side, side, dtype=torch.float64, requires_grad=True)
    y = model.features(x)
    y[0, :, y.shape[2] // 2, y.shape[3] // 2].sum().backward()
    rows = (x.grad[0].abs().sum(0).sum(1) > 0).nonzero()
    cols = (x.grad[0].abs().sum(0).sum(0) > 0).nonzero()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture
def rng() -> random.Random:
    return random.Random(0)


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[Path]:
    """``folder`` made unwritable for the duration: nothing can be created, renamed or deleted in it.

    Root ignores permission bits, so as root the folder is made immutable (``chattr +i``, ext4 and most
    Linux file systems); otherwise it is made read-only (mode 0o555). Either way the folder is checked by
    trying to create a file in it, and the test fails, saying why, when neither worked: a test of
    unwritable folders that writes into them proves nothing. Undone on the way out."""
    folder.mkdir(parents=True, exist_ok=True)
    mode = folder.stat().st_mode
    immutable = os.geteuid() == 0
    how = "chattr +i (running as root, for whom permission bits do not apply)" if immutable else "chmod 0o555"
    if immutable:
        result = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.fail(f"cannot make {folder} unwritable with {how}: {result.stderr.strip()} (the file system may "
                        "not support attributes); run the tests on ext4, or as a user other than root")
    else:
        folder.chmod(0o555)
    try:
        probe = folder / ".probe"
        try:
            probe.touch()
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.fail(f"{how} did not make {folder} unwritable: a file could still be created in it")
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(mode)


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# headless and quiet: no sandbox (CI runs as root), nothing fetched from the network
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run"]


def browser() -> str | None:
    """A Chromium-family browser: $NAS_CHROMIUM, else the first on PATH."""
    return os.environ.get("NAS_CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)


def chromium_or_skip() -> str:
    """The browser for the tests that open pages; skips without one, unless CI's NAS_REQUIRE_BROWSER is set."""
    executable = browser()
    if executable is None and not os.environ.get("NAS_REQUIRE_BROWSER"):
        pytest.skip("no Chromium-family browser (apt-get install chromium); CI sets NAS_REQUIRE_BROWSER")
    assert executable, "NAS_REQUIRE_BROWSER is set but no Chromium-family browser is installed"
    return executable
