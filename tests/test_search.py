"""``python -m nas.search``, end to end on tiny data: the study, the budget, the references, failures,
resume after interruption, determinism, and every bad option."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import optuna
import pytest

import nas
import nas.search as search
from nas.cost import format_count
from nas.search import SearchError, main, parse_budget
from nas.study import open_study

from tests.conftest import unwritable

CIFAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10.npz"
# tiny protocol: a few hundred 8×8 digits upsampled to 32×32, one epoch
TINY = ["--epochs", "1", "--train-size", "150", "--val-size", "60", "--batch-size", "32", "--no-progress"]


def run_cli(tmp_path: Path, *args: str) -> int:
    return main(["--studies-dir", str(tmp_path / "studies"), *TINY, *args])


def load(tmp_path: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path / 'studies' / name / 'study.db'}")


def candidates(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The candidates that --trials counts: given to the trainer (over-budget ones are only priced)."""
    outcomes = search.trial_outcomes(study.trials)
    return [t for t in study.trials if not t.user_attrs.get("reference") and outcomes[t.number] in ("trained", "failed")]


def test_end_to_end_on_digits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli(tmp_path, "--space", "mobile", "--budget", "60M", "--dataset", "digits", "--trials", "3",
                   "--references", "feasible")
    out = capsys.readouterr().out
    assert code == 0
    study = load(tmp_path, "mobile_60M_digits")
    assert study.user_attrs["dataset"] == "digits"
    refs = [t for t in study.trials if t.user_attrs.get("reference")]
    # at 60M MACs (1 channel, 10 classes) only MobileNetV3-Small fits among the mobile references
    assert [t.user_attrs["reference"] for t in refs] == ["mobilenet_v3_small"]
    assert len(candidates(study)) == 3
    trained = [t for t in study.trials if t.user_attrs.get("status", "").startswith("trained")]
    for t in trained:
        assert len(t.user_attrs["val_curve"]) == 1
        assert t.values[0] == t.user_attrs["val_curve"][-1]
        assert nas.Genome.parse(t.user_attrs["genome"]) == nas.get_space("mobile").sample(
            optuna.trial.FixedTrial(t.params))
        for key in ("cost", "protocol", "train_seconds", "dataset", "versions", "device"):
            assert key in t.user_attrs, key
    assert "Pareto set" in out and "references" in out and "hypervolume" in out
    assert "mobilenet_v3_small" in out
    # Optuna's plots and optuna-dashboard label the axes with these (not "Objective 0/1")
    assert study.metric_names == ["validation accuracy", "MACs at 224×224"]
    # the summary says at which resolution costs are counted and networks trained, and leaves the genomes
    # (hundreds of characters each) to the report
    assert "costs are counted at 224×224 (the space's target resolution); the networks trained and were " \
           "validated at 32×32" in out
    assert "MACs at 224×224" in out.split("Pareto set")[1].splitlines()[1]
    assert not [t for t in trained if t.user_attrs["genome"] in out]
    n = len(study.best_trials)
    assert f"): {n} network{'s' if n != 1 else ''}\n" in out
    line = next(line for line in out.splitlines() if line.strip().startswith("mobilenet_v3_small"))
    found = re.search(r"dominated by trial (\d+) \(([+-][0-9.]+) val accuracy at ([0-9.]+)× the MACs\)", line)
    if found:  # the margin is the searched network's accuracy minus the reference's, at its share of the MACs
        best, ref = study.trials[int(found[1])], refs[0]
        assert float(found[2]) == pytest.approx(best.values[0] - ref.values[0], abs=1e-4)
        assert float(found[3]) == pytest.approx(best.values[1] / ref.values[1], abs=0.006)
    else:
        assert "not dominated by the search" in line
    assert search.held_out_accuracies(study), "the Pareto set and the references get a test accuracy"


