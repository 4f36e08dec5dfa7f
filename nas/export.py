"""``python -m nas.export``: found architectures as standalone, readable PyTorch modules.

Each exported network is one Python file that imports torch only (never ``nas``): the block classes it
uses, written out as plain ``torch.nn`` modules, and a ``build(num_classes, in_channels, pretrained)``
that lists its layers one line per block. Its module docstring carries the provenance (genome, cost,
accuracies, dataset, study and trial), and ``GENOME`` and ``METRICS`` carry it for programs. The
search's trained weights, where it kept them (the Pareto set and the references), are copied next to
the module as ``<name>.pt`` for ``build(pretrained=True)``; when such a file is missing or cannot be
loaded (truncated, damaged), or the output folder cannot be written, the export stops with a message
naming the trial and the file (exit code 2) before anything is written.

    python -m nas.export studies/mobile_300M_cifar10 --trial 19     # studies/.../models/trial_19.py (+ .pt)
    python -m nas.export mobile_300M_cifar10 --pareto               # the package studies/.../models/
    python -m nas.export --storage URL --study-name NAME --trial 19 --out exported/
    python -m nas.export --genome "conv_s2_c16 ir_c16_x32 head_c64" --num-classes 10 --out net.py

>>> from studies.mobile_300M_cifar10.models import trial_19
>>> model = trial_19.build(pretrained=True).eval()

The module holds the definitions of :mod:`nas.blocks` that the network uses, copied from their source
as they are, and its ``build`` makes the constructor calls of :func:`nas.builder.plan`, the ones
``nas.build`` makes: an exported network is the same code, with the state dict of ``nas.build(genome)``
and, with the same weights, its outputs; ``tests/test_export.py`` checks that over every reference and
random genomes.
"""

from __future__ import annotations

import argparse
import ast
import functools
import inspect
import json
import keyword
import math
import os
import re
import shutil
import sys
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from torch import nn

from . import blocks
from .builder import Layer, Plan, plan
from .cost import cost_label, count, format_count, min_resolution
from .files import describe, unwritable
from .genome import Genome, Pool, as_genome
from .study import Study, StudyError, open_study

__all__ = ["ExportError", "ExportInfo", "export_genome", "export_pareto", "export_trial", "main", "module_source",
           "package_source", "trial_info"]


class ExportError(ValueError):
    """A bad export request: the message names the value and the fix. The CLI prints it and exits with 2."""


@dataclass(frozen=True)
class ExportInfo:
    """What an exported module says about its network: the docstring's provenance and ``METRICS``."""

    name: str  # the module's name: trial_19, mobilenet_v3_small
    macs: int  # multiply-accumulates at resolution×resolution, batch 1
    params: int
    resolution: int  # input side the MACs are counted at
    study: str = ""
    space: str = ""
    trial: int | None = None
    reference: str = ""  # the hand-designed network's name, for a reference trial
    dataset: str = ""
    train_resolution: int | None = None  # input side of the search's training
    accuracy: float | None = None  # validation accuracy: what the search selected on
    test_accuracy: float | None = None  # held-out test accuracy (the Pareto set and references)
    status: str = ""  # the search's word on the trial: trained, over budget, failed
    weights: str | None = None  # file name of the trained weights, next to the module
    mean: tuple[float, ...] | None = None  # per-channel input normalisation the weights were trained with
    std: tuple[float, ...] | None = None

    def metrics(self) -> dict[str, Any]:
        """The module's ``METRICS`` and its entry in a package's ``MODELS``."""
        return {"study": self.study or None, "trial": self.trial, "reference": self.reference or None,
                "dataset": self.dataset or None, "accuracy": self.accuracy, "test_accuracy": self.test_accuracy,
                "macs": self.macs, "params": self.params, "resolution": self.resolution,
                "pretrained": self.weights is not None}


# ----------------------------------------------------------------------------------------------
# the definitions an exported module may hold: those of nas/blocks.py, read from its source (the one
# definition that nas.build runs), each with the other definitions it names


@functools.cache
def _definitions() -> dict[str, tuple[str, frozenset[str]]]:
    """nas/blocks.py's top-level definitions in file order: name -> (source, names of the other
    definitions it uses)."""
    source = inspect.getsource(blocks)
    nodes: dict[str, ast.AST] = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            nodes[node.name] = node
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if not node.targets[0].id.startswith("__"):
                nodes[node.targets[0].id] = node
    return {name: (ast.get_source_segment(source, node),
                   frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in nodes) - {name})
            for name, node in nodes.items()}


# the standard-library imports, by the name the module uses
_STDLIB_IMPORTS = {
    "OrderedDict": "from collections import OrderedDict",
    "Callable": "from collections.abc import Callable",
    "partial": "from functools import partial",
    "Path": "from pathlib import Path",
}


