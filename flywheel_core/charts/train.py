"""Figures of model versions: a metric by version, ROC / PR / calibration on the holdout, experiments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flywheel_core.charts.palette import REFERENCE

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["calibration_chart", "experiment_chart", "metric_by_version_chart", "metric_label", "pr_chart", "roc_chart"]

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
    fig.update_layout(
        title=title,
        xaxis_title=x,
        yaxis_title=y,
        height=380,
        margin={"t": 60, "b": 40},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def metric_by_version_chart(rows: list[dict[str, Any]], metric: str) -> go.Figure:
    """One line per training run: the metric at each version, with the turn's target PSI as bars."""
    import plotly.graph_objects as go

    fig = go.Figure()
    runs: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        runs.setdefault(f"{row['algorithm']} · run {row['run'][:6]}", []).append(row)
    for name, run in runs.items():
        fig.add_trace(
            go.Scatter(
                x=[r["version"] for r in run],
                y=[r.get(metric) for r in run],
                mode="lines+markers",
                name=name,
                text=[f"turn {r['turn']}" for r in run],
            )
        )
    psi = [(r["version"], r.get("max_feature_psi")) for r in rows if r.get("max_feature_psi") is not None]
    if psi:
        fig.add_trace(
            go.Bar(
                x=[p[0] for p in psi],
                y=[p[1] for p in psi],
                name="largest feature PSI (drift)",
                yaxis="y2",
                opacity=0.3,
            )
        )
        fig.update_layout(yaxis2={"title": "PSI (drift from earlier turns)", "overlaying": "y", "side": "right"})
    fig.update_xaxes(dtick=1)
    return _layout(fig, f"{metric_label(metric)} by model version", "Model version", metric_label(metric))


def roc_chart(curves: dict[int, dict[str, Any]]) -> go.Figure:
    """ROC curve of each version on the holdout, with the chance line."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for version, c in curves.items():
        if c.get("roc"):
            fig.add_trace(go.Scatter(x=c["roc"]["fpr"], y=c["roc"]["tpr"], mode="lines", name=f"v{version}"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot", "color": REFERENCE}))
    return _layout(fig, "ROC curve on the holdout", "False positive rate", "True positive rate")


def pr_chart(curves: dict[int, dict[str, Any]]) -> go.Figure:
    """Precision against recall of each version on the holdout."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for version, c in curves.items():
        if c.get("pr"):
            fig.add_trace(go.Scatter(x=c["pr"]["recall"], y=c["pr"]["precision"], mode="lines", name=f"v{version}"))
    return _layout(fig, "Precision-recall on the holdout", "Recall", "Precision")


def calibration_chart(curves: dict[int, dict[str, Any]]) -> go.Figure:
    """Observed positive rate against predicted probability, per version, with the perfect diagonal."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for version, c in curves.items():
        if c.get("calibration"):
            cal = c["calibration"]
            fig.add_trace(go.Scatter(x=cal["predicted"], y=cal["observed"], mode="lines+markers", name=f"v{version}"))
    line = {"dash": "dot", "color": REFERENCE}
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line=line))
    return _layout(fig, "Calibration on the holdout (10 bins)", "Predicted probability", "Observed positive rate")


def experiment_chart(result: dict[str, Any]) -> go.Figure:
    """Lines over turns, or grouped bars for experiments whose arms are not turns."""
    import plotly.graph_objects as go

    fig = go.Figure()
    categorical = any(isinstance(x, str) for x in result["x"])
    for name, values in result["series"].items():
        if categorical:
            fig.add_trace(go.Bar(x=result["x"], y=values, name=name))
        else:
            fig.add_trace(go.Scatter(x=result["x"], y=values, mode="lines+markers", name=name))
    if categorical:
        fig.update_layout(barmode="group")
    else:
        fig.update_xaxes(dtick=1)
    return _layout(fig, result["title"], result["x_label"], result["y_label"])
