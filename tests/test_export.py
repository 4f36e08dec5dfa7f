"""``python -m nas.export``: exported modules are standalone (no ``nas`` in a fresh interpreter), match
``nas.build`` (state dict, outputs, initialisation, module tree) over every reference and random
genomes, go through ``torch.export`` and ONNX; the Pareto package imports; bad inputs exit with 2."""

from __future__ import annotations

import ast
import importlib.util
import json
import random
import shutil
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import torch

import nas
import nas.search
from nas.export import ExportInfo, export_pareto, main, module_source, trial_info
from nas.study import Study, open_study
from tests.conftest import random_genome, unwritable

NAME = "mobile_60M_digits"
# tiny protocol (as tests/test_search.py): a few hundred 8×8 digits upsampled to 32×32, one epoch, one thread
SEARCH = ["--space", "mobile", "--budget", "60M", "--dataset", "digits", "--trials", "2", "--references", "feasible",
          "--epochs", "1", "--train-size", "150", "--val-size", "60", "--batch-size", "32", "--threads", "1",
          "--no-progress"]
# every block kind and most genes in one network: separable, dilated, grouped and shuffled convolutions,
# squeeze-and-excitation with a hard gate, stochastic depth, both pools, hidden layers
ALL_KINDS = ("net_sd0.1 conv_s2_c16_hardswish ds_sep_c16_relu6 ir_c16_x32_se8.relu.hardsigmoid_silu res_d2_c16_se4 "
             "bot_s2_c32_w16_g2 shuffle_s2_c64 shuffle_c64_gelu fire_sq8_e16 pool_max_k3_s2_p1 conv_c32_g4_shuf "
             "pool_avg_k2_ceil head_c64_hardswish_h32_d0.1")
DIVERGED = "conv_s2_c16 ir_c16_x48 head_c64"  # the architecture of a failed trial
ALLOWED_IMPORTS = {"__future__", "collections", "functools", "pathlib", "typing", "torch"}


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    # the machine is shared: one thread also makes every comparison below run the same kernels
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, one_thread: None) -> Path:
    """A folder holding studies/mobile_60M_digits: the reference MobileNetV3-Small and two candidates
    trained (the Pareto set with weights, the reference's kept whether on it or not), the over-budget
    candidates priced on the way, and two failed trials added as the search records them: one before
    its architecture was known, one after (training diverged)."""
    root = tmp_path_factory.mktemp("export")
    assert nas.search.main(["--studies-dir", str(root / "studies"), *SEARCH]) == 0
    storage = f"sqlite:///{root / 'studies' / NAME / 'study.db'}"
    study = optuna.load_study(study_name=NAME, storage=storage)
    fail = optuna.trial.TrialState.FAIL
    study.add_trial(optuna.trial.create_trial(state=fail, user_attrs={"fail_reason": "RuntimeError: killed"}))
    study.add_trial(optuna.trial.create_trial(state=fail, user_attrs={
        "genome": str(nas.Genome.parse(DIVERGED)), "fail_reason": "training diverged: the loss is nan"}))
    return root


@pytest.fixture(scope="module")
def study(root: Path) -> Study:
    return open_study(root / "studies" / NAME)


def reference(study: Study) -> int:
    """The trial of the reference MobileNetV3-Small (trained, tested, its weights kept)."""
    refs = study.references()
    return int(refs.number[refs.reference == "mobilenet_v3_small"].iloc[0])


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``main(argv)``'s exit code (argparse's too), stdout and stderr."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def load(source: str, name: str = "exported", file: Path | None = None) -> types.ModuleType:
    """Execute generated source in a fresh module namespace."""
    module = types.ModuleType(name)
    module.__file__ = str(file or Path(f"/nonexistent/{name}.py"))
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own generated code
    return module


