"""Does the search's proxy rank networks the way longer training does?

Trains a set of architectures of the ``mobile`` space (its references, random samples, and the members
of a found front when ``--study`` names a search study) on CIFAR-10 under the search's default proxy
protocol (4,000 training images, 3 epochs, 32×32, the validation images the search carves) twice, with
two seeds, and under a longer protocol of at least 5× the images × epochs (12,000 images × 5 epochs by
default), scored on the same validation images. Prints each architecture's accuracies, then Kendall τ
and Spearman ρ between the proxy and the longer training, the same between the proxy's two seeds (how
far the proxy agrees with itself: the ceiling of any agreement), and for each reference whether a
searched or sampled network still dominates it (higher accuracy at no more MACs) after the longer
training.

    python benchmarks/proxy.py                        # 20 architectures, ~90 min on 2 cores
    python benchmarks/proxy.py --study studies/mobile_300M_cifar10 --archs 25 --cache proxy.json

Results are cached per architecture, protocol and seed in ``--cache`` (JSON, written atomically), so
that an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

import nas
from nas.data import load_dataset, split
from nas.files import save_atomic
from nas.pareto import dominates
from nas.train import TrainConfig, train
from nas.zerocost import kendall_tau, spearman_rho
from zerocost import sample_genomes  # benchmarks/zerocost.py, beside this script

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
VAL_SIZE = 1000  # what the search carves from CIFAR-10's training split


@dataclass(frozen=True)
class Protocol:
    name: str
    train_size: int
    epochs: int

    @property
    def images(self) -> int:
        return self.train_size * self.epochs


def architectures(args: argparse.Namespace) -> list[tuple[str, nas.Genome]]:
    """(name, genome): the references, the non-reference members of --study's front, then random samples
    of the space within --max-macs, until --archs."""
    space = nas.get_space("mobile")
    archs = list(space.references.items())
    if args.study:
        from nas.study import open_study

        study = open_study(args.study)
        front = study.pareto()
        archs += [(f"trial {int(r.number)}", nas.Genome.parse(r.genome)) for r in front.itertuples() if not r.reference]
    # random samples as benchmarks/zerocost.py draws them (distinct, within the cap, fit 32×32 inputs)
    taken = {str(g) for _, g in archs}
    sampled = [g for g in sample_genomes(args.archs, seed=args.seed, max_macs=args.max_macs, resolution=32)
               if str(g) not in taken]
    archs += [(f"random {k}", g) for k, g in enumerate(sampled[:max(0, args.archs - len(archs))])]
    return archs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", type=int, default=20, help="architectures in all (at least the 5 references)")
    parser.add_argument("--study", default=None, help="a search study folder whose front members join the set")
    parser.add_argument("--max-macs", type=float, default=600e6, help="random samples above this are redrawn")
    parser.add_argument("--long-train-size", type=int, default=12000)
    parser.add_argument("--long-epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampling and of the split")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data-root", type=Path, default=DATA, help="a folder holding cifar10.npz")
    parser.add_argument("--cache", type=Path, default=Path("proxy_results.json"))
    args = parser.parse_args(argv)
    if args.cache.suffix != ".json":
        parser.error(f"--cache {args.cache}: give a .json file")
    proxy = Protocol("proxy", 4000, 3)
    long = Protocol("long", args.long_train_size, args.long_epochs)
    if long.images < 5 * proxy.images:
        parser.error(f"the longer protocol trains {long.images:,} images × epochs, fewer than 5× the proxy's "
                     f"{proxy.images:,}: raise --long-train-size or --long-epochs")
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset("cifar10", root=args.data_root, download=False)
    mean, std = data.mean_std()
    archs = architectures(args)
    results: dict[str, float] = json.loads(args.cache.read_text()) if args.cache.exists() else {}
    runs = [(proxy, 0), (proxy, 1), (long, 0)]
    print(f"{len(archs)} architectures; proxy {proxy.train_size} images × {proxy.epochs} epochs (seeds 0, 1), "
          f"long {long.train_size} × {long.epochs} ({long.images / proxy.images:.1f}×); validation: {VAL_SIZE} "
          f"CIFAR-10 training images", flush=True)
    for name, genome in archs:
        for protocol, seed in runs:
            key = f"{genome}|{protocol.train_size}x{protocol.epochs}|{seed}"
            if key in results:
                continue
            (x, y), (xv, yv) = split(data, val_size=VAL_SIZE, train_size=protocol.train_size, seed=args.seed)
            config = TrainConfig(epochs=protocol.epochs, resolution=32, flip=data.flip, device="cpu", seed=seed,
                                 threads=args.threads)
            torch.manual_seed(seed)
            model = nas.build(genome, num_classes=data.num_classes, in_channels=data.in_channels)
            started = time.perf_counter()
            results[key] = train(model, x, y, xv, yv, config, mean=mean, std=std).val_accuracy[-1]
            save_atomic(results, args.cache)
            print(f"  {name:<20} {protocol.name:<5} seed {seed}: {results[key]:.4f} "
                  f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)

    def acc(genome: nas.Genome, protocol: Protocol, seed: int) -> float:
        return results[f"{genome}|{protocol.train_size}x{protocol.epochs}|{seed}"]

    macs = {name: nas.count(g, resolution=224, num_classes=10).macs for name, g in archs}
    print(f"\n{'architecture':<20} {'MMACs':>8} {'proxy s0':>9} {'proxy s1':>9} {'long':>7}")
    for name, g in archs:
        print(f"{name:<20} {macs[name] / 1e6:>8.1f} {acc(g, proxy, 0):>9.4f} {acc(g, proxy, 1):>9.4f} "
              f"{acc(g, long, 0):>7.4f}")
    p0 = [acc(g, proxy, 0) for _, g in archs]
    p1 = [acc(g, proxy, 1) for _, g in archs]
    mean_proxy = [(a + b) / 2 for a, b in zip(p0, p1)]
    lg = [acc(g, long, 0) for _, g in archs]
    print(f"\n{'agreement':<36} {'Kendall τ':>10} {'Spearman ρ':>11}")
    for label, a, b in (("proxy (seed 0) vs long", p0, lg), ("proxy (mean of 2 seeds) vs long", mean_proxy, lg),
                        ("proxy seed 0 vs proxy seed 1", p0, p1)):
        print(f"{label:<36} {kendall_tau(a, b):>10.3f} {spearman_rho(a, b):>11.3f}")
    references = set(nas.get_space("mobile").references)
    print("\nreferences: dominated (higher accuracy at no more MACs) by a non-reference network?")
    for ref in sorted(references):
        verdicts = []
        for label, scores in (("proxy", p0), ("long", lg)):
            by_name = dict(zip([n for n, _ in archs], scores))
            mine = (-by_name[ref], macs[ref])
            beaten = [n for n in by_name if n not in references and dominates((-by_name[n], macs[n]), mine)]
            verdicts.append(f"{label}: {', '.join(beaten) if beaten else 'no'}")
        print(f"  {ref:<20} " + "; ".join(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
