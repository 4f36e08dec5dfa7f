"""``python -m nas.search --space mobile --budget 300M``: multi-objective architecture search.

Samples architectures from a space with Optuna, prices each exactly before building it (over-budget
candidates cost no training and are recorded as infeasible), trains the rest under a short proxy
protocol, and keeps a Pareto front of validation accuracy against cost. The space's hand-designed
references are trained under the same protocol and recorded as trials marked as references, so they
stand on the same front. The study lives in an Optuna storage (SQLite in ``studies/<name>/`` by
default): rerunning the same command resumes it.
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
import torch

from .cost import Cost, count, format_count, min_resolution
from .genome import Genome
from .space import Space, get_space, list_spaces

__all__ = [
    "SearchConfig",
    "default_study_name",
    "hypervolume",
    "main",
    "normalised_hypervolume",
    "pareto_front",
    "parse_budget",
    "run",
]

OBJECTIVES = {"accuracy": "maximize", "macs": "minimize", "params": "minimize", "latency": "minimize",
              "memory": "minimize"}
SAMPLERS = ("tpe", "nsga2", "nsga3", "gp", "random")
BUDGET_METRICS = ("macs", "params", "flops")
_SUFFIXES = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9}


class SearchError(ValueError):
    """A bad option: the message names the value and the fix. The CLI prints it and exits with 2."""


# ----------------------------------------------------------------------------------------------
# options


def parse_budget(text: str) -> int:
    """``"300M"`` -> 300_000_000. Suffixes K, M, G (powers of 1000); a plain number is taken as is."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMG]?)\s*", str(text), flags=re.IGNORECASE)
    if not match:
        raise SearchError(f"budget {text!r} is not a number with an optional K, M or G suffix "
                          "(for example 300M for 300 million MACs, 5M with --budget-metric params)")
    value = float(match.group(1)) * _SUFFIXES[match.group(2).upper()]
    if value <= 0:
        raise SearchError(f"budget {text!r} must be positive")
    return int(value)


def default_study_name(space: str, budget: str, dataset: str) -> str:
    """A valid Python identifier from space, budget and dataset: ``mobile_300M_cifar10``."""
    name = re.sub(r"\W+", "_", f"{space}_{budget}_{dataset}").strip("_")
    return name if not name[0].isdigit() else f"s_{name}"


@dataclass(frozen=True)
class SearchConfig:
    """Everything a search run needs; the CLI fills it from its options."""

    space: str
    budget: int                                   # in units of budget_metric
    budget_text: str = ""                         # as the user wrote it, for the study name
    budget_metric: str = "macs"                   # macs | params | flops, at the space's target resolution
    objectives: tuple[str, ...] = ("accuracy", "macs")
    trials: int = 30                              # search trials (references not counted) the study should reach
    timeout: float | None = 13 * 60               # seconds for this run's search, then the final evaluation
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
    device: str = "cpu"
    threads: int | None = None
    studies_dir: str = "studies"
    progress: bool = True
    train_options: dict[str, Any] = field(default_factory=dict)  # other TrainConfig fields


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
    for name in ("trials", "epochs", "batch_size", "resolution"):
        value = getattr(config, name)
        if not isinstance(value, int) or value < 1:
            raise SearchError(f"--{name.replace('_', '-')} {value!r} must be a positive whole number")
    for name in ("train_size", "val_size"):
        value = getattr(config, name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise SearchError(f"--{name.replace('_', '-')} {value!r} must be a positive whole number")
    if config.timeout is not None and config.timeout <= 0:
        raise SearchError(f"--timeout {config.timeout!r} must be positive (seconds)")
    if config.device not in ("cpu", "cuda", "auto"):
        raise SearchError(f"--device {config.device!r} is not one of cpu, cuda, auto")
    if config.device == "cuda" and not torch.cuda.is_available():
        raise SearchError("--device cuda: no CUDA device is available here; use --device cpu or auto")
    return space


# ----------------------------------------------------------------------------------------------
# costs and objectives


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
# Pareto front and hypervolume (objectives already oriented for minimisation)


def _dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_front(points: dict[int, Sequence[float]]) -> list[int]:
    """Keys of the non-dominated points (minimisation in every coordinate)."""
    return [k for k, p in points.items() if not any(_dominates(q, p) for j, q in points.items() if j != k)]


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


def _versions() -> dict[str, str]:
    import torchvision

    from . import __version__

    return {"nas": __version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "optuna": optuna.__version__, "python": platform.python_version()}


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


def _sampler(config: SearchConfig) -> optuna.samplers.BaseSampler:
    seed = config.seed
    if config.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True, n_startup_trials=10)
    if config.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=20)
    if config.sampler == "nsga3":
        return optuna.samplers.NSGAIIISampler(seed=seed, population_size=20)
    if config.sampler == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