def test_budget_is_enforced_before_training(tmp_path: Path) -> None:
    run_cli(tmp_path, "--space", "mobile", "--budget", "100M", "--dataset", "digits", "--trials", "4",
            "--references", "all", "--seed", "3")
    study = load(tmp_path, "mobile_100M_digits")
    outcomes = search.trial_outcomes(study.trials)
    assert "over budget" in outcomes.values() and "trained" in outcomes.values()
    for t in study.trials:
        spent = t.user_attrs["budget"]["value"]
        over = spent > 100_000_000
        assert (t.constraints["budget"] > 0) == over
        assert t.system_attrs["constraints"] == [t.constraints["budget"]]  # what optuna-dashboard reads
        if over and not t.user_attrs.get("reference"):
            assert "train_seconds" not in t.user_attrs and "over budget" in t.user_attrs["status"]
    refs = {t.user_attrs["reference"]: t for t in study.trials if t.user_attrs.get("reference")}
    assert set(refs) == set(nas.get_space("mobile").references)
    # over-budget references are trained too, and shown as infeasible: never on the front
    v2 = refs["mobilenet_v2"]
    assert "train_seconds" in v2.user_attrs and v2.constraints["budget"] > 0
    assert v2.number not in {t.number for t in study.best_trials}


def test_resume_finishes_what_is_missing(tmp_path: Path) -> None:
    args = ["--space", "mobile", "--budget", "60M", "--dataset", "digits", "--references", "feasible"]
    run_cli(tmp_path, *args, "--trials", "2")
    run_cli(tmp_path, *args, "--trials", "4")
    study = load(tmp_path, "mobile_60M_digits")
    assert len(candidates(study)) == 4
    assert sum(1 for t in study.trials if t.user_attrs.get("reference")) == 1  # not trained twice
    # the resumed run drew other networks than the first run (a sampler seeded once per process would not)
    assert len({t.user_attrs["genome"] for t in candidates(study)}) == 4


def test_a_network_trained_before_is_not_trained_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nas.train

    args = ["--space", "mobile", "--budget", "2G", "--dataset", "digits", "--references", "none"]
    assert run_cli(tmp_path, *args, "--trials", "2") == 0
    study = load(tmp_path, "mobile_2G_digits")
    first = study.trials[0]
    study.enqueue_trial(first.params)  # the sampler proposes trial 0's network again
    real_train, calls = nas.train.train, []
    monkeypatch.setattr(nas.train, "train", lambda *a, **k: calls.append(1) or real_train(*a, **k))
    assert run_cli(tmp_path, *args, "--trials", "3") == 0
    study = load(tmp_path, "mobile_2G_digits")
    repeat = study.trials[2]
    assert repeat.user_attrs["repeat_of"] == 0 and repeat.values == first.values
    assert repeat.user_attrs["genome"] == first.user_attrs["genome"] and "train_seconds" not in repeat.user_attrs
    assert "repeat of trial 0" in repeat.user_attrs["status"]
    # the repeat is not counted: a third distinct network was trained to reach --trials 3, and only it
    assert len(calls) == 1 and len(study.trials) == 4
    assert search.trial_outcomes(study.trials) == {0: "trained", 1: "trained", 2: "repeat", 3: "trained"}
    row = open_study(tmp_path / "studies" / "mobile_2G_digits").trials().loc[2]
    assert row.repeat_of == 0 and not row.pareto and row.accuracy == first.values[0]


def test_resuming_under_another_protocol_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--space", "mobile", "--budget", "60M", "--dataset", "digits", "--references", "none", "--trials", "1"]
    assert run_cli(tmp_path, *args) == 0
    assert run_cli(tmp_path, *args, "--epochs", "2") == 2
    err = capsys.readouterr().err
    assert "was trained under another protocol (epochs=1 -> 2)" in err and "--study-name" in err
    assert run_cli(tmp_path, *args, "--seed", "5") == 2  # another seed: another validation split
    assert "seed=0 -> 5" in capsys.readouterr().err


