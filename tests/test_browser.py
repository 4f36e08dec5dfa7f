"""What a user sees in a browser, for a study with references, over-budget and failed candidates: the
report (``python -m nas.report``) and optuna-dashboard's study page, each opened in headless Chromium
and photographed (the screenshots go to $NAS_SCREENSHOTS when it is set, for a person to look at), and
Optuna's own Pareto plot. All three must name the metrics, show the front's members, say at which
resolution the costs are counted, and draw no accuracy for a network that was never trained."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import optuna
import pytest

import nas.train
from nas.report import write_report
from nas.search import main as search
from nas.search import trial_outcomes
from nas.study import Study, open_study
from tests.conftest import CHROMIUM_ARGS, chromium_or_skip

TINY = ["--epochs", "1", "--train-size", "150", "--val-size", "60", "--batch-size", "32", "--no-progress",
        "--dataset", "digits", "--space", "mobile", "--budget", "100M", "--trials", "4", "--threads", "1"]
FAILING_CALL = 7  # the 5 references train first: the second candidate given to the trainer fails


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    """References (over budget and not), over-budget candidates and one candidate whose training fails."""
    root = tmp_path_factory.mktemp("studies")
    real, calls = nas.train.train, []

    def train(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == FAILING_CALL:
            raise RuntimeError("a candidate that cannot be trained (made to fail by the test)")
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(nas.train, "train", train)
        assert search(["--studies-dir", str(root), *TINY]) == 0
    study = open_study(root / "mobile_100M_digits")
    outcomes = trial_outcomes(study.optuna_study.trials).values()
    assert {"trained", "over budget", "failed"} <= set(outcomes), "the study has every kind of candidate"
    return study


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    executable = chromium_or_skip()
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium.new_page(viewport={"width": 1400, "height": 1800})
        chromium.close()


def screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("NAS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000
    return path


def front(study: Study) -> list[int]:
    return sorted(int(n) for n in study.pareto().number)


def test_report_in_a_browser(study: Study, page: Any, tmp_path: Path) -> None:
    write_report(study, tmp_path, png=False)
    page.goto((tmp_path / "report.html").as_uri())
    page.wait_for_selector("#fig-choices .barlayer", timeout=30_000)
    screenshot(page, "report.png", tmp_path)
    text = page.inner_text("body")
    assert "costs counted at\t224×224" in text and "networks trained at\t32×32" in text
    assert "objectives\tvalidation accuracy, MACs at 224×224" in text
    axes = page.evaluate("""() => Array.from(document.querySelectorAll('#fig-pareto_macs .g-xtitle, '
        + '#fig-pareto_macs .g-ytitle, #fig-pareto_macs .annotation-text')).map(e => e.textContent)""")
    assert axes == ["MACs at 224×224 (log scale)", "validation accuracy (trained at 32×32)",
                    "budget 100M MACs at 224×224"]
    # the front's members, in the table under their names
    table = page.inner_text("#pareto-set + table")
    for row in study.pareto().itertuples():
        assert (row.reference or str(row.number)) in table
    # no label crosses the budget line: each lies wholly on one side of it
    line = page.locator("#fig-pareto_macs .shapelayer path").first.bounding_box()
    labels = page.evaluate("""() => Array.from(document.querySelectorAll('#fig-pareto_macs .scatterlayer text'))
        .filter(t => t.textContent).map(t => { const b = t.getBoundingClientRect();
            return [t.textContent, b.left + window.scrollX, b.right + window.scrollX]; })""")
    x = line["x"] + line["width"] / 2
    assert labels and [(name, left, right) for name, left, right in labels if left < x < right] == []
    # and every label is whole, inside the plot (the axis range makes room for the longest)
    area = page.locator("#fig-pareto_macs .nsewdrag").first.bounding_box()
    assert [name for name, left, right in labels if left < area["x"] or right > area["x"] + area["width"]] == []


def test_optuna_dashboard_study_page(study: Study, page: Any, tmp_path: Path) -> None:
    optuna_dashboard = pytest.importorskip("optuna_dashboard")

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, optuna_dashboard.wsgi(optuna.storages.RDBStorage(study.storage)),
                         handler_class=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/dashboard/studies/{study.optuna_study._study_id}")
        page.wait_for_selector("text=Best Trials", timeout=30_000)
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .scatterlayer').length >= 2",
                               timeout=30_000)
        screenshot(page, "optuna-dashboard.png", tmp_path)
        text = page.inner_text("body")
        plots = page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot'))
            .map(d => (d.data || []).map(t => ({name: t.name || '', x: Array.from(t.x || []),
                                                y: Array.from(t.y || [])})))""")
    finally:
        server.shutdown()
    # the metrics by name, with the resolution of the cost; never "Objective 0"
    assert "validation accuracy" in text and "MACs at 224×224" in text and "Objective 0" not in text
    # the front's members are optuna's best trials, which the dashboard lists
    assert front(study) == sorted(t.number for t in study.optuna_study.best_trials)
    best = text.split("Best Trials", 1)[1]
    for number in front(study):
        assert f"Trial {number}\n" in best
    # the Pareto front plot draws the trained networks only: no accuracy of 0 for an over-budget candidate
    trials = study.trials()
    trained = sorted(trials.accuracy[trials.state == "COMPLETE"])
    # (the plot of accuracy, x, against MACs, y: the dashboard's default axes)
    numeric = lambda values: bool(values) and all(isinstance(v, (int, float)) for v in values)  # noqa: E731
    pareto_plots = [[t for t in p if numeric(t["x"]) and numeric(t["y"])] for p in plots]
    pareto_plots = [p for p in pareto_plots if p and all(max(t["x"]) <= 1 < min(t["y"]) for t in p)]
    assert len(pareto_plots) == 1
    accuracies = sorted(float(v) for t in pareto_plots[0] for v in t["x"])
    assert accuracies == pytest.approx(trained) and min(accuracies) > 0


def test_optuna_plots_name_the_metrics_and_leave_out_untrained_networks(study: Study) -> None:
    figure = optuna.visualization.plot_pareto_front(study.optuna_study)
    assert figure.layout.xaxis.title.text == "validation accuracy"
    assert figure.layout.yaxis.title.text == "MACs at 224×224"
    drawn = sorted(x for trace in figure.data for x in trace.x)
    trials = study.trials()
    assert drawn == pytest.approx(sorted(trials.accuracy[trials.state == "COMPLETE"])) and min(drawn) > 0
