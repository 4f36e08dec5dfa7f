"""The Pareto set and non-dominated sorting at the size of a large study, against their quadratic
definitions (what ``nas.pareto`` did before), side by side in one process.

    python benchmarks/pareto.py                 # 1,000 / 3,000 / 10,000 points, 2 and 3 objectives

For each size it prints the seconds of ``pareto_front`` and ``nondominated_ranks`` and of the
definitions (each point checked against every other; fronts peeled one by one), and the ratio. The
definitions are skipped (printed as -) where they would take more than about a minute. The points
are (negated accuracy, MACs[, params]) drawn at random: a front of a few dozen, as searches have.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

from nas.cli import HelpFormatter, description
from nas.pareto import dominates, nondominated_ranks, pareto_front


def front_by_definition(points: dict[int, tuple[float, ...]]) -> list[int]:
    return [k for k, p in points.items() if not any(dominates(q, p) for q in points.values())]


def ranks_by_definition(points: list[tuple[float, ...]]) -> list[int]:
    ranks, left, rank = [-1] * len(points), set(range(len(points))), 0
    while left:
        front = {i for i in left if not any(dominates(points[j], points[i]) for j in left)}
        for i in front:
            ranks[i] = rank
        left -= front
        rank += 1
    return ranks


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--sizes", default="1000,3000,10000", help="numbers of random points, comma-separated")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random points")
    return parser


def main() -> int:
    args = build_parser().parse_args()
    print(f"{'points':>7} {'d':>2} {'front':>6} {'ranks':>6} | {'pareto_front s':>14} {'definition s':>12} "
          f"{'ratio':>7} | {'ranks s':>8} {'definition s':>12} {'ratio':>7}")
    for d in (2, 3):
        for n in (int(s) for s in args.sizes.split(",")):
            rng = random.Random(args.seed)
            points = [(-rng.random(), rng.random() * 3e8, rng.random() * 5e6)[:d] for _ in range(n)]
            fast_front, front = timed(lambda: pareto_front(dict(enumerate(points))))
            fast_ranks, ranks = timed(lambda: nondominated_ranks(points))
            slow_front = slow_ranks = None
            if n <= 3000:  # the definitions grow as n² (ranks: n² per front): 10,000 takes minutes
                slow_front, expected = timed(lambda: front_by_definition(dict(enumerate(points))))
                assert front == expected
            if n <= 1000:
                slow_ranks, expected_ranks = timed(lambda: ranks_by_definition(points))
                assert ranks == expected_ranks

            def cell(slow: float | None, fast: float) -> str:
                return f"{'-':>12} {'-':>7}" if slow is None else f"{slow:>12.3f} {slow / fast:>6.0f}×"

            print(f"{n:>7} {d:>2} {len(front):>6} {max(ranks) + 1:>6} | {fast_front:>14.3f} "
                  f"{cell(slow_front, fast_front)} | {fast_ranks:>8.3f} {cell(slow_ranks, fast_ranks)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
