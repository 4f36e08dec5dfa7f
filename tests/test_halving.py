"""Multi-objective successive halving (``--fidelity asha``): the rungs, the judgement at a rung against
a brute-force oracle, the search on a fake trainer (deterministic accuracies, real genomes and costs),
stopped candidates kept off the front, resume in the middle of a rung, and the ``--images`` budget."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

import nas.train
from nas.halving import Halving, judge
from nas.pareto import nondominated_order
from nas.search import main, trial_outcomes
from nas.study import open_study

ARGS = ["--space", "mobile", "--budget", "2G", "--dataset", "digits", "--references", "none", "--sampler", "random",
        "--train-size", "150", "--val-size", "60", "--batch-size", "32", "--no-progress", "--fidelity", "asha"]


def run_cli(tmp_path: Path, *args: str) -> int:
    return main(["--studies-dir", str(tmp_path / "studies"), *ARGS, *args])


def load(tmp_path: Path) -> optuna.Study:
    return optuna.load_study(study_name="mobile_2G_digits",
                             storage=f"sqlite:///{tmp_path / 'studies' / 'mobile_2G_digits' / 'study.db'}")


def accuracy(number: int, epoch: int) -> float:
    """The fake trainer's validation accuracy of trial ``number`` after ``epoch``: scattered, rising."""
    return round(((number * 37) % 11) / 20 + 0.03 * epoch, 4)


