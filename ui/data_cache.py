"""Cached Explore views of a stored dataset; every key includes the workspace, the actor and the dataset's
content and meanings (its hash, events and signal dictionary version).

A view (the aggregated results, and their plotly figures once drawn) is made once per dataset and date
range and shared as it is (``st.cache_resource``: no copy per rerun, no figure built again); nothing reading
it mutates it. Building the figures is most of a warm page's time (a plotly figure validates every property
it is given), and copying results out of ``st.cache_data`` would unpickle them on every rerun.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import streamlit as st

from flywheel_core.data import api as data_api
from flywheel_core.data.api import DatasetInfo
from ui.context import AppContext
from ui.data_figures import ExploreView
from ui.resources import get_store


def _bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    return (
        datetime.combine(start, time()) if start else None,
        datetime.combine(end + timedelta(days=1), time()) if end else None,
    )


def _dataset_key(dataset: DatasetInfo) -> tuple[int, str, int, int]:
    return (dataset.id, dataset.content_hash, dataset.rows, dataset.signals.version)


@st.cache_resource(max_entries=16, show_spinner="Computing the profile…", hash_funcs={DatasetInfo: _dataset_key})
def _explore(
    workspace_id: int, dataset: DatasetInfo, start: date | None, end: date | None, actor: str
) -> ExploreView | None:
    low, high = _bounds(start, end)
    # from the aggregates stored beside the events (kilobytes), not from every event
    result = data_api.explore_dataset(
        get_store(), workspace_id=workspace_id, name=dataset.name, actor=actor, start=low, end=high
    )
    return None if result is None else ExploreView(result)


def explore(ctx: AppContext, dataset: DatasetInfo, start: date | None, end: date | None) -> ExploreView | None:
    """Every analytic of the Explore view for a dataset and date range, with its figures; None when empty."""
    return _explore(ctx.workspace_id, dataset, start, end, ctx.actor)
