"""Figures of model versions: a metric by version, ROC / PR / calibration on the holdout, experiments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from flywheel_core.charts.layout import style_figure
from flywheel_core.charts.palette import REFERENCE

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from flywheel_core.experiments.common import ExperimentResult
    from flywheel_core.learning.offpolicy import OffPolicyResult
    from flywheel_core.learning.production import ProductionReport
    from flywheel_core.learning.registry import VersionInfo

__all__ = [
    "calibration_chart",
    "experiment_chart",
    "metric_by_version_chart",
    "metric_label",
    "offpolicy_chart",
    "pr_chart",
    "production_rates_chart",
    "roc_chart",
]

_LABELS = {
    "auc": "AUC (next turn)",
    "holdout_auc": "AUC (holdout)",
    "log_loss": "Log loss (next turn)",
    "holdout_log_loss": "Log loss (holdout)",
    "brier": "Brier score (next turn)",
    "holdout_brier": "Brier score (holdout)",
}


def metric_label(metric: str) -> str:
    """A metric's name for people: ``holdout_auc`` is "AUC (holdout)"."""
    return _LABELS.get(
        metric,
        metric.replace("holdout_", "").replace("_", " ")
        + (" (holdout)" if metric.startswith("holdout_") else " (next turn)"),
    )


def _layout(fig: go.Figure, title: str, x: str, y: str) -> go.Figure:
    return style_figure(fig, title, x=x, y=y, height=380, legend="below")  # the title clear of the toolbar


def metric_by_version_chart(versions: Sequence[VersionInfo], metric: str) -> go.Figure:
    """One line per training run, overlaid by turn: the metric at each turn with its 95% interval as error
    bars; a version whose window could not be scored is marked on the axis, not drawn as a value."""
    import plotly.graph_objects as go

    fig = go.Figure()
    runs: dict[str, list[VersionInfo]] = {}
    for v in sorted(versions, key=lambda v: (v.run_id, v.turn)):
        runs.setdefault(f"{v.algorithm} · run {v.run_id[:6]}", []).append(v)
    for name, run in runs.items():
        scored = [v for v in run if v.metrics.get(metric) is not None]
        values = [float(v.metrics[metric] or 0.0) for v in scored]
        lows = [v.intervals.get(metric, (val, val))[0] for v, val in zip(scored, values, strict=True)]
        highs = [v.intervals.get(metric, (val, val))[1] for v, val in zip(scored, values, strict=True)]
        fig.add_trace(
            go.Scatter(
                x=[v.turn for v in scored],
                y=values,
                mode="lines+markers",
                name=name,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [h - val for h, val in zip(highs, values, strict=True)],
                    "arrayminus": [val - lo for lo, val in zip(lows, values, strict=True)],
                },
                text=[f"v{v.version} · {v.train_rows:,} training rows" for v in scored],
                hovertemplate="turn %{x}: %{y:.3f}<br>%{text}<extra></extra>",
            )
        )
        missing = [v for v in run if v.metrics.get(metric) is None]
        if missing:
            fig.add_trace(
                go.Scatter(
                    x=[v.turn for v in missing],
                    y=[None] * len(missing),
                    mode="markers",
                    name=f"{name}: not scored",
                    marker={"symbol": "x-thin-open", "size": 12, "color": REFERENCE},
                    text=[v.unscored.get(metric, "not scored") for v in missing],
                    hovertemplate="turn %{x}: %{text}<extra></extra>",
                    showlegend=True,
                )
            )
    fig.update_xaxes(dtick=1)
    return _layout(fig, f"{metric_label(metric)} by turn, with 95% intervals", "Turn", metric_label(metric))


Curves = Mapping[int, Mapping[str, Mapping[str, Sequence[float]]]]  # version -> roc / pr / calibration points