# ----------------------------------------------------------------------------------------------
# rendering a module


def module_source(genome: Genome | str, *, num_classes: int, in_channels: int, meta: ExportInfo) -> str:
    """The source of a standalone module (torch only) that builds ``genome``.

    Args:
        genome: the architecture.
        num_classes: the default of ``build(num_classes=...)``, the classes the weights were trained for.
        in_channels: the default of ``build(in_channels=...)``.
        meta: the provenance the docstring and ``METRICS`` tell; ``meta.weights`` names the weights file
            next to the module that ``build(pretrained=True)`` loads (None: it raises instead).

    Returns:
        Python source: docstring, imports, ``GENOME``, ``METRICS``, the definitions of
        :mod:`nas.blocks` the network uses (their source, as they are), ``init_weights`` and ``build``,
        which makes the calls :func:`nas.builder.plan` lists. ``build(num_classes, in_channels)`` gives
        a network with the state dict, the outputs and (seeded alike) the initial weights of
        ``nas.build(genome, ...)``.

    Example:
        >>> info = ExportInfo(name="tiny", macs=0, params=0, resolution=32)
        >>> source = module_source("conv_s2_c16 ir_c16_x32 head_c64", num_classes=10, in_channels=3, meta=info)
        >>> "class MBConv(nn.Module)" in source and "import nas" not in source
        True
    """
    genome = as_genome(genome)
    genome.channels(in_channels)  # a genome that cannot take these channels fails here, with the reason
    build_code, used = _build_function(plan(genome, num_classes=num_classes, in_channels=in_channels),
                                       in_channels=in_channels, meta=meta)
    definitions = _definitions()
    needed = _closure(used | {"Net", "init_weights"}, definitions)
    constants = [_genome_constant(genome), f"METRICS = {_literal(meta.metrics())}"]
    if meta.weights is not None:
        constants.append(f"WEIGHTS = {_literal(meta.weights)}  # the trained weights, next to this file")
    if meta.mean is not None and meta.std is not None:
        constants.append("# the trained weights expect images scaled to [0, 1], then (x - MEAN) / STD per channel")
        constants.append(f"MEAN = {tuple(round(m, 6) for m in meta.mean)!r}")
        constants.append(f"STD = {tuple(round(v, 6) for v in meta.std)!r}")
    body = "\n\n".join(["\n".join(constants)] + [source + "\n" for name, (source, _) in definitions.items()
                                                  if name in needed] + [build_code])
    body = re.sub(r"\n{2,}(?=class |def |[A-Z]\w* = )", "\n\n\n", body)
    return f'"""{_escape(_docstring(genome, num_classes, in_channels, meta))}"""\n\n{_imports(body)}\n\n{body}'


def _closure(names: set[str], definitions: dict[str, tuple[str, frozenset[str]]]) -> set[str]:
    result: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in result:
            result.add(name)
            todo.extend(definitions[name][1])
    return result


def _imports(body: str) -> str:
    """The imports ``body`` needs: only what it names."""
    lines = ["from __future__ import annotations", ""]
    stdlib = [line for name, line in _STDLIB_IMPORTS.items() if re.search(rf"\b{name}\b", body)]
    lines += stdlib + ([""] if stdlib else [])
    if re.search(r"\btorch\.", body):
        lines.append("import torch")
    lines.append("from torch import Tensor, nn" if re.search(r"\bTensor\b", body) else "from torch import nn")
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _docstring(genome: Genome, num_classes: int, in_channels: int, meta: ExportInfo) -> str:
    what = f"trial {meta.trial} of study {meta.study}" if meta.study else "a network"
    if meta.reference:
        what = f"the reference network {meta.reference}, {what}"
    weights = (f", `build(pretrained=True)` loads the weights the search trained ({meta.weights}, next to this "
               "file)." if meta.weights else "; no trained weights come with it.")
    fields = {"Study": f"{meta.study}{f' (space {meta.space})' if meta.space else ''}, trial {meta.trial}"
              if meta.study else ""}
    if meta.dataset:
        trained = f"; trained at {meta.train_resolution}×{meta.train_resolution}" if meta.train_resolution else ""
        fields["Dataset"] = (f"{meta.dataset}, {num_classes} classes, {in_channels} input channel"
                             f"{'s' * (in_channels != 1)}{trained} on inputs scaled to [0, 1] and normalised with "
                             "the training set's per-channel mean and std"
                             + (" (MEAN and STD below)" if meta.mean is not None else ""))
    fields["Cost"] = (f"{format_count(meta.macs)} MACs at {meta.resolution}×{meta.resolution} ({meta.macs:,}), "
                      f"{format_count(meta.params)} parameters ({meta.params:,}), for {num_classes} classes")
    if meta.study:
        fields["Accuracy"] = f"{_acc(meta.accuracy)} validation, {_acc(meta.test_accuracy)} test"
    fields["Status"] = meta.status
    fields["Genome"] = str(genome)
    lines = [f"{meta.name}: {what}, as a standalone PyTorch module (needs torch only).", "",
             *textwrap.wrap(f"Exported by `python -m nas.export`. `build()` makes the network{weights}", 100), ""]
    for key, value in fields.items():
        if value:
            lines += textwrap.wrap(value, 100, initial_indent=f"{key + ':':<11}", subsequent_indent=" " * 11,
                                   break_long_words=False, break_on_hyphens=False)
    side = max(meta.train_resolution or 32, min_resolution(genome, in_channels=in_channels))
    lines += ["", "Example:", "    >>> import torch", f"    >>> from {meta.name} import build",
              f"    >>> model = build({'pretrained=True' if meta.weights else ''}).eval()",
              f"    >>> model(torch.randn(1, {in_channels}, {side}, {side})).shape",
              f"    torch.Size([1, {num_classes}])", ""]
    return "\n".join(lines)


