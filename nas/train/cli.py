"""``python -m nas.train ARCH``: train one architecture fully, with checkpoints, resume and metrics.

The search ranks networks after a short proxy training; this trains the one you pick for real, with
the same data layer (:mod:`nas.data`) and trainer (:func:`nas.train.train`): SGD with Nesterov
momentum, one-cycle learning rate, label smoothing, random crop (4-pixel padding) and horizontal flip
where the dataset allows it.

ARCH is read in this order (the first form that fits wins):

1. with ``--trial N``: a study, as ``nas.study.open_study`` opens it (a ``studies/<name>/`` folder, its
   ``study.db``, or a bare study name under ``studies/``); trial N's genome is trained;
2. an existing folder holding ``study.db``, a ``.db`` file, or the name of a folder of ``studies/``
   holding one: a study, which then needs ``--trial N``;
3. a path ending in ``.py``: a module written by ``nas.export``: ``GENOME = "..."`` and
   ``build(num_classes=..., in_channels=..., pretrained=False)``; the network is the module's own
   ``build`` (the exported code is what trains), ``GENOME`` only prices it (MACs, params);
4. text with a space, or starting with a genome group such as ``conv_`` or ``net_``: a genome string;
5. a reference network of a space: ``mobilenet_v2``, ``resnet18``, ... or ``space:name``;
6. a dotted module name importable from the current folder
   (``studies.mobile_300M_cifar10.models.trial_19``): an exported module, as in 3.

Training uses the whole training split by default (``--val-size 0``) and evaluates the test split
after every epoch, for the curve, and at the end. Nothing is selected on the test split (no early
stopping, no best epoch: the weights are those of the last epoch), so the final test accuracy is an
honest estimate; give ``--val-size N`` to draw the curve on N training images instead and see the
test split only once, at the end.

Every epoch writes ``<out>/checkpoint.pt`` (model, optimizer, schedule position, epoch, RNG states,
options; atomically); rerunning the same command resumes from it, and on the CPU ends with exactly
the weights of an uninterrupted run. At the end ``<out>/weights.pt`` (a state dict) and
``<out>/metrics.json`` (architecture, cost, dataset, protocol, curve, test accuracy, throughput,
device, versions, times) are written.

Example:
    >>> main(["mobilenet_v2", "--dataset", "digits", "--epochs", "1", "--train-size", "200"])  # doctest: +SKIP
    0
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import hashlib
import importlib
import importlib.util
import inspect
import os
import platform
import re
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..cli import DATA_ROOT_HELP, DEVICE_HELP, HelpFormatter, dataset_help, device_error
from ..cost import count, format_count
from ..files import save_atomic, unwritable
from ..genome import Genome
from ..space import get_space, list_spaces
from . import TrainConfig, TrainingDiverged, evaluate, train, versions

__all__ = ["ARCH_FORMS", "Arch", "RetrainConfig", "RetrainError", "RetrainResult", "build_parser", "main",
           "resolve_arch", "retrain", "summary"]

ARCH_FORMS = ("a study with --trial N (studies/<name>/)",
              ("an exported module (path/to/model.py or a dotted module name such as "
               "studies.mobile_300M_cifar10.models.trial_19)"),
              "a genome string ('conv_s2_c16 ir_c16_x32 head_c64')",
              "a reference network (mobilenet_v2, resnet18, ... or space:name)")
_GENOME_GROUP = re.compile(r"(net|conv|ds|ir|res|bot|shuffle|fire|pool|head)_")
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
CHECKPOINT, WEIGHTS, METRICS = "checkpoint.pt", "weights.pt", "metrics.json"
_FORMAT = 1  # of the checkpoint file


class RetrainError(ValueError):
    """A bad ARCH or option: the message names the value and the fix. The CLI prints it and exits with 2."""


# ----------------------------------------------------------------------------------------------
# ARCH: what to train


@dataclass(frozen=True)
class Arch:
    """A network to train, whatever form ARCH took."""

    form: str  # "study", "module", "genome" or "reference"
    value: str  # what names it across runs: the study folder, the module's file or name, the genome, space:name
    label: str  # short, for the output folder and the summary: "trial_19", "mobilenet_v2", "genome_1a2b3c4d"
    genome: Genome  # prices it; builds it too, except for a module (its own build() does)
    info: dict[str, Any] = field(default_factory=dict)  # provenance, stored in metrics.json
    dataset: str | None = None  # the default dataset: the study's, or the one an exported module came from
    resolution: int | None = None  # the default resolution: the study's protocol
    builder: Callable[..., nn.Module] | None = field(default=None, compare=False, repr=False)  # module.build
    pretrained: tuple[int | None, int | None] | None = None  # (classes, channels) of a module's pretrained weights

    def build(self, *, num_classes: int, in_channels: int) -> nn.Module:
        """The network for ``num_classes`` and ``in_channels``: ``nas.build`` of the genome, or the
        exported module's own ``build``."""
        if self.builder is None:
            from ..builder import build

            return build(self.genome, num_classes=num_classes, in_channels=in_channels)
        kwargs = {"num_classes": num_classes, "in_channels": in_channels}
        if self.pretrained is not None:
            kwargs["pretrained"] = True
        call = f"build({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
        try:
            model = self.builder(**kwargs)
        except Exception as exc:  # noqa: BLE001 - the exported code is the user's: say what failed
            raise RetrainError(f"{call} of {self.value} failed: {type(exc).__name__}: {exc}") from None
        if not isinstance(model, nn.Module):
            raise RetrainError(f"{call} of {self.value} returned an object of type {type(model).__name__}, "
                               "not a torch.nn.Module")
        return model


