"""Reading a search: the Python API behind ``nas.report``, ``nas.export``, ``nas.train`` and the notebook.

>>> from nas.study import open_study
>>> study = open_study("studies/mobile_300M_cifar10")     # a study folder (or storage=..., name=...)
>>> study.trials()                                        # one row per trial, a pandas DataFrame
>>> study.pareto()                                        # the Pareto set, cheapest first
>>> study.references()                                    # the hand-designed networks, trained alike
>>> model = study.model(19)                               # trial 19 as an nn.Module, with its weights

Everything here reads; nothing changes the study. The computed tables are what the report draws
(:mod:`nas.plots`), so a notebook and ``python -m nas.report`` show the same numbers.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from .genome import FusedInvertedResidual, Genome, InvertedResidual, Pool
from .pareto import dominators, normalised_hypervolume, pareto_front
from .search import feasible, front_trials, held_out_accuracies, trial_outcomes, weights_source
from .storage import StorageError, display_url, resolve_url

__all__ = ["Study", "StudyError", "genome_choices", "open_study"]

_STATES = optuna.trial.TrialState
_DEFAULT_STUDIES = Path("studies")  # open_study's default studies_dir, the only one looked for in parent folders


class StudyError(ValueError):
    """A study or trial that cannot be read; the message names what was asked for and the fix."""


def open_study(study: str | os.PathLike | None = None, *, storage: str | None = None, name: str | None = None,
               studies_dir: str | os.PathLike = "studies") -> Study:
    """Open a search study for reading.

    Args:
        study: a study folder (``studies/mobile_300M_cifar10``, holding ``study.db``), its ``study.db``
            file, or a bare study name whose folder is under ``studies_dir``. Leave it out to open
            ``name`` in ``storage``. With the default ``studies_dir``, a relative ``studies/<name>`` or a
            bare name that is not under the working folder is looked for in the ``studies/`` folders of
            its parents, nearest first: a notebook run from ``notebooks/`` opens the project's studies.
        storage: an Optuna storage URL (``sqlite:///...``, ``postgresql://...``) when the study does
            not live in a folder's ``study.db``.
        name: the study name inside the storage; needed only when the storage holds several studies.
        studies_dir: where the search keeps study folders (weights live in ``<studies_dir>/<name>/weights``).

    Raises:
        StudyError: no such folder, file, storage or study (the message lists what exists).
    """
    folder: Path | None = None
    if study is not None:
        path = _study_path(study, studies_dir)
        if path.is_file():
            folder, db = path.parent, path
        elif path.is_dir():
            folder, db = path, path / "study.db"
            if not db.exists() and storage is None:
                raise StudyError(f"{str(study)!r} is a folder without a study.db: give the folder that "
                                 "`python -m nas.search` wrote (studies/<name>/), or --storage URL --study-name NAME")
        if storage is None:
            storage = f"sqlite:///{db}"
    if storage is None:
        raise StudyError("give a study folder, or --storage URL (with --study-name NAME)")
    try:
        storage = resolve_url(storage)
    except StorageError as exc:
        raise StudyError(str(exc)) from None
    try:
        summaries = optuna.study.get_all_study_summaries(storage, include_best_trial=False)
    except Exception as exc:  # noqa: BLE001 - any storage problem is the user's to fix
        raise StudyError(f"cannot read the storage {display_url(storage)!r}: {exc}") from None
    names = [s.study_name for s in summaries]
    if name is None:
        if folder is not None and folder.name in names:
            name = folder.name
        elif len(names) == 1:
            name = names[0]
        elif not names:
            raise StudyError(f"the storage {display_url(storage)!r} holds no study yet: run `python -m nas.search` first")
        else:
            raise StudyError(f"the storage {display_url(storage)!r} holds {len(names)} studies ({', '.join(names)}): "
                             "name one with --study-name")
    elif name not in names:
        raise StudyError(f"no study named {name!r} in {display_url(storage)!r}; it holds: {', '.join(names) or 'none'}")
    if folder is None:
        folder = Path(studies_dir) / name
    return Study(optuna.load_study(study_name=name, storage=storage), storage=storage, folder=folder)


def _study_path(study: str | os.PathLike, studies_dir: str | os.PathLike) -> Path:
    """Where ``study`` is: the path as given, a bare name under ``studies_dir``, or (with the default
    ``studies_dir`` only) ``studies/<name>`` in the nearest parent of the working folder that holds it, so that
    ``"studies/<name>"`` means the same from the project root and from ``notebooks/``, where Jupyter starts.

    Raises:
        StudyError: none of these exists; the message lists every place looked at and the studies there.
    """
    path = Path(study)
    bare = len(path.parts) == 1 and not path.is_absolute()
    shelves = [Path(studies_dir)]  # the studies/ folders looked in, nearest first
    looked = [path, Path(studies_dir) / path] if bare else [path]
    if (Path(studies_dir) == _DEFAULT_STUDIES and not path.is_absolute()
            and (bare or path.parts[0] == _DEFAULT_STUDIES.name)):
        for parent in Path.cwd().parents:
            if (parent / _DEFAULT_STUDIES).is_dir():
                shelves.append(parent / _DEFAULT_STUDIES)
                looked.append(parent / _DEFAULT_STUDIES / path if bare else parent / path)
    for candidate in looked:
        if candidate.exists():
            return candidate
    where = ", ".join(str(p if p.is_absolute() else Path.cwd() / p) for p in looked)
    hint = ""
    for shelf in shelves:
        known = sorted(p.parent.name for p in shelf.glob("*/study.db"))
        if known:
            hint = f"; studies in {shelf.resolve()}: {', '.join(known)}"
            break
    raise StudyError(f"no study at {str(study)!r} (looked at {where}): expected a study folder (studies/<name>/ "
                     f"with study.db), its study.db, or --storage URL --study-name NAME{hint}")


@dataclass
class Study:
    """A search study, read-only: its settings, its trials as tables, and its networks."""

    optuna_study: optuna.Study
    storage: str
    folder: Path  # the study folder: weights/, and where the report and exports go by default

    # ------------------------------------------------------------------------------------------
    # settings

    @property
    def name(self) -> str:
        return self.optuna_study.study_name

    @property
    def attrs(self) -> dict[str, Any]:
        return self.optuna_study.user_attrs

    @property
    def space(self) -> str:
        return self.attrs.get("space", "")

    @property
    def objectives(self) -> list[str]:
        return list(self.attrs.get("objectives", ["accuracy", "macs"]))

    @property
    def budget(self) -> float | None:
        return self.attrs.get("budget")

    @property
    def budget_metric(self) -> str:
        return self.attrs.get("budget_metric", "macs")

    @property
    def dataset(self) -> str:
        return self.attrs.get("dataset", "")

    @property
    def resolution(self) -> int:
        """The input side at which the study's costs (MACs, FLOPs, latency, memory) are counted: the
        space's target resolution (224 for the ImageNet families), not the one the proxy trains at."""
        if self.attrs.get("target_resolution"):
            return int(self.attrs["target_resolution"])
        from .space import get_space

        return get_space(self.space).target_resolution

    @property
    def train_resolution(self) -> int | None:
        """The input side the networks trained and were validated at (the proxy protocol's)."""
        value = self.attrs.get("protocol", {}).get("resolution")
        return None if value is None else int(value)

    @property
    def num_classes(self) -> int:
        return int(self.attrs.get("num_classes") or _dataset_shape(self.dataset)[0])

    @property
    def in_channels(self) -> int:
        return int(self.attrs.get("in_channels") or _dataset_shape(self.dataset)[1])

    @property
    def normalisation(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """Per-channel (mean, std) of the training images in [0, 1] units, with which the search fed its
        networks ``(x / 255 - mean) / std``; None for studies written before it was recorded."""
        stats = self.attrs.get("normalisation")
        return (tuple(stats["mean"]), tuple(stats["std"])) if stats else None

    @property
    def test_accuracy(self) -> dict[int, float]:
        """Test-split accuracies by trial number (the Pareto set and the references)."""
        return held_out_accuracies(self.optuna_study)

    def weights_path(self, number: int) -> Path:
        """Where the search saved trial ``number``'s weights (they exist for the Pareto set and the
        references); a repeat of an earlier trial has that trial's."""
        trials = self.optuna_study.get_trials(deepcopy=False)
        if isinstance(number, int) and 0 <= number < len(trials):
            number = weights_source(trials[number])
        return self._weights(number)

    def _weights(self, number: int) -> Path:
        return self.folder / "weights" / f"trial_{number}.pt"

    # ------------------------------------------------------------------------------------------
    # tables

    def trials(self) -> pd.DataFrame:
        """Every trial, a row each, by trial number.

        Columns: ``number``, ``state`` (COMPLETE, FAIL, RUNNING, ...), ``reference`` (the network's name,
        or ""), ``accuracy`` (validation, the searched objective), ``test_accuracy`` (the Pareto set and
        the references only, else NaN), ``macs``, ``flops``, ``params``, ``activations``,
        ``receptive_field``, ``latency_ms`` (when it was an objective), ``memory`` (peak activation
        bytes, when it was an objective), ``budget_value``, ``feasible`` (within the budget),
        ``trained``, ``pareto``, ``dominated_by`` (a search trial on the front that dominates this
        one, else -1), ``genome``, ``status``, ``fail_reason``, ``train_seconds``,
        ``images_per_second``, ``weights`` (path of the saved weights, or ""), ``outcome`` (trained,
        stopped, over budget, repeat, failed, retried, running, waiting: see
        :func:`nas.search.trial_outcomes`), ``repeat_of`` (the earlier trial of the same network whose
        result a repeat reuses, else -1; a repeat has that trial's accuracies and weights, and is never
        on the front itself) and ``epochs`` (epochs trained: fewer than the protocol's for a candidate
        that successive halving stopped, whose ``accuracy`` is then NaN: it is no result of the protocol).

        The other tables take this one as ``trials=`` to save reading the study again.
        """
        tested = self.test_accuracy
        objectives = self.objectives
        trials = self.optuna_study.get_trials(deepcopy=False)
        outcomes = trial_outcomes(trials)
        retry_reasons = {t.user_attrs["retry_of"]: t.user_attrs.get("retry_reason", "") for t in trials
                         if "retry_of" in t.user_attrs}
        rows = []
        for t in trials:
            cost = t.user_attrs.get("cost", {})
            values = dict(zip(objectives, t.values)) if t.values is not None else {}
            trained = outcomes[t.number] == "trained"
            source = weights_source(t)
            scored = t.state == _STATES.COMPLETE and outcomes.get(source) == "trained"  # trained, or repeats one
            weights = self._weights(source)
            rows.append({
                "number": t.number, "state": t.state.name, "reference": t.user_attrs.get("reference") or "",
                "accuracy": values.get("accuracy", math.nan) if scored else math.nan,
                "test_accuracy": tested.get(source, math.nan),
                "macs": cost.get("macs", math.nan), "flops": cost.get("flops", math.nan),
                "params": cost.get("params", math.nan), "activations": cost.get("activations", math.nan),
                "receptive_field": cost.get("receptive_field", math.nan),
                "latency_ms": t.user_attrs.get("latency_ms", values.get("latency", math.nan)),
                "memory": values.get("memory", math.nan),
                "budget_value": t.user_attrs.get("budget", {}).get("value", math.nan),
                "feasible": feasible(t), "trained": trained, "pareto": False, "dominated_by": -1,
                "genome": t.user_attrs.get("genome", ""), "status": t.user_attrs.get("status", ""),
                "fail_reason": t.user_attrs.get("fail_reason") or retry_reasons.get(t.number, ""),
                "train_seconds": t.user_attrs.get("train_seconds", math.nan),
                "images_per_second": t.user_attrs.get("images_per_second", math.nan),
                "epochs": len(t.user_attrs.get("val_curve", [])),
                "weights": str(weights) if weights.exists() else "",
                "outcome": outcomes[t.number], "repeat_of": source if source != t.number else -1,
            })
        frame = pd.DataFrame(rows, columns=_COLUMNS)
        frame.index = frame.number  # trial numbers are 0..n-1, in order
        frame.index.name = None
        if frame.empty:
            return frame
        front = [t.number for t in front_trials(trials, objectives, outcomes)]
        frame["pareto"] = frame.number.isin(front)
        # the most accurate searched network on the front that dominates each trained trial
        searched = [n for n in front if not frame.at[n, "reference"]]
        scored = frame[frame.accuracy.notna()]
        beaten = dominators(_oriented(scored, objectives), _oriented(frame.loc[searched], objectives))
        frame.loc[scored.index, "dominated_by"] = [searched[j] if j >= 0 else -1 for j in beaten]
        return frame

    def pareto(self, trials: pd.DataFrame | None = None) -> pd.DataFrame:
        """The Pareto set (trained, within budget, references included), cheapest first."""
        frame = self.trials() if trials is None else trials
        if frame.empty:
            return frame
        cost = next(o for o in self.objectives if o != "accuracy")
        return frame[frame.pareto].sort_values(_column(cost)).reset_index(drop=True)

    def references(self, trials: pd.DataFrame | None = None) -> pd.DataFrame:
        """The hand-designed networks the search trained, with whether a searched network dominates them."""
        frame = self.trials() if trials is None else trials
        if frame.empty:
            return frame
        return frame[(frame.reference != "") & (frame.state == "COMPLETE")].reset_index(drop=True)

    def hypervolume(self, trials: pd.DataFrame | None = None) -> pd.DataFrame:
        """Hypervolume of the front as the study went on: a row per trained trial in the order trials
        were numbered (``number``, ``hypervolume``), accuracy in [0, 1] against costs normalised as
        in the search's summary (by the budget when it counts that cost)."""
        frame = self.trials() if trials is None else trials
        objectives = self.objectives
        if frame.empty or self.budget is None:
            return pd.DataFrame({"number": [], "hypervolume": []})
        done = frame[frame.state == "COMPLETE"].sort_values("number")
        values = done[[_column(o) for o in objectives]].to_numpy().tolist()
        oriented = _oriented(done, objectives)
        front: dict[int, list[float]] = {}  # the front so far: position in done -> oriented values
        volume, volumes = 0.0, []
        for i, counts in enumerate((done.trained & done.feasible).tolist()):
            # the hypervolume changes only when a point joins the front: 10,000 trials stay fast
            if counts and dominators([oriented[i]], list(front.values()))[0] < 0:
                front[i] = oriented[i]
                front = {k: front[k] for k in pareto_front(front)}
                volume = normalised_hypervolume([values[k] for k in front], objectives,
                                                budget_metric=self.budget_metric, budget=self.budget, seen=values)
            volumes.append(volume)
        return pd.DataFrame({"number": done.number.astype(int).tolist(), "hypervolume": volumes})

    def choices(self, which: str = "pareto", trials: pd.DataFrame | None = None) -> pd.DataFrame:
        """How the architectural choices spread over networks: a long table with a row per (trial,
        choice, value) and the ``share`` of the network's blocks that take that value, for the Pareto
        set (``which="pareto"``) or every trained trial (``"trained"``). See :func:`genome_choices`."""
        frame = self.trials() if trials is None else trials
        if frame.empty:
            return pd.DataFrame(columns=["number", "macs", "accuracy", "choice", "value", "share"])
        rows = frame[frame.pareto] if which == "pareto" else frame[frame.trained]
        out = []
        for _, r in rows.iterrows():
            for (choice, value), share in genome_choices(Genome.parse(r.genome), self.in_channels).items():
                out.append({"number": int(r.number), "macs": r.macs, "accuracy": r.accuracy, "choice": choice,
                            "value": value, "share": share})
        return pd.DataFrame(out, columns=["number", "macs", "accuracy", "choice", "value", "share"])

    # ------------------------------------------------------------------------------------------
    # single trials

    def trial(self, number: int) -> optuna.trial.FrozenTrial:
        """Trial ``number``; a :class:`StudyError` when it does not exist or has no network."""
        trials = self.optuna_study.get_trials(deepcopy=False)
        if not isinstance(number, int) or not 0 <= number < len(trials):
            raise StudyError(f"study {self.name!r} has no trial {number!r}: its trials are numbered 0 to "
                             f"{len(trials) - 1}" if trials else f"study {self.name!r} has no trials yet")
        t = trials[number]
        if "genome" not in t.user_attrs:
            reason = t.user_attrs.get("fail_reason") or t.state.name.lower()
            raise StudyError(f"trial {number} of {self.name!r} has no architecture ({reason}); pick one of the "
                             f"Pareto set: {', '.join(map(str, self.pareto().number)) or 'empty'}")
        return t

    def genome(self, number: int) -> Genome:
        """Trial ``number``'s architecture."""
        return Genome.parse(self.trial(number).user_attrs["genome"])

    def model(self, number: int, *, weights: bool = True) -> Any:
        """Trial ``number`` as a PyTorch module, with the weights the search trained when it kept them
        (the Pareto set and the references) and ``weights`` is true; else freshly initialised."""
        import torch

        from .builder import build

        model = build(self.genome(number), num_classes=self.num_classes, in_channels=self.in_channels)
        path = self.weights_path(number)
        if weights and path.exists():
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model

    def label(self, number: int) -> str:
        """A readable name for a trial: the reference's name, or ``trial_<N>``."""
        return self.trial(number).user_attrs.get("reference") or f"trial_{number}"


_COLUMNS = ["number", "state", "reference", "accuracy", "test_accuracy", "macs", "flops", "params", "activations",
            "receptive_field", "latency_ms", "memory", "budget_value", "feasible", "trained", "pareto",
            "dominated_by", "genome", "status", "fail_reason", "train_seconds", "images_per_second", "weights",
            "outcome", "repeat_of", "epochs"]


def _oriented(frame: pd.DataFrame, objectives: Sequence[str]) -> list[list[float]]:
    """The rows' objective vectors oriented for minimisation (accuracy negated), as :mod:`nas.pareto` takes them."""
    columns = [-frame[o] if o == "accuracy" else frame[_column(o)] for o in objectives]
    return pd.concat(columns, axis=1).to_numpy(dtype=float).tolist() if len(frame) else []


def _column(objective: str) -> str:
    return {"latency": "latency_ms"}.get(objective, objective)


def _dataset_shape(dataset: str) -> tuple[int, int]:
    """(classes, channels) of a named dataset, for studies written before these were recorded."""
    shapes = {"cifar10": (10, 3), "cifar100": (100, 3), "mnist": (10, 1), "fashion_mnist": (10, 1),
              "svhn": (10, 3), "digits": (10, 1)}
    key = dataset.split(":")[0]
    if key not in shapes:
        raise StudyError(f"the study does not record its classes and channels and dataset {dataset!r} is not a "
                         "named one: rerun the search with this version of nas to record them")
    return shapes[key]


def genome_choices(genome: Genome, in_channels: int = 3) -> dict[tuple[str, str], float]:
    """The architectural choices of a network as shares of its blocks (pooling left out).

    Keys are ``(choice, value)``: ``("block", "ir")``, ``("kernel", "5")``, ``("activation", "hswish")``,
    ``("expansion", "6")`` (inverted residuals, fused or not: expanded / input channels, rounded to a whole
    number), ``("se", "yes")``;
    values are the share of the blocks (of the inverted residuals for expansion) with that value. The
    depth (blocks counted) is ``("depth", "blocks")`` with the count as its value.
    """
    counts: Counter[tuple[str, str]] = Counter()
    blocks = [(b, c) for b, c in zip(genome.blocks, genome.channels(in_channels)) if not isinstance(b, Pool)]
    irs = 0
    for block, c_in in blocks:
        counts["block", block.kind] += 1
        kernel = getattr(block, "kernel", None)
        if kernel is not None:
            counts["kernel", str(kernel)] += 1
        counts["activation", block.act] += 1
        counts["se", "yes" if getattr(block, "se", None) is not None else "no"] += 1
        if isinstance(block, (InvertedResidual, FusedInvertedResidual)):
            irs += 1
            counts["expansion", _ratio(block.expanded, c_in)] += 1
    total = len(blocks) or 1
    shares = {key: n / (irs if key[0] == "expansion" else total) for key, n in counts.items()}
    shares["depth", "blocks"] = float(len(blocks))
    return shares


def _ratio(expanded: int, c_in: int) -> str:
    return str(max(1, round(expanded / c_in))) if c_in else "1"