def _literal(value: Any) -> str:
    """``value`` as Python source, strings in double quotes."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        items = "".join(f"    {_literal(k)}: {_literal(v)},\n" for k, v in value.items())
        return f"{{\n{items}}}"
    return repr(value)


def _genome_constant(genome: Genome) -> str:
    """``GENOME = "..."``, split at the spaces between groups into lines of about 100 characters."""
    chunks = [""]
    for group in str(genome).split(" "):
        if chunks[-1] and len(chunks[-1]) + len(group) > 100:
            chunks.append("")
        chunks[-1] += group + " "
    chunks[-1] = chunks[-1][:-1]
    if len(chunks) == 1:
        return f"GENOME = {_literal(chunks[0])}"
    return "GENOME = (\n" + "".join(f"    {_literal(chunk)}\n" for chunk in chunks) + ")"


def _acc(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


# ----------------------------------------------------------------------------------------------
# rendering build(): the calls of nas.builder.plan, as source


def _build_function(p: Plan, *, in_channels: int, meta: ExportInfo) -> tuple[str, set[str]]:
    """``build``'s source, and the definitions of :mod:`nas.blocks` it names."""
    num_classes = p.classifier.args[1]
    used: set[str] = set()
    pretrained = (f"load the weights the search trained ({meta.weights}, next to this file); they need the "
                  f"defaults num_classes={num_classes} and in_channels={in_channels}." if meta.weights else
                  "load trained weights: there are none for this network, it raises.")
    signature = f"num_classes: int = {num_classes}, in_channels: int = {in_channels}, pretrained: bool = False"
    lines = [f"def build({signature}) -> Net:",
             f'    """{meta.name} as a PyTorch module.', "",
             "    Args:",
             "        num_classes: width of the final classifier.",
             "        in_channels: channels of the input images.",
             *textwrap.wrap(pretrained, 108, initial_indent="        pretrained: ", subsequent_indent=" " * 12),
             '    """']
    lines += _pretrained_check(num_classes, in_channels, meta)
    names: dict[int, str] = {}  # values build binds to a name first: a norm_layer made with arguments
    if p.norm is None:
        lines.append("    # no normalisation (norm_layer=None): every convolution carries a bias")
    elif isinstance(p.norm, functools.partial):
        lines.append(f"    norm_layer = {_code(p.norm, used, names)}")
        names[id(p.norm)] = "norm_layer"
    lines.append("    features = nn.Sequential(")
    # the blocks up to the first that convolves see the input image: their channels are build's argument
    leading = next(i for i, b in enumerate(p.genome.blocks) if not isinstance(b, Pool))
    for i, layer in enumerate(p.features):
        first = {0: "in_channels"} if i == leading else {}
        note = ""
        if i >= len(p.genome.blocks):  # the head's layers in features
            note = ": the head's 1×1 convolution" if layer.factory is blocks.ConvNormAct else ": the head's norm, act"
        lines.append(f"        {_call(layer, used, names, first)},  # {i}{note}")
    lines.append("    )")
    given = {1: "num_classes"}
    if p.pool and p.pool > 1:  # the classifier's input: the features pooled to pool×pool
        given[0] = f"{p.classifier.args[0] // p.pool ** 2} * {p.pool} * {p.pool}"
    lines.append(f"    classifier = {_call(p.classifier, used, names, given)}")
    lines.append(f"    model = Net(features, classifier, pool={p.pool}, genome=GENOME)")
    if meta.weights:
        lines += ["    if pretrained:", "        model.load_state_dict(_pretrained_weights())", "    else:",
                  "        init_weights(model)"]
    else:
        lines.append("    init_weights(model)")
    lines.append("    return model")
    source = "\n".join(lines) + "\n"
    if meta.weights:
        source = _PRETRAINED.format(weights=meta.weights) + "\n\n" + source
    return source, used


