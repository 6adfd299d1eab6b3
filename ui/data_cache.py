"""Cached reads of stored events and their analytics; every key includes the workspace and content hash."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from flywheel_core.data import api as data_api
from flywheel_core.data.api import DatasetInfo, ExploreResult
from ui.context import AppContext
from ui.resources import get_store


@st.cache_data(max_entries=2, show_spinner="Loading events…")
def _events(workspace_id: int, name: str, content_hash: str, actor: str) -> pd.DataFrame:
    return data_api.read_analysis_events(get_store(), workspace_id=workspace_id, name=name, actor=actor)


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
    events = _events(workspace_id, dataset.name, dataset.content_hash, actor)
    return data_api.explore_events(events, dataset.signals, start=_bounds(start, end)[0], end=_bounds(start, end)[1])


def explore(ctx: AppContext, dataset: DatasetInfo, start: date | None, end: date | None) -> ExploreResult | None:
    """Every analytic of the Explore view for a dataset and date range (aggregated, small); None when empty."""
    return _explore(ctx.workspace_id, dataset, start, end, ctx.actor)
