"""Curve verdicts cached by content: a rerun of the curves page does not judge the same upload again.

The key is the uploaded bytes and the options, never workspace data, so sharing the cache between users
shares nothing but what each of them uploaded themselves.
"""

from __future__ import annotations

import streamlit as st

from flywheel_core.curves.sources import SeriesVerdict, judge_series_file


@st.cache_data(max_entries=16, show_spinner="Judging every series…")
def judged_series_file(
    data: bytes, *, by: str, x_column: str, y_column: str, higher_is_better: bool, name: str
) -> list[SeriesVerdict]:
    return judge_series_file(
        data, by=by, x_column=x_column, y_column=y_column, higher_is_better=higher_is_better, name=name
    )