_PRETRAINED = '''\
def _pretrained_weights() -> dict[str, Tensor]:
    path = Path(__file__).with_name(WEIGHTS)
    if not path.exists():
        raise FileNotFoundError(f"pretrained=True needs the trained weights {{path}}, which `python -m nas.export` "
                                "copied next to this module: copy {weights} back beside it, or build(pretrained=False)")
    return torch.load(path, map_location="cpu", weights_only=True)
'''


def _pretrained_check(num_classes: int, in_channels: int, meta: ExportInfo) -> list[str]:
    if meta.weights:
        return _MISMATCH.format(num_classes=num_classes, in_channels=in_channels).splitlines()
    if meta.study:
        message = (f"trial {meta.trial} of study {meta.study} has no trained weights "
                   f"({_no_weights_reason(meta.status)}): the search keeps them for its Pareto set and references "
                   "only; use build() and train it")
    else:
        message = f"{meta.name} was exported from a genome alone and has no trained weights: use build() and train it"
    strings = _string_lines(message, 90)
    return ["    if pretrained:", f"        raise ValueError({strings[0]}",
            *(f"                         {line}" for line in strings[1:])]


def _string_lines(text: str, width: int) -> list[str]:
    """``text`` as string literals of about ``width`` characters, to be concatenated; the last closes ``)``."""
    chunks = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)
    return [_literal(chunk + " ") for chunk in chunks[:-1]] + [_literal(chunks[-1]) + ")"]


_MISMATCH = '''\
    if pretrained and (num_classes, in_channels) != ({num_classes}, {in_channels}):
        raise ValueError(f"the pretrained weights are for num_classes={num_classes} and in_channels={in_channels}, not "
                         f"num_classes={{num_classes}} and in_channels={{in_channels}}: build(pretrained=True) with "
                         "those, then replace the last layer of model.classifier to fine-tune for other classes")'''


def _call(layer: Layer | functools.partial, used: set[str], names: dict[int, str],
          given: dict[int, str] | None = None) -> str:
    """``factory(positional..., key=value...)`` for a :class:`~nas.builder.Layer`, or ``partial(...)``
    for a partial. A layer's arguments that have a default are written as keywords, and every keyword
    equal to its default is left out; ``given`` writes positional arguments as code."""
    factory = layer.func if isinstance(layer, functools.partial) else layer.factory
    signature = inspect.signature(factory)
    parameters = signature.parameters
    if isinstance(layer, functools.partial):  # its arguments stay as they are: positional ones come first
        args, kwargs = [_code(a, used, names) for a in layer.args], layer.keywords
    else:
        args, kwargs = [], {}
        for i, (key, value) in enumerate(signature.bind(*layer.args, **layer.kwargs).arguments.items()):
            if parameters[key].default is inspect.Parameter.empty:
                args.append((given or {}).get(i) or _code(value, used, names))
            else:
                kwargs[key] = value
    keywords = [f"{key}={_code(value, used, names)}" for key, value in kwargs.items()
                if not _is_default(value, parameters[key].default)]
    name = _code(factory, used, names)
    if isinstance(layer, functools.partial):
        return f"partial({', '.join([name, *args, *keywords])})"
    return f"{name}({', '.join(args + keywords)})"


def _is_default(value: Any, default: Any) -> bool:
    return value is default or (type(value) is type(default) and value == default)


def _code(value: Any, used: set[str], names: dict[int, str]) -> str:
    """``value`` as code of the exported module; ``used`` gathers the definitions of :mod:`nas.blocks` it names."""
    if id(value) in names:
        return names[id(value)]
    if isinstance(value, functools.partial):
        return _call(value, used, names)
    if isinstance(value, (type, types.FunctionType)):
        if value.__module__ == blocks.__name__:
            used.add(value.__name__)
            return value.__name__
        if getattr(nn, value.__name__, None) is value:
            return f"nn.{value.__name__}"
        raise TypeError(f"{value!r} is neither in torch.nn nor in nas.blocks: an exported module cannot name it")
    if value is None or isinstance(value, (bool, int, float, str, tuple)):
        return repr(value)
    raise TypeError(f"cannot write {value!r} as code")  # pragma: no cover - the builder passes none other


# ----------------------------------------------------------------------------------------------
# the package index


