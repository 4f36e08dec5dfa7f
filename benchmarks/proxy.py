"""Does the search's proxy rank networks the way longer training does, and which proxy ranks best?

Trains a set of architectures of the ``mobile`` space (its references, random samples, and the members
of a found front when ``--study`` names a search study) on CIFAR-10 under one or more proxy protocols
(``--proxy``; by default the search's and the same at its former lr, 0.02), each with ``--proxy-seeds``,
and under a longer protocol of at least 5× the first proxy's images × epochs (12,000 images × 5 epochs
at lr 0.02 by default). Every trained network is scored on the search's 1,000 validation images (carved
from the training split, as the search does) and on CIFAR-10's 10,000 test images. Prints each
architecture's accuracies, then for each proxy Kendall τ and Spearman ρ against the longer training, the
same between two seeds of a proxy (how far it agrees with itself), and for each reference how many
sampled networks dominate it (higher accuracy at no more MACs) under each protocol.

    python benchmarks/proxy.py --threads 1 --cache proxy.json        # 20 architectures, ~75 min on 2 cores
    python benchmarks/proxy.py --proxy 4000x3 --proxy 12000x1 --proxy 4000x3:batch_size=32,lr=0.02 --cache p.json
    python benchmarks/proxy.py --part 0/2 --cache a.json & python benchmarks/proxy.py --part 1/2 --cache b.json
    python benchmarks/proxy.py --cache a.json --cache b.json          # prints the tables of both parts

A protocol is ``TRAIN_SIZExEPOCHS`` optionally followed by ``:field=value,...`` of
:class:`nas.train.TrainConfig` (``batch_size``, ``lr``, ``bn_recalibration``...); the other fields are
TrainConfig's defaults, at 32×32 on the CPU. Results are cached per architecture, protocol (its batch
size and lr spelled out, so that a cache outlives a change of the defaults) and seed in the first
``--cache`` (JSON, written atomically; the others are read only), so that an interrupted run resumes
where it stopped and parts run in parallel.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

import nas
from nas.cli import HelpFormatter, description
from nas.data import load_dataset, split
from nas.files import save_atomic
from nas.pareto import dominates
from nas.train import TrainConfig, evaluate, train
from nas.zerocost import kendall_tau, spearman_rho
from zerocost import sample_genomes  # benchmarks/zerocost.py, beside this script

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
VAL_SIZE = 1000  # what the search carves from CIFAR-10's training split
SPEC = re.compile(r"(\d+)x(\d+)(?::(.+))?")


@dataclass(frozen=True)
class Protocol:
    spec: str  # as given: TRAIN_SIZExEPOCHS[:field=value,...]
    train_size: int
    epochs: int
    overrides: tuple[tuple[str, object], ...] = ()

    @classmethod
    def parse(cls, spec: str) -> Protocol:
        match = SPEC.fullmatch(spec.strip())
        if not match:
            raise ValueError(f"protocol {spec!r}: give TRAIN_SIZExEPOCHS, optionally :field=value,... "
                             f"(e.g. 4000x3 or 4000x3:batch_size=32,lr=0.03)")
        overrides = []
        fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
        for item in filter(None, (match.group(3) or "").split(",")):
            name, _, value = item.partition("=")
            if name not in fields or name in ("epochs", "seed", "device", "threads"):
                raise ValueError(f"protocol {spec!r}: {name!r} is not a TrainConfig field this benchmark varies")
            overrides.append((name, json.loads(value) if value not in ("onecycle", "cosine") else value))
        return cls(spec.strip(), int(match.group(1)), int(match.group(2)), tuple(overrides))

    def key(self) -> str:
        """The protocol with its batch size and learning rate spelled out, so that a cached result stays
        tied to what was trained when TrainConfig's defaults change."""
        config = self.config(seed=0, flip=True, threads=None)
        fields = {"batch_size": config.batch_size, "lr": config.lr} | dict(self.overrides)
        return f"{self.train_size}x{self.epochs}:" + ",".join(f"{k}={v}" for k, v in sorted(fields.items()))

    @property
    def images(self) -> int:
        return self.train_size * self.epochs

    def config(self, *, seed: int, flip: bool, threads: int | None) -> TrainConfig:
        return TrainConfig(**{"epochs": self.epochs, "resolution": 32, "flip": flip, "device": "cpu", "seed": seed,
                              "threads": threads} | dict(self.overrides))


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


