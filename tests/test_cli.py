"""The command lines as a user reads them: ``python -m nas.spaces``'s output, every command's
``--help`` (each option explained once, with its default; no docstring markup; shared options worded
alike), the ``--device`` check of nas.search and nas.train, and every imported package declared."""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import nas
import nas.cli
import nas.export
import nas.report
import nas.search
import nas.spaces
import nas.train.cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nas.spaces", *args], capture_output=True, text=True, timeout=120)


def test_lists_the_spaces() -> None:
    result = run()
    assert result.returncode == 0, result.stderr
    for name in nas.list_spaces():
        assert name in result.stdout
    listed = json.loads(run("--json").stdout)["spaces"]
    assert [s["name"] for s in listed] == nas.list_spaces()


def test_describes_a_space_with_its_references() -> None:
    result = run("mobile")
    assert result.returncode == 0, result.stderr
    space = nas.get_space("mobile")
    assert str(space.size()) in result.stdout
    for name, genome in space.references.items():
        assert str(genome) in result.stdout
        cost = nas.count(genome, resolution=space.target_resolution)
        assert f"{cost.params:,}" in result.stdout
        assert f"{cost.macs / 1e6:.2f}" in result.stdout


def test_lists_the_other_members_of_the_families() -> None:
    result = run("mobile")
    space = nas.get_space("mobile")
    members = {n: g for n, (g, _, _) in space.torchvision_members().items() if n not in space.references}
    assert "efficientnet_v2_s" in members and "mobilenet_v2_w0.5" in members
    for name, genome in members.items():
        assert f"  {name}: {genome}" in result.stdout
        assert f"{nas.count(genome, resolution=224).params:,}" in result.stdout
    assert "mobilenet_v2(width_mult=0.5)" in result.stdout


def test_json_is_the_same_for_programs() -> None:
    result = run("mobile", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    space = nas.get_space("mobile")
    assert info["size"] == space.size()
    assert info["dimensions"] == {k: list(v) for k, v in space.dimensions().items()}
    refs = {r["name"]: r for r in info["references"]}
    assert set(refs) == set(space.references)
    assert refs["mobilenet_v2"]["macs"] == 300_774_272
    assert refs["mobilenet_v2"]["params"] == 3_504_872
    assert nas.Genome.parse(refs["efficientnet_b0"]["genome"]) == space.references["efficientnet_b0"]
    members = {m["name"]: m for m in info["members"]}
    assert members["efficientnet_v2_s"]["params"] == 21_458_488 and not members["efficientnet_v2_s"]["point"]
    assert members["efficientnet_b1"]["torchvision"] == "efficientnet_b1"


def test_unknown_space_exits_with_the_known_names() -> None:
    result = run("mobilenet")
    assert result.returncode == 2
    assert f"unknown space 'mobilenet'; known spaces: {', '.join(nas.list_spaces())}" in result.stderr


# ----------------------------------------------------------------------------------------------
# --help


def _benchmark_parser(name: str) -> Callable[[], argparse.ArgumentParser]:
    def build() -> argparse.ArgumentParser:
        sys.path.insert(0, str(ROOT / "benchmarks"))  # benchmarks/proxy.py imports benchmarks/zerocost.py
        try:
            spec = importlib.util.spec_from_file_location(f"_benchmark_{name}", ROOT / "benchmarks" / f"{name}.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # its dataclasses look their module up
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(ROOT / "benchmarks"))
        return module.build_parser()
    return build


COMMANDS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "nas.search": nas.search.build_parser, "nas.report": nas.report.build_parser,
    "nas.export": nas.export.build_parser, "nas.train": nas.train.cli.build_parser,
    "nas.spaces": nas.spaces.build_parser,
    **{f"benchmarks/{p.stem}.py": _benchmark_parser(p.stem) for p in sorted((ROOT / "benchmarks").glob("*.py"))},
}


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction) and a.help is not argparse.SUPPRESS]


