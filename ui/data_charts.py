"""Plotly figures for the Explore view, built from already-aggregated analytics results."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from flywheel_core.data.analytics import ActivityResult, LongTailResult, RatingBiasResult

PALETTE = {
    "explicit positive": "#2F6F5E",
    "implicit positive": "#7FB8A4",
    "explicit negative": "#B5473A",
    "implicit negative": "#E4A08F",
    "explicit neutral": "#8C8C8C",
    "implicit neutral": "#C9C6BD",
    "unknown neutral": "#E2DFD6",
}


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


def events_over_time(counts: pd.DataFrame, freq_label: str) -> go.Figure:
    fig = px.area(
        counts,
        x="period",
        y="events",
        color="signal",
        color_discrete_map=PALETTE,
        category_orders={"signal": list(PALETTE)},
    )
    return _style(fig, f"Events per {freq_label} by signal", freq_label.capitalize() + " (UTC)", "Events")


def signal_mix(counts: pd.DataFrame) -> go.Figure:
    totals = counts.groupby("signal", observed=True)["events"].sum().reset_index()
    fig = px.bar(
        totals, x="events", y="signal", orientation="h", color="signal", color_discrete_map=PALETTE, text_auto=",.0f"
    )
    fig.update_layout(showlegend=False)
    return _style(fig, "Signal mix: explicit vs implicit, by polarity", "Events", "", height=300)


def activity(result: ActivityResult) -> go.Figure:
    daily = result.daily
    fig = go.Figure()
    for column, name in (("mau", "MAU (30 days)"), ("wau", "WAU (7 days)"), ("dau", "DAU")):
        fig.add_scatter(x=daily["date"], y=daily[column], mode="lines", name=name)
    return _style(fig, f"Active users · DAU/MAU stickiness {result.dau_mau:.0%}", "Date (UTC)", "Distinct users")


def retention(cohorts: pd.DataFrame) -> go.Figure:
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
    long = frame.melt(id_vars="week", value_vars=["new", "returning"], var_name="users", value_name="count")
    fig = px.bar(
        long, x="week", y="count", color="users", color_discrete_map={"new": "#E0B04F", "returning": "#2F6F5E"}
    )
    return _style(fig, "New vs returning users per week", "Week (UTC)", "Users")


def long_tail(result: LongTailResult) -> go.Figure:
    curve = result.curve
    fig = go.Figure(
        go.Scatter(
            x=curve["item_share"] * 100,
            y=curve["event_share"] * 100,
            mode="lines",
            line={"color": "#2F6F5E"},
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
    frame = result.distribution
    fig = px.bar(frame, x="value", y="count", text=frame["share"].map(lambda s: f"{s:.0%}"))
    fig.update_traces(marker_color="#2F6F5E")
    return _style(
        fig,
        f"Explicit ratings · {result.extreme_share:.0%} at the extremes ({result.bias:.1f}× a uniform spread)",
        "Rating value",
        "Ratings",
    )


def events_per_user(users: pd.DataFrame) -> go.Figure:
    frame = users.assign(kind=users["outlier"].map({True: "flagged outlier", False: "typical"}))
    fig = px.histogram(
        frame,
        x="events",
        color="kind",
        nbins=60,
        log_y=True,
        color_discrete_map={"typical": "#7FB8A4", "flagged outlier": "#B5473A"},
    )
    return _style(fig, "Events per user (outliers: bots or poisoning?)", "Events per user", "Users (log scale)")
