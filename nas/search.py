"""``python -m nas.search --space mobile --budget 300M``: multi-objective architecture search.

Samples architectures from a space with Optuna, prices each exactly before building it (over-budget
candidates cost no training and are recorded as infeasible), trains the rest under a short proxy
protocol, and keeps a Pareto front of validation accuracy against cost. The space's hand-designed
references are trained under the same protocol and recorded as trials marked as references, so they
stand on the same front. The study lives in an Optuna storage (SQLite in ``studies/<name>/`` by
default, PostgreSQL for several machines): rerunning the same command resumes it.

The search loop is a worker (:func:`run`; ``--workers N`` starts N of them on one machine, and the
same command on other machines with one ``--storage`` adds more). Workers share the study only
through the storage, and every decision that must be taken once is taken under the study's lock
(:mod:`nas.storage`): enqueueing the references, claiming the next trial so that ``--trials`` is
reached exactly, failing and retrying the trial of a worker that died. The sampler is seeded from
``--seed`` and the trial's number, so a single worker is reproducible and a resumed run or another
worker draws other candidates; a network already trained under the study's protocol is not trained
again (the trial is recorded as a repeat of the first one, with its result).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import multiprocessing.connection
import os
import re
import shutil
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
import torch

from .cli import device_error
from .cost import Cost, cost_label, count, format_count, min_resolution
from .files import save_atomic, unwritable
from .genome import Genome
from .halving import Halving, judge
from .pareto import dominators, normalised_hypervolume, pareto_front
from .space import Space, get_space, list_spaces
from .storage import (
    Heartbeat,
    StorageError,
    StudyLock,
    Worker,
    display_url,
    fail_dead_trials,
    open_storage,
    quiet_optuna_warnings,
    resolve_url,
    retry,
    worker_alive,
)

__all__ = [
    "SearchConfig",
    "budget_text",
    "default_study_name",
    "feasible",
    "front_trials",
    "main",
    "metric_names",
    "near_chance",
    "PRICED_OUTCOMES",
    "TRAINED_OUTCOMES",
    "parse_budget",
    "run",
    "trial_outcomes",
    "weights_source",
]

OBJECTIVES = {"accuracy": "maximize", "macs": "minimize", "params": "minimize", "latency": "minimize",
              "memory": "minimize"}
SAMPLERS = ("tpe", "nsga2", "nsga3", "gp", "random")
FIDELITIES = ("none", "asha")
BUDGET_METRICS = ("macs", "params", "flops")
_SUFFIXES = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9}
MAX_RESOLUTION = 1024  # the proxy trains small images; larger ones cannot fit a batch of activations in memory
MAX_REPEATS_IN_A_ROW = 25  # samples of already-trained networks in a row before a worker says the space is exhausted
# candidates priced over the budget in a row before a worker says almost nothing fits: pricing is free, and
# TPE learns the constraint within a few dozen trials, but 1 random network of mobile in 100 fits at 80M MACs
MAX_OVER_BUDGET_IN_A_ROW = 500
_POLL = 2.0  # seconds between looks at the study while waiting for other workers
_STATES = optuna.trial.TrialState
# exit codes of a worker process (``--workers``): what its loop ended with
_EXIT = {"done": 0, "timeout": 0, "exhausted": 0, "stalled": 0, "interrupted": 130}


class SearchError(ValueError):
    """A bad option: the message names the value and the fix. The CLI prints it and exits with 2."""


# ----------------------------------------------------------------------------------------------
# options


def parse_budget(text: str, option: str = "budget") -> int:
    """``"300M"`` -> 300_000_000. Suffixes K, M, G (powers of 1000, either case); a plain number is taken as is."""
    match = re.fullmatch(r"\s*([+-]?[0-9]*\.?[0-9]+)\s*([KMG]?)\s*", str(text), flags=re.IGNORECASE)
    example = ("300M for 300 million MACs, 5M with --budget-metric params" if option == "budget"
               else "2M for 2 million images")
    if not match:
        raise SearchError(f"{option} {text!r} is not a number with an optional K, M or G suffix (for example {example})")
    value = float(match.group(1)) * _SUFFIXES[match.group(2).upper()]
    if value < 1:
        raise SearchError(f"{option} {text!r} must be positive, for example {example.split(' for ')[0]}")
    return int(value)


def budget_text(value: int) -> str:
    """A budget as study names spell it, whatever the user typed: ``300M`` (for 300m, 0.3G or
    300000000), ``1.5G``, ``250K``."""
    for unit, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if value >= size and value * 1000 % size == 0:
            return f"{value / size:g}{unit}"
    return str(value)


def default_study_name(space: str, budget: str, dataset: str) -> str:
    """A valid Python identifier from space, budget and dataset: ``mobile_300M_cifar10``."""
    name = re.sub(r"\W+", "_", f"{space}_{budget}_{dataset}").strip("_")
    return name if not name[0].isdigit() else f"s_{name}"


@dataclass(frozen=True)
class SearchConfig:
    """Everything a search run needs; the CLI fills it from its options."""

    space: str
    budget: int                                   # in units of budget_metric
    budget_metric: str = "macs"                   # macs | params | flops, at the space's target resolution
    objectives: tuple[str, ...] = ("accuracy", "macs")
    trials: int = 40                              # candidates (references not counted) the study should reach
    timeout: float | None = 13 * 60               # seconds of search in this run, references included; None: no limit
    sampler: str = "tpe"
    seed: int = 0
    storage: str | None = None                    # Optuna storage URL; None: SQLite in studies/<study>/
    study_name: str | None = None
    references: str = "all"                       # all | feasible | none
    dataset: str | None = None                    # None: cifar10, falling back to digits when unavailable
    data_root: str | None = None
    epochs: int = 3
    train_size: int | None = 4000                 # at most (fewer when the dataset has fewer); None: all
    val_size: int | None = None                   # None: min(1000, a fifth of the training split)
    batch_size: int = 64
    resolution: int = 32
    device: str = "cpu"                           # cpu | cuda | cuda:N | auto
    threads: int | None = None                    # torch threads per worker; None: the cores divided among workers
    workers: int = 1                              # processes on this machine sharing the study
    heartbeat: int = 30                           # seconds between heartbeats; another host's trial is dead after 4
    studies_dir: str = "studies"
    progress: bool = True
    fidelity: str | None = None                   # none | asha: successive halving over the epochs; None: asha
    #   when the protocol has room for a rung (epochs > min_epochs), else none; a study keeps the one it began with
    eta: int = 3                                  # asha: the best 1/eta of a rung go on
    min_epochs: int = 1                           # asha: the first rung
    images: int | None = None                     # stop starting candidates once they have trained this many images
    train_options: dict[str, Any] = field(default_factory=dict)  # other TrainConfig fields


def _fidelity(config: SearchConfig) -> str:
    """``--fidelity``, or its default: asha when the protocol has epochs to halve, none otherwise."""
    if config.fidelity is not None:
        return config.fidelity
    return "asha" if config.epochs > config.min_epochs else "none"


def _halving(config: SearchConfig) -> Halving | None:
    """The rungs of ``--fidelity asha``, None without successive halving."""
    if _fidelity(config) != "asha":
        return None
    try:
        return Halving.of(config.epochs, eta=config.eta, min_epochs=config.min_epochs)
    except ValueError as exc:
        raise SearchError(str(exc)) from None


def _check_config(config: SearchConfig) -> Space:
    try:
        space = get_space(config.space)
    except ValueError as exc:
        raise SearchError(f"--space: {exc}") from None
    if config.budget_metric not in BUDGET_METRICS:
        raise SearchError(f"--budget-metric {config.budget_metric!r} is not one of {', '.join(BUDGET_METRICS)}")
    objectives = config.objectives
    unknown = [o for o in objectives if o not in OBJECTIVES]
    if unknown:
        raise SearchError(f"--objectives: {', '.join(unknown)} unknown; choose two or three of "
                          f"{', '.join(OBJECTIVES)}, for example accuracy,macs")
    if not 2 <= len(objectives) <= 3 or len(set(objectives)) != len(objectives):
        raise SearchError(f"--objectives {','.join(objectives)}: give two or three different objectives, "
                          "for example accuracy,macs or accuracy,macs,latency")
    if "accuracy" not in objectives:
        raise SearchError(f"--objectives {','.join(objectives)}: accuracy must be one of them")
    if config.sampler not in SAMPLERS:
        raise SearchError(f"--sampler {config.sampler!r} is not one of {', '.join(SAMPLERS)}")
    if config.references not in ("all", "feasible", "none"):
        raise SearchError(f"--references {config.references!r} is not one of all, feasible, none")
    if config.fidelity is not None and config.fidelity not in FIDELITIES:
        raise SearchError(f"--fidelity {config.fidelity!r} is not one of {', '.join(FIDELITIES)}")
    _halving(config)
    if config.images is not None and (not isinstance(config.images, int) or config.images < 1):
        raise SearchError(f"--images {config.images!r} must be a positive number of training images (2M = 2 million)")
    for name in ("trials", "epochs", "batch_size", "resolution", "workers", "heartbeat"):
        value = getattr(config, name)
        if not isinstance(value, int) or value < 1:
            raise SearchError(f"--{name.replace('_', '-')} {value!r} must be a positive whole number")
    for name in ("train_size", "val_size", "threads"):
        value = getattr(config, name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise SearchError(f"--{name.replace('_', '-')} {value!r} must be a positive whole number")
    if config.resolution < 8:
        raise SearchError(f"--resolution {config.resolution} is too small to train a CNN; use 32 or more")
    if config.resolution > MAX_RESOLUTION:
        raise SearchError(f"--resolution {config.resolution} is larger than {MAX_RESOLUTION}: the proxy trains "
                          "candidates on small images (32 by default; 224 for ImageNet-like data); a batch of "
                          f"{config.resolution}×{config.resolution} activations would not fit in memory")
    if config.timeout is not None and (math.isnan(config.timeout) or config.timeout < 0):
        raise SearchError(f"--timeout {config.timeout!r} must be 0 (no limit) or a positive number of seconds")
    error = device_error(config.device)
    if error:
        raise SearchError(error)
    return space


# ----------------------------------------------------------------------------------------------
# costs and objectives


def metric_names(objectives: Sequence[str], resolution: int) -> list[str]:
    """The names of the study's objectives, as Optuna's plots and optuna-dashboard label their axes:
    ``["validation accuracy", "MACs at 224×224"]`` (costs are counted at the space's target resolution,
    whatever resolution the proxy trains at)."""
    return ["validation accuracy" if o == "accuracy" else cost_label(o, resolution) for o in objectives]


def _metric(cost: Cost, metric: str) -> int:
    return {"macs": cost.macs, "params": cost.params, "flops": cost.flops}[metric]


def smallest_cost(space: Space, metric: str, *, in_channels: int, num_classes: int) -> tuple[int, Genome]:
    """The cheapest network the space can reach in ``metric``, found by pricing, for every dimension, its
    cheapest choice; spaces are monotone enough for this to be the minimum (it is checked against the
    references and never exceeds them)."""
    dims = space.dimensions()
    params = {name: choices[0] for name, choices in dims.items()}
    res = space.target_resolution
    price = lambda p: _metric(count(space.genome_from_params(p), resolution=res, in_channels=in_channels,
                                    num_classes=num_classes), metric)
    best = price(params)
    for _ in range(2):  # coordinate descent, twice: cheap and enough for these spaces
        for name, choices in dims.items():
            for choice in choices:
                trial = {**params, name: choice}
                try:
                    value = price(trial)
                except ValueError:
                    continue
                if value < best:
                    best, params = value, trial
    return best, space.genome_from_params(params)


def measure_latency(genome: Genome, *, resolution: int, in_channels: int, num_classes: int,
                    repeats: int = 15) -> float:
    """Median CPU milliseconds of a batch-1 forward pass at ``resolution`` (after warm-up)."""
    from .builder import build

    model = build(genome, num_classes=num_classes, in_channels=in_channels).eval()
    x = torch.randn(1, in_channels, resolution, resolution)
    times = []
    with torch.inference_mode():
        for i in range(repeats + 3):
            start = time.perf_counter()
            model(x)
            if i >= 3:
                times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]


# ----------------------------------------------------------------------------------------------
# what became of each trial


def trial_outcomes(trials: Sequence[optuna.trial.FrozenTrial]) -> dict[int, str]:
    """What became of each trial, by number: ``trained``, ``stopped`` (by successive halving at a rung:
    not a result of the full protocol), ``over budget`` (priced, not trained: a pruned trial
    with its constraint, so that Optuna's samplers learn the budget while Optuna's plots and
    optuna-dashboard, which draw complete trials, show no accuracy it never had), ``repeat`` (a network
    tried before: its result is reused), ``failed``, ``retried`` (stopped before finishing: Ctrl-C, or
    its worker died; a later trial runs it again), ``running`` or ``waiting``. Every count in the
    search, the progress, the summary and the report is made from these."""
    retried = {t.user_attrs["retry_of"] for t in trials if "retry_of" in t.user_attrs}
    outcomes = {}
    for t in trials:
        if t.state == _STATES.RUNNING:
            outcome = "running"
        elif t.state == _STATES.WAITING:
            outcome = "waiting"
        elif "repeat_of" in t.user_attrs:
            outcome = "repeat"
        elif t.state == _STATES.COMPLETE:  # over budget in studies of earlier versions (told complete, accuracy 0)
            outcome = "trained" if str(t.user_attrs.get("status", "")).startswith("trained") else "over budget"
        elif t.state == _STATES.PRUNED:
            outcome = "over budget" if str(t.user_attrs.get("status", "")).startswith("over budget") else "stopped"
        else:
            outcome = "retried" if t.number in retried else "failed"
        outcomes[t.number] = outcome
    return outcomes


# the candidates that --trials counts once they are over: one per distinct network given to the trainer
# (trained, stopped at a rung, or failed in training); over-budget ones are priced only and cost nothing,
# repeats reuse a result, retried ones run again
TRAINED_OUTCOMES = ("trained", "stopped", "failed")
# a network priced and tried to the end: what a repeat reuses, what the summary counts as priced
PRICED_OUTCOMES = (*TRAINED_OUTCOMES, "over budget")
# what --trials counts: a running trial may still be training, a waiting one will be
_COUNTED = (*TRAINED_OUTCOMES, "running", "waiting")


def _counted_candidates(trials: Sequence[optuna.trial.FrozenTrial], outcomes: dict[int, str],
                        kinds: Sequence[str] = _COUNTED) -> int:
    return sum(1 for t in trials if not t.user_attrs.get("reference") and outcomes[t.number] in kinds)


def images_trained(trials: Sequence[optuna.trial.FrozenTrial]) -> int:
    """Training images the candidates have used (epochs × training images each; references left out,
    stopped, failed and killed candidates counted): the compute that ``--images`` bounds."""
    return sum(int(t.user_attrs.get("images_trained", 0)) for t in trials if not t.user_attrs.get("reference"))


def _value(t: optuna.trial.FrozenTrial, objectives: Sequence[str], name: str) -> float:
    return t.values[list(objectives).index(name)]


def _cost_objective(objectives: Sequence[str]) -> str:
    return next(o for o in objectives if o != "accuracy")


# ----------------------------------------------------------------------------------------------
# the run


@dataclass
class SearchResult:
    study_name: str
    storage: str
    dataset: str
    pareto: list[optuna.trial.FrozenTrial]
    references: list[optuna.trial.FrozenTrial]
    hypervolume: float
    files: list[str]
    interrupted: bool = False
    test_accuracy: dict[int, float] = field(default_factory=dict)
    outcome: str = "done"                        # done | timeout | exhausted | interrupted | stopped
    counts: dict[str, int] = field(default_factory=dict)  # candidates by outcome, and "references"
    failures: list[tuple[int, str]] = field(default_factory=list)  # (trial, reason) of failed candidates
    explicit_storage: bool = False               # --storage was given (the study is not a folder's study.db)
    resolution: int = 224                        # the side at which costs are counted (the space's target)
    num_classes: int = 10


def _load_data(config: SearchConfig) -> Any:
    from .data import DatasetError, DatasetUnavailable, load_dataset

    spec = config.dataset or "cifar10"
    try:
        return load_dataset(spec, root=config.data_root)
    except DatasetUnavailable as exc:
        if config.dataset is not None:
            raise SearchError(f"--dataset {spec}: {exc}") from None
        banner = "!" * 78
        print(f"{banner}\nCIFAR-10 is not available: {exc}\nFalling back to the 'digits' dataset (scikit-learn's "
              f"8×8 digits, offline) so that the run can go on; its results say nothing about CIFAR-10.\n"
              f"{banner}", file=sys.stderr)
        return load_dataset("digits")
    except DatasetError as exc:
        raise SearchError(f"--dataset {spec}: {exc}") from None


def _trial_seed(seed: int, number: int) -> int:
    import numpy as np

    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


class _SeededPerTrial(optuna.samplers.BaseSampler):
    """The chosen sampler, made anew for every trial with a seed drawn from ``--seed`` and the trial's
    number: one worker repeats its samples exactly, while a resumed run, or another worker, whose trials
    have other numbers, draws other candidates (a sampler seeded once per process would draw the
    start-up candidates of every process alike)."""

    def __init__(self, make: Callable[[int], optuna.samplers.BaseSampler], seed: int) -> None:
        self._make, self._seed = make, seed
        self._sampler = make(seed)

    def __str__(self) -> str:
        return str(self._sampler)

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self._sampler = self._make(_trial_seed(self._seed, trial.number))
        self._sampler.before_trial(study, trial)

    def infer_relative_search_space(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
        return self._sampler.infer_relative_search_space(study, trial)

    def sample_relative(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                        search_space: dict[str, Any]) -> dict[str, Any]:
        return self._sampler.sample_relative(study, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, param_name: str,
                           param_distribution: Any) -> Any:
        return self._sampler.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, state: optuna.trial.TrialState,
                    values: Sequence[float] | None) -> None:
        self._sampler.after_trial(study, trial, state, values)


def _sampler(config: SearchConfig) -> optuna.samplers.BaseSampler:
    def make(seed: int) -> optuna.samplers.BaseSampler:
        if config.sampler == "tpe":
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True, n_startup_trials=10)
        if config.sampler == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=20)
        if config.sampler == "nsga3":
            return optuna.samplers.NSGAIIISampler(seed=seed, population_size=20)
        if config.sampler == "gp":
            return optuna.samplers.GPSampler(seed=seed)
        return optuna.samplers.RandomSampler(seed=seed)

    with quiet_optuna_warnings():
        return _SeededPerTrial(make, config.seed)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class _Interrupted(Exception):
    pass


class _Stopped(Exception):
    """A candidate stopped by successive halving at a rung, priced over the budget, or a repeat of
    either: a pruned trial, whose status is the reason."""

    def __init__(self, reason: str, outcome: str = "stopped") -> None:
        super().__init__(reason)
        self.outcome = outcome


class _TrialError(Exception):
    """A candidate that cannot be trained: the trial fails with this reason, the search goes on."""

    def __init__(self, reason: str, outcome: str = "failed") -> None:
        super().__init__(reason)
        self.outcome = outcome


def _protocol_defaults(config: SearchConfig) -> dict[str, Any]:
    return {"epochs": config.epochs, "batch_size": config.batch_size, "resolution": config.resolution,
            "device": config.device, "threads": config.threads, "seed": config.seed}


def _writable(folder: Path, what: str) -> None:
    """Make ``folder`` or say, as a :class:`SearchError`, why ``what`` cannot be written in it."""
    problem = unwritable(folder)
    if problem:
        raise SearchError(f"{problem}: {what} cannot be written. Make the folder writable, or write elsewhere "
                          "with --studies-dir DIR (the study alone: --storage URL)")


@dataclass
class _Search:
    """One worker's view of a search: the options, the data, the protocol and the study."""

    config: SearchConfig
    space: Space
    data: Any
    train: tuple[Any, Any]
    val: tuple[Any, Any]
    train_config: Any
    mean: Sequence[float]
    std: Sequence[float]
    study: optuna.Study
    storage_url: str
    lock: StudyLock
    weights_dir: Path
    worker: Worker
    versions: dict[str, str]
    smallest: int  # the cost of the space's cheapest network, in the budget's metric
    halving: Halving | None  # the rungs of --fidelity asha

    @property
    def objectives(self) -> tuple[str, ...]:
        return self.config.objectives

    def trials(self) -> list[optuna.trial.FrozenTrial]:
        return self.study.get_trials(deepcopy=False)


