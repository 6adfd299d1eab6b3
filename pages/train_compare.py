"""Train & compare: not built yet."""

from __future__ import annotations

import streamlit as st

from ui.context import current

current()
st.title("Train & compare")
st.info(
    "This page is not built yet: training model versions turn by turn and comparing them arrive in a coming release.",
    icon=":material/construction:",
)
