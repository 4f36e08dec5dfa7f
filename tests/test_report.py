"""``nas.study`` and ``python -m nas.report``: the computed tables against the study itself, the files
written, the page in a real (headless) Chromium, and bad inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import optuna
import pandas as pd
import pytest

import nas
from nas import plots
from nas.report import figures, main, report_data, write_report
from nas.pareto import hypervolume
from nas.search import main as search
from nas.study import StudyError, genome_choices, open_study
from tests.conftest import CHROMIUM_ARGS, browser, chromium_or_skip, unwritable

TINY = ["--epochs", "1", "--train-size", "150", "--val-size", "60", "--batch-size", "32", "--no-progress",
        "--dataset", "digits", "--space", "mobile"]


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-objective study whose references are partly over budget, and a three-objective one."""
    root = tmp_path_factory.mktemp("studies")
    assert search(["--studies-dir", str(root), *TINY, "--budget", "100M", "--trials", "6"]) == 0
    assert search(["--studies-dir", str(root), *TINY, "--budget", "2M", "--budget-metric", "params", "--trials", "3",
                   "--objectives", "accuracy,macs,params", "--references", "none", "--study-name", "three"]) == 0
    return root


def optuna_study(root: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{root / name / 'study.db'}")


def dominates(a: optuna.trial.FrozenTrial, b: optuna.trial.FrozenTrial) -> bool:
    acc_a, cost_a, acc_b, cost_b = a.values[0], a.values[1], b.values[0], b.values[1]
    return acc_a >= acc_b and cost_a <= cost_b and (acc_a > acc_b or cost_a < cost_b)


def test_trials_table_matches_the_study(studies: Path) -> None:
    study = open_study(studies / "mobile_100M_digits")
    raw = optuna_study(studies, "mobile_100M_digits").trials
    frame = study.trials()
    assert list(frame.number) == [t.number for t in raw]
    for t, row in zip(raw, frame.itertuples()):
        assert row.state == t.state.name
        assert row.reference == (t.user_attrs.get("reference") or "")
        assert row.genome == t.user_attrs.get("genome", "")
        trained = t.user_attrs.get("status", "").startswith("trained")
        assert row.trained == trained
        if trained:
            assert row.accuracy == t.values[0]
            assert row.macs == t.user_attrs["cost"]["macs"] == t.values[1]
        assert row.feasible == (t.user_attrs["budget"]["value"] <= 100_000_000)
    # the references are trained first, the over-budget ones too
    refs = frame[frame.reference != ""]
    assert set(refs.reference) == set(nas.get_space("mobile").references)
    assert refs.trained.all() and not refs.feasible.all()


def test_pareto_set_is_the_non_dominated_trained_feasible_trials(studies: Path) -> None:
    study = open_study(studies / "mobile_100M_digits")
    raw = [t for t in optuna_study(studies, "mobile_100M_digits").trials
           if t.user_attrs.get("status", "").startswith("trained") and t.user_attrs["budget"]["value"] <= 100_000_000]
    expected = sorted(t.number for t in raw if not any(dominates(o, t) for o in raw if o is not t))
    pareto = study.pareto()
    assert sorted(pareto.number) == expected and expected
    assert list(pareto.macs) == sorted(pareto.macs), "cheapest first"
    # every front member of a finished search got a test accuracy and kept its weights
    assert pareto.test_accuracy.between(0, 1).all()
    assert all(Path(w).exists() for w in pareto.weights)


def test_references_say_which_searched_network_dominates_them(studies: Path) -> None:
    study = open_study(studies / "mobile_100M_digits")
    trials = {t.number: t for t in optuna_study(studies, "mobile_100M_digits").trials}
    refs = study.references()
    assert len(refs) == len(nas.get_space("mobile").references)
    front = set(study.pareto().number)
    for r in refs.itertuples():
        beaters = [n for n in front if not trials[n].user_attrs.get("reference")
                   and dominates(trials[n], trials[r.number])]
        if beaters:
            assert r.dominated_by in beaters
            # the most accurate of them
            assert trials[r.dominated_by].values[0] == max(trials[n].values[0] for n in beaters)
        else:
            assert r.dominated_by == -1
    data = report_data(study)
    assert data.dominated() == {r.reference: r.dominated_by for r in refs.itertuples() if r.dominated_by >= 0}


def test_hypervolume_over_trials(studies: Path) -> None:
    study = open_study(studies / "mobile_100M_digits")
    curve = study.hypervolume()
    frame = study.trials()
    assert list(curve.number) == list(frame[frame.state == "COMPLETE"].number)
    assert curve.hypervolume.is_monotonic_increasing
    front = study.pareto()
    final = hypervolume([[-a, m / 100_000_000] for a, m in zip(front.accuracy, front.macs)], [0.0, 1.0])
    assert curve.hypervolume.iloc[-1] == pytest.approx(final) and final > 0
    # after each trial: the hypervolume of every trained, feasible trial so far (the curve updates it
    # only when the front changes)
    kept = frame[frame.trained & frame.feasible]
    for number, volume in zip(curve.number, curve.hypervolume):
        so_far = kept[kept.number <= number]
        points = [[-a, m / 100_000_000] for a, m in zip(so_far.accuracy, so_far.macs)]
        assert volume == pytest.approx(hypervolume(points, [0.0, 1.0]))


def test_choices_are_shares_of_blocks() -> None:
    genome = nas.Genome.parse("net conv_s2_c16 ir_c16_x16 ir_k5_s2_c24_x96_se4_hardswish ir_k5_c24_x144 "
                              "pool_max_k2 head_c64")
    shares = genome_choices(genome)
    # four blocks count (the pool does not): a conv and three inverted residuals
    assert shares["depth", "blocks"] == 4
    assert shares["block", "conv"] == 0.25 and shares["block", "ir"] == 0.75
    assert shares["kernel", "3"] == 0.5 and shares["kernel", "5"] == 0.5
    assert shares["activation", "hardswish"] == 0.25 and shares["activation", "relu"] == 0.75
    assert shares["se", "yes"] == 0.25
    # expansion: 16/16, 96/16, 144/24 over the three inverted residuals
    assert shares["expansion", "1"] == pytest.approx(1 / 3) and shares["expansion", "6"] == pytest.approx(2 / 3)


def test_choices_table_covers_the_front(studies: Path) -> None:
    study = open_study(studies / "mobile_100M_digits")
    table = study.choices()
    assert set(table.number) == set(study.pareto().number)
    sums = table[table.choice.isin(["kernel", "activation", "block", "se"])].groupby(["number", "choice"]).share.sum()
    assert sums.to_numpy() == pytest.approx(1.0)


def test_figures_draw_the_computed_data(studies: Path) -> None:
    data = report_data(open_study(studies / "mobile_100M_digits"))
    figs = figures(data)
    assert set(figs) == {"pareto_macs", "hypervolume", "choices"}
    trials, front, refs = figs["pareto_macs"].data
    searched = data.trials[data.trials.trained & (data.trials.reference == "")]
    assert len(trials.x) == len(searched)
    assert list(front.x) == sorted(data.pareto.macs)
    assert sorted(refs.text) == sorted(r.reference + ("" if r.feasible else " (over budget)")
                                       for r in data.references.itertuples())
    assert any(s.x0 == 100_000_000 for s in figs["pareto_macs"].layout.shapes), "the budget line"
    # every cost is named with the resolution it was counted at, the accuracy with the one it was measured at
    layout = figs["pareto_macs"].layout
    assert layout.xaxis.title.text == "MACs at 224×224 (log scale)"
    assert layout.yaxis.title.text == "validation accuracy (trained at 32×32)"
    assert [a.text for a in layout.annotations] == ["budget 100M MACs at 224×224"]
    assert "MACs at 224×224 %{customdata[2]}" in front.hovertemplate
    # labels go on the side of the budget line where their point is: none crosses it
    for trace in (front, refs):
        for x, position in zip(trace.x, trace.textposition):
            assert position.endswith("left" if x <= 100_000_000 else "right"), (x, position)
    # one colour per value across the choices chart (kernel 5 and relu6 are not both red)
    bars = figs["choices"].data
    assert len({b.marker.color for b in bars}) == len({b.name for b in bars}) == len(bars)
    three = report_data(open_study(studies / "three"))
    assert set(figures(three)) == {"pareto_macs", "pareto_params", "hypervolume", "choices"}
    assert any(s.x0 == 2_000_000 for s in figures(three)["pareto_params"].layout.shapes)
    with pytest.raises(ValueError, match="'size' is not a column"):
        plots.pareto(data.trials, x="size")


def test_report_files(studies: Path, tmp_path: Path) -> None:
    study = open_study(studies / "mobile_100M_digits")
    written = write_report(study, tmp_path)
    trials = pd.read_csv(tmp_path / "trials.csv")
    pareto = pd.read_csv(tmp_path / "pareto.csv")
    assert list(trials.number) == list(study.trials().number)
    assert list(pareto.number) == list(study.pareto().number)
    frame = study.trials()  # "not dominated" is an empty cell, not -1
    assert trials.dominated_by.isna().tolist() == (frame.dominated_by < 0).tolist()
    assert trials.dominated_by.dropna().tolist() == frame.dominated_by[frame.dominated_by >= 0].tolist()
    page = (tmp_path / "report.html").read_text()
    assert "<script src=" not in page, "self-contained: plotly.js is inlined"
    assert "<th>costs counted at</th><td>224×224 (the space&#x27;s target resolution" in page
    assert "<th>networks trained at</th><td>32×32" in page
    assert "<th>MACs at 224×224</th>" in page and "<th>dominated by</th>" in page
    assert "<td>-1</td>" not in page and ("<td>not dominated</td>" in page or "<td>trial " in page)
    for name in nas.get_space("mobile").references:
        assert name in page
    if browser() is None:
        assert "pareto.png skipped" in str(written["png"]) and "chromium" in str(written["png"])
    else:
        png = (tmp_path / "pareto.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_report_renders_in_headless_chromium(studies: Path, tmp_path: Path) -> None:
    executable = chromium_or_skip()
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    study = open_study(studies / "mobile_100M_digits")
    write_report(study, tmp_path, png=False)
    data = report_data(study)
    problems: list[str] = []
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = chromium.new_page()
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
                else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        page.goto((tmp_path / "report.html").as_uri())
        page.wait_for_selector("#fig-choices .barlayer", timeout=30_000)
        points = page.evaluate("""() => Array.from(document.querySelectorAll(
            '#fig-pareto_macs .scatterlayer .trace')).map(t => t.querySelectorAll('path.point').length)""")
        labels = page.evaluate("""() => Array.from(document.querySelectorAll(
            '#fig-pareto_macs .scatterlayer .trace text')).map(t => t.textContent)""")
        requests = page.evaluate("() => performance.getEntriesByType('resource').map(r => r.name)")
        # hovering a point of the front shows that trial's number and genome
        point = page.locator("#fig-pareto_macs .scatterlayer .trace").nth(1).locator("path.point").first
        point.scroll_into_view_if_needed()
        box = point.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x - 3, y)  # plotly listens on its drag layer, above the points: move the real mouse
        page.mouse.move(x, y)
        page.wait_for_function("() => document.querySelector('#fig-pareto_macs .hoverlayer').textContent.length > 0",
                               timeout=10_000)
        hover = page.text_content("#fig-pareto_macs .hoverlayer")
        chromium.close()
    searched = data.trials[data.trials.trained & (data.trials.reference == "")]
    assert points == [len(searched), len(data.pareto), len(data.references)]
    for r in data.references.itertuples():
        assert r.reference + ("" if r.feasible else " (over budget)") in labels
    assert not [r for r in requests if not r.startswith(("file:", "data:", "blob:"))], "offline page"
    first = data.pareto.iloc[0]
    assert (first.reference or f"trial {first.number}") in hover
    assert first.genome.split(" ")[0] in hover and "val accuracy" in hover
    assert problems == []


def test_cli_writes_into_the_study_folder(studies: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(studies / "mobile_100M_digits"), "--no-png"]) == 0
    out = capsys.readouterr().out
    refs = open_study(studies / "mobile_100M_digits").references()
    frame = open_study(studies / "mobile_100M_digits").trials()
    searched = frame[frame.reference == ""]
    over = int((searched.outcome == "over budget").sum())
    # --trials counts the candidates trained; the over-budget ones were priced on top of them
    assert (f"{len(frame)} trials ({6 + over} candidates priced, 6 of them trained, {over} over the budget, "
            f"0 failed; {len(refs)} references)") in out
    for r in refs.itertuples():
        verdict = f"dominated by trial {r.dominated_by}" if r.dominated_by >= 0 else "not dominated"
        assert f"{r.reference}{'' if r.feasible else ' (over budget)'}: {verdict}" in out
    assert main([str(studies / "three"), "--no-png"]) == 0
    out = capsys.readouterr().out
    for name in ("report.html", "trials.csv", "pareto.csv"):
        assert (studies / "three" / name).exists() and name in out


