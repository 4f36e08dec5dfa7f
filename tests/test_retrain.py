"""``python -m nas.train ARCH``: every ARCH form trains and writes weights and metrics that agree with
``evaluate``; an interrupted run resumes to the very weights of an uninterrupted one; other options
refuse to resume; bad inputs exit with 2 and name the value. Tiny data: digits, 1-2 epochs."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch

import nas
import nas.search
import nas.study
import nas.train
from nas.data import load_dataset
from nas.train import TrainConfig, evaluate, train
from nas.train import cli as retrain
from nas.train.cli import main, resolve_arch
from tests.conftest import unwritable

ROOT = Path(__file__).resolve().parents[1]
TINY = "conv_s2_c8 ir_c8_x16 head_c32"
# stochastic depth and dropout: resuming must restore the RNG too
RANDOM = "net_sd0.2 conv_s2_c8 ir_c8_x16 ir_c8_x16 head_c32_d0.2"
FAST = ["--dataset", "digits", "--epochs", "1", "--train-size", "200", "--batch-size", "32", "--device", "cpu",
        "--quiet"]

MODULE = '''"""A network as nas.export writes one: plain torch, no nas."""
from pathlib import Path

import torch
from torch import nn

GENOME = "conv_c8_relu head"


def build(num_classes: int = {classes}, in_channels: int = {channels}, pretrained: bool = False) -> nn.Module:
    model = nn.Sequential(nn.Conv2d(in_channels, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, num_classes))
    if pretrained:
        model.load_state_dict(torch.load(Path(__file__).with_suffix(".pt"), weights_only=True))
    return model
'''


def write_module(path: Path, *, classes: int = 10, channels: int = 1, body: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MODULE.format(classes=classes, channels=channels) if body is None else body)
    return path


def load_module(path: Path) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_test_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny search study on digits, plus two failed trials (one without an architecture)."""
    root = tmp_path_factory.mktemp("studies")
    code = nas.search.main(["--studies-dir", str(root), "--space", "mobile", "--budget", "60M", "--dataset", "digits",
                            "--trials", "2", "--references", "feasible", "--epochs", "1", "--train-size", "150",
                            "--val-size", "60", "--batch-size", "32", "--no-progress"])
    assert code == 0
    folder = root / "mobile_60M_digits"
    s = optuna.load_study(study_name=folder.name, storage=f"sqlite:///{folder / 'study.db'}")
    failed = s.ask()
    failed.set_user_attr("genome", TINY)
    failed.set_user_attr("fail_reason", "training diverged: loss nan")
    s.tell(failed, state=optuna.trial.TrialState.FAIL)
    s.tell(s.ask(), state=optuna.trial.TrialState.FAIL)  # no genome at all
    return folder


@pytest.fixture(scope="module")
def digits() -> Any:
    return load_dataset("digits")


def check_outputs(out: Path, model: torch.nn.Module, digits: Any) -> dict[str, Any]:
    """weights.pt and metrics.json exist, and the test accuracy is what evaluate gives the saved weights."""
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    model.load_state_dict(torch.load(out / "weights.pt", weights_only=True))
    config = TrainConfig(**metrics["config"])
    mean, std = metrics["dataset"]["mean"], metrics["dataset"]["std"]
    assert evaluate(model, digits.x_test, digits.y_test, config, mean=mean, std=std) == metrics["test_accuracy"]
    assert len(metrics["curve"]["accuracy"]) == len(metrics["curve"]["train_loss"]) == metrics["epochs"]
    assert metrics["curve"]["split"] == "test" and metrics["curve"]["accuracy"][-1] == metrics["test_accuracy"]
    assert metrics["images_per_second"] > 0 and metrics["device"] == "cpu" and metrics["versions"]["torch"]
    assert metrics["started"] <= metrics["finished"]
    genome = nas.Genome.parse(metrics["genome"])
    cost = nas.count(genome, resolution=metrics["resolution"], in_channels=1, num_classes=10)
    assert (metrics["macs"], metrics["params"]) == (cost.macs, cost.params)
    assert metrics["dataset"]["name"] == "digits" and metrics["dataset"]["train_images"] == 200
    return metrics