def _references() -> list[tuple[str, str, Genome]]:
    """Every reference network of every registered space: (space, name, genome)."""
    return [(space, name, genome) for space in list_spaces() for name, genome in get_space(space).references.items()]


def resolve_arch(text: str, *, trial: int | None = None, pretrained: bool = False,
                 studies_dir: str | os.PathLike = "studies") -> Arch:
    """Decide which form ``text`` is in (the order of the module docstring) and read it.

    Args:
        text: ARCH as given on the command line.
        trial: ``--trial N``: ``text`` is then a study.
        pretrained: start from an exported module's pretrained weights (``build(pretrained=True)``).
        studies_dir: where bare study names are looked up.

    Raises:
        RetrainError: ARCH fits no form, or its form cannot be read (the message names the value).
    """
    text = str(text).strip()
    if not text:
        raise RetrainError(f"ARCH is empty: give {_forms()}")
    path = Path(text).expanduser()
    if trial is not None:
        arch = _from_study(text, trial, studies_dir)
    elif (path.is_dir() and (path / "study.db").is_file() or path.is_file() and path.suffix == ".db"
          or len(path.parts) == 1 and (Path(studies_dir) / text / "study.db").is_file()):
        raise RetrainError(f"ARCH {text!r} is a study: add --trial N to pick a network{_pareto_hint(text, studies_dir)}")
    elif text.endswith(".py"):
        if not path.is_file():
            raise RetrainError(f"ARCH {text!r}: no such file (an exported module, a .py file that defines GENOME "
                               "and build())")
        arch = _from_module(text, pretrained=pretrained)
    elif any(c.isspace() for c in text) or _GENOME_GROUP.match(text):
        arch = _from_genome(text)
    elif (reference := _find_reference(text)) is not None:
        arch = reference
    elif _DOTTED.fullmatch(text) and _importable(text):
        arch = _from_module(text, pretrained=pretrained)
    else:
        names = sorted({name for _, name, _ in _references()} | {f"{s}:{n}" for s, n, _ in _references()})
        close = difflib.get_close_matches(text, names, n=5, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        module = f" (no module {text!r} can be imported from {os.getcwd()})" if "." in text else ""
        raise RetrainError(f"ARCH {text!r} is not a known network{module}{hint}\nARCH may be {_forms()}")
    if pretrained and arch.form != "module":
        raise RetrainError(f"--pretrained: ARCH {text!r} is a {arch.form}, not an exported module; only an exported "
                           "module's build(pretrained=True) brings weights (drop --pretrained to train from scratch)")
    return arch


def _forms() -> str:
    return "; ".join(ARCH_FORMS)


def _from_study(text: str, trial: int, studies_dir: str | os.PathLike) -> Arch:
    from ..study import StudyError, open_study

    try:
        study = open_study(text, studies_dir=studies_dir)
        t = study.trial(trial)
        genome = study.genome(trial)
        label = study.label(trial)
    except StudyError as exc:
        raise RetrainError(f"ARCH {text!r} with --trial {trial}: {exc}") from None
    if t.state.name == "FAIL" and not t.user_attrs.get("interrupted"):
        pareto = ", ".join(map(str, study.pareto().number)) or "empty"
        raise RetrainError(f"trial {trial} of {study.name!r} failed in the search "
                           f"({t.user_attrs.get('fail_reason', 'no reason recorded')}): pick one of the Pareto set "
                           f"({pareto}), or pass its genome string to train it anyway: '{genome}'")
    protocol = study.attrs.get("protocol", {})
    info = {"study": study.name, "storage": study.storage, "trial": trial, "reference": t.user_attrs.get("reference"),
            "search_val_accuracy": t.values[study.objectives.index("accuracy")] if t.values else None,
            "search_test_accuracy": study.test_accuracy.get(trial), "search_protocol": protocol}
    return Arch(form="study", value=str(Path(study.folder).resolve()), label=f"{study.name}_{label}", genome=genome,
                info=info, dataset=study.dataset or None, resolution=protocol.get("resolution"))


def _pareto_hint(text: str, studies_dir: str | os.PathLike) -> str:
    from ..study import StudyError, open_study

    try:
        numbers = list(open_study(text, studies_dir=studies_dir).pareto().number)
    except (StudyError, KeyError, AttributeError):
        return ""
    return f" (its Pareto set: {', '.join(map(str, numbers))})" if numbers else ""


def _from_genome(text: str) -> Arch:
    try:
        genome = Genome.parse(text)
    except ValueError as exc:
        raise RetrainError(f"ARCH {text!r} reads as a genome string but does not parse: {exc}") from None
    digest = hashlib.sha1(str(genome).encode()).hexdigest()[:8]
    return Arch(form="genome", value=str(genome), label=f"genome_{digest}", genome=genome)


def _find_reference(text: str) -> Arch | None:
    references = _references()
    space, sep, name = text.partition(":")
    if sep:
        if space not in list_spaces():
            return None
        known = [n for s, n, _ in references if s == space]
        if name not in known:
            close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
            raise RetrainError(f"ARCH {text!r}: space {space!r} has no reference {name!r}"
                               f"{'; did you mean ' + ' or '.join(close) + '?' if close else ''} "
                               f"(its references: {', '.join(known)})")
        hits = [(s, n, g) for s, n, g in references if s == space and n == name]
    else:
        hits = [(s, n, g) for s, n, g in references if n == text]
    if not hits:
        return None
    if len({g for _, _, g in hits}) > 1:  # the same network in several spaces is one network: the first names it
        raise RetrainError(f"ARCH {text!r} is a reference of several spaces: write "
                           f"{' or '.join(f'{s}:{n}' for s, n, _ in hits)}")
    space, name, genome = hits[0]
    return Arch(form="reference", value=f"{space}:{name}", label=name, genome=genome,
                info={"space": space, "reference": name})


def _importable(name: str) -> bool:
    with _cwd_on_path():
        importlib.invalidate_caches()
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a parent package that does not exist
            return False


class _cwd_on_path:
    """The current folder first on ``sys.path`` (where ``python -m`` puts it), for dotted module names."""

    def __enter__(self) -> None:
        self.cwd = os.getcwd()
        self.added = self.cwd not in sys.path
        if self.added:
            sys.path.insert(0, self.cwd)

    def __exit__(self, *exc: object) -> None:
        if self.added and self.cwd in sys.path:
            sys.path.remove(self.cwd)


def _from_module(text: str, *, pretrained: bool) -> Arch:
    if text.endswith(".py"):
        path = Path(text).expanduser().resolve()
        name = f"_nas_arch_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise RetrainError(f"ARCH {text!r}: cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses and pickling look modules up there
        where, label = str(path), path.stem
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - the exported code is the user's
            sys.modules.pop(name, None)
            raise RetrainError(f"importing {where} failed: {type(exc).__name__}: {exc}") from None
    else:
        where, label = text, text.rsplit(".", 1)[-1]
        with _cwd_on_path():
            try:
                module = importlib.import_module(text)
            except Exception as exc:  # noqa: BLE001
                raise RetrainError(f"importing {text} failed: {type(exc).__name__}: {exc}") from None
    build = getattr(module, "build", None)
    genome_text = getattr(module, "GENOME", None)
    fix = ("an exported module defines GENOME = '<genome string>' and build(num_classes=..., in_channels=..., "
           "pretrained=False); write one with nas.export")
    if not callable(build):
        raise RetrainError(f"module {where} has no build() function: {fix}")
    if not isinstance(genome_text, str):
        raise RetrainError(f"module {where} has no GENOME string (needed to count MACs and params): {fix}")
    try:
        genome = Genome.parse(genome_text)
    except ValueError as exc:
        raise RetrainError(f"module {where}: GENOME does not parse: {exc}") from None
    shape = None
    if pretrained:
        try:
            parameters = inspect.signature(build).parameters
        except (TypeError, ValueError):
            parameters = {}
        takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        if "pretrained" not in parameters and not takes_kwargs:
            raise RetrainError(f"--pretrained: build() of {where} takes no 'pretrained' argument; drop --pretrained "
                               "to train from scratch")

        def default(key: str, attr: str) -> int | None:
            p = parameters.get(key)
            if p is not None and isinstance(p.default, int):
                return p.default
            value = getattr(module, attr, None)
            return value if isinstance(value, int) else None

        shape = (default("num_classes", "NUM_CLASSES"), default("in_channels", "IN_CHANNELS"))
    metrics = getattr(module, "METRICS", None)
    # the dataset it was exported from: its build() defaults (classes, channels) are that dataset's
    dataset = metrics.get("dataset") if isinstance(metrics, dict) and isinstance(metrics.get("dataset"), str) else None
    return Arch(form="module", value=where, label=label, genome=genome, builder=build, pretrained=shape,
                info={"module": where, "file": getattr(module, "__file__", None), "pretrained": pretrained},
                dataset=dataset)


# ----------------------------------------------------------------------------------------------
# the run


@dataclass(frozen=True)
class RetrainConfig:
    """Everything a full training needs; the CLI fills it from its options (``None``: see the help)."""

    arch: str
    trial: int | None = None
    pretrained: bool = False
    dataset: str | None = None  # None: the study's for a study, the exported module's (its METRICS) for a module, else cifar10 (no fallback)
    data_root: str | None = None
    epochs: int = 30
    batch_size: int = 64
    lr: float = 0.02  # peak, one-cycle
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    schedule: str = "onecycle"
    warmup: float = 0.1
    resolution: int | None = None  # None: the study's protocol, else 32
    crop_padding: int = 4
    bn_recalibration: int = 512
    train_size: int | None = None  # None: the whole training split
    val_size: int = 0  # 0: no validation split, the curve is on the test split
    device: str = "auto"
    threads: int | None = None
    seed: int = 0
    out: str | None = None  # None: runs/<label>_<dataset>
    restart: bool = False
    studies_dir: str = "studies"
    verbose: bool = True  # a line per epoch


@dataclass
class RetrainResult:
    """What :func:`retrain` gives: where the files are and what they hold."""

    out: Path
    metrics: dict[str, Any]  # what metrics.json holds (the curve so far when interrupted)
    interrupted: bool = False
    epochs_done: int = 0


# the options a resumed run must share with its checkpoint (device and threads may change), as the CLI names them
_OPTION_NAMES = {"arch": "ARCH", "trial": "--trial", "genome": "the architecture (genome)", "pretrained": "--pretrained",
                 "dataset": "--dataset", "train_images": "--train-size", "val_images": "--val-size",
                 "epochs": "--epochs", "batch_size": "--batch-size", "lr": "--lr", "weight_decay": "--weight-decay",
                 "label_smoothing": "--label-smoothing", "schedule": "--schedule", "warmup": "--warmup",
                 "resolution": "--resolution", "crop_padding": "--crop-padding",
                 "bn_recalibration": "--bn-recalibration", "seed": "--seed"}


def retrain(config: RetrainConfig, *, command: str = "") -> RetrainResult:
    """Train ``config.arch`` fully (or resume it), writing the checkpoint, weights and metrics.

    Args:
        config: the options.
        command: the command line, stored in metrics.json and printed to resume after Ctrl-C.

    Returns:
        A :class:`RetrainResult`; ``interrupted`` when Ctrl-C stopped the training (the checkpoint
        holds the last finished epoch).

    Raises:
        RetrainError: a bad ARCH or option, or a checkpoint of other options in the output folder.
    """
    from ..data import split

    _check_options(config)
    arch = resolve_arch(config.arch, trial=config.trial, pretrained=config.pretrained, studies_dir=config.studies_dir)
    data = _load_data(config, arch)
    num_classes, in_channels = data.num_classes, data.in_channels
    if arch.pretrained is not None:
        want_classes, want_channels = arch.pretrained
        wrong = [f"{have} {what} but the pretrained weights take {want}" for have, want, what in
                 ((in_channels, want_channels, "channels"), (num_classes, want_classes, "classes"))
                 if want is not None and want != have]
        if wrong:
            raise RetrainError(f"--pretrained: dataset {data.name} has {' and '.join(wrong)} ({arch.value}): pick a "
                               "dataset of that shape, or drop --pretrained to train from scratch")

    resolution = config.resolution or arch.resolution or 32
    try:
        cost = count(arch.genome, resolution=resolution, in_channels=in_channels, num_classes=num_classes)
    except ValueError as exc:
        raise RetrainError(f"--resolution {resolution}: {exc}") from None

    (x_train, y_train), (x_val, y_val), curve_split = _split(data, config, split)
    try:
        train_config = TrainConfig(
            epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, weight_decay=config.weight_decay,
            label_smoothing=config.label_smoothing, schedule=config.schedule, warmup=config.warmup,
            resolution=resolution, crop_padding=config.crop_padding, flip=data.flip, device=config.device,
            threads=config.threads, bn_recalibration=config.bn_recalibration, seed=config.seed)
        resolved = train_config.resolved()
    except (TypeError, ValueError) as exc:
        raise RetrainError(_as_option(str(exc))) from None

    out = Path(config.out) if config.out else Path("runs") / f"{_slug(arch.label)}_{_slug(_dataset_label(data.name))}"
    options = {"arch": f"{arch.form} {arch.value}", "trial": config.trial, "genome": str(arch.genome),
               "pretrained": config.pretrained, "dataset": data.name, "train_images": len(x_train),
               "val_images": 0 if curve_split == "test" else len(x_val),
               **{k: v for k, v in train_config.to_dict().items() if k not in ("device", "threads")}}
    saved = _prepare_out(out, options, config, resolved.device)

    torch.manual_seed(config.seed)
    model = arch.build(num_classes=num_classes, in_channels=in_channels)
    model_params = sum(p.numel() for p in model.parameters())
    if arch.form == "module":
        _dry_run(model, arch, in_channels=in_channels, num_classes=num_classes, resolution=resolution)
        if model_params != cost.params:
            print(f"warning: GENOME of {arch.value} counts {cost.params:,} parameters but its build() makes "
                  f"{model_params:,}: the MACs and params in {METRICS} come from GENOME", file=sys.stderr)

    now = _now()
    history: list[dict[str, float]] = list(saved["history"]) if saved else []
    started = saved["started"] if saved else now
    resumed = list(saved.get("resumed", [])) if saved else []
    if saved:
        resumed.append(now)
    mean, std = data.mean_std()
    arch_info = {"form": arch.form, "value": arch.value, **arch.info}
    clock = {"seconds": saved["train"]["seconds"] if saved else 0.0, "wall": time.perf_counter(),
             "saved": saved["train"]["epoch"] if saved else 0}  # the epoch the checkpoint file holds

    def checkpoint(state: dict[str, Any]) -> None:
        epoch = state["epoch"]
        wall = time.perf_counter()
        history.append({"epoch": epoch, "train_loss": state["train_loss"][-1], "accuracy": state["val_accuracy"][-1],
                        "seconds": state["seconds"] - clock["seconds"], "wall_seconds": wall - clock["wall"]})
        _save_atomic({"format": _FORMAT, "options": options, "arch": arch_info, "config": train_config.to_dict(),
                      "train": state, "history": history, "started": started, "resumed": resumed,
                      "command": command}, out / CHECKPOINT)
        clock["saved"] = epoch
        h = history[-1]
        if config.verbose:
            print(f"epoch {epoch:>{len(str(config.epochs))}}/{config.epochs}  loss {h['train_loss']:.4f}  "
                  f"{curve_split} acc {h['accuracy']:.4f}  {h['seconds']:.1f} s "
                  f"({len(x_train) / max(h['seconds'], 1e-9):,.0f} img/s)", flush=True)
        clock["seconds"], clock["wall"] = state["seconds"], time.perf_counter()

    try:
        result = train(model, x_train, y_train, x_val, y_val, train_config, mean=mean, std=std,
                       checkpoint=checkpoint, resume=saved["train"] if saved else None)
    except KeyboardInterrupt:
        metrics = {"arch": arch_info, "label": arch.label, "genome": str(arch.genome), "history": history}
        return RetrainResult(out=out, metrics=metrics, interrupted=True, epochs_done=clock["saved"])
    except TrainingDiverged as exc:
        raise RetrainError(f"{exc} ({out / CHECKPOINT} holds epoch {clock['saved']}; --restart with a lower --lr)"
                           ) from None
    except RuntimeError as exc:  # a checkpoint that does not fit the network (the module changed), memory
        if saved and ("state_dict" in str(exc) or "size mismatch" in str(exc)):
            raise RetrainError(f"{out / CHECKPOINT} does not fit the network any more ({exc}); "
                               "add --restart to start over") from None
        if "out of memory" in str(exc).lower():
            raise RetrainError(f"out of memory at --batch-size {config.batch_size}: {exc}; a smaller --batch-size "
                               "(with --restart) needs less") from None
        raise
    test_accuracy = evaluate(model, data.x_test, data.y_test, train_config, mean=mean, std=std)
    _save_atomic({k: v.detach().cpu() for k, v in model.state_dict().items()}, out / WEIGHTS)

    metrics = {
        "arch": arch_info, "label": arch.label, "genome": str(arch.genome),
        "macs": cost.macs, "flops": cost.flops, "params": cost.params, "model_params": model_params,
        "activations": cost.activations, "resolution": resolution, "num_classes": num_classes,
        "in_channels": in_channels,
        "dataset": {"name": data.name, "classes": list(data.classes), "image_size": list(data.image_size),
                    "train_images": len(x_train), "val_images": 0 if curve_split == "test" else len(x_val),
                    "test_images": len(data.x_test), "mean": list(mean), "std": list(std), "flip": data.flip},
        "epochs": config.epochs,
        "config": train_config.to_dict(),
        "resolved": {"device": resolved.device, "channels_last": resolved.channels_last, "amp": resolved.amp},
        "curve": {"split": curve_split, "accuracy": [h["accuracy"] for h in history],
                  "train_loss": [h["train_loss"] for h in history], "seconds": [h["seconds"] for h in history],
                  "wall_seconds": [h["wall_seconds"] for h in history]},
        "test_accuracy": test_accuracy,
        "val_accuracy": None if curve_split == "test" else result.val_accuracy[-1],
        "train_seconds": result.seconds,
        "images_per_second": result.images_per_second,
        "device": result.device, "device_name": _device_name(result.device),
        "threads": config.threads or torch.get_num_threads(),
        "versions": versions(),
        "started": started, "finished": _now(), "resumed": resumed,
        "command": command,
        "files": {"weights": WEIGHTS, "checkpoint": CHECKPOINT},
    }
    _save_atomic(metrics, out / METRICS)
    return RetrainResult(out=out, metrics=metrics, epochs_done=len(history))


def _check_options(config: RetrainConfig) -> None:
    if config.trial is not None and (not isinstance(config.trial, int) or config.trial < 0):
        raise RetrainError(f"--trial {config.trial!r} must be a trial number (0 or more)")
    if config.train_size is not None and config.train_size < 2:
        raise RetrainError(f"--train-size {config.train_size} must be at least 2 images (batch norm needs 2 a batch)")
    if config.val_size < 0:
        raise RetrainError(f"--val-size {config.val_size} must be 0 (no validation split) or a number of images")
    if config.resolution is not None and config.resolution < 8:
        raise RetrainError(f"--resolution {config.resolution} is too small to train a CNN; use 32 or more")
    if error := device_error(config.device):
        raise RetrainError(error)


def _as_option(message: str) -> str:
    """``"lr=-1.0 is out of range"`` (a TrainConfig message) -> ``"--lr -1.0 is out of range"``."""
    return re.sub(r"^(\w+)=", lambda m: f"--{m.group(1).replace('_', '-')} ", message)


def _load_data(config: RetrainConfig, arch: Arch) -> Any:
    from ..data import DatasetError, DatasetUnavailable, load_dataset

    spec = config.dataset or arch.dataset or "cifar10"
    try:
        return load_dataset(spec, root=config.data_root)
    except DatasetUnavailable as exc:
        if config.dataset is None and spec == "cifar10":
            raise RetrainError(
                f"CIFAR-10, the default dataset, is not available: {exc}\nA full training does not fall back to "
                "another dataset: give --data-root DIR (or set $NAS_DATA=DIR) for a folder holding cifar10.npz, or "
                "choose a dataset with --dataset (for example --dataset digits, scikit-learn's 8×8 digits, "
                "offline)") from None
        raise RetrainError(f"--dataset {spec}: {exc}") from None
    except DatasetError as exc:
        raise RetrainError(f"--dataset {spec}: {exc}") from None


def _split(data: Any, config: RetrainConfig, split: Callable[..., Any]) -> tuple[Any, Any, str]:
    """(train, curve, split name): the curve is drawn on a validation split carved from the training
    images when ``--val-size`` > 0, else on the test split."""
    n = len(data.x_train)
    if config.train_size is not None and config.train_size + config.val_size > n:
        raise RetrainError(f"--train-size {config.train_size} (+ --val-size {config.val_size}) is more than the "
                           f"{n:,} training images of {data.name}")
    try:
        if config.val_size:
            if config.val_size >= n - 1:
                raise RetrainError(f"--val-size {config.val_size} leaves too few training images: {data.name} has {n:,}")
            train_part, val_part = split(data, val_size=config.val_size, train_size=config.train_size,
                                         seed=config.seed)
            return train_part, val_part, "validation"
        test_part = (data.x_test, data.y_test)
        if config.train_size is None or config.train_size == n:
            return (data.x_train, data.y_train), test_part, "test"
        # a stratified subset: split sets aside the images that are not used
        train_part, _ = split(data, val_size=n - config.train_size, seed=config.seed)
        return train_part, test_part, "test"
    except (TypeError, ValueError) as exc:
        if isinstance(exc, RetrainError):
            raise
        raise RetrainError(str(exc)) from None


def _prepare_out(out: Path, options: dict[str, Any], config: RetrainConfig, device: str) -> dict[str, Any] | None:
    """Create ``out``; the checkpoint to resume from, or None. Refuses a checkpoint of other options."""
    path = out / CHECKPOINT
    if out.exists() and not out.is_dir():
        raise RetrainError(f"--out {out} is a file, not a folder")
    problem = unwritable(out)  # before the first epoch, not after it
    if problem:
        raise RetrainError(f"{problem}: {_WRITE_FIX}")
    if config.restart:
        removed = [p.name for p in (out / CHECKPOINT, out / WEIGHTS, out / METRICS) if p.exists()]
        for name in removed:
            (out / name).unlink()
        if removed:
            print(f"--restart: removed {', '.join(removed)} from {out}; starting over", file=sys.stderr)
        return None
    if not path.exists():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(saved, dict) or saved.get("format") != _FORMAT:
            raise ValueError("not a checkpoint of python -m nas.train")
    except Exception as exc:  # noqa: BLE001 - any unreadable file: the fix is the same
        raise RetrainError(f"cannot read the checkpoint {path} ({type(exc).__name__}: {exc}): add --restart to "
                           "start over") from None
    old = saved["options"]
    changed = [f"{_OPTION_NAMES.get(k, k)}: {old.get(k)!r} in the checkpoint, {options.get(k)!r} now"
               for k in [*options, *(k for k in old if k not in options)] if old.get(k) != options.get(k)]
    if changed:
        raise RetrainError(f"{out} holds a checkpoint of a run with other options:\n  " + "\n  ".join(changed) +
                           "\nRerun with the checkpoint's options to resume it, add --restart to start over "
                           "(deleting it), or give another --out.")
    epoch, epochs = saved["train"]["epoch"], options["epochs"]
    was = saved["train"]["protocol"].get("device")
    note = f"; it ran on {was}, now on {device}" if was not in (None, "auto") and was != device else ""
    if epoch >= epochs:
        print(f"{path} holds the finished training ({epochs} epochs): evaluating and writing {WEIGHTS} and "
              f"{METRICS} again (add --restart to train again)", file=sys.stderr)
    else:
        print(f"resuming from {path}: epoch {epoch} of {epochs} done{note} (add --restart to start over)",
              file=sys.stderr)
    return saved


def _dry_run(model: nn.Module, arch: Arch, *, in_channels: int, num_classes: int, resolution: int) -> None:
    """One forward pass of two blank images in eval mode: an exported network that does not fit the
    data fails here, with a message, rather than in the first step."""
    shape = (2, in_channels, resolution, resolution)
    was_training = model.training
    try:
        with torch.no_grad():
            logits = model.eval()(torch.zeros(shape))
    except Exception as exc:  # noqa: BLE001 - the exported code is the user's
        raise RetrainError(f"the network of {arch.value} fails on {'×'.join(map(str, shape))} inputs: "
                           f"{type(exc).__name__}: {exc}") from None
    finally:
        model.train(was_training)
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (2, num_classes):
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise RetrainError(f"the network of {arch.value} returns {got} for 2 images, not (2, {num_classes}) logits")


_WRITE_FIX = "write elsewhere with --out DIR, or make the folder writable"


def _save_atomic(obj: Any, path: Path) -> None:
    """:func:`nas.files.save_atomic`, with a :class:`RetrainError` naming the path when it cannot be
    written (a full disk, a folder that stopped taking files)."""
    try:
        save_atomic(obj, path)
    except OSError as exc:
        raise RetrainError(f"cannot write {path.resolve()} ({exc.strerror or exc}): {_WRITE_FIX}") from None


def _slug(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_.-]+", "_", text).strip("_") or "run"


def _dataset_label(name: str) -> str:
    kind, sep, rest = name.partition(":")
    return Path(rest).stem if sep and kind in ("npz", "folder") else name


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds")


def _device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


# ----------------------------------------------------------------------------------------------
# summary and CLI


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}{'es' if word.endswith('s') else 's'}"


