"""Figures of learning curves and simulations: fitted curves, Monte Carlo bands and the tornado chart.

Every builder takes result objects from :mod:`flywheel_core.curves` and :mod:`flywheel_core.simulate`
(already aggregated: curves on a fixed grid, simulations as weekly percentile bands thinned to at most
~400 points) and returns a titled figure. The Compounding vs plateau page and the report's learning curve
are the same :func:`curve_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from flywheel_core.charts.palette import BAD, GOOD, INK, REFERENCE, SERIES_COLORS, verdict_color

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from flywheel_core.curves.forecast import CurveForecast
    from flywheel_core.curves.judge import CurveReport
    from flywheel_core.simulate.flywheel import SimulationResult
    from flywheel_core.simulate.scenarios import SensitivityReport

__all__ = ["MAX_POINTS", "curve_figure", "simulation_figure", "tornado_figure"]

_NAMES = {
    "power": "power law + ceiling",
    "saturating_exp": "saturating exponential",
    "logistic": "logistic (S-curve)",
    "log_linear": "log-linear",
    "exponential": "exponential growth",
    "linear": "linear",
}
MAX_POINTS = 400


def _grid(report: CurveReport, forecast: CurveForecast | None) -> np.ndarray:
    lo = float(report.x[0])
    hi = float(forecast.x[-1]) if forecast is not None else float(report.x[-1])
    if lo > 0 and hi / lo > 20:
        return np.geomspace(lo, hi, 200)
    return np.linspace(lo, hi, 200)


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[j : j + 2], 16) for j in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def curve_figure(
    report: CurveReport, forecast: CurveForecast | None = None, *, x_label: str = "x", y_label: str = "metric"
) -> go.Figure:
    """Points, every candidate fitted (the chosen one bold), the forecast band and the ceiling."""
    import plotly.graph_objects as go

    fig = go.Figure()
    grid = _grid(report, forecast)
    if forecast is not None:
        fig.add_trace(go.Scatter(x=forecast.x, y=forecast.high, line={"width": 0}, showlegend=False, hoverinfo="skip"))
        fig.add_trace(
            go.Scatter(
                x=forecast.x,
                y=forecast.low,
                fill="tonexty",
                line={"width": 0},
                fillcolor=_rgba(SERIES_COLORS[0], 0.18),
                name=f"forecast band ({forecast.level:.0%})",
            )
        )
    for i, cand in enumerate(sorted(report.candidates, key=lambda c: -c.weight)):
        chosen = cand.model == report.model
        with np.errstate(all="ignore"):
            y = report.predict(grid, model=cand.model)
        label = f"{_NAMES[cand.model]} (weight {cand.weight:.0%})" if report.rule == "aicc" else _NAMES[cand.model]
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        fig.add_trace(
            go.Scatter(
                x=grid,
                y=[float(v) if np.isfinite(v) else None for v in y],
                mode="lines",
                name=label + (" ← chosen" if chosen else ""),
                line={"width": 3 if chosen else 1, "dash": "solid" if chosen else "dot", "color": color},
                visible=True if chosen or cand.weight > 0.01 else "legendonly",
            )
        )
    fig.add_trace(go.Scatter(x=report.x, y=report.y, mode="markers", name="measured", marker={"size": 9, "color": INK}))
    if report.asymptote is not None:
        fig.add_hline(
            y=report.asymptote,
            line_dash="dash",
            line_color=REFERENCE,
            annotation_text=f"fitted ceiling {report.asymptote:.4g}",
        )
    color = verdict_color(report.verdict)
    fig.update_layout(
        title={"text": f"{y_label} vs {x_label}: <span style='color:{color}'>{report.verdict.label.lower()}</span>"},
        xaxis_title=x_label,
        yaxis_title=y_label,
        legend={"orientation": "h", "y": -0.25},
        height=460,
        margin={"t": 60, "b": 10},
    )
    if report.x[0] > 0 and report.x[-1] / report.x[0] > 20:
        fig.update_xaxes(type="log")
    # Keep the data in view: a wide bootstrap band (few points) is clipped rather than squashing the points.
    seen = np.concatenate([report.y, forecast.y if forecast is not None else report.y])
    seen = seen[np.isfinite(seen)]
    if report.asymptote is not None:
        seen = np.append(seen, report.asymptote)
    lo, hi = float(seen.min()), float(seen.max())
    pad = 0.15 * (hi - lo) or 0.05 * abs(hi) or 1.0
    fig.update_yaxes(range=[lo - pad, hi + pad])
    return fig


def _thin(n: int) -> np.ndarray:
    step = max(1, int(np.ceil(n / MAX_POINTS)))
    idx = np.arange(0, n, step)
    return idx if idx[-1] == n - 1 else np.append(idx, n - 1)


_SERIES_LABELS = {
    "product_quality": "product quality (0–1)",
    "model_quality": "model quality (0–1)",
    "users": "users",
    "usable_rows": "usable training rows",
}


def simulation_figure(results: Sequence[SimulationResult], *, series: str = "product_quality") -> go.Figure:
    """Median line and 5–95% Monte Carlo band per scenario, weeks on x."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, result in enumerate(results):
        idx = _thin(len(result.weeks))
        weeks = result.weeks[idx]
        low, mid, high = (result.bands[series][k, idx] for k in range(3))
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        fig.add_trace(go.Scatter(x=weeks, y=high, line={"width": 0}, showlegend=False, hoverinfo="skip"))
        fig.add_trace(
            go.Scatter(
                x=weeks,
                y=low,
                fill="tonexty",
                line={"width": 0},
                fillcolor=_rgba(color, 0.18),
                name=f"{result.scenario}: 5–95% of {result.runs:,} runs",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=weeks,
                y=mid,
                mode="lines",
                line={"color": color, "width": 2.5},
                name=f"{result.scenario}: median ({result.verdict.verdict.label.lower()})",
            )
        )
    label = _SERIES_LABELS.get(series, series)
    fig.update_layout(
        title={"text": f"Simulated {label} by week"},
        xaxis_title="week",
        yaxis_title=label,
        height=420,
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 60, "b": 10},
    )
    if series in ("users", "usable_rows"):
        fig.update_yaxes(type="log")
    return fig


def tornado_figure(report: SensitivityReport) -> go.Figure:
    """Change in the outcome when each component is weakened (left) or strengthened (right)."""
    import plotly.graph_objects as go

    rows = list(reversed(report.rows))
    names = [r.component for r in rows]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            y=names,
            x=[r.weakened - report.baseline for r in rows],
            orientation="h",
            name="weakened ×0.5",
            marker_color=BAD,
        )
    )
    fig.add_trace(
        go.Bar(
            y=names,
            x=[r.strengthened - report.baseline for r in rows],
            orientation="h",
            name="strengthened ×2",
            marker_color=GOOD,
        )
    )
    fig.update_layout(
        title={"text": f"Which component drags most: change in {report.outcome} (baseline {report.baseline:.3f})"},
        xaxis_title="change in median product quality (0–1 scale)",
        yaxis_title="component",
        barmode="overlay",
        height=380,
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 60, "b": 10},
    )
    return fig