def test_a_study_trained_at_the_former_learning_rate_resumes_with_lr(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--space", "mobile", "--budget", "60M", "--dataset", "digits", "--references", "none"]
    assert run_cli(tmp_path, *args, "--trials", "1", "--lr", "0.02") == 0  # as begun before lr 0.04 was the default
    assert run_cli(tmp_path, *args, "--trials", "2") == 2
    err = capsys.readouterr().err
    assert "lr=0.02 -> 0.04" in err and "--lr" in err
    assert run_cli(tmp_path, *args, "--trials", "2", "--lr", "0.02") == 0
    study = load(tmp_path, "mobile_60M_digits")
    assert study.user_attrs["protocol"]["lr"] == 0.02 and len(study.trials) >= 2
    assert all(t.user_attrs["protocol"]["lr"] == 0.02 for t in study.trials if "protocol" in t.user_attrs)


def test_timeout_0_means_no_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--space", "mobile", "--budget", "60M", "--dataset", "digits", "--references", "none", "--trials", "2"]
    assert run_cli(tmp_path, *args, "--timeout", "0") == 0
    assert len(candidates(load(tmp_path, "mobile_60M_digits"))) == 2
    assert run_cli(tmp_path, *args, "--timeout", "-1") == 2
    assert "--timeout -1.0 must be 0 (no limit) or a positive number of seconds" in capsys.readouterr().err


def test_a_timeout_spent_on_the_references_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--space", "mobile", "--budget", "2G", "--dataset", "digits", "--references", "feasible", "--trials", "2",
            "--study-name", "timed"]
    # one second: the references train in full all the same, and no candidate starts after them
    assert run_cli(tmp_path, *args, "--timeout", "1") == 0
    assert "spent on the references before any candidate ran" in capsys.readouterr().err
    outcomes = search.trial_outcomes(load(tmp_path, "timed").trials)
    assert list(outcomes.values()) == ["trained"] * 5  # the 5 references
    assert run_cli(tmp_path, *args) == 0  # the rerun goes on with the candidates
    assert list(search.trial_outcomes(load(tmp_path, "timed").trials).values()) == ["trained"] * 7


def test_objectives_in_another_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(tmp_path, "--space", "mobile", "--budget", "2G", "--dataset", "digits", "--references", "none",
                   "--trials", "2", "--objectives", "params,accuracy") == 0
    out = capsys.readouterr().out
    study = load(tmp_path, "mobile_2G_digits")
    front = [line.split() for line in out.split("  params\n")[1].split("\nreferences")[0].splitlines()]
    assert front and all(0 <= float(row[2]) <= 1 for row in front)  # "val acc" is the accuracy, not the params
    assert float(out.split("hypervolume: ")[1].split()[0]) > 0
    assert "references: none trained (--references none)" in out
    assert {t.number for t in study.best_trials} >= {int(row[0]) for row in front}


def test_every_candidate_failing_says_so_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import nas.train

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("a kernel that does not exist on this machine")

    monkeypatch.setattr(nas.train, "train", broken)
    assert run_cli(tmp_path, "--space", "mobile", "--budget", "2G", "--dataset", "digits", "--references", "none",
                   "--trials", "2") == 1
    out = capsys.readouterr().out
    assert "2 candidates priced: 0 trained, 0 over the budget (not trained), 2 failed" in out
    assert "no network was trained: every candidate failed (2); for example trial 0: RuntimeError: a kernel" in out


