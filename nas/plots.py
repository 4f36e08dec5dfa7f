"""Drawing a search: Plotly figures from the tables of :class:`nas.study.Study`.

These functions only draw: every number they show comes from :mod:`nas.study` (``trials()``,
``hypervolume()``, ``choices()``), so the report, a notebook and a script show the same data.

>>> from nas.study import open_study
>>> from nas import plots
>>> study = open_study("studies/mobile_300M_cifar10")
>>> plots.pareto(study.trials(), budget=study.budget, budget_metric=study.budget_metric).show()
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .cost import cost_label, format_count

__all__ = ["AXES", "choices", "hypervolume", "pareto"]

# the cost columns a front can be drawn against -> their names (with " at R×R" where a resolution is given)
AXES = {column: cost_label(column) for column in ("macs", "params", "latency_ms", "memory", "flops")}
_TRIAL = "#9aa5b1"
_FRONT = "#1f77b4"
_REFERENCE = "#d62728"


def _hover(resolution: int | None) -> str:
    return ("<b>%{customdata[0]}</b><br>val accuracy %{y:.4f}<br>test accuracy %{customdata[1]}<br>"
            f"{cost_label('macs', resolution)} %{{customdata[2]}}<br>params %{{customdata[3]}}<br>%{{customdata[4]}}<br>"
            "<span style='font-family:monospace;font-size:10px'>%{customdata[5]}</span><extra></extra>")


def pareto(trials: pd.DataFrame, *, x: str = "macs", budget: float | None = None, budget_metric: str = "macs",
           title: str = "", resolution: int | None = None, train_resolution: int | None = None) -> go.Figure:
    """Validation accuracy against a cost (``x``: a column of ``trials``, ``macs`` by default): every
    trained search trial dimmed, the Pareto front drawn as a staircase, the references labelled by
    name (over-budget ones as open diamonds, their label says so), and the budget as a dashed line
    when ``x`` is what the budget counts. Hovering a point shows its trial, metrics and genome.
    ``resolution``: the input side the costs were counted at (the study's), named on the axis, the
    hover and the budget; ``train_resolution``: the side the networks trained at, named on the
    accuracy axis. Labels stay on the side of the budget line where their point is."""
    if x not in trials.columns:
        raise ValueError(f"x={x!r} is not a column of the trials table; use one of {', '.join(AXES)}")
    trained = trials[trials.trained & trials[x].notna()] if len(trials) else trials
    searched = trained[trained.reference == ""]
    front = trained[trained.pareto].sort_values(x)
    refs = trained[trained.reference != ""]
    budget_x = _budget_on_axis(x, budget, budget_metric)
    hover = _hover(resolution)
    axis = cost_label(x, resolution)
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=searched[x], y=searched.accuracy, mode="markers", name=f"trials ({len(searched)})",
        marker={"color": _TRIAL, "size": 7, "opacity": 0.45, "symbol": ["circle" if f else "x" for f in searched.feasible]},
        customdata=_customdata(searched), hovertemplate=hover))
    fig.add_trace(go.Scatter(
        x=front[x], y=front.accuracy, mode="lines+markers+text", name=f"Pareto front ({len(front)})",
        text=["" if r else f"trial {n}" for n, r in zip(front.number, front.reference)],
        # alternate above and below: neighbours on a dense front do not print over each other
        textposition=[f"{'top' if i % 2 == 0 else 'bottom'} {_side(v, budget_x)}" for i, v in enumerate(front[x])],
        textfont={"size": 11, "color": _FRONT},
        line={"color": _FRONT, "shape": "hv", "width": 2}, marker={"color": _FRONT, "size": 10},
        customdata=_customdata(front), hovertemplate=hover))
    fig.add_trace(go.Scatter(
        x=refs[x], y=refs.accuracy, mode="markers+text", name=f"references ({len(refs)})",
        text=[r.reference + ("" if r.feasible else " (over budget)") for r in refs.itertuples()],
        textposition=[f"top {_side(v, budget_x)}" for v in refs[x]], textfont={"size": 11, "color": _REFERENCE},
        marker={"color": _REFERENCE, "size": 11,
                "symbol": ["diamond" if f else "diamond-open" for f in refs.feasible], "line": {"width": 2}},
        customdata=_customdata(refs), hovertemplate=hover))
    if budget_x is not None:
        fig.add_vline(x=budget_x, line={"dash": "dash", "color": "#444"})
        # annotations on a log axis take log10 coordinates
        fig.add_annotation(x=math.log10(budget_x), y=1, yref="paper", yanchor="bottom", showarrow=False,
                           text=f"budget {format_count(budget or 0)} {cost_label(budget_metric, resolution)}",
                           font={"color": "#444"})
    trained_at = f" (trained at {train_resolution}×{train_resolution})" if train_resolution else ""
    fig.update_layout(title=title or f"Validation accuracy against {axis}", template="plotly_white",
                      xaxis_title=axis + " (log scale)", yaxis_title="validation accuracy" + trained_at,
                      legend={"orientation": "h", "y": -0.18}, height=560, margin={"t": 80, "r": 30})
    xs = [v for v in [*trained[x], budget_x] if v is not None and v > 0]
    if xs:
        labels = [(v, text, position) for trace in fig.data[1:] for v, text, position in
                  zip(trace.x, trace.text, trace.textposition) if text and v > 0]
        low, high = _x_range(xs, labels)
        ticks = _log_ticks(10**low, 10**high)
        fig.update_xaxes(type="log", range=[low, high], tickvals=ticks, ticktext=[format_count(t) for t in ticks])
    else:
        fig.update_xaxes(type="log")
    return fig


def hypervolume(curve: pd.DataFrame, *, title: str = "") -> go.Figure:
    """The hypervolume of the front after each trial (``Study.hypervolume()``)."""
    fig = go.Figure(go.Scatter(x=curve.number, y=curve.hypervolume, mode="lines+markers", line={"shape": "hv"},
                               name="hypervolume", hovertemplate="after trial %{x}: %{y:.4f}<extra></extra>"))
    fig.update_layout(title=title or "Hypervolume of the front over trials", template="plotly_white",
                      xaxis_title="trial", yaxis_title="hypervolume (accuracy × cost / budget)", height=360)
    return fig


def choices(table: pd.DataFrame, *, labels: dict[int, str] | None = None, title: str = "",
            resolution: int | None = None) -> go.Figure:
    """How the architectural choices spread along the front: for each choice (kernel, expansion,
    activation, block type, squeeze-and-excitation) a stacked bar per network, cheapest on the
    left, giving the share of its blocks taking each value (``Study.choices()``)."""
    table = table[table.choice != "depth"]
    names = [c for c in ("kernel", "expansion", "activation", "block", "se") if c in set(table.choice)]
    order = table.drop_duplicates("number").sort_values("macs")
    labels = labels or {}
    macs = cost_label("macs", resolution)
    ticks = [f"{labels.get(n, f'trial {n}')}<br>{format_count(m)} {macs}" for n, m in zip(order.number, order.macs)]
    fig = make_subplots(rows=max(1, len(names)), cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=[f"{n}" for n in names])
    values = [(name, value) for name in names for value in sorted(set(table[table.choice == name].value), key=_natural)]
    colours = dict(zip(values, _palette(len(values))))  # one colour per value across the chart: none repeats
    for row, name in enumerate(names, start=1):
        part = table[table.choice == name]
        for value in sorted(set(part.value), key=_natural):
            shares = part[part.value == value].set_index("number").share.reindex(order.number).fillna(0.0)
            fig.add_trace(go.Bar(x=ticks, y=shares.values, name=f"{name} {value}", legendgroup=name,
                                 marker={"color": colours[name, value]},
                                 hovertemplate=f"{name} {value}: %{{y:.0%}} of the blocks<extra></extra>"),
                          row=row, col=1)
    fig.update_layout(barmode="stack", template="plotly_white", height=180 * max(1, len(names)) + 120,
                      title=title or "Choices along the front (share of each network's blocks; cheapest first)",
                      legend={"tracegroupgap": 120})
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return fig


def _customdata(rows: pd.DataFrame) -> list[list[str]]:
    data = []
    for r in rows.itertuples():
        name = r.reference or f"trial {r.number}"
        test = "-" if r.test_accuracy is None or math.isnan(r.test_accuracy) else f"{r.test_accuracy:.4f}"
        where = ("on the front" if r.pareto else "over budget" if not r.feasible
                 else f"dominated by trial {r.dominated_by}" if r.dominated_by >= 0 else "off the front")
        data.append([name, test, format_count(r.macs), format_count(r.params), where, _wrap(r.genome)])
    return data


def _x_range(xs: list[float], labels: list[tuple[float, str, str]], *, plot_px: float = 900,
             char_px: float = 6.5) -> tuple[float, float]:
    """The log10 range of the x axis: the points with a margin, widened until every label (x, text,
    position) fits inside the plot on its side of its point (labels are ``char_px`` wide a character,
    the plot at least ``plot_px`` wide: the report's PNG and page are wider)."""
    low, high = math.log10(min(xs)) - 0.06, math.log10(max(xs)) + 0.06
    for _ in range(5):  # each widening shrinks every label's share of the axis: a few rounds settle it
        span = high - low
        for v, text, position in labels:
            width = (len(text) * char_px + 12) / plot_px * span
            if position.endswith("left"):
                low = min(low, math.log10(v) - width)
            else:
                high = max(high, math.log10(v) + width)
    return low, high


def _side(x: float, budget_x: float | None) -> str:
    """Which side of its point a label goes: away from the budget line (left of it when the point is at
    or below the budget), so that no label crosses the line; right when there is no line."""
    return "left" if budget_x is not None and x <= budget_x else "right"


def _budget_on_axis(x: str, budget: float | None, metric: str) -> float | None:
    if budget is None:
        return None
    if x == metric:
        return budget
    if (x, metric) == ("macs", "flops"):
        return budget / 2
    return None


def _log_ticks(low: float, high: float) -> list[float]:
    """Round tick values (1, 2, 5 times a power of ten; every digit when that gives too few) in [low, high]."""
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    for digits in ((1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [d * 10**k for k in decades for d in digits if low <= d * 10**k <= high]
        if len(ticks) >= 4:
            return ticks
    return ticks


def _wrap(text: str, width: int = 90) -> str:
    words, lines, line = text.split(" "), [], ""
    for word in words:
        if line and len(line) + len(word) > width:
            lines.append(line)
            line = ""
        line = f"{line} {word}" if line else word
    return "<br>".join(lines + [line])


def _palette(n: int) -> list[str]:
    """``n`` distinct colours: Plotly's 24 + 24 qualitative ones, then evenly spaced hues."""
    colours = list(dict.fromkeys(plotly.colors.qualitative.Dark24 + plotly.colors.qualitative.Light24))
    if n > len(colours):
        colours += [f"hsl({round(360 * k / (n - len(colours)))}, 60%, 45%)" for k in range(n - len(colours))]
    return colours[:n]


def _natural(value: str) -> tuple[float, str]:
    try:
        return float(value), ""
    except ValueError:
        return math.inf, value
