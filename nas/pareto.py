"""Pareto dominance, the Pareto set, non-dominated sorting with hypervolume-contribution ties, and the
hypervolume: the multi-objective arithmetic of the search, the successive halving, the study tables,
the report and the notebook, in this one place. Every function takes objective vectors oriented for
minimisation (accuracy negated).

Why not Optuna's own: ``study.best_trials`` is the same set as :func:`pareto_front` over a study's
feasible finished trials, but a search's front also leaves out repeats (a network tried before, its
result reused) and is taken over tables already read (the study, the summary, the report), and
successive halving ranks the results of one rung, not a study's values; Optuna's non-dominated sorting
and hypervolume live in private modules (``optuna.study._multi_objective``, ``optuna._hypervolume``)
that may change in any release. ``tests/test_pareto.py`` checks these functions against
``study.best_trials`` and against brute force.

Costs, for n points in d objectives with a front of f points: :func:`pareto_front` O(n log n + n·f)
(a sort, then each point against the front so far, vectorised); :func:`nondominated_ranks` O(n log n)
in 2 objectives, O(n²) vectorised in more; :func:`hypervolume` O(f log f) in 2, O(f² log f) in 3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["dominates", "dominators", "hypervolume", "nondominated_order", "nondominated_ranks",
           "normalised_hypervolume", "pareto_front", "position"]


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether ``a`` is at least as good as ``b`` everywhere and better somewhere."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_front(points: Mapping[int, Sequence[float]]) -> list[int]:
    """Keys of the non-dominated points (minimisation in every coordinate), in the mapping's order;
    equal points are all kept."""
    keys = list(points)
    if not keys:
        return []
    values = np.asarray([points[k] for k in keys], dtype=float)
    on_front = np.zeros(len(keys), dtype=bool)
    front = np.empty((0, values.shape[1]))
    # in lexicographic order a point can only be dominated by one before it, and then by one on the front
    for i in np.lexsort(values.T[::-1]):
        p = values[i]
        if not (np.all(front <= p, axis=1) & np.any(front < p, axis=1)).any():  # no point of front dominates p
            on_front[i] = True
            front = np.vstack([front, p])
    return [k for k, kept in zip(keys, on_front) if kept]


def dominators(points: Sequence[Sequence[float]], front: Sequence[Sequence[float]]) -> list[int]:
    """For each of ``points``, the index of the point of ``front`` that dominates it with the best first
    coordinate (the lowest; the earliest of equals), or -1 where none does: which searched network
    beats a reference, and by how much, in the summary and the study tables."""
    if not len(points) or not len(front):
        return [-1] * len(points)
    p, f = np.asarray(points, dtype=float)[:, None, :], np.asarray(front, dtype=float)[None, :, :]
    beats = np.all(f <= p, axis=2) & np.any(f < p, axis=2)  # beats[i, j]: front[j] dominates points[i]
    first = np.where(beats, f[:, :, 0], np.inf)
    best = first.argmin(axis=1)
    return [int(j) if beats[i, j] else -1 for i, j in enumerate(best)]


def nondominated_ranks(points: Sequence[Sequence[float]]) -> list[int]:
    """Non-dominated sorting (Deb et al., 2002): the front each point lies on, 0 for the Pareto set, 1
    for the set that only points of front 0 dominate, and so on."""
    if not len(points):
        return []
    values = np.asarray(points, dtype=float)
    if values.shape[1] == 2:
        return _ranks_2d(values)
    ranks = np.full(len(values), -1)
    dominated_by = _dominating_counts(values, values)  # how many points not yet ranked dominate each
    rank = 0
    while (ranks == -1).any():
        current = np.flatnonzero((dominated_by == 0) & (ranks == -1))
        ranks[current] = rank
        dominated_by -= _dominating_counts(values[current], values)
        rank += 1
    return ranks.tolist()


def _dominating_counts(by: np.ndarray, values: np.ndarray, chunk: int = 256) -> np.ndarray:
    """For each of ``values``, how many of ``by`` dominate it (in chunks: O(chunk · n) memory)."""
    counts = np.zeros(len(values), dtype=int)
    for start in range(0, len(by), chunk):
        b = by[start:start + chunk, None, :]
        counts += (np.all(b <= values[None], axis=2) & np.any(b < values[None], axis=2)).sum(axis=0)
    return counts


def _ranks_2d(values: np.ndarray) -> list[int]:
    # sorted by (x, y), a point's rank is one more than the highest rank among the points before it that
    # dominate it; the best y of each rank so far is non-decreasing in the rank, so a binary search finds
    # the first rank whose points so far do not dominate this one
    ranks = [0] * len(values)
    best_y: list[float] = []  # the lowest y of each rank among the points seen
    last: list[tuple[float, float]] = []  # the last point given each rank (equal points do not dominate)
    for i in np.lexsort((values[:, 1], values[:, 0])):
        x, y = float(values[i, 0]), float(values[i, 1])
        lo, hi = 0, len(best_y)
        while lo < hi:  # the first rank none of whose points dominate (x, y)
            mid = (lo + hi) // 2
            if best_y[mid] < y or (best_y[mid] == y and last[mid] != (x, y)):
                lo = mid + 1
            else:
                hi = mid
        if lo == len(best_y):
            best_y.append(y)
            last.append((x, y))
        else:
            best_y[lo] = min(best_y[lo], y)
            last[lo] = (x, y)
        ranks[i] = lo
    return ranks


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


def nondominated_order(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of ``points`` best first: by non-dominated rank; within a rank greedily by hypervolume
    contribution (each next point is the one that adds most to the hypervolume of the rank's points
    before it, as in hypervolume subset selection); then by index (earlier first). The reference point
    lies a tenth of each coordinate's range beyond the worst value (the order does not depend on the
    coordinates' scales)."""
    if not len(points):
        return []
    ranks = nondominated_ranks(points)
    reference = _reference(points)
    order: list[int] = []
    for rank in sorted(set(ranks)):
        order += _greedy([i for i in range(len(points)) if ranks[i] == rank], points, reference)
    return order


def position(points: Sequence[Sequence[float]], index: int) -> int:
    """Where point ``index`` stands in :func:`nondominated_order` (0 = first), ordering only its own
    rank: the points of better ranks all come first."""
    ranks = nondominated_ranks(points)
    mine = ranks[index]
    ahead = sum(1 for r in ranks if r < mine)
    same = [i for i in range(len(points)) if ranks[i] == mine]
    return ahead + _greedy(same, points, _reference(points), until=index).index(index)


def _reference(points: Sequence[Sequence[float]]) -> list[float]:
    values = np.asarray(points, dtype=float)
    worst, best = values.max(axis=0), values.min(axis=0)
    return [float(w + (0.1 * (w - b) if w > b else 1.0)) for w, b in zip(worst, best)]


def _greedy(left: list[int], points: Sequence[Sequence[float]], reference: Sequence[float],
            until: int | None = None) -> list[int]:
    """``left`` (indices of one rank) in greedy hypervolume-contribution order, ties to the lower index;
    stops once ``until`` is placed."""
    left, order = list(left), []
    chosen: list[Sequence[float]] = []
    while left:
        base = hypervolume(chosen, reference)
        gains = [hypervolume([*chosen, points[i]], reference) - base for i in left]
        pick = left[max(range(len(left)), key=lambda k: (gains[k], -left[k]))]
        order.append(pick)
        chosen.append(points[pick])
        left.remove(pick)
        if pick == until:
            break
    return order