# ----------------------------------------------------------------------------------------------
# the library: train(checkpoint=, resume=)


def test_resumed_training_ends_with_the_weights_of_an_uninterrupted_one() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (90, 3, 8, 8), dtype=torch.uint8, generator=g)
    y = torch.arange(90) % 3
    config = TrainConfig(epochs=3, batch_size=16, device="cpu", resolution=16, lr=0.05)
    stats = {"mean": [0.5] * 3, "std": [0.3] * 3}

    torch.manual_seed(0)
    whole = nas.build(RANDOM, num_classes=3)
    expected = train(whole, x, y, x[:30], y[:30], config, **stats)

    saved: list[bytes] = []

    def stop_after_one(state: dict) -> None:
        buffer = io.BytesIO()
        torch.save(state, buffer)  # as a checkpoint file would hold it
        saved.append(buffer.getvalue())
        if state["epoch"] == 1:
            raise KeyboardInterrupt

    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        train(nas.build(RANDOM, num_classes=3), x, y, x[:30], y[:30], config, **stats, checkpoint=stop_after_one)
    state = torch.load(io.BytesIO(saved[-1]), weights_only=True)
    assert state["epoch"] == 1 and state["step"] == state["steps_per_epoch"]

    torch.manual_seed(1)  # other initial weights: the state replaces them
    resumed_model = nas.build(RANDOM, num_classes=3)
    resumed = train(resumed_model, x, y, x[:30], y[:30], config, **stats, resume=state)
    assert resumed.val_accuracy == expected.val_accuracy and resumed.train_loss == expected.train_loss
    a, b = whole.state_dict(), resumed_model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(state["model"]["features.0.conv.weight"], a["features.0.conv.weight"])  # epochs 2-3 trained

    with pytest.raises(ValueError, match=r"lr=0\.05 -> 0\.1"):
        train(nas.build(RANDOM, num_classes=3), x, y, x[:30], y[:30], TrainConfig(
            epochs=3, batch_size=16, device="cpu", resolution=16, lr=0.1), **stats, resume=state)
    with pytest.raises(ValueError, match="images"):
        train(nas.build(RANDOM, num_classes=3), x[:60], y[:60], x[:30], y[:30], config, **stats, resume=state)


# ----------------------------------------------------------------------------------------------
# every ARCH form