class _Interrupted(Exception):
    pass


def run(config: SearchConfig) -> SearchResult:
    """Run (or resume) a search; see the module docstring. Raises :class:`SearchError` for bad options
    before any work."""
    from .builder import build
    from .data import split
    from .train import TrainConfig, TrainingDiverged, evaluate, train

    space = _check_config(config)
    data = _load_data(config)
    in_channels, num_classes = data.in_channels, data.num_classes
    res = space.target_resolution
    budget_metric = config.budget_metric

    smallest, cheapest = smallest_cost(space, budget_metric, in_channels=in_channels, num_classes=num_classes)
    if config.budget < smallest:
        raise SearchError(f"--budget {config.budget_text or config.budget} is below the cheapest network of the "
                          f"{space.name!r} space: {smallest:,} {budget_metric} at {res}×{res} "
                          f"({cheapest}). Raise the budget to at least {smallest:,}.")
    if config.resolution < 8:
        raise SearchError(f"--resolution {config.resolution} is too small to train a CNN; use 32 or more")

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
    study_name = config.study_name or default_study_name(space.name, config.budget_text or str(config.budget),
                                                         dataset_name.split(":")[0])
    study_dir = Path(config.studies_dir) / study_name
    storage = config.storage
    if storage is None:
        study_dir.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{study_dir / 'study.db'}"
    directions = [OBJECTIVES[o] for o in config.objectives]
    try:
        study = optuna.create_study(study_name=study_name, storage=storage, directions=directions,
                                    sampler=_sampler(config), load_if_exists=True)
    except Exception as exc:  # noqa: BLE001 - any storage problem is the user's option to fix
        raise SearchError(f"--storage {storage!r}: {exc}") from None
    if list(study.directions) != [optuna.study.StudyDirection.MAXIMIZE if d == "maximize" else
                                  optuna.study.StudyDirection.MINIMIZE for d in directions]:
        raise SearchError(f"study {study_name!r} exists with other objectives; use the same --objectives or a "
                          "new --study-name")
    settings = {"space": space.name, "budget": config.budget, "budget_metric": budget_metric,
                "objectives": list(config.objectives), "dataset": dataset_name,
                "target_resolution": res, "num_classes": num_classes, "in_channels": in_channels}
    for key, value in settings.items():
        old = study.user_attrs.get(key)
        if old is not None and old != value:
            raise SearchError(f"study {study_name!r} was started with {key}={old!r}, not {value!r}: rerun with "
                              "the same options to resume it, or give a new --study-name")
        study.set_user_attr(key, value)

    study.set_user_attr("protocol", train_config.to_dict() | {"train_size": len(x_train), "val_size": len(x_val)})
    mean, std = data.mean_std()
    # what a user of the trained weights must normalise inputs with: (x / 255 - mean) / std per channel
    study.set_user_attr("normalisation", {"mean": list(mean), "std": list(std)})
    weights_dir = study_dir / "weights"
    weights_dir.mkdir(parents=True, exist_ok=True)

    _enqueue_references(study, space, config, in_channels, num_classes)
    _enqueue_interrupted(study)

    versions = _versions()

    def objective(trial: optuna.trial.Trial) -> list[float]:
        genome = space.sample(trial)
        reference = trial.user_attrs.get("reference")
        cost = count(genome, resolution=res, in_channels=in_channels, num_classes=num_classes)
        spent = _metric(cost, budget_metric)
        trial.set_user_attr("genome", str(genome))
        trial.set_user_attr("cost", {"macs": cost.macs, "flops": cost.flops, "params": cost.params,
                                     "activations": cost.activations, "receptive_field": cost.receptive_field,
                                     "resolution": res})
        trial.set_user_attr("budget", {"metric": budget_metric, "limit": config.budget, "value": spent})
        trial.set_constraint("budget", float(spent - config.budget))
        # optuna-dashboard (0.21) still reads the pre-5.0 list under "constraints": without it, it would
        # draw over-budget trials on the Pareto front
        trial.storage.set_trial_system_attr(trial._trial_id, "constraints", [float(spent - config.budget)])
        trial.set_user_attr("dataset", dataset_name)
        trial.set_user_attr("versions", versions)
        objective_values = {"macs": float(cost.macs), "params": float(cost.params),
                            "memory": float(cost.activation_bytes)}
        if "latency" in config.objectives:
            objective_values["latency"] = measure_latency(genome, resolution=res, in_channels=in_channels,
                                                          num_classes=num_classes)
            trial.set_user_attr("latency_ms", objective_values["latency"])
        if spent > config.budget and reference is None:
            trial.set_user_attr("status", f"over budget ({spent:,} > {config.budget:,} {budget_metric}): not trained")
            return [0.0 if o == "accuracy" else objective_values[o] for o in config.objectives]
        smallest_input = min_resolution(genome, in_channels=in_channels)
        if smallest_input > config.resolution:
            raise _TrialError(f"the network needs inputs of at least {smallest_input}×{smallest_input}, "
                              f"the protocol trains at {config.resolution}×{config.resolution}")
        torch.manual_seed(config.seed + trial.number)
        model = build(genome, num_classes=num_classes, in_channels=in_channels)
        curve: list[float] = []

        def on_epoch(epoch: int, accuracy: float) -> None:
            curve.append(accuracy)
            trial.set_user_attr("val_curve", curve)

        trial_config = replace(train_config, seed=config.seed + trial.number)
        trial.set_user_attr("protocol", trial_config.to_dict())
        try:
            result = train(model, x_train, y_train, x_val, y_val, trial_config, mean=mean, std=std, on_epoch=on_epoch)
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
        torch.save(model.state_dict(), weights_dir / f"trial_{trial.number}.pt")
        objective_values["accuracy"] = float(result.val_accuracy[-1])
        return [objective_values[o] for o in config.objectives]

    interrupted = False
    start = time.monotonic()
    progress = _Progress(config.trials, _done_candidates(study), enabled=config.progress)
    try:
        while _done_candidates(study) < config.trials or _waiting_references(study):
            if config.timeout is not None and time.monotonic() - start > config.timeout and \
                    not _waiting_references(study):
                print(f"timeout of {config.timeout:.0f} s reached; rerun the same command to go on", file=sys.stderr)
                break
            trial = study.ask()
            try:
                values = objective(trial)
            except KeyboardInterrupt:
                trial.set_user_attr("fail_reason", "interrupted (Ctrl-C); it will be run again on resume")
                trial.set_user_attr("interrupted", True)
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                raise _Interrupted from None
            except _TrialError as exc:
                trial.set_user_attr("fail_reason", str(exc))
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            except Exception as exc:  # noqa: BLE001 - a failing candidate must not stop the search
                trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {exc}")
                trial.set_user_attr("traceback", traceback.format_exc(limit=8))
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(trial, values)
            _prune_weights(study, weights_dir, config.objectives)
            progress.update(study, trial.number)
    except _Interrupted:
        interrupted = True
        print("\ninterrupted: the study is saved; rerun the same command to resume where it stopped",
              file=sys.stderr)
    finally:
        progress.close()

    # the test split, only now and only for the Pareto set and the references
    front = _front_trials(study, config.objectives)
    references = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("reference")
                  and t.state == optuna.trial.TrialState.COMPLETE]
    if not interrupted:
        # finished trials cannot be updated: test accuracies live in the study, keyed by trial number
        tested = held_out_accuracies(study)
        test_config = replace(train_config, seed=config.seed)
        for t in {t.number: t for t in front + references}.values():
            path = weights_dir / f"trial_{t.number}.pt"
            if t.number in tested or not path.exists():
                continue
            model = build(Genome.parse(t.user_attrs["genome"]), num_classes=num_classes, in_channels=in_channels)
            model.load_state_dict(torch.load(path, map_location="cpu"))
            tested[t.number] = evaluate(model, data.x_test, data.y_test, test_config, mean=mean, std=std)
        study.set_user_attr("test_accuracy", {str(n): a for n, a in sorted(tested.items())})
    hv = _hypervolume(front, config, study)
    files = [storage, str(weights_dir)]
    return SearchResult(study_name=study_name, storage=storage, dataset=dataset_name, pareto=front,
                        references=references, hypervolume=hv, files=files, interrupted=interrupted,
                        test_accuracy=held_out_accuracies(study))


