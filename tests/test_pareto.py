"""nas.pareto: the Pareto set, non-dominated sorting, the dominating network and the hypervolume,
against their definitions (brute force, on points with many ties and duplicates) and against Optuna's
``study.best_trials``; and fast enough for a study of 10,000 trials."""

from __future__ import annotations

import itertools
import random

import optuna
import pytest

from nas.pareto import (
    dominates,
    dominators,
    hypervolume,
    nondominated_order,
    nondominated_ranks,
    pareto_front,
    position,
)

from benchmarks.pareto import front_by_definition, ranks_by_definition


def points(rng: random.Random, n: int, d: int, grid: int) -> list[tuple[float, ...]]:
    """Random points on a small grid: ties in every coordinate, and duplicates."""
    return [tuple(float(rng.randrange(grid)) for _ in range(d)) for _ in range(n)]


@pytest.mark.parametrize("d", [2, 3])
def test_front_and_ranks_match_the_definition(d: int) -> None:
    rng = random.Random(d)
    for n, grid in [(0, 5), (1, 5), (2, 1), (30, 4), (200, 8), (300, 50)]:
        pts = points(rng, n, d, grid)
        keyed = {10 * i + 3: p for i, p in enumerate(pts)}  # keys are trial numbers, not positions
        assert pareto_front(keyed) == front_by_definition(keyed)
        assert nondominated_ranks(pts) == ranks_by_definition(pts)


def test_small_cases_by_hand() -> None:
    assert sorted(pareto_front({0: (0.0, 0.5), 1: (0.5, 0.0), 2: (0.6, 0.6), 3: (0.25, 0.25)})) == [0, 1, 3]
    assert pareto_front({5: (1.0, 1.0), 7: (1.0, 1.0)}) == [5, 7]  # equal points do not dominate each other
    assert nondominated_ranks([(2.0, 2.0), (1.0, 1.0), (0.0, 3.0), (3.0, 3.0)]) == [1, 0, 0, 2]
    assert nondominated_order([(0.0, 1.0), (1.0, 0.0), (2.0, 2.0)])[-1] == 2


def test_position_is_the_place_in_the_order() -> None:
    rng = random.Random(1)
    for d in (2, 3):
        pts = points(rng, 40, d, 6)
        order = nondominated_order(pts)
        assert [position(pts, i) for i in range(len(pts))] == [order.index(i) for i in range(len(pts))]


def test_dominators_name_the_best_first_coordinate() -> None:
    front = [(-0.5, 10.0), (-0.6, 20.0), (-0.6, 20.0), (-0.4, 5.0)]
    # (-0.3, 30) is dominated by all: the most accurate (lowest first coordinate), the earliest of equals
    assert dominators([(-0.3, 30.0), (-0.7, 1.0), (-0.45, 10.0), (-0.5, 10.0)], front) == [1, -1, 0, -1]
    assert dominators([], front) == [] and dominators([(0.0, 0.0)], []) == [-1]
    rng = random.Random(2)
    pts, fr = points(rng, 60, 3, 5), points(rng, 15, 3, 5)
    for p, j in zip(pts, dominators(pts, fr)):
        beating = [i for i, q in enumerate(fr) if dominates(q, p)]
        assert j == (min(beating, key=lambda i: (fr[i][0], i)) if beating else -1)


def test_front_is_optunas_best_trials() -> None:
    # the same set as Optuna's own, over feasible finished trials (maximised accuracy, minimised cost)
    rng = random.Random(3)
    study = optuna.create_study(directions=["maximize", "minimize"])
    feasible = {}
    for number in range(300):
        accuracy, cost = rng.randrange(20) / 20, float(rng.randrange(30))
        over = rng.random() < 0.2
        study.add_trial(optuna.trial.create_trial(values=[accuracy, cost], constraints={
            "budget": 1.0 if over else -1.0}))
        if not over:
            feasible[number] = (-accuracy, cost)
    assert pareto_front(feasible) == sorted(t.number for t in study.best_trials)


def brute_volume(pts: list[tuple[float, ...]], reference: tuple[int, ...]) -> int:
    """Unit cells of the grid below ``reference`` that some point dominates (weakly)."""
    cells = itertools.product(*(range(r) for r in reference))
    return sum(any(all(p[k] <= c[k] for k in range(len(c))) for p in pts) for c in cells)


@pytest.mark.parametrize("d", [2, 3])
def test_hypervolume_matches_the_definition(d: int) -> None:
    rng = random.Random(4 + d)
    reference = (6,) * d
    for n in (0, 1, 5, 20):
        pts = points(rng, n, d, 8)  # some beyond the reference point: they add nothing
        assert hypervolume(pts, reference) == pytest.approx(brute_volume(pts, reference))
    # by hand: union of the boxes [x, 1] × [y, 1], slabs x in [0, .25), [.25, .5), [.5, 1]
    assert hypervolume([(0.0, 0.5), (0.5, 0.0), (0.25, 0.25)], (1.0, 1.0)) == pytest.approx(
        0.25 * 0.5 + 0.25 * 0.75 + 0.5 * 1.0)
    # two boxes minus their overlap [.5, 1] × [.75, 1] × [.75, 1]
    assert hypervolume([(0.5, 0.5, 0.5), (0.0, 0.75, 0.75)], (1, 1, 1)) == pytest.approx(
        0.125 + 1 * 0.25 * 0.25 - 0.5 * 0.25 * 0.25)


def test_ten_thousand_trials() -> None:
    # a study of 10,000 trials: the front and the ranks of a rung are computed, not given up on (the
    # quadratic versions took minutes; see benchmarks/pareto.py for the times)
    rng = random.Random(5)
    pts = [(-rng.random(), rng.random() * 3e8) for _ in range(10_000)]
    front = pareto_front(dict(enumerate(pts)))
    assert front == sorted(front) and all(not any(dominates(pts[j], pts[i]) for j in front) for i in front)
    ranks = nondominated_ranks(pts)
    assert max(ranks) > 10 and {ranks[i] for i in front} == {0}
    assert 0 <= position(pts, front[0]) < len(front)
