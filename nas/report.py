"""``python -m nas.report STUDY``: the Pareto report of a search.

Writes into the study folder (or ``--out DIR``):

* ``report.html``: one self-contained page (Plotly's JavaScript inlined, works offline) with the
  Pareto front of validation accuracy against MACs (and against params, latency or memory when
  those were objectives), every trial dimmed, the references labelled, the budget as a line and each
  point's genome on hover; the hypervolume over trials; how the choices spread along the front;
  tables of the Pareto set and of the references.
* ``trials.csv`` and ``pareto.csv``: the tables behind the plots.
* ``pareto.png``: the front as a static picture, when a Chromium-family browser is installed for
  kaleido (Debian: ``apt-get install chromium``); without one the PNG alone is skipped, with a message.

:func:`report_data` computes, :func:`figures` draws, :func:`write_report` writes: tests check the
first, a notebook can use any of them.
"""

from __future__ import annotations

import argparse
import html
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import plots
from .files import describe, unwritable
from .cost import cost_label
from .search import PRICED_OUTCOMES, _plural, metric_names, near_chance
from .study import Study, StudyError, open_study

__all__ = ["ReportData", "ReportError", "figures", "main", "report_data", "summary", "write_report"]

_TABLE_COLUMNS = ["number", "reference", "accuracy", "test_accuracy", "macs", "params", "feasible",
                  "dominated_by", "genome"]


class ReportError(ValueError):
    """A report that cannot be written: the message names the path and the fix. The CLI prints it and
    exits with 2."""


@dataclass
class ReportData:
    """Everything the report shows, computed from the study."""

    study: str
    space: str
    dataset: str
    objectives: list[str]
    budget: float | None
    budget_metric: str
    trials: pd.DataFrame
    pareto: pd.DataFrame
    references: pd.DataFrame
    hypervolume: pd.DataFrame
    choices: pd.DataFrame
    labels: dict[int, str]
    counts: dict[str, int]
    protocol: dict[str, Any] = field(default_factory=dict)
    resolution: int = 224                   # the input side the costs are counted at (the space's target)
    num_classes: int = 10

    @property
    def train_resolution(self) -> int | None:
        """The input side the networks trained and were validated at (the proxy protocol's)."""
        return self.protocol.get("resolution")

    @property
    def chance_warning(self) -> str | None:
        """:func:`nas.search.near_chance` on the trained networks' validation accuracies."""
        return near_chance(self.trials.accuracy[self.trials.trained].tolist(), self.num_classes)

    @property
    def final_hypervolume(self) -> float:
        return float(self.hypervolume.hypervolume.iloc[-1]) if len(self.hypervolume) else 0.0

    @property
    def cost_axes(self) -> list[str]:
        """The cost columns to plot accuracy against: MACs always, then the other cost objectives."""
        axes = ["macs"] + [{"latency": "latency_ms"}.get(o, o) for o in self.objectives[1:]]
        return list(dict.fromkeys(axes))

    def dominated(self) -> dict[str, int]:
        """Reference name -> the searched trial on the front that dominates it (references not dominated
        are left out)."""
        return {r.reference: int(r.dominated_by) for r in self.references.itertuples() if r.dominated_by >= 0}


def report_data(study: Study) -> ReportData:
    """Compute what the report shows (no drawing). A :class:`StudyError` when no trial is trained yet."""
    trials = study.trials()
    if not len(trials) or not trials.trained.any():
        states = ", ".join(f"{n} {s.lower()}" for s, n in trials.state.value_counts().items()) if len(trials) else ""
        raise StudyError(f"study {study.name!r} has no trained trial yet ({len(trials)} trial{'s' * (len(trials) != 1)}"
                         f"{': ' if states else ''}"
                         f"{states}): run or resume `python -m nas.search` first, then report")
    outcome = trials.outcome[trials.reference == ""]
    counts = {
        "trials": len(trials),
        "references": int((trials.reference != "").sum()),
        "candidates priced": int(outcome.isin(PRICED_OUTCOMES).sum()),
        "candidates trained": int((outcome == "trained").sum()),
        "stopped early (successive halving)": int((outcome == "stopped").sum()),
        "over budget, not trained": int((outcome == "over budget").sum()),
        "failed": int((outcome == "failed").sum()),
        "repeats, not trained again": int((outcome == "repeat").sum()),
        "running or waiting": int(outcome.isin(["running", "waiting"]).sum()),
    }
    pareto = study.pareto(trials)
    counts["Pareto set"] = len(pareto)
    labels = {int(n): (r or f"trial {n}") for n, r in zip(trials.number, trials.reference)}
    return ReportData(study=study.name, space=study.space, dataset=study.dataset, objectives=study.objectives,
                      budget=study.budget, budget_metric=study.budget_metric, trials=trials, pareto=pareto,
                      references=study.references(trials), hypervolume=study.hypervolume(trials),
                      choices=study.choices(trials=trials),
                      labels=labels, counts=counts, protocol=dict(study.attrs.get("protocol", {})),
                      resolution=study.resolution, num_classes=study.num_classes)


