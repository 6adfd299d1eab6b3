"""Cached reads of stored events and their analytics; every key includes the workspace and content hash."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from flywheel_core.data import analytics
from flywheel_core.data.signals import SignalDictionary
from flywheel_core.exceptions import InsufficientDataError
from flywheel_core.storage.models import Dataset
from ui.context import AppContext, get_store


@st.cache_data(max_entries=2, show_spinner="Loading events…")
def _events(workspace_id: int, name: str, content_hash: str) -> pd.DataFrame:
    store = get_store()
    dataset = store.get_dataset(workspace_id=workspace_id, name=name)
    return store.read_dataset_file(dataset, columns=list(analytics.ANALYSIS_COLUMNS))


def events_for(ctx: AppContext, dataset: Dataset) -> pd.DataFrame:
    return _events(ctx.workspace_id, dataset.name, dataset.content_hash)


def _bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    return (
        datetime.combine(start, time()) if start else None,
        datetime.combine(end + timedelta(days=1), time()) if end else None,
    )


@st.cache_data(max_entries=16, show_spinner="Computing the profile…")
def explore(
    workspace_id: int, name: str, content_hash: str, start: date | None, end: date | None, signals: dict
) -> dict[str, object]:
    """Every analytic of the Explore view for a dataset and date range (aggregated, small)."""
    events = analytics.filter_dates(_events(workspace_id, name, content_hash), *_bounds(start, end))
    dictionary = SignalDictionary.from_json(signals)
    results: dict[str, object] = {}
    if len(events) == 0:
        return results
    span_days = (events["timestamp"].max() - events["timestamp"].min()).days
    freq = "D" if span_days <= 120 else "W"
    results["profile"] = analytics.profile_events(events, dictionary)
    results["freq"] = "day" if freq == "D" else "week"
    results["over_time"] = analytics.events_over_time(events, dictionary, freq)
    results["activity"] = analytics.active_users(events)
    results["retention"] = analytics.retention_cohorts(events)
    results["new_returning"] = analytics.new_vs_returning(events)
    results["outliers"] = analytics.user_outliers(events)
    for key, func in (("long_tail", analytics.item_long_tail), ("ratings", analytics.rating_bias)):
        try:
            results[key] = func(events, dictionary)
        except InsufficientDataError as error:
            results[key] = str(error)
    return results
