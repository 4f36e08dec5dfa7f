"""Proxy trainer against a minimal hand-written PyTorch loop: training throughput, side by side.

What it measures: images per second of wall time for a whole training run of the same network on
the same data, by
    * ``nas.train.train``  -- our trainer (schedule, loss checks, bookkeeping, and a per-epoch
      evaluation kept negligible: 32 validation images, batch-norm re-estimation off), timed around
      the whole call, and
    * a hand-written loop  -- what one would write by hand: plain ``torch.optim.SGD`` with the same
      momentum/Nesterov, weight decay on the same parameters, label smoothing and per-step learning
      rates; the same shuffled batches and the same augmentation (it calls the same batch preparation,
      so that both pay the same augmentation cost), no checks, no evaluation.
Both run in ONE process with the same threads and the same initial weights, alternating a few
times, which one goes first alternating too; the first pair is a warm-up and not counted. The
medians and their ratio (ours / hand-written, 1.00 = no overhead; also the median of the per-pair
ratios, steadier on a shared machine) are printed, the ratio last.

Measured on the 2-core development machine (shared, so single runs vary by ±15%): MobileNetV2 at
32×32, 2,048 CIFAR-10 images × 2 epochs, batch 64, channels-last: ours 789 img/s, hand-written
804 img/s, ratio 0.98 (1.01 median of pairs); ``--quick``: 2,878 vs 2,853 img/s, ratio 1.01 (1.00).

Data: the first ``--images`` CIFAR-10 training images of ``/work/shared/data/cifar10.npz`` (or
``--data``) when present, else random uint8 images. Model: ``nas.build`` of the mobile space's
MobileNetV2 reference at 32×32 (``--genome`` for another).

Run: ``python benchmarks/train.py`` (about 2 minutes on 2 CPU cores); ``--quick`` for a smaller model
and fewer images.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nas  # noqa: E402
from nas.cli import DEVICE_HELP, HelpFormatter, description  # noqa: E402
from nas.train import TrainConfig, _Batches, _schedule, train  # noqa: E402

MEAN, STD = (0.4915, 0.4820, 0.4462), (0.2457, 0.2433, 0.2609)  # CIFAR-10 train statistics


def load(path: Path, n: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    if path.exists():
        with np.load(path) as data:
            x = torch.from_numpy(data["x_train"][:n]).permute(0, 3, 1, 2).contiguous()
            y = torch.from_numpy(data["y_train"][:n]).long()
        return x, y, f"{path.name} (first {len(x)} training images)"
    g = torch.Generator().manual_seed(0)
    return (torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
            torch.randint(0, 10, (n,), generator=g), f"random uint8 images ({n}, {path} absent)")


def hand_written(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, config: TrainConfig) -> None:
    """The minimal loop: same batches, augmentation, optimiser and learning rates as ``train``."""
    config = config.resolved()
    device = torch.device(config.device)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model.to(device=device, memory_format=memory_format).train()
    x, y = x.to(device), y.to(device)
    batches = _Batches(x.shape, config, device, MEAN, STD)
    n, size = len(x), config.batch_size
    steps = -(-n // size) - (n % size == 1)
    lrs = _schedule(config, steps * config.epochs)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD([dict(params=decay, weight_decay=config.weight_decay),
                                 dict(params=no_decay, weight_decay=0.0)],
                                lr=config.lr, momentum=config.momentum, nesterov=True)
    step = 0
    for _ in range(config.epochs):
        order = torch.randperm(n, generator=generator).to(device)
        rows, cols = batches.epoch_indices(n, generator)
        for i in range(steps):
            for group in optimizer.param_groups:
                group["lr"] = lrs[step]
            take = order[i * size:(i + 1) * size]
            inputs = batches.augment(x[take], rows[i * size:(i + 1) * size], cols[i * size:(i + 1) * size])
            loss = F.cross_entropy(model(inputs), y[take], label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--genome", default=None, help="genome string (default: mobile space's mobilenet_v2)")
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/cifar10.npz"),
                        help="CIFAR-10 as .npz (random images when the file is absent)")
    parser.add_argument("--images", type=int, default=2048, help="training images per run")
    parser.add_argument("--epochs", type=int, default=2, help="passes over the images per run")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs of each after a warm-up pair (default: 5, 3 with --quick)")
    parser.add_argument("--device", default="cpu", help=DEVICE_HELP)
    parser.add_argument("--threads", type=int, default=None, help="torch threads for both (default: torch's choice)")
    parser.add_argument("--quick", action="store_true", help="a small genome, 1024 images, 3 repeats")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if args.quick:
        args.genome = args.genome or "conv_s2_c16 ir_c16_x32 ir_s2_c24_x64*2 ir_s2_c32_x96 head_c128"
        args.images = 1024
    args.repeats = args.repeats or (3 if args.quick else 5)
    genome = nas.as_genome(args.genome or nas.get_space("mobile").references["mobilenet_v2"])
    if args.threads:
        torch.set_num_threads(args.threads)

    x, y, source = load(args.data, args.images)
    val_x, val_y = x[:32], y[:32]
    # the evaluation work of each epoch (re-estimating batch norm on 512 images, the validation pass) is
    # not the training loop's overhead, and the hand-written loop has none: kept out of the comparison
    config = TrainConfig(epochs=args.epochs, device=args.device, bn_recalibration=0)
    resolved = config.resolved()
    print(f"data: {source}; model: {genome}")
    print(f"protocol: {config.to_dict()}")
    print(f"device {resolved.device}, channels_last={resolved.channels_last}, amp={resolved.amp}, "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}")

    torch.manual_seed(0)
    initial = nas.build(genome, num_classes=10).state_dict()

    def fresh() -> torch.nn.Module:
        model = nas.build(genome, num_classes=10)
        model.load_state_dict(initial)
        return model

    images = (len(x) - (len(x) % config.batch_size == 1)) * config.epochs
    ours, reported, theirs = [], [], []
    print(f"{'run':>4} {'ours img/s':>11} {'hand img/s':>11}   {'(ours, own count: training steps only)'}")
    for run in range(args.repeats + 1):
        timed = {}
        for who in ("ours", "hand") if run % 2 else ("hand", "ours"):  # who goes first alternates
            model = fresh()
            start = time.perf_counter()
            if who == "ours":
                result = train(model, x, y, val_x, val_y, config, mean=MEAN, std=STD)
            else:
                hand_written(model, x, y, config)
            timed[who] = images / (time.perf_counter() - start)
        a, b = timed["ours"], timed["hand"]
        print(f"{run if run else 'warm':>4} {a:>11.1f} {b:>11.1f}   ({result.images_per_second:.1f})", flush=True)
        if run:
            ours.append(a)
            reported.append(result.images_per_second)
            theirs.append(b)
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"median: ours {a:.1f} img/s (its own training-only count {statistics.median(reported):.1f}), "
          f"hand-written {b:.1f} img/s")
    paired = statistics.median(o / t for o, t in zip(ours, theirs))
    print(f"ratio (ours / hand-written): {a / b:.3f} of the medians, {paired:.3f} median of the paired runs")


if __name__ == "__main__":
    main()