def _rendered(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """An option's entry in --help: its flags and its help, the default appended by the formatter."""
    return " ".join(parser._get_formatter()._format_action(action).split())


@pytest.fixture
def columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")


@pytest.mark.parametrize("command", COMMANDS)
def test_help_explains_every_option_once_with_its_default(command: str, columns: None) -> None:
    parser = COMMANDS[command]()
    assert issubclass(parser.formatter_class, nas.cli.HelpFormatter), f"{command}: build the parser with it"
    text = parser.format_help()
    assert "``" not in text and not re.search(r":[a-z]+:`", text), f"{command}: reStructuredText in --help"
    assert parser.description, f"{command}: no description"
    for action in _options(parser):
        entry = _rendered(parser, action)
        name = "/".join(action.option_strings) or action.dest
        assert action.help and action.help.strip(), f"{command} {name}: no help"
        defaults = re.findall(r"default\S*", entry, flags=re.IGNORECASE)
        assert len(defaults) <= 1, f"{command} {name}: its default stated {len(defaults)} times: {entry}"
        assert all(d.lower() == "default:" for d in defaults), f"{command} {name}: write '(default: X)': {entry}"
        if nas.cli._tells(action.default) and (action.option_strings or action.nargs == "?"):
            assert defaults, f"{command} {name}: its default {action.default!r} is not shown: {entry}"


def test_the_formatter_appends_a_default_only_where_none_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    parser = argparse.ArgumentParser(
        prog="x", formatter_class=nas.cli.HelpFormatter,
        description="A first paragraph written over\ntwo lines of source, long enough to be wrapped at sixty columns.",
        epilog="examples:\n    x --epochs 3 --lr 0.1 --and-a-command-line-longer-than-sixty-columns-kept-whole\n")
    parser.add_argument("name", help="required: no default")
    parser.add_argument("--epochs", type=int, default=3, help="passes")
    parser.add_argument("--lr", type=float, default=None, help="rate (default: the proxy's)")
    parser.add_argument("--threads", type=int, default=None, help="threads")
    parser.add_argument("--quiet", action="store_true", help="fewer lines")
    parser.add_argument("--out", default="runs", help="folder")
    entries = {a.dest: _rendered(parser, a) for a in _options(parser)}
    assert entries == {
        "name": "name required: no default",
        "epochs": "--epochs EPOCHS passes (default: 3)",
        "lr": "--lr LR rate (default: the proxy's)",
        "threads": "--threads THREADS threads",
        "quiet": "--quiet fewer lines",
        "out": "--out OUT folder (default: runs)",
    }
    text = parser.format_help()
    assert ("A first paragraph written over two lines of source, long\nenough to be wrapped at sixty columns.\n"
            in text)
    assert "\n    x --epochs 3 --lr 0.1 --and-a-command-line-longer-than-sixty-columns-kept-whole\n" in text


def test_descriptions_from_docstrings_are_plain_text() -> None:
    doc = """``python -m nas.x`` trains with :func:`nas.train.train` on **CIFAR-10**,
    see :class:`~nas.Genome`.

    Second paragraph."""
    assert nas.cli.description(doc) == "python -m nas.x trains with nas.train.train on CIFAR-10, see nas.Genome."


def test_shared_options_read_alike() -> None:
    """An option that several commands share means the same there and is explained in the same words."""
    parsers = {name: COMMANDS[name]() for name in ("nas.search", "nas.train", "nas.report", "nas.export")}
    helps = {name: {a.dest: a.help for a in p._actions} for name, p in parsers.items()}
    for name in ("nas.search", "nas.train"):
        assert helps[name]["device"].startswith(nas.cli.DEVICE_HELP)
        assert helps[name]["data_root"] == nas.cli.DATA_ROOT_HELP
        assert helps[name]["batch_size"] == "images per SGD step"
        assert helps[name]["dataset"].startswith(nas.cli.dataset_help("X").split("(default:")[0])
    for name in ("nas.report", "nas.export"):
        assert (helps[name]["study"], helps[name]["storage"], helps[name]["study_name"]) == (
            nas.cli.STUDY_HELP, nas.cli.STORAGE_HELP, nas.cli.STUDY_NAME_HELP)
    # the two learning rates: the full training's default is its own, and says what the search's is
    train = parsers["nas.train"]
    train_lr = _rendered(train, next(a for a in train._actions if a.dest == "lr"))
    assert (f"(default: {nas.train.cli.RetrainConfig.lr}; the search's short proxy training uses "
            f"{nas.train.TrainConfig.lr:g}") in train_lr
    assert f"(default: {nas.train.TrainConfig.lr:g};" in helps["nas.search"]["lr"]


# ----------------------------------------------------------------------------------------------
# --device


def _search(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = nas.search.main(["--space", "mobile", "--budget", "300M", "--dataset", "digits", "--no-progress",
                            "--studies-dir", str(tmp_path / "studies"), *args])
    return code, capsys.readouterr().err


def _train(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = nas.train.cli.main(["mobilenet_v2", "--dataset", "digits", "--out", str(tmp_path / "run"), *args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("command", [_search, _train], ids=["nas.search", "nas.train"])
def test_device_is_checked_alike(command: Callable, tmp_path: Path, capsys: pytest.CaptureFixture,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Both commands take cpu, cuda, cuda:N and auto, and name a value they cannot use (no GPU needed)."""
    code, err = command(["--device", "gpu"], tmp_path, capsys)
    assert code == 2 and "--device 'gpu' is not one of cpu, cuda, cuda:N (the N-th GPU" in err
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    for device in ("cuda", "cuda:1"):  # accepted as written, refused on a machine without CUDA
        code, err = command(["--device", device], tmp_path, capsys)
        assert code == 2 and f"--device {device}: no CUDA device is available here" in err
        assert "use --device cpu or auto" in err
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    code, err = command(["--device", "cuda:2"], tmp_path, capsys)
    assert code == 2 and "--device cuda:2: this machine has 2 CUDA device(s), cuda:0 to cuda:1" in err
    assert not (tmp_path / "studies").exists() and not (tmp_path / "run").exists()  # refused before any work


# ----------------------------------------------------------------------------------------------
# dependencies


def _requirement_names(requirements: list[str]) -> set[str]:
    return {_normalise(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r).group()) for r in requirements}


def _normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _imports(path: Path, *, lazy: bool = True) -> set[str]:
    """The top-level names of the absolute imports of a module: all of them, or (``lazy=False``) only those
    of its module level, run on import."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree) if lazy else tree.body:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_imported_package_is_declared() -> None:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _requirement_names(project["dependencies"])
    extras = {name: _requirement_names(reqs) for name, reqs in project.get("optional-dependencies", {}).items()}
    optional = set().union(*extras.values())
    first_party = {"nas", "search_spaces"} | {p.stem for p in (ROOT / "benchmarks").glob("*.py")}
    distributions = importlib.metadata.packages_distributions()
    missing = {}
    for folder in ("nas", "search_spaces", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for name in _imports(path) - first_party - set(sys.stdlib_module_names):
                # an import name that no installed distribution provides is taken as its own distribution
                provided = {_normalise(d) for d in distributions.get(name, [name])}
                if not provided & (declared | optional):
                    missing.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert not missing, (f"imported but not declared in pyproject.toml's [project] dependencies or an extra: "
                         f"{missing}")
    # a package of an extra is imported lazily (inside a function), so that the core runs without it
    for folder in ("nas", "search_spaces"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for name in _imports(path, lazy=False):
                provided = {_normalise(d) for d in distributions.get(name, [name])}
                assert provided & declared or not provided & optional, (
                    f"{path.relative_to(ROOT)} imports {name}, of an extra, at module level: import it where used")


def test_the_dependency_check_catches_an_undeclared_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os\nimport yaml.constructor\nfrom PIL import Image\nfrom . import sibling\n"
                      "def f():\n    import not_a_package_anywhere\n")
    assert _imports(module) == {"os", "yaml", "PIL", "not_a_package_anywhere"}
    assert _imports(module, lazy=False) == {"os", "yaml", "PIL"}
    assert _requirement_names(["psycopg[binary]>=3.1", "scikit_learn", "Pillow ; python_version>'3'"]) == {
        "psycopg", "scikit-learn", "pillow"}