def held_out_accuracies(study: optuna.Study) -> dict[int, float]:
    """Test-split accuracy of the trials that have one (the Pareto set and the references), by number."""
    return {int(n): float(a) for n, a in study.user_attrs.get("test_accuracy", {}).items()}


class _TrialError(Exception):
    """A candidate that cannot be trained: the trial fails with this reason, the search goes on."""


def _protocol_defaults(config: SearchConfig) -> dict[str, Any]:
    return {"epochs": config.epochs, "batch_size": config.batch_size, "resolution": config.resolution,
            "device": config.device, "threads": config.threads, "seed": config.seed}


def _is_candidate(t: optuna.trial.FrozenTrial) -> bool:
    return not t.user_attrs.get("reference") and not t.user_attrs.get("interrupted")


def _done_candidates(study: optuna.Study) -> int:
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
    return sum(1 for t in study.get_trials(deepcopy=False, states=done) if _is_candidate(t))


def _waiting_references(study: optuna.Study) -> bool:
    return any(t.user_attrs.get("reference") for t in study.get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))


def _enqueue_references(study: optuna.Study, space: Space, config: SearchConfig, in_channels: int,
                        num_classes: int) -> None:
    if config.references == "none":
        return
    present = {t.user_attrs.get("reference") for t in study.get_trials(deepcopy=False)
               if t.state != optuna.trial.TrialState.FAIL or t.user_attrs.get("interrupted")}
    for name, genome in space.references.items():
        if name in present:
            continue
        spent = _metric(count(genome, resolution=space.target_resolution, in_channels=in_channels,
                              num_classes=num_classes), config.budget_metric)
        if config.references == "feasible" and spent > config.budget:
            continue
        study.enqueue_trial(space.to_params(genome), user_attrs={"reference": name}, skip_if_exists=False)