def package_source(study: Study, infos: list[ExportInfo], *, package: str = "models") -> str:
    """The ``__init__.py`` of a Pareto-set package: a table of the front in its docstring, an import of
    each module, ``MODELS`` (name -> the module's ``METRICS``) and ``__all__``. ``package`` is the
    package's folder name, for the docstring's example."""
    names = [info.name for info in infos]
    rows = [f"    {i.name:<24} {format_count(i.macs):>8} {format_count(i.params):>8} {_acc(i.accuracy):>8} "
            f"{_acc(i.test_accuracy):>8}  {'yes' if i.weights else 'no'}" for i in infos]
    costs = " and ".join(study.objectives[1:])
    about = (f"Space {study.space}, dataset {study.dataset}. Exported by `python -m nas.export --pareto`: every "
             "module is standalone (torch only) and its `build(pretrained=True)` loads the search's weights. MACs "
             f"at {infos[0].resolution}×{infos[0].resolution}.")
    doc = [f"The Pareto set of study {study.name}: validation accuracy against {costs}, cheapest first.", "",
           *textwrap.wrap(about, 100), "",
           f"    {'name':<24} {'MACs':>8} {'params':>8} {'val acc':>8} {'test acc':>8}  weights", *rows, "",
           "Example (with this package's parent folder on sys.path):",
           f"    >>> from {package} import {names[0]}",
           f"    >>> model = {names[0]}.build(pretrained=True).eval()", ""]
    models = "\n".join(f"    {_literal(name)}: {name}.METRICS," for name in names)
    return (f'"""{_escape(chr(10).join(doc))}"""\n\nfrom . import {", ".join(names)}\n\n'
            f"MODELS = {{\n{models}\n}}\n\n__all__ = [{', '.join(_literal(n) for n in ['MODELS', *names])}]\n")


# ----------------------------------------------------------------------------------------------
# from a study


def trial_info(study: Study, number: int, *, name: str | None = None, row: pd.Series | None = None) -> ExportInfo:
    """What the study knows of trial ``number`` (a :class:`~nas.study.StudyError` for a trial without
    architecture), for :func:`module_source`."""
    trial = study.trial(number)
    if row is None:
        row = study.trials().loc[number]
    genome = Genome.parse(trial.user_attrs["genome"])
    cost = trial.user_attrs.get("cost", {})
    resolution = int(cost.get("resolution") or study.resolution)
    if "macs" not in cost:
        counted = count(genome, resolution=resolution, in_channels=study.in_channels, num_classes=study.num_classes)
        cost = {"macs": counted.macs, "params": counted.params}
    status = trial.user_attrs.get("status", "")
    if trial.state.name not in ("COMPLETE", "PRUNED"):  # a pruned trial's status says where halving stopped it
        status = f"{trial.state.name.lower()}: {trial.user_attrs.get('fail_reason') or 'no reason recorded'}"
    name = _module_name(name or study.label(number))
    return ExportInfo(
        name=name, macs=int(cost["macs"]), params=int(cost["params"]), resolution=resolution, study=study.name,
        space=study.space, trial=number, reference=trial.user_attrs.get("reference") or "", dataset=study.dataset,
        train_resolution=study.train_resolution, accuracy=_number(row["accuracy"]),
        test_accuracy=_number(row["test_accuracy"]), status=status,
        weights=f"{name}.pt" if study.weights_path(number).exists() else None,
        mean=study.normalisation[0] if study.normalisation else None,
        std=study.normalisation[1] if study.normalisation else None)


def _no_weights_reason(status: str) -> str:
    """Why a trial has no weights, from its status."""
    if status.startswith("trained"):
        return "trained, but its weights were not kept"
    return status or "not trained"


def _number(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _module_name(label: str) -> str:
    """``label`` as a module name: what is not a letter, digit or underscore becomes an underscore."""
    name = re.sub(r"\W", "_", label)
    return f"_{name}" if name[:1].isdigit() or keyword.iskeyword(name) else name


def _check_name(name: str) -> None:
    if not _is_identifier(name):
        raise ExportError(f"module name {name!r} is not a Python identifier, so it could not be imported: "
                          f"give --name (or --out) a name such as {_module_name(name)!r}")


def _target(out: str | os.PathLike | None, default_dir: Path, name: str) -> tuple[Path, str]:
    """The module path for ``out`` (a folder, or a ``.py`` file naming the module) and the module's name."""
    if out is not None and str(out).endswith(".py"):
        path = Path(out)
        return path, path.stem
    return (default_dir if out is None else Path(out)) / f"{name}.py", name


def _refuse_existing(paths: list[Path], force: bool) -> None:
    for path in paths:
        if path.exists() and not force:
            raise ExportError(f"{path} exists: pass --force to overwrite it, or --out to write elsewhere")
        if path.is_dir():
            raise ExportError(f"{path} is a folder, not a file: give --out another path")


_WRITE_FIX = "write elsewhere with --out DIR, or make the folder writable"


def _weights_problem(study: Study, number: int, row: pd.Series) -> str | None:
    """Why trial ``number``'s trained weights cannot be exported, or None: the file of a trial whose
    weights the search keeps (the Pareto set, the trained references) is missing, or a file that is
    there cannot be loaded (truncated or damaged)."""
    path = study.weights_path(number)
    if not path.exists():
        kept = bool(row["pareto"]) or (bool(row["reference"]) and not math.isnan(row["accuracy"]))
        return f"{path} is missing" if kept else None
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict):
            raise TypeError(f"it holds a {type(state).__name__}, not a state dict")
    except Exception as exc:  # noqa: BLE001 - whatever torch.load raises, the file is not usable
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        return f"{path} cannot be loaded: it is damaged or truncated ({type(exc).__name__}: {reason})"
    return None