def figures(data: ReportData) -> dict[str, Any]:
    """The report's figures by name: ``pareto_<cost>`` for each cost axis, ``hypervolume``, ``choices``."""
    figs: dict[str, Any] = {}
    for axis in data.cost_axes:
        figs[f"pareto_{axis}"] = plots.pareto(
            data.trials, x=axis, budget=data.budget, budget_metric=data.budget_metric, resolution=data.resolution,
            train_resolution=data.train_resolution,
            title=f"{data.study}: validation accuracy against {cost_label(axis, data.resolution)} ({data.dataset})")
    figs["hypervolume"] = plots.hypervolume(data.hypervolume)
    figs["choices"] = plots.choices(data.choices, labels=data.labels, resolution=data.resolution)
    return figs


def write_report(study: Study, out: str | Path | None = None, *, png: bool = True,
                 data: ReportData | None = None) -> dict[str, Path | str]:
    """Write report.html, trials.csv, pareto.csv and (when a browser for kaleido is there) pareto.png,
    from ``data`` (computed from the study when not given).

    Returns the paths written by kind; ``"png"`` holds a message instead of a path when the PNG was
    skipped.

    Raises:
        ReportError: ``out`` (by default the study folder) cannot be written; nothing is written then.
    """
    out = Path(out) if out is not None else study.folder
    data = data if data is not None else report_data(study)
    fix = "write the report elsewhere with --out DIR, or make the folder writable"
    problem = unwritable(out)
    if problem:
        raise ReportError(f"{problem}: {fix}")
    figs = figures(data)
    written: dict[str, Path | str] = {}
    try:
        _csv(data.trials).to_csv(out / "trials.csv", index=False)
        _csv(data.pareto).to_csv(out / "pareto.csv", index=False)
        written["trials.csv"], written["pareto.csv"] = out / "trials.csv", out / "pareto.csv"
        (out / "report.html").write_text(_html(data, figs), encoding="utf-8")
        written["report.html"] = out / "report.html"
    except OSError as exc:  # a folder that takes no new files, or a full disk: found out while writing
        raise ReportError(f"{describe(exc)}: {fix}") from None
    if png:
        written["png"] = _write_png(figs["pareto_macs"], out / "pareto.png")
    return written


def summary(data: ReportData) -> str:
    """A few lines for the terminal: the counts, the front, and which references the search beat."""
    counts = data.counts
    lines = [(f"{data.study} ({data.dataset}): {_plural(counts['trials'], 'trial')} ({counts['candidates priced']} "
              f"candidates priced, {counts['candidates trained']} of them trained"
              + (f", {counts['stopped early (successive halving)']} stopped early"
                 if counts["stopped early (successive halving)"] else "")
              + f", {counts['over budget, not trained']} over the "
              f"budget, {counts['failed']} failed; {_plural(counts['references'], 'reference')}); "
              f"Pareto set of {_plural(counts['Pareto set'], 'network')}; hypervolume {data.final_hypervolume:.4f}"),
             f"  costs are {cost_label('macs', data.resolution)} (the space's target resolution)"
             + (f"; the networks trained at {data.train_resolution}×{data.train_resolution}"
                if data.train_resolution else "")]
    dominated = data.dominated()
    for r in data.references.itertuples():
        verdict = f"dominated by trial {dominated[r.reference]}" if r.reference in dominated else "not dominated"
        lines.append(f"  {r.reference}{'' if r.feasible else ' (over budget)'}: {verdict}")
    if data.chance_warning:
        lines.append(f"warning: {data.chance_warning}")
    return "\n".join(lines)


def _write_png(fig: Any, path: Path) -> Path | str:
    try:
        fig.write_image(path, width=1100, height=650, scale=2)
    except Exception as exc:  # noqa: BLE001 - kaleido raises its own types for a missing browser
        return (f"pareto.png skipped: kaleido could not render it ({type(exc).__name__}: {str(exc).strip()[:200]}). "
                "Install a Chromium-family browser (Debian: apt-get install chromium) or run "
                "`plotly_get_chrome`, then rerun.")
    return path


