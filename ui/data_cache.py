"""Cached Explore figures of a stored dataset; every key includes the workspace and the content hash."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import streamlit as st

from flywheel_core.data import api as data_api
from flywheel_core.data.api import DatasetInfo, ExploreResult
from ui.context import AppContext
from ui.resources import get_store


def _bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    return (
        datetime.combine(start, time()) if start else None,
        datetime.combine(end + timedelta(days=1), time()) if end else None,
    )


@st.cache_data(
    max_entries=16, show_spinner="Computing the profile…", hash_funcs={DatasetInfo: lambda d: d.content_hash}
)
def _explore(
    workspace_id: int, dataset: DatasetInfo, start: date | None, end: date | None, actor: str
) -> ExploreResult | None:
    low, high = _bounds(start, end)
    # from the aggregates stored beside the events (kilobytes), not from every event
    return data_api.explore_dataset(
        get_store(), workspace_id=workspace_id, name=dataset.name, actor=actor, start=low, end=high
    )


def explore(ctx: AppContext, dataset: DatasetInfo, start: date | None, end: date | None) -> ExploreResult | None:
    """Every analytic of the Explore view for a dataset and date range (aggregated, small); None when empty."""
    return _explore(ctx.workspace_id, dataset, start, end, ctx.actor)
