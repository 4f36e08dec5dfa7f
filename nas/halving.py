"""Asynchronous successive halving for multi-objective searches, after MO-ASHA (Schmucker et al., 2021,
"Multi-objective Asynchronous Successive Halving").

Every candidate is trained under the full protocol (its learning-rate schedule spans all the epochs),
but it is judged at rungs: after ``r``, ``r·η``, ``r·η²``… epochs. At a rung, the results recorded
there so far (the candidate's own included) are ordered by non-dominated sorting over validation
accuracy at that rung and the costs, hypervolume contribution breaking ties within a front (greedily:
the point that adds most to the hypervolume of those before it), then trial number (see
:func:`nas.pareto.nondominated_order`); the candidate goes on when it is among the best
``max(1, n // η)`` of the ``n`` results, and stops otherwise. This is ASHA's *stopping* variant (as
Optuna's ``SuccessiveHalvingPruner`` and Syne Tune's default ``MOASHA``): decisions are made as results
arrive, without waiting for a rung to fill, so that any number of workers keep busy, and each decision
is recorded with its numbers. A candidate stopped at a rung is never a result of the full protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .pareto import position

__all__ = ["Decision", "Halving", "judge"]


@dataclass(frozen=True)
class Halving:
    """The rungs of one protocol: ``rungs`` are the epochs after which a candidate is judged, the last one
    the protocol's full length (reaching it is finishing)."""

    eta: int
    rungs: tuple[int, ...]

    @classmethod
    def of(cls, epochs: int, *, eta: int = 3, min_epochs: int = 1) -> Halving:
        """Rungs ``min_epochs · η^k`` below ``epochs``, then ``epochs``. A :class:`ValueError` names the
        setting that leaves nothing to halve."""
        if eta < 2:
            raise ValueError(f"--eta {eta}: the reduction factor must be at least 2 (3 keeps the best third "
                             "at each rung)")
        if not 1 <= min_epochs < epochs:
            raise ValueError(f"--min-epochs {min_epochs} must be at least 1 and below --epochs {epochs}: "
                             "successive halving needs a first rung before the end of the training "
                             f"(give --epochs {max(min_epochs * eta, 2)} or more, or --fidelity none)")
        rungs, r = [], min_epochs
        while r < epochs:
            rungs.append(r)
            r *= eta
        return cls(eta=eta, rungs=(*rungs, epochs))

    def __str__(self) -> str:
        return f"asha eta={self.eta} rungs={','.join(map(str, self.rungs))}"

    def judged(self, epoch: int) -> bool:
        """Whether a candidate is judged after ``epoch`` (the last rung is the end, not a judgement)."""
        return epoch in self.rungs[:-1]


@dataclass(frozen=True)
class Decision:
    """One judgement at a rung: the candidate's position (0 = best) among ``of`` results, of which the
    best ``kept`` go on."""

    epochs: int
    position: int
    of: int
    kept: int

    @property
    def promoted(self) -> bool:
        return self.position < self.kept

    def __str__(self) -> str:
        return (f"rung {self.epochs}: {_ordinal(self.position + 1)} of {self.of}, the best {self.kept} "
                f"go on")


def judge(results: Mapping[int, Sequence[float]], number: int, *, eta: int, epochs: int) -> Decision:
    """Judge trial ``number`` at the rung of ``epochs`` among ``results`` (trial number -> objective
    vector at that rung, oriented for minimisation, ``number``'s own included)."""
    if number not in results:
        raise KeyError(f"trial {number} has no result at the rung of {epochs} epochs")
    numbers = sorted(results)
    where = position([results[n] for n in numbers], numbers.index(number))
    return Decision(epochs=epochs, position=where, of=len(numbers), kept=max(1, len(numbers) // eta))


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