def _html(data: ReportData, figs: dict[str, Any]) -> str:
    parts = []
    for i, (name, fig) in enumerate(figs.items()):
        # the first figure carries plotly.js inline: the page needs no network
        parts.append(f'<section id="{name}">' + fig.to_html(full_html=False, include_plotlyjs=(i == 0),
                                                            div_id=f"fig-{name}") + "</section>")
    budget = "none" if data.budget is None else f"{data.budget:,.0f} {cost_label(data.budget_metric, data.resolution)}"
    facts = {"study": data.study, "space": data.space, "dataset": data.dataset,
             "costs counted at": f"{data.resolution}×{data.resolution} (the space's target resolution: every MACs, "
                                 "FLOPs, latency and memory figure on this page)",
             "networks trained at": (f"{data.train_resolution}×{data.train_resolution} (the proxy protocol; "
                                     "accuracies are measured there)" if data.train_resolution else "not recorded"),
             "objectives": ", ".join(metric_names(data.objectives, data.resolution)), "budget": budget,
             "hypervolume": f"{data.final_hypervolume:.4f} (accuracy × cost / budget; reference point accuracy 0, "
                            "cost = budget)"}
    facts.update({k: str(v) for k, v in data.counts.items()})
    protocol = ", ".join(f"{k} {v}" for k, v in data.protocol.items() if k in (
        "epochs", "batch_size", "lr", "resolution", "train_size", "val_size", "label_smoothing", "weight_decay"))
    if protocol:
        facts["proxy protocol"] = protocol
    dominated = data.dominated()
    verdicts = []
    for r in data.references.itertuples():
        status = "" if r.feasible else " (over budget)"
        verdict = (f"dominated by trial {dominated[r.reference]}" if r.reference in dominated
                   else "not dominated by the search")
        verdicts.append(f"<li><b>{html.escape(r.reference)}</b>{status}: {verdict}</li>")
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts.items())
    warning = data.chance_warning
    return _PAGE.format(
        title=html.escape(f"nas report: {data.study}"), facts=rows, verdicts="".join(verdicts) or "<li>none</li>",
        warning=f'<p class="warning" id="chance">Warning: {html.escape(warning)}</p>' if warning else "",
        pareto_heading=f"Pareto set ({_plural(len(data.pareto), 'network')})",
        pareto_table=_table(data.pareto, data.resolution), reference_table=_table(data.references, data.resolution),
        figures="\n".join(parts))


def _csv(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as the CSV files hold it: an empty cell, not -1, where no trial dominates a network or
    a network repeats none."""
    frame = frame.copy()
    for column in ("dominated_by", "repeat_of"):
        if column in frame and len(frame):
            frame[column] = frame[column].where(frame[column] >= 0).astype("Int64")
    return frame


def _table(frame: pd.DataFrame, resolution: int) -> str:
    if frame.empty:
        return "<p>none</p>"
    shown = frame[_TABLE_COLUMNS].copy()
    for column in ("macs", "params"):
        shown[column] = shown[column].map(lambda v: f"{v:,.0f}")
    shown["dominated_by"] = shown.dominated_by.map(lambda n: f"trial {n}" if n >= 0 else "not dominated")
    shown = shown.rename(columns={"accuracy": "val accuracy", "test_accuracy": "test accuracy",
                                  "macs": cost_label("macs", resolution), "dominated_by": "dominated by"})
    return shown.to_html(index=False, float_format=lambda v: f"{v:.4f}", classes="table", border=0, na_rep="-")


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }}
table {{ border-collapse: collapse; font-size: 13px; margin: 0.5em 0 1.5em; }}
th, td {{ padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }}
table.table td:last-child {{ font-family: monospace; font-size: 11px; max-width: 600px; word-break: break-all; }}
section {{ margin: 1.5em 0; }}
.warning {{ background: #fff3cd; border-left: 4px solid #d39e00; padding: 0.6em 1em; }}
</style>
</head>
<body>
<h1>{title}</h1>
<table class="facts">{facts}</table>
{warning}
<h2>References</h2>
<ul id="verdicts">{verdicts}</ul>
{figures}
<h2 id="pareto-set">{pareto_heading}</h2>
{pareto_table}
<h2>References (trained under the same protocol)</h2>
{reference_table}
</body>
</html>
"""


def build_parser() -> argparse.ArgumentParser:
    from .cli import STORAGE_HELP, STUDY_HELP, STUDY_NAME_HELP, HelpFormatter

    parser = argparse.ArgumentParser(
        prog="python -m nas.report", formatter_class=HelpFormatter,
        description="Write the Pareto report of a search: report.html (offline), trials.csv, pareto.csv and "
                    "pareto.png.")
    parser.add_argument("study", nargs="?", default=None, help=STUDY_HELP)
    parser.add_argument("--storage", default=None, help=STORAGE_HELP)
    parser.add_argument("--study-name", default=None, help=STUDY_NAME_HELP)
    parser.add_argument("--out", default=None, help="folder to write into (default: the study folder)")
    parser.add_argument("--no-png", action="store_true", help="skip pareto.png (needs a browser for kaleido)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        study = open_study(args.study, storage=args.storage, name=args.study_name)
        data = report_data(study)
        written = write_report(study, args.out, png=not args.no_png, data=data)
    except (StudyError, ReportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary(data))
    for value in written.values():
        if isinstance(value, Path):
            print(f"wrote {value}")
        else:
            print(value, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