def test_unwritable_study_folder_is_a_one_line_error_naming_it(studies: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "mobile_100M_digits"  # a copy: the module's studies stay writable
    folder.mkdir()
    shutil.copyfile(studies / folder.name / "study.db", folder / "study.db")
    elsewhere = tmp_path / "unwritable"
    with unwritable(folder), unwritable(elsewhere):
        for args, where in (([], f"cannot write in {folder} ("),
                            (["--out", str(elsewhere)], f"cannot write in {elsewhere} ("),
                            (["--out", str(elsewhere / "new")], f"cannot create the folder {elsewhere / 'new'} (")):
            assert main([str(folder), "--no-png", *args]) == 2
            captured = capsys.readouterr()
            assert captured.err.startswith(f"error: {where}") and captured.err.count("\n") == 1, captured.err
            assert "write the report elsewhere with --out DIR, or make the folder writable" in captured.err
            assert "Traceback" not in captured.err and not captured.out
        assert sorted(p.name for p in folder.iterdir()) == ["study.db"], "nothing written"
        # reading the study needs no write: the report goes where --out says
        assert main([str(folder), "--no-png", "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "report.html").exists()


def test_open_by_storage_and_name(studies: Path) -> None:
    storage = f"sqlite:///{studies / 'three' / 'study.db'}"
    study = open_study(storage=storage, name="three", studies_dir=studies)
    assert study.name == "three" and study.folder == studies / "three"
    assert study.objectives == ["accuracy", "macs", "params"]
    frame = study.trials()
    assert (frame.outcome == "trained").sum() == 3 and len(frame) == len(optuna_study(studies, "three").trials)


@pytest.mark.parametrize("args, message", [
    (["nowhere"], "no study at 'nowhere'"),
    (["--storage", "sqlite:///{root}/three/study.db", "--study-name", "other"], "no study named 'other'"),
    ([], "give a study folder"),
])
def test_bad_study_is_a_clear_error(studies: Path, args: list[str], message: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main([a.format(root=studies) for a in args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_study_without_trained_trials(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    study = optuna.create_study(study_name="empty", storage=f"sqlite:///{tmp_path / 'empty' / 'study.db'}",
                                directions=["maximize", "minimize"])
    assert main([str(tmp_path / "empty")]) == 2
    assert "study 'empty' has no trained trial yet (0 trials)" in capsys.readouterr().err
    study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)
    assert main([str(tmp_path / "empty")]) == 2
    assert "(1 trial: 1 fail)" in capsys.readouterr().err
    assert not (tmp_path / "empty" / "report.html").exists()


def test_folder_without_a_study(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match="without a study.db"):
        open_study(tmp_path)


def test_open_study_finds_studies_in_a_parent_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Jupyter runs notebooks/pareto.ipynb in notebooks/: "studies/<name>" still means the project's study."""
    def make(folder: Path) -> Path:
        folder.mkdir(parents=True)
        optuna.create_study(study_name=folder.name, storage=f"sqlite:///{folder / 'study.db'}",
                            directions=["maximize", "minimize"])
        return folder

    project = make(tmp_path / "studies" / "tiny")
    (tmp_path / "notebooks" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks" / "deeper")
    for given in ("studies/tiny", "tiny", "studies/tiny/study.db"):
        study = open_study(given)
        assert (study.name, study.folder) == ("tiny", project), given
    nearer = make(tmp_path / "notebooks" / "studies" / "tiny")
    assert open_study("studies/tiny").folder == nearer, "the nearest studies/ folder first"

    with pytest.raises(StudyError) as missing:
        open_study("studies/other")
    assert str(missing.value) == (
        f"no study at 'studies/other' (looked at {Path.cwd() / 'studies/other'}, "
        f"{tmp_path / 'notebooks/studies/other'}, {tmp_path / 'studies/other'}): expected a study folder "
        "(studies/<name>/ with study.db), its study.db, or --storage URL --study-name NAME; "
        f"studies in {tmp_path / 'notebooks/studies'}: tiny")
    with pytest.raises(StudyError, match="no study at 'tiny'"):
        open_study("tiny", studies_dir="elsewhere")  # a studies_dir given is the only place looked in
    with pytest.raises(StudyError, match="no study at 'other/tiny'"):
        open_study("other/tiny")  # only studies/<name> is looked for upwards


def test_trial_lookup_errors(studies: Path) -> None:
    study = open_study(studies / "mobile_100M_digits")
    with pytest.raises(StudyError, match="has no trial 999"):
        study.genome(999)
    n = int(study.pareto().number.iloc[0])
    model = study.model(n)
    assert model.state_dict().keys() == nas.build(study.genome(n), num_classes=10, in_channels=1).state_dict().keys()
