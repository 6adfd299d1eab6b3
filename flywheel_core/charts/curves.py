"""Figures of learning curves and simulations: fitted curves, Monte Carlo bands and the tornado chart.

Every builder takes result objects from :mod:`flywheel_core.curves` and :mod:`flywheel_core.simulate`
(already aggregated: curves on a fixed grid, simulations as weekly percentile bands thinned to at most
~400 points) and returns a titled figure. The Compounding vs plateau page and the report's learning curve
are the same :func:`curve_figure`. Measured points always stay legible: the y axis shows their span with
some headroom, and a forecast that runs far beyond it is clipped and its end named in a note, never
allowed to squash the data to a flat line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from flywheel_core.charts.layout import log_axis, style_figure
from flywheel_core.charts.palette import BAD, GOOD, INK, MUTED, REFERENCE, SERIES_COLORS, verdict_color
from flywheel_core.numbers import compact_number

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from flywheel_core.curves.forecast import CurveForecast
    from flywheel_core.curves.judge import CurveReport
    from flywheel_core.simulate.flywheel import SimulationResult
    from flywheel_core.simulate.scenarios import SensitivityReport

__all__ = ["HEADROOM_SPANS", "MAX_POINTS", "curve_figure", "curve_view", "simulation_figure", "tornado_figure"]

_NAMES = {
    "power": "power law + ceiling",
    "saturating_exp": "saturating exponential",
    "logistic": "logistic (S-curve)",
    "log_linear": "log-linear",
    "exponential": "exponential growth",
    "linear": "linear",
}
MAX_POINTS = 400
HEADROOM_SPANS = 1.0
"""How far beyond the measured span (in spans) the y axis may reach to show a forecast or a ceiling."""


def _grid(report: CurveReport, forecast: CurveForecast | None) -> np.ndarray:
    lo = float(report.x[0])
    hi = float(forecast.x[-1]) if forecast is not None else float(report.x[-1])
    if lo > 0 and hi / lo > 20:
        return np.geomspace(lo, hi, 200)
    return np.linspace(lo, hi, 200)


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[j : j + 2], 16) for j in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def curve_view(report: CurveReport, forecast: CurveForecast | None = None) -> tuple[float, float]:
    """The y range of :func:`curve_figure`: the measured span with headroom, widened toward the forecast and
    the fitted ceiling by at most :data:`HEADROOM_SPANS` spans, so the measured points are never squashed."""
    measured = np.asarray(report.y, dtype=float)
    measured = measured[np.isfinite(measured)]
    lo, hi = float(measured.min()), float(measured.max())
    span = (hi - lo) or 0.1 * abs(hi) or 1.0
    view_lo, view_hi = lo - 0.12 * span, hi + 0.12 * span
    cap_lo, cap_hi = lo - HEADROOM_SPANS * span, hi + HEADROOM_SPANS * span
    extras = [] if forecast is None else [float(v) for v in forecast.y if np.isfinite(v)]
    if report.asymptote is not None and np.isfinite(report.asymptote):
        extras.append(float(report.asymptote))
    for v in extras:
        view_lo, view_hi = min(view_lo, max(v, cap_lo)), max(view_hi, min(v, cap_hi))
    pad = 0.05 * (view_hi - view_lo)
    view_lo, view_hi = view_lo - pad * (view_lo < lo - 0.12 * span), view_hi + pad * (view_hi > hi + 0.12 * span)
    if report.bounds is not None:
        b_lo, b_hi = report.bounds
        edge = 0.02 * (b_hi - b_lo)
        view_lo, view_hi = max(view_lo, b_lo - edge), min(view_hi, b_hi + edge)
    return view_lo, view_hi


def curve_figure(
    report: CurveReport, forecast: CurveForecast | None = None, *, x_label: str = "x", y_label: str = "metric"
) -> go.Figure:
    """Points, every candidate fitted (the chosen one bold), the forecast band and the ceiling.

    The y axis is :func:`curve_view`; a forecast or a ceiling beyond it is named in a note under the title.
    """
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
                hoverinfo="skip",
            )
        )
    for i, cand in enumerate(sorted(report.candidates, key=lambda c: -c.weight)):
        chosen = cand.model == report.model
        with np.errstate(all="ignore"):
            y = report.predict(grid, model=cand.model)
        label = f"{_NAMES[cand.model]} (weight {cand.weight:.0%})" if report.rule == "aicc" else _NAMES[cand.model]
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        values = [float(v) if np.isfinite(v) else None for v in y]
        fig.add_trace(
            go.Scatter(
                x=grid,
                y=values,
                mode="lines",
                name=label + (" ← chosen" if chosen else ""),
                line={"width": 3 if chosen else 1, "dash": "solid" if chosen else "dot", "color": color},
                visible=True if chosen or cand.weight > 0.01 else "legendonly",
                customdata=[compact_number(v, 4) if v is not None else "" for v in values],
                hovertemplate=f"{_NAMES[cand.model]}: %{{customdata}}<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=report.x,
            y=report.y,
            mode="markers",
            name="measured",
            marker={"size": 9, "color": INK},
            customdata=[
                [compact_number(float(a), 4), compact_number(float(b), 4)]
                for a, b in zip(report.x, report.y, strict=True)
            ],
            hovertemplate=f"{x_label} %{{customdata[0]}}: {y_label} %{{customdata[1]}}<extra>measured</extra>",
        )
    )
    view_lo, view_hi = curve_view(report, forecast)
    beyond: list[str] = []
    if forecast is not None and len(forecast.y) and np.isfinite(forecast.y[-1]):
        end = float(forecast.y[-1])
        if not view_lo <= end <= view_hi:
            beyond.append(f"the forecast reaches {compact_number(end)} by x = {compact_number(float(forecast.x[-1]))}")
    if report.asymptote is not None:
        ceiling = compact_number(report.asymptote, 4)
        if view_lo <= report.asymptote <= view_hi:
            fig.add_hline(
                y=report.asymptote, line_dash="dash", line_color=REFERENCE, annotation_text=f"fitted ceiling {ceiling}"
            )
        else:
            beyond.append(f"the fitted ceiling is {ceiling}")
    color = verdict_color(report.verdict)
    said = "; ".join(beyond)
    note = f"<span style='color:{MUTED}'>Off the chart: {said} (double-click to see it all)</span>" if beyond else None
    style_figure(
        fig,
        f"{y_label} vs {x_label}: <span style='color:{color}'>{report.verdict.label.lower()}</span>",
        subtitle=note,
        x=x_label,
        y=y_label,
        height=480,
        legend="below",
    )
    if report.x[0] > 0 and report.x[-1] / report.x[0] > 20:
        xs = [*report.x, *(forecast.x if forecast is not None else [])]
        log_axis(fig, "x", xs)
    fig.update_yaxes(range=[view_lo, view_hi])
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
    style_figure(fig, f"Simulated {label} by week", x="week", y=label, height=440, legend="below")
    if series in ("users", "usable_rows"):
        shown = [float(v) for r in results for v in np.asarray(r.bands[series]).ravel()]
        log_axis(fig, "y", shown)
    return fig


def tornado_figure(report: SensitivityReport) -> go.Figure:
    """Change in the outcome when each component is weakened (left) or strengthened (right)."""
    import plotly.graph_objects as go

    rows = list(reversed(report.rows))
    names = [r.label for r in rows]
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
    fig.update_layout(barmode="overlay")
    fig.update_traces(hovertemplate="%{y}: %{x:+.3f}<extra>%{fullData.name}</extra>")
    return style_figure(
        fig,
        f"Which component drags most: change in {report.outcome} (baseline {report.baseline:.3f})",
        subtitle="the simulator's parameters halved and doubled one at a time "
        "(the loop map's weakest stage reads your answers instead)",
        x="change in median product quality (0–1 scale)",
        y="component",
        height=400,
        legend="below",
    )
