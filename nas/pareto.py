"""Pareto dominance, non-dominated sorting with hypervolume-contribution ties, and the hypervolume: the
multi-objective arithmetic of the search, the successive halving and the study tables. Every function
takes objective vectors oriented for minimisation (accuracy negated)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["dominates", "hypervolume", "nondominated_order", "nondominated_ranks",
           "normalised_hypervolume", "pareto_front"]



def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_front(points: dict[int, Sequence[float]]) -> list[int]:
    """Keys of the non-dominated points (minimisation in every coordinate)."""
    return [k for k, p in points.items() if not any(dominates(q, p) for j, q in points.items() if j != k)]


def hypervolume(points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """Exact hypervolume dominated by ``points`` (minimisation) up to ``reference``, in 2 or 3 dimensions."""
    pts = [tuple(p) for p in points if all(x < r for x, r in zip(p, reference))]
    if not pts:
        return 0.0
    if len(reference) == 2:
        volume, best_y = 0.0, reference[1]
        for x, y in sorted(pts):
            if y < best_y:
                volume += (reference[0] - x) * (best_y - y)
                best_y = y
        return volume
    # 3D: sweep the third coordinate, summing 2D slices
    pts.sort(key=lambda p: p[2])
    volume = 0.0
    for i, p in enumerate(pts):
        upper = pts[i + 1][2] if i + 1 < len(pts) else reference[2]
        volume += hypervolume([q[:2] for q in pts[: i + 1]], reference[:2]) * (upper - p[2])
    return volume


def normalised_hypervolume(values: Sequence[Sequence[float]], objectives: Sequence[str], *, budget_metric: str,
                           budget: float, seen: Sequence[Sequence[float]] = ()) -> float:
    """Hypervolume of objective vectors ``values`` (as Optuna stores them: accuracy first, then costs)
    with accuracy in [0, 1] and each cost normalised by the budget when the budget counts it, else by
    the largest value in ``seen``; reference point: accuracy 0, every cost 1."""
    if not values:
        return 0.0
    scales = []
    for i, o in enumerate(objectives):
        if o == "accuracy":
            scales.append(1.0)
        elif o == budget_metric:
            scales.append(float(budget))
        else:
            scales.append(max([v[i] for v in seen] + [v[i] for v in values]) or 1.0)
    points = [[(-x if o == "accuracy" else x) / s for x, o, s in zip(v, objectives, scales)] for v in values]
    reference = [0.0 if o == "accuracy" else 1.0 for o in objectives]
    return hypervolume(points, reference)


def nondominated_ranks(points: Sequence[Sequence[float]]) -> list[int]:
    """Non-dominated sorting (Deb et al., 2002): the front each point lies on, 0 for the Pareto set, 1
    for the set that only points of front 0 dominate, and so on."""
    ranks = [-1] * len(points)
    left, rank = set(range(len(points))), 0
    while left:
        front = {i for i in left if not any(dominates(points[j], points[i]) for j in left if j != i)}
        for i in front:
            ranks[i] = rank
        left -= front
        rank += 1
    return ranks


def nondominated_order(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of ``points`` best first: by non-dominated rank; within a rank greedily by hypervolume
    contribution (each next point is the one that adds most to the hypervolume of the rank's points
    before it, as in hypervolume subset selection); then by index (earlier first). The reference point
    lies a tenth of each coordinate's range beyond the worst value (the order does not depend on the
    coordinates' scales)."""
    if not points:
        return []
    ranks = nondominated_ranks(points)
    reference = []
    for d in range(len(points[0])):
        worst, best = max(p[d] for p in points), min(p[d] for p in points)
        reference.append(worst + (0.1 * (worst - best) if worst > best else 1.0))
    order: list[int] = []
    for rank in sorted(set(ranks)):
        left = [i for i in range(len(points)) if ranks[i] == rank]
        chosen: list[Sequence[float]] = []
        while left:
            base = hypervolume(chosen, reference)
            gains = [hypervolume([*chosen, points[i]], reference) - base for i in left]
            pick = left[max(range(len(left)), key=lambda k: (gains[k], -left[k]))]
            order.append(pick)
            chosen.append(points[pick])
            left.remove(pick)
    return order