def test_absurd_resolution_is_refused_up_front(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(tmp_path, "--space", "mobile", "--budget", "300M", "--dataset", "digits",
                   "--resolution", "100000") == 2
    assert "--resolution 100000 is larger than 1024" in capsys.readouterr().err
    assert not (tmp_path / "studies").exists()


def test_budget_spelling_does_not_change_the_study(tmp_path: Path) -> None:
    args = ["--space", "mobile", "--dataset", "digits", "--references", "none", "--trials", "1"]
    assert run_cli(tmp_path, *args, "--budget", "300m") == 0
    assert run_cli(tmp_path, *args, "--budget", "0.3G", "--trials", "2") == 0
    assert [p.name for p in (tmp_path / "studies").iterdir()] == ["mobile_300M_digits"]
    assert len(candidates(load(tmp_path, "mobile_300M_digits"))) == 2
    assert [search.budget_text(v) for v in (300_000_000, 1_500_000_000, 250_000, 5_000_000_000, 1234)] == [
        "300M", "1.5G", "250K", "5G", "1.234K"]


def test_unwritable_studies_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with unwritable(tmp_path / "studies"):
        assert run_cli(tmp_path, "--space", "mobile", "--budget", "300M", "--dataset", "digits") == 2
    err = capsys.readouterr().err
    assert f"cannot create the folder {tmp_path / 'studies' / 'mobile_300M_digits'}" in err
    assert "--studies-dir" in err and "Traceback" not in err


def test_with_storage_the_summary_names_commands_that_work(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from nas.report import main as report

    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    assert main([*TINY, "--space", "mobile", "--budget", "60M", "--dataset", "digits", "--references", "feasible",
                 "--trials", "1", "--storage", url, "--study-name", "mine"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if "python -m nas.report" in line)
    command = shlex.split(line.split("python -m nas.report", 1)[1].split("(")[0])
    assert command == ["--storage", url, "--study-name", "mine"]
    assert report([*command, "--no-png"]) == 0  # finds the study and its weights
    assert (tmp_path / "studies" / "mine" / "report.html").exists()


def test_interrupted_search_resumes_where_it_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nas.train

    real_train = nas.train.train
    calls = {"n": 0}

    def interrupting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_train(*args, **kwargs)

    monkeypatch.setattr(nas.train, "train", interrupting)
    # a budget every candidate fits, so that each one trains
    args = ["--space", "mobile", "--budget", "2G", "--dataset", "digits", "--references", "none", "--trials", "3"]
    assert run_cli(tmp_path, *args) == 130
    study = load(tmp_path, "mobile_2G_digits")
    stopped = [t for t in study.trials if t.user_attrs.get("interrupted")]
    assert len(stopped) == 1 and stopped[0].state == optuna.trial.TrialState.FAIL
    monkeypatch.setattr(nas.train, "train", real_train)
    assert run_cli(tmp_path, *args) == 0
    study = load(tmp_path, "mobile_2G_digits")
    retry = [t for t in study.trials if t.user_attrs.get("retry_of") == stopped[0].number]
    assert len(retry) == 1 and retry[0].params == stopped[0].params  # the same candidate, run again
    assert sum(1 for t in candidates(study) if not t.user_attrs.get("interrupted")) == 3


def test_a_failing_candidate_is_a_failed_trial_and_the_search_goes_on(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import nas.train

    real_train = nas.train.train
    calls = {"n": 0}

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise nas.train.TrainingDiverged("loss is nan at epoch 1, step 3")
        if calls["n"] == 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if calls["n"] == 3:
            raise ZeroDivisionError("a bug in a block")
        return real_train(*args, **kwargs)

    monkeypatch.setattr(nas.train, "train", flaky)
    code = run_cli(tmp_path, "--space", "mobile", "--budget", "2G", "--dataset", "digits", "--references", "none",
                   "--trials", "5")
    assert code == 0
    study = load(tmp_path, "mobile_2G_digits")
    reasons = [t.user_attrs.get("fail_reason", "") for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert any("diverged" in r for r in reasons)
    assert any("out of memory" in r for r in reasons)
    assert any("ZeroDivisionError: a bug in a block" in r for r in reasons)
    assert len(study.trials) == 5


def test_same_seed_same_architectures(tmp_path: Path) -> None:
    # a budget most networks meet: 12 candidates are 12 trainings, the last two sampled by TPE (at 30M MACs,
    # hundreds of over-budget candidates priced and sampled first took minutes)
    args = ["--space", "mobile", "--budget", "1G", "--dataset", "digits", "--references", "none", "--trials", "12",
            "--seed", "7"]
    run_cli(tmp_path / "a", *args)
    run_cli(tmp_path / "b", *args)
    first = [t.user_attrs["genome"] for t in load(tmp_path / "a", "mobile_1G_digits").trials]
    second = [t.user_attrs["genome"] for t in load(tmp_path / "b", "mobile_1G_digits").trials]
    assert first == second and len(set(first)) > 1


@pytest.mark.skipif(not CIFAR.exists(), reason="../shared/data/cifar10.npz is not beside the repository")
def test_end_to_end_on_a_slice_of_cifar10(tmp_path: Path) -> None:
    code = run_cli(tmp_path, "--space", "shuffle", "--budget", "50M", "--dataset", f"npz:{CIFAR}", "--trials", "2",
                   "--references", "feasible", "--study-name", "cifar_slice")
    assert code == 0
    study = load(tmp_path, "cifar_slice")
    assert study.user_attrs["dataset"].startswith("npz:")
    assert [t.user_attrs["reference"] for t in study.trials if t.user_attrs.get("reference")] == ["shufflenet_v2_x0_5"]
    assert all(t.user_attrs["dataset"] == study.user_attrs["dataset"] for t in study.trials)


def test_budget_below_the_smallest_network_stops_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(tmp_path, "--space", "mobile", "--budget", "1M", "--dataset", "digits") == 2
    err = capsys.readouterr().err
    assert "below the cheapest network of the 'mobile' space" in err and "Raise the budget to at least" in err
    assert not (tmp_path / "studies").exists() or not any((tmp_path / "studies").iterdir())


@pytest.mark.parametrize("args, fragment", [
    (["--space", "mobilenet", "--budget", "300M"], "unknown space 'mobilenet'; known spaces:"),
    (["--space", "mobile", "--budget", "300X"], "budget '300X' is not a number with an optional K, M or G suffix"),
    (["--space", "mobile", "--budget", "300M", "--dataset", "imagenet"], "imagenet"),
    (["--space", "mobile", "--budget", "300M", "--dataset", "npz:/nonexistent/data.npz"], "/nonexistent/data.npz"),
    (["--space", "mobile", "--budget", "300M", "--objectives", "accuracy,speed"], "speed unknown"),
    (["--space", "mobile", "--budget", "300M", "--objectives", "macs,params"], "accuracy must be one of them"),
])
def test_bad_options_stop_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                          fragment: str) -> None:
    assert run_cli(tmp_path, *args) == 2
    assert fragment in capsys.readouterr().err
    assert not (tmp_path / "studies").exists() or not any((tmp_path / "studies").iterdir())


def test_wrong_image_shape_in_an_npz_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.zeros((10, 3, 32, 32, 2), np.uint8), y_train=np.zeros(10, np.int64),
             x_test=np.zeros((4, 32, 32, 3), np.uint8), y_test=np.zeros(4, np.int64))
    assert run_cli(tmp_path, "--space", "mobile", "--budget", "300M", "--dataset", f"npz:{path}") == 2
    assert str(path) in capsys.readouterr().err


def test_budget_parsing() -> None:
    assert parse_budget("300M") == 300_000_000
    assert parse_budget("1.5G") == 1_500_000_000
    assert parse_budget("250k") == 250_000
    assert parse_budget("1234") == 1234
    for bad in ("300X", "", "M", "-5M", "0"):
        with pytest.raises(SearchError):
            parse_budget(bad)
    with pytest.raises(SearchError, match="budget '-5' must be positive"):
        parse_budget("-5")


def test_over_budget_candidates_are_recorded_but_not_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import nas.train

    real_train, calls = nas.train.train, []
    monkeypatch.setattr(nas.train, "train", lambda *a, **k: calls.append(1) or real_train(*a, **k))
    # at 120M MACs about 1 random network of mobile in 15 fits: --trials 3 must still train 3
    assert run_cli(tmp_path, "--space", "mobile", "--budget", "120M", "--dataset", "digits", "--references", "none",
                   "--sampler", "random", "--trials", "3") == 0
    study = load(tmp_path, "mobile_120M_digits")
    outcomes = search.trial_outcomes(study.trials)
    over = [t for t in study.trials if outcomes[t.number] == "over budget"]
    assert len(calls) == 3 and sorted(outcomes.values()).count("trained") == 3
    assert over and len(study.trials) == 3 + len(over)
    for t in over:  # recorded for the sampler: an infeasible pruned trial, priced and never trained, with no
        # accuracy for Optuna's plots and optuna-dashboard to draw (they show complete trials)
        assert t.state == optuna.trial.TrialState.PRUNED and t.values is None and t.constraints["budget"] > 0
        assert t.user_attrs["budget"]["value"] > 120_000_000 and "train_seconds" not in t.user_attrs
        assert t.user_attrs["status"] == (f"over budget ({t.user_attrs['budget']['value']:,} > 120,000,000 MACs at "
                                          "224×224): not trained")
    out = capsys.readouterr().out
    assert f"{3 + len(over)} candidates priced: 3 trained, {len(over)} over the budget (not trained)" in out
    # a rerun with the same --trials has nothing to add
    assert run_cli(tmp_path, "--space", "mobile", "--budget", "120M", "--dataset", "digits", "--references", "none",
                   "--sampler", "random", "--trials", "3") == 0
    assert len(load(tmp_path, "mobile_120M_digits").trials) == 3 + len(over) and len(calls) == 3


def test_a_space_where_almost_nothing_fits_stops_with_the_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "MAX_OVER_BUDGET_IN_A_ROW", 12)
    space = nas.get_space("mobile")
    smallest, _ = search.smallest_cost(space, "macs", in_channels=1, num_classes=10)  # digits: 1 channel, 10 classes
    # a budget that only the space's very cheapest network meets: random sampling does not find it
    assert run_cli(tmp_path, "--space", "mobile", "--budget", str(smallest), "--dataset", "digits",
                   "--references", "none", "--sampler", "random", "--trials", "3") == 0
    err = capsys.readouterr().err
    (folder,) = (tmp_path / "studies").iterdir()
    study = load(tmp_path, folder.name)
    assert len(study.trials) == 12 and set(search.trial_outcomes(study.trials).values()) == {"over budget"}
    cheapest = min(study.trials, key=lambda t: t.user_attrs["budget"]["value"])
    assert "the last 12 candidates sampled were all over the budget" in err
    assert (f"12 candidates priced in all, 0 trained; the cheapest seen costs "
            f"{cheapest.user_attrs['budget']['value']:,} macs (trial {cheapest.number}), the cheapest network of "
            f"the space {smallest:,}") in err
    assert "raise --budget" in err


def test_progress_in_a_log_file_is_a_line_per_network(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Not a terminal (a log file, CI): no bar, the references announced first, then one line per finished
    network with the counts so far."""
    args = [a for a in TINY if a != "--no-progress"]
    assert main(["--studies-dir", str(tmp_path / "studies"), *args, "--space", "mobile", "--budget", "60M",
                 "--dataset", "digits", "--trials", "2", "--references", "feasible"]) == 0
    err = capsys.readouterr().err
    study = load(tmp_path, "mobile_60M_digits")
    outcomes = search.trial_outcomes(study.trials)
    assert "\r" not in err and "it/s" not in err
    lines = err.splitlines()
    first = lines.index("training 1 reference of 'mobile' first (under the same protocol as the candidates), then "
                        "the candidates (2 to train; costs are MACs at 224×224, training at 32×32)")
    ref = study.trials[0]
    assert lines[first + 1].startswith(f"reference mobilenet_v3_small (trial 0) trained: val accuracy "
                                       f"{ref.values[0]:.4f}, {format_count(ref.user_attrs['cost']['macs'])} "
                                       "MACs at 224×224")
    assert lines[first + 1].endswith("· references 1/1 done")
    trained = [t.number for t in study.trials if outcomes[t.number] == "trained" and not t.user_attrs.get("reference")]
    over = sum(1 for o in outcomes.values() if o == "over budget")
    finished = [line for line in lines if re.match(r"trial \d+ trained: val accuracy", line)]
    assert [int(line.split()[1]) for line in finished] == trained  # a line per trained candidate, in order
    assert finished[-1].endswith(f"candidates 2/2 (2 trained, {over} over budget) · done")
    assert "ETA" in finished[0]


def test_progress_in_a_terminal_redraws_one_status_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a terminal the status line is rewritten in place, fits the width and is cut at a word; the
    finished networks' lines are printed above it."""
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert run_cli(tmp_path, "--space", "mobile", "--budget", "60M", "--dataset", "digits", "--trials", "2",
                   "--references", "feasible") == 0
    trials = load(tmp_path, "mobile_60M_digits").trials
    space = nas.get_space("mobile")
    s = SimpleNamespace(config=search.SearchConfig(space="mobile", budget=60_000_000, trials=5), space=space,
                        objectives=("accuracy", "macs"))
    terminal = Terminal()
    progress = search._Progress(s, trials[:1], enabled=True, stream=terminal)  # the reference finished before
    progress.update(trials)
    status_after_update = terminal.getvalue().rsplit("\r\x1b[K", 1)[1]
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: the status is not cut
    progress.starting(trials[-1])  # a trial starts: the status says so, with the last counts
    monkeypatch.delenv("COLUMNS")
    assert terminal.getvalue().rsplit("\r\x1b[K", 1)[1].startswith(f"{status_after_update} · training trial "
                                                                    f"{trials[-1].number} (since ")
    progress.update(trials)
    progress.close()
    text = terminal.getvalue()
    assert "reference mobilenet_v3_small" not in text  # finished before this run: no line
    assert text.count("trained: val accuracy") == len(trials) - 1 - sum(
        1 for o in search.trial_outcomes(trials).values() if o == "over budget")
    status = text.rsplit("\r\x1b[K", 1)[1].rstrip("\n")
    assert status.startswith("candidates 2/5 (2 trained, ") and "ETA" in status
    assert len(status) < shutil.get_terminal_size((100, 20)).columns


def test_near_chance_warning() -> None:
    assert search.near_chance([0.12, 0.18], 10).startswith("the best validation accuracy, 0.1800, is near chance "
                                                           "level (0.10 for 10 classes")
    assert search.near_chance([0.12, 0.25], 10) is None
    assert search.near_chance([0.015], 100) is not None and search.near_chance([0.05], 100) is None
    assert search.near_chance([0.54], 2) is not None and search.near_chance([0.6], 2) is None
    assert search.near_chance([float("nan")], 10) is None
