"""Search quality at equal compute: random search, multivariate TPE, NSGA-II (these three training every
candidate to the end, ``--fidelity none``) and the default, TPE with multi-objective successive halving
(``--fidelity asha``), each run with several seeds on the
same CIFAR-10 split and protocol, every run stopped at the same number of training images (``--images``:
all candidates counted, stopped and failed ones included; no references, so that every image goes to
the search). Runs of the methods alternate within a seed, so that a slow spell of the machine does not
fall on one method.

For each method it prints the median and range over seeds of the normalised hypervolume (accuracy ×
MACs / budget, as the search's summary) of the validation front, then of the same front scored with
its test accuracies, the candidates trained, and the ratio of each median to random search's, last.

    python benchmarks/search.py                       # 3 seeds, 60,000 images a run (~40 min on 2 cores)
    python benchmarks/search.py --seeds 5 --images 120K --methods random,tpe,asha
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import optuna

from nas.cli import HelpFormatter, description
from nas.pareto import normalised_hypervolume
from nas.search import SearchConfig, parse_budget, run, weights_source

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
METHODS = {  # name -> SearchConfig fields
    "random": {"sampler": "random", "fidelity": "none"},
    "tpe": {"sampler": "tpe", "fidelity": "none"},
    "nsga2": {"sampler": "nsga2", "fidelity": "none"},
    "asha": {"sampler": "tpe", "fidelity": "asha"},  # the default
}


def one_run(method: str, seed: int, args: argparse.Namespace, root: Path) -> dict[str, float]:
    config = SearchConfig(
        space=args.space, budget=parse_budget(args.budget), trials=100_000, timeout=None, seed=seed,
        references="none", dataset="cifar10", data_root=str(args.data_root), epochs=args.epochs,
        train_size=args.train_size, val_size=args.val_size, images=parse_budget(args.images, "--images"),
        studies_dir=str(root / f"{method}_{seed}"), progress=False, threads=args.threads,
        train_options={"lr": args.lr}, **METHODS[method])
    started = time.perf_counter()
    result = run(config)
    seconds = time.perf_counter() - started
    objectives = config.objectives
    val = [t.values for t in result.pareto]
    test = [[result.test_accuracy[weights_source(t)] if o == "accuracy" else v for o, v in zip(objectives, t.values)]
            for t in result.pareto]
    scale = {"budget_metric": config.budget_metric, "budget": config.budget}
    return {"val_hv": normalised_hypervolume(val, objectives, **scale),
            "test_hv": normalised_hypervolume(test, objectives, **scale),
            "trained": result.counts.get("trained", 0), "stopped": result.counts.get("stopped", 0),
            "images": result.counts.get("images", 0), "front": len(result.pareto), "seconds": seconds}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.4f} [{min(values):.4f}, {max(values):.4f}]"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, of {', '.join(METHODS)}")
    parser.add_argument("--seeds", type=int, default=3, help="runs of each method, with seeds 0 to N-1")
    parser.add_argument("--images", default="60K",
                        help="training images per run, all candidates counted (K/M/G suffixes)")
    parser.add_argument("--space", default="mobile", help="search space")
    parser.add_argument("--budget", default="300M", help="largest allowed MACs (K/M/G suffixes)")
    parser.add_argument("--epochs", type=int, default=3, help="proxy training epochs per candidate")
    parser.add_argument("--train-size", type=int, default=1000, help="training images per candidate")
    parser.add_argument("--val-size", type=int, default=500, help="validation images, carved from the training split")
    parser.add_argument("--lr", type=float, default=0.02,
                        help="peak learning rate (default: 0.02, the proxy's when the README's table was measured; "
                             "nas.search now trains at 0.04)")
    parser.add_argument("--data-root", type=Path, default=DATA, help="a folder holding cifar10.npz")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",")]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        parser.error(f"--methods: {', '.join(unknown) or 'none given'}; choose from {', '.join(METHODS)}")
    if not (args.data_root / "cifar10.npz").exists():
        parser.error(f"no cifar10.npz in {args.data_root}: give --data-root (see nas/data.py for the format)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(f"{args.space} at {args.budget} MACs, CIFAR-10 ({args.train_size} training / {args.val_size} validation "
          f"images, {args.epochs} epochs), {args.images} training images a run, seeds 0..{args.seeds - 1}",
          flush=True)
    results: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            order = methods[seed % len(methods):] + methods[:seed % len(methods)]  # rotate who goes first
            for method in order:
                r = one_run(method, seed, args, Path(tmp))
                results[method].append(r)
                print(f"  seed {seed} {method:<7} val HV {r['val_hv']:.4f}  test HV {r['test_hv']:.4f}  "
                      f"trained {r['trained']:>3}  stopped {r['stopped']:>3}  front {r['front']:>2}  "
                      f"images {r['images']:,}  {r['seconds']:.0f} s", file=sys.stderr, flush=True)
    base_val = statistics.median(r["val_hv"] for r in results.get("random", results[methods[0]]))
    base_test = statistics.median(r["test_hv"] for r in results.get("random", results[methods[0]]))
    base = "random" if "random" in results else methods[0]
    print(f"\n{'method':<8} {'val HV: median [min, max]':<28} {'test HV: median [min, max]':<28} "
          f"{'trained':>8} {'stopped':>8}  ratio to {base} (val, test)")
    for method in methods:
        rs = results[method]
        val, test = [r["val_hv"] for r in rs], [r["test_hv"] for r in rs]
        print(f"{method:<8} {spread(val):<28} {spread(test):<28} {statistics.median(r['trained'] for r in rs):>8.0f} "
              f"{statistics.median(r['stopped'] for r in rs):>8.0f}  "
              f"{statistics.median(val) / base_val:.3f}, {statistics.median(test) / base_test:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
