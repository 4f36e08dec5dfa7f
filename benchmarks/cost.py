"""Cost model against torch: speed and fidelity, side by side in one process.

Speed: for every reference of every space, at the space's target resolution, batch 1,
    * ``nas.count(genome)``  -- the analytic count (no weights, no tensors), and
    * build + FlopCounterMode -- ``nas.build(genome)`` then one forward pass under
      ``torch.utils.flop_counter.FlopCounterMode`` (what one would do without a cost model).
Medians of repeated runs; both give the same MACs (checked here). The ratio is printed last.

Fidelity: for every torchvision network the spaces reproduce (references and other family members),
parameters, MACs and logits against torchvision (see ``nas.fidelity``).

Run: ``python benchmarks/cost.py`` (``--quick`` for fewer repeats and references only).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nas  # noqa: E402
from nas.cli import HelpFormatter, description  # noqa: E402
from nas.fidelity import flop_counter_macs, torchvision_fidelity  # noqa: E402


def median_ms(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def speed(repeats: int) -> float:
    print(f"speed: median ms per call at the space's target resolution (torch threads: {torch.get_num_threads()})")
    print(f"{'space':<8} {'network':<22} {'nas.count':>10} {'build+FlopCounter':>18} {'ratio':>8}")
    ratios = []
    for space_name in nas.list_spaces():
        space = nas.get_space(space_name)
        r = space.target_resolution
        for name, genome in space.references.items():
            x = torch.randn(1, 3, r, r)

            def baseline() -> int:
                with torch.no_grad():
                    return flop_counter_macs(nas.build(genome).eval(), x)

            assert baseline() == nas.count(genome, resolution=r).macs
            ours = median_ms(lambda: nas.count(genome, resolution=r), repeats * 20)
            theirs = median_ms(baseline, repeats)
            ratios.append(theirs / ours)
            print(f"{space_name:<8} {name:<22} {ours:>10.3f} {theirs:>18.1f} {theirs / ours:>7.0f}x")
    return statistics.median(ratios), min(ratios)


def fidelity(quick: bool) -> None:
    print("\nfidelity against torchvision (params and MACs at the weights' crop size; logits at 64×64, or the "
          "smallest input the network takes):")
    print(f"{'network':<26} {'res':>4} {'params':>11} {'tv params':>11} {'meta':>11} "
          f"{'GMACs':>8} {'tv GMACs':>9} {'_ops':>7} {'max|Δlogit|/max':>16} {'exact':>6}")
    for space_name in nas.list_spaces():
        space = nas.get_space(space_name)
        table = space.torchvision_members()
        if quick:
            table = {name: row for name, row in table.items() if name in space.references}
        for name, (genome, builder, kwargs) in table.items():
            f = torchvision_fidelity(genome, builder, **kwargs)
            meta = "-" if f.meta_params is None else f"{f.meta_params:,}"
            ops = "-" if f.meta_gmacs is None else f"{f.meta_gmacs:.3f}"
            print(f"{name:<26} {f.resolution:>4} {f.params:>11,} {f.torchvision_params:>11,} {meta:>11} "
                  f"{f.macs / 1e9:>8.4f} {f.torchvision_macs / 1e9:>9.4f} {ops:>7} {f.max_logit_diff:>16.1e} "
                  f"{'yes' if f.exact else 'NO':>6}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats; references only")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs of build + FlopCounterMode per network; nas.count runs 20× more (default: 7, "
                             "3 with --quick)")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    repeats = args.repeats or (3 if args.quick else 7)
    fidelity(args.quick)
    print()
    median_ratio, worst = speed(repeats)
    print(f"\ncount vs build+FlopCounterMode speed ratio: median {median_ratio:.0f}x, worst {worst:.0f}x")


if __name__ == "__main__":
    main()
