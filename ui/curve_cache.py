"""Curve verdicts and simulations cached by their inputs: a rerun of the curves page does not judge the same
upload or simulate the same flywheel again.

The keys are the uploaded bytes, the simulation's parameters and the options, never workspace data, so sharing
the cache between users shares nothing but what each of them uploaded or chose themselves.
"""

from __future__ import annotations

import streamlit as st

from flywheel_core.curves.sources import SeriesVerdict, judge_series_file
from flywheel_core.simulate.flywheel import SimulationParams, SimulationResult, simulate_flywheel
from flywheel_core.simulate.scenarios import SensitivityReport, sensitivity


@st.cache_data(max_entries=16, show_spinner="Judging every series…")
def judged_series_file(
    data: bytes, *, by: str, x_column: str, y_column: str, higher_is_better: bool, name: str
) -> list[SeriesVerdict]:
    return judge_series_file(
        data, by=by, x_column=x_column, y_column=y_column, higher_is_better=higher_is_better, name=name
    )


@st.cache_resource(max_entries=32, show_spinner=False)
def simulated(params: SimulationParams, *, weeks: int, runs: int, scenario: str) -> SimulationResult:
    """``simulate_flywheel`` (seeded, so the same inputs give the same runs), once per inputs for every session:
    a rerun of the page (any widget, a reload) does not simulate again. Shared as is: never mutate."""
    return simulate_flywheel(params, weeks=weeks, runs=runs, scenario=scenario)


@st.cache_resource(max_entries=32, show_spinner=False)
def sensitivity_of(params: SimulationParams, *, weeks: int, runs: int) -> SensitivityReport:
    """The tornado's ``sensitivity`` (seeded), once per inputs: most of a rerun of the page before."""
    return sensitivity(params, weeks=weeks, runs=runs)