def summary(result: RetrainResult) -> str:
    """The text printed at the end of a run."""
    m = result.metrics
    if result.interrupted:
        return ""
    data = m["dataset"]
    minutes, seconds = divmod(round(m["train_seconds"]), 60)
    side = m["resolution"]
    lines = [
        (f"\n{m['label']} trained on {data['name']} for {_plural(m['epochs'], 'epoch')} ({data['train_images']:,} images, "
         f"{m['device']}, {m['images_per_second']:,.0f} images/s, {minutes} min {seconds} s of training)"),
        (f"test accuracy {m['test_accuracy']:.4f} ({data['test_images']:,} test images; the last epoch's weights, "
         "nothing selected on them)"),
        (f"MACs {format_count(m['macs'])}, params {format_count(m['params'])} at {side}×{side} "
         f"({_plural(m['in_channels'], 'channel')}, {_plural(m['num_classes'], 'class')})"),
        f"files: {result.out / WEIGHTS}, {result.out / METRICS}, {result.out / CHECKPOINT}",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nas.train", formatter_class=HelpFormatter,
        description="Train one architecture fully: a network found by a search, a reference, a genome string or "
                    "an exported module. Checkpoints every epoch; rerun the same command to resume.",
        epilog="ARCH is read in this order:\n"
               "  1. with --trial N: a study (studies/<name>/, its study.db, or a study name)\n"
               "  2. a folder holding study.db, or a study name: a study (needs --trial N)\n"
               "  3. a path ending in .py: an exported module (GENOME and build())\n"
               "  4. text with spaces or starting with a genome group (conv_, net_, ...): a genome string\n"
               "  5. a reference network: mobilenet_v2, resnet18, ... or space:name\n"
               "  6. a dotted module name importable from here: an exported module\n"
               "The curve is drawn on the test split (or on --val-size training images); nothing is selected on "
               "it: the weights are those of the last epoch.")
    parser.add_argument("arch", metavar="ARCH", help="what to train (see below)")
    parser.add_argument("--trial", type=int, default=None,
                        help="train trial N of the study ARCH (its number in trials.csv)")
    parser.add_argument("--pretrained", action="store_true",
                        help="an exported module's build(pretrained=True): start from its weights")
    parser.add_argument("--dataset", default=None,
                        help=dataset_help("the study's for a study ARCH, the one an exported module came from, else "
                                          "cifar10, without fallback"))
    parser.add_argument("--data-root", default=None, help=DATA_ROOT_HELP)
    parser.add_argument("--epochs", type=int, default=30, help="passes over the training images")
    parser.add_argument("--batch-size", type=int, default=64, help="images per SGD step")
    parser.add_argument("--lr", type=float, default=0.02,
                        help=f"peak learning rate of the one-cycle schedule (default: %(default)s; the search's short "
                             f"proxy training uses {TrainConfig.lr:g}, chosen there because it ranks networks as "
                             "longer training does)")
    parser.add_argument("--weight-decay", type=float, default=5e-4,
                        help="L2 penalty on conv and linear weights, not on norms and biases")
    parser.add_argument("--label-smoothing", type=float, default=0.1,
                        help="probability mass spread uniformly over the classes, in [0, 1)")
    parser.add_argument("--schedule", default="onecycle", choices=("onecycle", "cosine"),
                        help="learning rate after the warm-up: linear (onecycle) or cosine decay to 0")
    parser.add_argument("--warmup", type=float, default=0.1, help="fraction of the steps warming up, in [0, 1)")
    parser.add_argument("--resolution", type=int, default=None,
                        help="input side in pixels (default: the study's protocol, else 32)")
    parser.add_argument("--crop-padding", type=int, default=4,
                        help="random-crop padding in pixels, 0 for none; flips follow the dataset")
    parser.add_argument("--bn-recalibration", type=int, default=512,
                        help="training images re-estimating batch-norm statistics before each evaluation; 0 keeps "
                             "the running averages")
    parser.add_argument("--train-size", type=int, default=None,
                        help="training images, a stratified subset (default: all)")
    parser.add_argument("--val-size", type=int, default=0,
                        help="training images held out to draw the curve on (default: 0, train on all, the curve "
                             "is on the test split)")
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights, shuffling and augmentation")
    parser.add_argument("--out", default=None, help="output folder (default: runs/<arch>_<dataset>/)")
    parser.add_argument("--restart", action="store_true", help="ignore (delete) a checkpoint in --out; start over")
    parser.add_argument("--studies-dir", default="studies", help=argparse.SUPPRESS)
    parser.add_argument("--quiet", action="store_true", help="no line per epoch")
    return parser


