"""Zero-cost proxies against proxy training: do NASWOT and synflow rank ``mobile`` networks as the
search's proxy training does, and better than counting parameters or MACs?

What it measures, for ``--archs`` networks of the ``mobile`` space (sampled by Optuna's
``RandomSampler(seed=--seed)`` through ``space.sample(trial)``, keeping those of at most
``--max-macs`` MACs at the space's target resolution with 10 classes, no duplicates):

* the **proxy validation accuracy**: trained as ``nas.search`` trained a candidate by default when the
  README's numbers were measured (its ``_prepare``): CIFAR-10, ``nas.data.split(val_size=1000,
  train_size=4000, seed=0)`` of the training split, 3 epochs, batch 64, lr 0.02 (now 0.04), 32×32, CPU, with
  ``threads=1``, the weights built under ``torch.manual_seed(i)`` and trained with ``seed=i`` for the
  i-th network (the search uses seed + trial number), the accuracy after the last epoch;
* **naswot** (:func:`nas.zerocost.naswot`) and **synflow** (:func:`nas.zerocost.synflow`), each the
  median over ``--seeds`` seeds (seed s: weights built under ``torch.manual_seed(s)``, naswot on 64
  training images drawn with seed s and normalised as the trainer does, ``(x / 255 - mean) / std``),
  and synflow with ReLU6 run as ReLU (``relu6_as_relu``: ReLU6 saturates under synflow's positive
  weights, see its docstring);
* the baselines **#params** and **MACs** (``nas.count``, 10 classes) at 32×32 and at the target
  resolution.

It prints, for each score, Kendall's tau-b and Spearman's rho against the validation accuracy, the
median tau between the scores of two seeds (is the score stable?), and the time per network of each
score (all seeds, building included) against the time of the proxy training (``train`` call,
evaluation included), the ratio last.

Run (from the repository root; about 40 s per network on one core)::

    python benchmarks/zerocost.py --archs 50 --out results.json

``--out`` keeps every network's results in a JSON file (rewritten atomically after each network):
a rerun with the same file skips the networks already there, so an interrupted run resumes, and a
finished one just prints the table again.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import optuna  # noqa: E402

import nas  # noqa: E402
from nas.cli import HelpFormatter, description  # noqa: E402
from nas.data import load_dataset, normalize, split  # noqa: E402
from nas.files import save_atomic  # noqa: E402
from nas.train import TrainConfig, TrainingDiverged, train  # noqa: E402
from nas.zerocost import kendall_tau, naswot, spearman_rho, synflow  # noqa: E402

SCORES = ("naswot", "synflow", "synflow_relu6")  # computed per seed
NUM_CLASSES = 10


def sample_genomes(n: int, *, seed: int, max_macs: float, resolution: int) -> list[nas.Genome]:
    """The first ``n`` distinct ``mobile`` genomes of a seeded random sampler within the MACs cap that
    accept ``resolution``×``resolution`` inputs (the same list for the same arguments)."""
    space = nas.get_space("mobile")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed))
    genomes: list[nas.Genome] = []
    seen: set[str] = set()
    for _ in range(100 * n):
        if len(genomes) == n:
            break
        trial = study.ask()
        genome = space.sample(trial)
        study.tell(trial, 0.0)
        macs = nas.count(genome, resolution=space.target_resolution, num_classes=NUM_CLASSES).macs
        if macs > max_macs or str(genome) in seen or nas.min_resolution(genome) > resolution:
            continue
        seen.add(str(genome))
        genomes.append(genome)
    return genomes


def measure(index: int, genome: nas.Genome, data: Any, train_split: tuple, val_split: tuple, config: TrainConfig,
            seeds: int, batch: int) -> dict[str, Any]:
    """Everything about one network: scores per seed, costs, the proxy training."""
    mean, std = data.mean_std()
    x_train, y_train = train_split
    res = config.resolution
    row: dict[str, Any] = {"index": index, "genome": str(genome)}
    space = nas.get_space("mobile")
    cost = nas.count(genome, resolution=res, num_classes=NUM_CLASSES)
    row["params"] = cost.params
    row["macs"] = cost.macs
    row["macs_target"] = nas.count(genome, resolution=space.target_resolution, num_classes=NUM_CLASSES).macs
    for name in SCORES:
        row[name] = []
        row[f"{name}_seconds"] = 0.0
    for s in range(seeds):
        g = torch.Generator().manual_seed(s)
        x = normalize(x_train[torch.randperm(len(x_train), generator=g)[:batch]], mean, std)
        for name in SCORES:  # each score pays for its own build: its time is what using it alone costs
            start = time.perf_counter()
            torch.manual_seed(s)
            model = nas.build(genome, num_classes=NUM_CLASSES, in_channels=data.in_channels)
            if name == "naswot":
                value = naswot(model, x)
            else:
                value = synflow(model, (1, data.in_channels, res, res), relu6_as_relu=name == "synflow_relu6")
            row[f"{name}_seconds"] += time.perf_counter() - start
            row[name].append(value)
    torch.manual_seed(index)
    model = nas.build(genome, num_classes=NUM_CLASSES, in_channels=data.in_channels)
    start = time.perf_counter()
    try:
        result = train(model, x_train, y_train, *val_split, dataclasses.replace(config, seed=index),
                       mean=mean, std=std)
        row["val_accuracy"] = float(result.val_accuracy[-1])
        row["val_curve"] = result.val_accuracy
        row["train_seconds"] = result.seconds  # the training steps alone
    except TrainingDiverged as exc:
        row["val_accuracy"] = None
        row["error"] = str(exc)
    row["train_wall_seconds"] = time.perf_counter() - start  # the whole train() call, evaluation included
    return row


def _json_value(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)  # JSON has no inf: "inf" / "-inf"


def _median(values: list) -> float:
    return statistics.median(float(v) for v in values)


def report(rows: list[dict[str, Any]], header: str) -> None:
    trained = [r for r in rows if r.get("val_accuracy") is not None]
    acc = [r["val_accuracy"] for r in trained]
    print(header)
    print(f"networks: {len(rows)} measured, {len(trained)} trained to an accuracy"
          + (f" ({len(rows) - len(trained)} diverged, left out)" if len(rows) > len(trained) else ""))
    if len(trained) < 2:
        print("too few networks for a rank correlation")
        return
    print(f"proxy validation accuracy: min {min(acc):.3f}, median {statistics.median(acc):.3f}, max {max(acc):.3f}")
    train_time = statistics.median(r["train_wall_seconds"] for r in trained)
    print(f"\n{'score':<22} {'Kendall τ':>9} {'Spearman ρ':>10} {'seed τ':>7} {'s/net':>7} {'train/score':>11}")
    for name, label in (("naswot", "naswot"), ("synflow", "synflow"),
                        ("synflow_relu6", "synflow (ReLU6→ReLU)"), ("params", "#params"),
                        ("macs", "MACs @32×32"), ("macs_target", "MACs @target res.")):
        if name in SCORES:
            values = [_median(r[name]) for r in trained]
            seeds = len(trained[0][name])
            pairs = [(a, b) for a in range(seeds) for b in range(a)]
            seed_tau = statistics.median(kendall_tau([float(r[name][a]) for r in trained],
                                                     [float(r[name][b]) for r in trained]) for a, b in pairs)
            seconds = statistics.median(r[f"{name}_seconds"] for r in trained)
            extra = f"{seed_tau:>7.3f} {seconds:>7.2f} {train_time / seconds:>11.0f}"
        else:
            values = [float(r[name]) for r in trained]
            extra = f"{'-':>7} {'~0':>7} {'-':>11}"
        print(f"{label:<22} {kendall_tau(values, acc):>9.3f} {spearman_rho(values, acc):>10.3f} {extra}")
    print(f"{'proxy training':<22} {'':>9} {'':>10} {'':>7} {train_time:>7.1f} {1:>11}")
    print("\nτ, ρ: against the proxy validation accuracy (1 = same order, 0 = unrelated, -1 = reversed); "
          "seed τ: median τ between the score's per-seed values; s/net: median seconds per network (all "
          "seeds, building included; training: the train() call, evaluation included); "
          "train/score: how many times cheaper the score is than the training")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--archs", type=int, default=50, help="networks to measure")
    parser.add_argument("--data-root", default="../shared/data", help="folder of cifar10.npz")
    parser.add_argument("--out", type=Path, help="JSON file of per-network results; a rerun resumes from it")
    parser.add_argument("--seed", type=int, default=0, help="seed of the architecture sampler")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per zero-cost score, median taken")
    parser.add_argument("--batch", type=int, default=64, help="images in naswot's minibatch")
    parser.add_argument("--max-macs", type=float, default=600e6,
                        help="MACs cap at the space's target resolution (default: 600e6)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.out is not None and args.out.suffix != ".json":
        parser.error(f"--out {args.out}: give a .json file")
    torch.set_num_threads(1)
    command = "python benchmarks/zerocost.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None
                                                                                   else argv))
    data = load_dataset("cifar10", root=args.data_root, download=False)
    val_size = min(1000, len(data.x_train) // 5)  # as nas.search._prepare with its defaults
    train_size = min(4000, len(data.x_train) - val_size)
    train_split, val_split = split(data, val_size=val_size, train_size=train_size, seed=0)
    # the search's proxy when the README's numbers were measured (its lr is now 0.04: see nas/train/__init__.py)
    config = TrainConfig(epochs=3, batch_size=64, lr=0.02, resolution=32, device="cpu", threads=1, seed=0,
                         flip=data.flip)
    settings = {"dataset": data.name, "train_size": len(train_split[0]), "val_size": len(val_split[0]),
                "protocol": config.to_dict(), "sampler_seed": args.seed, "seeds": args.seeds, "batch": args.batch,
                "max_macs": args.max_macs, "space": "mobile"}
    rows: dict[str, dict[str, Any]] = {}
    if args.out is not None and args.out.exists():
        saved = json.loads(args.out.read_text())
        if saved.get("settings") != settings:
            print(f"error: {args.out} holds results under other settings ({saved.get('settings')}); use another "
                  f"--out", file=sys.stderr)
            return 2
        rows = {r["genome"]: r for r in saved["results"]}
    genomes = sample_genomes(args.archs, seed=args.seed, max_macs=args.max_macs, resolution=config.resolution)
    if len(genomes) < args.archs:
        print(f"note: only {len(genomes)} distinct networks within the cap were found", file=sys.stderr)
    for i, genome in enumerate(genomes):
        if str(genome) in rows:
            continue
        start = time.perf_counter()
        row = measure(i, genome, data, train_split, val_split, config, args.seeds, args.batch)
        for name in SCORES:
            row[name] = [_json_value(v) for v in row[name]]
        rows[str(genome)] = row
        if args.out is not None:
            save_atomic({"settings": settings, "results": list(rows.values())}, args.out)  # JSON: .json
        acc = row["val_accuracy"]
        print(f"[{i + 1}/{len(genomes)}] acc {'diverged' if acc is None else f'{acc:.3f}'} "
              f"naswot {_median(row['naswot']):.1f} synflow {_median(row['synflow']):.3g} "
              f"params {row['params']:,} ({time.perf_counter() - start:.0f} s)", flush=True)
    wanted = [rows[str(g)] for g in genomes]
    report(wanted, f"command: {command}\n{len(wanted)} mobile networks (RandomSampler seed {args.seed}, "
                   f"≤ {args.max_macs / 1e6:.0f}M MACs at {nas.get_space('mobile').target_resolution}×"
                   f"{nas.get_space('mobile').target_resolution}); proxy training: {settings['train_size']} "
                   f"CIFAR-10 images, {settings['val_size']} validation, 3 epochs, 32×32, 1 thread; "
                   f"torch {torch.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