def _part(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    if not match or not int(match.group(1)) < int(match.group(2)):
        raise argparse.ArgumentTypeError(f"--part {text!r}: give K/N with 0 ≤ K < N, e.g. 0/2")
    return int(match.group(1)), int(match.group(2))


def _seeds(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--proxy-seeds {text!r}: give seeds separated by commas, e.g. 0,1") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--archs", type=int, default=20, help="architectures in all (at least the space's references)")
    parser.add_argument("--study", default=None, help="a search study folder whose front members join the set")
    parser.add_argument("--max-macs", type=float, default=600e6,
                        help="random samples of more MACs than this at 32×32 are redrawn (default: 600e6)")
    parser.add_argument("--proxy", action="append", default=None,
                        help="a proxy protocol, TRAIN_SIZExEPOCHS[:field=value,...] (repeatable; default: the "
                             "search's, 4000x3, and its former lr, 4000x3:lr=0.02); the first sets the longer "
                             "protocol's minimum")
    parser.add_argument("--proxy-seeds", type=_seeds, default=(0, 1),
                        help="seeds of each proxy, comma-separated (default: 0,1)")
    parser.add_argument("--long", default="12000x5:lr=0.02",
                        help="the longer protocol, TRAIN_SIZExEPOCHS[:field=value,...]")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampling and of the split")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--part", type=_part, default=(0, 1),
                        help="K/N: train only every N-th architecture from the K-th (default: 0/1, all of them)")
    parser.add_argument("--data-root", type=Path, default=DATA, help="a folder holding cifar10.npz")
    parser.add_argument("--cache", type=Path, action="append", default=None,
                        help="results JSON, repeatable: all are read, the first is written (default: proxy.json)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    caches = args.cache or [Path("proxy.json")]
    for cache in caches:
        if cache.suffix != ".json":
            parser.error(f"--cache {cache}: give a .json file")
    try:
        proxies = [Protocol.parse(p) for p in (args.proxy or ["4000x3", "4000x3:lr=0.02"])]
        long = Protocol.parse(args.long)
    except ValueError as e:
        parser.error(str(e))
    if long.images < 5 * proxies[0].images:
        parser.error(f"the longer protocol trains {long.images:,} images × epochs, fewer than 5× the proxy's "
                     f"{proxies[0].images:,}: raise --long")
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset("cifar10", root=args.data_root, download=False)
    mean, std = data.mean_std()
    archs = architectures(args)
    results: dict[str, dict] = {}
    for cache in reversed(caches):  # the first wins
        if cache.exists():
            results.update(json.loads(cache.read_text()))
    runs = [(p, s) for p in proxies for s in args.proxy_seeds] + [(long, 0)]
    print(f"{len(archs)} architectures; proxies {', '.join(p.spec for p in proxies)} (seeds "
          f"{', '.join(map(str, args.proxy_seeds))}); long {long.spec} ({long.images / proxies[0].images:.1f}× "
          f"the first proxy); scored on {VAL_SIZE} CIFAR-10 training images (validation) and on the "
          f"{len(data.y_test):,} test images", flush=True)

    def key(genome: nas.Genome, protocol: Protocol, seed: int) -> str:
        return f"{genome}|{protocol.key()}|{seed}"

    k, n = args.part
    first = [(p, args.proxy_seeds[0]) for p in proxies] + [(long, 0)]
    passes = [first, [run for run in runs if run not in first]]  # every network's first seed, then the others
    for (name, genome), (protocol, seed) in ((a, r) for todo in passes for a in archs[k::n] for r in todo):
        if key(genome, protocol, seed) in results:
            continue
        (x, y), (xv, yv) = split(data, val_size=VAL_SIZE, train_size=protocol.train_size, seed=args.seed)
        config = protocol.config(seed=seed, flip=data.flip, threads=args.threads)
        torch.manual_seed(seed)
        model = nas.build(genome, num_classes=data.num_classes, in_channels=data.in_channels)
        started = time.perf_counter()
        val = train(model, x, y, xv, yv, config, mean=mean, std=std).val_accuracy[-1]
        test = evaluate(model, data.x_test, data.y_test, config, mean=mean, std=std)
        results[key(genome, protocol, seed)] = {"val": val, "test": test,
                                                "seconds": round(time.perf_counter() - started, 1)}
        save_atomic(results, caches[0])
        print(f"  {name:<20} {protocol.spec:<12} seed {seed}: val {val:.4f} test {test:.4f} "
              f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    missing = [name for name, g in archs for p, s in runs if key(g, p, s) not in results]
    if missing:
        print(f"\n{len(set(missing))} architectures still to train (other --part runs, or give their --cache)")
        return 0

    def acc(genome: nas.Genome, protocol: Protocol, seed: int, on: str = "val") -> float:
        return results[key(genome, protocol, seed)][on]

    macs = {name: nas.count(g, resolution=224, num_classes=10).macs for name, g in archs}
    columns = [(p, s) for p in proxies for s in args.proxy_seeds]
    print(f"\nvalidation accuracy\n{'architecture':<20} {'MMACs':>8} "
          + " ".join(f"{p.spec + ' s' + str(s):>16}" for p, s in columns) + f" {long.spec:>10} {'long test':>10}")
    for name, g in archs:
        print(f"{name:<20} {macs[name] / 1e6:>8.1f} " + " ".join(f"{acc(g, p, s):>16.4f}" for p, s in columns)
              + f" {acc(g, long, 0):>10.4f} {acc(g, long, 0, 'test'):>10.4f}")
    print(f"\n{'agreement with the longer training':<58} {'Kendall τ':>10} {'Spearman ρ':>11}")
    for on in ("val", "test"):
        target = [acc(g, long, 0, on) for _, g in archs]
        for p in proxies:
            one = [acc(g, p, args.proxy_seeds[0], on) for _, g in archs]
            label = f"{p.spec} (seed {args.proxy_seeds[0]}) vs long, both on {on}"
            print(f"{label:<58} {kendall_tau(one, target):>10.3f} {spearman_rho(one, target):>11.3f}")
            if len(args.proxy_seeds) > 1:
                mean_seeds = [sum(acc(g, p, s, on) for s in args.proxy_seeds) / len(args.proxy_seeds) for _, g in archs]
                label = f"{p.spec} (mean of {len(args.proxy_seeds)} seeds) vs long, both on {on}"
                print(f"{label:<58} {kendall_tau(mean_seeds, target):>10.3f} {spearman_rho(mean_seeds, target):>11.3f}")
    if len(args.proxy_seeds) > 1:
        print(f"\n{'agreement with itself (validation)':<58} {'Kendall τ':>10} {'Spearman ρ':>11}")
        s0, s1 = args.proxy_seeds[:2]
        for p in proxies:
            a, b = [acc(g, p, s0) for _, g in archs], [acc(g, p, s1) for _, g in archs]
            print(f"{p.spec + f' seed {s0} vs seed {s1}':<58} {kendall_tau(a, b):>10.3f} {spearman_rho(a, b):>11.3f}")
    references = set(nas.get_space("mobile").references)
    print("\nreferences: dominated (higher validation accuracy at no more MACs) by a non-reference network?")
    for ref in sorted(references):
        verdicts = []
        for label, protocol in [(p.spec, p) for p in proxies] + [("long", long)]:
            by_name = {name: acc(g, protocol, 0 if protocol is long else args.proxy_seeds[0]) for name, g in archs}
            mine = (-by_name[ref], macs[ref])
            beaten = [n for n in by_name if n not in references and dominates((-by_name[n], macs[n]), mine)]
            verdicts.append(f"{label}: {len(beaten)}")
        print(f"  {ref:<20} " + "; ".join(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