def load_file(path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def source_for(genome: nas.Genome | str, num_classes: int = 10, in_channels: int = 3) -> str:
    info = ExportInfo(name="exported", macs=0, params=0, resolution=32)
    return module_source(genome, num_classes=num_classes, in_channels=in_channels, meta=info)


def build_source(source: str) -> str:
    """The ``build`` function of an exported module's source."""
    return next(ast.get_source_segment(source, node) for node in ast.parse(source).body
                if isinstance(node, ast.FunctionDef) and node.name == "build")


def shapes(model: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def assert_same_network(genome: nas.Genome, exported: types.ModuleType, *, num_classes: int, in_channels: int,
                        outputs: bool = True) -> None:
    """Same module tree (repr: types, hyperparameters, order), state-dict keys and shapes; with
    ``outputs``, also the same seeded initialisation and the same outputs in eval and in training mode
    (dropout and stochastic depth drawing the same random numbers)."""
    if not outputs:
        with torch.device("meta"):  # no memory, no initialisation
            ours = nas.build(genome, num_classes=num_classes, in_channels=in_channels)
            theirs = exported.build(num_classes=num_classes, in_channels=in_channels)
        assert repr(theirs) == repr(ours)
        assert shapes(theirs) == shapes(ours)
        return
    torch.manual_seed(0)
    ours = nas.build(genome, num_classes=num_classes, in_channels=in_channels)
    torch.manual_seed(0)
    theirs = exported.build(num_classes=num_classes, in_channels=in_channels)
    assert repr(theirs) == repr(ours), str(genome)
    assert shapes(theirs) == shapes(ours)
    state = theirs.state_dict()
    for key, value in ours.state_dict().items():
        assert torch.equal(state[key], value), f"{genome}: {key} initialised differently"
    side = max(16, nas.min_resolution(genome, in_channels=in_channels))
    x = torch.randn(2, in_channels, side, side)
    for train in (True, False):
        torch.manual_seed(1)
        expected = ours.train(train)(x)
        torch.manual_seed(1)
        got = theirs.train(train)(x)
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-6, msg=lambda m: f"{genome}: {m}")


# ----------------------------------------------------------------------------------------------
# the written module


def test_exported_trial_runs_without_nas(study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    number = reference(study)
    code, out, _ = run([str(study.folder), "--trial", str(number), "--out", str(tmp_path / "out")], capsys)
    assert code == 0
    name = study.label(number)
    assert name == "mobilenet_v3_small"
    assert (tmp_path / "out" / f"{name}.py").exists() and (tmp_path / "out" / f"{name}.pt").exists()
    assert f"wrote {tmp_path / 'out' / name}.py" in out and "build(pretrained=True)" in out
    # nas's network with other weights than the trained ones, and its outputs
    torch.manual_seed(3)
    model = nas.build(study.genome(number), num_classes=study.num_classes, in_channels=study.in_channels).eval()
    x = torch.randn(2, study.in_channels, 32, 32)
    torch.save({"state": model.state_dict(), "x": x, "y": model(x), "trained": study.model(number).state_dict()},
               tmp_path / "reference.pt")
    child = textwrap.dedent(f"""
        import inspect, sys
        sys.modules["nas"] = None  # nas cannot be imported here
        try:
            import nas
        except ImportError:
            pass
        else:
            raise SystemExit("nas could be imported")
        sys.path.insert(0, {str(tmp_path / 'out')!r})
        import torch
        torch.set_num_threads(1)
        import {name} as exported
        reference = torch.load({str(tmp_path / 'reference.pt')!r}, weights_only=True)
        model = exported.build()
        assert [(k, v.shape) for k, v in model.state_dict().items()] == \\
            [(k, v.shape) for k, v in reference["state"].items()], "state dict keys or shapes differ"
        model.load_state_dict(reference["state"])
        torch.testing.assert_close(model.eval()(reference["x"]), reference["y"], rtol=0, atol=1e-6)
        trained = exported.build(pretrained=True).state_dict()
        assert all(torch.equal(trained[k], v) for k, v in reference["trained"].items()), "not the trained weights"
        defaults = {{k: p.default for k, p in inspect.signature(exported.build).parameters.items()}}
        assert defaults == {{"num_classes": 10, "in_channels": 1, "pretrained": False}}, defaults
        assert "torchvision" not in sys.modules, "torchvision was imported"
        print("standalone: ok")
    """)
    result = subprocess.run([sys.executable, "-c", child], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "standalone: ok" in result.stdout


def test_docstring_and_constants(study: Study) -> None:
    number = reference(study)
    info = trial_info(study, number)
    genome = study.genome(number)
    source = module_source(genome, num_classes=study.num_classes, in_channels=study.in_channels, meta=info)
    tree = ast.parse(source)
    doc = ast.get_docstring(tree)
    flat = " ".join(doc.split())
    row = study.trials().loc[number]
    for text in (str(genome), f"{int(row.macs):,}", f"{int(row.params):,}", f"{row.accuracy:.4f} validation",
                 f"{row.test_accuracy:.4f} test", "digits", f"study {NAME}", f"trial {number}", "mobilenet_v3_small",
                 "10 classes", "1 input channel"):
        assert text in flat, text
    imported = {node.module if isinstance(node, ast.ImportFrom) else alias.name
                for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names}
    assert {name.split(".")[0] for name in imported} <= ALLOWED_IMPORTS, imported
    module = load(source)
    assert module.GENOME == str(genome)
    assert module.METRICS["accuracy"] == row.accuracy and module.METRICS["trial"] == number
    assert module.WEIGHTS == "mobilenet_v3_small.pt"
    # the normalisation the weights were trained with: the digits training split's mean and std
    mean, std = study.normalisation
    assert module.MEAN == pytest.approx(mean, abs=1e-6) and module.STD == pytest.approx(std, abs=1e-6)
    assert 0 < module.MEAN[0] < 1 and len(module.STD) == study.in_channels == 1
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    # what a MobileNetV3 needs (MBConv names StochasticDepth, unused at rate 0), and nothing else
    assert classes == {"StochasticDepth", "ConvNormAct", "SqueezeExcitation", "MBConv", "ClassifierHead", "Net"}
    # the build lists the blocks one line each, not a genome interpreter
    build = build_source(source)
    assert build.count("MBConv(") == sum(isinstance(b, nas.InvertedResidual) for b in genome.blocks)
    assert "GENOME" not in build.replace("genome=GENOME", "")


def test_only_the_classes_used() -> None:
    tree = ast.parse(source_for("conv_s2_c16 pool_max fire_sq8_e16 head_convcls"))
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    assert classes == {"ConvNormAct", "FireModule", "ConvClassifier", "Net"}
    assert "import torch" in source_for("conv_c8 fire_sq8_e16 head")  # torch.cat
    assert "\nimport torch\n" not in source_for("conv_c8 head")
    assert "SqueezeExcitation" not in source_for("conv_c8 shuffle_s2_c16 ds_c32 head_h16")
    # residual blocks get squeeze-and-excitation and stochastic depth only where the network has them
    plain = source_for("conv_c16 ir_c16_x32*2 res_c16*2 head")
    assert "SqueezeExcitation" not in plain and "se_layer=" not in build_source(plain)
    assert "drop_path=" not in build_source(plain)
    rich = source_for("net_sd0.2 conv_c16 ir_c16_x32*2 res_c16_se4*2 head")
    assert "class SqueezeExcitation" in rich and "se_layer=partial(SqueezeExcitation, squeeze=4)" in rich
    assert "class StochasticDepth" in rich and "drop_path=0.1" in build_source(rich)


def test_generated_code_is_lint_clean(study: Study, tmp_path: Path) -> None:
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    rng = random.Random(3)
    genomes = [random_genome(rng) for _ in range(20)]
    genomes += [g for space in nas.list_spaces() for g in nas.get_space(space).references.values()]
    for i, genome in enumerate(genomes):
        (tmp_path / f"net_{i}.py").write_text(source_for(genome))
    number = int(study.pareto().number[0])
    (tmp_path / "trained.py").write_text(module_source(study.genome(number), num_classes=10, in_channels=1,
                                                       meta=trial_info(study, number)))
    result = subprocess.run([ruff, "check", "--isolated", "--quiet", "--select", "E,W,F,I,UP,B,SIM,C4", "--ignore",
                             "E501", str(tmp_path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_matches_nas_on_random_genomes() -> None:
    rng = random.Random(7)
    for i in range(40):
        genome = random_genome(rng)
        exported = load(source_for(genome, num_classes=10, in_channels=3))
        # the defaults, and other classes and channels (build's arguments reach the first blocks)
        num_classes, in_channels = (10, 3) if i % 2 else (7, 2)
        assert_same_network(genome, exported, num_classes=num_classes, in_channels=in_channels)


@pytest.mark.parametrize("space", nas.list_spaces())
def test_matches_nas_on_references(space: str) -> None:
    for name, genome in nas.get_space(space).references.items():
        exported = load(source_for(genome, num_classes=10, in_channels=3), name)
        # VGG and AlexNet (50M+ parameters) compare as module trees and shapes only: their weights take
        # seconds to initialise, and the random genomes cover their blocks' numerics
        small = nas.count(genome, resolution=224, in_channels=3, num_classes=10).params < 30_000_000
        assert_same_network(genome, exported, num_classes=10, in_channels=3, outputs=small)


def test_torch_export_and_onnx(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")  # the dynamo exporter, torch.onnx.export's default, needs it
    model = load(source_for(ALL_KINDS, num_classes=10, in_channels=3)).build().eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = model(x)
        program = torch.export.export(model, (x,))
        torch.testing.assert_close(program.module()(x), expected, rtol=0, atol=1e-6)
    path = tmp_path / "model.onnx"
    torch.onnx.export(model, (x,), str(path), input_names=["x"], dynamo=True)
    onnx.checker.check_model(str(path), full_check=True)
    try:
        import onnxruntime
    except ImportError:  # onnx's own reference evaluator (numpy) runs it instead
        from onnx.reference import ReferenceEvaluator

        got = ReferenceEvaluator(str(path)).run(None, {"x": x.numpy()})[0]
    else:
        got = onnxruntime.InferenceSession(str(path)).run(None, {"x": x.numpy()})[0]
    torch.testing.assert_close(torch.from_numpy(got), expected, rtol=1e-4, atol=1e-4)


def test_genome_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "net.py"
    code, out, _ = run(["--genome", ALL_KINDS, "--num-classes", "5", "--in-channels", "1", "--out", str(path)],
                       capsys)
    assert code == 0 and f"wrote {path}" in out
    exported = load_file(path)
    genome = nas.Genome.parse(ALL_KINDS)
    assert exported.GENOME == str(genome)
    assert f"{nas.count(genome, resolution=224, in_channels=1, num_classes=5).macs:,}" in exported.__doc__
    assert_same_network(genome, exported, num_classes=5, in_channels=1)
    with pytest.raises(ValueError, match="no trained weights"):
        exported.build(pretrained=True)


# ----------------------------------------------------------------------------------------------
# trials without weights, pretrained weights


def test_over_budget_trial_is_exported_as_architecture(study: Study, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    frame = study.trials()
    over = frame[frame.status.str.startswith("over budget")].number
    assert len(over), "the tiny study's candidates exceed 60M MACs: they are priced, not trained"
    number = int(over.iloc[0])
    code, out, _ = run([str(study.folder), "--trial", str(number), "--out", str(tmp_path)], capsys)
    assert code == 0
    assert "no trained weights" in out and "over budget" in out
    assert not list(tmp_path.glob("*.pt"))
    exported = load_file(tmp_path / f"trial_{number}.py")
    assert "Status:    over budget" in exported.__doc__
    assert_same_network(study.genome(number), exported, num_classes=10, in_channels=1)
    with pytest.raises(ValueError, match=f"trial {number} of study {NAME} has no trained weights"):
        exported.build(pretrained=True)


def test_failed_trial_with_architecture(study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    number = len(study.optuna_study.trials) - 1  # failed after its genome was recorded (training diverged)
    code, out, _ = run([str(study.folder), "--trial", str(number), "--out", str(tmp_path / "net.py")], capsys)
    assert code == 0 and "no trained weights" in out
    exported = load_file(tmp_path / "net.py")
    assert "training diverged" in exported.__doc__
    assert exported.GENOME == str(nas.Genome.parse(DIVERGED))


def test_pretrained_weights_must_fit(study: Study, tmp_path: Path) -> None:
    number = int(study.pareto().number[0])
    path = tmp_path / "net.py"
    assert main([str(study.folder), "--trial", str(number), "--out", str(path)]) == 0
    exported = load_file(path)
    with pytest.raises(ValueError, match=r"num_classes=10 and in_channels=1, not num_classes=5"):
        exported.build(num_classes=5, pretrained=True)
    (tmp_path / "net.pt").unlink()
    with pytest.raises(FileNotFoundError, match="net.pt"):
        exported.build(pretrained=True)


# ----------------------------------------------------------------------------------------------
# the Pareto set as a package


def test_pareto_package(root: Path, study: Study, capsys: pytest.CaptureFixture[str],
                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root)
    code, out, _ = run([f"studies/{NAME}", "--pareto"], capsys)
    assert code == 0
    names = [study.label(int(n)) for n in study.pareto().number]
    package = root / "studies" / NAME / "models"
    for name in names:
        assert f"wrote studies/{NAME}/models/{name}.py" in out
        assert (package / f"{name}.pt").exists()
    assert f"from studies.{NAME}.models import {names[0]}" in out
    torch.save({name: study.model(int(n)).state_dict() for name, n in zip(names, study.pareto().number)},
               root / "trained.pt")
    child = textwrap.dedent(f"""
        import json, sys
        sys.modules["nas"] = None
        import torch
        from studies.{NAME}.models import MODELS, __all__
        from studies.{NAME}.models import {names[0]} as first
        sys.path.insert(0, {str(package.parent)!r})  # the package's parent on sys.path
        from models import {names[0]} as again
        assert again.GENOME == first.GENOME
        trained = torch.load("trained.pt", weights_only=True)
        import studies.{NAME}.models as package
        for name, state in trained.items():
            got = getattr(package, name).build(pretrained=True).state_dict()
            assert list(got) == list(state) and all(torch.equal(got[k], v) for k, v in state.items()), name
        print(json.dumps({{"models": MODELS, "all": __all__}}))
    """)
    result = subprocess.run([sys.executable, "-c", child], cwd=root, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout.splitlines()[-1])
    assert list(listed["models"]) == names and listed["all"] == ["MODELS", *names]
    front = study.pareto()
    for name, (_, row) in zip(names, front.iterrows()):
        metrics = listed["models"][name]
        assert metrics["accuracy"] == row.accuracy and metrics["test_accuracy"] == row.test_accuracy
        assert metrics["macs"] == row.macs and metrics["trial"] == row.number and metrics["pretrained"]


def test_pareto_folder_that_is_not_an_identifier(root: Path, study: Study, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root)
    code, out, _ = run([str(study.folder), "--pareto", "--out", "my-models"], capsys)
    assert code == 0
    assert "'my-models' is not a valid Python identifier" in out and "--out" in out
    written = export_pareto(study, root / "my-models", force=True)
    assert written[-1] == root / "my-models" / "__init__.py"


def test_study_by_name_and_by_storage(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root)
    code, out, _ = run([NAME, "--trial", "1", "--out", str(tmp_path / "by_name")], capsys)  # studies/<NAME>
    assert code == 0 and (tmp_path / "by_name" / "trial_1.py").exists()
    storage = f"sqlite:///{root / 'studies' / NAME / 'study.db'}"
    code, out, _ = run(["--storage", storage, "--study-name", NAME, "--trial", "1", "--out",
                        str(tmp_path / "by_storage" / "net.py")], capsys)
    assert code == 0 and f"wrote {tmp_path / 'by_storage' / 'net.py'}" in out
    assert (tmp_path / "by_storage" / "net.py").read_text() == (tmp_path / "by_name" / "trial_1.py").read_text(
        ).replace("trial_1", "net")


# ----------------------------------------------------------------------------------------------
# bad inputs


@pytest.mark.parametrize(("args", "expected"), [
    (["{root}/nowhere", "--trial", "0"], "no study at '{root}/nowhere'"),
    (["{study}", "--trial", "99"], "has no trial 99"),
    (["{study}", "--trial", "-1"], "has no trial -1"),
    (["{study}", "--trial", "{failed}"],
     "trial {failed} of 'mobile_60M_digits' has no architecture (RuntimeError: killed)"),
    (["{study}"], "--trial N (one trial) or --pareto"),
    (["{study}", "--trial", "0", "--pareto"], "argument --pareto: not allowed with argument --trial"),
    (["{study}", "--trial", "zero"], "invalid int value: 'zero'"),
    (["{study}", "--trial", "0", "--name", "9lives", "--out", "{tmp}"], "module name '9lives' is not a Python"),
    (["{study}", "--pareto", "--name", "front"], "--name 'front'"),
    (["{study}", "--pareto", "--out", "{tmp}/front.py"], "--pareto writes a package"),
    (["--storage", "sqlite:///{root}/studies/" + NAME + "/study.db", "--study-name", "nope", "--trial", "0"],
     "no study named 'nope'"),
    (["--genome", "conv_c16 head_x3", "--out", "{tmp}/net.py"], "bad token 'x3'"),
    (["--genome", "conv_c16 head"], "--genome needs --out FILE.py"),
    (["{study}", "--genome", "conv_c16 head", "--out", "{tmp}/net.py"], "--genome exports a genome string"),
    (["--genome", "conv_c16 head", "--num-classes", "0", "--out", "{tmp}/net.py"],
     "--num-classes 0 must be a positive whole number"),
    (["--genome", "conv_g3_c16 head", "--in-channels", "2", "--out", "{tmp}/net.py"],
     "groups=3 must divide in_channels=2"),
    (["{study}", "--trial", "0", "--num-classes", "5"], "--num-classes go with --genome only"),
])
def test_bad_inputs(args: list[str], expected: str, root: Path, study: Study, tmp_path: Path,
                    capsys: pytest.CaptureFixture[str]) -> None:
    failed = len(study.optuna_study.trials) - 2  # the failed trial without architecture
    fill = {"root": str(root), "study": str(study.folder), "tmp": str(tmp_path), "failed": str(failed)}
    code, out, err = run([a.format(**fill) for a in args], capsys)
    assert code == 2
    assert expected.format(**fill) in err
    assert not out and "Traceback" not in err


def test_existing_outputs_need_force(study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    number = reference(study)
    path = tmp_path / "mobilenet_v3_small.py"
    path.write_text("# mine\n")
    code, _, err = run([str(study.folder), "--trial", str(number), "--out", str(tmp_path)], capsys)
    assert code == 2 and f"{path} exists: pass --force" in err
    assert path.read_text() == "# mine\n"
    # the front's members depend on the training (the reference may or may not be on it): refuse one of them
    member = tmp_path / f"{study.label(int(study.pareto().number[0]))}.py"
    member.write_text("# mine\n")
    code, _, err = run([str(study.folder), "--pareto", "--out", str(tmp_path)], capsys)
    assert code == 2 and f"{member} exists" in err
    assert member.read_text() == "# mine\n"
    assert not (tmp_path / "__init__.py").exists(), "nothing is written when one file is refused"
    code, _, _ = run([str(study.folder), "--trial", str(number), "--out", str(tmp_path), "--force"], capsys)
    assert code == 0 and "def build(" in path.read_text()
    genome_out = tmp_path / "net.py"
    genome_out.write_text("# mine\n")
    code, _, err = run(["--genome", "conv_c16 head", "--out", str(genome_out)], capsys)
    assert code == 2 and f"{genome_out} exists" in err


def copy_study(study: Study, to: Path) -> Path:
    """A copy of the study folder (database and weights), to damage or lock without touching the module's."""
    return Path(shutil.copytree(study.folder, to / NAME, ignore=shutil.ignore_patterns("models", "*.lock")))


def test_unwritable_study_or_output_folder_exits_2_naming_it(study: Study, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_study(study, tmp_path)
    number = str(int(study.pareto().number[0]))
    out = tmp_path / "out"
    fix = "write elsewhere with --out DIR, or make the folder writable"
    before = sorted(folder.iterdir())
    with unwritable(folder), unwritable(out):
        for args, where in (([str(folder), "--pareto"], f"cannot create the folder {folder / 'models'} ("),
                            ([str(folder), "--trial", number], f"cannot create the folder {folder / 'models'} ("),
                            ([str(folder), "--trial", number, "--out", str(out)], f"cannot write in {out} ("),
                            ([str(folder), "--pareto", "--out", str(out)], f"cannot write in {out} ("),
                            (["--genome", "conv_c16 head", "--out", str(out / "net.py")], f"cannot write in {out} (")):
            code, stdout, err = run(args, capsys)
            assert code == 2, args
            assert err.startswith(f"error: {where}") and err.rstrip("\n").endswith(fix), err
            assert err.count("\n") == 1 and "Traceback" not in err and not stdout
        assert sorted(folder.iterdir()) == before and not list(out.iterdir()), "nothing written"
        # the study is read, not written: --out elsewhere works
        code, stdout, _ = run([str(folder), "--pareto", "--out", str(tmp_path / "package")], capsys)
        assert code == 0 and (tmp_path / "package" / "__init__.py").exists()


@pytest.mark.parametrize("damage", ["missing", "truncated", "not a state dict"])
@pytest.mark.parametrize("what", ["--pareto", "--trial"])
def test_missing_or_damaged_weights_exit_2_and_write_nothing(damage: str, what: str, study: Study, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_study(study, tmp_path)
    number = int(study.pareto().number[0])
    weights = folder / "weights" / study.weights_path(number).name
    if damage == "missing":
        weights.unlink()
    elif damage == "truncated":  # an interrupted copy
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    else:
        torch.save([1, 2, 3], weights)
    out = tmp_path / "out"
    args = [str(folder), "--pareto"] if what == "--pareto" else [str(folder), "--trial", str(number)]
    code, stdout, err = run([*args, "--out", str(out)], capsys)
    assert code == 2 and not stdout and "Traceback" not in err
    problem = f"{weights} is missing" if damage == "missing" else f"{weights} cannot be loaded: it is damaged"
    assert err.startswith(f"error: the trained weights of trial {number} cannot be exported, so nothing was "
                          f"written: {problem}"), err
    assert "--genome GENOME --out FILE.py" in err
    assert not out.exists(), "nothing written"


def test_command_line_error_has_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "nas.export", str(tmp_path / "missing"), "--trial", "0"],
                            capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=120,
                            check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: no study at {str(tmp_path / 'missing')!r}")
    assert "Traceback" not in result.stderr