def config_from_args(args: argparse.Namespace) -> RetrainConfig:
    return RetrainConfig(
        arch=args.arch, trial=args.trial, pretrained=args.pretrained, dataset=args.dataset, data_root=args.data_root,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing, schedule=args.schedule, warmup=args.warmup,
        resolution=args.resolution, crop_padding=args.crop_padding, bn_recalibration=args.bn_recalibration,
        train_size=args.train_size, val_size=args.val_size, device=args.device, threads=args.threads,
        seed=args.seed, out=args.out, restart=args.restart, studies_dir=args.studies_dir, verbose=not args.quiet)


def main(argv: list[str] | None = None) -> int:
    """``python -m nas.train``: 0 when trained, 2 for a bad ARCH or option, 130 after Ctrl-C."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    command = "python -m nas.train " + shlex.join(a for a in argv if a != "--restart")
    try:
        result = retrain(config, command=command)
    except RetrainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted; rerun the same command to go on from the last finished epoch (if any):\n  {command}",
              file=sys.stderr)
        return 130
    if result.interrupted:
        if result.epochs_done:
            where = f"{result.out / CHECKPOINT} holds epoch {result.epochs_done} of {config.epochs}"
        else:
            where = "no epoch was finished"
        print(f"\ninterrupted: {where}; resume with:\n  {command}", file=sys.stderr)
        return 130
    print(summary(result))
    return 0