def _check_weights(study: Study, numbers: list[int], frame: pd.DataFrame) -> None:
    """An :class:`ExportError` listing every trial whose weights cannot be exported, before anything is written."""
    problems = {n: p for n in numbers if (p := _weights_problem(study, n, frame.loc[n]))}
    if problems:
        if len(problems) == 1:
            ((number, problem),) = problems.items()
            what = f"trial {number} cannot be exported, so nothing was written: {problem}"
        else:
            what = (f"{len(problems)} trials cannot be exported, so nothing was written: "
                    + "; ".join(f"trial {n}: {p}" for n, p in problems.items()))
        raise ExportError(f"the trained weights of {what}. Copy an intact file there from where the search "
                          "trained the trial (a search on several machines keeps each trial's weights on the machine "
                          "that trained it), or export the architecture alone with --genome GENOME --out FILE.py "
                          "(the genomes are in the trials.csv that python -m nas.report writes)")


def _check_writable(folder: Path) -> None:
    problem = unwritable(folder)
    if problem:
        raise ExportError(f"{problem}: {_WRITE_FIX}")


def _write_trial(study: Study, number: int, info: ExportInfo, path: Path, written: list[Path]) -> None:
    """Write the module (and copy the weights) of trial ``number``, appending each file to ``written``
    as soon as it exists."""
    source = module_source(study.genome(number), num_classes=study.num_classes, in_channels=study.in_channels,
                           meta=info)
    path.write_text(source, encoding="utf-8")
    written.append(path)
    if info.weights:
        weights = path.with_name(info.weights)
        origin = study.weights_path(number)
        try:
            shutil.copyfile(origin, weights)
        except OSError as exc:
            if exc.filename is not None and Path(exc.filename) == origin:
                raise ExportError(f"cannot read trial {number}'s weights {origin} ({exc.strerror or exc}): make it "
                                  "readable, or copy an intact file there") from None
            raise
        written.append(weights)


def _write(write: Any, existed: set[Path]) -> list[Path]:
    """Run ``write(written)``; when it fails, remove the files it created (files it overwrote stay) and
    say which path could not be written."""
    written: list[Path] = []
    try:
        write(written)
    except (OSError, ExportError) as exc:
        for path in written:
            if path not in existed:
                path.unlink(missing_ok=True)
        if isinstance(exc, ExportError):
            raise
        raise ExportError(f"{describe(exc)}: {_WRITE_FIX}") from None
    return written


def export_trial(study: Study, number: int, out: str | os.PathLike | None = None, *, name: str | None = None,
                 force: bool = False) -> Path:
    """Write trial ``number`` as a standalone module, with its trained weights when the search kept them.

    Args:
        study: the study (:func:`nas.study.open_study`).
        number: the trial number.
        out: a folder (the module is ``<out>/<name>.py``) or a ``.py`` file; default ``<study folder>/models``.
        name: the module's name; default :meth:`Study.label` (``trial_19``, ``mobilenet_v3_small``).
        force: overwrite existing files.

    Returns:
        The module's path; the weights, if any, are beside it as ``<name>.pt``.

    Raises:
        StudyError: no such trial, or one without an architecture.
        ExportError: a file exists (without ``force``), the name is not a Python identifier, the
            trial's weights are missing (where the search keeps them) or cannot be loaded, or the
            folder cannot be written; nothing is written then.
    """
    default = name if name is not None else _module_name(study.label(number))
    path, module = _target(out, study.folder / "models", default)
    if name is not None and name != module:
        raise ExportError(f"--name {name!r} and --out {str(out)!r} name the module differently: give one of them")
    _check_name(module)
    info = trial_info(study, number, name=module)
    frame = study.trials()
    targets = [path] + ([path.with_name(info.weights)] if info.weights else [])
    _refuse_existing(targets, force)
    _check_weights(study, [number], frame)
    _check_writable(path.parent)
    existed = {p for p in targets if p.exists()}
    return _write(lambda written: _write_trial(study, number, info, path, written), existed)[0]