def _enqueue_interrupted(study: optuna.Study) -> None:
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    for t in trials:
        if t.user_attrs.get("interrupted") and t.number not in retried and not t.user_attrs.get("reference"):
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})


def _oriented(t: optuna.trial.FrozenTrial, objectives: Sequence[str]) -> list[float]:
    return [-v if o == "accuracy" else v for o, v in zip(objectives, t.values)]


def _feasible(t: optuna.trial.FrozenTrial) -> bool:
    return all(v <= 0 for v in t.constraints.values())


def _trained(t: optuna.trial.FrozenTrial) -> bool:
    return t.state == optuna.trial.TrialState.COMPLETE and str(t.user_attrs.get("status", "")).startswith("trained")


def _front_trials(study: optuna.Study, objectives: Sequence[str]) -> list[optuna.trial.FrozenTrial]:
    """The Pareto set: trained, within budget (references included, as points of the space)."""
    trials = {t.number: t for t in study.get_trials(deepcopy=False) if _trained(t) and _feasible(t)}
    keys = pareto_front({n: _oriented(t, objectives) for n, t in trials.items()})
    return sorted((trials[k] for k in keys), key=lambda t: t.values[1])  # cheapest first


def _prune_weights(study: optuna.Study, weights_dir: Path, objectives: Sequence[str]) -> None:
    """Keep the weights of the Pareto set and of the references only (the test split needs them)."""
    keep = {t.number for t in _front_trials(study, objectives)}
    keep |= {t.number for t in study.get_trials(deepcopy=False) if t.user_attrs.get("reference")}
    for path in weights_dir.glob("trial_*.pt"):
        if int(path.stem.split("_")[1]) not in keep:
            path.unlink(missing_ok=True)


def _hypervolume(front: list[optuna.trial.FrozenTrial], config: SearchConfig, study: optuna.Study) -> float:
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return normalised_hypervolume([t.values for t in front], config.objectives, budget_metric=config.budget_metric,
                                  budget=config.budget, seen=[t.values for t in completed])


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


class _Progress:
    def __init__(self, total: int, done: int, *, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=min(done, total), unit="trial", desc="search", file=sys.stderr)

    def update(self, study: optuna.Study, number: int) -> None:
        if self.bar is None:
            return
        self.bar.n = min(_done_candidates(study), self.bar.total)
        t = study.get_trials(deepcopy=False)[number]
        status = t.user_attrs.get("reference") or t.user_attrs.get("status") or t.user_attrs.get("fail_reason", "")
        self.bar.set_postfix_str(f"trial {number}: {str(status)[:40]}")
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ----------------------------------------------------------------------------------------------
# summary and CLI


