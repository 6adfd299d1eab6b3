"""Figures of interaction data: events by signal class, active users, retention, the long tail, outliers.

Built from already-aggregated results of :mod:`flywheel_core.data.analytics`; the Interaction data page and
the workspace report draw the same figures from the same builders. ``subject`` (a dataset's name) is added
to a title where several datasets share one document. A chart that would mislead for the data given (a long
tail of one item, a retention table with no week after the first) raises :class:`InsufficientDataError`
with a sentence the page shows instead. Every figure is laid out by :func:`flywheel_core.charts.layout.style_figure`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from flywheel_core.charts.layout import date_axis, log_axis, style_figure
from flywheel_core.charts.palette import (
    ACTIVITY_COLORS,
    BAD,
    MUTED,
    NEW_RETURNING_COLORS,
    RETENTION_SCALE,
    RETENTION_WEEK0,
    SIGNAL_COLORS,
    THEME,
)
from flywheel_core.exceptions import InsufficientDataError
from flywheel_core.numbers import counted

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from flywheel_core.data.analytics import ActivityResult, LongTailResult, RatingBiasResult

__all__ = [
    "ACTIVITY_TRACES",
    "CATALOG_COVERAGE",
    "LONG_TAIL_MIN_ITEMS",
    "activity",
    "events_over_time",
    "events_per_user",
    "long_tail",
    "new_vs_returning",
    "rating_distribution",
    "retention",
    "retention_curve",
    "retention_scale",
    "signal_mix",
]

ACTIVITY_TRACES = (("mau", "MAU (30 days)"), ("wau", "WAU (7 days)"), ("dau", "DAU"))
"""The active-users lines, (column of ``ActivityResult.daily``, legend name), drawn in this order."""
_CHECKPOINTS = (1, 4, 8, 12)  # the retention curve's labelled weeks: first, a month, two, three
LONG_TAIL_MIN_ITEMS = 5
"""Fewer items than this have no tail: the top 20% would be less than one item."""
CATALOG_COVERAGE = "items with a positive interaction"
"""What "catalog coverage" means (the share of items with at least one positive interaction), said wherever
the figure shows it."""


def _titled(title: str, subject: str | None) -> str:
    return title if not subject else f"{title}: {subject}"


def events_over_time(counts: pd.DataFrame, freq_label: str, *, subject: str | None = None) -> go.Figure:
    """Events per period, stacked by signal class (``counts``: period, signal, events)."""
    import plotly.express as px

    fig = px.area(
        counts,
        x="period",
        y="events",
        color="signal",
        color_discrete_map=dict(SIGNAL_COLORS),
        category_orders={"signal": list(SIGNAL_COLORS)},
    )
    fig.update_traces(hovertemplate="%{x|%b %d, %Y}: %{y:,} events<extra>%{fullData.name}</extra>")
    title = _titled(f"Events per {freq_label} by signal", subject)
    style_figure(fig, title, x=freq_label.capitalize() + " (UTC)", y="Events")
    return date_axis(fig)


def signal_mix(counts: pd.DataFrame) -> go.Figure:
    """Total events per signal class, as horizontal bars."""
    import plotly.express as px

    totals = counts.groupby("signal", observed=True)["events"].sum().reset_index()
    fig = px.bar(
        totals,
        x="events",
        y="signal",
        orientation="h",
        color="signal",
        color_discrete_map=dict(SIGNAL_COLORS),
        text_auto=",.0f",
    )
    fig.update_traces(hovertemplate="%{y}: %{x:,} events<extra></extra>")
    return style_figure(fig, "Signal mix", subtitle="by kind and polarity", x="Events", y="", height=300, legend="none")


def activity(result: ActivityResult, *, subject: str | None = None) -> go.Figure:
    """Daily, weekly and monthly active users, the DAU/MAU stickiness in the title."""
    import plotly.graph_objects as go

    daily = result.daily
    fig = go.Figure()
    for column, name in ACTIVITY_TRACES:
        fig.add_scatter(
            x=daily["date"],
            y=daily[column],
            mode="lines",
            name=name,
            line={"color": ACTIVITY_COLORS[column]},
            hovertemplate="%{x|%b %d, %Y}: %{y:,} users<extra>%{fullData.name}</extra>",
        )
    title = f"{_titled('Active users', subject)} · DAU/MAU stickiness {result.dau_mau:.0%}"
    style_figure(fig, title, x="Date (UTC)", y="Distinct users")
    return date_axis(fig)


def retention_scale(cohorts: pd.DataFrame) -> tuple[float, float]:
    """The heatmap's colour range in percent: 0 to the highest retention after week 0, rounded up to 5.

    Week 0 is 100% by definition; on the same scale every later week would be near-white.
    """
    later = [c for c in _weeks(cohorts) if c != "week 0"]
    values = cohorts[later].to_numpy(dtype=float) * 100 if later else np.array([])
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if finite.size else 0.0
    return 0.0, float(min(100.0, max(5.0, 5 * np.ceil(top / 5))))


def _weeks(cohorts: pd.DataFrame) -> list[str]:
    return [c for c in cohorts.columns if str(c).startswith("week ")]


def _check_retention(cohorts: pd.DataFrame) -> None:
    later = [c for c in _weeks(cohorts) if c != "week 0"]
    if cohorts.empty or not later or not np.isfinite(cohorts[later].to_numpy(dtype=float)).any():
        raise InsufficientDataError(
            "Retention needs users seen in at least two different weeks; these events span one week. "
            "Widen the date range or add more days of events."
        )


def _cell(value: float) -> str:
    return "" if not np.isfinite(value) else f"{value:.0f}%" if value >= 9.95 or value == 0 else f"{value:.1f}%"


def retention(cohorts: pd.DataFrame) -> go.Figure:
    """Weekly retention by first-week cohort: a percentage in every cell, coloured on a scale without week 0.

    Week 0 (100% by definition) is drawn in grey beside the coloured weeks 1 onward, whose scale runs from
    0 to their own highest value (:func:`retention_scale`).

    Raises:
        InsufficientDataError: no cohort has a week after its first.
    """
    import plotly.graph_objects as go

    _check_retention(cohorts)
    weeks = _weeks(cohorts)
    numbers = [int(str(w).split()[1]) for w in weeks]
    labels = [f"{d:%b %d, %Y} ({n:,})" for d, n in zip(cohorts["cohort"], cohorts["users"], strict=True)]
    z = cohorts[weeks].to_numpy(dtype=float) * 100
    text = [[_cell(v) for v in row] for row in z]
    zmin, zmax = retention_scale(cohorts)
    common = {"y": labels, "texttemplate": "%{text}", "xgap": 1, "ygap": 1, "showscale": False}
    fig = go.Figure()
    fig.add_trace(
        go.Heatmap(
            z=z[:, :1],
            x=numbers[:1],
            text=[row[:1] for row in text],
            colorscale=[[0, RETENTION_WEEK0], [1, RETENTION_WEEK0]],
            textfont={"color": MUTED, "size": 10},
            hovertemplate="%{y}<br>week 0: 100% (every cohort starts whole)<extra></extra>",
            name="week 0",
            **common,
        )
    )
    fig.add_trace(
        go.Heatmap(
            z=z[:, 1:],
            x=numbers[1:],
            text=[row[1:] for row in text],
            textfont={"size": 10},
            colorscale=RETENTION_SCALE,
            zmin=zmin,
            zmax=zmax,
            hovertemplate="%{y}<br>week %{x}: %{z:.1f}% active<extra></extra>",
            name="weeks 1 on",
            **common,
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(tickmode="array", tickvals=numbers, ticktext=[str(n) for n in numbers], showgrid=False)
    return style_figure(
        fig,
        "Weekly retention by first-week cohort",
        subtitle=f"% of each cohort active N weeks later · colours span weeks 1+ (0–{zmax:.0f}%)",
        x="Weeks since first activity",
        y="Cohort (users)",
        height=max(340, 22 * len(labels) + 150),
    )


def retention_curve(cohorts: pd.DataFrame) -> go.Figure:
    """Retention by weeks since first activity, all cohorts together (each weighted by its users).

    A week counts only the cohorts old enough to have reached it, so young cohorts do not pull it to zero.

    Raises:
        InsufficientDataError: no cohort has a week after its first.
    """
    import plotly.graph_objects as go

    _check_retention(cohorts)
    weeks = _weeks(cohorts)
    shares = cohorts[weeks].to_numpy(dtype=float)
    users = cohorts["users"].to_numpy(dtype=float)[:, None]
    seen = np.isfinite(shares)
    reached = (users * seen).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = np.where(reached > 0, (np.nan_to_num(shares) * users).sum(axis=0) / reached, np.nan) * 100
    keep = reached > 0
    x = [int(str(w).split()[1]) for w in weeks]
    fig = go.Figure(
        go.Scatter(
            x=np.array(x)[keep],
            y=curve[keep],
            mode="lines+markers+text",
            text=[
                f"{v:.0f}%" if w in _CHECKPOINTS else "" for w, v in zip(np.array(x)[keep], curve[keep], strict=True)
            ],
            textposition="top center",
            line={"color": THEME, "width": 2.5},
            customdata=np.stack([reached[keep], seen.sum(axis=0)[keep]], axis=1),
            hovertemplate="week %{x}: %{y:.1f}% active<br>%{customdata[0]:,} users in %{customdata[1]} cohorts"
            "<extra></extra>",
            name="all cohorts",
        )
    )
    fig.update_yaxes(range=[0, 108], ticksuffix="%")
    fig.update_xaxes(tickmode="array", tickvals=[0, *_CHECKPOINTS[1:]], range=[-0.5, max(x) + 1.2])
    return style_figure(
        fig,
        "Retention curve",
        subtitle="all cohorts, weighted by users",
        x="Weeks since first activity",
        y="Users active",
        height=max(340, 22 * len(cohorts) + 150),
        legend="none",
    )


def new_vs_returning(frame: pd.DataFrame) -> go.Figure:
    """New and returning users per week, as stacked bars."""
    import plotly.express as px

    long = frame.melt(id_vars="week", value_vars=["new", "returning"], var_name="users", value_name="count")
    fig = px.bar(long, x="week", y="count", color="users", color_discrete_map=dict(NEW_RETURNING_COLORS))
    fig.update_traces(hovertemplate="week of %{x|%b %d, %Y}: %{y:,} users<extra>%{fullData.name}</extra>")
    style_figure(fig, "New vs returning users per week", x="Week (UTC)", y="Users")
    return date_axis(fig)


def long_tail(result: LongTailResult) -> go.Figure:
    """Cumulative share of events against the share of items, most popular first.

    Raises:
        InsufficientDataError: fewer than :data:`LONG_TAIL_MIN_ITEMS` items, so there is no tail to draw.
    """
    import plotly.graph_objects as go

    if result.items < LONG_TAIL_MIN_ITEMS:
        raise InsufficientDataError(
            f"No long tail to draw: these events touch {counted(result.items, 'item')}, and a popularity curve "
            f"needs at least {LONG_TAIL_MIN_ITEMS} (with fewer, the top 20% is not even one item). "
            "Widen the date range or map the item column."
        )
    curve = result.curve
    fig = go.Figure(
        go.Scatter(
            x=curve["item_share"] * 100,
            y=curve["event_share"] * 100,
            mode="lines",
            line={"color": THEME},
            name="cumulative share",
            hovertemplate="top %{x:.0f}% of items: %{y:.0f}% of events<extra></extra>",
        )
    )
    head_items = counted(int(np.ceil(0.2 * result.items)), "item")
    fig.add_vline(
        x=20,
        line_dash="dot",
        annotation_text=f"top 20% ({head_items}): {result.head_share:.0%} of events",
        annotation_position="bottom right",
    )
    return style_figure(
        fig,
        "Item popularity long tail",
        subtitle=f"catalog coverage {result.catalog_coverage:.0%}: {CATALOG_COVERAGE}",
        x="Items, most popular first (%)",
        y="Cumulative share of events (%)",
        legend="none",
    )


def rating_distribution(result: RatingBiasResult) -> go.Figure:
    """How explicit ratings spread over their values."""
    import plotly.express as px

    frame = result.distribution
    fig = px.bar(frame, x="value", y="count", text=frame["share"].map(lambda s: f"{s:.0%}"))
    fig.update_traces(marker_color=THEME, hovertemplate="rated %{x}: %{y:,} ratings<extra></extra>")
    return style_figure(
        fig,
        "Explicit ratings",
        subtitle=f"{result.extreme_share:.0%} at the extremes ({result.bias:.1f}× a uniform spread)",
        x="Rating value",
        y="Ratings",
    )


def events_per_user(users: pd.DataFrame, *, bins: int = 60) -> go.Figure:
    """Histogram of events per user, flagged outliers in the warning colour.

    Binned here (``bins`` equal-width bins from the fewest to the most events), so the figure holds a bar per
    bin and kind, never a value per user: 90,000 users of a 5M-event log are 120 bars, not 90,000 numbers for
    the browser to bin.
    """
    import plotly.graph_objects as go

    events = users["events"].to_numpy(dtype=np.float64)
    flagged = users["outlier"].to_numpy(dtype=bool)
    edges = np.histogram_bin_edges(events, bins=bins) if len(events) else np.array([0.0, 1.0])
    fig = go.Figure()
    for kind, mask, colour in (
        ("typical", ~flagged, SIGNAL_COLORS["implicit positive"]),
        ("flagged outlier", flagged, BAD),
    ):
        counts, _ = np.histogram(events[mask], bins=edges)
        shown = counts > 0
        if not shown.any():
            continue
        low, high = edges[:-1][shown], edges[1:][shown]
        last = np.arange(len(counts))[shown] == len(counts) - 1  # the only bin that holds its upper edge
        whole = np.column_stack([np.ceil(low), np.where(last, np.floor(high), np.ceil(high) - 1)])
        fig.add_bar(
            x=(low + high) / 2,
            y=counts[shown],
            width=(high - low),
            name=kind,
            marker={"color": colour},
            customdata=whole,
            hovertemplate="%{customdata[0]:,}–%{customdata[1]:,} events: %{y:,} users<extra>%{fullData.name}</extra>",
        )
    fig.update_layout(barmode="stack", bargap=0)
    style_figure(fig, "Events per user (outliers: bots or poisoning?)", x="Events per user", y="Users (log scale)")
    return log_axis(fig, "y", [1, max(1, len(users))])