@pytest.fixture
def fake_trainer(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Replace the trainer by one that reports :func:`accuracy` (the search seeds each trial's protocol
    with --seed + its number, --seed 0 here) after each epoch; returns the (trial, epoch) it reported."""
    calls: list[tuple[int, int]] = []

    def fake(model, train_x, train_y, val_x, val_y, config, *, mean, std, on_epoch=None, **kwargs):  # type: ignore[no-untyped-def]
        curve = []
        for epoch in range(1, config.epochs + 1):
            curve.append(accuracy(config.seed, epoch))
            calls.append((config.seed, epoch))
            if on_epoch is not None:
                on_epoch(epoch, curve[-1])
        return nas.train.TrainResult(val_accuracy=curve, train_loss=[1.0] * config.epochs, seconds=0.01,
                                     images_per_second=1.0, epochs=config.epochs, device="cpu")

    monkeypatch.setattr(nas.train, "train", fake)
    return calls


def test_rungs() -> None:
    assert Halving.of(3).rungs == (1, 3)
    assert Halving.of(9).rungs == (1, 3, 9)
    assert Halving.of(10, eta=3).rungs == (1, 3, 9, 10)
    assert Halving.of(8, eta=2, min_epochs=2).rungs == (2, 4, 8)
    assert str(Halving.of(9)) == "asha eta=3 rungs=1,3,9"
    assert Halving.of(9).judged(3) and not Halving.of(9).judged(9) and not Halving.of(9).judged(2)
    with pytest.raises(ValueError, match="--min-epochs 3 must be at least 1 and below --epochs 3"):
        Halving.of(3, min_epochs=3)
    with pytest.raises(ValueError, match="--eta 1: the reduction factor must be at least 2"):
        Halving.of(3, eta=1)


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and a != b


def _area(points: list[tuple[float, float]], ref: tuple[float, float]) -> float:
    """Area dominated by ``points`` up to ``ref``, by inclusion on a grid of their coordinates."""
    xs = sorted({p[0] for p in points} | {ref[0]})
    ys = sorted({p[1] for p in points} | {ref[1]})
    area = 0.0
    for x0, x1 in zip(xs, xs[1:]):
        for y0, y1 in zip(ys, ys[1:]):
            if any(p[0] <= x0 and p[1] <= y0 for p in points):
                area += (x1 - x0) * (y1 - y0)
    return area


def oracle(results: dict[int, tuple[float, float]], eta: int) -> set[int]:
    """The best max(1, n // eta) of a rung, by brute force: whole fronts while they fit, then from the
    front that does not fit, one at a time, the point adding most dominated area (earliest on a tie)."""
    kept = max(1, len(results) // eta)
    left, chosen = dict(results), []
    highs = [max(p[d] for p in results.values()) for d in range(2)]
    lows = [min(p[d] for p in results.values()) for d in range(2)]
    ref = tuple(h + (0.1 * (h - low) if h > low else 1.0) for h, low in zip(highs, lows))
    while len(chosen) < kept:
        front = sorted(n for n in left if not any(_dominates(left[m], left[n]) for m in left))
        if len(chosen) + len(front) <= kept:
            chosen += front
            for n in front:
                del left[n]
            continue
        picked: list[int] = []
        while len(chosen) < kept:
            best = max(front, key=lambda n: (_area([left[m] for m in picked] + [left[n]], ref), -n))
            picked.append(best)
            front.remove(best)
            chosen.append(best)
    return set(chosen)


def test_judge_keeps_the_non_dominated_best_third_by_hand() -> None:
    # (accuracy negated, MMACs) of nine results at a rung: the front is 1, 4, 7 (7 the cheapest, 1 the most
    # accurate); 2 is dominated by 4 only; the rest lie further back
    results = {0: (-0.30, 90), 1: (-0.60, 120), 2: (-0.40, 100), 3: (-0.20, 80), 4: (-0.50, 95), 5: (-0.10, 150),
               6: (-0.35, 140), 7: (-0.25, 40), 8: (-0.45, 130)}
    promoted = {n for n in results if judge(results, n, eta=3, epochs=1).promoted}
    assert promoted == {1, 4, 7} == oracle(results, 3)
    # with η=9 one goes on: of the front's three, the one adding most hypervolume
    promoted = {n for n in results if judge(results, n, eta=9, epochs=1).promoted}
    assert promoted == oracle(results, 9) and len(promoted) == 1
    d = judge(results, 5, eta=3, epochs=1)
    assert (d.position, d.of, d.kept, d.promoted) == (8, 9, 3, False)  # 5 is dominated by every other but 3
    assert str(d) == "rung 1: 9th of 9, the best 3 go on"
    # order: rank first; within a rank, hypervolume contribution; a result alone goes on
    assert nondominated_order([(0.0, 1.0), (1.0, 0.0), (2.0, 2.0)])[-1] == 2
    assert judge({4: (0.0, 0.0)}, 4, eta=3, epochs=1).promoted


def test_search_stops_exactly_the_candidates_outside_the_best_third(tmp_path: Path, fake_trainer: list,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(tmp_path, "--epochs", "3", "--trials", "12") == 0
    study = load(tmp_path)
    trials = study.trials
    outcomes = trial_outcomes(trials)
    assert study.user_attrs["fidelity"] == "asha eta=3 rungs=1,3"
    seen: dict[int, tuple[float, float]] = {}
    for t in trials:  # one worker: each candidate is judged against those before it, in order
        acc1 = accuracy(t.number, 1)
        assert t.user_attrs["rungs"]["1"] == [acc1, t.user_attrs["cost"]["macs"]]
        seen[t.number] = (-acc1, float(t.user_attrs["cost"]["macs"]))
        expected = t.number in oracle(seen, 3)
        (decision,) = t.user_attrs["halving"]
        assert (decision["of"], decision["kept"]) == (len(seen), max(1, len(seen) // 3))
        assert (decision["position"] < decision["kept"]) == expected, (t.number, seen)
        if expected:  # trained to the end; its final accuracy is the last epoch's
            assert outcomes[t.number] == "trained" and t.values[0] == accuracy(t.number, 3)
            assert t.user_attrs["rungs"]["3"][0] == accuracy(t.number, 3)
            assert [e for n, e in fake_trainer if n == t.number] == [1, 2, 3]
        else:  # stopped at the rung: a pruned trial, its first epoch only
            assert outcomes[t.number] == "stopped" and t.state == optuna.trial.TrialState.PRUNED
            assert t.values is None and t.user_attrs["val_curve"] == [acc1]
            assert t.user_attrs["status"].startswith("stopped after 1 of 3 epochs by successive halving (rung 1: ")
            assert [e for n, e in fake_trainer if n == t.number] == [1]
    stopped = {n for n, o in outcomes.items() if o == "stopped"}
    trained = {n for n, o in outcomes.items() if o == "trained"}
    assert stopped and trained and len(trials) == 12  # stopped candidates count toward --trials
    # a stopped candidate is never on a front: not Optuna's, not the search's, not the study table's
    assert not stopped & {t.number for t in study.best_trials}
    frame = open_study(tmp_path / "studies" / "mobile_2G_digits").trials()
    assert set(frame.number[frame.pareto]) <= trained
    assert frame.accuracy[list(stopped)].isna().all() and (frame.epochs[list(stopped)] == 1).all()
    assert (frame.epochs[list(trained)] == 3).all()
    out = capsys.readouterr().out
    images = 150 * (3 * len(trained) + len(stopped))
    assert (f"12 candidates priced: {len(trained)} trained, {len(stopped)} stopped early by successive halving, "
            f"0 over the budget (not trained); {images:,} images trained by the candidates") in out
    pareto_rows = out.split("Pareto set")[1].split("references")[0]
    assert not any(f"\n  {n:>5} " in pareto_rows for n in stopped)
    # exporting a stopped candidate gives its architecture, saying why no weights come with it
    from nas.export import main as export

    first = min(stopped)
    assert export([str(tmp_path / "studies" / "mobile_2G_digits"), "--trial", str(first),
                   "--out", str(tmp_path / "stopped.py")]) == 0
    assert "no trained weights (stopped after 1 of 3 epochs by successive halving" in capsys.readouterr().out


def test_resume_in_the_middle_of_a_rung(tmp_path: Path, fake_trainer: list, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while a promoted candidate trains past its rung: it is failed and run again from the start
    (a half-trained candidate is restarted, not continued), and its rung result no longer counts."""
    assert run_cli(tmp_path, "--epochs", "3", "--trials", "4") == 0
    real_fake = nas.train.train

    def interrupting(*args, on_epoch=None, **kwargs):  # type: ignore[no-untyped-def]
        def stop_after_the_rung(epoch: int, acc: float) -> None:
            on_epoch(epoch, acc)  # judged at the rung (and promoted: it goes on to epoch 2)
            if epoch == 2:
                raise KeyboardInterrupt
        return real_fake(*args, on_epoch=stop_after_the_rung, **kwargs)

    monkeypatch.setattr(nas.train, "train", interrupting)
    assert run_cli(tmp_path, "--epochs", "3", "--trials", "8") == 130
    study = load(tmp_path)
    (cut,) = [t for t in study.trials if t.user_attrs.get("interrupted")]
    decision = cut.user_attrs["halving"][0]
    assert cut.state == optuna.trial.TrialState.FAIL and decision["position"] < decision["kept"]
    assert cut.user_attrs["rungs"]["1"][0] == accuracy(cut.number, 1)
    monkeypatch.setattr(nas.train, "train", real_fake)
    fake_trainer.clear()
    assert run_cli(tmp_path, "--epochs", "3", "--trials", "8") == 0
    study = load(tmp_path)
    trials = study.trials
    (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == cut.number]
    assert retry.params == cut.params and retry.user_attrs["val_curve"][0] == accuracy(retry.number, 1)
    assert [e for n, e in fake_trainer if n == retry.number][:1] == [1]  # from the first epoch again
    # every judgement after the cut counts the results at the rung of the trials before it, but not the
    # cut trial's (failed: its retry brings its own)
    for t in trials:
        if t.number > cut.number and "halving" in t.user_attrs:
            before = [u for u in trials if u.number <= t.number and u.number != cut.number
                      and "1" in u.user_attrs.get("rungs", {})]
            assert t.user_attrs["halving"][0]["of"] == len(before), t.number
    outcomes = trial_outcomes(trials)
    assert sum(1 for o in outcomes.values() if o in ("trained", "stopped")) == 8
    assert outcomes[cut.number] == "retried"


def test_images_bound_the_compute(tmp_path: Path, fake_trainer: list) -> None:
    # 150 images an epoch, 3 epochs a full candidate: 1,500 images are 10 epochs' worth
    assert run_cli(tmp_path, "--epochs", "3", "--trials", "100", "--images", "1500") == 0
    trials = load(tmp_path).trials
    spent = sum(t.user_attrs["images_trained"] for t in trials)
    assert spent == 150 * len(fake_trainer)
    # no candidate starts once 1,500 are spent; the last one started below it
    assert 1500 <= spent < 1500 + 3 * 150 and spent - 150 * len(trials[-1].user_attrs["val_curve"]) < 1500


@pytest.mark.parametrize("args, fragment", [
    (["--epochs", "1"], "--min-epochs 1 must be at least 1 and below --epochs 1"),
    (["--epochs", "3", "--eta", "1"], "--eta 1: the reduction factor must be at least 2"),
    (["--images", "lots"], "--images 'lots' is not a number with an optional K, M or G suffix"),
])
def test_bad_fidelity_options_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                          fragment: str) -> None:
    assert run_cli(tmp_path, *args) == 2
    assert fragment in capsys.readouterr().err


def test_successive_halving_is_the_default_where_the_protocol_has_a_rung(tmp_path: Path, fake_trainer: list) -> None:
    default = [a for a in ARGS if a not in ("--fidelity", "asha")]
    assert main(["--studies-dir", str(tmp_path / "three"), *default, "--epochs", "3", "--trials", "6"]) == 0
    study = optuna.load_study(study_name="mobile_2G_digits",
                              storage=f"sqlite:///{tmp_path / 'three' / 'mobile_2G_digits' / 'study.db'}")
    assert study.user_attrs["fidelity"] == "asha eta=3 rungs=1,3"
    assert "stopped" in trial_outcomes(study.trials).values()
    # one epoch leaves nothing to halve: every candidate trains to the end
    assert main(["--studies-dir", str(tmp_path / "one"), *default, "--epochs", "1", "--trials", "3"]) == 0
    study = optuna.load_study(study_name="mobile_2G_digits",
                              storage=f"sqlite:///{tmp_path / 'one' / 'mobile_2G_digits' / 'study.db'}")
    assert study.user_attrs["fidelity"] == "none" and set(trial_outcomes(study.trials).values()) == {"trained"}


def test_a_resumed_study_keeps_its_fidelity(tmp_path: Path, fake_trainer: list, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    default = [a for a in ARGS if a not in ("--fidelity", "asha")]
    studies = ["--studies-dir", str(tmp_path / "studies")]
    assert main([*studies, *default, "--epochs", "3", "--trials", "3", "--fidelity", "none"]) == 0
    # resumed without --fidelity (as by a user who began it before asha was the default): it goes on without halving
    assert main([*studies, *default, "--epochs", "3", "--trials", "8"]) == 0
    study = load(tmp_path)
    assert study.user_attrs["fidelity"] == "none"
    outcomes = trial_outcomes(study.trials)
    assert [o for o in outcomes.values() if o != "over budget"] == ["trained"] * 8
    assert all(len(t.user_attrs["val_curve"]) == 3 for t in study.trials if outcomes[t.number] == "trained")
    # asking for halving on it explicitly is refused, with the way out
    assert main([*studies, *default, "--epochs", "3", "--trials", "9", "--fidelity", "asha"]) == 2
    err = capsys.readouterr().err
    assert "was started with fidelity='none', not 'asha eta=3 rungs=1,3'" in err and "--study-name" in err
