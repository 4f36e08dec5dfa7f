"""Workers on one machine: candidates trained per hour with 1, 2 (and, with 4+ cores, 4) worker
processes sharing one study, against one worker with all the threads, side by side.

What it measures: ``python -m nas.search --workers N`` on a fresh SQLite study, the same command
for every N but ``--workers``; throughput is the candidates trained divided by the wall time from the
first trial's start to the last trial's end, as the study records them (process start-up and the
final test evaluation aside, the same for every N). ``--sampler random`` and the per-trial seeds make
every run train the very same networks, so the runs differ only in how the work is spread. One
worker gets all the cores (``--threads`` = cores); N workers get cores / N threads each, as
``--workers`` divides them. The configurations alternate over ``--repeats`` rounds (this machine is
noisy); medians and ranges are printed, and last the efficiency: the median throughput of N workers
over that of one.

Measured on the 2-core development machine (CIFAR-10, 8 candidates of 2 epochs on 2,000 images, 3
rounds): one worker with 2 threads 234 candidates per hour (226-265), 2 workers with 1 thread each 338
(337-345): efficiency 1.45.

Data: CIFAR-10 from ``../shared/data/cifar10.npz`` when present (``--data-root``), else the offline
``digits``. Run: ``python benchmarks/workers.py`` (about 10 minutes on 2 cores); ``--quick`` for a
smaller protocol and fewer rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

from nas.cli import HelpFormatter, description

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def one_run(workers: int, args: argparse.Namespace, data: list[str], *, divided: bool = True
            ) -> tuple[float, int, float]:
    """(candidates per hour, candidates trained, seconds) of one search with ``workers`` processes, each
    with cores / workers threads (``divided``) or with every core (what separate processes started by
    hand would take)."""
    with tempfile.TemporaryDirectory() as tmp:
        threads = max(1, cores() // workers) if divided else cores()
        command = [sys.executable, "-m", "nas.search", "--space", "mobile", "--budget", "10G", "--references", "none",
                   "--sampler", "random", "--fidelity", "none", "--seed", "0", "--trials", str(args.trials),
                   "--epochs", str(args.epochs),
                   "--train-size", str(args.train_size), "--val-size", str(args.val_size), "--workers", str(workers),
                   "--threads", str(threads), "--study-name", "bench", "--timeout", "0", "--no-progress",
                   "--studies-dir", str(Path(tmp) / "studies"), *data]
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        study = optuna.load_study(study_name="bench", storage=f"sqlite:///{Path(tmp) / 'studies' / 'bench' / 'study.db'}")
        trained = [t for t in study.trials if str(t.user_attrs.get("status", "")).startswith("trained")]
        span = (max(t.datetime_complete for t in trained) - min(t.datetime_start for t in trained)).total_seconds()
        print(f"  {workers} worker(s) × {threads} thread(s): {len(trained)} trained in {span:.1f} s of search "
              f"({wall:.1f} s wall)", flush=True)
        return len(trained) / span * 3600, len(trained), span


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="rounds over the configurations")
    parser.add_argument("--trials", type=int, default=8, help="candidates per run")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs per candidate")
    parser.add_argument("--train-size", type=int, default=2000, help="training images per candidate")
    parser.add_argument("--val-size", type=int, default=500, help="validation images, carved from the training split")
    parser.add_argument("--data-root", default=str(SHARED),
                        help="folder holding cifar10.npz (digits when it is absent)")
    parser.add_argument("--quick", action="store_true", help="1 epoch of 600 images, 6 candidates, 2 rounds")
    parser.add_argument("--undivided", action="store_true",
                        help="also 2 workers that each take every core, as two processes started by hand would")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if args.quick:
        args.repeats, args.trials, args.epochs, args.train_size, args.val_size = 2, 6, 1, 600, 200
    cifar = Path(args.data_root) / "cifar10.npz"
    data = ["--dataset", "cifar10", "--data-root", args.data_root] if cifar.exists() else ["--dataset", "digits"]
    counts = [1, 2] + ([4] if cores() >= 4 else [])
    print(f"{cores()} cores; data: {data[1]}; {args.trials} candidates of {args.epochs} epoch(s) on "
          f"{args.train_size} images per run; {args.repeats} rounds", flush=True)
    configurations = [(n, True) for n in counts] + ([(2, False)] if args.undivided else [])
    label = {c: f"{c[0]} worker(s)" + ("" if c[1] else ", every core each") for c in configurations}
    rates: dict[tuple[int, bool], list[float]] = {c: [] for c in configurations}
    for r in range(args.repeats):
        order = configurations if r % 2 == 0 else configurations[::-1]  # alternate who goes first
        print(f"round {r + 1}", flush=True)
        for n, divided in order:
            rates[n, divided].append(one_run(n, args, data, divided=divided)[0])
    base = statistics.median(rates[1, True])
    print("\ncandidates trained per hour (median, range over rounds):")
    for c in configurations:
        print(f"  {label[c]:<28} {statistics.median(rates[c]):8.0f}  [{min(rates[c]):.0f} – {max(rates[c]):.0f}]")
    print("efficiency (median throughput / one worker with all threads):")
    for c in configurations[1:]:
        print(f"  {label[c]:<28} {statistics.median(rates[c]) / base:.2f}")


if __name__ == "__main__":
    main()
