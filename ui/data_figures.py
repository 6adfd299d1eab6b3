"""The Explore view's figures, each built once from a date range's aggregated results (``ui.data_cache``).

A figure that would mislead for the data (``InsufficientDataError`` from the chart builder) is kept as the
sentence the page shows in its place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from flywheel_core.charts import data as charts
from flywheel_core.data.api import ExploreResult
from flywheel_core.exceptions import InsufficientDataError

Figure = Any  # a plotly figure from flywheel_core.charts (ui/ imports no plotly of its own)


@dataclass(frozen=True)
class Shown:
    """A figure, or why there is none (``note``)."""

    figure: Figure | None
    note: str = ""


@dataclass(frozen=True)
class ExploreView:
    """One date range of a dataset: its results and the Explore view's figures, each built on first use and
    kept (the first chart goes to the browser while the next is built). Shared: never mutate."""

    result: ExploreResult

    @cached_property
    def over_time(self) -> Figure:
        return charts.events_over_time(self.result.over_time, self.result.freq)

    @cached_property
    def signal_mix(self) -> Figure:
        return charts.signal_mix(self.result.over_time)

    @cached_property
    def activity(self) -> Figure:
        return charts.activity(self.result.activity)

    @cached_property
    def new_returning(self) -> Figure:
        return charts.new_vs_returning(self.result.new_returning)

    @cached_property
    def retention(self) -> Shown:
        return _shown(lambda: charts.retention(self.result.retention))

    @cached_property
    def retention_curve(self) -> Shown:
        if self.retention.figure is None:
            return self.retention
        return _shown(lambda: charts.retention_curve(self.result.retention))

    @cached_property
    def long_tail(self) -> Shown:
        tail = self.result.long_tail
        return Shown(None, self.result.long_tail_note) if tail is None else _shown(lambda: charts.long_tail(tail))

    @cached_property
    def ratings(self) -> Shown:
        ratings = self.result.ratings
        return Shown(None, self.result.ratings_note) if ratings is None else Shown(charts.rating_distribution(ratings))

    @cached_property
    def events_per_user(self) -> Figure:
        return charts.events_per_user(self.result.outliers)


def _shown(build: Callable[[], Figure]) -> Shown:
    try:
        return Shown(build())
    except InsufficientDataError as why:
        return Shown(None, str(why))
