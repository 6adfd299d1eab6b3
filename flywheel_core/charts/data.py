"""Figures of interaction data: events by signal class, active users, retention, the long tail, outliers.

Built from already-aggregated results of :mod:`flywheel_core.data.analytics`; the Interaction data page and
the workspace report draw the same figures from the same builders. ``subject`` (a dataset's name) is added
to a title where several datasets share one document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flywheel_core.charts.palette import ACTIVITY_COLORS, BAD, NEW_RETURNING_COLORS, SIGNAL_COLORS, THEME

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from flywheel_core.data.analytics import ActivityResult, LongTailResult, RatingBiasResult

__all__ = [
    "ACTIVITY_TRACES",
    "activity",
    "events_over_time",
    "events_per_user",
    "long_tail",
    "new_vs_returning",
    "rating_distribution",
    "retention",
    "signal_mix",
]

ACTIVITY_TRACES = (("mau", "MAU (30 days)"), ("wau", "WAU (7 days)"), ("dau", "DAU"))
"""The active-users lines, (column of ``ActivityResult.daily``, legend name), drawn in this order."""


def _titled(title: str, subject: str | None) -> str:
    return title if not subject else f"{title}: {subject}"


def _style(fig: go.Figure, title: str, x: str, y: str, height: int = 340) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0},
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend_title_text="",
        template="plotly_white",
        xaxis_title=x,
        yaxis_title=y,
        separators=".,",
    )
    return fig


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
    title = _titled(f"Events per {freq_label} by signal", subject)
    return _style(fig, title, freq_label.capitalize() + " (UTC)", "Events")


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
    fig.update_layout(showlegend=False)
    return _style(fig, "Signal mix: explicit vs implicit, by polarity", "Events", "", height=300)


def activity(result: ActivityResult, *, subject: str | None = None) -> go.Figure:
    """Daily, weekly and monthly active users, the DAU/MAU stickiness in the title."""
    import plotly.graph_objects as go

    daily = result.daily
    fig = go.Figure()
    for column, name in ACTIVITY_TRACES:
        fig.add_scatter(
            x=daily["date"], y=daily[column], mode="lines", name=name, line={"color": ACTIVITY_COLORS[column]}
        )
    title = f"{_titled('Active users', subject)} · DAU/MAU stickiness {result.dau_mau:.0%}"
    return _style(fig, title, "Date (UTC)", "Distinct users")


def retention(cohorts: pd.DataFrame) -> go.Figure:
    """Weekly retention by first-week cohort, as a heatmap."""
    import plotly.graph_objects as go

    weeks = [c for c in cohorts.columns if c.startswith("week ")]
    labels = [f"{d:%Y-%m-%d} ({n:,})" for d, n in zip(cohorts["cohort"], cohorts["users"], strict=True)]
    fig = go.Figure(
        go.Heatmap(
            z=cohorts[weeks].to_numpy() * 100,
            x=weeks,
            y=labels,
            colorscale="Greens",
            zmin=0,
            zmax=100,
            colorbar={"title": "% active"},
            hovertemplate="%{y}<br>%{x}: %{z:.1f}% active<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _style(
        fig,
        "Weekly retention by first-week cohort",
        "Weeks since first activity",
        "Cohort (users)",
        height=max(320, 22 * len(labels) + 120),
    )


def new_vs_returning(frame: pd.DataFrame) -> go.Figure:
    """New and returning users per week, as stacked bars."""
    import plotly.express as px

    long = frame.melt(id_vars="week", value_vars=["new", "returning"], var_name="users", value_name="count")
    fig = px.bar(long, x="week", y="count", color="users", color_discrete_map=dict(NEW_RETURNING_COLORS))
    return _style(fig, "New vs returning users per week", "Week (UTC)", "Users")


def long_tail(result: LongTailResult) -> go.Figure:
    """Cumulative share of events against the share of items, most popular first."""
    import plotly.graph_objects as go

    curve = result.curve
    fig = go.Figure(
        go.Scatter(
            x=curve["item_share"] * 100,
            y=curve["event_share"] * 100,
            mode="lines",
            line={"color": THEME},
            name="cumulative share",
        )
    )
    fig.add_vline(x=20, line_dash="dot", annotation_text=f"top 20% of items: {result.head_share:.0%} of events")
    return _style(
        fig,
        f"Item popularity long tail · catalog coverage {result.catalog_coverage:.0%}",
        "Items, most popular first (%)",
        "Cumulative share of events (%)",
    )


def rating_distribution(result: RatingBiasResult) -> go.Figure:
    """How explicit ratings spread over their values."""
    import plotly.express as px

    frame = result.distribution
    fig = px.bar(frame, x="value", y="count", text=frame["share"].map(lambda s: f"{s:.0%}"))
    fig.update_traces(marker_color=THEME)
    return _style(
        fig,
        f"Explicit ratings · {result.extreme_share:.0%} at the extremes ({result.bias:.1f}× a uniform spread)",
        "Rating value",
        "Ratings",
    )


def events_per_user(users: pd.DataFrame) -> go.Figure:
    """Histogram of events per user, flagged outliers in the warning colour."""
    import plotly.express as px

    frame = users.assign(kind=users["outlier"].map({True: "flagged outlier", False: "typical"}))
    fig = px.histogram(
        frame,
        x="events",
        color="kind",
        nbins=60,
        log_y=True,
        color_discrete_map={"typical": SIGNAL_COLORS["implicit positive"], "flagged outlier": BAD},
    )
    return _style(fig, "Events per user (outliers: bots or poisoning?)", "Events per user", "Users (log scale)")
