"""The Explore view: a date filter and one chart per analytic, all from aggregated results."""

from __future__ import annotations

from datetime import date

import streamlit as st

from flywheel_core.data.api import DatasetInfo
from flywheel_core.numbers import count, percent
from ui.context import AppContext, kept
from ui.data_cache import explore
from ui.text import md_escape


def render_explore(ctx: AppContext, datasets: list[DatasetInfo]) -> None:
    names = [d.name for d in datasets]
    name = st.selectbox("Dataset", names, **kept("data.explore.dataset"))
    dataset = next(d for d in datasets if d.name == name)
    first, last = dataset.first_event, dataset.last_event
    span: tuple[date, date] | None = (first.date(), last.date()) if first and last else None
    picked = st.date_input(
        "Date range (UTC)",
        value=span,
        min_value=first.date() if first else None,
        max_value=last.date() if last else None,
        key="data.explore.dates",
    )
    start, end = picked if isinstance(picked, tuple) and len(picked) == 2 else (None, None)
    view = explore(ctx, dataset, start, end)
    if view is None:
        st.info("No events in this date range. Widen the range.", icon=":material/filter_alt_off:")
        return
    results = view.result
    profile = results.profile
    cols = st.columns(6)
    cols[0].metric("Events", count(profile.events))
    cols[1].metric("Users", count(profile.users))
    cols[2].metric("Items", count(profile.items))
    cols[3].metric(
        "Explicit share", percent(profile.explicit_share), help="Share of events that are explicit feedback."
    )
    cols[4].metric(
        "With feedback",  # "Feedback coverage" is cut off in a sixth of a 1280 px page
        percent(profile.feedback_coverage),
        help="Feedback coverage: the share of interactions that carry any positive or negative feedback.",
    )
    cols[5].metric(
        "DAU/MAU",
        percent(profile.dau_mau),
        help="Stickiness: average daily actives over the last 30 days "
        "divided by monthly actives. Perplexity's 53% far exceeds typical benchmarks.",
    )
    left, right = st.columns([2, 1])
    left.plotly_chart(view.over_time, width="stretch")
    right.plotly_chart(view.signal_mix, width="stretch")
    left, right = st.columns(2)
    left.plotly_chart(view.activity, width="stretch")
    right.plotly_chart(view.new_returning, width="stretch")
    heatmap, curve = st.columns([2, 1])
    if view.retention.figure is not None:
        heatmap.plotly_chart(view.retention.figure, width="stretch")
    if view.retention_curve.figure is not None:
        curve.plotly_chart(view.retention_curve.figure, width="stretch")
    else:  # a chart that would mislead for this data says why instead
        heatmap.info(md_escape(view.retention_curve.note), icon=":material/event_repeat:")
    left, right = st.columns(2)
    with left:
        if results.long_tail is None:
            st.info(results.long_tail_note)
        elif view.long_tail.figure is None:
            st.info(md_escape(view.long_tail.note), icon=":material/bar_chart_off:")
        else:
            st.plotly_chart(view.long_tail.figure, width="stretch")
    with right:
        if view.ratings.figure is None:
            st.info(f"Rating bias: {md_escape(results.ratings_note)}", icon=":material/star_half:")
        else:
            st.plotly_chart(view.ratings.figure, width="stretch")
    outliers = results.outliers
    st.plotly_chart(view.events_per_user, width="stretch")
    bots = outliers[outliers["bot_like"]]
    if len(bots):
        st.warning(
            f"{len(bots):,} users behave like bots: "
            + ", ".join(
                f"{md_escape(str(u))} ({n:,} events)"
                for u, n in zip(bots["user"].head(5), bots["events"].head(5), strict=True)
            )
            + f". {profile.bot_rule} Curation removes them.",
            icon=":material/smart_toy:",
        )
    heavy = outliers[outliers["heavy"] & ~outliers["bot_like"]]
    if len(heavy):
        st.info(
            f"{len(heavy):,} heavy users (not bot-like, kept by curation): "
            + ", ".join(
                f"{md_escape(str(u))} ({n:,} events)"
                for u, n in zip(heavy["user"].head(5), heavy["events"].head(5), strict=True)
            )
            + f". {profile.heavy_rule}",
            icon=":material/person_check:",
        )