@pytest.mark.parametrize("arch", [TINY, "mobilenet_v3_small", "shuffle:shufflenet_v2_x0_5"])
def test_genome_and_reference_forms_train(arch: str, tmp_path: Path, digits: Any,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main([arch, *FAST, "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    form = "genome" if " " in arch else "reference"
    genome = nas.Genome.parse(arch) if form == "genome" else resolve_arch(arch).genome
    metrics = check_outputs(tmp_path / "run", nas.build(genome, num_classes=10, in_channels=1), digits)
    assert metrics["arch"]["form"] == form and metrics["genome"] == str(genome)
    assert f"test accuracy {metrics['test_accuracy']:.4f}" in out


def test_exported_module_file_trains_with_its_own_build(tmp_path: Path, digits: Any) -> None:
    path = write_module(tmp_path / "trial_7.py")
    assert main([str(path), *FAST, "--out", str(tmp_path / "run")]) == 0
    metrics = check_outputs(tmp_path / "run", load_module(path).build(num_classes=10, in_channels=1), digits)
    assert metrics["arch"]["form"] == "module" and metrics["genome"] == "conv_c8_relu head"
    assert metrics["model_params"] == metrics["params"] == 178  # GENOME describes the plain-torch network
    # its state dict is the module's, not nas.build's
    assert set(torch.load(tmp_path / "run" / "weights.pt", weights_only=True)) == {
        "0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked", "5.weight",
        "5.bias"}


def test_exported_module_by_dotted_name_from_the_current_folder(tmp_path: Path, digits: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    package = "zoo_retrain_test"
    (tmp_path / package / "models").mkdir(parents=True)
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "models" / "__init__.py").write_text("")
    path = write_module(tmp_path / package / "models" / "trial_3.py")
    monkeypatch.chdir(tmp_path)
    try:
        assert main([f"{package}.models.trial_3", *FAST]) == 0
    finally:
        for name in [n for n in sys.modules if n.startswith(package)]:
            del sys.modules[name]
    out = tmp_path / "runs" / "trial_3_digits"  # the default output folder
    metrics = check_outputs(out, load_module(path).build(num_classes=10, in_channels=1), digits)
    assert metrics["arch"]["form"] == "module" and metrics["arch"]["value"] == f"{package}.models.trial_3"


def test_pretrained_module_starts_from_its_weights_when_the_shapes_fit(tmp_path: Path, digits: Any,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = write_module(tmp_path / "net.py")
    assert main([str(path), "--pretrained", *FAST, "--out", str(tmp_path / "a")]) == 2  # net.pt is missing
    assert "pretrained=True) of" in capsys.readouterr().err
    torch.save(load_module(path).build().state_dict(), tmp_path / "net.pt")
    assert main([str(path), "--pretrained", *FAST, "--out", str(tmp_path / "b")]) == 0
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["arch"]["pretrained"] is True
    rgb = write_module(tmp_path / "rgb.py", channels=3)
    assert main([str(rgb), "--pretrained", *FAST]) == 2
    err = capsys.readouterr().err
    assert "1 channels but the pretrained weights take 3" in err and "digits" in err


def test_study_trial_trains_on_the_study_dataset_by_default(study: Path, tmp_path: Path, digits: Any) -> None:
    opened = nas.study.open_study(study)
    number = int(opened.pareto().number.iloc[0])
    args = [str(study), "--trial", str(number), *[a for a in FAST if a not in ("--dataset", "digits")]]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    metrics = check_outputs(tmp_path / "run", opened.model(number, weights=False), digits)
    assert metrics["arch"]["form"] == "study" and metrics["arch"]["trial"] == number
    assert metrics["arch"]["study"] == "mobile_60M_digits" and metrics["genome"] == str(opened.genome(number))
    assert metrics["resolution"] == opened.attrs["protocol"]["resolution"]


def test_val_size_draws_the_curve_on_training_images(tmp_path: Path) -> None:
    assert main([TINY, *FAST, "--val-size", "100", "--out", str(tmp_path / "run")]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["curve"]["split"] == "validation" and metrics["dataset"]["val_images"] == 100
    assert metrics["val_accuracy"] == metrics["curve"]["accuracy"][-1]
    assert metrics["dataset"]["train_images"] == 200


# ----------------------------------------------------------------------------------------------
# checkpoints, Ctrl-C and resume


@pytest.mark.parametrize("where", ["between epochs", "inside epoch 2"])
def test_ctrl_c_then_rerun_ends_with_the_uninterrupted_weights(where: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    args = [RANDOM, "--dataset", "digits", "--epochs", "2", "--train-size", "300", "--batch-size", "32",
            "--device", "cpu", "--lr", "0.05", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0

    real_train, check = retrain.train, nas.train._check_finite
    done = {"epochs": 0}

    def interrupting(*a: Any, **k: Any) -> Any:
        def on_epoch(epoch: int, accuracy: float) -> None:  # called once the epoch's checkpoint is written
            done["epochs"] = epoch
            if where == "between epochs":
                raise KeyboardInterrupt

        return real_train(*a, on_epoch=on_epoch, **k)

    def stepping(*a: Any, **k: Any) -> None:
        if done["epochs"] == 1:  # a step of epoch 2
            raise KeyboardInterrupt
        check(*a, **k)

    monkeypatch.setattr(retrain, "train", interrupting)
    monkeypatch.setattr(nas.train, "_check_finite", stepping)
    cut = [*args, "--out", str(tmp_path / "cut")]
    assert main(cut) == 130
    err = capsys.readouterr().err
    assert "holds epoch 1 of 2" in err and "resume with:\n  python -m nas.train 'net_sd0.2" in err
    assert not (tmp_path / "cut" / "weights.pt").exists()
    assert torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)["train"]["epoch"] == 1

    monkeypatch.setattr(retrain, "train", real_train)
    monkeypatch.setattr(nas.train, "_check_finite", check)
    assert main(cut) == 0
    assert "resuming from" in capsys.readouterr().err
    a = torch.load(tmp_path / "whole" / "weights.pt", weights_only=True)
    b = torch.load(tmp_path / "cut" / "weights.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ma, mb = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("whole", "cut"))
    assert ma["curve"]["accuracy"] == mb["curve"]["accuracy"] and ma["curve"]["train_loss"] == mb["curve"]["train_loss"]
    assert ma["test_accuracy"] == mb["test_accuracy"] and mb["resumed"] and not ma["resumed"]


def test_other_options_refuse_to_resume_and_restart_starts_over(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = ["--out", str(tmp_path / "run")]
    assert main([TINY, *FAST, *out]) == 0
    capsys.readouterr()
    assert main([TINY, *FAST, *out, "--lr", "0.05", "--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert "--lr: 0.02 in the checkpoint, 0.05 now" in err and "--seed: 0 in the checkpoint, 1 now" in err
    assert "--restart" in err and "--epochs" not in err
    assert main(["mobilenet_v3_small", *FAST, *out]) == 2
    assert "ARCH: 'genome conv_s2_c8" in capsys.readouterr().err
    assert main([TINY, *FAST, *out, "--lr", "0.05", "--restart"]) == 0
    assert "starting over" in capsys.readouterr().err
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["config"]["lr"] == 0.05
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"half a file")
    assert main([TINY, *FAST, *out, "--lr", "0.05"]) == 2
    assert "cannot read the checkpoint" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# bad inputs: exit 2, the value named, no traceback


def bad_modules(tmp_path: Path) -> dict[str, Path]:
    return {"no_build": write_module(tmp_path / "no_build.py", body="GENOME = 'conv_c8 head'\n"),
            "no_genome": write_module(tmp_path / "no_genome.py", body="def build(**kw):\n    return None\n"),
            "bad_genome": write_module(tmp_path / "bad_genome.py", body="GENOME = 'conv_c8 hed'\ndef build(**kw): ...\n"),
            "not_module": write_module(tmp_path / "not_module.py",
                                       body="GENOME = 'conv_c8 head'\ndef build(**kw):\n    return 3\n"),
            "broken": write_module(tmp_path / "broken.py", body="import not_a_package_anywhere\n")}


@pytest.mark.parametrize(("args", "expected"), [
    (["mobilenetv2"], ["'mobilenetv2'", "did you mean mobilenet_v2", "a genome string"]),
    (["resnet:resnet19"], ["'resnet:resnet19'", "resnet18"]),
    (["conv_c8 hed"], ["'hed'", "genome"]),
    (["missing.py"], ["'missing.py'", "no such file"]),
    (["no.such.module"], ["'no.such.module'", "no module"]),
    (["{no_build}"], ["no_build.py", "no build()"]),
    (["{no_genome}"], ["no_genome.py", "no GENOME"]),
    (["{bad_genome}"], ["bad_genome.py", "'hed'"]),
    (["{not_module}"], ["not_module.py", "returned an object of type int"]),
    (["{broken}"], ["broken.py", "ModuleNotFoundError"]),
    (["{study}"], ["is a study", "--trial N", "Pareto set"]),
    (["mobile_60M_digits", "--studies-dir", "{studies}"], ["'mobile_60M_digits' is a study", "--trial N"]),
    (["{study}", "--trial", "999"], ["no trial 999"]),
    (["{study}", "--trial", "{failed}"], ["failed in the search", "training diverged"]),
    (["{study}", "--trial", "{empty}"], ["has no architecture"]),
    (["{tmp}/nowhere", "--trial", "1"], ["no study at", "nowhere"]),
    ([TINY, "--lr", "-1"], ["--lr -1.0", "out of range"]),
    ([TINY, "--epochs", "0"], ["--epochs 0"]),
    ([TINY, "--val-size", "-1"], ["--val-size -1"]),
    ([TINY, "--train-size", "99999"], ["--train-size 99999", "1,500"]),
    ([TINY, "--resolution", "4"], ["--resolution 4"]),
    (["resnet18", "--resolution", "8"], ["--resolution 8", "17×17"]),
    ([TINY, "--dataset", "cifar11"], ["'cifar11'", "known datasets"]),
    ([TINY, "--device", "tpu"], ["--device 'tpu'"]),
    (["resnet18", "--pretrained"], ["--pretrained", "reference"]),
])
def test_bad_inputs_exit_2_naming_the_value(args: list[str], expected: list[str], study: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    s = optuna.load_study(study_name=study.name, storage=f"sqlite:///{study / 'study.db'}")
    failed = [t.number for t in s.trials if t.state == optuna.trial.TrialState.FAIL]
    names = {k: str(v) for k, v in bad_modules(tmp_path).items()}
    names.update(study=str(study), studies=str(study.parent), tmp=str(tmp_path), failed=str(failed[0]), empty=str(failed[1]))
    argv = [a.format(**names) for a in args]
    if "--dataset" not in argv:
        argv += ["--dataset", "digits"]
    assert main([*argv, "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    for fragment in expected:
        assert fragment in err, (fragment, err)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_default_cifar10_unavailable_fails_without_falling_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    import nas.data

    def offline(name: str, folder: Path) -> dict:
        raise OSError("network is unreachable")

    monkeypatch.setattr(nas.data, "_download", offline)
    monkeypatch.setenv("NAS_DATA", str(tmp_path / "empty"))
    assert main([TINY, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    for fragment in ("CIFAR-10", "does not fall back", "--data-root", "NAS_DATA", "--dataset digits"):
        assert fragment in err


def test_unwritable_output_folder_exits_2_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "locked"
    fix = "write elsewhere with --out DIR, or make the folder writable"
    with unwritable(out):
        # --out, then the default runs/<arch>_<dataset>/ of the current folder
        for args, where in ((["--out", str(out)], f"cannot write in {out} ("),
                            (["--out", str(out / "run")], f"cannot create the folder {out / 'run'} ("),
                            ([], f"cannot create the folder {out / 'runs'} (")):
            monkeypatch.chdir(out)
            assert main([TINY, *FAST, *args]) == 2
            captured = capsys.readouterr()
            assert captured.err.startswith(f"error: {where}") and captured.err.rstrip("\n").endswith(fix), captured.err
            assert captured.err.count("\n") == 1 and "Traceback" not in captured.err and "epoch" not in captured.out
        assert not list(out.iterdir())


def test_python_m_nas_train_is_the_cli(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "nas.train", "resnet19", "--dataset", "digits"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ARCH 'resnet19'") and "resnet18" in result.stderr
    assert "Traceback" not in result.stderr


def test_exported_module_defaults_to_the_dataset_it_came_from(tmp_path: Path, digits: Any) -> None:
    path = write_module(tmp_path / "trial_5.py", body=MODULE.format(classes=10, channels=1)
                        + '\nMETRICS = {"dataset": "digits", "trial": 5}\n')
    fast = [a for a in FAST if a not in ("--dataset", "digits")]
    assert main([str(path), *fast, "--out", str(tmp_path / "run")]) == 0
    metrics = check_outputs(tmp_path / "run", load_module(path).build(num_classes=10, in_channels=1), digits)
    assert metrics["dataset"]["name"] == "digits"