def export_pareto(study: Study, out: str | os.PathLike | None = None, *, force: bool = False) -> list[Path]:
    """Write the Pareto set as a package: one module per member (named by :meth:`Study.label`), its
    weights, and an ``__init__.py`` index (``MODELS``, ``__all__``).

    Args:
        study: the study.
        out: the package folder; default ``<study folder>/models``, so that from the project root
            ``from studies.<study>.models import trial_19`` works.
        force: overwrite existing files (modules of an earlier front that left it stay, unlisted).

    Returns:
        The files written: modules and weights, then ``__init__.py``.

    Raises:
        ExportError: an empty Pareto set, a file exists (without ``force``), a member's weights are
            missing or cannot be loaded, or the folder cannot be written; nothing is written then.
    """
    folder = study.folder / "models" if out is None else Path(out)
    if folder.suffix == ".py":
        raise ExportError(f"--out {str(out)!r}: --pareto writes a package, give it a folder (default: "
                          f"{study.folder / 'models'})")
    frame = study.trials()
    front = study.pareto(frame)
    if front.empty:
        raise ExportError(f"study {study.name!r} has no Pareto set yet (no trained trial within the budget): run "
                          "the search further, or export one trial with --trial N")
    infos = [trial_info(study, int(n), row=frame.loc[int(n)]) for n in front.number]
    targets = []
    for info in infos:
        targets += [folder / f"{info.name}.py"] + ([folder / info.weights] if info.weights else [])
    targets.append(folder / "__init__.py")
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"{folder} is a file, not a folder: give --out a folder for the package")
    _refuse_existing(targets, force)
    _check_weights(study, [info.trial for info in infos], frame)
    _check_writable(folder)
    existed = {p for p in targets if p.exists()}

    def write(written: list[Path]) -> None:
        for info in infos:
            _write_trial(study, info.trial, info, folder / f"{info.name}.py", written)
        (folder / "__init__.py").write_text(package_source(study, infos, package=folder.name), encoding="utf-8")
        written.append(folder / "__init__.py")

    return _write(write, existed)