def summary(result: SearchResult, config: SearchConfig) -> str:
    """The text printed at the end of a run."""
    objectives = list(config.objectives)
    lines = [f"\nstudy {result.study_name} on {result.dataset} ({result.storage})"]
    lines.append(f"Pareto set (validation accuracy vs {', '.join(objectives[1:])}; within budget), "
                 f"{len(result.pareto)} networks:")
    lines.append(f"  {'trial':>5} {'val acc':>8} {'test acc':>8} {'MACs':>8} {'params':>8}  genome")
    for t in result.pareto:
        cost = t.user_attrs["cost"]
        test = result.test_accuracy.get(t.number)
        name = t.user_attrs.get("reference")
        lines.append(f"  {t.number:>5} {t.values[0]:>8.4f} {'-' if test is None else f'{test:.4f}':>8} "
                     f"{format_count(cost['macs']):>8} {format_count(cost['params']):>8}  "
                     f"{('[' + name + '] ') if name else ''}{t.user_attrs['genome']}")
    lines.append("references (trained under the same protocol):")
    for t in result.references:
        cost = t.user_attrs["cost"]
        test = result.test_accuracy.get(t.number)
        beaten = [p for p in result.pareto if not p.user_attrs.get("reference") and
                  _dominates(_oriented(p, objectives), _oriented(t, objectives))]
        # the most accurate of them, as the report names it
        verdict = (f"dominated by trial {max(beaten, key=lambda p: p.values[0]).number}" if beaten
                   else "not dominated by the search")
        feasible = "" if _feasible(t) else " (over budget)"
        lines.append(f"  {t.user_attrs['reference']:<20} val {t.values[0]:.4f} test "
                     f"{'-' if test is None else f'{test:.4f}'} MACs {format_count(cost['macs'])}{feasible}: {verdict}")
    lines.append(f"hypervolume: {result.hypervolume:.4f} (accuracy × cost normalised by the budget)")
    lines.append("files: " + ", ".join(result.files))
    folder = Path(result.files[-1]).parent
    where = str(folder) if result.storage.startswith("sqlite:") else f"--storage {result.storage} --study-name {result.study_name}"
    lines.append(f"look further: python -m nas.report {where}   (report.html, pareto.png, CSV tables)")
    lines.append(f"              python -m nas.export {where} --pareto   (the front as PyTorch modules)")
    lines.append(f"              optuna-dashboard {result.storage}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nas.search", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
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
    parser.add_argument("--trials", type=int, default=30,
                        help="search trials the study should reach (references not counted): a rerun adds what is "
                             "missing")
    parser.add_argument("--timeout", type=float, default=13 * 60,
                        help="seconds of search in this run (then the Pareto set is tested); the defaults end within "
                             "15 minutes on 2 CPU cores")
    parser.add_argument("--sampler", default="tpe", choices=SAMPLERS,
                        help="tpe: the default, multivariate TPE learns from 10 trials on, handles categorical "
                             "spaces and the budget constraint and serves a few hundred trials best; nsga2/nsga3 "
                             "need many generations of 20; gp is slow on spaces of 100+ categorical parameters")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampler, the split and the training")
    parser.add_argument("--storage", default=None,
                        help="Optuna storage URL (sqlite:///..., postgresql://...); default: SQLite in "
                             "studies/<study-name>/study.db")
    parser.add_argument("--study-name", default=None,
                        help="default: <space>_<budget>_<dataset>, a valid Python identifier")
    parser.add_argument("--references", default="all", choices=("all", "feasible", "none"),
                        help="train the space's hand-designed networks as trials marked as references (all: "
                             "over-budget ones too, shown as infeasible)")
    parser.add_argument("--dataset", default=None,
                        help="cifar10 (default; falls back to digits when neither cached nor downloadable), "
                             "cifar100, mnist, fashion_mnist, svhn, digits, npz:PATH, folder:PATH")
    parser.add_argument("--data-root", default=None,
                        help="where <dataset>.npz files live; default: $NAS_DATA, else the user cache folder")
    parser.add_argument("--epochs", type=int, default=3, help="proxy training epochs per candidate")
    parser.add_argument("--train-size", type=int, default=4000,
                        help="training images per candidate, at most (fewer when the dataset has fewer)")
    parser.add_argument("--val-size", type=int, default=None,
                        help="validation images carved from the training split (the search selects on them); "
                             "default: 1000 or a fifth of the training split, whichever is smaller")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--resolution", type=int, default=32, help="training input side in pixels")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--studies-dir", default="studies", help=argparse.SUPPRESS)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def config_from_args(args: argparse.Namespace) -> SearchConfig:
    budget = parse_budget(args.budget)
    return SearchConfig(
        space=args.space, budget=budget, budget_text=args.budget.strip(), budget_metric=args.budget_metric,
        objectives=tuple(o.strip() for o in args.objectives.split(",") if o.strip()), trials=args.trials,
        timeout=args.timeout, sampler=args.sampler, seed=args.seed, storage=args.storage,
        study_name=args.study_name, references=args.references, dataset=args.dataset, data_root=args.data_root,
        epochs=args.epochs, train_size=args.train_size, val_size=args.val_size, batch_size=args.batch_size,
        resolution=args.resolution, device=args.device, threads=args.threads, studies_dir=args.studies_dir,
        progress=not args.no_progress,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        config = config_from_args(args)
        result = run(config)
    except SearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary(result, config))
    return 130 if result.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