def _prepare(config: SearchConfig) -> _Search:
    """Check the options, load the data, open (or create) the study and enqueue what must run once.
    Raises :class:`SearchError` for bad options before any work."""
    from .data import split
    from .train import TrainConfig, protocol_changes, versions

    space = _check_config(config)
    data = _load_data(config)
    in_channels, num_classes = data.in_channels, data.num_classes
    res = space.target_resolution
    budget_metric = config.budget_metric
    smallest, cheapest = smallest_cost(space, budget_metric, in_channels=in_channels, num_classes=num_classes)
    if config.budget < smallest:
        raise SearchError(f"--budget {budget_text(config.budget)} is below the cheapest network of the "
                          f"{space.name!r} space: {smallest:,} {budget_metric} at {res}×{res} "
                          f"({cheapest}). Raise the budget to at least {smallest:,}.")
    dataset_name = data.name
    available = len(data.x_train)
    val_size = config.val_size if config.val_size is not None else min(1000, available // 5)
    if val_size >= available:
        raise SearchError(f"--val-size {val_size} leaves no training images: {dataset_name} has {available}")
    train_size = None if config.train_size is None else min(config.train_size, available - val_size)
    try:
        (x_train, y_train), (x_val, y_val) = split(data, val_size=val_size, train_size=train_size, seed=config.seed)
        train_config = TrainConfig(**{**_protocol_defaults(config), "flip": data.flip, **config.train_options})
    except (TypeError, ValueError) as exc:
        raise SearchError(str(exc)) from None
    study_name = config.study_name or default_study_name(space.name, budget_text(config.budget),
                                                         dataset_name.split(":")[0])
    study_dir = Path(config.studies_dir) / study_name
    if config.storage is None:
        _writable(study_dir, "the study")
        url = f"sqlite:///{study_dir / 'study.db'}"
    else:
        try:
            url = resolve_url(config.storage)
        except StorageError as exc:
            raise SearchError(str(exc)) from None
    weights_dir = study_dir / "weights"
    _writable(weights_dir, "the trained weights")
    try:
        storage = open_storage(url, heartbeat=config.heartbeat)
    except StorageError as exc:
        raise SearchError(str(exc)) from None
    directions = [OBJECTIVES[o] for o in config.objectives]
    lock = StudyLock(url, study_name)
    protocol = train_config.to_dict() | {"train_size": len(x_train), "val_size": len(x_val)}
    settings = {"space": space.name, "budget": config.budget, "budget_metric": budget_metric,
                "objectives": list(config.objectives), "dataset": dataset_name,
                "target_resolution": res, "num_classes": num_classes, "in_channels": in_channels,
                "fidelity": str(_halving(config) or "none")}
    mean, std = data.mean_std()
    try:
        with lock:
            study = optuna.create_study(study_name=study_name, storage=storage, directions=directions,
                                        sampler=_sampler(config), load_if_exists=True)
            if list(study.directions) != [optuna.study.StudyDirection.MAXIMIZE if d == "maximize" else
                                          optuna.study.StudyDirection.MINIMIZE for d in directions]:
                raise SearchError(f"study {study_name!r} exists with other objectives; use the same --objectives "
                                  "or a new --study-name")
            attrs = study.user_attrs
            if config.fidelity is None and attrs.get("fidelity") is not None:
                # an unset --fidelity follows the study (begun with --fidelity none, or before asha was the default)
                config = replace(config, fidelity="none" if attrs["fidelity"] == "none" else "asha")
                settings["fidelity"] = str(_halving(config) or "none")
            for key, value in settings.items():
                if attrs.get(key) is not None and attrs[key] != value:
                    raise SearchError(f"study {study_name!r} was started with {key}={attrs[key]!r}, not {value!r}: "
                                      "rerun with the same options to resume it, or give a new --study-name")
            if "protocol" in attrs:
                saved = attrs["protocol"]
                changes = protocol_changes(saved, train_config) + [
                    f"{k}={saved[k]!r} -> {protocol[k]!r}" for k in ("train_size", "val_size")
                    if k in saved and saved[k] != protocol[k]]
                if changes:
                    raise SearchError(f"study {study_name!r} was trained under another protocol ({', '.join(changes)}): "
                                      "its networks would not be comparable. Rerun with the options it was started "
                                      "with (--epochs, --train-size, --val-size, --batch-size, --lr, --resolution, "
                                      "--seed), or give a new --study-name")
            for key, value in {**settings, "protocol": protocol,
                               # what a user of the trained weights must normalise inputs with: (x / 255 - mean) / std
                               "normalisation": {"mean": list(mean), "std": list(std)}}.items():
                if key not in attrs:
                    study.set_user_attr(key, value)
            names = metric_names(config.objectives, res)
            if study.metric_names != names:  # studies of earlier versions had none: named on resume
                with quiet_optuna_warnings():
                    study.set_metric_names(names)
            _enqueue_references(study, space, config, in_channels, num_classes)
            _retry_interrupted(study)
    except (StorageError, optuna.exceptions.StorageInternalError) as exc:
        raise SearchError(f"study {study_name!r} in {display_url(url)!r}: {exc}") from None
    worker = Worker.current()
    threads = config.threads if config.threads is not None else _shared_threads(study, worker, config)
    train_config = replace(train_config, threads=threads)
    return _Search(config=config, space=space, data=data, train=(x_train, y_train), val=(x_val, y_val),
                   train_config=train_config, mean=mean, std=std, study=study, storage_url=url, lock=lock,
                   weights_dir=weights_dir, worker=worker, versions=versions(), smallest=smallest,
                   halving=_halving(config))


def _shared_threads(study: optuna.Study, me: Worker, config: SearchConfig) -> int | None:
    """torch's default, unless other workers of this study already run on this machine: then the cores
    divided among them all (torch processes that each take every core slow each other down many times
    over), with a word on how to choose."""
    others = [w for key, value in study.user_attrs.items() if key.startswith("worker:")
              if (w := Worker.from_attr(value)) is not None and w != me and w.local() and w.alive()]
    if not others:
        return None
    threads = max(1, _cores() // (len(others) + 1))
    print(f"note: {len(others)} other worker(s) of this study run on this machine: this one uses {threads} torch "
          f"thread(s) of {_cores()} cores (the others keep theirs). One command with --workers N divides the cores "
          "evenly; --threads sets them by hand.", file=sys.stderr)
    return threads


def _enqueue_references(study: optuna.Study, space: Space, config: SearchConfig, in_channels: int,
                        num_classes: int) -> None:
    """Each reference once: call under the study's lock (a failed one is retried only if it was stopped)."""
    if config.references == "none":
        return
    present = {t.user_attrs.get("reference") for t in study.get_trials(deepcopy=False)}
    for name, genome in space.references.items():
        if name in present:
            continue
        spent = _metric(count(genome, resolution=space.target_resolution, in_channels=in_channels,
                              num_classes=num_classes), config.budget_metric)
        if config.references == "feasible" and spent > config.budget:
            continue
        study.enqueue_trial(space.to_params(genome), user_attrs={"reference": name}, skip_if_exists=False)


def _retry_interrupted(study: optuna.Study) -> None:
    """Enqueue again the stopped trials (Ctrl-C, a dead worker) that have no retry yet: the worker that
    stopped enqueues its own retry, this catches the ones whose worker died before it could. Call under
    the study's lock."""
    trials = study.get_trials(deepcopy=False)
    outcomes = trial_outcomes(trials)
    for t in trials:
        if t.user_attrs.get("interrupted") and outcomes[t.number] == "failed":
            retry(study, t, t.user_attrs.get("fail_reason", "interrupted"), count_death=False)


# ----------------------------------------------------------------------------------------------
# one worker's loop


def _next_step(s: _Search, trials: list[optuna.trial.FrozenTrial], timed_out: bool) -> str:
    """What this worker does next: ``ask`` (a waiting trial, or a new candidate while neither ``--trials``
    nor ``--images`` is reached), ``wait`` (other workers' trials are running: they may fail and need a retry, and the
    front is not final), ``done`` or ``timeout`` (the references still run first). Decided under the
    study's lock."""
    waiting = [t for t in trials if t.state == _STATES.WAITING]
    if timed_out and not any(t.user_attrs.get("reference") for t in waiting):
        return "timeout"
    outcomes = trial_outcomes(trials)
    images = s.config.images
    if waiting or (_counted_candidates(trials, outcomes) < s.config.trials
                   and (images is None or images_trained(trials) < images)):
        return "ask"
    return "wait" if "running" in outcomes.values() else "done"


def _work(s: _Search, progress: _Progress | None = None) -> str:
    """Run trials until the study has ``--trials`` candidates and nothing runs or waits; returns how
    the loop ended: ``done``, ``timeout``, ``exhausted`` (only repeats were sampled), ``stalled`` (only
    over-budget candidates were sampled) or ``interrupted``."""
    config = s.config
    started = time.monotonic()
    candidates = repeats = over_budget = 0
    info = {"threads": s.train_config.threads, "device": s.train_config.device}
    try:
        with quiet_optuna_warnings(), Heartbeat(s.study, s.worker, config.heartbeat, info) as heartbeat:
            while True:
                timed_out = bool(config.timeout) and time.monotonic() - started > config.timeout
                with s.lock:
                    fail_dead_trials(s.study, heartbeat=config.heartbeat)
                    step = _next_step(s, s.trials(), timed_out)
                    if step == "ask":
                        trial = s.study.ask()
                        trial.set_user_attr("worker", s.worker.attr())
                        heartbeat.running(trial._trial_id)
                if step in ("done", "timeout"):
                    if step == "timeout":
                        print(f"timeout of {config.timeout:.0f} s reached"
                              + ("" if candidates else ", spent on the references before any candidate ran")
                              + "; rerun the same command to go on" + ("" if candidates else " (the references are "
                              "done), or give a larger --timeout (0: no limit)"), file=sys.stderr)
                    return step
                if step == "wait":
                    time.sleep(_POLL)
                    continue
                candidates += not trial.user_attrs.get("reference")
                if progress is not None:
                    progress.starting(trial)
                try:
                    outcome = _run_trial(s, trial)
                finally:
                    heartbeat.running(None)
                trials = s.trials()
                _prune_weights(s, trials)
                if progress is not None:
                    progress.update(trials)
                repeats = repeats + 1 if outcome == "repeat" else 0
                if repeats >= MAX_REPEATS_IN_A_ROW:
                    print(f"the sampler proposed {repeats} networks in a row that were trained already: the space "
                          "looks exhausted at this budget; stopping (raise --budget, or use another --sampler)",
                          file=sys.stderr)
                    return "exhausted"
                over_budget = over_budget + 1 if outcome == "over budget" else 0
                if over_budget >= MAX_OVER_BUDGET_IN_A_ROW:
                    print(_stall_message(s, over_budget), file=sys.stderr)
                    return "stalled"
    except (_Interrupted, KeyboardInterrupt):
        print("\ninterrupted: the study is saved; rerun the same command to resume where it stopped",
              file=sys.stderr)
        return "interrupted"


def _stall_message(s: _Search, in_a_row: int) -> str:
    trials = [t for t in s.trials() if "budget" in t.user_attrs and not t.user_attrs.get("reference")]
    outcomes = trial_outcomes(trials)
    cheapest = min(trials, key=lambda t: t.user_attrs["budget"]["value"])
    metric, budget = s.config.budget_metric, s.config.budget
    trained = sum(1 for t in trials if outcomes[t.number] in TRAINED_OUTCOMES)
    return (f"the last {in_a_row} candidates sampled were all over the budget of {budget:,} {metric}: almost "
            f"nothing of the {s.space.name!r} space fits it. {len(trials)} candidates priced in all, {trained} "
            f"trained; the cheapest seen costs {cheapest.user_attrs['budget']['value']:,} {metric} (trial "
            f"{cheapest.number}), the cheapest network of the space {s.smallest:,}. Stopping; raise --budget, "
            f"or search a space of smaller networks")


def _run_trial(s: _Search, trial: optuna.trial.Trial) -> str:
    """Evaluate one trial and tell the study; returns its outcome (see :func:`trial_outcomes`)."""
    study = s.study
    try:
        values, outcome = _evaluate(s, trial)
    except KeyboardInterrupt:
        reason = "interrupted (Ctrl-C or SIGTERM); it will be run again on resume"
        trial.set_user_attr("fail_reason", reason)
        trial.set_user_attr("interrupted", True)
        frozen = study.tell(trial, state=_STATES.FAIL)
        retry(study, frozen, reason, count_death=False)
        raise _Interrupted from None
    except _TrialError as exc:
        trial.set_user_attr("fail_reason", str(exc))
        _tell(s, trial, state=_STATES.FAIL)
        return exc.outcome
    except _Stopped as exc:
        trial.set_user_attr("status", str(exc))
        _tell(s, trial, state=_STATES.PRUNED)
        return exc.outcome
    except Exception as exc:  # noqa: BLE001 - a failing candidate must not stop the search
        trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {exc}")
        trial.set_user_attr("traceback", traceback.format_exc(limit=8))
        _tell(s, trial, state=_STATES.FAIL)
        return "failed"
    _tell(s, trial, values=values)
    return outcome


def _tell(s: _Search, trial: optuna.trial.Trial, **kwargs: Any) -> None:
    try:
        s.study.tell(trial, **kwargs)
    except optuna.exceptions.UpdateFinishedTrialError:
        # another worker took this one's heartbeats for stale (the database was out of reach for longer
        # than the grace period) and failed the trial; it has been enqueued again and will run again
        print(f"warning: trial {trial.number} was failed by another worker while it ran here (its heartbeats "
              "did not reach the database); it has been enqueued again", file=sys.stderr)


def _evaluate(s: _Search, trial: optuna.trial.Trial) -> tuple[list[float], str]:
    """The trial's objective values and outcome: priced, then reused (a repeat), left untrained (over
    budget) or trained. Raises :class:`_TrialError` for a candidate that cannot be trained."""
    from .builder import build
    from .train import TrainingDiverged, train

    config, space, data = s.config, s.space, s.data
    res, budget_metric = space.target_resolution, config.budget_metric
    genome = space.sample(trial)
    reference = trial.user_attrs.get("reference")
    cost = count(genome, resolution=res, in_channels=data.in_channels, num_classes=data.num_classes)
    spent = _metric(cost, budget_metric)
    trial.set_user_attr("cost", {"macs": cost.macs, "flops": cost.flops, "params": cost.params,
                                 "activations": cost.activations, "receptive_field": cost.receptive_field,
                                 "resolution": res})
    trial.set_user_attr("budget", {"metric": budget_metric, "limit": config.budget, "value": spent})
    trial.set_constraint("budget", float(spent - config.budget))
    # optuna-dashboard (0.21) still reads the pre-5.0 list under "constraints": without it, it would
    # draw over-budget trials on the Pareto front
    trial.storage.set_trial_system_attr(trial._trial_id, "constraints", [float(spent - config.budget)])
    trial.set_user_attr("dataset", s.data.name)
    trial.set_user_attr("versions", s.versions)
    will_train = spent <= config.budget or reference is not None
    original = _claim(s, trial, genome, will_train)
    objective_values = {"macs": float(cost.macs), "params": float(cost.params),
                        "memory": float(cost.activation_bytes)}
    if original is not None:
        trial.set_user_attr("repeat_of", original.number)
        if original.state == _STATES.FAIL:
            raise _TrialError(f"repeat of trial {original.number}, which failed: "
                              f"{original.user_attrs.get('fail_reason', 'no reason recorded')}", outcome="repeat")
        if original.state == _STATES.PRUNED:
            raise _Stopped(f"repeat of trial {original.number}, not trained again "
                           f"({original.user_attrs.get('status', '')})", outcome="repeat")
        trial.set_user_attr("status", f"repeat of trial {original.number}, not trained again "
                                      f"({original.user_attrs.get('status', '')})")
        for key in ("val_curve", "latency_ms"):
            if key in original.user_attrs:
                trial.set_user_attr(key, original.user_attrs[key])
        return list(original.values), "repeat"
    if not will_train:
        raise _Stopped(f"over budget ({spent:,} > {config.budget:,} {cost_label(budget_metric, res)}): not trained",
                       outcome="over budget")
    if "latency" in config.objectives:
        objective_values["latency"] = measure_latency(genome, resolution=res, in_channels=data.in_channels,
                                                      num_classes=data.num_classes)
        trial.set_user_attr("latency_ms", objective_values["latency"])
    smallest_input = min_resolution(genome, in_channels=data.in_channels)
    if smallest_input > config.resolution:
        raise _TrialError(f"the network needs inputs of at least {smallest_input}×{smallest_input}, "
                          f"the protocol trains at {config.resolution}×{config.resolution}")
    torch.manual_seed(config.seed + trial.number)
    model = build(genome, num_classes=data.num_classes, in_channels=data.in_channels)
    curve: list[float] = []
    halving = s.halving if reference is None else None
    rungs: dict[str, list[float]] = {}
    decisions: list[dict[str, int]] = []

    def on_epoch(epoch: int, accuracy: float) -> None:
        curve.append(accuracy)
        trial.set_user_attr("val_curve", curve)
        trial.set_user_attr("images_trained", epoch * len(s.train[0]))
        if halving is not None and epoch in halving.rungs:
            rungs[str(epoch)] = [accuracy if o == "accuracy" else objective_values[o] for o in config.objectives]
            trial.set_user_attr("rungs", rungs)  # the accuracy (and costs) at every rung reached
            if halving.judged(epoch):
                _judge(s, trial, halving, epoch, decisions)

    trial_config = replace(s.train_config, seed=config.seed + trial.number)
    trial.set_user_attr("protocol", trial_config.to_dict())
    try:
        result = train(model, *s.train, *s.val, trial_config, mean=s.mean, std=s.std, on_epoch=on_epoch)
    except TrainingDiverged as exc:
        raise _TrialError(f"training diverged: {exc}") from None
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower():
            raise _TrialError(f"out of memory: {exc}") from None
        raise
    trial.set_user_attr("train_seconds", result.seconds)
    trial.set_user_attr("images_per_second", result.images_per_second)
    trial.set_user_attr("device", result.device)
    trial.set_user_attr("status", "trained" + ("" if spent <= config.budget else " (reference, over budget)"))
    save_atomic(model.state_dict(), s.weights_dir / f"trial_{trial.number}.pt")  # a kill leaves no truncated file
    objective_values["accuracy"] = float(result.val_accuracy[-1])
    return [objective_values[o] for o in config.objectives], "trained"


def _rung_results(s: _Search, trials: Sequence[optuna.trial.FrozenTrial], epochs: int) -> dict[int, list[float]]:
    """The candidates' results at the rung of ``epochs`` (trial number -> objectives oriented for
    minimisation): those running, finished or stopped; not the references (trained in full, never
    judged), not repeats (copies), not failed or killed trials (their retry records its own)."""
    results = {}
    for t in trials:
        rung = t.user_attrs.get("rungs", {}).get(str(epochs))
        if (rung is not None and t.state in (_STATES.RUNNING, _STATES.COMPLETE, _STATES.PRUNED)
                and not t.user_attrs.get("reference") and "repeat_of" not in t.user_attrs):
            results[t.number] = [-v if o == "accuracy" else v for o, v in zip(s.objectives, rung)]
    return results


def _judge(s: _Search, trial: optuna.trial.Trial, halving: Halving, epochs: int,
           decisions: list[dict[str, int]]) -> None:
    """Judge a candidate at a rung, under the study's lock so that workers judging at once see each
    other's results; the decision joins the trial's ``decisions`` (stored on it), and :class:`_Stopped`
    is raised if it stops."""
    with s.lock:
        decision = judge(_rung_results(s, s.trials(), epochs), trial.number, eta=halving.eta, epochs=epochs)
        decisions.append({"epochs": epochs, "position": decision.position, "of": decision.of, "kept": decision.kept})
        trial.set_user_attr("halving", decisions)
    if not decision.promoted:
        raise _Stopped(f"stopped after {epochs} of {halving.rungs[-1]} epochs by successive halving ({decision})")


def _claim(s: _Search, trial: optuna.trial.Trial, genome: Genome, will_train: bool) -> optuna.trial.FrozenTrial | None:
    """The finished trial of the same network, whose result this one reuses; None when this trial is
    the first (it is then marked ``training``, under the study's lock, so that a worker that samples
    the same network meanwhile waits for this one instead of training it too)."""
    key = str(genome)
    while True:
        with s.lock:
            trial.set_user_attr("genome", key)
            trials = s.trials()
            outcomes = trial_outcomes(trials)
            same = [t for t in trials if t.number != trial.number and t.user_attrs.get("genome") == key]
            original = next((t for t in same if outcomes[t.number] in PRICED_OUTCOMES), None)
            if original is not None:
                return original
            busy = [t for t in same if outcomes[t.number] == "running" and t.user_attrs.get("status") == "training"]
            if not busy:
                if will_train:
                    trial.set_user_attr("status", "training")
                return None
            fail_dead_trials(s.study, heartbeat=s.config.heartbeat)
        time.sleep(_POLL)  # the same network is training in another worker: its result will be this one's


def weights_source(t: optuna.trial.FrozenTrial) -> int:
    """The trial whose weights stand for ``t``: the trial it repeats, else itself."""
    return int(t.user_attrs.get("repeat_of", t.number))


def front_trials(trials: Sequence[optuna.trial.FrozenTrial], objectives: Sequence[str],
                 outcomes: dict[int, str] | None = None) -> list[optuna.trial.FrozenTrial]:
    """The Pareto set: trained, within budget (references included, as points of the space; repeats left
    out, stopped candidates are no results), cheapest first. ``outcomes``: :func:`trial_outcomes` of
    ``trials``, when the caller has them already."""
    outcomes = trial_outcomes(trials) if outcomes is None else outcomes
    kept = {t.number: t for t in trials if outcomes[t.number] == "trained" and feasible(t)}
    keys = pareto_front({n: _oriented(t, objectives) for n, t in kept.items()})
    return sorted((kept[k] for k in keys), key=lambda t: _value(t, objectives, _cost_objective(objectives)))


def _reference_trials(trials: Sequence[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    return [t for t in trials if t.user_attrs.get("reference") and t.state == _STATES.COMPLETE]


def _prune_weights(s: _Search, trials: list[optuna.trial.FrozenTrial]) -> None:
    """Delete the weights of finished trials that left the Pareto set (the references' are kept: the
    test split needs them); the weights of a trial still running, here or in another worker, are never
    touched."""
    keep = {t.number for t in front_trials(trials, s.objectives)}
    keep |= {weights_source(t) for t in _reference_trials(trials)}
    finished = {t.number for t in trials if t.state.is_finished()}
    for path in s.weights_dir.glob("trial_*.pt"):
        number = int(path.stem.split("_")[1])
        if number in finished and number not in keep:
            path.unlink(missing_ok=True)


def _oriented(t: optuna.trial.FrozenTrial, objectives: Sequence[str]) -> list[float]:
    return [-v if o == "accuracy" else v for o, v in zip(objectives, t.values)]


def feasible(t: optuna.trial.FrozenTrial) -> bool:
    """Whether trial ``t`` was priced within the budget (its constraint); a trial never priced is not."""
    return all(v <= 0 for v in t.constraints.values()) if t.constraints else bool(t.user_attrs.get("cost"))


# ----------------------------------------------------------------------------------------------
# the end of a run: the test split, the counts


def held_out_accuracies(study: optuna.Study) -> dict[int, float]:
    """Test-split accuracy of the trials that have one (the Pareto set and the references), by number.
    Each is a study user attribute of its own, ``test_accuracy:<trial>``, written once by the worker
    that evaluated it (studies of earlier versions kept them in one ``test_accuracy`` dict)."""
    attrs = study.user_attrs
    tested = {int(n): float(a) for n, a in attrs.get("test_accuracy", {}).items()}
    tested |= {int(k.split(":", 1)[1]): float(v) for k, v in attrs.items() if k.startswith("test_accuracy:")}
    return tested


def _test(s: _Search, trials: Sequence[optuna.trial.FrozenTrial], *, wait: bool) -> None:
    """Evaluate on the test split the Pareto set and the references whose weights this worker can read
    and that have no test accuracy yet; with ``wait``, wait for those whose weights lie with another
    worker that is still there (on another machine) to be evaluated by it."""
    from .builder import build
    from .train import evaluate

    data = s.data
    config = replace(s.train_config, seed=s.config.seed)
    pending = {weights_source(t) for t in front_trials(trials, s.objectives) + _reference_trials(trials)}
    by_number = {t.number: t for t in trials}
    deadline = time.monotonic() + 10 * 60
    while True:
        tested = held_out_accuracies(s.study)
        pending -= set(tested)
        waiting = set()
        for number in sorted(pending):
            path = s.weights_dir / f"trial_{number}.pt"
            t = by_number[number]
            if path.exists():
                model = build(Genome.parse(t.user_attrs["genome"]), num_classes=data.num_classes,
                              in_channels=data.in_channels)
                model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
                accuracy = evaluate(model, data.x_test, data.y_test, config, mean=s.mean, std=s.std)
                with s.lock:  # the first worker's result stands, so that every summary shows the same
                    if number not in held_out_accuracies(s.study):
                        s.study.set_user_attr(f"test_accuracy:{number}", accuracy)
            else:
                trainer = Worker.from_attr(t.user_attrs.get("worker"))
                if trainer is not None and worker_alive(s.study, trainer, heartbeat=s.config.heartbeat):
                    waiting.add(number)
        pending = waiting
        if not (wait and pending) or time.monotonic() > deadline:
            return
        time.sleep(_POLL)


def _counts(trials: Sequence[optuna.trial.FrozenTrial], outcomes: dict[int, str] | None = None) -> dict[str, int]:
    """Candidates by outcome, ``references`` (trained), ``references failed`` and ``images`` (trained by the
    candidates). ``outcomes``: :func:`trial_outcomes` of ``trials``, when the caller has them already."""
    outcomes = trial_outcomes(trials) if outcomes is None else outcomes
    counts = Counter(outcomes[t.number] for t in trials if not t.user_attrs.get("reference"))
    counts["references"] = len(_reference_trials(trials))
    counts["references failed"] = sum(1 for t in trials if t.user_attrs.get("reference") and outcomes[t.number] == "failed")
    counts["images"] = images_trained(trials)
    return dict(counts)


def _finish(s: _Search, outcome: str) -> SearchResult:
    """The result of a run: the front, the references and, unless interrupted, their test accuracies.
    A study that is done looks the same from every worker, so that each prints the same summary."""
    trials = s.trials()
    if outcome != "interrupted":
        _test(s, trials, wait=outcome == "done")
    outcomes = trial_outcomes(trials)
    front = front_trials(trials, s.objectives, outcomes)
    failures = [(t.number, t.user_attrs.get("fail_reason", "")) for t in trials
                if outcomes[t.number] == "failed" and not t.user_attrs.get("reference")]
    completed = [t.values for t in trials if t.state == _STATES.COMPLETE]
    hv = normalised_hypervolume([t.values for t in front], s.objectives, budget_metric=s.config.budget_metric,
                                budget=s.config.budget, seen=completed)
    storage = display_url(s.config.storage or s.storage_url)
    return SearchResult(study_name=s.study.study_name, storage=storage, dataset=s.data.name,
                        pareto=front, references=_reference_trials(trials), hypervolume=hv,
                        files=[storage, str(s.weights_dir)], interrupted=outcome == "interrupted",
                        test_accuracy=held_out_accuracies(s.study), outcome=outcome, counts=_counts(trials),
                        failures=failures, explicit_storage=s.config.storage is not None,
                        resolution=s.space.target_resolution, num_classes=s.data.num_classes)


def run(config: SearchConfig) -> SearchResult:
    """Run (or resume) a search; see the module docstring. With ``config.workers > 1``, that many worker
    processes share the study and this one shows the progress and sums up. Raises
    :class:`SearchError` for bad options before any work."""
    s = _prepare(config)
    progress = _Progress(s, s.trials(), enabled=config.progress)
    try:
        outcome = _run_workers(s, progress) if config.workers > 1 else _work(s, progress)
    finally:
        progress.close()
    return _finish(s, outcome)


# ----------------------------------------------------------------------------------------------
# several workers on one machine


def _worker_devices(device: str, n: int) -> list[str]:
    """``cuda`` (or ``auto`` on a machine with GPUs) spreads the workers over the GPUs, round robin."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device in ("cuda", "auto") and gpus > 1:
        return [f"cuda:{k % gpus}" for k in range(n)]
    return [device] * n


def _worker_main(config: SearchConfig) -> None:
    """The body of a worker process started by ``--workers``."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        outcome = _work(_prepare(config))
    except SearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(_EXIT[outcome])


def _run_workers(s: _Search, progress: _Progress) -> str:
    """Start ``--workers`` processes on the study (spawned: a fresh interpreter each, no state shared
    but the storage), the cores divided among them, and wait for them, showing the progress."""
    config = s.config
    n = config.workers
    threads = config.threads or max(1, _cores() // n)
    devices = _worker_devices(config.device, n)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker_main, name=f"nas-worker-{k}",
                                 args=(replace(config, workers=1, threads=threads, device=devices[k], progress=False),))
                 for k in range(n)]
    print(f"{n} workers, {threads} torch thread(s) each, on {', '.join(sorted(set(devices)))}", file=sys.stderr)
    for p in processes:
        p.start()
    try:
        while any(p.is_alive() for p in processes):
            multiprocessing.connection.wait([p.sentinel for p in processes if p.is_alive()], timeout=_POLL)
            progress.update(s.trials())
    except KeyboardInterrupt:
        for p in processes:  # they got the terminal's Ctrl-C too; a SIGINT to the parent alone must reach them
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signal.SIGINT)
        for p in processes:
            p.join(timeout=120)
        return "interrupted"
    codes = [p.exitcode for p in processes]
    for k, code in enumerate(codes):
        if code not in (0, 130):
            print(f"worker {k} ended with {'signal ' + str(-code) if code and code < 0 else 'exit code ' + str(code)}"
                  "; the others went on with its trial", file=sys.stderr)
    if 130 in codes:
        return "interrupted"
    with s.lock:
        fail_dead_trials(s.study, heartbeat=config.heartbeat)
        step = _next_step(s, s.trials(), timed_out=False)
    return "done" if step == "done" else "stopped"


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class _Progress:
    """What the search is doing, on standard error. A line per network that finishes (a reference, or a
    candidate trained, stopped, failed or repeated; over-budget candidates, priced in milliseconds, are
    only counted), each with the counts so far and an ETA; in a terminal, under them, a status line
    rewritten in place that says what trains now (the references first, then the candidates). In a log
    file (not a terminal) the lines alone. The ETA comes from the candidates finished in this run (the
    references' time, and earlier runs', are left out) and says so when ``--timeout`` comes first."""

    def __init__(self, s: _Search, trials: Sequence[optuna.trial.FrozenTrial], *, enabled: bool,
                 stream: Any = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total, self.timeout = s.config.trials, s.config.timeout
        self.metric, self.objectives = s.config.budget_metric, s.objectives
        self.cost_name = cost_label(self.metric, s.space.target_resolution)
        self.started = time.time()
        self.seen = {t.number for t in trials if t.state.is_finished()}  # finished before this run: no line
        self.status = ""
        self.tally = self._tally(trials, trial_outcomes(trials)) if enabled else ""  # as of the last update
        references = [t for t in trials if t.user_attrs.get("reference")]
        pending = [t for t in references if t.number not in self.seen]
        if enabled and pending:
            self._print(f"training {_plural(len(pending), 'reference')} of {s.space.name!r} first (under the "
                        f"same protocol as the candidates), then the candidates ({self.total} to train; costs are "
                        f"{self.cost_name}, training at {s.config.resolution}×{s.config.resolution})")

    def update(self, trials: Sequence[optuna.trial.FrozenTrial]) -> None:
        """Print a line for each trial finished since the last call, and redraw the status line."""
        if not self.enabled:
            return
        outcomes = trial_outcomes(trials)
        tally = self.tally = self._tally(trials, outcomes)
        lines = []
        for t in trials:
            if t.state.is_finished() and t.number not in self.seen:
                self.seen.add(t.number)
                if t.user_attrs.get("reference"):
                    lines.append(f"{self._finished(t, outcomes[t.number])} · {self._references(trials, outcomes)}")
                elif outcomes[t.number] != "over budget":
                    lines.append(f"{self._finished(t, outcomes[t.number])} · {tally}")
        if lines:
            self._print("\n".join(lines))
        if self.tty:
            running = [t for t in trials if t.state == _STATES.RUNNING]
            now = ", ".join(_name(t) for t in running[:3]) + (f" and {len(running) - 3} more" if len(running) > 3
                                                              else "")
            since = min((t.datetime_start for t in running if t.datetime_start), default=None)
            self._draw(f"{tally}" + (f" · training {now} (since {since:%H:%M:%S})" if running and since else ""))

    def starting(self, trial: optuna.trial.Trial) -> None:
        """In a terminal, say which trial starts training (from the counts of the last update: no reading
        of the study on the worker's way to the trainer)."""
        if self.tty:
            self._draw(f"{self.tally} · training {_name(trial)} (since {time.strftime('%H:%M:%S')})")

    @staticmethod
    def _references(trials: Sequence[optuna.trial.FrozenTrial], outcomes: dict[int, str]) -> str:
        references = [t for t in trials if t.user_attrs.get("reference")]
        finished = [t for t in references if outcomes[t.number] not in ("running", "waiting")]
        return f"references {len(finished)}/{len(references)} done"

    def _tally(self, trials: Sequence[optuna.trial.FrozenTrial], outcomes: dict[int, str]) -> str:
        """The references while they train, then the candidates' counts and the ETA."""
        if any(t.user_attrs.get("reference") and outcomes[t.number] in ("running", "waiting") for t in trials):
            return self._references(trials, outcomes)
        counts = Counter(_counts(trials, outcomes))
        done = sum(counts[k] for k in TRAINED_OUTCOMES)
        parts = [f"{counts['trained']} trained"] + [f"{counts[k]} {k}" for k in ("stopped", "failed") if counts[k]]
        parts.append(f"{counts['over budget']} over budget")
        return f"candidates {min(done, self.total)}/{self.total} ({', '.join(parts)}) · {self._eta(trials, outcomes, done)}"

    def _eta(self, trials: Sequence[optuna.trial.FrozenTrial], outcomes: dict[int, str], done: int) -> str:
        remaining = self.total - done
        if remaining <= 0:
            return "done"
        mine = [t for t in trials if not t.user_attrs.get("reference") and t.datetime_start is not None
                and t.datetime_start.timestamp() >= self.started - 1]
        finished = sum(1 for t in mine if outcomes[t.number] in TRAINED_OUTCOMES)
        if not finished:
            return "ETA after the first candidate"
        now = time.time()
        pace = (now - min(t.datetime_start.timestamp() for t in mine)) / finished
        eta = pace * remaining
        left = None if not self.timeout else self.timeout - (now - self.started)
        if left is not None and left < eta:
            return f"--timeout in {_duration(max(left, 0))}, about {int(max(left, 0) / pace)} more by then"
        return f"ETA {_duration(eta)}"

    def _finished(self, t: optuna.trial.FrozenTrial, outcome: str) -> str:
        attrs = t.user_attrs
        cost = attrs.get("budget", {}).get("value")
        cost_text = "" if cost is None else f"{format_count(cost)} {self.cost_name}"
        seconds = attrs.get("train_seconds")
        took = "" if seconds is None else f", {_duration(seconds)}"
        if outcome == "trained":
            over = "" if feasible(t) else " (over budget)"
            return f"{_name(t)} trained: val accuracy {_value(t, self.objectives, 'accuracy'):.4f}, {cost_text}{over}{took}"
        if outcome == "failed" or outcome == "retried":
            reason = " ".join(str(attrs.get("fail_reason", "no reason recorded")).split())
            return f"{_name(t)} {outcome}: {reason if len(reason) <= 160 else reason[:157] + '...'}"
        return f"{_name(t)} {attrs.get('status', outcome)}" + (f"; {cost_text}" if cost_text else "")

    def _print(self, text: str) -> None:
        """Lines above the status line (which the next :meth:`_draw` puts back)."""
        if self.tty and self.status:
            self.stream.write("\r\033[K")
            self.status = ""
        self.stream.write(text + "\n")
        self.stream.flush()

    def _draw(self, status: str) -> None:
        width = shutil.get_terminal_size((100, 20)).columns - 1
        if len(status) > width:  # cut at a word, never mid-number
            status = status[:width - 1].rsplit(" ", 1)[0] + "…"
        self.status = status
        self.stream.write("\r\033[K" + status)
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.status:
            self.stream.write("\n")
            self.stream.flush()
        self.status = ""


def _name(t: optuna.trial.FrozenTrial | optuna.trial.Trial) -> str:
    reference = t.user_attrs.get("reference")
    return f"reference {reference} (trial {t.number})" if reference else f"trial {t.number}"


def _plural(n: int, word: str) -> str:
    """``1 network``, ``2 networks``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def _duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``1 h 05 min``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


# ----------------------------------------------------------------------------------------------
# summary and CLI


def _count_line(counts: dict[str, int]) -> str:
    def n(k: str) -> int:
        return counts.get(k, 0)

    priced = sum(n(k) for k in PRICED_OUTCOMES)
    parts = [f"{n('trained')} trained"] + ([f"{n('stopped')} stopped early by successive halving"]
                                           if n("stopped") else [])
    parts += [f"{n('over budget')} over the budget (not trained)"]
    parts += [f"{n('failed')} failed"] if n("failed") else []
    extra = [f"{n('images'):,} images trained by the candidates", _plural(n("references"), "reference")
             + (f" ({n('references failed')} more failed: see the report)" if n("references failed") else "")]
    if n("repeat"):
        extra.append(f"{_plural(n('repeat'), 'repeat')} of trained networks (not trained again)")
    if n("retried"):
        extra.append(f"{n('retried')} stopped and run again")
    return f"{_plural(priced, 'candidate')} priced: {', '.join(parts)}; {'; '.join(extra)}"


def near_chance(accuracies: Sequence[float], num_classes: int) -> str | None:
    """A warning when the best of ``accuracies`` is near chance level for ``num_classes`` classes (below
    both twice chance and chance plus a tenth of the way to 1: 0.19 for 10 classes, 0.02 for 100): the
    protocol then cannot tell the networks apart, and the front says little. None otherwise."""
    scored = [a for a in accuracies if a == a]  # NaN: not a result
    if not scored or num_classes < 2:
        return None
    chance = 1 / num_classes
    limit = min(2 * chance, chance + 0.1 * (1 - chance))
    best = max(scored)
    if best >= limit:
        return None
    return (f"the best validation accuracy, {best:.4f}, is near chance level ({chance:.2f} for {num_classes} "
            f"classes; below {limit:.2f} counts as near): the proxy protocol is too short to tell these networks "
            "apart, and the front and the verdicts below say little. Train longer (--epochs, --train-size) or "
            "check the data")


def summary(result: SearchResult, config: SearchConfig) -> str:
    """The text printed at the end of a run: what was done, the front and the references' verdicts by
    trial number and name (the genomes are in the report, the CSV tables and the study)."""
    objectives = list(config.objectives)
    res, train = result.resolution, config.resolution
    macs = cost_label("macs", res)
    lines = [f"\nstudy {result.study_name} on {result.dataset} ({result.storage})",
             f"costs are counted at {res}×{res} (the space's target resolution); the networks trained and were "
             f"validated at {train}×{train}",
             _count_line(result.counts)]
    if not result.pareto and not result.references:
        lines.append("no network was trained" + (f": every candidate failed ({len(result.failures)}); for example "
                                                  f"trial {result.failures[0][0]}: {result.failures[0][1]}"
                                                  if result.failures else ""))
        return "\n".join(lines)
    costs = ", ".join(cost_label(o, res) for o in objectives if o != "accuracy")
    budget = f"{format_count(config.budget)} {cost_label(config.budget_metric, res)}"
    lines.append(f"Pareto set (validation accuracy vs {costs}; within the budget of {budget}): "
                 f"{_plural(len(result.pareto), 'network')}")
    width = max([len(t.user_attrs.get("reference") or "") for t in result.pareto] + [4])
    lines.append(f"  {'trial':>5}  {'name':<{width}}  {'val acc':>7}  {'test acc':>8}  {macs:>16}  {'params':>7}")
    tested = result.test_accuracy
    for t in result.pareto:
        cost = t.user_attrs["cost"]
        test = tested.get(weights_source(t))
        lines.append(f"  {t.number:>5}  {t.user_attrs.get('reference') or '-':<{width}}  "
                     f"{_value(t, objectives, 'accuracy'):>7.4f}  {'-' if test is None else f'{test:.4f}':>8}  "
                     f"{format_count(cost['macs']):>16}  {format_count(cost['params']):>7}")
    lines.append("references (trained under the same protocol):" if result.references else
                 f"references: none trained (--references {config.references})")
    searched = [p for p in result.pareto if not p.user_attrs.get("reference")]
    for t in result.references:
        cost = t.user_attrs["cost"]
        test = tested.get(weights_source(t))
        # the most accurate searched network that dominates it, as the report names it, with its margin:
        # a few hundredths of accuracy are within the proxy's seed-to-seed noise (see the README)
        verdict = "not dominated by the search"
        beaten = dominators([_oriented(t, objectives)], [_oriented(p, objectives) for p in searched])[0]
        if beaten >= 0:
            best = searched[beaten]
            margin = _value(best, objectives, "accuracy") - _value(t, objectives, "accuracy")
            verdict = (f"dominated by trial {best.number} ({margin:+.4f} val accuracy at "
                       f"{best.user_attrs['cost']['macs'] / cost['macs']:.2f}× the MACs)")
        over = "" if feasible(t) else " (over budget)"
        lines.append(f"  {t.user_attrs['reference']:<20} val {_value(t, objectives, 'accuracy'):.4f} test "
                     f"{'-' if test is None else f'{test:.4f}'} {format_count(cost['macs'])} MACs{over}: {verdict}")
    trained = [_value(t, objectives, "accuracy") for t in [*result.pareto, *result.references]]
    warning = near_chance(trained, result.num_classes)
    if warning:
        lines.append(f"warning: {warning}")
    lines.append(f"hypervolume: {result.hypervolume:.4f} (accuracy × cost normalised by the budget)")
    lines.append("files: " + ", ".join(result.files))
    where = (f"--storage '{result.storage}' --study-name {result.study_name}" if result.explicit_storage
             else str(Path(result.files[-1]).parent))
    lines.append(f"the genomes: python -m nas.report {where}   (report.html, pareto.csv, trials.csv)")
    lines.append(f"             python -m nas.export {where} --pareto   (the front as PyTorch modules)")
    lines.append(f"             optuna-dashboard '{result.storage}'")
    if "***@" in result.storage:
        lines.append("             (the password is hidden here: put yours in its place)")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    from .cli import DATA_ROOT_HELP, DEVICE_HELP, HelpFormatter, dataset_help
    from .train import TrainConfig

    parser = argparse.ArgumentParser(
        prog="python -m nas.search", formatter_class=HelpFormatter,
        description="Multi-objective architecture search: a Pareto front of validation accuracy against "
                    "cost, with the space's hand-designed references trained under the same protocol.")
    parser.add_argument("--space", required=True, help=f"search space ({', '.join(list_spaces())})")
    parser.add_argument("--budget", required=True,
                        help="largest allowed cost, with K/M/G suffixes (300M = 300 million), at the space's "
                             "target resolution, counted for the dataset's classes and channels")
    parser.add_argument("--budget-metric", default="macs", choices=BUDGET_METRICS,
                        help="what the budget counts (FLOPs = 2 × MACs)")
    parser.add_argument("--objectives", default="accuracy,macs",
                        help="two or three of accuracy, macs, params, latency (CPU ms, batch 1, median), "
                             "memory (peak activation bytes)")
    parser.add_argument("--trials", type=int, default=SearchConfig.trials,
                        help="candidates the study should train, one per distinct network: references, "
                             "repeats of trained networks and candidates priced over the budget (recorded, not "
                             "trained) are not counted; a rerun adds what is missing")
    parser.add_argument("--timeout", type=float, default=13 * 60,
                        help="seconds of search in this run, references included (they train first and are never "
                             "cut: a timeout they use up is said so); then the Pareto set is tested. 0: no limit. "
                             "13 minutes let a run with no other option end within 15 on 2 CPU cores")
    parser.add_argument("--sampler", default="tpe", choices=SAMPLERS,
                        help="tpe: multivariate TPE, learns from 10 trials on, handles categorical "
                             "spaces and the budget constraint and serves a few hundred trials best; nsga2/nsga3 "
                             "need many generations of 20; gp is slow on spaces of 100+ categorical parameters")
    parser.add_argument("--fidelity", default=None, choices=FIDELITIES,
                        help="asha: asynchronous successive halving over the epochs (MO-ASHA): a candidate is judged "
                             "after --min-epochs, ×eta, ×eta²… epochs against the results at that rung (non-dominated "
                             "sorting over accuracy and cost, hypervolume contribution for ties) and goes on only when in "
                             "the best 1/eta; stopped ones are recorded, never on the front. none: every candidate "
                             "trains all --epochs (default: asha when --epochs > --min-epochs, else none; a resumed "
                             "study keeps its own)")
    parser.add_argument("--eta", type=int, default=3, help="asha: the reduction factor (the best 1/eta go on)")
    parser.add_argument("--min-epochs", type=int, default=1, help="asha: epochs before the first judgement")
    parser.add_argument("--images", default=None,
                        help="compute budget: start no new candidate once the candidates have trained this many "
                             "images in all (epochs × training images; K/M/G suffixes; references left out); the "
                             "search then ends at --images or --trials, whichever comes first (default: no such "
                             "budget)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the split and the training; the sampler draws from it and each trial's number, "
                             "so one worker repeats itself and other workers or a resumed run draw other networks")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes on this machine sharing the study, the CPU cores divided among them "
                             "(with --device cuda, spread over the GPUs). On several machines, run the same command "
                             "on each with one --storage postgresql://...")
    parser.add_argument("--storage", default=None,
                        help="Optuna storage URL (sqlite:///PATH.db, postgresql://USER:PASSWORD@HOST/DB, needing "
                             "pip install 'nas[postgres]') (default: SQLite in <studies-dir>/<study-name>/study.db)")
    parser.add_argument("--study-name", default=None,
                        help="the study's name in the storage, and its folder's name under --studies-dir (default: "
                             "<space>_<budget>_<dataset>, made a valid Python identifier)")
    parser.add_argument("--heartbeat", type=int, default=30,
                        help="seconds between a worker's heartbeats: a trial whose worker on another machine sent "
                             "none for 4 of them is failed and run again (on this machine a dead worker is seen "
                             "at once)")
    parser.add_argument("--references", default="all", choices=("all", "feasible", "none"),
                        help="train the space's hand-designed networks as trials marked as references (all: "
                             "over-budget ones too, shown as infeasible)")
    parser.add_argument("--dataset", default=None,
                        help=dataset_help("cifar10, falling back to digits when neither cached nor downloadable"))
    parser.add_argument("--data-root", default=None, help=DATA_ROOT_HELP)
    parser.add_argument("--epochs", type=int, default=3,
                        help="proxy training epochs per candidate (passes over its training images)")
    parser.add_argument("--train-size", type=int, default=4000,
                        help="training images per candidate, at most (fewer when the dataset has fewer)")
    parser.add_argument("--val-size", type=int, default=None,
                        help="validation images carved from the training split (the search selects on them) "
                             "(default: 1000 or a fifth of the training split, whichever is smaller)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per SGD step")
    parser.add_argument("--lr", type=float, default=None,
                        help=f"peak learning rate of the proxy's one-cycle schedule (default: {TrainConfig.lr:g}; "
                             "a study begun when it was 0.02 resumes with --lr 0.02)")
    parser.add_argument("--resolution", type=int, default=32,
                        help=f"training input side in pixels (8 to {MAX_RESOLUTION})")
    parser.add_argument("--device", default="cpu",
                        help=f"{DEVICE_HELP}; --workers spreads cuda and auto over the GPUs")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per worker (default: torch's choice for one worker, the cores divided "
                             "among the workers of this machine otherwise)")
    parser.add_argument("--studies-dir", default="studies",
                        help="where study folders go: <studies-dir>/<study-name>/ holds study.db and weights/")
    parser.add_argument("--no-progress", action="store_true",
                        help="print no progress (by default: a line on standard error per network that finishes, "
                             "with the counts and an ETA, and in a terminal a status line of what trains now)")
    return parser


def config_from_args(args: argparse.Namespace) -> SearchConfig:
    budget = parse_budget(args.budget)
    return SearchConfig(
        space=args.space, budget=budget, budget_metric=args.budget_metric,
        objectives=tuple(o.strip() for o in args.objectives.split(",") if o.strip()), trials=args.trials,
        timeout=args.timeout or None, sampler=args.sampler, seed=args.seed, storage=args.storage,
        study_name=args.study_name, references=args.references, dataset=args.dataset, data_root=args.data_root,
        epochs=args.epochs, train_size=args.train_size, val_size=args.val_size, batch_size=args.batch_size,
        resolution=args.resolution, device=args.device, threads=args.threads, workers=args.workers,
        heartbeat=args.heartbeat, studies_dir=args.studies_dir, progress=not args.no_progress,
        fidelity=args.fidelity, eta=args.eta, min_epochs=args.min_epochs,
        images=None if args.images is None else parse_budget(args.images, "--images"),
        train_options={} if args.lr is None else {"lr": args.lr},
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # a scheduler's SIGTERM stops like Ctrl-C
    try:
        config = config_from_args(args)
        result = run(config)
    except SearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(summary(result, config))
    if result.interrupted:
        return 130
    return 0 if result.pareto or result.references or not result.failures else 1


if __name__ == "__main__":
    sys.exit(main())