def export_genome(genome: Genome | str, out: str | os.PathLike, *, num_classes: int = 1000, in_channels: int = 3,
                  resolution: int = 224, force: bool = False) -> Path:
    """Write any genome as a standalone module at ``out`` (a ``.py`` file), without weights; the docstring
    gives its MACs at ``resolution``."""
    path, name = _target(out, Path("."), "model")
    if not str(out).endswith(".py"):
        raise ExportError(f"--out {str(out)!r} must name the module file, such as net.py")
    _check_name(name)
    for option, value in (("--num-classes", num_classes), ("--in-channels", in_channels), ("--resolution", resolution)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ExportError(f"{option} {value!r} must be a positive whole number")
    _refuse_existing([path], force)
    try:
        genome = as_genome(genome)
        cost = count(genome, resolution=resolution, in_channels=in_channels, num_classes=num_classes)
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    info = ExportInfo(name=name, macs=cost.macs, params=cost.params, resolution=resolution)
    _check_writable(path.parent)
    source = module_source(genome, num_classes=num_classes, in_channels=in_channels, meta=info)

    def write(written: list[Path]) -> None:
        path.write_text(source, encoding="utf-8")
        written.append(path)

    return _write(write, {path} if path.exists() else set())[0]


# ----------------------------------------------------------------------------------------------
# command line


def build_parser() -> argparse.ArgumentParser:
    from .cli import STORAGE_HELP, STUDY_HELP, STUDY_NAME_HELP, HelpFormatter

    parser = argparse.ArgumentParser(
        prog="python -m nas.export", formatter_class=HelpFormatter,
        description="Write found architectures as standalone PyTorch modules (torch only), with their trained "
                    "weights where the search kept them.",
        epilog="examples:\n" + "\n".join(line for line in __doc__.splitlines() if "python -m nas.export " in line))
    parser.add_argument("study", nargs="?", default=None, help=STUDY_HELP)
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--trial", type=int, default=None, help="export trial N of the study (its number in trials.csv)")
    what.add_argument("--pareto", action="store_true",
                      help="export the Pareto set as a package (modules, weights and an __init__.py index)")
    what.add_argument("--genome", default=None, help="export this genome string instead of a study's trial")
    parser.add_argument("--out", default=None,
                        help="folder to write into, or the module's .py file (--trial, --genome) (default: "
                             "<study folder>/models)")
    parser.add_argument("--name", default=None, help="module name for --trial (default: trial_<N> or the reference's "
                                                     "name)")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.add_argument("--storage", default=None, help=STORAGE_HELP)
    parser.add_argument("--study-name", default=None, help=STUDY_NAME_HELP)
    parser.add_argument("--num-classes", type=int, default=None, help="classes, for --genome (default: 1000)")
    parser.add_argument("--in-channels", type=int, default=None, help="input channels, for --genome (default: 3)")
    parser.add_argument("--resolution", type=int, default=None,
                        help="input side the docstring's MACs are counted at, for --genome (default: 224)")
    parser.add_argument("--studies-dir", default="studies", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        lines = _run(args)
    except (ExportError, StudyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


def _run(args: argparse.Namespace) -> list[str]:
    if args.genome is not None:
        if args.study or args.storage:
            raise ExportError("--genome exports a genome string, not a study's trial: leave out the study, or use "
                              "--trial N")
        if args.out is None:
            raise ExportError("--genome needs --out FILE.py, the module to write")
        shape = {key: value if value is not None else default for key, value, default in (
            ("num_classes", args.num_classes, 1000), ("in_channels", args.in_channels, 3),
            ("resolution", args.resolution, 224))}
        path = export_genome(args.genome, args.out, force=args.force, **shape)
        return [f"wrote {path} (architecture only: no trained weights)", _import_hint(path.parent, path.stem)]
    given = [f"--{k.replace('_', '-')}" for k in ("num_classes", "in_channels", "resolution")
             if getattr(args, k) is not None]
    if given:
        raise ExportError(f"{', '.join(given)} go with --genome only: a study's trials have the study's classes "
                          "and channels")
    if args.trial is None and not args.pareto:
        raise ExportError("say what to export: --trial N (one trial) or --pareto (the Pareto set, as a package)")
    if args.pareto and args.name:
        raise ExportError(f"--name {args.name!r} names one module (--trial); --pareto names each by its label")
    study = open_study(args.study, storage=args.storage, name=args.study_name, studies_dir=args.studies_dir)
    if args.pareto:
        written = export_pareto(study, args.out, force=args.force)
        return _report_pareto(study, written)
    path = export_trial(study, args.trial, args.out, name=args.name, force=args.force)
    return _report_trial(study, args.trial, path)


def _report_trial(study: Study, number: int, path: Path) -> list[str]:
    info = trial_info(study, number, name=path.stem)
    lines = [f"wrote {path}  ({_summary(info)})"]
    if info.weights:
        lines.append(f"wrote {path.with_name(info.weights)}  (trained weights: build(pretrained=True))")
    else:
        lines.append(f"note: trial {number} has no trained weights ({_no_weights_reason(info.status)}); the search "
                     "keeps them for the Pareto set and the references only. The module builds the architecture, "
                     "to train; build(pretrained=True) raises")
    lines.append(_import_hint(path.parent, path.stem))
    return lines


def _report_pareto(study: Study, written: list[Path]) -> list[str]:
    folder = written[-1].parent
    frame = study.trials()
    infos = [trial_info(study, int(n), row=frame.loc[int(n)]) for n in study.pareto(frame).number]
    summaries = {info.name: _summary(info) for info in infos}
    lines = [f"wrote {path}" + (f"  ({summaries[path.stem]})" if path.suffix == ".py" and path.stem in summaries
                                else "") for path in written]
    modules = [p.stem for p in written if p.suffix == ".py" and p.stem != "__init__"]
    lines.append(f"the Pareto set of {study.name}: {len(modules)} module{'s' * (len(modules) != 1)} "
                 f"({', '.join(modules)}) in the package {folder}")
    lines.append(_import_hint(folder, modules[0], package=True))
    return lines


def _summary(info: ExportInfo) -> str:
    what = f"trial {info.trial}" + (f", reference {info.reference}" if info.reference else "")
    return (f"{what}: {format_count(info.macs)} {cost_label('macs', info.resolution)}, {format_count(info.params)} "
            f"params, val {_acc(info.accuracy)}, test {_acc(info.test_accuracy)}")


def _import_hint(folder: Path, name: str, *, package: bool = False) -> str:
    """How to import what was written: a dotted path from the current folder when there is one."""
    try:
        parts: tuple[str, ...] | None = folder.resolve().relative_to(Path.cwd().resolve()).parts
    except ValueError:
        parts = None
    if parts is not None and all(map(_is_identifier, parts)):
        return f"import it: from {'.'.join(parts)} import {name}" if parts else f"import it: import {name}"
    if package and not _is_identifier(folder.name):
        return (f"note: the package folder {folder.name!r} is not a valid Python identifier, so it cannot be "
                "imported: write the package elsewhere with --out DIR")
    hint = f"import it with {folder.parent if package else folder} on sys.path: " + (
        f"from {folder.name} import {name}" if package else f"import {name}")
    bad = [part for part in parts or () if not _is_identifier(part)]
    if bad:
        return (f"note: {bad[0]!r} is not a valid Python identifier, so {'/'.join(parts or ())} cannot be imported "
                f"as a dotted path from here (--out DIR can put it where it can); or {hint}")
    return hint


def _is_identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


if __name__ == "__main__":
    sys.exit(main())