def roc_chart(curves: Curves) -> go.Figure:
    """ROC curve of each version on the holdout, with the chance line."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for version, c in curves.items():
        if c.get("roc"):
            fig.add_trace(go.Scatter(x=c["roc"]["fpr"], y=c["roc"]["tpr"], mode="lines", name=f"v{version}"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot", "color": REFERENCE}))
    return _layout(fig, "ROC (holdout)", "False positive rate", "True positive rate")


def pr_chart(curves: Curves) -> go.Figure:
    """Precision against recall of each version on the holdout."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for version, c in curves.items():
        if c.get("pr"):
            fig.add_trace(go.Scatter(x=c["pr"]["recall"], y=c["pr"]["precision"], mode="lines", name=f"v{version}"))
    return _layout(fig, "Precision-recall (holdout)", "Recall", "Precision")


def calibration_chart(curves: Curves) -> go.Figure:
    """Observed positive rate against predicted probability, per version, with the perfect diagonal."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for version, c in curves.items():
        if c.get("calibration"):
            cal = c["calibration"]
            fig.add_trace(go.Scatter(x=cal["predicted"], y=cal["observed"], mode="lines+markers", name=f"v{version}"))
    line = {"dash": "dot", "color": REFERENCE}
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line=line))
    return _layout(fig, "Calibration (holdout, 10 bins)", "Predicted probability", "Observed positive rate")


def experiment_chart(result: ExperimentResult) -> go.Figure:
    """Lines over turns, or grouped bars for experiments whose arms are not turns (means over the repeats)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    categorical = any(isinstance(x, str) for x in result.x)
    for name, values in result.series.items():
        if categorical:
            fig.add_trace(go.Bar(x=result.x, y=values, name=name))
        else:
            fig.add_trace(go.Scatter(x=result.x, y=values, mode="lines+markers", name=name))
    if categorical:
        fig.update_layout(barmode="group")
    else:
        fig.update_xaxes(dtick=1)
    repeats = f"mean of {result.scored_repeats} of {result.repeats} repeats" if result.repeats > 1 else "one run"
    return _layout(fig, f"{result.title} ({repeats})", result.x_label, result.y_label)


def production_rates_chart(report: ProductionReport) -> go.Figure:
    """Each served version's positive rate in production, in the order served, with its 95% interval
    (clustered by user); the hover carries the events and users behind it."""
    import plotly.graph_objects as go

    versions = report.versions
    fig = go.Figure(
        go.Scatter(
            x=[v.version for v in versions],
            y=[v.rate for v in versions],
            mode="lines+markers",
            name="positive rate",
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [v.high - v.rate for v in versions],
                "arrayminus": [v.rate - v.low for v in versions],
            },
            text=[f"{v.events:,} events · {v.users:,} users · {v.positives:,} positives" for v in versions],
            hovertemplate="%{x}: %{y:.2%}<br>%{text}<extra></extra>",
        )
    )
    fig.update_yaxes(tickformat=".0%")
    return _layout(fig, "Positive rate in production (95% CI, clustered by user)", "Version, in the order served", "")


def offpolicy_chart(result: OffPolicyResult) -> go.Figure:
    """The three off-policy estimates with their bootstrap intervals, beside what the evaluated traffic
    earned and what the policy earned on its own traffic."""
    import plotly.graph_objects as go

    names = [e.estimator.upper() for e in result.estimates]
    fig = go.Figure(
        go.Scatter(
            x=[e.value for e in result.estimates],
            y=names,
            mode="markers",
            name="estimate",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [e.high - e.value for e in result.estimates],
                "arrayminus": [e.value - e.low for e in result.estimates],
            },
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )
    fig.add_vline(x=result.logged_rate, line_dash="dash", line_color=REFERENCE, annotation_text="traffic earned")
    fig.add_vline(x=result.policy_rate, line_dash="dot", annotation_text=f"{result.policy} on its own traffic")
    fig.update_xaxes(tickformat=".1%")
    return _layout(fig, f"What {result.policy} would have earned (95% bootstrap CI)", "Positive rate", "")
